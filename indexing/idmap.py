"""Map between the caller's string document ids and FAISS's int64 positions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from indexing.errors import IndexingError


class IdMap:
    """An ordered, duplicate-free list of document ids.

    Position ``i`` (an int64 in FAISS) is document ``doc_ids[i]``.

    Parameters
    ----------
    doc_ids : sequence of str
        Unique ids, in index order.
    """

    def __init__(self, doc_ids: Iterable[str] = ()):
        self._doc_ids: list[str] = []
        self._positions: dict[str, int] = {}
        self.extend(doc_ids)

    def extend(self, doc_ids: Iterable[str]) -> np.ndarray:
        """Append ids; return their positions as int64 of shape (n,)."""
        new_ids = [str(doc_id) for doc_id in doc_ids]
        start = len(self._doc_ids)
        staged = dict(zip(new_ids, range(start, start + len(new_ids))))  # in C: a million ids in 0.1 s, not 0.6
        if len(staged) < len(new_ids) or not staged.keys().isdisjoint(self._positions.keys()):
            seen = set(self._positions)
            for doc_id in new_ids:  # name the first duplicate, in order
                if doc_id in seen:
                    raise IndexingError(f"duplicate document id {doc_id!r}: ids must be unique")
                seen.add(doc_id)
        self._positions.update(staged)
        self._doc_ids.extend(new_ids)
        return np.arange(start, start + len(new_ids), dtype=np.int64)

    def position(self, doc_id: str) -> int:
        """The position of ``doc_id``; an IndexingError names a few known ids if absent."""
        try:
            return self._positions[doc_id]
        except KeyError:
            examples = ", ".join(repr(d) for d in self._doc_ids[:3])
            raise IndexingError(
                f"unknown document id {doc_id!r}; the index holds {len(self)} documents (for example {examples})"
            ) from None

    def ids(self, positions: np.ndarray) -> list:
        """Translate an int array of any shape to nested lists of ids (-1 gives None)."""
        positions = np.asarray(positions)
        doc_ids = self._doc_ids
        if positions.ndim == 0:
            pos = int(positions)
            return doc_ids[pos] if pos >= 0 else None
        if positions.ndim == 1:
            return [doc_ids[p] if p >= 0 else None for p in positions.tolist()]
        if positions.ndim == 2:  # the shape of search results: one flat pass instead of a recursion per element
            return [[doc_ids[p] if p >= 0 else None for p in row] for row in positions.tolist()]
        return [self.ids(row) for row in positions]

    def __len__(self) -> int:
        return len(self._doc_ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._positions

    @property
    def doc_ids(self) -> Sequence[str]:
        return tuple(self._doc_ids)
