"""Spark in local mode against the single-machine build of the same corpus and config.

    python bench/spark_parity.py [--corpus data/synthetic-100000] [--train-sample 20000] [-n 1000] [--master local[2]]

Builds the default index of ``CORPUS/train.jsonl`` twice with one config (``--train-sample``):
``TextIndex(config).fit(CorpusSource(...))`` on this machine, then ``retrieval.spark.build.fit_with_spark``
(training on the driver, featurising and encoding on Spark's executors, the index built from the
Parquet shards). It checks that both index the same documents in the same order, and reports:
the seconds of each build (Spark's includes starting Spark), the largest absolute difference between
the two builds' indexed codes, the share of queries (the first ``-n`` of ``CORPUS/test.jsonl``) whose
top-10 hit ids are identical, and the P@100 of each index's own top 100 (relevant = same label).
The row is appended to ``bench/results/spark_parity.jsonl`` and printed. The corpus is made with
``bench/scale.py --docs 100000 --queries 1000`` when missing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "spark_parity.jsonl"
K = 100


def corpus_files(folder: Path) -> tuple[Path, Path]:
    if not (folder / "train.jsonl").exists():
        docs = int(folder.name.split("-")[-1])
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


def timed(build, stages: dict):
    """Run ``build(on_stage)``; ``stages`` gets the seconds each stage took."""
    marks = []
    started = time.perf_counter()
    result = build(lambda name: marks.append((name, time.perf_counter())))
    ended = time.perf_counter()
    for (name, at), (_, until) in zip(marks, marks[1:] + [("end", ended)]):
        stages[name] = round(stages.get(name, 0.0) + until - at, 1)
    return result, round(ended - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "data" / "synthetic-100000")
    parser.add_argument("--train-sample", type=int, default=20_000)
    parser.add_argument("-n", "--queries", type=int, default=1000)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    from retrieval.config import BuildConfig
    from retrieval.spark.build import fit_with_spark
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex
    from retrieval.text.stream import CorpusSource

    train, test = corpus_files(args.corpus)
    config = dataclasses.replace(BuildConfig(), train_sample=args.train_sample)
    single_stages, spark_stages = {}, {}
    single, single_seconds = timed(
        lambda stage: TextIndex(config).fit(CorpusSource(train), on_stage=stage), single_stages
    )
    spread, spark_seconds = timed(
        lambda stage: fit_with_spark(TextIndex(config), CorpusSource(train), args.master, on_stage=stage), spark_stages
    )
    if list(single.index_.id_map.doc_ids) != list(spread.index_.id_map.doc_ids):
        raise SystemExit("the two builds index different documents, or in another order")
    difference = float(np.abs(single.index_.stored() - spread.index_.stored()).max())

    queries, _ = read_corpus(test)
    texts, labels = queries.texts[: args.queries], np.array(queries.labels[: args.queries])
    found = {}
    for name, index in (("single", single), ("spark", spread)):
        hits = index.search(texts, K)  # a query with no term the vocabulary knows gets no hits: it scores 0
        found[name] = (
            [[hit.doc_id for hit in row[:10]] for row in hits],
            float(np.mean([sum(hit.label == label for hit in row) / K for row, label in zip(hits, labels)])),
        )
    same_top10 = float(np.mean([a == b for a, b in zip(found["single"][0], found["spark"][0])]))
    row = {
        "corpus": str(train.relative_to(ROOT) if train.is_relative_to(ROOT) else train),
        "documents": len(single.index_),
        "train_sample": args.train_sample,
        "master": args.master,
        "index": single.index_.plan.kind,
        "queries": len(texts),
        "single_seconds": single_seconds,
        "spark_seconds": spark_seconds,
        "single_stages": single_stages,
        "spark_stages": spark_stages,
        "max_code_difference": difference,
        "same_top10": round(same_top10, 4),
        "p_at_100_single": round(found["single"][1], 4),
        "p_at_100_spark": round(found["spark"][1], 4),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    append_row(RESULTS, row)
    print(json.dumps(row))
    print(
        f"{row['documents']:,} documents ({row['index']} index), trained on {args.train_sample:,}: single machine "
        f"{single_seconds:.1f} s, Spark {args.master} {spark_seconds:.1f} s; max |code difference| "
        f"{difference:.2e}; identical top-10 for {same_top10:.1%} of {len(texts):,} queries; P@100 "
        f"{row['p_at_100_single']:.4f} single, {row['p_at_100_spark']:.4f} Spark"
    )


if __name__ == "__main__":
    main()
