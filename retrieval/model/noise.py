"""Seeded image corruptions for denoising autoencoders; all outputs stay in [0, 1]."""

from __future__ import annotations

import math

import numpy as np

from retrieval.config import NOISE_KINDS
from retrieval.errors import RetrievalError

KINDS = tuple(kind for kind in NOISE_KINDS if kind not in ("none", "mixed"))


def _square(d: int) -> tuple[int, int]:
    side = math.isqrt(d)
    if side * side != d:
        raise RetrievalError(f"periodic noise needs square images; rows of {d} values are not")
    return side, side


def gaussian(X: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """X + amount * N(0, 1), clipped (the lecture's ``noise_factor``)."""
    return X + amount * rng.standard_normal(X.shape, dtype=np.float32)


def salt_and_pepper(X: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """A fraction ``amount`` of pixels set to 0 or 1, half each."""
    noisy = X.copy()
    hit = rng.random(X.shape) < amount
    noisy[hit] = (rng.random(int(hit.sum())) < 0.5).astype(X.dtype)
    return noisy


def speckle(X: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative noise: X + X * amount * N(0, 1)."""
    return X + X * amount * rng.standard_normal(X.shape, dtype=np.float32)


def periodic(
    X: np.ndarray, amount: float, rng: np.random.Generator, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Sinusoidal stripes of amplitude ``amount``, with a random angle, period (3-8 px) and phase per image."""
    height, width = shape or _square(X.shape[1])
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    n = X.shape[0]
    angle = rng.uniform(0, np.pi, size=(n, 1, 1)).astype(np.float32)
    period = rng.uniform(3, 8, size=(n, 1, 1)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1)).astype(np.float32)
    stripes = np.sin(2 * np.pi * (cols * np.cos(angle) + rows * np.sin(angle)) / period + phase)
    return X + amount * stripes.reshape(n, height * width)


_FUNCTIONS = {"gaussian": gaussian, "salt_and_pepper": salt_and_pepper, "speckle": speckle, "periodic": periodic}


def corrupt(X, kind: str, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Corrupt rows of pixels in [0, 1].

    Parameters
    ----------
    X : ndarray of shape (n, d), float32
        Images as flat rows (square images for ``periodic``).
    kind : {"none", "gaussian", "salt_and_pepper", "speckle", "periodic", "mixed"}
        ``mixed`` draws one of the four kinds for the whole call.
    amount : float
        Noise factor, fraction of pixels, or stripe amplitude, in [0, 1].
    rng : numpy Generator
        The source of randomness; the same seed gives the same noise.

    Returns
    -------
    ndarray of shape (n, d), float32, clipped to [0, 1]
    """
    X = np.asarray(X, dtype=np.float32)
    if kind == "none" or amount == 0:
        return X.copy()
    if kind == "mixed":
        kind = KINDS[rng.integers(len(KINDS))]
    if kind not in _FUNCTIONS:
        raise RetrievalError(f"noise kind must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
    return np.clip(_FUNCTIONS[kind](X, amount, rng), 0.0, 1.0).astype(np.float32)


def psnr(clean: np.ndarray, other: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1], from the mean squared error over all pixels."""
    mse = float(np.mean((np.asarray(clean, dtype=np.float64) - np.asarray(other, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)
