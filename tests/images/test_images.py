"""Images: IDX loading, noise kinds, image models, the image index and its evaluation."""

import gzip

import numpy as np
import pytest
from conftest import write_idx

from retrieval.config import AutoencoderConfig, NoiseConfig
from retrieval.errors import RetrievalError
from retrieval.evaluation.images import bce, evaluate_images
from retrieval.images.data import image_model, load_image_file, load_images, read_idx
from retrieval.images.index import ImageIndex
from retrieval.model.builder import build_autoencoder
from retrieval.model.noise import KINDS, corrupt, psnr
from retrieval.model.training import Batches


def test_loader_reads_both_splits_scaled_to_unit_range(image_dir):
    data = load_images(image_dir)
    assert data.X_train.shape == (160, 784) and data.X_test.shape == (40, 784)
    assert data.X_train.dtype == np.float32 and 0.0 <= data.X_train.min() and data.X_train.max() <= 1.0
    assert data.shape == (28, 28) and data.class_names == ("0", "1", "2", "3")
    assert sorted(set(data.y_test.tolist())) == [0, 1, 2, 3]


def test_raw_idx_files_load_too(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", array)
    (tmp_path / "x").write_bytes(gzip.decompress((tmp_path / "x.gz").read_bytes()))
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.gz"), array)


def test_bad_idx_files_are_named(tmp_path):
    (tmp_path / "magic").write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 12)
    with pytest.raises(RetrievalError, match="not an unsigned-byte IDX file \\(bad magic number 00000d03\\)"):
        read_idx(tmp_path / "magic")
    write_idx(tmp_path / "ok.gz", np.zeros((2, 28, 28)))
    raw = gzip.decompress((tmp_path / "ok.gz").read_bytes())
    (tmp_path / "short").write_bytes(raw[:-10])
    with pytest.raises(RetrievalError, match=r"holds 1558 bytes of data but its header \(2, 28, 28\) needs 1568"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"junk")
    with pytest.raises(RetrievalError, match="not a readable gzip file"):
        read_idx(tmp_path / "bad.gz")


def test_mismatched_counts_and_missing_sets(tmp_path, image_dir):
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((image_dir / name).read_bytes())
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5))
    with pytest.raises(RetrievalError, match="160 train images but 5 labels"):
        load_images(tmp_path)
    with pytest.raises(RetrievalError, match="image directory not found"):
        load_images(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RetrievalError, match="does not hold an IDX image set"):
        load_images(tmp_path / "empty")


def test_image_files_png_and_npy(tmp_path):
    from PIL import Image

    pixels = (np.arange(784) % 256).reshape(28, 28).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image_file(tmp_path / "a.png"), pixels.reshape(-1) / 255.0, rtol=1e-6)
    np.save(tmp_path / "b.npy", pixels / 255.0)
    np.testing.assert_allclose(load_image_file(tmp_path / "b.npy"), pixels.reshape(-1) / 255.0, rtol=1e-6)
    np.save(tmp_path / "c.npy", np.zeros((10, 10)))
    with pytest.raises(RetrievalError, match="must be a 28x28 grey image; got shape \\(10, 10\\)"):
        load_image_file(tmp_path / "c.npy")
    (tmp_path / "d.png").write_bytes(b"not a png")
    with pytest.raises(RetrievalError, match="cannot read .*d.png as an image"):
        load_image_file(tmp_path / "d.png")


@pytest.mark.parametrize("kind", KINDS)
def test_every_noise_kind_stays_in_range_and_is_seeded(kind):
    X = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    a = corrupt(X, kind, 0.4, np.random.default_rng(1))
    b = corrupt(X, kind, 0.4, np.random.default_rng(1))
    c = corrupt(X, kind, 0.4, np.random.default_rng(2))
    assert a.dtype == np.float32 and a.shape == X.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, X)


def test_noise_statistics():
    rng = np.random.default_rng(0)
    grey = np.full((200, 784), 0.5, dtype=np.float32)
    assert np.std(corrupt(grey, "gaussian", 0.1, rng) - grey) == pytest.approx(0.1, rel=0.02)
    salted = corrupt(grey, "salt_and_pepper", 0.2, rng)
    changed = salted != grey
    assert changed.mean() == pytest.approx(0.2, abs=0.01)
    assert set(np.unique(salted[changed]).tolist()) == {0.0, 1.0}
    assert (salted[changed] == 1.0).mean() == pytest.approx(0.5, abs=0.02)
    black = np.zeros((10, 784), dtype=np.float32)
    np.testing.assert_array_equal(corrupt(black, "speckle", 0.9, rng), black)  # multiplicative
    stripes = corrupt(grey, "periodic", 0.3, rng) - grey
    assert np.abs(stripes).max() == pytest.approx(0.3, abs=0.01) and abs(stripes.mean()) < 0.02
    np.testing.assert_array_equal(corrupt(grey, "none", 0.5, rng), grey)
    with pytest.raises(RetrievalError, match="noise kind must be one of"):
        corrupt(grey, "blur", 0.5, rng)
    with pytest.raises(RetrievalError, match="noise amount must be in \\[0, 1\\]; got 2"):
        NoiseConfig(kind="gaussian", amount=2)


