"""The text index's query modes as evaluation measures them: through the real query path, and over every document.

``searched`` runs ``TextIndex.search(texts, k, mode=...)``, so top-k figures
are what users get. Measures over the full ranking (MAP) need every
document's score in a mode, which search does not give; ``lexical_scorer``
and ``hybrid_scorer`` compute them:

- lexical: the index's own BM25 (``retrieval.runtime.lexical``, with its cap on
  a long query's terms) of every live document, 0 where no term is shared;
- hybrid: ``retrieval.text.fusion``'s convex combination applied to every
  document rather than to the candidates. The codes' scores are normalised by
  theoretical min-max from the metric's lowest possible score (for l2, which
  has none, the lowest over all documents) to the query's best over all
  documents, BM25 from 0 to the query's best, and ``alpha`` is
  ``index.fusion_.alpha(n_terms)``, n_terms the query's distinct lexical terms.
  Each side's best document is among search's candidates (exact search), so for
  cosine and Hamming codes a candidate's fused score here is the one search
  gives it; documents outside the candidates are ranked too.
"""

from __future__ import annotations

import time

import numpy as np

from retrieval.evaluation.text import MethodScore, measure, rank_by_scores
from retrieval.text.fusion import lowest_score

SEARCH_CHUNK = 1024  # texts per call to search: its TF-IDF rows and codes stay small


def searched(index, texts: list, k: int, mode: str, exclude: np.ndarray | None = None) -> np.ndarray:
    """The positions ``index.search(texts, k, mode=mode)`` returns, best first.

    Parameters
    ----------
    texts : list of str
    exclude : ndarray of shape (n_texts,), int, optional
        A position per text to leave out (its own document): search asks for one more, and drops it.

    Returns
    -------
    ndarray of shape (n_texts, k), int64
        -1 pads a list shorter than ``k`` (a text with no known term gets none).
    """
    id_map = index.index_.id_map
    extra = 0 if exclude is None else 1
    out = np.full((len(texts), k), -1, dtype=np.int64)
    for start in range(0, len(texts), SEARCH_CHUNK):
        for i, hits in enumerate(index.search(texts[start : start + SEARCH_CHUNK], k + extra, mode=mode), start=start):
            positions = [id_map.position(hit.doc_id) for hit in hits]
            if exclude is not None:
                positions = [p for p in positions if p != exclude[i]]
            positions = positions[:k]
            out[i, : len(positions)] = positions
    return out


def _term_ids(index, texts: list) -> list:
    lexical = index.live_lexical()
    return [lexical.term_ids(text) for text in texts]


def lexical_scorer(index, texts: list, term_ids: list | None = None):
    """``scores(rows)``: the index's BM25 of every document for those texts, (n_rows, n_database) float32."""
    lexical, n = index.live_lexical(), len(index.index_)
    term_ids = _term_ids(index, texts) if term_ids is None else term_ids

    def scores(rows: slice) -> np.ndarray:
        picked = range(len(texts))[rows]
        out = np.zeros((len(picked), n), dtype=np.float32)
        for row, i in enumerate(picked):
            positions, values = lexical.scores_of(texts[i], term_ids[i])
            out[row, positions] = values
        return out

    return scores


def hybrid_scorer(index, texts: list, codes: np.ndarray, known: np.ndarray):
    """``scores(rows)``: the fused score of every document for those texts, (n_rows, n_database) float32.

    ``codes`` (n_texts, code width) are the texts' searchable codes; ``known`` (n_texts,) their counts of
    known TF-IDF terms: a text with none has no semantic side, as in search, and BM25 alone ranks for it.
    """
    term_ids = _term_ids(index, texts)
    bm25 = lexical_scorer(index, texts, term_ids)
    lexical = index.live_lexical()
    alphas = np.array([index.fusion_.alpha(lexical.word_count(ids)) for ids in term_ids], dtype=np.float32)
    lowest = lowest_score(index.index_.metric)

    def scores(rows: slice) -> np.ndarray:
        semantic = index.index_.scores(codes[rows]).astype(np.float32)
        low = semantic.min(axis=1, keepdims=True) if lowest is None else np.float32(lowest)
        span = semantic.max(axis=1, keepdims=True) - low
        # as fusion.normalised: a query whose scores are all equal gets 1 everywhere
        semantic = np.where(span > 0, (semantic - low) / np.where(span > 0, span, 1), np.float32(1))
        semantic[known[rows] == 0] = 0
        lexical = bm25(rows)
        best = lexical.max(axis=1, keepdims=True)
        lexical /= np.where(best > 0, best, 1)
        alpha = alphas[rows, None]
        return (alpha * semantic + (1 - alpha) * lexical).astype(np.float32)

    return scores


def mode_rows(
    index,
    texts: list,
    Xq,
    codes: np.ndarray,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    k: int,
    order: np.ndarray,
    exclude: np.ndarray | None = None,
) -> list[MethodScore]:
    """The hybrid and lexical modes on the label protocol: P@k from ``index.search``, MAP over every document.

    Parameters
    ----------
    texts : list of str
        The labelled queries' texts; ``Xq`` (CSR, n x n_features) their TF-IDF rows and ``codes``
        (n, code width) their searchable codes.
    query_labels, db_labels : ndarray of int
        Label codes (``retrieval.evaluation.text._label_codes``).
    order : ndarray of shape (n_database,), int
        The tie order every method's full ranking breaks ties in.
    exclude : ndarray of shape (n_queries,), int, optional
        Each query's own position, left out (leave-one-out queries).
    """
    known = index.transform_.known_terms(Xq)
    rows = []
    for mode in ("hybrid", "lexical"):
        started = time.perf_counter()
        top = searched(index, texts, k, mode, exclude)
        scorer = hybrid_scorer(index, texts, codes, known) if mode == "hybrid" else lexical_scorer(index, texts)
        dims = index.index_.dim if mode == "hybrid" else index.lexical_.n_terms
        score = measure(
            mode,
            dims,
            lambda rows, scorer=scorer: rank_by_scores(scorer(rows), order),
            query_labels,
            db_labels,
            k,
            exclude,
            top,
        )
        rows.append(
            MethodScore(
                mode, dims, score.precision_at_k, score.mean_average_precision, round(time.perf_counter() - started, 2)
            )
        )
    return rows


__all__ = ["hybrid_scorer", "lexical_scorer", "mode_rows", "searched"]
