"""Compare autoencoder kinds with the same budget on the same documents and features."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from retrieval.config import KINDS
from retrieval.errors import RetrievalError
from retrieval.model._tf import keras
from retrieval.model.training import LOSSES, _dense, encode, reconstruction_target

ACTIVE = 0.1  # a code unit counts as active for an input when |activation| > 0.1


def parse_kinds(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if not kinds or unknown:
        raise RetrievalError(f"--kinds takes a comma-separated list of {', '.join(KINDS)}; got {text!r}")
    return kinds


def reconstruction_loss(index, X, batch_size: int = 1024) -> float:
    """The training loss (without penalties) of the index's autoencoder on rows ``X``."""
    config = index.config.autoencoder
    loss = keras.losses.get(LOSSES[config.loss])
    total = 0.0
    for start in range(0, X.shape[0], batch_size):
        rows = _dense(X[start : start + batch_size])
        predicted = encode(index.decoder_, index.encoder_.encode(rows))
        total += float(np.sum(loss(reconstruction_target(rows, config.output), predicted)))
    return total / X.shape[0]


def code_activity(codes: np.ndarray) -> dict:
    """Mean absolute activation and mean fraction of active units (|h| > 0.1) of codes (n, code_size)."""
    return {"mean_activation": float(np.abs(codes).mean()), "active_fraction": float((np.abs(codes) > ACTIVE).mean())}


def compare_kinds(index, kinds: list[str], measure: Callable, X=None, on_kind: Callable | None = None) -> list[dict]:
    """Retrain ``index`` once per kind (same config, data and epochs) and ``measure`` each.

    ``measure(other)`` returns a dict of figures for one retrained index; each
    row adds ``kind`` and ``train_seconds``.
    """
    rows = []
    for kind in kinds:
        if on_kind:
            on_kind(kind)
        options = {"kind": kind}
        if kind == "contractive" and index.config.autoencoder.code_activation not in (
            "sigmoid",
            "tanh",
            "relu",
            "linear",
        ):
            options["code_activation"] = "sigmoid"
        config = index.config.override(autoencoder=options)
        started = time.perf_counter()
        other = index.retrain(config, X)
        rows.append({"kind": kind, "train_seconds": round(time.perf_counter() - started, 1), **measure(other)})
    return rows
