"""ITQ of LSA: the linear semantic-hashing baseline that binary autoencoder codes are measured against."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD

from indexing import pack_bits
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.model.itq import itq_rotation


class ITQ:
    """LSA followed by an ITQ rotation, giving ``n_bits``-bit codes.

    Parameters
    ----------
    n_bits : int
        Positive multiple of 8.
    iterations : int
        Alternations between the codes and the rotation (50 in the paper).
    seed : int
        Seeds the SVD and the initial random rotation.

    Attributes
    ----------
    svd_ : TruncatedSVD
    mean_ : ndarray of shape (n_bits,), float64
        Mean projection of the training rows, removed before rotating.
    rotation_ : ndarray of shape (n_bits, n_bits), float64
    """

    def __init__(self, n_bits: int, iterations: int = 50, seed: int = 0):
        if isinstance(n_bits, bool) or int(n_bits) <= 0 or int(n_bits) % 8:
            raise RetrievalError(f"n_bits must be a positive multiple of 8; got {n_bits!r}")
        self.n_bits, self.iterations, self.seed = int(n_bits), int(iterations), seed

    def fit(self, X) -> "ITQ":
        """Learn the projection and rotation from rows ``X`` (n, d), sparse or dense."""
        if X.shape[1] <= self.n_bits:
            raise RetrievalError(
                f"ITQ with {self.n_bits} bits needs more than {self.n_bits} features; got {X.shape[1]}"
            )
        self.svd_ = TruncatedSVD(n_components=self.n_bits, random_state=self.seed).fit(X)
        V = self.svd_.transform(X)
        self.mean_ = V.mean(axis=0)
        self.rotation_ = itq_rotation(V - self.mean_, self.iterations, self.seed)
        return self

    def transform(self, X) -> np.ndarray:
        """Packed codes (n, n_bits // 8), uint8."""
        if not hasattr(self, "rotation_"):
            raise NotFittedError("this ITQ is not fitted; call fit(X) first")
        return pack_bits((self.svd_.transform(X) - self.mean_) @ self.rotation_ >= 0)
