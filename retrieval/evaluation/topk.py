"""Precision@k over a database of any size, in bounded memory: each query's best k, kept block by block.

The label protocol (``retrieval.evaluation.text``) ranks every document for
each query, which its mean average precision needs; P@k needs only the best
k. Here a method's scores are made for a block of the database at a time
(and within it a chunk of queries), each query's best k so far are merged
with the block's, and no array larger than ``BUDGET`` scores is made, however
many documents there are. Ties are broken as ``rank_by_scores`` breaks them
(in ``tie_order``), so P@k is the same as the full ranking's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

QUERY_CHUNK = 256  # queries scored at once (as ``retrieval.evaluation.text.CHUNK``)
BUDGET = 1 << 24  # scores made at once: 64 MB of float32 (a sparse product's, on its way, up to three times that)

# ``scorer(columns)`` prepares a block of database positions (a slice) and returns ``score(rows)``: the
# (n_rows, n_columns) float scores of those query rows (a slice) against the block, a new array, higher better
BlockScorer = Callable[[slice], Callable[[slice], np.ndarray]]


def block_size(n_database: int, budget: int | None = None) -> int:
    """Database positions scored at once: every one up to ``budget / QUERY_CHUNK`` (by default 65,536),
    else as many (``budget``: by default ``BUDGET``)."""
    return max(1, min(n_database, (BUDGET if budget is None else budget) // QUERY_CHUNK))


def precision_at_k(
    scorer: BlockScorer,
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    k: int,
    order: np.ndarray,
    exclude: np.ndarray | None = None,
    budget: int | None = None,
) -> np.ndarray:
    """P@k of each query: the share of its best ``k`` database positions whose label is its own.

    Parameters
    ----------
    scorer : BlockScorer
        See the module's ``BlockScorer``; it is called once a block.
    query_labels : ndarray of shape (n_queries,), int
    db_labels : ndarray of shape (n_database,), int
        Label codes (``retrieval.evaluation.text._label_codes``): relevant means equal.
    k : int
        At most the database's size.
    order : ndarray of shape (n_database,), int
        ``tie_order``: of two equal scores, the position earlier in it ranks first.
    exclude : ndarray of shape (n_queries,), int, optional
        Per query, a position neither ranked before any other nor relevant (its own document).
    budget : int, optional
        Scores made at once (``block_size``; by default ``BUDGET``); the result does not depend on it.

    Returns
    -------
    ndarray of shape (n_queries,), float64
        As ``ranking_scores``' precision over the full ranking, query for query.

    Notes
    -----
    Cost: every query against every document once, ``n_queries * n_database`` scores, made
    ``QUERY_CHUNK`` x ``block_size`` at a time, then a partial sort of each (linear in its size);
    memory beyond the scorer's own is a few arrays of that size and the (n_queries, k) best so far.
    """
    n_queries, n_database = len(query_labels), len(db_labels)
    tie_rank = np.empty(n_database, dtype=np.int64)
    tie_rank[order] = np.arange(n_database)
    best = np.empty((n_queries, 0), dtype=np.int64)  # each query's best positions so far, best first
    best_scores = np.empty((n_queries, 0), dtype=np.float64)
    size = block_size(n_database, budget)
    for start in range(0, n_database, size):
        columns = slice(start, min(start + size, n_database))
        score = scorer(columns)
        kept = min(k, best.shape[1] + columns.stop - columns.start)
        merged = np.empty((n_queries, kept), dtype=np.int64)
        merged_scores = np.empty((n_queries, kept), dtype=np.float64)
        for first in range(0, n_queries, QUERY_CHUNK):
            rows = slice(first, min(first + QUERY_CHUNK, n_queries))
            scores = score(rows)
            if exclude is not None:  # its own document ranks after every other: its score is -inf
                own = exclude[rows]
                inside = (own >= columns.start) & (own < columns.stop)
                scores[np.flatnonzero(inside), own[inside] - columns.start] = -np.inf
            found, found_scores = _block_best(scores, start, tie_rank, k)
            positions = np.concatenate([best[rows], found], axis=1)
            values = np.concatenate([best_scores[rows], found_scores], axis=1)
            pick = np.lexsort((tie_rank[positions], -values), axis=-1)[:, :kept]
            merged[rows] = np.take_along_axis(positions, pick, axis=1)
            merged_scores[rows] = np.take_along_axis(values, pick, axis=1)
        best, best_scores = merged, merged_scores
    relevant = db_labels[best] == query_labels[:, None]
    if exclude is not None:
        relevant &= best != exclude[:, None]
    return relevant.sum(axis=1) / k


def _block_best(scores: np.ndarray, start: int, tie_rank: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's best ``min(k, n_columns)`` columns of ``scores`` (a block from ``start``), by score and then
    ``tie_rank``: positions (int64) and scores (float64), each (n_rows, min(k, n_columns)), best first."""
    n_rows, width = scores.shape
    kept = min(k, width)
    if kept == width:
        positions = np.broadcast_to(np.arange(start, start + width), (n_rows, width))
        return positions, scores.astype(np.float64)
    kth = np.partition(scores, width - kept, axis=1)[:, width - kept]  # each row's kept-th largest score
    positions = np.empty((n_rows, kept), dtype=np.int64)
    values = np.empty((n_rows, kept), dtype=np.float64)
    for i in range(n_rows):
        # every score above the kept-th, and as many of those equal to it as the ties' order lets in
        candidates = np.flatnonzero(scores[i] >= kth[i])
        mine = scores[i, candidates]
        pick = np.lexsort((tie_rank[start + candidates], -mine))[:kept]
        positions[i], values[i] = start + candidates[pick], mine[pick]
    return positions, values
