"""Known-item metrics: each query has exactly one right document (its target), and only its rank counts.

Pure functions over ranks, apart from any index or estimator. A rank is
0-based (0 = first); -1 means the target is not among the results a method
returned (a search returns only its top k). ``ranks_by_scores`` gives the rank
a target has in a full ranking by score, ties broken as
``retrieval.evaluation.text.rank_by_scores`` breaks them, without sorting.
"""

from __future__ import annotations

import numpy as np

from retrieval.errors import RetrievalError

CUTOFF = 10  # MRR and success are measured in the first ten results, what a user reads


def target_ranks(ranked: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Where each query's target is in its ranked results.

    Parameters
    ----------
    ranked : ndarray of shape (n_queries, n_ranked), int
        Database positions, best first; -1 pads a list shorter than ``n_ranked``.
    targets : ndarray of shape (n_queries,), int
        Each query's target position (never -1).

    Returns
    -------
    ndarray of shape (n_queries,), int64
        The target's 0-based rank, or -1 where it is not in the list.
    """
    ranked, targets = np.asarray(ranked), np.asarray(targets)
    if ranked.ndim != 2 or targets.shape != (ranked.shape[0],):
        raise RetrievalError(
            f"target_ranks needs ranked (n, m) and targets (n,); got {ranked.shape} and {targets.shape}"
        )
    hit = ranked == targets[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), -1).astype(np.int64)


def ranks_by_scores(scores: np.ndarray, targets: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The rank each target gets when the whole database is ranked by score.

    Parameters
    ----------
    scores : ndarray of shape (n_queries, n_database), float or signed int
        Higher is more similar.
    targets : ndarray of shape (n_queries,), int
    order : ndarray of shape (n_database,), int
        A permutation of database positions (``tie_order``): of two equal
        scores, the position earlier in ``order`` ranks first.

    Returns
    -------
    ndarray of shape (n_queries,), int64
        0-based: the documents scoring higher than the target, plus those
        scoring the same that come before it in ``order`` (the rank it has in
        ``rank_by_scores(scores, order)``, found in one pass rather than a sort).
    """
    scores, targets, order = np.asarray(scores), np.asarray(targets, dtype=np.int64), np.asarray(order)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],) or order.shape != (scores.shape[1],):
        raise RetrievalError(
            f"ranks_by_scores needs scores (n, m), targets (n,) and order (m,); "
            f"got {scores.shape}, {targets.shape} and {order.shape}"
        )
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))  # where each position comes in the tie order
    own = scores[np.arange(len(targets)), targets][:, None]
    above = (scores > own).sum(axis=1)
    tied_before = ((scores == own) & (place[None, :] < place[targets][:, None])).sum(axis=1)
    return (above + tied_before).astype(np.int64)


def reciprocal_ranks(ranks: np.ndarray, cutoff: int = CUTOFF) -> np.ndarray:
    """1 / (rank + 1) where the target is in the first ``cutoff``, else 0: (n_queries,) float64."""
    ranks = np.asarray(ranks)
    found = (ranks >= 0) & (ranks < cutoff)
    return np.where(found, 1.0 / (np.maximum(ranks, 0) + 1.0), 0.0)


def successes(ranks: np.ndarray, k: int) -> np.ndarray:
    """Whether the target is in the first ``k``: (n_queries,) bool."""
    ranks = np.asarray(ranks)
    return (ranks >= 0) & (ranks < k)


def summary(ranks: np.ndarray, cutoff: int = CUTOFF) -> dict:
    """MRR@cutoff, success@1 and success@cutoff of ``ranks`` (n_queries,) int, as floats.

    Keys are ``mrr_at_10``, ``success_at_1`` and ``success_at_10`` for the default cutoff.
    """
    ranks = np.asarray(ranks)
    if not len(ranks):
        raise RetrievalError("there are no known-item queries to measure")
    return {
        f"mrr_at_{cutoff}": float(reciprocal_ranks(ranks, cutoff).mean()),
        "success_at_1": float(successes(ranks, 1).mean()),
        f"success_at_{cutoff}": float(successes(ranks, cutoff).mean()),
    }
