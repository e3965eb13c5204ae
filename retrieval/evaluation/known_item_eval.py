"""The known-item protocol: each query names the one document it is after; how high does each method put it?

The index's modes are measured through the real query path
(``TextIndex.search(texts, k=10, mode=...)``), so the figures are what users
get; the baselines (TF-IDF cosine, LSA, BM25 on the indexed texts, ITQ for
binary codes) score every document, and the target's rank among them is
found with ties broken in the seeded order the label protocol uses.
"""

from __future__ import annotations

import time

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.evaluation.baselines import baselines as all_baselines
from retrieval.evaluation.known_item import CUTOFF, ranks_by_scores, summary, target_ranks
from retrieval.evaluation.modes import searched
from retrieval.evaluation.text import CHUNK, tie_order
from retrieval.text.corpus import Corpus


def target_positions(index, queries: Corpus, targets: list) -> tuple[list[int], np.ndarray]:
    """The queries that have a target, and their targets' positions; a target not in the index is an error.

    Returns
    -------
    keep : list of int
        Indices into ``queries`` of those with a target.
    positions : ndarray of shape (len(keep),), int64
    """
    id_map = index.index_.id_map
    keep = [i for i, target in enumerate(targets) if target is not None]
    missing = [i for i in keep if targets[i] not in id_map]
    if missing:
        shown = ", ".join(f"{queries.doc_ids[i]!r} -> {targets[i]!r}" for i in missing[:3])
        raise RetrievalError(
            f"{len(missing)} of the {len(keep)} queries name a target the index does not hold "
            f"(e.g. {shown}); the targets must be ids of indexed documents"
        )
    return keep, np.array([id_map.position(targets[i]) for i in keep], dtype=np.int64)


def evaluate_known_item(
    index,
    queries: Corpus,
    targets: list,
    seed: int = 0,
    baselines: bool = True,
    lsa_dims: tuple = (),
    database_texts=None,
) -> dict:
    """MRR@10, success@1 and success@10 of each of the index's modes, beside the baselines.

    Parameters
    ----------
    index : TextIndex, fitted
    queries : Corpus
        The queries' texts (their labels, if any, are not used here).
    targets : list of str or None
        Per query, the id of its one right document (None: not a known-item query, skipped).
    seed : int
        Seeds LSA and ITQ and the order in which the baselines' tied scores are broken.
    lsa_dims : tuple of int
        LSA sizes to measure besides the code size.
    database_texts : sequence of str, optional
        The indexed documents' texts in position order: with them BM25 is measured too.

    Returns
    -------
    dict
        ``queries`` (with a target), ``skipped``, ``database``, ``cutoff`` (10), ``modes`` (hybrid,
        semantic, lexical; semantic only for an index without a lexical side) and ``methods`` (the
        baselines): lists of dicts with ``method``, ``dims``, ``mrr_at_10``, ``success_at_1``,
        ``success_at_10`` and ``seconds`` (a mode's also ``mode``).
    """
    keep, wanted = target_positions(index, queries, targets)
    if not keep:
        raise RetrievalError(f"none of the {len(queries)} queries names a target document")
    texts = [queries.texts[i] for i in keep]
    has_lexical = getattr(index, "lexical_", None) is not None
    modes = []
    for mode in ("hybrid", "semantic", "lexical") if has_lexical else ("semantic",):
        started = time.perf_counter()
        ranks = target_ranks(searched(index, texts, CUTOFF, mode), wanted)
        dims = index.lexical_.n_terms if mode == "lexical" else index.index_.dim
        modes.append(
            {
                "method": mode,
                "mode": mode,
                "dims": dims,
                **summary(ranks, CUTOFF),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    methods = []
    if baselines:
        order = tie_order(len(index.index_), seed)
        Xq = index.features(texts)
        for scorer in all_baselines(index, Xq, texts, lsa_dims, seed, database_texts):
            started = time.perf_counter()
            ranks = np.concatenate(
                [
                    ranks_by_scores(scorer.scores(slice(start, start + CHUNK)), wanted[start : start + CHUNK], order)
                    for start in range(0, len(texts), CHUNK)
                ]
            )
            seconds = time.perf_counter() - started + scorer.fit_seconds
            methods.append(
                {"method": scorer.method, "dims": scorer.dims, **summary(ranks, CUTOFF), "seconds": round(seconds, 2)}
            )
    return {
        "queries": len(keep),
        "skipped": len(queries) - len(keep),
        "database": len(index.index_),
        "cutoff": CUTOFF,
        "modes": modes,
        "methods": methods + (rrf_row(index, texts, wanted) if has_lexical and baselines else []),
    }


RRF_K, RRF_DEPTH = 60, 100  # Cormack, Clarke and Buettcher's constant; each side's candidates, as hybrid's


def rrf_positions(semantic: np.ndarray, lexical: np.ndarray, k: int = CUTOFF, c: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion of two ranked lists per query: ``sum 1 / (c + rank)`` over the lists a document is in.

    Parameters
    ----------
    semantic, lexical : ndarray of shape (n_queries, depth), int
        Positions, best first; -1 pads a short list.

    Returns
    -------
    ndarray of shape (n_queries, k), int64
        The fused lists' first ``k`` positions (-1 pads); ties go to the earlier position.
    """
    out = np.full((len(semantic), k), -1, dtype=np.int64)
    for i, (first, second) in enumerate(zip(semantic, lexical)):
        scores: dict = {}
        for ranked in (first, second):
            for rank, position in enumerate(ranked[ranked >= 0].tolist(), start=1):
                scores[position] = scores.get(position, 0.0) + 1.0 / (c + rank)
        best = sorted(scores, key=lambda position: (-scores[position], position))[:k]
        out[i, : len(best)] = best
    return out


def rrf_row(index, texts: list, wanted: np.ndarray) -> list[dict]:
    """The baseline the issue names for hybrid's fusion: RRF of the codes' and BM25's top ``RRF_DEPTH``."""
    started = time.perf_counter()
    fused = rrf_positions(searched(index, texts, RRF_DEPTH, "semantic"), searched(index, texts, RRF_DEPTH, "lexical"))
    return [
        {
            "method": "rrf",
            "dims": index.index_.dim,
            **summary(target_ranks(fused, wanted), CUTOFF),
            "seconds": round(time.perf_counter() - started, 2),
        }
    ]
