"""The autoencoder family: every kind builds, trains, saves and loads in a fresh process (safe mode)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from conftest import TINY_CONFIG, run_cli
from sklearn.decomposition import PCA

from retrieval.config import KINDS, AutoencoderConfig, ImageConfig, TrainConfig
from retrieval.errors import RetrievalError
from retrieval.images.data import image_model, load_images
from retrieval.images.index import ImageIndex
from retrieval.model._tf import keras, tf
from retrieval.model.blocks import ContractiveDense, VariationalCode
from retrieval.model.builder import build_autoencoder
from retrieval.model.training import encode, pretrain_layerwise, train
from retrieval.text.index import TextIndex

KIND_OPTIONS = {
    "sparse": dict(code_activation="sigmoid", sparse_kl=0.1),
    "contractive": dict(code_activation="sigmoid"),
}


@pytest.fixture(scope="module")
def saved_kinds(tmp_path_factory, corpus, image_dir):
    """Every kind, for text and for images, saved as a bundle; with the codes computed before saving."""
    root = tmp_path_factory.mktemp("kinds")
    data = load_images(image_dir)
    expected = {}
    for kind in KINDS:
        options = {"kind": kind, **KIND_OPTIONS.get(kind, {})}
        text = TextIndex(dataclasses.replace(TINY_CONFIG, train=dataclasses.replace(TINY_CONFIG.train, epochs=2)))
        text.config = text.config.override(autoencoder=options)
        text.fit(corpus).save(root / f"text-{kind}")
        expected[f"text-{kind}"] = text.encode(corpus.texts[:5]).tolist()
        config = ImageConfig(
            autoencoder=image_model("lecture", 8), train=TrainConfig(epochs=2, batch_size=32)
        ).override(autoencoder=options)
        labels = [data.class_names[y] for y in data.y_train]
        images = ImageIndex(config).fit(
            data.X_train, labels, [f"train:{i}" for i in range(len(labels))], data.shape, data.class_names
        )
        images.save(root / f"images-{kind}")
        expected[f"images-{kind}"] = images.encode(data.X_test[:5]).tolist()
    return root, expected, corpus.texts[:5], data.X_test[:5]


def test_every_kind_loads_in_a_fresh_process_with_safe_mode(saved_kinds, tmp_path):
    root, expected, texts, images = saved_kinds
    np.save(tmp_path / "images.npy", images)
    script = f"""
import json, sys, numpy as np
from retrieval.text.index import TextIndex
from retrieval.images.index import ImageIndex
texts, images, out = {texts!r}, np.load({str(tmp_path / "images.npy")!r}), {{}}
for name in {sorted(expected)!r}:
    cls = TextIndex if name.startswith("text") else ImageIndex
    index = cls.load({str(root)!r} + "/" + name)
    out[name] = index.encode(texts if name.startswith("text") else images).tolist()
print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for name, codes in expected.items():
        np.testing.assert_allclose(loaded[name], codes, rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_manifest_records_the_kind(saved_kinds):
    root, expected, _, _ = saved_kinds
    for name in expected:
        manifest = json.loads((root / name / "manifest.json").read_text())
        assert manifest["config"]["autoencoder"]["kind"] == name.split("-", 1)[1]


def test_contractive_penalty_equals_the_jacobian_norm_from_a_gradient_tape():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(6, 5)).astype(np.float32))
    for activation in ("sigmoid", "tanh", "relu", "linear"):
        layer = ContractiveDense(3, weight=1.0, activation=activation)
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = layer(x)
        jacobian = tape.batch_jacobian(h, x)  # (6, 3, 5)
        exact = float(tf.reduce_mean(tf.reduce_sum(tf.square(jacobian), axis=[1, 2])))
        assert float(layer.losses[-1]) == pytest.approx(exact, rel=1e-4), activation


def test_variational_code_samples_in_training_and_returns_the_mean_otherwise():
    layer = VariationalCode(4, kl_weight=1.0, seed=0)
    x = np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32)
    mean = layer(x, training=False).numpy()
    np.testing.assert_array_equal(mean, layer(x, training=False).numpy())
    np.testing.assert_allclose(mean, layer.mean(x).numpy(), rtol=1e-6)
    assert not np.allclose(layer(x, training=True).numpy(), mean)
    assert float(layer.losses[-1]) >= 0


def test_sparse_codes_are_less_active_than_plain_codes_of_the_same_size():
    X = sp.random(300, 60, density=0.2, format="csr", dtype=np.float32, random_state=0)
    activation = {}
    for kind, extra in (("plain", {}), ("sparse", dict(sparse_kl=0.5, sparse_target=0.05))):
        config = AutoencoderConfig(
            hidden=(32,), code_size=64, code_activation="sigmoid", kind=kind, input_dropout=0, **extra
        )
        models = build_autoencoder(60, config, seed=0)
        train(models, X, config, TrainConfig(epochs=15, batch_size=32, learning_rate=3e-3))
        activation[kind] = float(encode(models.encoder, X).mean())
    assert activation["sparse"] < 0.5 * activation["plain"], activation


