"""Build time per stage and peak memory of a text index build.

    python bench/build_index.py                                    # 20 Newsgroups train, default config
    python bench/build_index.py --synthetic 100000 --epochs 1      # 100k generated documents

The synthetic corpus (Zipf-distributed words over a 50,000-word vocabulary,
seeded) checks that memory stays far below a dense (n x vocabulary) float32
matrix, which training never materialises.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import BuildConfig
from retrieval.data.datasets import dataset_path
from retrieval.text.corpus import Corpus, read_corpus
from retrieval.text.index import TextIndex


def synthetic(n: int, seed: int = 0, words_per_doc: int = 150) -> Corpus:
    rng = np.random.default_rng(seed)
    vocabulary = np.array([f"w{i}" for i in range(50_000)])
    ranks = np.minimum(rng.zipf(1.3, size=(n, words_per_doc)), len(vocabulary)) - 1
    texts = [" ".join(vocabulary[row]) for row in ranks]
    return Corpus(doc_ids=[f"s{i}" for i in range(n)], texts=texts, titles=[f"s{i}" for i in range(n)])


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=0, help="generate this many documents instead")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()

    config = BuildConfig()
    if args.epochs:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=args.epochs))
    corpus = synthetic(args.synthetic) if args.synthetic else read_corpus(dataset_path("20newsgroups", "train"))[0]
    rss_corpus = peak_rss_mb()

    stages, last = {}, [None, time.perf_counter()]

    def on_stage(name):
        now = time.perf_counter()
        if last[0]:
            stages[last[0]] = round(now - last[1], 2)
        last[:] = [name, now]

    index = TextIndex(config).fit(corpus, on_stage=on_stage)
    on_stage("saving")
    with tempfile.TemporaryDirectory() as scratch:
        manifest = index.save(Path(scratch) / "index")
    on_stage(None)
    vocabulary = manifest["vocabulary_size"]
    print(
        json.dumps(
            {
                "documents": len(corpus),
                "vocabulary": vocabulary,
                "epochs": config.train.epochs,
                "stage_seconds": stages,
                "seconds_per_epoch": round(stages["training"] / config.train.epochs, 2),
                "index_bytes": sum(f["bytes"] for f in manifest["files"].values()),
                "peak_rss_mb_after_reading": rss_corpus,
                "peak_rss_mb": peak_rss_mb(),
                "dense_matrix_would_be_mb": round(len(corpus) * vocabulary * 4 / 2**20, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
