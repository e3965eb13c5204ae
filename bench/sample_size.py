"""How small a training sample keeps P@100: the measurement behind the default ``--train-sample``.

    python bench/sample_size.py                                   # the protocol below
    python bench/sample_size.py --corpora 20newsgroups --sizes 5000 0 --seeds 0
    python bench/sample_size.py --table                           # the README table from --out

For each corpus, seed and sample size (0 = train on every document), build the default index through
the streaming path (``TextIndex.fit(CorpusSource(train))``: the vocabulary and the autoencoder learn
from a seeded sample, every document is encoded and indexed), then measure P@100 on the test split
(relevant = same label) beside LSA-32 fitted on the same sample, exact search, in the same run. A
sample at least as large as the corpus is the full build, so it is not run twice. Corpora:
20 Newsgroups (11,314 documents) and the synthetic corpus of ``bench/scale.py --docs 100000``
(data/synthetic-100000, made if missing). Rows are appended to ``bench/results/sample_size.jsonl``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rows import append_row, read_rows  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "sample_size.jsonl"
SIZES = (5000, 10000, 20000, 50000, 0)
CORPORA = ("20newsgroups", "synthetic-100000")


def splits(corpus: str) -> tuple[Path, Path]:
    """The train and test files of ``corpus``, fetched or generated when missing."""
    if corpus.startswith("synthetic-"):
        docs = int(corpus.split("-")[1])
        folder = ROOT / "data" / corpus
        if not (folder / "train.jsonl").exists():
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "bench" / "scale.py"),
                    "--docs",
                    str(docs),
                    "--queries",
                    "1000",
                    "--out",
                    str(folder),
                ],
                check=True,
            )
        return folder / "train.jsonl", folder / "test.jsonl"
    from retrieval.data.datasets import dataset_path, fetch

    fetch(corpus)
    return dataset_path(corpus, "train"), dataset_path(corpus, "test")


def lsa_on_sample(index, Xq, query_labels: np.ndarray, k: int, seed: int) -> float:
    """P@k of LSA-32 fitted on the model's own training sample, exact cosine search over every document."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    positions = [index.index_.id_map.position(doc_id) for doc_id in index.sample_.doc_ids]
    Xd = index.tfidf_
    svd = TruncatedSVD(n_components=32, random_state=seed).fit(Xd[positions])
    Zd, Zq = normalize(svd.transform(Xd)), normalize(svd.transform(Xq))
    db_labels = np.asarray(index.labels_)
    found = np.concatenate(
        [np.argpartition(-(Zq[s : s + 200] @ Zd.T), k, axis=1)[:, :k] for s in range(0, len(Zq), 200)]
    )
    return float((db_labels[found] == query_labels[:, None]).mean())


def run(corpus: str, size: int, seed: int, max_queries: int) -> dict:
    from retrieval.config import BuildConfig
    from retrieval.evaluation.text import evaluate
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex
    from retrieval.text.stream import CorpusSource

    train, test = splits(corpus)
    config = BuildConfig(train_sample=size).override(train={"seed": seed})
    started = time.perf_counter()
    index = TextIndex(config).fit(CorpusSource(train))
    build_seconds = time.perf_counter() - started
    queries = read_corpus(test)[0]
    if max_queries and len(queries) > max_queries:  # a seeded subset: test files may be grouped by label
        keep = sorted(np.random.default_rng(0).choice(len(queries), max_queries, replace=False))
        queries.doc_ids, queries.texts = [queries.doc_ids[i] for i in keep], [queries.texts[i] for i in keep]
        queries.titles, queries.labels = [queries.titles[i] for i in keep], [queries.labels[i] for i in keep]
    report = evaluate(index, queries, k=100, seed=seed)
    own = next(m for m in report["methods"] if m["method"].startswith("autoencoder"))["precision_at_k"]
    lsa = lsa_on_sample(index, index.features(queries.texts), np.asarray(queries.labels), 100, seed)
    return {
        "corpus": corpus,
        "documents": len(index.index_),
        "sample": len(index.sample_),
        "requested": size,
        "seed": seed,
        "queries": report["queries"],
        "precision_at_100": round(own, 4),
        "lsa32_same_sample": round(lsa, 4),
        "build_seconds": round(build_seconds, 1),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }


def table(rows: list[dict]) -> str:
    """Per corpus and sample size: P@100 (mean over seeds), its gap to the full build, LSA-32 on the same sample."""
    latest = {(r["corpus"], r["sample"], r["seed"]): r for r in rows}
    full = {}
    for (corpus, sample, _), row in latest.items():
        if sample == row["documents"]:
            full.setdefault(corpus, []).append(row["precision_at_100"])
    lines = [
        "| corpus | documents | training sample | seeds | P@100 | vs training on all | LSA-32 (same sample) "
        "| build s |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    groups: dict = {}
    for (corpus, sample, _), row in sorted(latest.items(), key=lambda item: (item[0][0], item[0][1], item[0][2])):
        groups.setdefault((corpus, sample), []).append(row)
    for (corpus, sample), group in groups.items():
        own = [r["precision_at_100"] for r in group]
        gap = statistics.mean(own) - statistics.mean(full[corpus]) if corpus in full else float("nan")
        sd = f" ± {statistics.stdev(own):.4f}" if len(own) > 1 else ""
        lines.append(
            f"| {corpus} | {group[0]['documents']:,} | {sample:,}{' (all)' if sample == group[0]['documents'] else ''} "
            f"| {','.join(str(r['seed']) for r in group)} | {statistics.mean(own):.4f}{sd} | {gap:+.4f} "
            f"| {statistics.mean(r['lsa32_same_sample'] for r in group):.4f} "
            f"| {statistics.mean(r['build_seconds'] for r in group):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA))
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--queries", type=int, default=0, help="test queries used (a seeded subset; 0 = all)")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print(table(read_rows(RESULTS)))
        return
    for corpus in args.corpora:
        train, _ = splits(corpus)
        n = sum(1 for _ in open(train, "rb"))
        for seed in args.seeds:
            done = set()
            for size in args.sizes:
                effective = n if not size or size >= n else size  # line count: an upper bound on documents
                if effective in done:
                    continue
                done.add(effective)
                row = run(corpus, size, seed, args.queries)
                append_row(RESULTS, row)
                print(
                    f"{corpus} seed {seed} sample {row['sample']:,}/{row['documents']:,}: P@100 "
                    f"{row['precision_at_100']:.4f} (LSA-32 same sample {row['lsa32_same_sample']:.4f}), "
                    f"{row['build_seconds']:.0f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
