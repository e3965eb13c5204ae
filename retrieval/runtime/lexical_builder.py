"""Texts -> a ``LexicalIndex``: postings collected a chunk at a time, then laid out term-major and weighed."""

from __future__ import annotations

from collections import Counter

import numpy as np

from retrieval.runtime.analysis import TERM_DTYPE, Analyzer, pair_terms
from retrieval.runtime.lexical import LexicalIndex, check_bm25, check_pair_weight, impacts

_CHUNK = 1 << 22  # postings weighed at a time


class LexicalBuilder:
    """Collects the postings of texts added a chunk at a time; ``finish`` makes the ``LexicalIndex``.

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
        self._chunks.append((np.asarray(indptr, np.int64), np.asarray(columns, np.int64),
                             np.asarray(counts, np.float32), np.asarray(lengths, np.float32)))
        return self

    def finish(self, avgdl: float | None = None) -> LexicalIndex:
        """The index of every text added, in order: stored row i is the i-th text.

        ``avgdl``: the mean length to weigh the postings with; by default these texts' own. Rows to be appended
        to an index (``LexicalIndex.plus``) take that index's.
        """
        vocabulary = np.array(list(self._ids), dtype=TERM_DTYPE)
        order = np.argsort(vocabulary, kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        # each chunk to 12 bytes a posting as soon as it is read: at a million documents, postings run to hundreds
        # of millions, and a sparse matrix's conversions would hold three copies at once
        columns, rows, counts, lengths, offset = [], [], [], [], 0
        while self._chunks:
            indptr, chunk_columns, chunk_counts, chunk_lengths = self._chunks.pop(0)
            columns.append(rank[chunk_columns])
            rows.append(np.repeat(np.arange(offset, offset + len(chunk_lengths), dtype=np.int32), np.diff(indptr)))
            counts.append(chunk_counts)
            lengths.append(chunk_lengths)
            offset += len(chunk_lengths)
        columns = np.concatenate(columns) if columns else np.empty(0, np.int32)
        by_term = np.argsort(columns, kind="stable")  # stable: each term's rows stay increasing
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=len(vocabulary)), out=indptr[1:])
        del columns
        rows = np.concatenate(rows)[by_term] if rows else np.empty(0, np.int32)
        lengths = np.concatenate(lengths) if lengths else np.empty(0, np.float32)
        if avgdl is None:
            avgdl = float(lengths.mean()) if len(lengths) else 0.0
        weights = np.concatenate(counts)[by_term] if counts else np.empty(0, np.float32)
        for start in range(0, len(rows), _CHUNK):  # in place, a chunk at a time: no second posting-sized array
            part = weights[start:start + _CHUNK]
            part[:] = impacts(part, lengths[rows[start:start + _CHUNK]], self.k1, self.b, avgdl)
        return LexicalIndex(vocabulary[order], indptr, rows, weights, lengths, avgdl, self.k1, self.b,
                            self.analyzer, self.pair_weight)


def build_lexical(texts, stop_words=(), k1: float = 1.2, b: float = 0.75, lowercase: bool = True,
                  stemmer: str = "none", pair_weight: float = 0.0, avgdl: float | None = None) -> LexicalIndex:
    """A ``LexicalIndex`` of ``texts`` (a sequence of str) in one call (``avgdl``: as ``LexicalBuilder.finish``)."""
    return LexicalBuilder(Analyzer(lowercase, stop_words, stemmer), k1, b, pair_weight).add(texts).finish(avgdl)
