"""The query path on a saved text index: cold commands, warm single queries beside peers, batch throughput.

    python bench/query_path.py indexes/20newsgroups [--queries data/20newsgroups/test.jsonl] [-n 1000]

Measures, on one machine in one run:
- cold: ``retrieval --help`` and one ``retrieval query DIR "text" -k 10`` in a new process (median wall of
  ``--repeats`` runs, peak RSS of the slowest child), and which of TensorFlow / scikit-learn it imported;
- warm: one query at a time through the Python API (text in, 10 hits out; ``n`` seeded random test queries),
  p50 / p99 latency of each query mode (hybrid, the default; semantic; lexical), beside BM25S (``bm25s``) and
  scikit-learn's brute-force cosine ``NearestNeighbors`` on the same TF-IDF rows, in the same process on the
  same queries; each with its P@100 on those queries. Twice: whole test documents as queries, and their
  first ``--short-words`` words (a person's few words). Hybrid's timings are also split by how a query was
  answered: by BM25 alone (a few words that weigh nothing on the codes) or by both sides;
- batch: ``retrieval query DIR --file Q --json`` with 2,000 queries, as (t(2,000) - t(1)) / 1,999 per query.

Rows go to ``bench/results/query_path.jsonl``; ``--table`` prints the last one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "query_path.jsonl"
SCRIPT = Path(sys.executable).with_name("retrieval")  # the installed command, as users run it
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "retrieval.cli.main"]
TEXT = "nasa launched the space shuttle into orbit"


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q * 100))


def timed_run(args: list) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of one command in a new process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    code = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); w = time.perf_counter() - t; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    wall, rss, returncode = out.stdout.split()
    if int(returncode):
        raise SystemExit(f"{' '.join(args)} failed with exit code {returncode}")
    return float(wall), int(rss)


def cold(index_dir: Path, repeats: int) -> dict:
    rows = {}
    for name, args in (("help", [*CLI, "--help"]), ("query", [*CLI, "query", str(index_dir), TEXT, "-k", "10"])):
        runs = [timed_run(args) for _ in range(repeats)]
        rows[name] = {
            "median_seconds": round(statistics.median(w for w, _ in runs), 3),
            "peak_rss_mb": round(max(r for _, r in runs) / 1024, 1),
        }
    probe = (
        "import sys, runpy; sys.argv = ['retrieval', 'query', sys.argv[1], 'text', '-k', '10']\n"
        "try: runpy.run_module('retrieval.cli.main', run_name='__main__')\nexcept SystemExit: pass\n"
        "print('LOADED', sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(index_dir)], capture_output=True, text=True)
    rows["query"]["training_modules_loaded"] = out.stdout.split("LOADED", 1)[-1].strip()
    return rows


def precision_at(ranked_labels: list, query_labels, k: int) -> float:
    """Relevant hits among the first k, over k (a query that returned nothing scores 0)."""
    return float(
        np.mean([sum(label == want for label in row[:k]) / k for row, want in zip(ranked_labels, query_labels)])
    )


def warm(index_dir: Path, queries, train, n: int, seed: int, short_words: int) -> dict:
    import bm25s
    from sklearn.neighbors import NearestNeighbors

    from retrieval.text.index import TextIndex

    index = TextIndex.load(index_dir)
    picked = np.random.default_rng(seed).choice(len(queries), size=min(n, len(queries)), replace=False)
    whole, labels = [queries.texts[i] for i in picked], [queries.labels[i] for i in picked]
    short = [" ".join(text.split()[:short_words]) for text in whole]
    db_labels = index.labels_

    def measure(search, name, split=None):
        return [
            {**measure_on(search, texts, split), "method": name, "queries": kind}
            for kind, texts in (("whole documents", whole), (f"first {short_words} words", short))
        ]

    def measure_on(search, texts, split=None):
        for text in texts[:20]:  # warm caches
            search(text, 10)
        times = []
        for text in texts:
            t0 = time.perf_counter()
            search(text, 10)
            times.append(time.perf_counter() - t0)
        ranked = [search(text, 100) for text in texts]
        row = {
            "p50_ms": round(percentile(times, 0.5) * 1e3, 3),
            "p99_ms": round(percentile(times, 0.99) * 1e3, 3),
            "precision_at_100": round(precision_at([[db_labels[p] for p in row] for row in ranked], labels, 100), 4),
        }
        if split is not None:  # the same timings, by how each query was answered
            alone = np.array([split(text) for text in texts])
            times = np.asarray(times)
            row["bm25_alone"] = {
                "share": round(float(alone.mean()), 3),
                "p50_ms": round(percentile(times[alone], 0.5) * 1e3, 3) if alone.any() else None,
                "others_p50_ms": round(percentile(times[~alone], 0.5) * 1e3, 3) if (~alone).any() else None,
            }
        return row

    positions = {doc_id: i for i, doc_id in enumerate(index.index_.id_map.doc_ids)}
    modes = ("hybrid", "semantic", "lexical") if index.lexical_ is not None else ("semantic",)
    rows = []

    def bm25_alone(text) -> bool:  # a hybrid query ranked by BM25 alone: its hits carry no codes' score
        hits = index.search(text, 10)[0]
        return bool(hits) and all(hit.semantic is None for hit in hits)

    for mode in modes:
        rows += measure(
            lambda text, k, mode=mode: [positions[h.doc_id] for h in index.search(text, k, mode=mode)[0]],
            f"this project, {mode}" + (" (the default)" if mode == modes[0] else ""),
            bm25_alone if mode == "hybrid" else None,
        )

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(train.texts, stopwords="en", show_progress=False), show_progress=False)

    train_positions = np.array([positions[doc_id] for doc_id in train.doc_ids])  # bm25s rows -> index positions

    def bm25(text, k):
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        return train_positions[retriever.retrieve(tokens, k=k, show_progress=False, n_threads=0)[0][0]].tolist()

    rows += measure(bm25, "BM25S (bm25s)")
    tfidf = index.tfidf_
    neighbours = NearestNeighbors(metric="cosine", algorithm="brute").fit(tfidf)

    def brute(text, k):
        return neighbours.kneighbors(index.features([text]), n_neighbors=k, return_distance=False)[0].tolist()

    rows += measure(brute, "TF-IDF cosine (scikit-learn NearestNeighbors, brute)")
    return {"queries": len(whole), "seed": seed, "methods": rows}


def batch(index_dir: Path, queries, count: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for size in (1, count):
            path = Path(scratch) / f"q{size}.jsonl"
            texts = (queries.texts * (count // len(queries) + 1))[:size]
            path.write_text("".join(json.dumps({"id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
            files[size] = path
        one = statistics.median(
            timed_run([*CLI, "query", str(index_dir), "--file", str(files[1]), "-k", "10", "--json"])[0]
            for _ in range(3)
        )
        many = statistics.median(
            timed_run([*CLI, "query", str(index_dir), "--file", str(files[count]), "-k", "10", "--json"])[0]
            for _ in range(3)
        )
    per_query = (many - one) / (count - 1)
    return {
        "queries": count,
        "seconds_1": round(one, 3),
        "seconds_all": round(many, 3),
        "queries_per_second": round(1 / per_query),
    }


def table(row: dict) -> str:
    c, w, b = row["cold"], row["warm"], row["batch"]
    lines = [
        f"index {row['index']} ({row['documents']:,} documents), {row['cpus']} CPUs, {row['date']}",
        "",
        "| cold command | median wall | peak RSS |",
        "|---|---:|---:|",
        f"| `retrieval --help` | {c['help']['median_seconds']:.2f} s | {c['help']['peak_rss_mb']:.0f} MB |",
        f'| `retrieval query DIR "text" -k 10` | {c["query"]["median_seconds"]:.2f} s | '
        f"{c['query']['peak_rss_mb']:.0f} MB |",
        "",
        f"| warm single query ({w['queries']} test queries, k = 10) | queries | p50 | p99 | P@100 |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {m['method']} | {m.get('queries', 'whole documents')} | {m['p50_ms']:.3f} ms | {m['p99_ms']:.3f} ms "
        f"| {m['precision_at_100']:.3f} |"
        for m in w["methods"]
    ]
    lines += [
        f"hybrid, {m['queries']}: {m['bm25_alone']['share']:.0%} ranked by BM25 alone (p50 "
        f"{m['bm25_alone']['p50_ms']} ms), the others p50 {m['bm25_alone']['others_p50_ms']} ms"
        for m in w["methods"]
        if m.get("bm25_alone") and m["bm25_alone"]["share"]
    ]
    lines += [
        "",
        f"batch: `retrieval query DIR --file` with {b['queries']:,} queries, k = 10: "
        f"{b['queries_per_second']:,} queries/s after start-up ({b['seconds_1']:.2f} s for 1 query, "
        f"{b['seconds_all']:.2f} s for {b['queries']:,})",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path, nargs="?", default=ROOT / "indexes" / "20newsgroups")
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument(
        "--train", type=Path, default=None, help="the indexed corpus, for BM25S (default: its train split)"
    )
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-words", type=int, default=8, help="words of each test document in a short query")
    parser.add_argument("--table", action="store_true", help="print the last stored row and exit")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(RESULTS.read_text().splitlines()[-1])))
        return

    from retrieval.data.datasets import dataset_path
    from retrieval.text.corpus import read_corpus

    queries, _ = read_corpus(args.queries or dataset_path("20newsgroups", "test"))
    train, _ = read_corpus(args.train or dataset_path("20newsgroups", "train"))
    manifest = json.loads((args.index / "manifest.json").read_text())
    row = {
        "index": str(args.index),
        "documents": manifest["documents"],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "cold": cold(args.index, args.repeats),
        "batch": batch(args.index, queries, args.batch),
        "warm": warm(args.index, queries, train, args.n, args.seed, args.short_words),
        "peak_rss_mb_this_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    append_row(RESULTS, row)
    print(table(row))


if __name__ == "__main__":
    main()