@pytest.fixture(scope="module")
def low_rank():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(20, 20)))
    scales = np.array([5.0, 4.0, 3.0] + [0.1] * 17)
    return ((rng.normal(size=(600, 20)) * scales) @ basis.T + 2.0).astype(np.float32)


def _angle(models, X, k=3) -> float:
    decoder_columns = models.decoder.get_layer("reconstruction").kernel.numpy().T  # (d, code)
    components = PCA(k).fit(X).components_.T
    return float(np.max(scipy.linalg.subspace_angles(decoder_columns, components)))


def test_a_linear_autoencoder_spans_the_pca_subspace(low_rank):
    config = AutoencoderConfig(
        hidden=(), code_size=3, code_activation="linear", output="linear", loss="mse", input_dropout=0, kind="plain"
    )
    untrained = build_autoencoder(20, config, seed=0)
    assert _angle(untrained, low_rank) > 0.3  # the check can fail: a random decoder is far from PCA
    models = build_autoencoder(20, config, seed=0)
    train(models, low_rank, config, TrainConfig(epochs=100, batch_size=32, learning_rate=3e-2, lr_schedule="cosine"))
    assert _angle(models, low_rank) < 0.05  # radians, about 3 degrees (measured: 0.001)


def test_kind_options_are_validated():
    with pytest.raises(
        RetrievalError, match="kind must be one of plain, denoising, sparse, contractive, variational; got 'ladder'"
    ):
        AutoencoderConfig(kind="ladder")
    with pytest.raises(RetrievalError, match="the KL sparsity penalty needs code_activation sigmoid"):
        AutoencoderConfig(kind="sparse", sparse_kl=0.1, code_activation="relu")
    with pytest.raises(
        RetrievalError, match="a contractive code needs code_activation sigmoid, tanh, relu or linear; got 'elu'"
    ):
        AutoencoderConfig(kind="contractive", code_activation="elu")
    with pytest.raises(RetrievalError, match="beta must be non-negative"):
        AutoencoderConfig(beta=-1.0)


def test_kind_shorthands():
    from retrieval.config import BuildConfig

    assert BuildConfig().override(autoencoder={"kind": "plain"}).autoencoder.input_dropout == 0.0
    assert BuildConfig().override(autoencoder={"kind": "plain", "input_dropout": 0.2}).autoencoder.input_dropout == 0.2
    images = ImageConfig().override(autoencoder={"kind": "denoising"})
    assert images.noise.kind == "gaussian" and images.noise.amount == 0.5
    assert ImageConfig().override(autoencoder={"kind": "denoising"}, noise={"kind": "speckle"}).noise.kind == "speckle"


def test_a_diverging_build_writes_no_index(tmp_path, corpus_file):
    result = run_cli(
        "build",
        corpus_file,
        "--out",
        tmp_path / "o",
        "--min-df",
        "1",
        "--hidden",
        "8",
        "--code-size",
        "2",
        "--output",
        "linear",
        "--optimizer",
        "sgd",
        "--learning-rate",
        "1e12",
        "--epochs",
        "5",
    )
    assert result.exit_code == 1 and "training diverged" in result.stderr
    assert not (tmp_path / "o").exists()


