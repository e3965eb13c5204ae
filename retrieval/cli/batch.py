"""Batch queries on every core: ``retrieval query --file`` splits a large batch between forked workers.

A query's cost is mostly Python (tokenising its text), which one process
runs on one core. For a batch, each worker answers a contiguous share of the
queries and returns its JSON lines, which are written in order. Workers are
forked after the index is loaded and before anything has searched, so they
share its pages and start no thread pool the parent already holds.
"""

from __future__ import annotations

import multiprocessing
import os

MIN_PER_WORKER = 500  # below this, starting a worker costs more than it saves

_job: dict = {}  # what the forked workers read: set before the pool starts, inherited by fork


def worker_count(requested: int | None, queries: int) -> int:
    """``requested`` workers (at most one per query), or by default one per core, fewer for a small batch."""
    if requested is not None:
        return max(1, min(requested, queries))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, queries // MIN_PER_WORKER))


def _in_worker(bounds: tuple[int, int]) -> tuple[str, int]:
    import faiss

    faiss.omp_set_num_threads(1)  # one core per worker
    return _answer(bounds)


def _answer(bounds: tuple[int, int]) -> tuple[str, int]:
    from retrieval.cli.display import HitLines

    start, stop = bounds
    index, names, texts, k, rerank = (_job[key] for key in ("index", "names", "texts", "k", "rerank"))
    results = index.search(texts[start:stop], k, rerank=rerank)
    lines = HitLines()
    text = "".join(lines.line(name, hits, hits.known_terms) for name, hits in zip(names[start:stop], results))
    return text, sum(hits.known_terms == 0 for hits in results)


def json_lines(index, names: list, texts: list, k: int, rerank: int, workers: int):
    """Yield (JSON lines of a share of the queries, how many of them matched no term), in query order."""
    _job.update(index=index, names=names, texts=texts, k=k, rerank=rerank)
    try:
        if workers <= 1:
            yield _answer((0, len(texts)))
            return
        if rerank:
            index.tfidf_  # read once, before the fork, rather than once per worker
        step = -(-len(texts) // workers)
        shares = [(start, min(start + step, len(texts))) for start in range(0, len(texts), step)]
        with multiprocessing.get_context("fork").Pool(len(shares)) as pool:
            yield from pool.imap(_in_worker, shares)
    finally:
        _job.clear()
