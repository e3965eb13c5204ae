"""Start ``retrieval serve`` in a child process on 127.0.0.1 and wait until it answers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    """(status, headers, body) of one request; a 4xx/5xx is returned, not raised."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()  # headers: case-insensitive
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def fetch_json(url: str, **kwargs):
    status, headers, body = fetch(url, **kwargs)
    return status, headers, json.loads(body)


@contextmanager
def serving(*args, timeout: float = 60):
    """Yield (base URL, process) of ``retrieval serve *args --port P``; SIGTERM and wait on exit."""
    port = free_port()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "retrieval.cli.main", "serve", *map(str, args), "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"retrieval serve exited with {process.returncode}: {process.stderr.read()}")
            try:
                if fetch(url + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("retrieval serve did not answer /health in time")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
