"""A bounded load on ``retrieval serve`` over 127.0.0.1, beside the Python API called directly in the same run.

    python bench/serve_load.py indexes/20newsgroups [--rebuild-with indexes/20newsgroups-64bit] [--workers 1,2]
                               [--modes semantic,hybrid]

For each worker count: start ``retrieval serve`` on a copy of the index; then, on the same server start (so that
the modes are compared on the same processes), for each of ``--modes``, its runs interleaved with the other modes'
(``mode_runs``), warm it up and run
- singles: ``--clients`` connections, each sending ``--requests`` ``GET /search?q=...&k=10&mode=M`` one after another;
- batches: the same clients sending ``--batches`` ``POST /search`` of ``--batch-size`` queries each (``"mode": M``);
- memory: RSS and PSS of the server and of each worker, read after the mode's first single-query run. PSS shares
  the pages of the memory-mapped files (the FAISS codes, the lexical index) among the processes that map them;
  read after each mode's first run in turn (semantic first), it shows what a mode's queries brought in, such as
  the lexical side's pages;
and once, in the server's default mode:
- rebuild: the singles load again while the directory is swapped twice (to the ``--rebuild-with`` index and
  back) by the same atomic swap a build makes; every answer is checked against the library's answer for the
  generation its header names (a mixed answer would differ), and the lag is how long after a swap a request
  could still be answered by the old generation.
Requests/s, p50 and p99 latency (ms), errors (non-200 answers and failed connections), memory, and hybrid
mode's requests/s over semantic mode's. Each load runs ``--repeats`` times on new connections and the median
run is reported (with several workers, how the kernel shares 8 keep-alive connections among them moves a run by
a third); errors are summed over all runs. The queries are seeded random 20 Newsgroups test documents (as in
bench/query_path.py); the Python API is measured in each mode too. Every run stops by itself: a fixed number of
requests, and ``--max-seconds`` per phase at most.
Rows go to ``--out`` (``bench/results/serve_load.jsonl``); ``--table`` prints the last one (with the same ``--words``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]

from retrieval.runtime.threads import limit_blas_threads  # noqa: E402

limit_blas_threads(1)  # the same thread settings as the server, before numpy loads

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402

import numpy as np  # noqa: E402
from http_client import errors_of, get, median_run, post_json, run_load, stats  # noqa: E402
from proc_memory import process_memory  # noqa: E402
from rows import append_row, read_rows  # noqa: E402
from serving import serving  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "serve_load.jsonl"
K = 10
MODES = ("semantic", "hybrid", "lexical")


def direct(index, texts: list[str], batch_size: int, mode: str) -> dict:
    """The Python API in this process, one thread, in ``mode``: single queries, then batches."""
    for text in texts[:50]:
        index.search([text], K, mode=mode)
    seconds, started = [], time.perf_counter()
    for text in texts:
        t = time.perf_counter()
        index.search([text], K, mode=mode)
        seconds.append(time.perf_counter() - t)
    single = stats(seconds, len(texts), time.perf_counter() - started, 0)
    started = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        index.search(texts[i : i + batch_size], K, mode=mode)
    return {
        "mode": mode,
        "single": single,
        "batch_queries_per_second": round(len(texts) / (time.perf_counter() - started), 1),
    }


def single_requests(texts, per_client, mode: str | None = None):
    """``GET /search`` of seeded random ``texts``; ``mode`` None sends none (the server's default)."""
    extra = {"mode": mode} if mode else {}

    def make(client: int) -> list[bytes]:
        rng = np.random.default_rng(client)
        return [
            get("/search?" + urllib.parse.urlencode({"q": texts[i], "k": K, **extra}))
            for i in rng.integers(0, len(texts), per_client)
        ]

    return make


def batch_requests(texts, per_client, size, mode: str | None = None):
    extra = {"mode": mode} if mode else {}

    def make(client: int) -> list[bytes]:
        rng = np.random.default_rng(1000 + client)
        return [
            post_json("/search", {"queries": [texts[i] for i in rng.integers(0, len(texts), size)], "k": K, **extra})
            for _ in range(per_client)
        ]

    return make


def swap_in(source: Path, directory: Path) -> float:
    """Replace ``directory`` by a copy of ``source`` the way a build does; the time the swap completed."""
    from indexing import staged_bundle

    with staged_bundle(directory) as staged:
        for path in source.iterdir():
            shutil.copy2(path, staged / path.name)
    return time.perf_counter()


def rebuild_run(port, directory, original, other, texts, clients, per_client, max_seconds, expected) -> dict:
    """The singles load while the directory is swapped to ``other`` and back; checks every answer."""
    swaps = []

    def swapper():
        time.sleep(max(0.5, per_client * clients / 3000))
        swaps.append(swap_in(other, directory))
        time.sleep(max(0.5, per_client * clients / 3000))
        swaps.append(swap_in(original, directory))

    thread = threading.Thread(target=swapper)
    thread.start()
    result = run_load(port, single_requests(texts, per_client), clients, max_seconds)
    thread.join()
    mixed, lags, seen = 0, [0.0, 0.0], set()
    for response in result.responses:
        if response.status != 200:
            continue
        generation = response.headers.get("x-index-generation")
        seen.add(generation)
        body = json.loads(response.body)
        if [hit["id"] for hit in body["hits"]] != expected[generation][body["query"]]:
            mixed += 1
    order = [g for g in dict.fromkeys(r.headers.get("x-index-generation") for r in result.responses) if g]
    if len(swaps) == 2 and len(order) >= 2:
        ends = [swaps[1], float("inf")]
        for n, (swapped, old) in enumerate(zip(swaps, order[:2])):  # first away from the original, then back
            late = [
                r.sent - swapped
                for r in result.responses  # before the next swap brings ``old`` back
                if swapped < r.sent < ends[n] and r.headers.get("x-index-generation") == old
            ]
            lags[n] = round(max(late, default=0.0), 3)
    return {
        **stats([r.seconds for r in result.responses], len(result.responses), result.wall, errors_of(result)),
        "generations_seen": len(seen),
        "swaps": len(swaps),
        "mixed_answers": mixed,
        "old_generation_answered_after_swap_s": max(lags),
    }


def _interleaved(modes: list, repeats: int):
    """Each of ``modes`` ``repeats`` times, round by round: in the given order in even rounds, reversed in odd."""
    for round_ in range(repeats):
        yield from modes if round_ % 2 == 0 else modes[::-1]


def mode_runs(port: int, pid: int, texts, args) -> list[dict]:
    """Every mode's loads on a running server, interleaved: ``--repeats`` rounds, each running every mode's
    singles, modes in the given order in even rounds and reversed in odd ones (so that a slow spell of the
    machine, which moves a run by a fifth here, falls on every mode alike), then the batches likewise.

    A mode is warmed up before its first run, and its memory read right after that run: in the first round
    the modes go in the given order, so semantic's is read before any other mode's query touched BM25's files.
    """
    singles, batches, memory = {m: [] for m in args.modes}, {m: [] for m in args.modes}, {}
    for mode in _interleaved(args.modes, args.repeats):
        if not singles[mode]:
            run_load(port, single_requests(texts, 50, mode), args.clients, args.max_seconds)  # warm-up
        run = run_load(port, single_requests(texts, args.requests, mode), args.clients, args.max_seconds)
        singles[mode].append(stats([r.seconds for r in run.responses], len(run.responses), run.wall, errors_of(run)))
        if mode not in memory:
            memory[mode] = process_memory(pid)
    for mode in _interleaved(args.modes, args.repeats):
        run = run_load(port, batch_requests(texts, args.batches, args.batch_size, mode), args.clients, args.max_seconds)
        batches[mode].append(
            {
                **stats([r.seconds for r in run.responses], len(run.responses), run.wall, errors_of(run)),
                "queries_per_second": round(len(run.responses) * args.batch_size / run.wall, 1),
            }
        )
    return [
        {
            "mode": mode,
            "single": median_run(singles[mode], "per_second"),
            "batch": median_run(batches[mode], "queries_per_second"),
            "runs": {"single": singles[mode], "batch": batches[mode]},
            "memory": memory[mode],
        }
        for mode in args.modes
    ]


def hybrid_over_semantic(modes: list[dict]) -> dict | None:
    """Hybrid mode's requests/s (and batched queries/s) over semantic mode's; None unless both were measured."""
    by = {m["mode"]: m for m in modes}
    if not {"hybrid", "semantic"} <= by.keys():
        return None
    h, s = by["hybrid"], by["semantic"]
    if not (s["single"]["per_second"] and s["batch"]["queries_per_second"]):  # semantic answered nothing
        return None
    return {
        "requests_per_second": round(h["single"]["per_second"] / s["single"]["per_second"], 3),
        "batch_queries_per_second": round(h["batch"]["queries_per_second"] / s["batch"]["queries_per_second"], 3),
    }


def run_workers(workers, index_dir, other, texts, args, expected) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "served"
        shutil.copytree(index_dir, directory)
        with serving(directory, "--workers", workers, "--reload-interval", "0.25") as (url, process):
            port = int(url.rsplit(":", 1)[1])
            modes = mode_runs(port, process.pid, texts, args)
            row = {"workers": workers, "modes": modes, "hybrid_over_semantic": hybrid_over_semantic(modes)}
            if other is not None:
                row["rebuild"] = rebuild_run(
                    port,
                    directory,
                    Path(index_dir),
                    other,
                    texts,
                    args.clients,
                    args.requests,
                    args.max_seconds,
                    expected,
                )
    return row


def modes_of(entry) -> list[dict]:
    """A server's (or the Python API's) entries, one per mode; a row from before ``--modes`` as one of mode None."""
    if isinstance(entry, list):  # the Python API's, since --modes
        return entry
    if "modes" in entry:
        return entry["modes"]
    memory = {"rss_mb": entry.get("resident_mb"), "pss_mb": None, "processes": []}  # only RSS was read, summed
    return [{**entry, "mode": None, "memory": memory}]


def table(row: dict) -> str:
    dash = "–"
    lines = [
        f"`retrieval serve` on {os.path.relpath(row['index'], ROOT)} ({row['documents']:,} documents), "
        f"{row['clients']} clients on "
        f"127.0.0.1, k = {K}, {row['cpus']} cores; {row['queries']} distinct test documents as queries"
        + (f", cut to {row['words']} words" if row.get("words") else ", whole")
        + f" ({row.get('query_bytes_mean', '?')} bytes on average)",
        "",
        "| | mode | requests/s | p50 ms | p99 ms | errors | batches of %d: queries/s | RSS MB | PSS MB |"
        % row["batch_size"],
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d in modes_of(row["direct"]):
        lines.append(
            f"| Python API, same process, 1 thread | {d['mode'] or dash} | {d['single']['per_second']:,.0f} | "
            f"{d['single']['p50_ms']} | {d['single']['p99_ms']} | {dash} | {d['batch_queries_per_second']:,.0f} | "
            f"{dash} | {dash} |"
        )
    for w in row["servers"]:
        for m in modes_of(w):
            s, b, memory = m["single"], m["batch"], m["memory"]
            lines.append(
                f"| HTTP, --workers {w['workers']} | {m['mode'] or dash} | {s['per_second']:,.0f} | {s['p50_ms']} | "
                f"{s['p99_ms']} | {s['errors'] + b['errors']} | {b['queries_per_second']:,.0f} | "
                f"{memory['rss_mb']} | {memory['pss_mb'] if memory['pss_mb'] is not None else dash} |"
            )
    for w in row["servers"]:
        if w.get("hybrid_over_semantic"):
            r = w["hybrid_over_semantic"]
            lines.append(
                f"\n--workers {w['workers']}: hybrid / semantic requests/s = {r['requests_per_second']:.2f} "
                f"(batched queries/s {r['batch_queries_per_second']:.2f})"
            )
    lines.append(
        "\nsingle-query runs, requests/s: "
        + "; ".join(
            f"--workers {w['workers']}{' ' + m['mode'] if m['mode'] else ''}: "
            + ", ".join(f"{r['per_second']:,.0f}" for r in m.get("runs", {}).get("single", []))
            for w in row["servers"]
            for m in modes_of(w)
        )
    )
    processes = [
        f"--workers {w['workers']} after {m['mode']}: "
        + ", ".join(
            f"{p['role']} {p['rss_mb']} / {p['pss_mb']} / {p.get('private_mb', dash)}" for p in m["memory"]["processes"]
        )
        for w in row["servers"]
        for m in modes_of(w)
        if m["memory"]["processes"]
    ]
    if processes:  # memory per worker: with several, the parent only starts and watches them
        lines.append("memory of each process, RSS / PSS / private MB: " + "; ".join(processes))
    for w in row["servers"]:
        if "rebuild" in w:
            r = w["rebuild"]
            lines.append(
                f"\nrebuild under load (--workers {w['workers']}): {r['swaps']} swaps, {r['per_second']:,.0f} "
                f"requests/s, p99 {r['p99_ms']} ms, {r['errors']} errors, {r['mixed_answers']} mixed answers, "
                f"old generation answered up to {r['old_generation_answered_after_swap_s']} s after a swap"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, nargs="?", default=ROOT / "indexes" / "20newsgroups")
    parser.add_argument("--queries", type=Path, default=ROOT / "data" / "20newsgroups" / "test.jsonl")
    parser.add_argument(
        "--rebuild-with",
        default=str(ROOT / "indexes" / "20newsgroups-64bit"),
        help="an index to swap in under load ('' for none)",
    )
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--modes", default="semantic,hybrid", help="query modes to load the server with, in turn: " + ", ".join(MODES)
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=600, help="single queries per client")
    parser.add_argument("--batches", type=int, default=40, help="batches per client")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--repeats",
        type=int,
        default=9,
        help="runs of each load; the median run is reported (3 left a 15%% difference unsettled)",
    )
    parser.add_argument("--distinct", type=int, default=1000, help="distinct test queries drawn (seeded)")
    parser.add_argument("--max-seconds", type=float, default=120)
    parser.add_argument("--words", type=int, default=0, help="cut each query to its first N words (0: whole documents)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="print the last recorded row and exit")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the rows file, appended to (and read by --table)")
    args = parser.parse_args()
    args.modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not args.modes or set(args.modes) - set(MODES):
        parser.error(f"--modes takes some of {', '.join(MODES)}; got {','.join(args.modes)}")
    if args.table:  # the last row measured with the same --words
        rows = read_rows(args.out)
        print(table([row for row in rows if (row.get("words") or 0) == args.words][-1]))
        return
    from indexing import set_search_threads
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex

    set_search_threads(1)
    queries, _ = read_corpus(args.queries)
    picked = np.random.default_rng(args.seed).choice(len(queries), size=min(args.distinct, len(queries)), replace=False)
    texts = [queries.texts[i] for i in picked]
    if args.words:
        texts = [" ".join(text.split()[: args.words]) for text in texts]
    index = TextIndex.load(args.index)
    if index.lexical_ is None and set(args.modes) - {"semantic"}:  # the server would answer 409
        parser.error(f"{args.index} has no lexical index: only --modes semantic")
    other = Path(args.rebuild_with) if args.rebuild_with and Path(args.rebuild_with).is_dir() else None
    expected = {}
    from indexing import generation_of

    for path in [args.index] + ([other] if other else []):
        loaded = TextIndex.load(path)
        expected[generation_of(loaded.manifest_)] = {
            t: [h.doc_id for h in hits] for t, hits in zip(texts, (loaded.search([t], K)[0] for t in texts))
        }
    row = {
        "index": str(args.index),
        "documents": len(index.index_),
        "clients": args.clients,
        "queries": len(texts),
        "words": args.words or None,
        "query_bytes_mean": round(float(np.mean([len(t.encode()) for t in texts]))),
        "batch_size": args.batch_size,
        "rebuild_with": str(other) if other else None,
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "direct": [direct(index, texts, args.batch_size, m) for m in args.modes],
    }
    del index
    row["servers"] = [run_workers(int(w), args.index, other, texts, args, expected) for w in args.workers.split(",")]
    append_row(args.out, row)
    print(table(row))


if __name__ == "__main__":
    main()
