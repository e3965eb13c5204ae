"""The ITQ rotation (iterative quantisation, Gong & Lazebnik 2011), in numpy alone.

It rotates centred projections to minimise the quantisation error of their
signs: of autoencoder codes after training (``retrieval.model.codes``), and of
LSA as the linear semantic-hashing baseline (``retrieval.evaluation.itq``).
"""

from __future__ import annotations

import numpy as np


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
