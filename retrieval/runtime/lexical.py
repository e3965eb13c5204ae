"""Okapi BM25 over a corpus's stored rows, in numpy: the lexical half of hybrid search.

The index is plain arrays, written as ``.npy`` and mapped read-only on load,
so every server worker shares one copy through the page cache:

- ``terms`` (n_terms,) ``S32``: the vocabulary, UTF-8, sorted (a query term is
  found by binary search, so no dictionary is built at load);
- ``indptr`` (n_terms + 1,) int64 and ``rows`` (n_postings,) int32: postings,
  term-major (CSC of the corpus), each term's stored rows in increasing order;
- ``impact`` (n_postings,) float32: BM25's term-frequency part of each posting,
  ``tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))``;
- ``lengths`` (n_stored,) float32: each stored row's count of indexed tokens.

A query's score of a row is ``sum over its distinct terms of idf(t) impact(t, row)``
with Lucene's ``idf = log(1 + (N - df + 0.5) / (df + 0.5))``: one multiply and
one scatter-add a posting. Document frequencies and the document count are taken
over the live rows when a query is scored (a removal changes only the row map),
so IDF follows ``add`` and ``remove`` exactly. ``avgdl`` is the mean length when
the index was built, kept by ``add`` and ``remove`` (a rebuild takes the new mean):
storing the term-frequency part is what makes a query cheap (computing it per
query gathers each posting's row length, three times the work at a million
documents), and a mean that follows every update would mean rewriting every
posting. Lucene's statistics likewise count deleted documents until a merge.

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

import threading

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import TERM_DTYPE, Analyzer, pair_terms

FILES = {name: f"lexical_{name}.npy" for name in ("terms", "indptr", "rows", "impact", "lengths")}
TF_FILE = "lexical_tf.npy"  # what a bundle written before impacts were stored holds instead of them
# a long query (a whole document) keeps its rarest terms: on 20 Newsgroups' whole test documents, lexical P@100
# 0.365 with 32 terms, 0.423 with 64, 0.438 with 128, 0.433 with all (2.2 ms a query with 128, 3.3 with all)
MAX_QUERY_TERMS = 128
# a query's pairs count up to this many distinct words (a whole document is a topic, not a phrase to find)
PAIR_QUERY_WORDS = 40
# scores sampled to find a query's leading rows (``LexicalIndex._leading``)
SAMPLE_SCORES = 16384
# a query with fewer postings than this gathers them in one pass (a term at a time costs a dozen numpy calls)
GATHER_POSTINGS = 65536
# up to this many candidates are ranked by one sort (partitioning first costs more calls than it saves)
SMALL_RANK = 256


class LexicalIndex:
    """BM25 over stored rows (see the module docstring for the arrays).

    Parameters
    ----------
    terms, indptr, rows, impact, lengths : ndarray
        The arrays, as ``LexicalBuilder.finish`` makes them or a bundle maps them.
    avgdl : float
        The mean length that ``impact`` was computed with (the built corpus's).
    k1, b : float
        Term-frequency saturation and length normalisation.
    analyzer : Analyzer
        What turns a text into terms (as the corpus was analysed when it was indexed).
    pair_weight : float
        What a short query's word pairs weigh beside its words (0: pairs are not looked up). The index
        holds pair terms when it was built with a weight above 0.
    """

    def __init__(
        self,
        terms,
        indptr,
        rows,
        impact,
        lengths,
        avgdl: float,
        k1: float = 1.2,
        b: float = 0.75,
        analyzer: Analyzer | None = None,
        pair_weight: float = 0.0,
    ):
        check_bm25(k1, b)
        check_pair_weight(pair_weight)
        if isinstance(avgdl, bool) or not isinstance(avgdl, (int, float)) or not avgdl >= 0 or avgdl == float("inf"):
            raise RetrievalError(f"the lexical index's mean length must be a finite number >= 0; got {avgdl!r}")
        # plain views of mapped arrays: a slice of an np.memmap costs a Python-level __array_finalize__, a query dozens
        self.terms, self.indptr, self.rows, self.impact, self.lengths = (
            np.asarray(array) if isinstance(array, np.memmap) else array
            for array in (terms, indptr, rows, impact, lengths)
        )
        self.avgdl, self.k1, self.b, self.pair_weight = float(avgdl), float(k1), float(b), float(pair_weight)
        self.analyzer = analyzer if analyzer is not None else Analyzer(stemmer="none")
        self._check()
        self.n_pairs = int(np.searchsorted(self.terms, b"\x02")) if len(self.terms) else 0  # pair terms sort first
        self._scratch = threading.local()  # each thread's score accumulator (a server answers in threads)
        self.converted = False  # impacts computed at load from an older bundle's term counts (not its files)
        self.set_live(None)

    def _check(self) -> None:
        n_terms, n_postings = len(self.terms), len(self.rows)
        if (
            self.terms.dtype != np.dtype(TERM_DTYPE)
            or self.indptr.dtype != np.int64
            or self.rows.dtype != np.int32
            or self.impact.dtype != np.float32
            or self.lengths.dtype != np.float32
        ):
            raise RetrievalError("the lexical index's arrays have the wrong types")
        if (
            self.indptr.shape != (n_terms + 1,)
            or self.impact.shape != (n_postings,)
            or self.indptr[0] != 0
            or self.indptr[-1] != n_postings
            or self.lengths.ndim != 1
        ):
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

        Statistics (N, df) are taken over these rows from now on.
        """
        if positions_to_rows is None:
            self._live, self._position, self._rows_of = None, None, None
            self.n_documents = self.n_stored
        else:
            rows = self._rows_of = np.asarray(positions_to_rows, dtype=np.int64)
            self._live = np.zeros(self.n_stored, dtype=bool)
            self._live[rows] = True
            self._position = np.full(self.n_stored, -1, dtype=np.int64)
            self._position[rows] = np.arange(len(rows))
            self.n_documents = len(rows)
        return self

    # --- queries ---------------------------------------------------------------------------------------
    def term_ids(self, text: str) -> np.ndarray:
        """The distinct vocabulary terms of ``text``, as sorted term numbers (int64): its words, and with a
        ``pair_weight`` its word pairs when it has fewer than ``PAIR_QUERY_WORDS`` distinct words."""
        words = self.analyzer.terms(text)
        tokens = set(words)
        if self.pair_weight > 0 and self.n_pairs and len(tokens) < PAIR_QUERY_WORDS:
            tokens.update(pair_terms(words))
        found, known = self._lookup(np.array(sorted(tokens), dtype=TERM_DTYPE))
        return found[known]

    def _numbers(self, wanted: np.ndarray) -> np.ndarray:
        """The term number of each of ``wanted`` (``TERM_DTYPE``), -1 for one the vocabulary lacks, int64."""
        found, known = self._lookup(wanted)
        return np.where(known, found, -1)

    def _lookup(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``wanted`` (``TERM_DTYPE``) is or would go in the vocabulary (int64, clipped to it), and
        whether it is there (bool): a query's few numpy calls."""
        if not len(wanted) or not self.n_terms:
            return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), bool)
        found = np.minimum(np.searchsorted(self.terms, wanted), self.n_terms - 1).astype(np.int64, copy=False)
        return found, self.terms[found] == wanted

    def word_count(self, term_ids: np.ndarray) -> int:
        """How many of ``term_ids`` (from ``term_ids``) are words rather than word pairs."""
        return int(np.count_nonzero(np.asarray(term_ids) >= self.n_pairs))

    def _idf(self, term_ids: np.ndarray) -> np.ndarray:
        if self._live is None:
            df = (self.indptr[term_ids + 1] - self.indptr[term_ids]).astype(np.float64)
        else:
            df = np.array(
                [self._live[self.rows[self.indptr[t] : self.indptr[t + 1]]].sum() for t in term_ids], dtype=np.float64
            )
        n = self.n_documents
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        if self.n_pairs:
            idf = np.where(term_ids < self.n_pairs, idf * self.pair_weight, idf)
        return idf, df

    def term_ids_of(self, words) -> np.ndarray:
        """The term numbers of ``words`` (str, each one token), -1 for one the vocabulary lacks, int64."""
        return self._numbers(np.array([(self.analyzer.terms(word) or [b""])[0] for word in words], dtype=TERM_DTYPE))

    def _weighted(self, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The query's terms that some live row holds and their idf (float32; a pair's weighted); a long
        query keeps its ``MAX_QUERY_TERMS`` rarest."""
        if not len(term_ids):
            return term_ids, np.empty(0, np.float32)
        idf, df = self._idf(term_ids)
        keep = df > 0
        term_ids, idf = term_ids[keep], idf[keep]
        if len(term_ids) > MAX_QUERY_TERMS:  # the rarest terms carry a long query's lexical evidence
            rarest = np.argsort(-idf, kind="stable")[:MAX_QUERY_TERMS]
            term_ids, idf = term_ids[rarest], idf[rarest]
        return term_ids, idf.astype(np.float32)

    def _accumulated(self, term_ids: np.ndarray):
        """Every stored row's BM25 for the query's terms (dead rows included) in this thread's scratch array:
        ``(scores, touched, n_terms)`` with ``scores`` (n_stored,) float32, ``touched`` the rows of the gathered
        postings (int32, a row once per term that holds it; None when the postings were read a term at a time)
        and ``n_terms`` the terms scored; None when no term matches. The caller clears ``scores`` with
        ``_clear`` when done.

        A scatter-add into a kept array: at a million documents an 8-word query touches about 400,000
        postings, and a fresh accumulator (``np.bincount``'s float64, or sorting the postings) cost more than
        the arithmetic.
        """
        term_ids, weights = self._weighted(term_ids)
        if not len(term_ids):
            return None
        local = self._scratch
        if getattr(local, "scores", None) is None or len(local.scores) != self.n_stored:
            local.scores = np.zeros(self.n_stored, dtype=np.float32)
        scratch = local.scores
        starts, ends = self.indptr[term_ids], self.indptr[term_ids + 1]
        counts = ends - starts
        total = int(counts.sum())
        if total < GATHER_POSTINGS:  # many short lists (a few words and their pairs): one gather for them all
            bounds = list(zip(starts.tolist(), ends.tolist()))  # slices copy faster than an index array gathers
            touched = np.concatenate([self.rows[start:end] for start, end in bounds])
            impacts = np.concatenate([self.impact[start:end] for start, end in bounds])
            impacts *= np.repeat(weights, counts)
            np.add.at(scratch, touched, impacts)
            return scratch, touched, len(term_ids)
        if getattr(local, "work", None) is None or len(local.work) < counts.max():
            local.work = np.empty(int(counts.max()), dtype=np.float32)
        for start, end, weight in zip(starts.tolist(), ends.tolist(), weights):
            contributions = local.work[: end - start]
            np.multiply(self.impact[start:end], weight, out=contributions)
            np.add.at(scratch, self.rows[start:end], contributions)
        return scratch, None, len(term_ids)

    @staticmethod
    def _clear(scratch: np.ndarray, touched: np.ndarray | None) -> None:
        if touched is not None and len(touched) < len(scratch) // 16:  # a few postings: cheaper than every row
            scratch[touched] = 0
        else:
            scratch.fill(0)

    def _live_positions(self, rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._position is None:
            return rows.astype(np.int64), scores
        positions = self._position[rows]
        alive = positions >= 0
        return positions[alive], scores[alive]

    def scores_of(self, text: str, term_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The positions of every live document that shares a term with ``text``, and their BM25 scores.

        ``term_ids`` (from ``term_ids``), when given, stand for the text: its distinct terms.

        Returns
        -------
        positions : ndarray of shape (n_matching,), int64, increasing
        scores : ndarray of shape (n_matching,), float32, positive
        """
        found = self._accumulated(self.term_ids(text) if term_ids is None else term_ids)
        if found is None:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scratch, touched, _ = found
        try:
            rows = np.flatnonzero(scratch)
            return self._live_positions(rows, scratch[rows])
        finally:
            self._clear(scratch, touched)

    def ranked(self, term_ids: np.ndarray, k: int, at=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``k`` best live positions for a query's ``term_ids`` (from ``term_ids``), best first, ties to the
        earlier position, and their BM25 scores; with ``at`` (positions, int), also those positions' scores.

        Exactly ``top_of(*scores_of(...), k)``, without gathering every matching document: only rows at or
        above a threshold read off a sample of the scores are ranked (all matching rows when fewer than ``k``
        live ones reach it, so the answer never depends on the sample).

        Returns
        -------
        positions : ndarray of shape (<= k,), int64
        scores : ndarray of shape (<= k,), float32
        at_scores : ndarray of shape (len(at),), float32, 0 where a position shares no term (empty without ``at``)
        """
        at = np.empty(0, np.int64) if at is None else np.asarray(at, dtype=np.int64)
        found = self._accumulated(term_ids)
        if found is None:
            return np.empty(0, np.int64), np.empty(0, np.float32), np.zeros(len(at), np.float32)
        scratch, touched, n_terms = found
        try:
            if touched is not None and len(touched) <= SAMPLE_SCORES:
                leading = self._leading_touched(scratch, touched, n_terms, k)
            else:
                leading = self._leading(scratch, k)
            top = top_of(*self._live_positions(*leading), k)
            at_rows = at if self._rows_of is None else self._rows_of[at]
            return (*top, scratch[at_rows].copy())
        finally:
            self._clear(scratch, touched)

    def _leading(self, scratch: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (and scores) among which the ``k`` best live rows are: those at or above a threshold that
        about ``4 k`` rows pass, estimated from ``SAMPLE_SCORES`` scores (runs of 256 spread over the rows:
        whole cache lines, where every n-th score would read a line for each), if ``k`` live rows pass it."""
        blocks = SAMPLE_SCORES // 256
        if len(scratch) >= 4 * SAMPLE_SCORES:
            sample = scratch[: len(scratch) // blocks * blocks].reshape(blocks, -1)[:, :256].ravel()
            sample = sample[sample > 0]
            passing = max(4, 4 * k * SAMPLE_SCORES // len(scratch) + 1)
            if len(sample) > passing:
                threshold = np.partition(sample, len(sample) - passing)[len(sample) - passing]
                rows = np.flatnonzero(scratch >= threshold)
                if self._live_count(rows) >= k:
                    return rows, scratch[rows]
        rows = np.flatnonzero(scratch)
        return rows, scratch[rows]

    def _leading_touched(self, scratch, touched, n_terms: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``_leading`` from the rows of a query's gathered postings, without a pass over every row.

        A row appears once per term it holds, so at least ``k`` distinct rows reach the ``k n_terms``-th best
        of the postings' scores; the best rows hold several terms, and fewer postings than that often do.
        Thresholds aiming at ``4 k`` postings, then ``k n_terms``, are read off every ``step``-th score (a
        partition of them all costs more than the rest of the query); the first that ``k`` live rows reach
        is taken, and every touched row is ranked should neither be.
        """
        scores = scratch[touched]
        step = max(1, len(scores) // 512)
        sample = scores[::step]
        for wanted in sorted({4 * k, k * n_terms}):
            if len(scores) <= 2 * wanted:
                break
            passing = wanted // step + 1  # in sampled postings
            threshold = np.partition(sample, len(sample) - passing)[len(sample) - passing]
            rows = np.sort(touched[scores >= threshold])
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]  # distinct: np.unique costs more here
            if self._live_count(rows) >= k:
                return rows, scratch[rows]
        rows = np.unique(touched)
        return rows, scratch[rows]

    def _live_count(self, rows: np.ndarray) -> int:
        """How many of the stored ``rows`` (distinct) are live documents."""
        return len(rows) if self._live is None else int(np.count_nonzero(self._live[rows]))

    def top(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best positions for ``text`` and their scores, best first (fewer when fewer match)."""
        return self.ranked(self.term_ids(text), k)[:2]

    # --- storage -----------------------------------------------------------------------------------------
    def arrays(self) -> dict:
        return {
            "terms": self.terms,
            "indptr": self.indptr,
            "rows": self.rows,
            "impact": self.impact,
            "lengths": self.lengths,
        }


def top_of(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``positions`` by ``scores``, best first; ties go to the earlier position."""
    if len(scores) > max(k, SMALL_RANK):
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        better, tied = np.flatnonzero(scores > kth), np.flatnonzero(scores == kth)
        tied = tied[np.argsort(positions[tied], kind="stable")[: k - len(better)]]  # not argpartition's pick
        part = np.concatenate([better, tied])
        positions, scores = positions[part], scores[part]
    order = np.lexsort((positions, -scores))[:k]
    return positions[order], scores[order]


def check_pair_weight(weight) -> None:
    """A pair weight: a number in [0, 1]."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise RetrievalError(f"the word-pair weight must be a number in [0, 1]; got {weight!r}")


def check_bm25(k1, b) -> None:
    """BM25's parameters: k1 >= 0 and 0 <= b <= 1."""
    if not (isinstance(k1, (int, float)) and isinstance(b, (int, float))) or not (k1 >= 0 and 0 <= b <= 1):
        raise RetrievalError(f"BM25 needs k1 >= 0 and 0 <= b <= 1; got k1={k1!r}, b={b!r}")
