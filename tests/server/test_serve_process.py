"""``retrieval serve`` as users start it: a real process on 127.0.0.1, its flags, and its shutdown."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

import pytest
from conftest import run_cli
from serving import fetch_json, serving

TRAINING_LIBRARIES = ("libtensorflow", "_pywrap_tensorflow", "/keras/", "/sklearn/")


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _mapped(pid: int) -> set[str]:
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line}


@pytest.fixture(scope="module")
def server(bundle_dir):
    with serving(bundle_dir) as (url, process):
        yield url, process


def test_serves_without_tensorflow_or_scikit_learn(server, corpus):
    url, process = server
    status, headers, body = fetch_json(url + "/search?q=" + corpus.texts[0].split()[0])
    assert status == 200 and body["hits"]
    pids = [process.pid, *_children(process.pid)]  # the server, and its workers if it has several
    mapped = set().union(*(_mapped(pid) for pid in pids))
    loaded = [path for path in mapped if any(name in path for name in TRAINING_LIBRARIES)]
    assert loaded == [] and any("faiss" in path for path in mapped)


def test_listens_on_loopback_only(server):
    url, process = server
    port = int(url.rsplit(":", 1)[1])
    own = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    listening = [fields[1] for fields in own if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port]
    assert listening and set(listening) == {
        "0100007F:%04X" % port
    }  # 127.0.0.1 in /proc's byte order; a socket per worker


@pytest.mark.parametrize(
    "workers, stop",
    [("1", signal.SIGTERM), ("2", signal.SIGTERM), ("1", signal.SIGINT), ("2", signal.SIGINT)],
    ids=["term-1", "term-2", "int-1", "int-2"],
)
def test_a_stop_signal_finishes_the_request_in_flight(bundle_dir, corpus, workers, stop):
    body = json.dumps({"queries": corpus.texts[:3], "k": 2}).encode()
    with serving(bundle_dir, "--workers", workers) as (url, process):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=20) as sock:
            sock.sendall(
                f"POST /search HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            time.sleep(0.3)
            process.send_signal(stop)  # the request is in flight: its body is half sent
            time.sleep(0.3)
            sock.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        # uvicorn re-raises the signal once it has shut down, so that supervisors see why it stopped
        assert process.wait(timeout=30) in (0, -stop)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(json.loads(payload)["results"]) == 3


def test_two_named_indexes_and_workers(bundle_dir, corpus):
    with serving("--named", f"news={bundle_dir}", "--named", f"copy={bundle_dir}", "--workers", "2") as (url, process):
        for name in ("news", "copy"):
            status, headers, body = fetch_json(f"{url}/health?index={name}")
            assert status == 200 and body["index"] == name and headers["X-Index-Name"] == name
        assert fetch_json(url + "/health")[2]["index"] == "news"  # the first is the default
        workers = [c for c in _children(process.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 2  # two workers, each with its own socket on the port (and multiprocessing's tracker)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{worker}").exists() for worker in workers)


def test_a_port_in_use_is_a_one_line_error(bundle_dir):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("serve", bundle_dir, "--port", port, "--workers", "2")
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "give an index to serve"),
        (["--named", "nameonly"], "--named takes NAME=DIR"),
        (["--named", "=dir"], "--named takes NAME=DIR"),
        (["DIR", "--named", "default=DIR"], "two indexes are named 'default'"),
        (["/no/such/index"], "no index at /no/such/index"),
        (["DIR", "--host", "0.0.0.0"], "give a key in RETRIEVAL_API_KEY"),
        (["DIR", "--api-key", "short"], "at least 16 characters"),
        (["DIR", "--max-batch", "0"], "--max-batch must be positive"),
        (["DIR", "--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_serve_flags_are_one_line_errors(bundle_dir, args, message):
    result = run_cli("serve", *[str(bundle_dir) if a == "DIR" else a.replace("=DIR", f"={bundle_dir}") for a in args])
    assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_an_image_index_is_refused(tmp_path, image_index):
    image_index.save(tmp_path / "images")
    result = run_cli("serve", tmp_path / "images")
    assert result.exit_code == 1 and "holds a 'images' index" in result.stderr, result.stderr


def test_help_states_the_limits():
    result = run_cli("serve", "--help")
    for flag in ("--max-k", "--max-query-bytes", "--max-batch", "--api-key", "--host"):
        assert flag in result.stdout
    assert "127.0.0.1" in result.stdout and "65536" in result.stdout


def test_the_key_is_taken_from_the_environment(bundle_dir, monkeypatch):
    """RETRIEVAL_API_KEY is read like --api-key (and checked like it), keeping the key out of the process list."""
    monkeypatch.setenv("RETRIEVAL_API_KEY", "short")
    result = run_cli("serve", bundle_dir, "--host", "0.0.0.0")
    assert result.exit_code == 1 and "the API key (RETRIEVAL_API_KEY or --api-key) must be at least 16" in result.stderr
