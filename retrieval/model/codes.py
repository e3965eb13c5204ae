"""Binary codes: thresholding, the ITQ rotation (of autoencoder codes, and of LSA as a baseline), centring.

ITQ (iterative quantisation, Gong & Lazebnik 2011) rotates centred PCA
projections to minimise the quantisation error of their signs; applied to
the LSA projection of TF-IDF it is the linear semantic hashing baseline that
binary autoencoder codes are measured against.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD

from indexing import pack_bits
from retrieval.model.builder import with_code_transform
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.model.training import encode

THRESHOLD = 0.5


def binarize(codes: np.ndarray) -> np.ndarray:
    """Sigmoid codes (n, n_bits) float32 -> packed bits (n, n_bits // 8) uint8, set where > 0.5."""
    return pack_bits(np.asarray(codes) > THRESHOLD)


def itq_rotation(V: np.ndarray, iterations: int = 50, seed: int = 0) -> np.ndarray:
    """The rotation R that makes sign(V R) lose least of centred rows ``V`` (n, c): shape (c, c), float64.

    Alternates B = sign(V R) and R = argmin ||B - V R||_F over rotations (the
    orthogonal Procrustes solution), from a seeded random rotation.
    """
    V = np.asarray(V, dtype=np.float64)
    R = np.linalg.qr(np.random.default_rng(seed).standard_normal((V.shape[1], V.shape[1])))[0]
    for _ in range(iterations):
        B = np.where(V @ R >= 0, 1.0, -1.0)
        U, _, Wt = np.linalg.svd(V.T @ B)
        R = U @ Wt
    return R


def finish_codes(models, X, config, seed: int = 0):
    """Fit the fixed map that follows training, if the config asks for one; return (models, codes of X).

    Float codes with ``center_codes`` are centred on the training mean. Binary
    codes with the ``itq`` binarizer are centred and ITQ-rotated, then squashed
    by a sigmoid so that the index's 0.5 threshold takes their signs. The map
    becomes part of the encoder (and its inverse part of the decoder).
    """
    codes = encode(models.encoder, X)
    if config.codes == "binary" and config.binarizer == "itq":
        mean = codes.mean(axis=0)
        rotation, squash = itq_rotation(codes - mean, seed=seed), True
    elif config.codes == "float" and config.center_codes:
        mean, rotation, squash = codes.mean(axis=0), np.eye(codes.shape[1]), False
    else:
        return models, codes
    models = with_code_transform(models, mean, rotation, squash)
    # encoded again, not transformed in numpy: the indexed codes are then exactly what a query's encoder gives
    return models, encode(models.encoder, X)


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
            raise RetrievalError(f"ITQ with {self.n_bits} bits needs more than {self.n_bits} features; got {X.shape[1]}")
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
