"""The one builder and the training loop."""

import numpy as np
import pytest
import scipy.sparse as sp

from retrieval.config import AutoencoderConfig, TrainConfig
from retrieval.errors import RetrievalError, TrainingError
from retrieval.model.builder import build_autoencoder
from retrieval.model.training import Batches, encode, make_callbacks, reconstruction_target, train


def test_builder_returns_encoder_and_decoder_that_compose_to_the_autoencoder():
    models = build_autoencoder(40, AutoencoderConfig(hidden=(16, 8), code_size=4, input_dropout=0.5), seed=0)
    X = np.random.default_rng(0).random((5, 40)).astype(np.float32)
    np.testing.assert_array_equal(models.encoder(X).numpy(), models.encoder(X).numpy())  # dropout off at inference
    codes = models.encoder(X).numpy()
    assert codes.shape == (5, 4)
    assert models.decoder.output_shape == (None, 40)
    np.testing.assert_allclose(models.decoder(codes).numpy(), models.autoencoder(X).numpy(), rtol=1e-5)
    np.testing.assert_allclose(models.autoencoder(X).numpy().sum(axis=1), 1.0, rtol=1e-4)  # softmax output
    widths = [layer.units for layer in models.encoder.layers[2:] + models.decoder.layers[1:]]
    assert widths == [16, 8, 4, 8, 16, 40]


def test_same_seed_same_weights_and_bad_width():
    config = AutoencoderConfig(hidden=(8,), code_size=2)
    a, b = build_autoencoder(10, config, seed=3), build_autoencoder(10, config, seed=3)
    for wa, wb in zip(a.autoencoder.get_weights(), b.autoencoder.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    with pytest.raises(RetrievalError, match="input_dim must be positive; got 0"):
        build_autoencoder(0, config)


def test_batches_densify_one_batch_and_cover_every_row_each_epoch():
    X = sp.random(50, 12, density=0.3, format="csr", dtype=np.float32, random_state=0)
    batches = Batches(X, batch_size=16, output="softmax", seed=0)
    assert len(batches) == 4
    seen = []
    for i in range(len(batches)):
        inputs, target = batches[i]
        assert isinstance(inputs, np.ndarray) and inputs.shape[0] <= 16
        nonzero = inputs.sum(axis=1) > 0
        np.testing.assert_allclose(target[nonzero].sum(axis=1), 1.0, rtol=1e-5)
        seen.extend(batches.order[i * 16 : (i + 1) * 16])
    assert sorted(seen) == list(range(50))
    first_order = batches.order.copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.order)


def test_reconstruction_target_only_normalises_for_softmax():
    X = np.array([[1.0, 3.0], [0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(reconstruction_target(X, "softmax"), [[0.25, 0.75], [0.0, 0.0]])
    assert reconstruction_target(X, "sigmoid") is X


def test_callbacks_follow_the_config():
    def names(config):
        return [type(c).__name__ for c in make_callbacks(config)]

    assert names(TrainConfig()) == ["TerminateOnNaN", "History"]
    chosen = TrainConfig(
        early_stopping=2, reduce_lr=1, lr_schedule="cosine", checkpoint="/tmp/x.keras", validation_fraction=0.2
    )
    assert names(chosen) == [
        "TerminateOnNaN",
        "History",
        "EarlyStopping",
        "ReduceLROnPlateau",
        "LearningRateScheduler",
        "ModelCheckpoint",
    ]
    assert make_callbacks(chosen)[2].monitor == "val_loss"


def _data():
    return sp.random(64, 30, density=0.3, format="csr", dtype=np.float32, random_state=1)


def test_training_reduces_loss_and_is_repeatable_with_the_same_seed(tmp_path):
    config = AutoencoderConfig(hidden=(16,), code_size=4)
    train_config = TrainConfig(
        epochs=4,
        batch_size=16,
        learning_rate=1e-2,
        seed=5,
        validation_fraction=0.25,
        early_stopping=3,
        checkpoint=str(tmp_path / "best.keras"),
    )
    runs = []
    for _ in range(2):
        models = build_autoencoder(30, config, seed=5)
        history = train(models, _data(), config, train_config)
        runs.append(encode(models.encoder, _data()))
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["val_loss"]) == len(history["loss"])
    assert (tmp_path / "best.keras").is_file()
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_diverging_learning_rate_stops_cleanly_with_a_clear_message():
    config = AutoencoderConfig(hidden=(16,), code_size=4, output="linear", loss="mse")
    models = build_autoencoder(30, config, seed=0)
    epochs = []
    with pytest.raises(
        TrainingError, match=r"training diverged: the loss became NaN .* try a lower learning rate \(it was 1e\+12\)"
    ):
        train(
            models,
            _data() * 1e3,
            config,
            TrainConfig(epochs=20, optimizer="sgd", learning_rate=1e12),
            on_epoch=lambda e, logs: epochs.append(e),
        )
    assert len(epochs) < 20  # TerminateOnNaN stopped it early


def test_encode_handles_sparse_dense_and_empty_input():
    models = build_autoencoder(30, AutoencoderConfig(hidden=(8,), code_size=3), seed=0)
    X = _data()
    np.testing.assert_allclose(encode(models.encoder, X, batch_size=7), encode(models.encoder, X.toarray()), rtol=1e-5)
    assert encode(models.encoder, X[:0]).shape == (0, 3)
