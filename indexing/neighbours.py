"""Each row's nearest neighbours among the rows themselves (a k-NN graph), by exact cosine search."""

from __future__ import annotations

import faiss
import numpy as np

from indexing.errors import IndexingError
from indexing.vectors import _as_matrix

CHUNK = 4096


def nearest_neighbours(X: np.ndarray, k: int) -> np.ndarray:
    """Positions of each row's ``k`` most cosine-similar other rows, best first.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32
    k : int
        Neighbours per row, 0 < k < n.

    Returns
    -------
    ndarray of shape (n, k), int64
        Row i never lists i itself (an exact duplicate of row i may appear).
    """
    if np.ndim(X) != 2:
        raise IndexingError(f"rows must be a 2-d array (n, d); got shape {np.shape(X)}")
    X = _as_matrix(X, np.shape(X)[1], "rows")
    n = X.shape[0]
    if isinstance(k, bool) or not 0 < int(k) < n:
        raise IndexingError(f"k must be between 1 and {n - 1} (one less than the rows); got {k}")
    X = X.copy()
    faiss.normalize_L2(X)
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    out = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, CHUNK):
        _, found = index.search(X[start : start + CHUNK], k + 1)
        for offset, row in enumerate(found):
            own = start + offset
            others = row[row != own]
            out[own] = others[:k]  # the row itself is dropped; a tie may have pushed it out of the k + 1
    return out
