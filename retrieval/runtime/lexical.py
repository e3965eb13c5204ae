"""Okapi BM25 over a corpus's stored rows, in numpy: the lexical half of hybrid search.

The index is plain arrays, written as ``.npy`` and mapped read-only on load,
so every server worker shares one copy through the page cache:

- ``terms`` (n_terms,) ``S32``: the vocabulary, UTF-8, sorted (a query term is
  found by binary search, so no dictionary is built at load);
- ``indptr`` (n_terms + 1,) int64 and ``rows`` (n_postings,) int32: postings,
  term-major (CSC of the corpus), each term's stored rows in increasing order;
- ``tf`` (n_postings,) float32: the term's count in that row;
- ``lengths`` (n_stored,) float32: each stored row's count of indexed tokens.

Nothing that depends on which documents are live is stored: document
frequencies, the document count and the mean length are taken over the live
rows when a query is scored (a removal changes only the row map), so IDF and
length normalisation follow ``add`` and ``remove`` exactly.

Scores are ``sum over distinct query terms of idf(t) tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))``
with Lucene's ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``, as the BM25 baseline
in ``retrieval.evaluation.bm25`` computes them.

Word pairs: with ``pair_weight`` > 0 every two adjacent terms of a document
are also a term (``retrieval.runtime.analysis.pair_terms``: hashed into buckets, so that their number
stays bounded however large the corpus; a pair term is a prefix byte and
three bytes, and sorts before every word). A short query's pairs add
``pair_weight`` times their BM25 to its words' (a sequential-dependence model
in its simplest form): "time warner" then ranks the document that says
"Time Warner" above one that says "time" and "Warner" apart. A document's
length counts its words only.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import TERM_DTYPE, Analyzer, pair_terms

FILES = {name: f"lexical_{name}.npy" for name in ("terms", "indptr", "rows", "tf", "lengths")}
# a long query (a whole document) keeps its rarest terms: on 20 Newsgroups' whole test documents, lexical P@100
# 0.365 with 32 terms, 0.423 with 64, 0.438 with 128, 0.433 with all (2.2 ms a query with 128, 3.3 with all)
MAX_QUERY_TERMS = 128
# a query's pairs count up to this many distinct words (a whole document is a topic, not a phrase to find)
PAIR_QUERY_WORDS = 40


class LexicalIndex:
    """BM25 over stored rows (see the module docstring for the arrays).

    Parameters
    ----------
    terms, indptr, rows, tf, lengths : ndarray
        The arrays, as ``LexicalBuilder.finish`` makes them or ``load`` maps them.
    k1, b : float
        Term-frequency saturation and length normalisation.
    analyzer : Analyzer
        What turns a text into terms (as the corpus was analysed when it was indexed).
    pair_weight : float
        What a short query's word pairs weigh beside its words (0: pairs are not looked up). The index
        holds pair terms when it was built with a weight above 0.
    """

    def __init__(self, terms, indptr, rows, tf, lengths, k1: float = 1.2, b: float = 0.75,
                 analyzer: Analyzer | None = None, pair_weight: float = 0.0):
        check_bm25(k1, b)
        check_pair_weight(pair_weight)
        # plain views of mapped arrays: a slice of an np.memmap costs a Python-level __array_finalize__, a query dozens
        self.terms, self.indptr, self.rows, self.tf, self.lengths = (
            np.asarray(array) if isinstance(array, np.memmap) else array for array in (terms, indptr, rows, tf, lengths))
        self.k1, self.b, self.pair_weight = float(k1), float(b), float(pair_weight)
        self.analyzer = analyzer if analyzer is not None else Analyzer(stemmer="none")
        self._check()
        self.n_pairs = int(np.searchsorted(self.terms, b"\x02")) if len(self.terms) else 0  # pair terms sort first
        self.set_live(None)

    def _check(self) -> None:
        n_terms, n_postings = len(self.terms), len(self.rows)
        if (self.terms.dtype != np.dtype(TERM_DTYPE) or self.indptr.dtype != np.int64 or self.rows.dtype != np.int32
                or self.tf.dtype != np.float32 or self.lengths.dtype != np.float32):
            raise RetrievalError("the lexical index's arrays have the wrong types")
        if (self.indptr.shape != (n_terms + 1,) or self.tf.shape != (n_postings,) or self.indptr[0] != 0
                or self.indptr[-1] != n_postings or self.lengths.ndim != 1):
            raise RetrievalError("the lexical index's arrays disagree in length")
        if n_postings and (int(self.rows.max()) >= len(self.lengths) or int(self.rows.min()) < 0):
            raise RetrievalError("the lexical index names a row it does not hold")

    @property
    def n_stored(self) -> int:
        return len(self.lengths)

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    def set_live(self, positions_to_rows: np.ndarray | None) -> "LexicalIndex":
        """Which stored rows are documents, in position order (None: every stored row, position = row).

        Statistics (N, avgdl, df) are taken over these rows from now on.
        """
        if positions_to_rows is None:
            self._live, self._position = None, None
            lengths = self.lengths
        else:
            rows = np.asarray(positions_to_rows, dtype=np.int64)
            self._live = np.zeros(self.n_stored, dtype=bool)
            self._live[rows] = True
            self._position = np.full(self.n_stored, -1, dtype=np.int64)
            self._position[rows] = np.arange(len(rows))
            lengths = self.lengths[rows]
        self.n_documents = len(lengths)
        self.avgdl = float(lengths.mean()) if len(lengths) else 0.0
        self._norm = None  # k1 (1 - b + b |d| / avgdl) per stored row, made on first use
        return self

    def _row_norm(self) -> np.ndarray:
        if self._norm is None:
            self._norm = (self.k1 * (1 - self.b + self.b * self.lengths / max(self.avgdl, 1e-9))).astype(np.float32)
        return self._norm

    # --- queries ---------------------------------------------------------------------------------------
    def term_ids(self, text: str) -> np.ndarray:
        """The distinct vocabulary terms of ``text``, as sorted term numbers (int64): its words, and with a
        ``pair_weight`` its word pairs when it has fewer than ``PAIR_QUERY_WORDS`` distinct words."""
        words = self.analyzer.terms(text)
        tokens = set(words)
        if self.pair_weight > 0 and self.n_pairs and len(tokens) < PAIR_QUERY_WORDS:
            tokens.update(pair_terms(words))
        found = self._numbers(np.array(sorted(tokens), dtype=TERM_DTYPE))
        return found[found >= 0]

    def _numbers(self, wanted: np.ndarray) -> np.ndarray:
        """The term number of each of ``wanted`` (``TERM_DTYPE``), -1 for one the vocabulary lacks, int64."""
        if not len(wanted) or not self.n_terms:
            return np.full(len(wanted), -1, dtype=np.int64)
        found = np.searchsorted(self.terms, wanted)
        found[found == self.n_terms] = 0
        return np.where(self.terms[found] == wanted, found, -1).astype(np.int64)

    def word_count(self, term_ids: np.ndarray) -> int:
        """How many of ``term_ids`` (from ``term_ids``) are words rather than word pairs."""
        return int(np.count_nonzero(np.asarray(term_ids) >= self.n_pairs))

    def _idf(self, term_ids: np.ndarray) -> np.ndarray:
        if self._live is None:
            df = (self.indptr[term_ids + 1] - self.indptr[term_ids]).astype(np.float64)
        else:
            df = np.array([self._live[self.rows[self.indptr[t]:self.indptr[t + 1]]].sum() for t in term_ids],
                          dtype=np.float64)
        n = self.n_documents
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        if self.n_pairs:
            idf = np.where(term_ids < self.n_pairs, idf * self.pair_weight, idf)
        return idf, df

    def term_ids_of(self, words) -> np.ndarray:
        """The term numbers of ``words`` (str, each one token), -1 for one the vocabulary lacks, int64."""
        return self._numbers(np.array([(self.analyzer.terms(word) or [b""])[0] for word in words], dtype=TERM_DTYPE))

    def _postings(self, term_ids: np.ndarray):
        """(stored rows, BM25 contributions) of every posting of the query's terms, dead rows included."""
        if not len(term_ids):
            return np.empty(0, np.int32), np.empty(0, np.float32)
        idf, df = self._idf(term_ids)
        keep = df > 0
        term_ids, idf = term_ids[keep], idf[keep]
        if len(term_ids) > MAX_QUERY_TERMS:  # the rarest terms carry a long query's lexical evidence
            rarest = np.argsort(-idf, kind="stable")[:MAX_QUERY_TERMS]
            term_ids, idf = term_ids[rarest], idf[rarest]
        starts, ends = self.indptr[term_ids], self.indptr[term_ids + 1]
        rows = np.concatenate([self.rows[s:e] for s, e in zip(starts, ends)]) if len(term_ids) else np.empty(0, np.int32)
        tf = np.concatenate([self.tf[s:e] for s, e in zip(starts, ends)]) if len(term_ids) else np.empty(0, np.float32)
        weight = np.repeat(idf.astype(np.float32), (ends - starts))
        return rows, weight * tf * np.float32(self.k1 + 1) / (tf + self._row_norm()[rows])

    def scores_of(self, text: str, term_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The positions of every live document that shares a term with ``text``, and their BM25 scores.

        ``term_ids`` (from ``term_ids``), when given, stand for the text: its distinct terms.

        Returns
        -------
        positions : ndarray of shape (n_matching,), int64, increasing
        scores : ndarray of shape (n_matching,), float32, positive
        """
        rows, contributions = self._postings(self.term_ids(text) if term_ids is None else term_ids)
        if not len(rows):
            return np.empty(0, np.int64), np.empty(0, np.float32)
        if len(rows) * 8 > self.n_stored:  # many postings: one dense pass beats sorting them
            dense = np.bincount(rows, contributions, minlength=self.n_stored)
            matched = np.flatnonzero(dense)
            scores = dense[matched]
        else:
            matched, inverse = np.unique(rows, return_inverse=True)
            scores = np.bincount(inverse, contributions)
        positions = matched.astype(np.int64) if self._position is None else self._position[matched]
        alive = positions >= 0
        return positions[alive], scores[alive].astype(np.float32)

    def top(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best positions for ``text`` and their scores, best first (fewer when fewer match)."""
        return top_of(*self.scores_of(text), k)

    # --- storage -----------------------------------------------------------------------------------------
    def arrays(self) -> dict:
        return {"terms": self.terms, "indptr": self.indptr, "rows": self.rows, "tf": self.tf, "lengths": self.lengths}

    def compacted(self, positions_to_rows: np.ndarray | None) -> "LexicalIndex":
        """The same index over only the live rows, renumbered so that stored row = position."""
        if positions_to_rows is None:
            return self
        new_row = np.full(self.n_stored, -1, dtype=np.int64)
        new_row[np.asarray(positions_to_rows)] = np.arange(len(positions_to_rows))
        mapped = new_row[self.rows]
        keep = mapped >= 0
        counts = np.add.reduceat(keep.astype(np.int64), self.indptr[:-1]) if len(self.rows) else np.zeros(self.n_terms, np.int64)
        counts[np.diff(self.indptr) == 0] = 0  # reduceat gives the next element for an empty range
        indptr = np.zeros(self.n_terms + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return LexicalIndex(self.terms, indptr, mapped[keep].astype(np.int32), np.asarray(self.tf)[keep],
                            np.asarray(self.lengths)[np.asarray(positions_to_rows)], self.k1, self.b, self.analyzer,
                            self.pair_weight)

    def plus(self, other: "LexicalIndex") -> "LexicalIndex":
        """This index's rows, then ``other``'s (a new index; the vocabularies are merged)."""
        terms = np.union1d(self.terms, other.terms).astype(TERM_DTYPE)
        counts = np.zeros(len(terms), dtype=np.int64)
        mine, theirs = np.searchsorted(terms, self.terms), np.searchsorted(terms, other.terms)
        counts[mine] += np.diff(self.indptr)
        counts[theirs] += np.diff(other.indptr)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        rows = np.empty(indptr[-1], dtype=np.int32)
        tf = np.empty(indptr[-1], dtype=np.float32)
        # each term's old postings first (rows below n_stored), then the new ones: rows stay increasing
        own_counts = np.zeros(len(terms), dtype=np.int64)
        own_counts[mine] = np.diff(self.indptr)
        own_dest = _destinations(indptr[mine], self.indptr)
        rows[own_dest], tf[own_dest] = self.rows, self.tf
        their_dest = _destinations(indptr[theirs] + own_counts[theirs], other.indptr)
        rows[their_dest], tf[their_dest] = np.asarray(other.rows) + self.n_stored, other.tf
        return LexicalIndex(terms, indptr, rows, tf, np.concatenate([self.lengths, other.lengths]),
                            self.k1, self.b, self.analyzer, self.pair_weight)


def top_of(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``positions`` by ``scores``, best first; ties go to the earlier position."""
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        positions, scores = positions[part], scores[part]
    order = np.lexsort((positions, -scores))
    return positions[order], scores[order]


def scores_at(matched: np.ndarray, scores: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The scores of ``positions`` among ``matched`` (increasing) and their ``scores``; 0 where absent."""
    out = np.zeros(len(positions), dtype=np.float32)
    if len(matched) and len(positions):
        where = np.searchsorted(matched, positions)
        where[where == len(matched)] = 0
        hit = matched[where] == positions
        out[hit] = scores[where[hit]]
    return out


def _destinations(starts: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Where each posting of a CSC laid out by ``indptr`` goes when its terms start at ``starts``."""
    counts = np.diff(indptr)
    offsets = np.arange(indptr[-1], dtype=np.int64) - np.repeat(indptr[:-1], counts)
    return np.repeat(starts, counts) + offsets


def check_pair_weight(weight) -> None:
    """A pair weight: a number in [0, 1]."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise RetrievalError(f"the word-pair weight must be a number in [0, 1]; got {weight!r}")


def check_bm25(k1, b) -> None:
    """BM25's parameters: k1 >= 0 and 0 <= b <= 1."""
    if not (isinstance(k1, (int, float)) and isinstance(b, (int, float))) or not (k1 >= 0 and 0 <= b <= 1):
        raise RetrievalError(f"BM25 needs k1 >= 0 and 0 <= b <= 1; got k1={k1!r}, b={b!r}")


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

    def finish(self) -> LexicalIndex:
        """The index of every text added, in order: stored row i is the i-th text."""
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
        tf = np.concatenate(counts)[by_term] if counts else np.empty(0, np.float32)
        lengths = np.concatenate(lengths) if lengths else np.empty(0, np.float32)
        return LexicalIndex(vocabulary[order], indptr, rows, tf, lengths, self.k1, self.b, self.analyzer,
                            self.pair_weight)


def build_lexical(texts, stop_words=(), k1: float = 1.2, b: float = 0.75, lowercase: bool = True,
                  stemmer: str = "none", pair_weight: float = 0.0) -> LexicalIndex:
    """A ``LexicalIndex`` of ``texts`` (a sequence of str) in one call."""
    return LexicalBuilder(Analyzer(lowercase, stop_words, stemmer), k1, b, pair_weight).add(texts).finish()
