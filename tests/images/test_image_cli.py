"""`retrieval images …` through CliRunner on tiny seeded IDX files."""

import json

import numpy as np
import pytest
from conftest import run_cli

run = run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory, image_dir):
    out = tmp_path_factory.mktemp("img") / "index"
    result = run(
        "images",
        "train",
        "--out",
        out,
        "--data",
        image_dir,
        "--model",
        "deep",
        "--code-size",
        "8",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--noise",
        "gaussian",
        "--noise-amount",
        "0.3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["images"] == 160 and summary["noise"] == "gaussian" and summary["epochs"] == 3
    return out


def test_query_by_test_index_and_by_file(trained, image_dir, tmp_path):
    result = run(
        "images", "query", trained, "--data", image_dir, "--test-index", "0", "--test-index", "5", "-k", "3", "--json"
    )
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["query"] for a in answers] == ["test:0", "test:5"]
    assert all(len(a["hits"]) == 3 and a["hits"][0]["id"].startswith("train:") for a in answers)
    np.save(tmp_path / "q.npy", np.zeros((28, 28)))
    result = run(
        "images",
        "query",
        trained,
        "--image",
        tmp_path / "q.npy",
        "-k",
        "2",
        "--data",
        image_dir,
        "--plot",
        tmp_path / "n.png",
    )
    assert result.exit_code == 0 and "rank" in result.stdout
    assert (tmp_path / "n.png").stat().st_size > 1000


def test_info_on_an_image_index(trained):
    result = run("info", trained)
    assert result.exit_code == 0 and "images (deep model)" in result.stdout and "gaussian 0.3" in result.stdout


def test_denoise_writes_a_picture_and_reports_psnr(trained, image_dir, tmp_path):
    result = run("images", "denoise", trained, "--data", image_dir, "--out", tmp_path / "d.png", "--json")
    report = json.loads(result.stdout)
    assert report["images"] == [f"test:{i}" for i in range(10)] and report["psnr_noisy"] > 0
    assert (tmp_path / "d.png").stat().st_size > 1000
    np.save(tmp_path / "one.npy", np.full((28, 28), 0.5))
    result = run("images", "denoise", trained, "--image", tmp_path / "one.npy", "--out", tmp_path / "e.png", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["images"] == [str(tmp_path / "one.npy")]


def test_evaluate_table_and_json(trained, image_dir):
    result = run("images", "evaluate", trained, "--data", image_dir, "-k", "10")
    assert result.exit_code == 0
    for part in ("reconstruction", "denoising", "salt_and_pepper", "raw-pixels", "pca-8", "kNN-5 accuracy"):
        assert part in result.stdout
    report = json.loads(run("images", "evaluate", trained, "--data", image_dir, "-k", "10", "--json").stdout)
    assert len(report["retrieval"]) == 3 and len(report["denoising"]) == 4


def test_plot_writes_five_pictures(trained, image_dir, tmp_path):
    result = run("images", "plot", trained, "--data", image_dir, "--out-dir", tmp_path, "--n", "4")
    assert result.exit_code == 0
    names = ["reconstructions", "denoising", "neighbours", "code_map", "loss"]
    assert all((tmp_path / f"{name}.png").stat().st_size > 1000 for name in names)


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "{index}", "--data", "{data}"], "give --test-index or --image (exactly one of them)"),
        (["query", "{index}", "--data", "{data}", "--test-index", "99"], "--test-index must be in [0, 39]; got 99"),
        (["query", "{index}", "--image", "{tmp}/none.png"], "image not found"),
        (
            ["query", "{index}", "--data", "{data}", "--test-index", "1", "-k", "0"],
            "-k must be a positive whole number",
        ),
        (
            ["denoise", "{index}", "--data", "{data}", "--out", "{tmp}/x.png", "--noise", "mixed"],
            "--noise must name one kind",
        ),
        (
            ["denoise", "{index}", "--data", "{data}", "--out", "{tmp}/x.png", "--amount", "3"],
            "noise amount must be in [0, 1]",
        ),
        (["train", "--out", "{tmp}/o", "--data", "{data}", "--model", "vgg"], "unknown image model 'vgg'"),
        (["train", "--out", "{tmp}/o", "--data", "{data}", "--noise", "blur"], "noise kind must be one of"),
        (["train", "--out", "{tmp}/o", "--data", "{tmp}/missing"], "image directory not found"),
        (["train", "--out", "{tmp}/o", "--data", "{data}", "--limit", "0"], "--limit must be a positive whole number"),
        (["evaluate", "{tmp}/nothing"], "no index at"),
    ],
)
def test_bad_image_input(trained, image_dir, tmp_path, args, message):
    args = [a.format(index=trained, data=image_dir, tmp=tmp_path) for a in args]
    result = run("images", *args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "o").exists()


def test_a_text_index_is_not_an_image_index(bundle_dir):
    result = run("images", "evaluate", bundle_dir)
    assert result.exit_code == 1 and "holds a 'text' index; this command reads 'images' indexes" in result.stderr


def test_missing_fashion_mnist_says_how_to_get_it(monkeypatch, tmp_path):
    from retrieval.images import data as images

    monkeypatch.setattr(images, "candidates", lambda path=None: [tmp_path / "a", tmp_path / "b"])
    result = run("images", "train", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "apt-get install dataset-fashion-mnist" in result.stderr and "keras.datasets" in result.stderr
