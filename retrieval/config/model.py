"""The sections of a build's configuration: the autoencoder, its training, neighbours and noise.

Notes
-----
Each section is a frozen dataclass that checks itself in ``__post_init__``, so
a bad value fails where it is made (a CLI flag, ``from_dict`` of a manifest)
rather than deep inside training. The top-level configs that hold these
sections are in ``retrieval.config.sections``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.config.checks import (
    ACTIVATIONS,
    ANCHOR_KINDS,
    ANCHORS,
    BINARIZERS,
    BINARY_KINDS,
    CODES,
    KINDS,
    LR_SCHEDULES,
    NOISE_KINDS,
    OPTIMIZERS,
    OUTPUTS,
    _choice,
    _positive,
)
from retrieval.errors import RetrievalError


@dataclass(frozen=True)
class AutoencoderConfig:
    """The shape of the autoencoder; the decoder mirrors ``hidden``.

    ``output`` and ``loss`` go together: ``softmax`` with
    ``categorical_crossentropy`` reconstructs the term distribution (the
    default for TF-IDF input), ``sigmoid`` with ``binary_crossentropy`` suits
    inputs in [0, 1] such as pixels.

    ``codes`` is ``float`` (searched by cosine or L2; ``center_codes``
    subtracts the training mean after training) or ``binary`` (``code_size``
    bits, searched by Hamming distance). ``binarizer`` says how bits are
    made: ``itq`` trains float codes and fits an ITQ rotation of them after
    training; ``straight_through`` and ``noise`` train a near-binary sigmoid
    code (``binary_noise`` is the standard deviation of the noise added
    before that sigmoid in training).
    """

    hidden: tuple[int, ...] = (500, 250, 125)
    code_size: int = 32
    activation: str = "relu"
    code_activation: str = "linear"
    output: str = "softmax"
    loss: str = "categorical_crossentropy"
    input_dropout: float = 0.7
    conv_filters: tuple[int, ...] = ()
    image_shape: tuple[int, ...] = ()
    kind: str = "denoising"
    sparse_l1: float = 1e-4
    sparse_kl: float = 0.0
    sparse_target: float = 0.05
    contractive_weight: float = 1e-4
    beta: float = 1.0
    codes: str = "float"
    center_codes: bool = True
    binarizer: str = "itq"
    binary_noise: float = 0.0
    anchor: str = "none"

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "conv_filters", tuple(int(f) for f in self.conv_filters))
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        for filters in self.conv_filters:
            _positive("every conv_filters entry", filters)
        if self.conv_filters:
            if len(self.image_shape) != 3:
                raise RetrievalError(
                    f"a convolutional model needs image_shape (height, width, channels); got {self.image_shape!r}"
                )
            step = 2 ** len(self.conv_filters)
            if self.image_shape[0] % step or self.image_shape[1] % step:
                raise RetrievalError(
                    f"{len(self.conv_filters)} stride-2 conv blocks need height and width divisible by {step}; "
                    f"got {self.image_shape[0]}x{self.image_shape[1]}"
                )
        for width in self.hidden:
            _positive("every hidden layer size", width)
        _positive("code_size", self.code_size)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("code_activation", self.code_activation, ACTIVATIONS)
        _choice("output", self.output, tuple(OUTPUTS))
        _choice(f"loss for a {self.output} output", self.loss, OUTPUTS[self.output])
        _choice("kind", self.kind, KINDS)
        for name in ("sparse_l1", "sparse_kl", "contractive_weight", "beta"):
            _positive(name, getattr(self, name), allow_zero=True)
        if not 0.0 < self.sparse_target < 1.0:
            raise RetrievalError(f"sparse_target must be in (0, 1); got {self.sparse_target!r}")
        if self.kind == "sparse" and self.sparse_kl > 0 and self.code_activation != "sigmoid":
            raise RetrievalError(
                f"the KL sparsity penalty needs code_activation sigmoid (codes in (0, 1)); got {self.code_activation!r}"
            )
        if self.kind == "contractive" and self.code_activation not in ("sigmoid", "tanh", "relu", "linear"):
            raise RetrievalError(
                f"a contractive code needs code_activation sigmoid, tanh, relu or linear; got {self.code_activation!r}"
            )
        if not 0.0 <= self.input_dropout < 1.0:
            raise RetrievalError(f"input_dropout must be in [0, 1); got {self.input_dropout!r}")
        _choice("codes", self.codes, CODES)
        _choice("binarizer", self.binarizer, BINARIZERS)
        _positive("binary_noise", self.binary_noise, allow_zero=True)
        if self.codes == "binary":
            if self.code_size % 8:
                raise RetrievalError(
                    f"binary codes are packed into bytes, so bits must be a multiple of 8; got {self.code_size}"
                )
            if self.binarizer != "itq" and self.kind not in BINARY_KINDS:
                raise RetrievalError(
                    f"the {self.binarizer} binarizer works with the {' and '.join(BINARY_KINDS)} kinds; got kind "
                    f"{self.kind!r} (the itq binarizer works with every kind)"
                )
        _choice("anchor", self.anchor, ANCHORS)
        if self.anchor != "none":
            if (
                self.kind not in ANCHOR_KINDS
                or self.conv_filters
                or (self.codes == "binary" and self.binarizer != "itq")
            ):
                raise RetrievalError(
                    f"an anchored code (anchor {self.anchor!r}) adds to a dense code layer of the "
                    f"{', '.join(ANCHOR_KINDS)} kinds with float or itq codes; use anchor none with kind "
                    f"{self.kind!r}{', conv layers' if self.conv_filters else ''} and binarizer {self.binarizer!r}"
                )


@dataclass(frozen=True)
class TrainConfig:
    """Training settings; TerminateOnNaN and History are always on.

    ``early_stopping`` is the patience in epochs (0 = off), ``reduce_lr`` the
    ReduceLROnPlateau patience (0 = off); both watch ``val_loss`` when
    ``validation_fraction`` > 0, else ``loss``. ``checkpoint`` is a path for
    ModelCheckpoint (best model as ``.keras``), or empty. ``pretrain_epochs``
    > 0 makes a stacked autoencoder: greedy layer-wise pre-training of the
    dense encoder layers for that many epochs each, then fine-tuning.
    """

    epochs: int = 20
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    validation_fraction: float = 0.0
    early_stopping: int = 0
    reduce_lr: int = 0
    checkpoint: str = ""
    seed: int = 0
    pretrain_epochs: int = 0
    steps: int = 0
    warmup_steps: int = 0
    warmup_learning_rate: float = 1e-3
    max_epochs: int = 0
    short_inputs: float = 0.0  # the fraction of training rows cut to a few of their terms, as a query is
    short_terms: int = 24  # such a row keeps 2 to this many terms (before the input masking)

    def __post_init__(self):
        _positive("epochs", self.epochs)
        if isinstance(self.short_inputs, bool) or not 0.0 <= self.short_inputs <= 1.0:
            raise RetrievalError(f"short_inputs must be a fraction in [0, 1]; got {self.short_inputs!r}")
        if isinstance(self.short_terms, bool) or not isinstance(self.short_terms, int) or self.short_terms < 2:
            raise RetrievalError(f"short_terms must be a whole number of at least 2; got {self.short_terms!r}")
        _positive("steps", self.steps, allow_zero=True)
        _positive("warmup_steps", self.warmup_steps, allow_zero=True)
        _positive("warmup_learning_rate", self.warmup_learning_rate)
        _positive("max_epochs", self.max_epochs, allow_zero=True)
        _positive("batch_size", self.batch_size)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _positive("learning_rate", self.learning_rate)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if not 0.0 <= self.validation_fraction < 0.5:
            raise RetrievalError(f"validation_fraction must be in [0, 0.5); got {self.validation_fraction!r}")
        _positive("early_stopping", self.early_stopping, allow_zero=True)
        _positive("reduce_lr", self.reduce_lr, allow_zero=True)
        _positive("seed", self.seed, allow_zero=True)
        _positive("pretrain_epochs", self.pretrain_epochs, allow_zero=True)
        if self.checkpoint and not self.checkpoint.endswith(".keras"):
            raise RetrievalError(f"checkpoint must be a path ending in .keras; got {self.checkpoint!r}")

    def epochs_for(self, n_rows: int) -> tuple[int, int]:
        """(warm-up epochs, training epochs) for ``n_rows`` training rows.

        A budget of ``steps`` (optimiser updates) becomes whole epochs, at least
        one, so that a large corpus is not trained for many times longer than a
        small one, and at most ``max_epochs`` (0 = no cap), so that a small one
        is not passed over so often that the codes drift to its particulars;
        ``steps`` = 0 trains for ``epochs``.
        """
        per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        warmup = math.ceil(self.warmup_steps / per_epoch) if self.warmup_steps else 0
        if not self.steps:
            return warmup, self.epochs
        epochs = math.ceil(self.steps / per_epoch)
        return warmup, min(epochs, self.max_epochs) if self.max_epochs else epochs


@dataclass(frozen=True)
class NeighbourConfig:
    """The neighbour graph behind smoothed targets and the smoothed-LSA anchor (``retrieval.model.neighbours``).

    ``k`` neighbours per document (0 = none) by cosine in an LSA space of
    ``dims`` dimensions; targets are ``l1(x + weight * mean of neighbours)``
    (``weight`` 0 = the document alone), the anchor's rows ``l2(x +
    anchor_weight * mean of neighbours)``.
    """

    k: int = 20
    weight: float = 4.0
    dims: int = 100
    anchor_weight: float = 1.0

    def __post_init__(self):
        _positive("neighbours k", self.k, allow_zero=True)
        _positive("neighbour weight", self.weight, allow_zero=True)
        _positive("neighbour dims", self.dims)
        _positive("anchor weight", self.anchor_weight, allow_zero=True)


@dataclass(frozen=True)
class NoiseConfig:
    """Corruption applied to each training batch (a denoising autoencoder).

    ``amount`` is the Gaussian or speckle noise factor, the fraction of
    pixels salted or peppered, or the stripe amplitude; ``mixed`` draws one
    of the four kinds per batch.
    """

    kind: str = "none"
    amount: float = 0.5

    def __post_init__(self):
        _choice("noise kind", self.kind, NOISE_KINDS)
        if not 0.0 <= self.amount <= 1.0 or isinstance(self.amount, bool):
            raise RetrievalError(f"noise amount must be in [0, 1]; got {self.amount!r}")
