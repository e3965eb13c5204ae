"""bench/sweep.py --table: every row beside the baselines of its own run, blank where it stored none."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = Path(__file__).resolve().parents[2] / "bench" / "sweep.py"


@pytest.fixture(scope="module")
def sweep():
    spec = importlib.util.spec_from_file_location("bench_sweep", SWEEP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def method(name: str, dims: int, precision: float) -> dict:
    return {
        "method": name,
        "dims": dims,
        "precision_at_k": precision,
        "mean_average_precision": precision / 2,
        "seconds": 1.0,
    }


def row(variant: str, methods: list[dict], **extra) -> dict:
    return {"variant": variant, "dataset": "corpus", "build_seconds": 10.0, "methods": methods, **extra}


ROWS = [
    row("raw-tf", [method("autoencoder-32", 32, 0.6), method("tfidf-cosine", 100, 0.42), method("lsa-32", 32, 0.53)]),
    row(
        "binary-64",
        [
            method("autoencoder-64bit", 64, 0.61),
            method("tfidf-cosine", 100, 0.45),
            method("lsa-64", 64, 0.55),
            method("lsa-32", 32, 0.56),
            method("itq-64bit", 64, 0.54),
            method("bm25", 300, 0.43),
        ],
    ),
    row("old †", [method("autoencoder-32", 32, 0.58)], note="measured on the earlier default"),
    row("default", [method("autoencoder-32", 32, 0.61), method("tfidf-cosine", 100, 0.45), method("lsa-32", 32, 0.56)]),
]


def cells(table: str, variant: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| corpus | {variant} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_row_shows_the_baselines_of_its_own_run(sweep):
    table = sweep.table(ROWS)
    header = [cell.strip() for cell in table.splitlines()[0].strip("|").split("|")]
    assert header[5:10] == ["TF-IDF", "LSA-32", "LSA same size", "ITQ same bits", "BM25"]
    # the last row's 0.450 / 0.560 must not stand in for raw-tf's own baselines
    assert cells(table, "raw-tf")[3:10] == ["0.600", "0.300", "0.420", "0.530", "0.530", "", ""]
    assert cells(table, "binary-64")[5:10] == ["0.450", "0.560", "0.550", "0.540", "0.430"]
    assert cells(table, "default")[5:10] == ["0.450", "0.560", "0.560", "", ""]


def test_a_row_without_baselines_is_blank_and_footnoted(sweep):
    table = sweep.table(ROWS)
    assert cells(table, "old †")[5:11] == ["", "", "", "", "", "10"]
    assert "No baselines were stored with old †, so their baseline cells are blank." in table
    assert "old †: measured on the earlier default." in table
    assert "No stored row measured" not in table  # BM25 is in one row
    assert "No stored row measured BM25." in sweep.table(ROWS[:1])


def test_the_table_mode_prints_the_stored_rows_and_trains_nothing(tmp_path):
    results = tmp_path / "sweep.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    printed = subprocess.run(
        [sys.executable, str(SWEEP), "--table", "--out", str(results)], capture_output=True, text=True, check=True
    ).stdout
    assert cells(printed, "raw-tf")[5:7] == ["0.420", "0.530"]
    assert results.read_text().count("\n") == len(ROWS)
