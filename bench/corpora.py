"""The multi-corpus protocol: the default build on every labelled corpus, seeds 0, 1 and 2, baselines beside it.

    python bench/corpora.py                          # every corpus, seeds 0 1 2, float and 64-bit codes
    python bench/corpora.py --corpora reuters8 --seeds 0 --codes float
    python bench/corpora.py --variant anchor-none    # the same protocol for a variant of the default
    python bench/corpora.py --table                  # the README tables from --out

Each run: fetch the corpus if needed, build the default index on its train
split (database), query with its test split (relevant = same label), and
measure P@100 and MAP over the full ranking, in each query mode (semantic: the
codes alone; hybrid, the default; lexical: the index's BM25). In the same run and on the same
documents: TF-IDF cosine, LSA-32 and BM25 (and for 64-bit codes ITQ-64 of
LSA). Each run is one JSON line appended to ``--out``; ``--table`` prints the
mean and spread over seeds of the latest row for each (corpus, codes, seed) of
the default, then each variant's P@100 beside the default's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.config import BuildConfig
from retrieval.data.datasets import dataset_path, fetch
from retrieval.evaluation.text import evaluate
from retrieval.text.corpus import read_corpus
from retrieval.text.index import TextIndex

CORPORA = ("20newsgroups", "20newsgroups-short", "reuters8", "reuters52", "debian-packages")
AE, TR, NB = "autoencoder", "train", "neighbours"
VARIANTS = {  # what the defaults were measured against, on the same protocol
    "default": {},
    "anchor-none": {AE: {"anchor": "none"}},  # neighbour targets alone
    "anchor-lsa": {AE: {"anchor": "lsa"}},  # plain LSA as the anchor
    "targets-own": {NB: {"weight": 0.0}},  # the smoothed anchor, each document's own words as targets
    "no-warmup": {TR: {"warmup_steps": 0}},
    "lr-1e-3": {TR: {"learning_rate": 1e-3}},
    "steps-1800": {TR: {"steps": 1800}},
    "no-epoch-cap": {TR: {"max_epochs": 0}},
    "previous-default": {
        AE: {"anchor": "none"},
        NB: {"k": 0},
        TR: {"epochs": 20, "learning_rate": 1e-3},
    },  # 0.1's recipe
}
CODES = {"float": {}, "binary-64": {AE: {"codes": "binary", "code_size": 64}}}


def corpus_facts(train) -> dict:
    words = sorted(len(text.split()) for text in train.texts)
    return {"documents": len(train), "labels": len(set(train.labels)), "median_words": words[len(words) // 2]}


def run(corpus: str, variant: str, codes: str, seed: int) -> dict:
    fetch(corpus)
    spec = json.loads(json.dumps(VARIANTS[variant]))
    for section, values in CODES[codes].items():
        spec.setdefault(section, {}).update(values)
    spec.setdefault(TR, {})["seed"] = seed
    config = BuildConfig().override(**spec)
    train = read_corpus(dataset_path(corpus, "train"))[0]
    queries = read_corpus(dataset_path(corpus, "test"))[0]
    started = time.perf_counter()
    index = TextIndex(config).fit(train)
    build_seconds = time.perf_counter() - started
    report = evaluate(index, queries, k=100, seed=seed, lsa_dims=(32,), database_texts=train.texts, modes=True)
    return {
        "corpus": corpus,
        "variant": variant,
        "codes": codes,
        "seed": seed,
        "spec": VARIANTS[variant],
        "config": config.to_dict(),
        "epochs": len(index.history_["loss"]),
        "build_seconds": round(build_seconds, 1),
        "queries": report["queries"],
        "facts": corpus_facts(train),
        "methods": report["methods"],
        "modes": report.get("modes", []),
        "alpha_short": getattr(index.fusion_, "alpha_short", None),
        "ties": "seeded",
        "commit": _commit(),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }


def _commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).resolve().parent
    )
    return result.stdout.strip()


def _stat(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def table(rows: list[dict], metric: str = "precision_at_k") -> str:
    """One line per (corpus, variant, codes): the codes and each baseline, mean ± sd over seeds."""
    latest = {(r["corpus"], r["variant"], r["codes"], r["seed"]): r for r in rows}
    groups: dict = {}

    def order(key):
        corpus, variant, codes, seed = key
        return CORPORA.index(corpus) if corpus in CORPORA else 99, variant, list(CODES).index(codes), seed

    for (corpus, variant, codes, _), row in sorted(latest.items(), key=lambda item: order(item[0])):
        groups.setdefault((corpus, variant, codes), []).append(row)
    for key, group in groups.items():  # where the query modes were measured, those runs alone: one code, one row
        if any(row.get("modes") for row in group):
            groups[key] = [row for row in group if row.get("modes")]
    lines = [
        "| corpus | docs / labels / median words | variant | codes | seeds | semantic | hybrid (default) | lexical "
        "| TF-IDF | LSA-32 | BM25 | ITQ-64 of LSA | hybrid − semantic | build s |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (corpus, variant, codes), group in groups.items():
        by_method: dict = {}
        for row in group:
            for m in row["methods"]:
                name = "autoencoder" if m["method"].startswith("autoencoder") else m["method"]
                by_method.setdefault(name, []).append(m[metric])
            for m in row.get("modes", []):
                by_method.setdefault(m["mode"], []).append(m[metric])
        own = by_method["autoencoder"]
        facts = group[0]["facts"]
        hybrid = by_method.get("hybrid")
        gap = f"{statistics.mean(hybrid) - statistics.mean(own):+.3f}" if hybrid and len(hybrid) == len(own) else ""
        columns = ["autoencoder", "hybrid", "lexical", "tfidf-cosine", "lsa-32", "bm25", "itq-64bit"]
        best = max((statistics.mean(by_method[c]), c) for c in columns if c in by_method)[1]
        cells = [
            ("**" + _stat(by_method[c]) + "**" if c == best else _stat(by_method[c])) if c in by_method else ""
            for c in columns
        ]
        lines.append(
            f"| {corpus} | {facts['documents']:,} / {facts['labels']} / {facts['median_words']} "
            f"| {variant} | {codes} | "
            f"{','.join(str(r['seed']) for r in group)} | {' | '.join(cells)} | {gap} | "
            f"{statistics.mean(r['build_seconds'] for r in group):.0f} |"
        )
    return "\n".join(lines)


def variant_table(rows: list[dict], seed: int = 0) -> str:
    """P@100 of each variant (float codes, one seed) per corpus, LSA-32 of the default's run beside them."""
    latest = {(r["corpus"], r["variant"]): r for r in rows if r["codes"] == "float" and r["seed"] == seed}
    corpora = [c for c in CORPORA if any(key[0] == c and key[1] != "default" for key in latest)]
    variants = [v for v in VARIANTS if any((c, v) in latest for c in corpora)]
    lines = ["| variant | " + " | ".join(corpora) + " |", "|---|" + "---:|" * len(corpora)]

    def cell(corpus, variant, method=None):
        row = latest.get((corpus, variant))
        if row is None:
            return ""
        scores = {
            ("autoencoder" if m["method"].startswith("autoencoder") else m["method"]): m["precision_at_k"]
            for m in row["methods"]
        }
        # † rows ranked ties by database position (before evaluation broke ties by a seeded permutation)
        return f"{scores[method or 'autoencoder']:.3f}{'' if row.get('ties') == 'seeded' else ' †'}"

    for variant in variants:
        lines.append(f"| {variant} | " + " | ".join(cell(c, variant) for c in corpora) + " |")
    lines.append(
        "| *LSA-32, same run as default* | " + " | ".join(cell(c, "default", "lsa-32") for c in corpora) + " |"
    )
    if any(row.get("ties") != "seeded" for row in latest.values()):
        lines += [
            "",
            "† measured when evaluation broke ties in score by database position (the fetched corpora are "
            "ordered by label); rows without † break them by a seeded permutation",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated; from " + ", ".join(CORPORA))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--codes", default="float,binary-64", help="float and/or binary-64")
    parser.add_argument("--binary-seeds", default="0", help="seeds for binary-64 codes (fewer: each is another build)")
    parser.add_argument("--variant", default="default", help="one of " + ", ".join(VARIANTS))
    parser.add_argument("--out", default="bench/results/corpora.jsonl")
    parser.add_argument("--table", action="store_true", help="only print the tables of --out")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.table:
        corpora = [c for c in args.corpora.split(",") if c]
        codes = [c for c in args.codes.split(",") if c]
        bad = [c for c in corpora if c not in CORPORA] + [c for c in codes if c not in CODES]
        if bad or args.variant not in VARIANTS:
            parser.error(f"unknown corpus, codes or variant: {', '.join(bad) or args.variant}")
        out.parent.mkdir(parents=True, exist_ok=True)
        for kind in codes:
            seeds = args.seeds if kind == "float" else args.binary_seeds
            for seed in (int(s) for s in seeds.split(",") if s):
                for corpus in corpora:
                    result = run(corpus, args.variant, kind, seed)
                    with open(out, "a") as handle:
                        handle.write(json.dumps(result) + "\n")
                    scores = {m["method"]: m["precision_at_k"] for m in result["methods"]}
                    print(
                        f"{corpus} {args.variant} {kind} seed {seed}: "
                        + ", ".join(f"{name} {value:.4f}" for name, value in scores.items())
                        + f" ({result['build_seconds']:.0f} s)",
                        flush=True,
                    )
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    default = [r for r in rows if r["variant"] == "default"]
    print(
        "P@100\n"
        + table(default)
        + "\n\nMAP\n"
        + table(default, "mean_average_precision")
        + "\n\nVariants, P@100, float codes, seed 0\n"
        + variant_table(rows)
    )


if __name__ == "__main__":
    main()
