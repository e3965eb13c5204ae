"""Frozen, validated configuration; written into every manifest.

CLI flags override fields with ``dataclasses.replace``; every error names
the bad value and the valid choices.

Notes
-----
A package so that each module stays small and about one concern:

- ``checks``: the valid choices of every field and the ``_choice`` /
  ``_positive`` checks;
- ``model``: the sections of a build (``AutoencoderConfig``,
  ``TrainConfig``, ``NeighbourConfig``, ``NoiseConfig``);
- ``sections``: the top-level configs (``BuildConfig``, ``ImageConfig``,
  their shared ``_Sections``) and ``TfidfConfig``;
- ``serve``: ``ServeConfig``, the HTTP server's address and limits.

Everything is re-exported here, so ``from retrieval.config import X`` works
as it did when this was one module.
"""

from retrieval.config.checks import (
    ACTIVATIONS,
    ANCHOR_KINDS,
    ANCHORS,
    BINARIZERS,
    BINARY_KINDS,
    CODES,
    KINDS,
    LR_SCHEDULES,
    METRICS,
    NOISE_KINDS,
    OPTIMIZERS,
    OUTPUTS,
    SMOOTHED_NEEDS_NEIGHBOURS,
    STOP_WORDS,
)
from retrieval.config.model import AutoencoderConfig, NeighbourConfig, NoiseConfig, TrainConfig
from retrieval.config.sections import (
    TEXT_TRAIN,
    BuildConfig,
    ImageConfig,
    IndexConfig,
    LexicalConfig,
    TfidfConfig,
)
from retrieval.config.serve import ServeConfig
from retrieval.errors import RetrievalError  # noqa: F401  (the single module exposed it; kept importable from here)

__all__ = [
    "ACTIVATIONS",
    "ANCHOR_KINDS",
    "ANCHORS",
    "BINARIZERS",
    "BINARY_KINDS",
    "CODES",
    "KINDS",
    "LR_SCHEDULES",
    "METRICS",
    "NOISE_KINDS",
    "OPTIMIZERS",
    "OUTPUTS",
    "SMOOTHED_NEEDS_NEIGHBOURS",
    "STOP_WORDS",
    "TEXT_TRAIN",
    "AutoencoderConfig",
    "BuildConfig",
    "ImageConfig",
    "IndexConfig",
    "LexicalConfig",
    "NeighbourConfig",
    "NoiseConfig",
    "ServeConfig",
    "TfidfConfig",
    "TrainConfig",
]
