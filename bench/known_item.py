"""The known-item protocol: a person's few words with one right answer, on four tasks of different genres.

    python bench/known_item.py [--tasks known-debian known-news ...] [--seeds 0 1]
    python bench/known_item.py --variant short-inputs --tasks known-news known-wiki --seeds 0
    python bench/known_item.py --table

Each task (``retrieval data fetch``; see data/README.md) is a corpus whose documents had a natural short
description (a package synopsis, a news headline, an encyclopedia's short description, a recipe's name)
removed from their text, and up to 2,000 queries: those descriptions, each naming its document. For each task
and seed it runs what a user runs: ``retrieval build`` with the defaults (and ``--seed``), then ``retrieval
evaluate --queries test.jsonl --database train.jsonl --json``, which measures each query mode through the real
query path beside BM25, TF-IDF cosine and LSA-32 in the same run, and appends one JSON line per run to
``bench/results/known_item.jsonl``. ``--table`` prints the tables the README shows, from that file: the
defaults', then each variant's MRR@10 beside the defaults' on the same tasks and seeds. A variant is the same
run with other build flags (``VARIANTS``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "known_item.jsonl"
SCRIPT = Path(sys.executable).with_name("retrieval")
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "retrieval.cli.main"]
TASKS = ("known-debian", "known-news", "known-wiki", "known-recipes")
VARIANTS = {  # build flags beside the defaults
    "default": [],
    "short-inputs": ["--short-inputs", "0.5"],  # half the training rows cut to a few terms (issue 18, point 4)
    "no-pairs": ["--pair-weight", "0"],  # BM25 over words alone
}
SHOWN = (
    ("hybrid", "hybrid (default)"),
    ("semantic", "semantic"),
    ("lexical", "lexical"),
    ("rrf", "RRF of codes and BM25"),
    ("bm25", "BM25"),
    ("tfidf-cosine", "TF-IDF cosine"),
    ("lsa-32", "LSA-32"),
)


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, **kwargs)
    if result.returncode:
        raise SystemExit(f"retrieval {' '.join(map(str, args))} failed:\n{result.stderr[-2000:]}")
    return result


def measure(task: str, seed: int, variant: str = "default") -> dict:
    data = ROOT / "data" / task
    run(["data", "fetch", task])
    out = ROOT / "indexes" / (f"{task}-seed{seed}" + ("" if variant == "default" else f"-{variant}"))
    started = time.perf_counter()
    run(["build", data / "train.jsonl", "--out", out, "--seed", seed, *VARIANTS[variant]])
    build_seconds = time.perf_counter() - started
    report = json.loads(
        run(["evaluate", out, "--queries", data / "test.jsonl", "--database", data / "train.jsonl", "--json"]).stdout
    )["known_item"]
    manifest = json.loads((out / "manifest.json").read_text())
    fusion = {key: value for key, value in manifest.get("fusion", {}).items() if key != "figures"}
    return {
        "task": task,
        "seed": seed,
        "variant": variant,
        "date": time.strftime("%Y-%m-%d"),
        "documents": manifest["documents"],
        "queries": report["queries"],
        "build_seconds": round(build_seconds, 1),
        "fusion": fusion,
        "figures": {
            row["method"]: {name: round(row[name], 4) for name in ("mrr_at_10", "success_at_1", "success_at_10")}
            for row in report["modes"] + report["methods"]
        },
    }


def table(rows: list[dict]) -> str:
    """One line per task and method, the mean over the seeds measured (the last run of each task and seed)."""
    latest = {}
    for row in rows:
        if row.get("variant", "default") == "default":
            latest[(row["task"], row["seed"])] = row
    lines = [
        "| task | docs / queries | seeds | "
        + " | ".join(label for _, label in SHOWN)
        + " | hybrid − best of BM25, TF-IDF | alpha (short) |",
        "|---|---:|---|" + "---:|" * (len(SHOWN) + 2),
    ]
    gains = []
    for task in TASKS:
        runs = [row for (name, _), row in sorted(latest.items()) if name == task]
        if not runs:
            continue
        mean = {
            method: statistics.mean(r["figures"][method]["mrr_at_10"] for r in runs)
            for method, _ in SHOWN
            if all(method in r["figures"] for r in runs)
        }
        best = max(mean.values())
        cells = [
            (f"**{mean[m]:.3f}**" if mean[m] >= best - 1e-9 else f"{mean[m]:.3f}") if m in mean else ""
            for m, _ in SHOWN
        ]
        gain = mean["hybrid"] - max(mean["bm25"], mean["tfidf-cosine"])
        gains.append(gain)
        alphas = ", ".join(str(r["fusion"].get("alpha_short")) for r in runs)
        lines.append(
            f"| {task} | {runs[0]['documents']:,} / {runs[0]['queries']:,} | "
            f"{','.join(str(r['seed']) for r in runs)} | " + " | ".join(cells) + f" | {gain:+.3f} | {alphas} |"
        )
    if gains:
        lines.append(
            f"\nMRR@10, mean over the seeds. Hybrid − best baseline, averaged over the tasks: "
            f"{statistics.mean(gains):+.3f}."
        )
    return "\n".join(lines)


def variant_table(rows: list[dict]) -> str:
    """Each variant's MRR@10 per mode beside the defaults' on the same task and seed (the latest run of each)."""
    latest = {(row["task"], row["seed"], row.get("variant", "default")): row for row in rows}
    lines = [
        "| variant | task | seed | mode | MRR@10, variant | MRR@10, defaults | change |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for (task, seed, variant), row in sorted(latest.items()):
        base = latest.get((task, seed, "default"))
        if variant == "default" or base is None:
            continue
        for mode in ("hybrid", "semantic", "lexical"):
            mine, theirs = row["figures"][mode]["mrr_at_10"], base["figures"][mode]["mrr_at_10"]
            lines.append(f"| {variant} | {task} | {seed} | {mode} | {mine:.3f} | {theirs:.3f} | {mine - theirs:+.3f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--variant", default="default", choices=list(VARIANTS))
    parser.add_argument("--table", action="store_true", help="print the tables from the stored rows and exit")
    args = parser.parse_args()
    if not args.table:
        for task in args.tasks:
            for seed in args.seeds:
                row = measure(task, seed, args.variant)
                append_row(RESULTS, row)
                print(json.dumps(row), flush=True)
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    print(table(rows) + "\n\n" + variant_table(rows))


if __name__ == "__main__":
    main()
