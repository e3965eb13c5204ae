"""A bounded HTTP/1.1 load: N clients, each on one keep-alive connection, each sending M requests, then stopping;
and the summaries of a load (requests/s, latency percentiles, errors, the median of several runs).

The client is a few lines of asyncio over raw sockets rather than an HTTP
library, so that on a 2-core machine the load generator costs the server as
little CPU as possible (it measures the server, not the client).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    sent: float  # perf_counter when the request was written
    seconds: float


@dataclass
class LoadResult:
    responses: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # (kind, detail)
    wall: float = 0.0


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def post_json(path: str, payload) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return status, headers, body


async def _client(port: int, requests: list[bytes], result: LoadResult, deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            if time.perf_counter() > deadline:
                result.errors.append(("timeout", "the run's time bound passed"))
                return
            sent = time.perf_counter()
            writer.write(request)
            try:
                status, headers, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError) as err:
                result.errors.append(("connection", repr(err)))
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            result.responses.append(Response(status, headers, body, sent, time.perf_counter() - sent))
    finally:
        writer.close()


def run_load(port: int, make_requests: Callable[[int], list[bytes]], clients: int, max_seconds: float) -> LoadResult:
    """``clients`` connections at once, client ``c`` sending ``make_requests(c)`` in order; stops by ``max_seconds``."""

    requests = [make_requests(c) for c in range(clients)]  # made before the clock starts

    async def main():
        result = LoadResult()
        started = time.perf_counter()
        deadline = started + max_seconds
        await asyncio.gather(*(_client(port, requests[c], result, deadline) for c in range(clients)))
        result.wall = time.perf_counter() - started
        return result

    return asyncio.run(main())


def errors_of(result: LoadResult) -> int:
    """Failed connections and non-200 answers."""
    return len(result.errors) + sum(r.status != 200 for r in result.responses)


def stats(seconds: list[float], count: int, wall: float, errors: int) -> dict:
    """Requests/s, p50 and p99 latency (ms) of ``count`` requests in ``wall`` seconds, and ``errors``."""
    ms = np.asarray(seconds) * 1000 if seconds else np.zeros(1)
    return {
        "per_second": round(count / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "errors": errors,
    }


def median_run(runs: list[dict], key: str) -> dict:
    """The run with the median ``key``, its errors replaced by those of all runs."""
    ordered = sorted(runs, key=lambda run: run[key])
    return {**ordered[len(ordered) // 2], "errors": sum(run["errors"] for run in runs)}
