"""The sweep behind the default text model: each variant built and measured with the same protocol.

    python bench/sweep.py                                  # every variant, 20 Newsgroups
    python bench/sweep.py --variants default,dropout-0.7   # some of them
    python bench/sweep.py --dataset reuters8 --variants default,binary-64

Database = train split, queries = test split, relevant = same label;
precision@100 and MAP over the full ranking. The baselines (TF-IDF cosine,
LSA at the code size and at 32, BM25, ITQ for binary codes) are measured beside
every variant, on the same features. Each result is one JSON line appended to ``--out``, so a long sweep
can be resumed and its table rebuilt with ``--table``; each row of the table shows the baselines
stored with that row, blank where its run measured none.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import BuildConfig
from retrieval.data.datasets import dataset_path
from retrieval.evaluation.text import evaluate
from retrieval.text.corpus import read_corpus
from retrieval.text.index import TextIndex

AE, TR = "autoencoder", "train"
VARIANTS = {
    "default": {},
    "uncentred": {AE: {"center_codes": False}},
    "plain": {AE: {"kind": "plain"}},
    "dropout-0.2": {AE: {"input_dropout": 0.2}},
    "dropout-0.5": {AE: {"input_dropout": 0.5}},
    "dropout-0.6": {AE: {"input_dropout": 0.6}},
    "dropout-0.7": {AE: {"input_dropout": 0.7}},
    "dropout-0.8": {AE: {"input_dropout": 0.8}},
    "sparse-l1": {AE: {"kind": "sparse"}},
    "tanh-code": {AE: {"code_activation": "tanh"}},
    "wide-1000-500": {AE: {"hidden": (1000, 500)}},
    "shallow-500": {AE: {"hidden": (500,)}},
    "deep-2000-1000-500-250": {AE: {"hidden": (2000, 1000, 500, 250)}},
    "cosine-loss": {AE: {"output": "linear", "loss": "cosine"}},
    "vocab-20000": {"tfidf": {"max_features": 20000}},
    "raw-tf": {"tfidf": {"sublinear_tf": False}},
    "lr-cosine-40": {TR: {"epochs": 40, "lr_schedule": "cosine"}},
    "epochs-10": {TR: {"epochs": 10}},
    "epochs-40": {TR: {"epochs": 40}},
    "epochs-60": {TR: {"epochs": 60}},
    "seed-1": {TR: {"seed": 1}},
    "seed-2": {TR: {"seed": 2}},
    "batch-256-lr-2e-3": {TR: {"batch_size": 256, "learning_rate": 2e-3}},
    "pretrained": {TR: {"pretrain_epochs": 3}},
    "l2-metric": {"metric": "l2"},
    "binary-32": {AE: {"codes": "binary", "code_size": 32}},
    "binary-64": {AE: {"codes": "binary", "code_size": 64}},
    "binary-128": {AE: {"codes": "binary", "code_size": 128}},
    "binary-64-straight-through": {AE: {"codes": "binary", "code_size": 64, "binarizer": "straight_through"}},
    "binary-64-noise-4": {AE: {"codes": "binary", "code_size": 64, "binarizer": "noise", "binary_noise": 4.0}},
    "binary-64-plain": {AE: {"codes": "binary", "code_size": 64, "kind": "plain"}},
}


def run(name: str, dataset: str, epochs: int | None) -> dict:
    spec = json.loads(json.dumps(VARIANTS[name]))  # a copy
    if epochs:
        spec.setdefault(TR, {})["epochs"] = epochs
    metric = spec.pop("metric", None)
    config = BuildConfig().override(metric=metric, **spec)
    train = read_corpus(dataset_path(dataset, "train"))[0]
    queries = read_corpus(dataset_path(dataset, "test"))[0]
    started = time.perf_counter()
    index = TextIndex(config).fit(train)
    build_seconds = time.perf_counter() - started
    report = evaluate(index, queries, k=100, lsa_dims=(32,), database_texts=train.texts)
    return {
        "variant": name,
        "dataset": dataset,
        "spec": VARIANTS[name],
        "config": config.to_dict(),
        "epochs": config.train.epochs,
        "build_seconds": round(build_seconds, 1),
        "methods": report["methods"],
    }


BASELINES = ("TF-IDF", "LSA-32", "LSA same size", "ITQ same bits", "BM25")


def row_baselines(row: dict) -> dict:
    """P@100 of the baselines stored with ``row`` (measured in its own run), by column; absent ones left out."""
    own = row["methods"][0]
    dims = own["dims"]
    scores = {m["method"]: m["precision_at_k"] for m in row["methods"][1:]}
    names = {
        "TF-IDF": "tfidf-cosine",
        "LSA-32": "lsa-32",
        "LSA same size": f"lsa-{dims}",
        "BM25": "bm25",
        "ITQ same bits": f"itq-{dims}bit" if own["method"].endswith("bit") else None,
    }
    return {column: scores[name] for column, name in names.items() if name in scores}


def table(rows: list[dict]) -> str:
    """A markdown table of ``rows``, each beside its own baselines, then notes on what is blank and why."""
    lines = [
        "| dataset | variant | codes | P@100 | MAP | " + " | ".join(BASELINES) + " | build s |",
        "|---|---|---|---|---|" + "---|" * len(BASELINES) + "---|",
    ]
    measured = [row_baselines(row) for row in rows]
    for row, baselines in zip(rows, measured):
        own = row["methods"][0]
        cells = [f"{baselines[column]:.3f}" if column in baselines else "" for column in BASELINES]
        lines.append(
            f"| {row['dataset']} | {row['variant']} | {own['method']} | {own['precision_at_k']:.3f} | "
            f"{own['mean_average_precision']:.3f} | " + " | ".join(cells) + f" | {row['build_seconds']:.0f} |"
        )
    return "\n".join(lines + table_notes(rows, measured))


def table_notes(rows: list[dict], measured: list[dict]) -> list[str]:
    """Footnotes: the rows whose run stored no baselines, columns no row measured, and the rows' own notes."""
    notes = []
    without = [row["variant"] for row, baselines in zip(rows, measured) if not baselines]
    if without:
        notes.append(f"No baselines were stored with {', '.join(without)}, so their baseline cells are blank.")
    binary = any(row["methods"][0]["method"].endswith("bit") for row in rows)  # ITQ is measured for bits only
    never = [
        column
        for column in BASELINES
        if rows and not any(column in baselines for baselines in measured) and (binary or column != "ITQ same bits")
    ]
    if never:
        notes.append(f"No stored row measured {', '.join(never)}.")
    by_note = {}
    for row in rows:
        if row.get("note"):
            by_note.setdefault(row["note"], []).append(row["variant"])
    notes += [f"{', '.join(variants)}: {note}." for note, variants in by_note.items()]
    return ["", "\n\n".join(notes)] if notes else []  # one markdown paragraph each


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="20newsgroups")
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated; choose from " + ", ".join(VARIANTS)
    )
    parser.add_argument("--epochs", type=int, default=None, help="override every variant's epochs")
    parser.add_argument("--out", default="bench/results/sweep.jsonl")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.table:
        names = [n for n in args.variants.split(",") if n]
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
        out.parent.mkdir(parents=True, exist_ok=True)
        for name in names:
            result = run(name, args.dataset, args.epochs)
            with open(out, "a") as handle:
                handle.write(json.dumps(result) + "\n")
            own = result["methods"][0]
            print(
                f"{name}: P@100 {own['precision_at_k']:.4f} MAP {own['mean_average_precision']:.4f} "
                f"({result['build_seconds']:.0f} s)",
                flush=True,
            )
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    latest = {(row["dataset"], row["variant"]): row for row in rows}  # a re-run replaces its earlier row
    print(table(sorted(latest.values(), key=lambda row: row["dataset"])))


if __name__ == "__main__":
    main()