def test_stacked_pretraining_fills_every_dense_layer_and_its_mirror():
    X = sp.random(200, 40, density=0.2, format="csr", dtype=np.float32, random_state=0)
    config = AutoencoderConfig(hidden=(16, 8), code_size=4, input_dropout=0, kind="plain")
    models = build_autoencoder(40, config, seed=0)
    dense = [layer for layer in models.encoder.layers + models.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 6
    before = [layer.get_weights()[0].copy() for layer in dense]
    history = pretrain_layerwise(models, X, config, TrainConfig(batch_size=32, pretrain_epochs=3))
    assert list(history) == ["pretrain_encoder_1_loss", "pretrain_encoder_2_loss", "pretrain_code_loss"]
    assert all(len(v) == 3 and v[-1] < v[0] for v in history.values())
    # pre-training alone set them
    assert all(not np.allclose(b, layer.get_weights()[0]) for b, layer in zip(before, dense))
    full = train(models, X, config, TrainConfig(epochs=1, batch_size=32, pretrain_epochs=1))
    assert "pretrain_code_loss" in full and len(full["loss"]) == 1


def test_stacked_pretraining_with_repeated_widths_and_refused_for_conv():
    X = np.random.default_rng(0).random((64, 784)).astype(np.float32)
    config = AutoencoderConfig(
        hidden=(8, 8), code_size=4, input_dropout=0, kind="plain", output="sigmoid", loss="binary_crossentropy"
    )
    history = train(build_autoencoder(784, config), X, config, TrainConfig(epochs=1, batch_size=32, pretrain_epochs=1))
    assert "pretrain_encoder_2_loss" in history
    conv = image_model("conv", 4)
    with pytest.raises(RetrievalError, match="stacked pre-training applies to dense layers"):
        train(build_autoencoder(784, conv), X, conv, TrainConfig(epochs=1, pretrain_epochs=1))


def test_stacked_from_the_cli(tmp_path, corpus_file):
    result = run_cli(
        "build",
        corpus_file,
        "--out",
        tmp_path / "s",
        "--min-df",
        "1",
        "--hidden",
        "16",
        "--code-size",
        "4",
        "--epochs",
        "1",
        "--stacked",
        "2",
        "--kind",
        "sparse",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["config"]["train"]["pretrain_epochs"] == 2 and "pretrain_code_loss" in manifest["history"]


def test_code_activity_and_kind_parsing():
    from retrieval.evaluation.kinds import code_activity, parse_kinds

    assert code_activity(np.array([[0.0, 0.2], [-0.5, 0.05]])) == {"mean_activation": 0.1875, "active_fraction": 0.5}
    assert parse_kinds(" plain, sparse ") == ["plain", "sparse"]
    with pytest.raises(
        RetrievalError, match="--kinds takes a comma-separated list of plain, denoising, .*; got 'plain,rbm'"
    ):
        parse_kinds("plain,rbm")


def test_retrain_keeps_documents_and_changes_only_the_config(fitted, corpus):
    other = fitted.retrain(fitted.config.override(autoencoder={"kind": "variational"}))
    assert other.config.autoencoder.kind == "variational" and fitted.config.autoencoder.kind != "variational"
    assert other.index_.id_map.doc_ids == fitted.index_.id_map.doc_ids and other.metadata_ is fitted.metadata_
    assert other.search(corpus.texts[:1], 1)[0][0].doc_id in corpus.doc_ids


def test_compare_kinds_from_the_cli_for_text_and_images(bundle_dir, queries_file, image_dir, tmp_path):
    result = run_cli(
        "evaluate",
        bundle_dir,
        "--queries",
        queries_file,
        "-k",
        "5",
        "--kinds",
        "plain,sparse",
        "--out-dir",
        tmp_path / "text",
    )
    assert result.exit_code == 0, result.stderr
    assert "plain" in result.stdout and "lsa-8" in result.stdout and "recon loss" in result.stdout
    report = json.loads((tmp_path / "text" / "compare.json").read_text())
    assert [row["kind"] for row in report["kinds"]] == ["plain", "sparse"]
    assert [row["method"] for row in report["baselines"]] == ["tfidf-cosine", "lsa-8"]
    assert (tmp_path / "text" / "compare.png").stat().st_size > 1000

    trained = tmp_path / "img"
    assert (
        run_cli("images", "train", "--out", trained, "--data", image_dir, "--code-size", "4", "--epochs", "1").exit_code
        == 0
    )
    result = run_cli(
        "images", "evaluate", trained, "--data", image_dir, "-k", "5", "--kinds", "contractive,variational", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [row["kind"] for row in report["kinds"]] == ["contractive", "variational"]
    assert {"knn_accuracy", "bce", "gaussian_gain_db", "mean_activation", "train_seconds"} <= set(report["kinds"][0])
    assert run_cli("evaluate", bundle_dir, "--queries", queries_file, "--kinds", "rbm").exit_code == 1


def test_surface_demo_scores_both_embeddings_and_draws_them(tmp_path, monkeypatch):
    from retrieval.demos import surface

    result = surface.surface_demo(n=300, epochs=3)
    assert result["X"].shape == (300, 3) and result["pca"].shape == result["autoencoder"].shape == (300, 2)
    for name in ("pca", "autoencoder"):
        assert 0.0 <= result["scores"][name]["trustworthiness"] <= 1.0
    assert surface.unrolled_r2(result["position"][:, None], result["position"]) > 0.99  # the truth recovers itself
    real = surface.surface_demo
    monkeypatch.setattr(surface, "surface_demo", lambda epochs, seed: real(n=300, epochs=epochs, seed=seed))
    out = run_cli("demo", "surface", "--out", tmp_path / "s.png", "--epochs", "2", "--json")
    assert out.exit_code == 0, out.stderr
    assert (
        set(json.loads(out.stdout)["scores"]) == {"pca", "autoencoder"} and (tmp_path / "s.png").stat().st_size > 1000
    )
    assert run_cli("demo", "surface", "--epochs", "0").exit_code == 1
