"""What the float and binary indexes share: a FAISS index over positions, with string ids attached."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexing.ann import IndexPlan, describe, empty_copy, ivf_without, prepare_for_reconstruction, set_search
from indexing.errors import IndexingError
from indexing.idmap import IdMap


@dataclass(frozen=True)
class Hits:
    """The answer to a batch of queries.

    Attributes
    ----------
    scores : ndarray of shape (n_queries, k), float32
        Higher is more similar: cosine similarity for the ``cosine`` metric,
        the negated squared distance for ``l2``, the fraction of agreeing
        bits for ``hamming``.
    positions : ndarray of shape (n_queries, k), int64
        Row positions of the hits in the index.
    doc_ids : list of list of str
        The document ids of the hits.
    """

    scores: np.ndarray
    positions: np.ndarray
    doc_ids: list


SINGLE_THREAD_QUERIES = 8  # up to this many queries, starting FAISS's thread team costs more than it saves


@contextmanager
def _threads_for(n_queries: int):
    """Run a small batch of queries on one thread (a warm single query: 0.09 ms instead of 0.13 on 2 cores)."""
    if n_queries > SINGLE_THREAD_QUERIES:
        yield
        return
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def set_search_threads(threads: int) -> None:
    """Let every FAISS search in this process use at most ``threads`` threads.

    A server answering many requests at once wants 1: its parallelism comes
    from the requests, and a thread team per search would fight the others
    (and numpy's BLAS threads) for the same cores.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise IndexingError(f"threads must be a positive whole number, got {threads!r}")
    faiss.omp_set_num_threads(threads)


def check_k(k) -> None:
    """``k`` must be a positive whole number."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise IndexingError(f"k must be a positive whole number, got {k!r}")


class IdIndex:
    """Exact search in a FAISS index whose ids are positions (an ``IndexIDMap2`` or its binary twin).

    Subclasses set ``dim``, ``_index`` and ``id_map`` and implement
    ``_prepare(codes, what)`` (check and convert codes) and
    ``_scores(distances)`` (FAISS distances -> scores, higher is more similar).
    """

    dim: int
    id_map: IdMap
    read_only: bool = False  # loaded memory-mapped: FAISS cannot grow or clear its codes

    def _prepare(self, codes, what: str) -> np.ndarray:
        raise NotImplementedError

    def _scores(self, distances: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add(self, codes, doc_ids):
        """Add n codes under the given n unique ids; returns the index."""
        if self.read_only:
            raise IndexingError("this index was loaded memory-mapped, read-only; plus() makes a writable copy")
        doc_ids = list(doc_ids)
        codes = self._prepare(codes, "codes")
        if len(doc_ids) != codes.shape[0]:
            raise IndexingError(f"got {codes.shape[0]} codes but {len(doc_ids)} document ids")
        if not self._index.is_trained:  # an IVF index learns its lists from the first codes it gets
            plan = self.plan
            if codes.shape[0] < plan.nlist:
                raise IndexingError(
                    f"an IVF index of {plan.nlist} lists needs at least as many documents to "
                    f"train on; got {codes.shape[0]}"
                )
            self._index.train(codes)
            prepare_for_reconstruction(self._index)
        positions = self.id_map.extend(doc_ids)
        self._index.add_with_ids(codes, positions)
        return self

    @property
    def plan(self) -> IndexPlan:
        """Which FAISS index this is (flat, ivf, hnsw) and its parameters."""
        return describe(self._index)

    @property
    def exact(self) -> bool:
        return self.plan.exact

    def set_search(self, nprobe: int | None = None, ef_search: int | None = None) -> "IdIndex":
        """Query-time effort of an approximate index (IVF lists scanned, HNSW candidates); None keeps it."""
        set_search(self._index, nprobe, ef_search)
        return self

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries, k: int) -> Hits:
        """The ``k`` nearest documents to each query code.

        Parameters
        ----------
        queries : array-like of shape (n_queries, code width) or (code width,)
        k : int
            Positive; a ``k`` larger than the index returns every document.
        """
        check_k(k)
        if len(self) == 0:
            raise IndexingError("the index is empty")
        queries = self._prepare(queries, "query codes")
        with _threads_for(queries.shape[0]):
            distances, positions = self._index.search(queries, min(int(k), len(self)))
        return Hits(scores=self._scores(distances), positions=positions, doc_ids=self.id_map.ids(positions))

    def _empty(self) -> "IdIndex":
        """An empty, writable index of the same kind, size and (trained) lists."""
        other = self._like()
        other._index = empty_copy(self._index, self.dim, self.metric == "cosine")
        return other

    def _like(self) -> "IdIndex":
        raise NotImplementedError

    def _rebuilt(self, stored: np.ndarray, doc_ids) -> "IdIndex":
        """A new index of ``stored`` codes (already prepared: added as they are, bit for bit)."""
        other = self._empty()
        if len(doc_ids):
            other._index.add_with_ids(np.ascontiguousarray(stored), other.id_map.extend(doc_ids))
        return other

    def plus(self, codes, doc_ids) -> "IdIndex":
        """A new, writable index: every stored code in its place, then ``codes`` under the new ``doc_ids``.

        The stored codes are copied, so this works on a read-only (memory-mapped) index too.
        """
        if self.plan.kind in ("ivf", "ivfpq"):  # the lists copied as they are: no stored code is assigned again
            return self._copied(np.ones(len(self), dtype=bool)).add(codes, doc_ids)
        return self._rebuilt(self.stored(), list(self.id_map.doc_ids)).add(codes, doc_ids)

    def without(self, doc_ids) -> tuple["IdIndex", np.ndarray]:
        """A new index without ``doc_ids`` (each must be present), the others in their order.

        Returns the index and the kept positions of this one, int64 of shape (n_kept,), so that the
        caller can keep its per-document rows in step.
        """
        keep = np.ones(len(self), dtype=bool)
        keep[[self.id_map.position(doc_id) for doc_id in doc_ids]] = False
        kept = np.flatnonzero(keep)
        if self.plan.kind in ("ivf", "ivfpq"):  # the lists copied without the removed entries: none assigned again
            return self._copied(keep), kept
        ids = self.id_map.doc_ids
        return self._rebuilt(self.stored()[kept], [ids[i] for i in kept]), kept  # flat: cheap; HNSW cannot remove

    def _copied(self, keep: np.ndarray) -> "IdIndex":
        """A new, writable IVF index of the entries ``keep`` marks, in their lists, renumbered (see
        ``indexing.ann.ivf_without``): what ``_rebuilt`` gives from those codes, without assigning them."""
        other = self._like()
        other._index = ivf_without(self._index, keep, self.dim, self.metric == "cosine")
        ids = self.id_map.doc_ids
        other.id_map.extend(ids if keep.all() else [ids[i] for i in np.flatnonzero(keep)])
        return other

    def stored(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The stored codes at positions ``start`` to ``stop`` (by default every one) in position order
        (as ``_prepare`` made them), shape (stop - start, code width)."""
        start, stop = _span(start, stop, len(self))
        return self._index.index.reconstruct_n(start, stop - start)

    def stored_at(self, positions) -> np.ndarray:
        """The stored codes at ``positions`` (as ``_prepare`` made them), shape (len(positions), code width)."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):  # a binary index's width is its packed bytes
            width = getattr(self, "n_bytes", self.dim)
            return np.empty((0, width), dtype=np.uint8 if self.metric == "hamming" else np.float32)
        flat = self._flat_codes()
        if flat is not None:
            return flat[positions]
        if hasattr(self._index, "reconstruct_batch"):  # one call, not one a position (a hybrid query asks ~200)
            return self._index.reconstruct_batch(positions)
        return np.stack([self._index.reconstruct(int(position)) for position in positions])

    def _flat_codes(self) -> np.ndarray | None:
        """A flat index's stored codes as a numpy view (row = position: codes are added in position order),
        made anew on each call because an addition may move them; None for IVF and HNSW."""
        inner = (
            faiss.downcast_IndexBinary(self._index.index)
            if self.metric == "hamming"
            else faiss.downcast_index(self._index.index)
        )
        n = int(self._index.ntotal)
        if isinstance(inner, faiss.IndexFlat):
            return faiss.rev_swig_ptr(inner.get_xb(), n * self.dim).reshape(n, self.dim)
        if isinstance(inner, faiss.IndexBinaryFlat):
            width = self.dim // 8
            return faiss.rev_swig_ptr(inner.xb.data(), n * width).reshape(n, width)
        return None

    def scores_at(self, query, positions) -> np.ndarray:
        """Exact scores of one query code against the documents at ``positions``, shape (len(positions),)
        float32, in ``search``'s units (higher is more similar)."""
        return self._pair_scores(self._prepare(query, "query codes"), self.stored_at(positions))[0]

    def _pair_scores(self, queries: np.ndarray, stored: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reconstruct(self, doc_id: str) -> np.ndarray:
        """The stored code of one document, shape (code width,)."""
        return self._index.reconstruct(self.id_map.position(doc_id))

    def _attach(self, raw, doc_ids, read_only: bool = False) -> IdIndex:
        self._index, self.read_only = raw, read_only
        prepare_for_reconstruction(raw)
        self.id_map.extend(doc_ids)
        return self


def _span(start: int, stop: int | None, n: int) -> tuple[int, int]:
    """``start`` and ``stop`` (None: ``n``) as positions, checked to be a range within 0..n."""
    stop = n if stop is None else int(stop)
    if not 0 <= int(start) <= stop <= n:
        raise IndexingError(f"positions {start} to {stop} are not a range of the index's {n}")
    return int(start), stop


def read_raw(reader: Callable, path: Path, doc_ids, what: str, unit: str, mmap: bool = False):
    """``reader(path, flags)``, with errors that name the file, checked to hold as many entries as ``doc_ids``.

    With ``mmap`` the stored codes are mapped read-only rather than copied.

    Returns
    -------
    raw : the FAISS index
    doc_ids : list of str
    """
    try:
        raw = reader(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0)
    except RuntimeError as err:
        raise IndexingError(f"cannot read {what} {path}: {str(err).splitlines()[0]}") from None
    doc_ids = list(doc_ids)
    if raw.ntotal != len(doc_ids):
        raise IndexingError(f"{path} holds {raw.ntotal} {unit} but the id list has {len(doc_ids)} ids")
    if hasattr(raw, "id_map"):  # every index this library writes: the i-th stored code has id (position) i
        ids = faiss.vector_to_array(raw.id_map)
        if len(ids) != raw.ntotal or not np.array_equal(ids, np.arange(raw.ntotal, dtype=ids.dtype)):
            raise IndexingError(
                f"{path} is damaged: its {what}'s ids are not the positions 0 to {raw.ntotal - 1} in "
                "order (out of range, repeated or permuted ids would give wrong answers); rebuild "
                "the index"
            )
    return raw, doc_ids
