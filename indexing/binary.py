"""Exact Hamming search over packed binary codes (semantic hashing), with string ids attached."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from indexing.ann import IndexPlan, new_index
from indexing.base import IdIndex, read_raw
from indexing.errors import IndexingError
from indexing.idmap import IdMap
from indexing.vectors import VectorIndex

HAMMING = "hamming"


def pack_bits(bits) -> np.ndarray:
    """Pack 0/1 (or bool) codes of shape (n, n_bits) into bytes, shape (n, n_bits // 8), uint8."""
    bits = np.asarray(bits)
    if bits.ndim == 1:
        bits = bits[None, :]
    if bits.ndim != 2 or bits.shape[1] % 8:
        raise IndexingError(f"bit codes must have shape (n, n_bits) with n_bits a multiple of 8; got {bits.shape}")
    if not np.isin(bits, (0, 1)).all():
        raise IndexingError("bit codes must hold only 0 and 1")
    return np.packbits(bits.astype(np.uint8), axis=1)


def hamming_distances(queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Hamming distances between packed codes, shape (n_queries, n_stored), int32."""
    if queries.shape[1] % 8 == 0:  # eight bytes at a time
        queries, stored = queries.view(np.uint64), stored.view(np.uint64)
    return np.bitwise_count(queries[:, None, :] ^ stored[None, :, :]).sum(axis=2, dtype=np.int32)


class BinaryIndex(IdIndex):
    """Exact Hamming search (``IndexBinaryFlat`` in an ``IndexBinaryIDMap2``).

    Scores are the fraction of matching bits, 1 - hamming / n_bits: higher is
    more similar, as for float indexes. Each document costs n_bits / 8 bytes.

    Parameters
    ----------
    n_bits : int
        Code length; a positive multiple of 8.
    """

    metric = HAMMING

    def __init__(self, n_bits: int, plan: IndexPlan | None = None):
        if isinstance(n_bits, bool) or int(n_bits) <= 0 or int(n_bits) % 8:
            raise IndexingError(f"a binary code length must be a positive multiple of 8 bits; got {n_bits!r}")
        self.dim = int(n_bits)
        self.n_bytes = self.dim // 8
        self._index = new_index(plan or IndexPlan(), self.dim, binary=True)
        self.id_map = IdMap()

    def _like(self) -> "BinaryIndex":
        return BinaryIndex(self.dim)

    def _prepare(self, codes, what: str) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim == 1:
            codes = codes[None, :]
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.n_bytes:
            raise IndexingError(
                f"{what} must be packed bits, uint8 of shape (n, {self.n_bytes}); got {codes.dtype} {codes.shape}"
            )
        return np.ascontiguousarray(codes)

    def _scores(self, distances) -> np.ndarray:
        """Hamming distances -> the fraction of agreeing bits (ties keep position order in search)."""
        return (1.0 - np.asarray(distances, dtype=np.float32) / self.dim).astype(np.float32)

    def scores(self, queries, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Scores of every query against every document, shape (n_queries, n), float32 (as ``search``),
        or against the documents at positions ``start`` to ``stop``, (n_queries, stop - start)."""
        return self._pair_scores(self._prepare(queries, "query codes"), self.stored(start, stop))

    def _pair_scores(self, queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
        return self._scores(hamming_distances(queries, stored))

    def write(self, path: Path) -> None:
        faiss.write_index_binary(self._index, str(path))

    @classmethod
    def read(cls, path: Path, doc_ids, mmap: bool = False) -> "BinaryIndex":
        """Read an index written by ``write`` and attach its ``doc_ids``; ``mmap`` maps the codes read-only."""
        raw, doc_ids = read_raw(faiss.read_index_binary, path, doc_ids, "binary FAISS index", "codes", mmap)
        return cls(raw.d)._attach(raw, doc_ids, read_only=mmap)


def read_index(path: Path, doc_ids, metric: str, mmap: bool = False):
    """Read a float or binary index written by ``write``, by the metric recorded with it."""
    if metric == HAMMING:
        return BinaryIndex.read(path, doc_ids, mmap)
    return VectorIndex.read(path, doc_ids, metric, mmap)
