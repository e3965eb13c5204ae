"""Exact FAISS search over float codes, with string document ids attached."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from indexing.ann import IndexPlan, new_index
from indexing.base import Hits, IdIndex, read_raw
from indexing.errors import IndexingError
from indexing.idmap import IdMap

__all__ = ["METRICS", "Hits", "VectorIndex"]

METRICS = ("cosine", "l2")


def _as_matrix(X, dim: int, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != dim:
        raise IndexingError(f"{what} must have shape (n, {dim}); got {X.shape}")
    if not np.isfinite(X).all():
        raise IndexingError(f"{what} contain NaN or infinite values")
    return np.ascontiguousarray(X)


class VectorIndex(IdIndex):
    """Exact nearest-neighbour search (``IndexFlat`` in an ``IndexIDMap2``).

    Parameters
    ----------
    dim : int
        Code size.
    metric : {"cosine", "l2"}
        ``cosine`` normalises codes and searches by inner product.
    plan : indexing.ann.IndexPlan, optional
        Flat (exact, the default), IVF or HNSW (approximate); see ``indexing.ann.plan_index``.
    """

    def __init__(self, dim: int, metric: str = "cosine", plan: IndexPlan | None = None):
        if metric not in METRICS:
            raise IndexingError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if int(dim) <= 0:
            raise IndexingError(f"code size must be positive, got {dim}")
        self.dim = int(dim)
        self.metric = metric
        self._index = new_index(plan or IndexPlan(), self.dim, inner_product=metric == "cosine")
        self.id_map = IdMap()

    def _like(self) -> "VectorIndex":
        return VectorIndex(self.dim, self.metric)

    def _prepare(self, X, what: str) -> np.ndarray:
        X = _as_matrix(X, self.dim, what)
        if self.metric == "cosine":
            X = X.copy()
            faiss.normalize_L2(X)
        return X

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        return -distances if self.metric == "l2" else distances

    def scores(self, queries, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Exact scores of every query against every document, shape (n_queries, n), float32, or against
        the documents at positions ``start`` to ``stop`` (n_queries, stop - start), a block at a time.

        Columns are index positions; values match ``search`` (higher is more
        similar). Evaluation ranks whole databases with it: a FAISS search
        with k = n would spend its time in a heap.
        """
        return self._pair_scores(self._prepare(queries, "query codes"), self.stored(start, stop))

    def _pair_scores(self, queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
        if self.metric == "cosine":
            return queries @ stored.T
        return -faiss.pairwise_distances(queries, stored)

    def write(self, path: Path) -> None:
        """Write the FAISS index (ids are kept by the caller; see ``read``)."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, doc_ids, metric: str, mmap: bool = False) -> "VectorIndex":
        """Read an index written by ``write`` and attach its ``doc_ids``; ``mmap`` maps the codes read-only."""
        raw, doc_ids = read_raw(faiss.read_index, path, doc_ids, "FAISS index", "vectors", mmap)
        return cls(raw.d, metric)._attach(raw, doc_ids, read_only=mmap)
