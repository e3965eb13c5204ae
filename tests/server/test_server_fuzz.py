"""A real ``retrieval serve`` against what a hostile client sends: oversized URLs and headers, bytes that are not
HTTP, and schemathesis's property-based tests generated from the server's own OpenAPI schema (issue 19)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from serving import fetch_json, serving

MAX_EXAMPLES, SEED = 25, 1  # bounded and deterministic: the same cases every run (a longer, seeded run is slow)


@pytest.fixture(scope="module")
def server(bundle_dir):
    with serving(bundle_dir, "--workers", "1", "--max-k", "50") as (url, process):
        yield url, process


def _raw(url: str, request: bytes) -> tuple[int, dict, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    "request_bytes, status, message",
    [
        (b"GET /search?q=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 414, "URL is over"),
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\nConnection: close\r\n\r\n",
            431,
            "headers are over",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-%d: a\r\n" % i for i in range(500))
            + b"Connection: close\r\n\r\n",
            431,
            "headers are over",
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, "not valid HTTP"),
    ],
)
def test_what_the_protocol_refuses_is_json(server, request_bytes, status, message):
    url, _ = server
    code, headers, body = _raw(url, request_bytes)
    assert code == status and headers["content-type"] == "application/json"
    assert message in json.loads(body)["error"]
    if status != 400:  # refused after the request line was read: answered through the app, with the generation
        assert headers["x-index-generation"] == fetch_json(url + "/health")[2]["generation"]


def test_the_server_still_answers_after_them(server):
    url, _ = server
    assert fetch_json(url + "/search?q=space")[0] == 200


def _schemathesis(
    url: str, max_examples: int, tmp_path: Path, deterministic: bool = True
) -> subprocess.CompletedProcess:
    here = Path(__file__).parent
    command = [
        shutil.which("st", path=str(Path(sys.executable).parent)) or "st",
        "--config-file",
        str(here / "schemathesis.toml"),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(SEED),
        *(["--generation-deterministic"] if deterministic else []),
        "--request-timeout",
        "10",
        "--workers",
        "1",
        "--report-dir",
        str(tmp_path),
        "--no-color",
        "--warnings",
        "off",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": str(here),
        "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis"),
    }
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)


def test_schemathesis_finds_no_5xx_and_no_schema_mismatch(server, tmp_path):
    url, _ = server
    run = _schemathesis(url, MAX_EXAMPLES, tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]


@pytest.mark.slow
def test_schemathesis_longer_run(server, tmp_path):
    url, _ = server
    run = _schemathesis(url, 300, tmp_path, deterministic=False)  # seeded, so other cases than the default run's
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
