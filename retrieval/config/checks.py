"""The valid choices of every configuration field, and the two checks that enforce them.

Notes
-----
The choices live apart from the dataclasses because both the sections
(``retrieval.config.model``) and the top-level configs
(``retrieval.config.sections``) validate against them, and because other
packages import them (``KINDS``, ``NOISE_KINDS``, ``SMOOTHED_NEEDS_NEIGHBOURS``)
without needing a config. Every error names the bad value and the valid
choices, so a mistyped flag says how to fix it.
"""

from __future__ import annotations

from retrieval.errors import RetrievalError

STOP_WORDS = ("english", "none")
ACTIVATIONS = ("relu", "elu", "selu", "gelu", "tanh", "sigmoid", "linear")
OUTPUTS = {  # output activation -> losses that suit it
    "softmax": ("categorical_crossentropy",),
    "sigmoid": ("binary_crossentropy", "mse"),
    "linear": ("mse", "cosine"),
}
KINDS = ("plain", "denoising", "sparse", "contractive", "variational")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adadelta")
LR_SCHEDULES = ("constant", "cosine", "exponential")
METRICS = ("cosine", "l2", "hamming")
CODES = ("float", "binary")
BINARIZERS = ("itq", "straight_through", "noise")
BINARY_KINDS = ("plain", "denoising")
ANCHORS = ("none", "lsa", "smoothed_lsa")
SMOOTHED_NEEDS_NEIGHBOURS = "the smoothed_lsa anchor needs neighbours (k > 0); use anchor lsa or none without them"
ANCHOR_KINDS = ("plain", "denoising", "sparse")  # kinds whose code layer is a plain Dense that an anchor can add to
NOISE_KINDS = ("none", "gaussian", "salt_and_pepper", "speckle", "periodic", "mixed")
INDEX_KINDS = ("auto", "flat", "ivf", "ivfpq", "hnsw")  # as indexing.ann.KINDS (config may not import indexing)


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise RetrievalError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


def _positive(name: str, value, allow_zero: bool = False) -> None:
    ok = value >= 0 if allow_zero else value > 0
    if isinstance(value, bool) or not ok:
        raise RetrievalError(f"{name} must be {'non-negative' if allow_zero else 'positive'}; got {value!r}")
