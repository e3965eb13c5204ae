"""Exact FAISS search over float codes, with string document ids attached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexing.errors import IndexingError
from indexing.idmap import IdMap

METRICS = ("cosine", "l2")


@dataclass(frozen=True)
class Hits:
    """The answer to a batch of queries.

    Attributes
    ----------
    scores : ndarray of shape (n_queries, k), float32
        Higher is more similar: cosine similarity for the ``cosine`` metric,
        the negated squared distance for ``l2``.
    positions : ndarray of shape (n_queries, k), int64
        Row positions of the hits in the index.
    doc_ids : list of list of str
        The document ids of the hits.
    """

    scores: np.ndarray
    positions: np.ndarray
    doc_ids: list


def _as_matrix(X, dim: int, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != dim:
        raise IndexingError(f"{what} must have shape (n, {dim}); got {X.shape}")
    if not np.isfinite(X).all():
        raise IndexingError(f"{what} contain NaN or infinite values")
    return np.ascontiguousarray(X)


class VectorIndex:
    """Exact nearest-neighbour search (``IndexFlat`` in an ``IndexIDMap2``).

    Parameters
    ----------
    dim : int
        Code size.
    metric : {"cosine", "l2"}
        ``cosine`` normalises codes and searches by inner product.
    """

    def __init__(self, dim: int, metric: str = "cosine"):
        if metric not in METRICS:
            raise IndexingError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        if int(dim) <= 0:
            raise IndexingError(f"code size must be positive, got {dim}")
        self.dim = int(dim)
        self.metric = metric
        flat = faiss.IndexFlatIP(self.dim) if metric == "cosine" else faiss.IndexFlatL2(self.dim)
        self._index = faiss.IndexIDMap2(flat)
        self.id_map = IdMap()

    def _prepare(self, X, what: str) -> np.ndarray:
        X = _as_matrix(X, self.dim, what)
        if self.metric == "cosine":
            X = X.copy()
            faiss.normalize_L2(X)
        return X

    def add(self, codes, doc_ids) -> "VectorIndex":
        """Add codes of shape (n, dim) under the given n unique ids."""
        doc_ids = list(doc_ids)
        codes = self._prepare(codes, "codes")
        if len(doc_ids) != codes.shape[0]:
            raise IndexingError(f"got {codes.shape[0]} codes but {len(doc_ids)} document ids")
        positions = self.id_map.extend(doc_ids)
        self._index.add_with_ids(codes, positions)
        return self

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries, k: int) -> Hits:
        """The ``k`` nearest documents to each query code.

        Parameters
        ----------
        queries : array-like of shape (n_queries, dim) or (dim,)
        k : int
            Positive; a ``k`` larger than the index returns every document.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise IndexingError(f"k must be a positive whole number, got {k!r}")
        if len(self) == 0:
            raise IndexingError("the index is empty")
        queries = self._prepare(queries, "query codes")
        k = min(int(k), len(self))
        scores, positions = self._index.search(queries, k)
        if self.metric == "l2":
            scores = -scores
        return Hits(scores=scores, positions=positions, doc_ids=self.id_map.ids(positions))

    def scores(self, queries) -> np.ndarray:
        """Exact scores of every query against every document, shape (n_queries, n), float32.

        Columns are index positions; values match ``search`` (higher is more
        similar). Evaluation ranks whole databases with it: a FAISS search
        with k = n would spend its time in a heap.
        """
        queries = self._prepare(queries, "query codes")
        stored = self.stored()
        if self.metric == "cosine":
            return queries @ stored.T
        return -faiss.pairwise_distances(queries, stored)

    def stored(self) -> np.ndarray:
        """Every stored code in position order (normalised, for cosine), shape (n, dim), float32."""
        return self._index.index.reconstruct_n(0, len(self))

    def reconstruct(self, doc_id: str) -> np.ndarray:
        """The stored (normalised, for cosine) code of one document, shape (dim,)."""
        return self._index.reconstruct(self.id_map.position(doc_id))

    def write(self, path: Path) -> None:
        """Write the FAISS index (ids are kept by the caller; see ``read``)."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, doc_ids, metric: str) -> "VectorIndex":
        """Read an index written by ``write`` and attach its ``doc_ids``."""
        try:
            raw = faiss.read_index(str(path))
        except RuntimeError as err:
            raise IndexingError(f"cannot read FAISS index {path}: {str(err).splitlines()[0]}") from None
        doc_ids = list(doc_ids)
        if raw.ntotal != len(doc_ids):
            raise IndexingError(
                f"{path} holds {raw.ntotal} vectors but the id list has {len(doc_ids)} ids"
            )
        index = cls(raw.d, metric)
        index._index = raw
        index.id_map.extend(doc_ids)
        return index
