"""Query latency and throughput of a saved text index, from a warm process.

    python bench/query_latency.py indexes/20newsgroups [--queries data/20newsgroups/test.jsonl] [-n 1000] [--rerank 100]

Reports: load time, single-query latency (median, p90, p99 over n queries, each
a separate `search` call as `retrieval query` makes it), the time split into
featurize / encode / FAISS search, batch throughput, and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.text.corpus import read_corpus
from retrieval.data.datasets import dataset_path
from retrieval.text.index import TextIndex
from retrieval.model.training import encode


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--rerank", type=int, default=0, help="re-rank this many candidates by TF-IDF cosine")
    args = parser.parse_args()

    started = time.perf_counter()
    index = TextIndex.load(args.index)
    load_seconds = time.perf_counter() - started
    queries, _ = read_corpus(args.queries or dataset_path("20newsgroups", "test"))
    texts = (queries.texts * (args.n // len(queries) + 1))[: args.n]

    for text in texts[:20]:  # warm up: first calls build TF graphs and caches
        index.search([text], args.k)

    latencies, parts = [], {"featurize": [], "encode": [], "search": []}
    for text in texts:
        t0 = time.perf_counter()
        index.search([text], args.k, rerank=args.rerank)
        latencies.append(time.perf_counter() - t0)
    for text in texts[:200]:  # the same work, split into its stages
        t0 = time.perf_counter()
        X = index.featurizer_.transform([text])
        t1 = time.perf_counter()
        codes = encode(index.encoder_, X)
        t2 = time.perf_counter()
        index.index_.search(index.searchable(codes), args.k)
        t3 = time.perf_counter()
        for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
            parts[name].append(seconds)

    t0 = time.perf_counter()
    index.search(texts, args.k, rerank=args.rerank)
    batch_seconds = time.perf_counter() - t0

    ms = lambda s: round(s * 1000, 3)
    report = {
        "index": str(args.index),
        "documents": len(index.index_),
        "code_size": index.index_.dim,
        "queries": len(texts),
        "k": args.k,
        "rerank": args.rerank,
        "load_seconds": round(load_seconds, 3),
        "single_query_ms": {"median": ms(statistics.median(latencies)), "p90": ms(percentile(latencies, 0.9)),
                            "p99": ms(percentile(latencies, 0.99))},
        "median_stage_ms": {name: ms(statistics.median(values)) for name, values in parts.items()},
        "batch_queries_per_second": round(len(texts) / batch_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
