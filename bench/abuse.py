"""What a hostile or careless user does to a server and an index, bounded in count and time, on 127.0.0.1 only.

    python bench/abuse.py [indexes/20newsgroups] [--rounds 20] [--repeats 3] [--kills 3]

1. **Bodies.** For each of the largest bodies the default limits allow (a full batch of the longest queries,
   ASCII and \\u-escaped; and within the byte limit, a list of numbers, a list of tiny strings, one huge
   string, deep nesting), a fresh ``retrieval serve INDEX --workers 1`` is sent it ``--repeats`` times while
   a thread asks ``/health`` every 10 ms. Reported: the answer's status and slowest time, the worker's peak
   RSS above its resting RSS before the bodies (VmHWM after - VmRSS before), and /health's p99.
2. **Writers.** Two processes, each ``--rounds`` times: ``retrieval add`` of 3 new documents, then
   ``retrieval remove`` of one of them (both ``--wait 600``), on one copy of the index. Reported: the
   documents lost or left over against what the 4 x rounds commands should leave, and commands that failed.
3. **kill -9.** ``retrieval serve INDEX --workers 2``; kill -9 of the parent; the seconds until no worker is
   left, and whether the port is free again; ``--kills`` times.

A row goes to ``bench/results/abuse.jsonl``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "abuse.jsonl"
RETRIEVAL = [sys.executable, "-m", "retrieval.cli.main"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(index: Path, workers: int) -> tuple[subprocess.Popen, int]:
    port = _port()
    process = subprocess.Popen(
        [*RETRIEVAL, "serve", str(index), "--workers", str(workers), "--port", str(port)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if _request(port, "GET", "/health", timeout=2)[0] == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("retrieval serve did not answer /health within 120 s")


def _request(port: int, method: str, path: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def bodies(max_batch: int = 64, max_query_bytes: int = 65536, seed: int = 0) -> dict[str, bytes]:
    """The largest bodies the default limits allow, by name."""
    from retrieval.config import ServeConfig

    limit = ServeConfig(max_batch=max_batch, max_query_bytes=max_query_bytes).max_body_bytes
    rng = np.random.default_rng(seed)
    texts = [json.loads(line)["text"] for line in (ROOT / "data" / "20newsgroups" / "test.jsonl").open()]
    english = " ".join(texts)
    ascii_queries = [english[i * max_query_bytes : (i + 1) * max_query_bytes - 64] for i in range(max_batch)]
    cyrillic = np.array(list("абвгдежзийклмнопрстуфхцчшщыэюя"))
    words = ["".join(rng.choice(cyrillic, size=rng.integers(3, 9))) for _ in range(2000)]
    line = " ".join(words)
    per_query = (max_query_bytes - 64) // 2  # a Cyrillic letter: 2 UTF-8 bytes, 6 as \uXXXX
    escaped_queries = [(line * (per_query // len(line) + 1))[:per_query] for _ in range(max_batch)]
    room = limit - 64
    return {
        "full batch, 64 x 64 KB English": json.dumps({"queries": ascii_queries, "k": 100}).encode(),
        "full batch, 64 x 64 KB Cyrillic as \\uXXXX (the largest valid body)": json.dumps(
            {"queries": escaped_queries, "k": 100}
        ).encode(),
        "[0,0,0,...] to the byte limit": b'{"queries": [' + b",".join([b"0"] * (room // 2)) + b"]}",
        '["a","a",...] to the byte limit': b'{"queries": [' + b",".join([b'"a"'] * (room // 4)) + b"]}",
        "one string to the byte limit, one character outside Latin-1": b'{"queries": ["'
        + "\U0001f600".encode()
        + b"x" * (room - 8)
        + b'"]}',
        'one string of escaped quotes \\"\\"\\"... to the byte limit': b'{"queries": ["'
        + b'\\"' * (room // 2)
        + b'"]}',
        "nested [[[[... to the byte limit": b"[" * room,
    }


def abuse_bodies(index: Path, repeats: int) -> list[dict]:
    rows = []
    for name, body in bodies().items():
        process, port = _serve(index, workers=1)
        try:
            for _ in range(10):
                _request(port, "GET", "/search?q=space+shuttle+launch")
            resting = _kb(process.pid, "VmRSS")
            health, stop = [], threading.Event()

            def poll(port=port, health=health, stop=stop):  # bound now: the loop moves on
                while not stop.is_set():
                    started = time.perf_counter()
                    _request(port, "GET", "/health", timeout=10)
                    health.append(time.perf_counter() - started)
                    time.sleep(0.01)

            poller = threading.Thread(target=poll)
            poller.start()
            seconds, statuses = [], set()
            for _ in range(repeats):
                started = time.perf_counter()
                status, answer = _request(port, "POST", "/search", body=body, timeout=60)
                seconds.append(time.perf_counter() - started)
                statuses.add(status)
            stop.set()
            poller.join()
            peak = _kb(process.pid, "VmHWM")
            rows.append(
                {
                    "body": name,
                    "bytes": len(body),
                    "status": sorted(statuses),
                    "answer": answer[:120].decode("utf-8", "replace") if status != 200 else "",
                    "slowest_s": round(max(seconds), 3),
                    "rss_rise_mb": round((peak - resting) / 1024, 1),
                    "health_p99_ms": round(float(np.percentile(health, 99)) * 1000, 1),
                    "health_polls": len(health),
                }
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
    return rows


def _writer(directory: Path, number: int, rounds: int, scratch: Path, texts: list, failures: list) -> set:
    removed = set()
    for round_ in range(rounds):
        ids = [f"writer{number}-round{round_}-{i}" for i in range(3)]
        corpus = scratch / f"writer{number}-{round_}.jsonl"
        corpus.write_text(
            "".join(
                json.dumps({"id": doc_id, "text": texts[(number * 1000 + round_ * 3 + i) % len(texts)]}) + "\n"
                for i, doc_id in enumerate(ids)
            )
        )
        for command in (["add", str(directory), str(corpus)], ["remove", str(directory), ids[0]]):
            run = subprocess.run(
                [*RETRIEVAL, *command, "--wait", "600", "--json"], env=ENV, capture_output=True, text=True, timeout=900
            )
            if run.returncode != 0:
                failures.append(f"writer {number}, round {round_}, {command[0]}: {run.stderr.strip()[-300:]}")
        removed.add(ids[0])
    return removed


def abuse_writers(index: Path, rounds: int) -> dict:
    from retrieval.text.index import TextIndex

    texts = [json.loads(line)["text"] for line in (ROOT / "data" / "20newsgroups" / "test.jsonl").open()]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        directory = scratch / "index"
        shutil.copytree(index, directory)
        before = TextIndex.load(directory).index_.id_map
        failures, removed, threads = [], [set(), set()], []
        started = time.perf_counter()
        for number in range(2):
            thread = threading.Thread(
                target=lambda n=number: removed[n].update(_writer(directory, n, rounds, scratch, texts, failures))
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        after = TextIndex.load(directory).index_.id_map
        added = {f"writer{n}-round{r}-{i}" for n in range(2) for r in range(rounds) for i in range(3)}
        expected = added - removed[0] - removed[1]
        lost = sum(doc_id not in after for doc_id in expected)
        left_over = sum(doc_id in after for doc_id in removed[0] | removed[1])
        return {
            "writers": 2,
            "rounds": rounds,
            "commands": 4 * rounds,
            "failed": len(failures),
            "failures": failures[:3],
            "documents_before": len(before),
            "documents_after": len(after),
            "expected_after": len(before) + len(expected),
            "lost": lost,
            "left_over": left_over,
            "wall_s": round(wall, 1),
        }


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def abuse_kill(index: Path, kills: int) -> dict:
    seconds, ports_free, workers_seen = [], [], []
    for _ in range(kills):
        process, port = _serve(index, workers=2)
        children = [int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        workers_seen.append(len(children))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        started = time.perf_counter()
        while any(_alive(pid) for pid in children) and time.perf_counter() - started < 10:
            time.sleep(0.01)
        seconds.append(time.perf_counter() - started)
        for pid in children:  # never leave one behind, whatever the figure says
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                ports_free.append(True)
            except OSError:
                ports_free.append(False)
    return {
        "kills": kills,
        "children": workers_seen,
        "slowest_s": round(max(seconds), 3),
        "left_after_10_s": sum(s >= 10 for s in seconds),
        "port_free": all(ports_free),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, nargs="?", default=ROOT / "indexes" / "20newsgroups")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--only", choices=["bodies", "writers", "kill"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["bodies", "writers", "kill"])
    row = {"index": str(args.index), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if "bodies" in only:
        row["bodies"] = abuse_bodies(args.index, args.repeats)
        print(f"{'body':<66} {'MB':>6} {'status':>7} {'slowest s':>10} {'RSS rise MB':>12} {'/health p99 ms':>15}")
        for body in row["bodies"]:
            print(
                f"{body['body']:<66} {body['bytes'] / 1e6:>6.2f} {','.join(map(str, body['status'])):>7} "
                f"{body['slowest_s']:>10.3f} {body['rss_rise_mb']:>12.1f} {body['health_p99_ms']:>15.1f}"
            )
    if "writers" in only:
        row["writers"] = abuse_writers(args.index, args.rounds)
        print("writers:", json.dumps(row["writers"]))
    if "kill" in only:
        row["kill"] = abuse_kill(args.index, args.kills)
        print("kill -9:", json.dumps(row["kill"]))
    append_row(RESULTS, row)


if __name__ == "__main__":
    main()
