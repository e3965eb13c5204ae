"""Fashion-MNIST end to end (minutes; `pytest -m slow`); needs Debian's dataset-fashion-mnist or the Keras cache."""

import json

import pytest
from typer.testing import CliRunner

from retrieval.cli.main import app
from retrieval.errors import RetrievalError
from retrieval.images.data import find_images

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def fashion():
    try:
        return find_images()
    except RetrievalError as error:
        pytest.skip(str(error))


def train_and_evaluate(tmp_path, *options):
    out = tmp_path / "index"
    trained = runner.invoke(app, ["images", "train", "--out", str(out), *options])
    assert trained.exit_code == 0, trained.stderr
    result = runner.invoke(app, ["images", "evaluate", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    print(json.dumps(report, indent=2))
    return report


def test_deep_codes_beat_pca_at_the_same_size_measured_in_the_same_run(fashion, tmp_path):
    report = train_and_evaluate(tmp_path, "--model", "deep", "--epochs", "30")
    codes, raw, pca = report["retrieval"]
    assert (codes["method"], pca["method"]) == ("autoencoder-32", "pca-32")
    assert codes["knn_accuracy"] > pca["knn_accuracy"] and codes["precision_at_k"] > pca["precision_at_k"]


def test_denoising_gaussian_half_lifts_psnr_by_8_db(fashion, tmp_path):
    report = train_and_evaluate(
        tmp_path, "--model", "conv", "--epochs", "10", "--noise", "gaussian", "--noise-amount", "0.5"
    )
    gaussian = next(d for d in report["denoising"] if d["noise"] == "gaussian")
    assert gaussian["amount"] == 0.5
    assert gaussian["psnr_denoised"] - gaussian["psnr_noisy"] >= 8.0
