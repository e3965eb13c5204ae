"""Train an autoencoder on a sparse or dense matrix, densifying one batch at a time."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from retrieval.config import AutoencoderConfig, NoiseConfig, TrainConfig
from retrieval.errors import TrainingError
from retrieval.model._tf import keras, tf
from retrieval.model.builder import ANCHOR, AutoencoderModels
from retrieval.model.noise import corrupt

LOSSES = {
    "categorical_crossentropy": "categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "mse": "mean_squared_error",
    "cosine": "cosine_similarity",
}


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float32)


def reconstruction_target(X: np.ndarray, output: str) -> np.ndarray:
    """The target for a dense batch: a softmax output learns each row's term distribution."""
    if output == "softmax":
        return X / np.maximum(X.sum(axis=1, keepdims=True), np.float32(1e-12))
    return X


def short_rows(batch: np.ndarray, fraction: float, max_terms: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``batch`` in which a ``fraction`` of the rows keep only a few of their terms, as a query does.

    Each chosen row keeps between 2 and ``max_terms`` of its non-zero terms (uniformly), drawn without
    replacement with probability growing with their weight (Efraimidis and Spirakis' keys u^(1/w)), and
    is scaled back to its former L2 norm; the target stays the whole document. Rows with no more terms
    than that are left whole.
    """
    batch = batch.copy()
    for row in np.flatnonzero(rng.random(batch.shape[0]) < fraction):
        terms = np.flatnonzero(batch[row])
        keep = int(rng.integers(2, max_terms + 1))
        if len(terms) <= keep:
            continue
        weights = batch[row, terms]
        keys = np.log(rng.random(len(terms))) / weights
        dropped = terms[np.argpartition(-keys, keep - 1)[keep:]]
        norm = np.linalg.norm(batch[row])
        batch[row, dropped] = 0.0
        batch[row] *= norm / max(np.linalg.norm(batch[row]), 1e-12)
    return batch


class Batches(keras.utils.PyDataset):
    """Mini-batches of (input, target) from a CSR or dense (n, d) matrix.

    Only one batch is ever dense, so a large sparse corpus never becomes an
    (n, d) dense array. With ``seed`` set, rows are reshuffled every epoch
    from that seed, so a run is repeatable. With ``noise``, inputs are
    corrupted copies and targets stay clean (a denoising autoencoder). With
    ``targets`` (rows aligned with ``X``), those rows are reconstructed instead.
    """

    def __init__(
        self,
        X,
        batch_size: int,
        output: str,
        seed: int | None = None,
        noise: NoiseConfig = NoiseConfig(),
        noise_seed: int = 0,
        targets=None,
        short_inputs: float = 0.0,
        short_terms: int = 0,
    ):
        super().__init__()
        self.short_inputs, self.short_terms = short_inputs, short_terms
        self._short_rng = np.random.default_rng(noise_seed + 1_000)
        self.X, self.batch_size, self.output, self.noise = X, batch_size, output, noise
        self.targets = X if targets is None else targets
        self.order = np.arange(X.shape[0])
        self._rng = None if seed is None else np.random.default_rng(seed)
        self._noise_rng = np.random.default_rng(noise_seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(self.X.shape[0] / self.batch_size)

    def __getitem__(self, i: int):
        rows = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        batch = _dense(self.X[rows])
        inputs = (
            corrupt(batch, self.noise.kind, self.noise.amount, self._noise_rng) if self.noise.kind != "none" else batch
        )
        if self.short_inputs:
            inputs = short_rows(inputs, self.short_inputs, self.short_terms, self._short_rng)
        target = batch if self.targets is self.X else _dense(self.targets[rows])
        return inputs, reconstruction_target(target, self.output)

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self._rng.shuffle(self.order)


class _EpochHook(keras.callbacks.Callback):
    def __init__(self, on_epoch: Callable[[int, dict], None], offset: int = 0):
        super().__init__()
        self._on_epoch, self._offset = on_epoch, offset

    def on_epoch_end(self, epoch, logs=None):
        self._on_epoch(self._offset + epoch + 1, dict(logs or {}))


def _schedule(config: TrainConfig, epochs: int):
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        return lambda epoch: float(lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))
    return lambda epoch: float(lr * 0.9**epoch)  # "exponential": x0.9 per epoch


def make_callbacks(config: TrainConfig, on_epoch=None, epochs: int | None = None, offset: int = 0) -> list:
    """TerminateOnNaN and History always; the rest as ``config`` selects."""
    monitor = "val_loss" if config.validation_fraction > 0 else "loss"
    callbacks = [keras.callbacks.TerminateOnNaN(), keras.callbacks.History()]
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor, patience=config.early_stopping, restore_best_weights=True)
        )
    if config.reduce_lr:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor, factor=0.5, patience=config.reduce_lr))
    if config.lr_schedule != "constant":
        callbacks.append(keras.callbacks.LearningRateScheduler(_schedule(config, epochs or config.epochs)))
    if config.checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(config.checkpoint, monitor=monitor, save_best_only=True))
    if on_epoch is not None:
        callbacks.append(_EpochHook(on_epoch, offset))
    return callbacks


def _mirrors(models: AutoencoderModels) -> list[tuple]:
    """(encoder layer, the decoder layer that undoes it) for each dense encoder layer, bottom up.

    The builder mirrors the encoder, so the i-th dense layer from the input is
    undone by the i-th dense layer from the output.
    """
    dense = keras.layers.Dense
    encoder = [layer for layer in models.encoder.layers if isinstance(layer, dense) and layer.name != ANCHOR]
    decoder = [layer for layer in models.decoder.layers if isinstance(layer, keras.layers.Dense)]
    return list(zip(encoder, reversed(decoder)))


def pretrain_layerwise(models: AutoencoderModels, X, model_config: AutoencoderConfig, config: TrainConfig) -> dict:
    """Greedy layer-wise pre-training of a stacked autoencoder (Hinton & Salakhutdinov, 2006).

    Each dense encoder layer is trained as a shallow autoencoder on the outputs
    of the layers below it, for ``config.pretrain_epochs`` epochs; its weights
    go to that encoder layer, and its decoder's to the mirrored decoder layer.
    The first layer reconstructs the input with the model's own output and
    loss; deeper ones reconstruct hidden activations with mean squared error.

    Returns
    -------
    dict
        ``pretrain_<layer>_loss`` -> per-epoch losses.
    """
    if model_config.conv_filters:
        raise TrainingError("stacked pre-training applies to dense layers; train convolutional models end to end")
    history, inputs = {}, X
    for depth, (layer, mirror) in enumerate(_mirrors(models)):
        keras.utils.set_random_seed(config.seed + depth)
        first = depth == 0
        x_in = keras.Input(shape=(inputs.shape[1],))
        hidden = keras.layers.Dense(layer.units, activation=layer.activation)
        output = keras.layers.Dense(inputs.shape[1], activation=mirror.activation)
        shallow = keras.Model(x_in, output(hidden(x_in)))
        shallow.compile(
            optimizer=_optimizer(config),
            loss=LOSSES[model_config.loss] if first else "mean_squared_error",
        )
        batches = Batches(inputs, config.batch_size, model_config.output if first else "linear", seed=config.seed)
        fitted = shallow.fit(
            batches, epochs=config.pretrain_epochs, verbose=0, callbacks=[keras.callbacks.TerminateOnNaN()]
        ).history["loss"]
        if not np.isfinite(fitted[-1]):
            raise TrainingError(f"pre-training of {layer.name} diverged; try a lower learning rate")
        history[f"pretrain_{layer.name}_loss"] = [float(v) for v in fitted]
        layer.set_weights(hidden.get_weights())
        mirror.set_weights(output.get_weights())
        inputs = encode(keras.Model(x_in, hidden(x_in)), inputs)
    return history


def _warm_up(models: AutoencoderModels, batches, loss: str, epochs: int, config: TrainConfig, on_epoch) -> list:
    """Train the decoder alone, the encoder frozen; returns the per-epoch losses.

    An anchored encoder gives useful codes from the start; a decoder fitted to
    them first keeps its early, random gradients from pulling the codes away.
    """
    models.encoder.trainable = False
    models.autoencoder.compile(optimizer=_optimizer(config, config.warmup_learning_rate), loss=loss)
    callbacks = [keras.callbacks.TerminateOnNaN()] + ([_EpochHook(on_epoch)] if on_epoch else [])
    try:
        fitted = models.autoencoder.fit(batches, epochs=epochs, verbose=0, callbacks=callbacks).history["loss"]
    finally:
        models.encoder.trainable = True
        models.encoder.get_layer(ANCHOR).trainable = False
    return [float(v) for v in fitted]


def _optimizer(config: TrainConfig, learning_rate: float | None = None):
    rate = config.learning_rate if learning_rate is None else learning_rate
    return keras.optimizers.get({"class_name": config.optimizer, "config": {"learning_rate": rate}})


def _anchored(models: AutoencoderModels) -> bool:
    return any(layer.name == ANCHOR for layer in models.encoder.layers)


def train(
    models: AutoencoderModels,
    X,
    model_config: AutoencoderConfig,
    config: TrainConfig,
    on_epoch: Callable[[int, dict], None] | None = None,
    noise: NoiseConfig = NoiseConfig(),
    targets=None,
) -> dict:
    """Fit ``models.autoencoder`` to reconstruct ``X`` (or ``targets``).

    Parameters
    ----------
    X : CSR matrix or ndarray of shape (n, d), float32
    on_epoch : callable(epoch, logs), optional
        Called after every epoch, warm-up epochs included (for progress bars).
    noise : NoiseConfig
        Corrupt each input batch (targets stay clean).
    targets : CSR matrix or ndarray of shape (n, d), optional
        What to reconstruct for each row of ``X`` (e.g. neighbour-smoothed rows).

    Returns
    -------
    dict
        The History: metric name -> list of per-epoch values; ``warmup_loss``
        for the decoder warm-up of an anchored encoder.
    """
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(config.seed)
    order = np.random.default_rng(config.seed).permutation(X.shape[0])
    n_val = int(round(X.shape[0] * config.validation_fraction))
    train_rows, val_rows = np.sort(order[n_val:]), np.sort(order[:n_val])
    if len(train_rows) == 0:
        raise TrainingError("no rows left to train on")
    targets_of = (lambda rows: None) if targets is None else (lambda rows: targets[rows])

    pretrained = pretrain_layerwise(models, X[train_rows], model_config, config) if config.pretrain_epochs else {}
    batches = Batches(
        X[train_rows],
        config.batch_size,
        model_config.output,
        seed=config.seed,
        noise=noise,
        noise_seed=config.seed + 1,
        targets=targets_of(train_rows),
        short_inputs=config.short_inputs,
        short_terms=config.short_terms,
    )
    loss = LOSSES[model_config.loss]
    warmup_epochs, epochs = config.epochs_for(len(train_rows))
    warmup = {}
    if warmup_epochs and _anchored(models):
        warmup = {"warmup_loss": _warm_up(models, batches, loss, warmup_epochs, config, on_epoch)}
    else:
        warmup_epochs = 0
    models.autoencoder.compile(optimizer=_optimizer(config), loss=loss)
    validation = (
        Batches(
            X[val_rows],
            config.batch_size,
            model_config.output,
            noise=noise,
            noise_seed=config.seed + 2,
            targets=targets_of(val_rows),
        )
        if n_val
        else None
    )
    history = models.autoencoder.fit(
        batches,
        validation_data=validation,
        epochs=epochs,
        callbacks=make_callbacks(config, on_epoch, epochs, offset=warmup_epochs),
        verbose=0,
    ).history
    losses = history.get("loss", [])
    if not losses or not np.isfinite(losses[-1]):
        raise TrainingError(
            f"training diverged: the loss became NaN or infinite in epoch {len(losses)}; "
            f"try a lower learning rate (it was {config.learning_rate:g})"
        )
    return {**pretrained, **warmup, **{name: [float(v) for v in values] for name, values in history.items()}}


_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled(encoder: keras.Model):
    """A graph-compiled inference call, built once per model: about a third of an eager call's cost."""
    fn = _COMPILED.get(encoder)
    if fn is None:
        spec = tf.TensorSpec([None, *encoder.input_shape[1:]], tf.float32)
        fn = tf.function(lambda x: encoder(x, training=False), input_signature=[spec])
        _COMPILED[encoder] = fn
    return fn


def encode(encoder: keras.Model, X, batch_size: int = 1024) -> np.ndarray:
    """Codes of shape (n, code_size), float32, densifying ``batch_size`` rows at a time."""
    if X.shape[0] == 0:
        return np.zeros((0, encoder.output_shape[-1]), dtype=np.float32)
    fn = _compiled(encoder)
    return np.concatenate(
        [fn(_dense(X[start : start + batch_size])).numpy() for start in range(0, X.shape[0], batch_size)]
    )