def test_psnr_and_bce_on_known_values():
    clean = np.zeros((1, 4))
    assert psnr(clean, clean + 0.1) == pytest.approx(20.0)
    assert psnr(clean, clean) == float("inf")
    assert bce(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])) == pytest.approx(np.log(2))


def test_denoising_batches_corrupt_inputs_and_keep_targets_clean():
    X = np.full((8, 784), 0.5, dtype=np.float32)
    inputs, targets = Batches(X, 8, "sigmoid", noise=NoiseConfig("gaussian", 0.3))[0]
    np.testing.assert_array_equal(targets, X)
    assert not np.array_equal(inputs, X) and inputs.min() >= 0 and inputs.max() <= 1


@pytest.mark.parametrize(
    "name, layers",
    [
        ("lecture", ["code"]),
        ("deep", ["encoder_1", "encoder_2", "code"]),
        ("conv", ["encoder_conv_1", "encoder_conv_2", "code"]),
    ],
)
def test_image_models_through_the_one_builder(name, layers):
    config = image_model(name, code_size=16)
    models = build_autoencoder(784, config)
    X = np.random.default_rng(0).random((3, 784)).astype(np.float32)
    assert models.encoder(X).shape == (3, 16) and models.autoencoder(X).shape == (3, 784)
    assert [layer.name for layer in models.encoder.layers if layer.name.startswith(("encoder", "code"))] == layers
    out = models.autoencoder(X).numpy()
    assert out.min() >= 0 and out.max() <= 1  # sigmoid output for pixels
    assert image_model("lecture", 64).code_size == 64  # overcomplete codes too


def test_conv_configuration_errors():
    with pytest.raises(RetrievalError, match="needs image_shape \\(height, width, channels\\)"):
        AutoencoderConfig(conv_filters=(8,))
    with pytest.raises(RetrievalError, match="3 stride-2 conv blocks need height and width divisible by 8; got 28x28"):
        AutoencoderConfig(conv_filters=(8, 8, 8), image_shape=(28, 28, 1))
    with pytest.raises(RetrievalError, match="unknown image model 'resnet'; choose one of lecture, deep, conv"):
        image_model("resnet")
    with pytest.raises(RetrievalError, match="does not hold 100 values"):
        build_autoencoder(100, image_model("conv"))


def test_image_index_finds_each_training_image_first_and_round_trips(tmp_path, image_index, image_dir):
    data = load_images(image_dir)
    hits = image_index.search(data.X_train[:20], k=1)
    assert [h[0].doc_id for h in hits] == [f"train:{i}" for i in range(20)]
    reconstructed = image_index.reconstruct(data.X_test)
    assert reconstructed.shape == (40, 784) and 0 <= reconstructed.min() and reconstructed.max() <= 1
    image_index.save(tmp_path / "i")
    loaded = ImageIndex.load(tmp_path / "i")
    assert loaded.search(data.X_test, 5) == image_index.search(data.X_test, 5)
    np.testing.assert_array_equal(loaded.reconstruct(data.X_test), reconstructed)
    assert loaded.image_shape_ == (28, 28) and loaded.config == image_index.config
    with pytest.raises(RetrievalError, match="images must have 784 pixels each"):
        image_index.encode(np.zeros((2, 100)))
    with pytest.raises(RetrievalError, match="pixel values must be finite and in \\[0, 1\\]"):
        image_index.encode(np.full((1, 784), 3.0))


def test_image_evaluation_reports_every_part(image_index, image_dir):
    report = evaluate_images(image_index, load_images(image_dir), k=10, knn=5)
    assert [m["method"] for m in report["retrieval"]] == ["autoencoder-8", "raw-pixels", "pca-8"]
    assert [d["noise"] for d in report["denoising"]] == list(KINDS)
    assert report["reconstruction"]["mse"] < 0.1
    raw = report["retrieval"][1]
    assert raw["knn_accuracy"] > 0.9  # the quadrant squares are trivially separable in pixel space
    with pytest.raises(RetrievalError, match="knn must be a positive whole number; got 0"):
        evaluate_images(image_index, load_images(image_dir), knn=0)


def test_linear_image_model_reports_its_pca_subspace_angles(image_dir):
    from retrieval.config import ImageConfig, TrainConfig

    data = load_images(image_dir)
    config = ImageConfig(
        model="linear",
        autoencoder=image_model("linear", 3),
        train=TrainConfig(epochs=40, batch_size=32, learning_rate=1e-2, lr_schedule="cosine"),
    )
    index = ImageIndex(config).fit(
        data.X_train,
        [str(y) for y in data.y_train],
        [f"train:{i}" for i in range(len(data.y_train))],
        data.shape,
        data.class_names,
    )
    report = evaluate_images(index, data, k=10, baselines=False)
    angles = report["pca_subspace"]
    assert angles["components"] == 3 and 0 <= angles["median_angle_degrees"] <= angles["max_angle_degrees"] <= 90
    assert 0 < angles["variance_ratio"] <= 1.0 + 1e-6
    nonlinear = index.retrain(config.override(autoencoder={"code_activation": "relu"}), data.X_train)
    assert "pca_subspace" not in evaluate_images(nonlinear, data, k=10, baselines=False)
    with pytest.raises(RetrievalError, match="an index of images keeps no features; pass the rows to retrain"):
        index.retrain(config)
