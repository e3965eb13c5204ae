"""P@k and MAP of saved indexes through the numpy runtime and through their Keras encoders, on the same queries.

    python bench/runtime_parity.py indexes/20newsgroups indexes/20newsgroups-64bit \
        [--queries data/20newsgroups/test.jsonl]

For each index: the evaluation as ``retrieval evaluate`` runs it (database codes
from the bundle, query codes from the numpy encoder), then the same with the
query codes from the Keras encoder in the bundle; the largest code difference
and, for binary codes, the fraction of query bits that differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("indexes", type=Path, nargs="+")
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("-k", type=int, default=100)
    args = parser.parse_args()

    from retrieval.data.datasets import dataset_path
    from retrieval.evaluation.text import evaluate
    from retrieval.model.training import encode
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex

    queries, _ = read_corpus(args.queries or dataset_path("20newsgroups", "test"))
    print(
        "| index | codes | P@%d numpy | P@%d Keras | MAP numpy | MAP Keras | max code diff | query bits differing |"
        % (args.k, args.k)
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for path in args.indexes:
        index = TextIndex.load(path)
        X = index.features(queries.texts)
        numpy_codes = index.encoder_.encode(X)
        keras_encoder = index.keras_model("encoder")
        keras_codes = encode(keras_encoder, X)
        numpy_report = evaluate(index, queries, k=args.k, baselines=False, seed=index.config.train.seed)
        index.encoder_ = _KerasEncoder(keras_encoder, index.encoder_)  # the same evaluation, Keras codes
        keras_report = evaluate(index, queries, k=args.k, baselines=False, seed=index.config.train.seed)
        own_numpy, own_keras = numpy_report["methods"][0], keras_report["methods"][0]
        bits = "–"
        if index.binary:
            bits = f"{np.mean((numpy_codes > 0.5) != (keras_codes > 0.5)):.2e}"
        row = {
            "index": str(path),
            "codes": index.index_.metric,
            "numpy": own_numpy,
            "keras": own_keras,
            "max_code_difference": float(np.abs(numpy_codes - keras_codes).max()),
            "bits_differing": bits,
        }
        print(
            f"| {path} | {'%d-bit' % index.index_.dim if index.binary else '%d-d float' % index.index_.dim} | "
            f"{own_numpy['precision_at_k']:.4f} | {own_keras['precision_at_k']:.4f} | "
            f"{own_numpy['mean_average_precision']:.4f} | {own_keras['mean_average_precision']:.4f} | "
            f"{row['max_code_difference']:.1e} | {bits} |"
        )
        append_row(ROOT / "bench" / "results" / "runtime_parity.jsonl", row)


class _KerasEncoder:
    """Stands in for the numpy encoder in evaluation: the same interface, Keras arithmetic."""

    def __init__(self, model, runtime):
        self.model, self.code_size, self.input_dim = model, runtime.code_size, runtime.input_dim

    def encode(self, X):
        from retrieval.model.training import encode

        return encode(self.model, X)


if __name__ == "__main__":
    main()
