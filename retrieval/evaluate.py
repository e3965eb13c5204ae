"""Retrieval quality: precision@k and mean average precision against same-label relevance.

The autoencoder index is measured beside two baselines computed in the same
run on the same TF-IDF features: TF-IDF cosine, and LSA (TruncatedSVD) with
as many dimensions as the code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from retrieval.corpus import Corpus
from retrieval.errors import RetrievalError

CHUNK = 256


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


def _ranking_from_scores(scores: np.ndarray) -> np.ndarray:
    return np.argsort(-scores, axis=1, kind="stable")


def measure(
    method: str,
    dims: int,
    rank: Callable[[slice], np.ndarray],
    query_labels: np.ndarray,
    db_labels: np.ndarray,
    k: int,
) -> MethodScore:
    """Run ``rank(rows)`` (full database ranking for those query rows) over all queries."""
    started = time.perf_counter()
    precisions, aps = [], []
    for start in range(0, len(query_labels), CHUNK):
        rows = slice(start, start + CHUNK)
        relevant = query_labels[rows, None] == db_labels[None, :]
        p, ap = ranking_scores(rank(rows), relevant, k)
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
    names = {name: i for i, name in enumerate(sorted({l for l in db_labels if l is not None}))}
    db = np.array([names.get(label, -1) if label is not None else -1 for label in db_labels])
    # -2 never equals a database code, so an unlabelled database item is never relevant
    queries = np.array([names.get(label, -2) for label in query_labels])
    return db, queries


def evaluate(index, queries: Corpus, k: int = 100, baselines: bool = True, seed: int = 0) -> dict:
    """Measure ``index`` (a fitted TextIndex) on labelled ``queries``.

    Returns
    -------
    dict
        ``k``, ``queries`` (used), ``skipped`` (without a label), ``database``,
        and ``methods``: a list of MethodScore dicts, the index first.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise RetrievalError(f"k must be a positive whole number; got {k!r}")
    db_labels = index.labels_
    if all(label is None for label in db_labels):
        raise RetrievalError("the index was built from an unlabelled corpus, so relevance is undefined")
    if queries.labels is None:
        raise RetrievalError(f"none of the {len(queries)} queries has a label; evaluate needs labelled queries")
    keep = [i for i, label in enumerate(queries.labels) if label is not None]
    texts = [queries.texts[i] for i in keep]
    db, q = _label_codes(db_labels, [queries.labels[i] for i in keep])
    n_db = len(db)
    k = min(k, n_db)

    Xq = index.featurizer_.transform(texts)
    codes = index.encode(texts)
    code_size = index.index_.dim

    def rank_index(rows):
        return _ranking_from_scores(index.index_.scores(codes[rows]))

    methods = [measure(f"autoencoder-{code_size}", code_size, rank_index, q, db, k)]
    if baselines:
        Xd = index.tfidf_
        XdT = Xd.T.tocsr()
        methods.append(
            measure("tfidf-cosine", Xd.shape[1], lambda rows: _ranking_from_scores((Xq[rows] @ XdT).toarray()), q, db, k)
        )
        started = time.perf_counter()
        svd = TruncatedSVD(n_components=min(code_size, Xd.shape[1] - 1), random_state=seed).fit(Xd)
        Zd = normalize(svd.transform(Xd)).astype(np.float32)
        Zq = normalize(svd.transform(Xq)).astype(np.float32)
        fit_seconds = time.perf_counter() - started
        lsa = measure(f"lsa-{svd.n_components}", svd.n_components, lambda rows: _ranking_from_scores(Zq[rows] @ Zd.T), q, db, k)
        methods.append(MethodScore(**{**asdict(lsa), "seconds": round(lsa.seconds + fit_seconds, 2)}))
    return {
        "k": k,
        "queries": len(keep),
        "skipped": len(queries) - len(keep),
        "database": n_db,
        "methods": [asdict(m) for m in methods],
    }
