"""The known-item protocol: a person's few words with one right answer, on four tasks of different genres.

    python bench/known_item.py [--tasks known-debian known-news ...] [--seeds 0 1]
    python bench/known_item.py --table

Each task (``retrieval data fetch``; see data/README.md) is a corpus whose documents had a natural short
description (a package synopsis, a news headline, an encyclopedia's short description, a recipe's name)
removed from their text, and up to 2,000 queries: those descriptions, each naming its document. For each task
and seed it runs what a user runs: ``retrieval build`` with the defaults (and ``--seed``), then ``retrieval
evaluate --queries test.jsonl --database train.jsonl --json``, which measures each query mode through the real
query path beside BM25, TF-IDF cosine and LSA-32 in the same run, and appends one JSON line per run to
``bench/results/known_item.jsonl``. ``--table`` prints the tables the README shows, from that file.
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
SHOWN = (("hybrid", "hybrid (default)"), ("semantic", "semantic"), ("lexical", "lexical"),
         ("rrf", "RRF of codes and BM25"), ("bm25", "BM25"), ("tfidf-cosine", "TF-IDF cosine"), ("lsa-32", "LSA-32"))


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=env, **kwargs)
    if result.returncode:
        raise SystemExit(f"retrieval {' '.join(map(str, args))} failed:\n{result.stderr[-2000:]}")
    return result


def measure(task: str, seed: int) -> dict:
    data = ROOT / "data" / task
    run(["data", "fetch", task])
    out = ROOT / "indexes" / f"{task}-seed{seed}"
    started = time.perf_counter()
    run(["build", data / "train.jsonl", "--out", out, "--seed", seed])
    build_seconds = time.perf_counter() - started
    report = json.loads(run(["evaluate", out, "--queries", data / "test.jsonl", "--database", data / "train.jsonl",
                             "--json"]).stdout)["known_item"]
    manifest = json.loads((out / "manifest.json").read_text())
    fusion = {key: value for key, value in manifest.get("fusion", {}).items() if key != "figures"}
    return {"task": task, "seed": seed, "date": time.strftime("%Y-%m-%d"), "documents": manifest["documents"],
            "queries": report["queries"], "build_seconds": round(build_seconds, 1), "fusion": fusion,
            "figures": {row["method"]: {name: round(row[name], 4) for name in ("mrr_at_10", "success_at_1",
                                                                                "success_at_10")}
                        for row in report["modes"] + report["methods"]}}


def table(rows: list[dict]) -> str:
    """One line per task and method, the mean over the seeds measured (the last run of each task and seed)."""
    latest = {}
    for row in rows:
        latest[(row["task"], row["seed"])] = row
    lines = ["| task | docs / queries | seeds | " + " | ".join(label for _, label in SHOWN)
             + " | hybrid − best of BM25, TF-IDF | alpha (short) |",
             "|---|---:|---|" + "---:|" * (len(SHOWN) + 2)]
    gains = []
    for task in TASKS:
        runs = [row for (name, _), row in sorted(latest.items()) if name == task]
        if not runs:
            continue
        mean = {method: statistics.mean(r["figures"][method]["mrr_at_10"] for r in runs)
                for method, _ in SHOWN if all(method in r["figures"] for r in runs)}
        best = max(mean.values())
        cells = [(f"**{mean[m]:.3f}**" if mean[m] >= best - 1e-9 else f"{mean[m]:.3f}") if m in mean else ""
                 for m, _ in SHOWN]
        gain = mean["hybrid"] - max(mean["bm25"], mean["tfidf-cosine"])
        gains.append(gain)
        alphas = ", ".join(str(r["fusion"].get("alpha_short")) for r in runs)
        lines.append(f"| {task} | {runs[0]['documents']:,} / {runs[0]['queries']:,} | "
                     f"{','.join(str(r['seed']) for r in runs)} | " + " | ".join(cells) + f" | {gain:+.3f} | {alphas} |")
    if gains:
        lines.append(f"\nMRR@10, mean over the seeds. Hybrid − best baseline, averaged over the tasks: "
                     f"{statistics.mean(gains):+.3f}.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--table", action="store_true", help="print the tables from the stored rows and exit")
    args = parser.parse_args()
    if not args.table:
        for task in args.tasks:
            for seed in args.seeds:
                row = measure(task, seed)
                append_row(RESULTS, row)
                print(json.dumps(row), flush=True)
    print(table([json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]))


if __name__ == "__main__":
    main()
