"""Exact Hamming search over packed binary codes (semantic hashing), with string ids attached."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from indexing.errors import IndexingError
from indexing.idmap import IdMap
from indexing.vectors import Hits, VectorIndex

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


class BinaryIndex:
    """Exact Hamming search (``IndexBinaryFlat`` in an ``IndexBinaryIDMap2``).

    Scores are the fraction of matching bits, 1 - hamming / n_bits: higher is
    more similar, as for float indexes. Each document costs n_bits / 8 bytes.

    Parameters
    ----------
    n_bits : int
        Code length; a positive multiple of 8.
    """

    metric = HAMMING

    def __init__(self, n_bits: int):
        if isinstance(n_bits, bool) or int(n_bits) <= 0 or int(n_bits) % 8:
            raise IndexingError(f"a binary code length must be a positive multiple of 8 bits; got {n_bits!r}")
        self.dim = int(n_bits)
        self.n_bytes = self.dim // 8
        self._index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.dim))
        self.id_map = IdMap()

    def _prepare(self, codes, what: str) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim == 1:
            codes = codes[None, :]
        if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != self.n_bytes:
            raise IndexingError(
                f"{what} must be packed bits, uint8 of shape (n, {self.n_bytes}); got {codes.dtype} {codes.shape}"
            )
        return np.ascontiguousarray(codes)

    def add(self, codes, doc_ids) -> "BinaryIndex":
        """Add packed codes, uint8 of shape (n, n_bits // 8), under the given n unique ids."""
        doc_ids = list(doc_ids)
        codes = self._prepare(codes, "codes")
        if len(doc_ids) != codes.shape[0]:
            raise IndexingError(f"got {codes.shape[0]} codes but {len(doc_ids)} document ids")
        positions = self.id_map.extend(doc_ids)
        self._index.add_with_ids(codes, positions)
        return self

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _similarity(self, distances) -> np.ndarray:
        return (1.0 - np.asarray(distances, dtype=np.float32) / self.dim).astype(np.float32)

    def search(self, queries, k: int) -> Hits:
        """The ``k`` nearest documents by Hamming distance to each packed query code.

        Ties are broken by index position, so results are repeatable.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise IndexingError(f"k must be a positive whole number, got {k!r}")
        if len(self) == 0:
            raise IndexingError("the index is empty")
        queries = self._prepare(queries, "query codes")
        k = min(int(k), len(self))
        distances, positions = self._index.search(queries, k)
        return Hits(scores=self._similarity(distances), positions=positions, doc_ids=self.id_map.ids(positions))

    def stored(self) -> np.ndarray:
        """Every stored code in position order, uint8 of shape (n, n_bits // 8)."""
        return self._index.index.reconstruct_n(0, len(self))

    def scores(self, queries) -> np.ndarray:
        """Scores of every query against every document, shape (n_queries, n), float32 (as ``search``)."""
        queries = self._prepare(queries, "query codes")
        return self._similarity(hamming_distances(queries, self.stored()))

    def reconstruct(self, doc_id: str) -> np.ndarray:
        """The stored packed code of one document, uint8 of shape (n_bits // 8,)."""
        return self._index.reconstruct(self.id_map.position(doc_id))

    def write(self, path: Path) -> None:
        faiss.write_index_binary(self._index, str(path))

    @classmethod
    def read(cls, path: Path, doc_ids) -> "BinaryIndex":
        """Read an index written by ``write`` and attach its ``doc_ids``."""
        try:
            raw = faiss.read_index_binary(str(path))
        except RuntimeError as err:
            raise IndexingError(f"cannot read binary FAISS index {path}: {str(err).splitlines()[0]}") from None
        doc_ids = list(doc_ids)
        if raw.ntotal != len(doc_ids):
            raise IndexingError(f"{path} holds {raw.ntotal} codes but the id list has {len(doc_ids)} ids")
        index = cls(raw.d)
        index._index = raw
        index.id_map.extend(doc_ids)
        return index


def read_index(path: Path, doc_ids, metric: str):
    """Read a float or binary index written by ``write``, by the metric recorded with it."""
    if metric == HAMMING:
        return BinaryIndex.read(path, doc_ids)
    return VectorIndex.read(path, doc_ids, metric)
