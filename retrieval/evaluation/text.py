"""Retrieval quality: precision@k and mean average precision against same-label relevance.

The autoencoder index is measured beside baselines computed in the same run
on the same TF-IDF features: TF-IDF cosine, LSA (TruncatedSVD) with as many
dimensions as the code, for binary codes ITQ with as many bits, and BM25 on
the documents' texts when they are given (``retrieval.evaluation.baselines``); asked
for, the index's hybrid and lexical modes too (``retrieval.evaluation.modes``).

Every method ranks the database by score, and ties are broken in one seeded
random order of database positions, the same for all methods. Breaking them
by position instead would leak labels: fetched corpora are stored sorted by
label, so a query's own label would come first among equals, and binary
codes tie often (a 64-bit code has only 65 Hamming distances).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.evaluation.baselines import baselines as all_baselines
from retrieval.evaluation.topk import BUDGET
from retrieval.text.corpus import Corpus
from retrieval.text.index import check_rerank

CHUNK = 256


def rows_at_once(n_database: int, most: int = CHUNK) -> int:
    """Queries ranked at once: ``most``, or fewer when as many full rankings would pass ``topk.BUDGET``
    entries (a ranking's int64 positions and their copies would take gigabytes at a million documents)."""
    return max(1, min(most, BUDGET // max(n_database, 1)))


@dataclass(frozen=True)
class MethodScore:
    """One method's figures on one query set."""

    method: str
    dims: int
    precision_at_k: float
    mean_average_precision: float
    seconds: float


def ranking_scores(ranks: np.ndarray, relevant: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision@k and average precision for each query.

    Parameters
    ----------
    ranks : ndarray of shape (n_queries, n_ranked), int
        Database positions, best first; the full ranking for exact AP.
    relevant : ndarray of shape (n_queries, n_database), bool
        Whether each database item is relevant to each query.

    Returns
    -------
    precision : ndarray of shape (n_queries,), float64
    average_precision : ndarray of shape (n_queries,), float64
        Over the ranked list; 0 for a query with no relevant item.
    """
    hit = np.take_along_axis(relevant, ranks, axis=1)
    precision = hit[:, :k].sum(axis=1) / k
    cumulative = np.cumsum(hit, axis=1)
    at_rank = np.arange(1, hit.shape[1] + 1)
    n_relevant = relevant.sum(axis=1)
    average_precision = np.where(
        n_relevant > 0, (hit * cumulative / at_rank).sum(axis=1) / np.maximum(n_relevant, 1), 0.0
    )
    return precision, average_precision


def tie_order(n_database: int, seed: int) -> np.ndarray:
    """The seeded random permutation of database positions in which evaluation breaks ties."""
    return np.random.default_rng(seed).permutation(n_database)


def rank_by_scores(scores: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Database positions best first: by score descending, equal scores in ``order``.

    Parameters
    ----------
    scores : ndarray of shape (n_queries, n_database), float or signed int
        Higher is more similar.
    order : ndarray of shape (n_database,), int
        A permutation of database positions (``tie_order``); of two equal
        scores, the position earlier in ``order`` ranks first.

    Returns
    -------
    ndarray of shape (n_queries, n_database), int
    """
    permuted = scores[:, order]  # a copy, so negating in place leaves ``scores`` alone
    np.negative(permuted, out=permuted)
    return order[np.argsort(permuted, axis=1, kind="stable")]


def measure(
    method: str,
    dims: int,
    rank: Callable[[slice], np.ndarray],
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
    top: np.ndarray | None = None,
) -> MethodScore:
    """Run ``rank(rows)`` (full database ranking for those query rows) over all queries.

    ``exclude`` (n_queries,) names a database position per query that is
    neither ranked nor relevant: the query itself, when queries are indexed documents.
    ``top`` (n_queries, k) int, when given, are the positions a search returned (-1 pads
    a short list): P@k counts those, and only average precision uses the full ranking.
    """
    started = time.perf_counter()
    precisions, aps = [], []
    step = rows_at_once(len(db_labels))
    for start in range(0, len(query_labels), step):
        rows = slice(start, start + step)
        relevant = query_labels[rows, None] == db_labels[None, :]
        ranks = rank(rows)
        if exclude is not None:
            own = exclude[rows]
            relevant[np.arange(len(own)), own] = False
            ranks = np.take_along_axis(ranks, np.argsort(ranks == own[:, None], axis=1, kind="stable"), axis=1)
        p, ap = ranking_scores(ranks, relevant, k)
        if top is not None:
            found = top[rows]
            p = (np.take_along_axis(relevant, np.maximum(found, 0), axis=1) & (found >= 0)).sum(axis=1) / k
        precisions.append(p)
        aps.append(ap)
    return MethodScore(
        method=method,
        dims=dims,
        precision_at_k=float(np.concatenate(precisions).mean()),
        mean_average_precision=float(np.concatenate(aps).mean()),
        seconds=round(time.perf_counter() - started, 2),
    )


def _label_codes(db_labels: list, query_labels: list) -> tuple[np.ndarray, np.ndarray]:
    names = {name: i for i, name in enumerate(sorted({label for label in db_labels if label is not None}))}
    db = np.array([names.get(label, -1) if label is not None else -1 for label in db_labels])
    # -2 never equals a database code, so an unlabelled database item is never relevant
    queries = np.array([names.get(label, -2) for label in query_labels])
    return db, queries


def rerank(ranks: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
    """Re-order the first ``n`` of each ranking by ``scores`` (best first); the rest keep their order.

    Parameters
    ----------
    ranks : ndarray of shape (n_queries, n_ranked), int
    scores : ndarray of shape (n_queries, n_database), float
        The re-ranking score of every database item (e.g. TF-IDF cosine).
    """
    # stable: equal scores keep the codes' order, itself label-neutral (``rank_by_scores``)
    head = ranks[:, :n]
    order = np.argsort(-np.take_along_axis(scores, head, axis=1), axis=1, kind="stable")
    return np.concatenate([np.take_along_axis(head, order, axis=1), ranks[:, n:]], axis=1)


def _code_name(index) -> str:
    size = index.index_.dim
    return f"autoencoder-{size}bit" if index.binary else f"autoencoder-{size}"


def labelled(index, queries: Corpus, k: int, seed: int, exclude, who: str):
    """What the label protocol ranks by: (the labelled queries' positions in ``queries``, the database's and
    their label codes, k capped at the database's size, each query's own position or None, the tie order)."""
    db_labels = index.labels_
    if all(label is None for label in db_labels):
        raise RetrievalError("the index was built from an unlabelled corpus, so relevance is undefined")
    if queries.labels is None:
        raise RetrievalError(f"none of the {len(queries)} queries has a label; {who} needs labelled queries")
    keep = [i for i, label in enumerate(queries.labels) if label is not None]
    db, q = _label_codes(db_labels, [queries.labels[i] for i in keep])
    own = None if exclude is None else np.asarray(exclude)[keep]
    return keep, db, q, min(k, len(db)), own, tie_order(len(db), seed)


def evaluate(
    index,
    queries: Corpus,
    k: int = 100,
    baselines: bool = True,
    seed: int = 0,
    rerank_n: int = 0,
    lsa_dims: tuple[int, ...] = (),
    database_texts=None,
    exclude: np.ndarray | None = None,
    modes: bool = False,
) -> dict:
    """Measure ``index`` (a fitted TextIndex) on labelled ``queries``.

    Parameters
    ----------
    rerank_n : int
        Also measure the codes' first ``rerank_n`` candidates re-ranked by TF-IDF cosine.
    lsa_dims : tuple of int
        LSA sizes to measure besides the code size (say, float LSA-32 beside 64-bit codes).
    database_texts : sequence of str, optional
        The indexed documents' texts, in index order; with them BM25 is measured too
        (the bundle keeps features, not texts).
    exclude : ndarray of shape (n_queries,), int, optional
        Per query, a database position to leave out of its ranking and its
        relevant set (the query's own document, for leave-one-out queries).
    seed : int
        Seeds the LSA and ITQ baselines and the random order in which every
        method's tied scores are broken (``tie_order``).
    modes : bool
        Also measure the index's hybrid and lexical modes, where it has a lexical
        side (``retrieval.evaluation.modes``: P@k through ``index.search``, MAP over
        every document's fused or BM25 score).

    Returns
    -------
    dict
        ``k``, ``queries`` (used), ``skipped`` (without a label), ``database``,
        and ``methods``: a list of MethodScore dicts, the index first. Baselines
        are TF-IDF cosine, LSA at the code size (and ``lsa_dims``), and for
        binary codes ITQ at the same number of bits. With ``modes``, ``modes``: the
        hybrid and lexical MethodScore dicts (the index's row is the semantic mode).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise RetrievalError(f"k must be a positive whole number; got {k!r}")
    check_rerank(rerank_n)
    if any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in lsa_dims):
        raise RetrievalError(f"LSA sizes must be positive whole numbers; got {', '.join(map(str, lsa_dims))}")
    keep, db, q, k, own, order = labelled(index, queries, k, seed, exclude, "evaluate")
    texts = [queries.texts[i] for i in keep]

    def score(method, dims, rank):
        return measure(method, dims, rank, q, db, k, own)

    Xq = index.features(texts)
    codes = index.faiss_codes(index.encoder_.encode(Xq))  # the rows above, not featurised a second time
    code_size = index.index_.dim
    XdT = index.tfidf_.T.tocsr() if rerank_n else None

    def rank_index(rows):
        return rank_by_scores(index.index_.scores(codes[rows]), order)

    def rank_reranked(rows):
        return rerank(rank_index(rows), (Xq[rows] @ XdT).toarray(), rerank_n)

    name = _code_name(index)
    methods = [score(name, code_size, rank_index)]
    if rerank_n:
        methods.append(score(f"{name}+rerank-{rerank_n}", code_size, rank_reranked))
    mode_scores = None
    if modes and getattr(index, "lexical_", None) is not None:  # an older bundle answers in semantic mode only
        from retrieval.evaluation.modes import mode_rows

        mode_scores = mode_rows(index, texts, Xq, codes, q, db, k, order, own)
    if baselines:
        for scorer in all_baselines(index, Xq, texts, lsa_dims, seed, database_texts):
            measured = score(
                scorer.method, scorer.dims, lambda rows, scorer=scorer: rank_by_scores(scorer.scores(rows), order)
            )
            methods.append(
                MethodScore(**{**asdict(measured), "seconds": round(measured.seconds + scorer.fit_seconds, 2)})
            )
    report = {
        "k": k,
        "queries": len(keep),
        "skipped": len(queries) - len(keep),
        "database": len(db),
        "index": index.index_.plan.to_dict(),
        "methods": [asdict(m) for m in methods],
    }
    if mode_scores is not None:
        report["modes"] = [{**asdict(m), "mode": m.method} for m in mode_scores]
    if not index.index_.exact:  # P@k above ranks every document exactly; this is what the index's search gives up
        report["recall_at_10"] = approximate_recall(index.index_, codes, min(10, len(db)))
    return report


def approximate_recall(search_index, codes: np.ndarray, k: int = 10, chunk: int = 1024) -> float:
    """Recall@k of ``search_index.search`` against exact search on the same codes.

    A hit counts when its exact score reaches the exact k-th best score, so that
    ties at the k-th place do not count as misses. ``chunk`` queries are scored at once, fewer at a size where
    as many exact score rows would pass ``topk.BUDGET`` scores.
    """
    found = 0
    chunk = rows_at_once(len(search_index), chunk)
    for start in range(0, len(codes), chunk):
        rows = codes[start : start + chunk]
        exact = search_index.scores(rows)
        kth = -np.partition(-exact, k - 1, axis=1)[:, k - 1]
        positions = search_index.search(rows, k).positions
        valid = positions >= 0
        got = np.take_along_axis(exact, np.where(valid, positions, 0), axis=1)
        found += int(((got >= kth[:, None] - 1e-6) & valid).sum())
    return round(found / (len(codes) * k), 4)
