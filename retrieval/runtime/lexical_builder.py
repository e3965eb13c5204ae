"""Making ``LexicalIndex`` arrays: from texts (postings collected a chunk at a time, laid out term-major and
weighed), from an older bundle's term counts, and anew after removals (``compacted``) and additions (``appended``)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import TERM_DTYPE, Analyzer, pair_terms
from retrieval.runtime.lexical import LexicalIndex, check_bm25, check_pair_weight

_TEXTS = 10_000  # texts whose postings are packed into arrays at once (a stream hands over as many)
_SMALL_COUNT = np.iinfo(np.uint16).max  # a chunk whose counts all fit keeps them in 2 bytes, not 4


class LexicalBuilder:
    """Collects the postings of texts added a chunk at a time; ``finish`` makes the ``LexicalIndex``.

    Memory: a posting is held in 6 bytes until ``finish`` (its term number, int32, and its count,
    uint16 where a chunk's counts fit), and ``finish`` writes each chunk's postings straight into
    the index's two arrays (8 bytes a posting), freeing the chunk: at most 14 bytes a posting at once,
    3.2 GB for the 225 million postings of a million documents of 124 words and their word pairs.
    Gathering every posting and sorting them by term at the end held up to 24 (an int64 sort order
    beside two copies of the rows), and while texts were added, 12.

    Parameters
    ----------
    analyzer : Analyzer
    k1, b, pair_weight : as ``LexicalIndex`` (pair terms are indexed when ``pair_weight`` > 0)
    """

    def __init__(self, analyzer: Analyzer, k1: float = 1.2, b: float = 0.75, pair_weight: float = 0.0):
        check_bm25(k1, b)
        check_pair_weight(pair_weight)
        self.k1, self.b, self.analyzer, self.pair_weight = k1, b, analyzer, pair_weight
        self._ids: dict[bytes, int] = {}
        self._chunks: list = []

    def add(self, texts) -> "LexicalBuilder":
        texts = list(texts)
        for start in range(0, len(texts), _TEXTS):  # Python lists hold a posting in ~80 bytes: pack them soon
            self._add_chunk(texts[start : start + _TEXTS])
        return self

    def _add_chunk(self, texts) -> None:
        ids, terms, pairs = self._ids, self.analyzer.terms, self.pair_weight > 0
        indptr, columns, counts, lengths = [0], [], [], []
        for text in texts:
            words = terms(text)
            bag = Counter(words)
            if pairs:
                bag.update(pair_terms(words))
            columns.extend(ids.setdefault(token, len(ids)) for token in bag)
            counts.extend(bag.values())
            indptr.append(len(columns))
            lengths.append(len(words))
        if len(ids) > np.iinfo(np.int32).max:
            raise RetrievalError("the lexical index would hold more than 2**31 - 1 terms")
        small = not counts or max(counts) <= _SMALL_COUNT
        self._chunks.append(
            (
                np.asarray(indptr, np.int64),
                np.asarray(columns, np.int32),
                np.asarray(counts, np.uint16 if small else np.float32),
                np.asarray(lengths, np.float32),
            )
        )

    def finish(self, avgdl: float | None = None) -> LexicalIndex:
        """The index of every text added, in order: stored row i is the i-th text.

        ``avgdl``: the mean length to weigh the postings with; by default these texts' own. Rows to be appended
        to an index (``appended``) take that index's.
        """
        vocabulary = np.array(list(self._ids), dtype=TERM_DTYPE)
        self._ids = {}  # millions of Python objects at a million documents, freed before the index's arrays are made
        order = np.argsort(vocabulary, kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        n_terms = len(vocabulary)
        lengths = np.concatenate([chunk[3] for chunk in self._chunks]) if self._chunks else np.empty(0, np.float32)
        if avgdl is None:
            avgdl = float(lengths.mean()) if len(lengths) else 0.0
        per_term = np.zeros(n_terms, dtype=np.int64)
        for chunk in self._chunks:
            per_term += np.bincount(rank[chunk[1]], minlength=n_terms)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(per_term, out=indptr[1:])
        rows = np.empty(indptr[-1], dtype=np.int32)
        weights = np.empty(indptr[-1], dtype=np.float32)
        # a counting sort by term, a chunk at a time: each chunk's postings go straight to their places, after
        # those of the chunks before (each term's rows stay increasing), and the chunk is freed
        free, offset = indptr[:-1].copy(), 0  # each term's next free place
        while self._chunks:
            chunk_indptr, columns, counts, chunk_lengths = self._chunks.pop(0)
            columns = rank[columns]
            chunk_rows = np.repeat(
                np.arange(offset, offset + len(chunk_lengths), dtype=np.int32), np.diff(chunk_indptr)
            )
            offset += len(chunk_lengths)
            by_term = np.argsort(columns, kind="stable")
            in_chunk = np.bincount(columns, minlength=n_terms)
            # a posting's place: its term's next free place, plus how many of the chunk's postings of that term
            # come before it
            places = (free - (np.cumsum(in_chunk) - in_chunk))[columns[by_term]] + np.arange(len(by_term))
            rows[places] = chunk_rows[by_term]
            weights[places] = impacts(
                counts[by_term].astype(np.float32), lengths[chunk_rows[by_term]], self.k1, self.b, avgdl
            )
            free += in_chunk
        return LexicalIndex(
            vocabulary[order], indptr, rows, weights, lengths, avgdl, self.k1, self.b, self.analyzer, self.pair_weight
        )


def build_lexical(
    texts,
    stop_words=(),
    k1: float = 1.2,
    b: float = 0.75,
    lowercase: bool = True,
    stemmer: str = "none",
    pair_weight: float = 0.0,
    avgdl: float | None = None,
) -> LexicalIndex:
    """A ``LexicalIndex`` of ``texts`` (a sequence of str) in one call (``avgdl``: as ``LexicalBuilder.finish``)."""
    return LexicalBuilder(Analyzer(lowercase, stop_words, stemmer), k1, b, pair_weight).add(texts).finish(avgdl)


def impacts(tf: np.ndarray, row_lengths: np.ndarray, k1: float, b: float, avgdl: float) -> np.ndarray:
    """BM25's term-frequency part of postings: ``tf`` (their counts) and ``row_lengths`` (their rows' lengths),
    both (n,) float32, give ``tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))``, (n,) float32."""
    norm = np.float32(k1) * (np.float32(1 - b) + np.float32(b / max(avgdl, 1e-9)) * row_lengths)
    out = tf * np.float32(k1 + 1)
    out /= tf + norm
    return out


def from_tf(terms, indptr, rows, tf, lengths, **settings) -> LexicalIndex:
    """A ``LexicalIndex`` from the term counts that a bundle written before impacts were stored holds (its mean
    length is that of its rows: such a bundle stores only live rows), marked ``converted``."""
    lengths = np.asarray(lengths)
    avgdl = float(lengths.mean()) if len(lengths) else 0.0
    if (
        np.asarray(rows).dtype != np.int32
        or np.asarray(tf).shape != np.asarray(rows).shape
        or (len(rows) and int(np.max(rows)) >= len(lengths))
    ):
        raise RetrievalError("the lexical index's arrays disagree in length")
    weights = impacts(
        np.asarray(tf, dtype=np.float32),
        lengths[np.asarray(rows)],
        settings.get("k1", 1.2),
        settings.get("b", 0.75),
        avgdl,
    )
    index = LexicalIndex(terms, indptr, rows, weights, lengths, avgdl, **settings)
    index.converted = True
    return index


def compacted(index: LexicalIndex, positions_to_rows: np.ndarray | None) -> LexicalIndex:
    """``index`` over only the live rows, renumbered so that stored row = position."""
    if positions_to_rows is None:
        return index
    new_row = np.full(index.n_stored, -1, dtype=np.int64)
    new_row[np.asarray(positions_to_rows)] = np.arange(len(positions_to_rows))
    mapped = new_row[index.rows]
    keep = mapped >= 0
    counts = (
        np.add.reduceat(keep.astype(np.int64), index.indptr[:-1])
        if len(index.rows)
        else np.zeros(index.n_terms, np.int64)
    )
    counts[np.diff(index.indptr) == 0] = 0  # reduceat gives the next element for an empty range
    indptr = np.zeros(index.n_terms + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return LexicalIndex(
        index.terms,
        indptr,
        mapped[keep].astype(np.int32),
        np.asarray(index.impact)[keep],
        np.asarray(index.lengths)[np.asarray(positions_to_rows)],
        index.avgdl,
        index.k1,
        index.b,
        index.analyzer,
        index.pair_weight,
    )


def appended(index: LexicalIndex, other: LexicalIndex) -> LexicalIndex:
    """``index``'s rows, then ``other``'s (a new index; the vocabularies are merged). ``other``'s impacts
    must have been computed with ``index``'s mean length (``LexicalBuilder.finish(avgdl=...)``)."""
    if other.avgdl != index.avgdl or (other.k1, other.b) != (index.k1, index.b):
        raise RetrievalError("the lexical rows to append were weighed with another mean length or BM25 setting")
    terms = np.union1d(index.terms, other.terms).astype(TERM_DTYPE)
    counts = np.zeros(len(terms), dtype=np.int64)
    mine, theirs = np.searchsorted(terms, index.terms), np.searchsorted(terms, other.terms)
    counts[mine] += np.diff(index.indptr)
    counts[theirs] += np.diff(other.indptr)
    indptr = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows = np.empty(indptr[-1], dtype=np.int32)
    impact = np.empty(indptr[-1], dtype=np.float32)
    # each term's old postings first (rows below n_stored), then the new ones: rows stay increasing
    own_counts = np.zeros(len(terms), dtype=np.int64)
    own_counts[mine] = np.diff(index.indptr)
    own_dest = spans(indptr[mine], np.diff(index.indptr))
    rows[own_dest], impact[own_dest] = index.rows, index.impact
    their_dest = spans(indptr[theirs] + own_counts[theirs], np.diff(other.indptr))
    rows[their_dest], impact[their_dest] = np.asarray(other.rows) + index.n_stored, other.impact
    return LexicalIndex(
        terms,
        indptr,
        rows,
        impact,
        np.concatenate([index.lengths, other.lengths]),
        index.avgdl,
        index.k1,
        index.b,
        index.analyzer,
        index.pair_weight,
    )


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices ``start, start + 1, ..., start + count - 1`` of each span, one span after another (int64)."""
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
