"""The baselines every protocol measures the index against, as scorers of the whole database.

Each baseline is fitted on the index's own TF-IDF rows (BM25 on the indexed
documents' texts) and returns, for a slice of the queries, the score of
every database document; each protocol ranks those its own way (the label
protocol sorts them, the known-item protocol only places the target).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from indexing import hamming_distances
from retrieval.errors import RetrievalError
from retrieval.evaluation.bm25 import BM25
from retrieval.evaluation.itq import ITQ


@dataclass(frozen=True)
class Scorer:
    """A fitted baseline: ``scores(rows)`` is (n_rows, n_database), higher more similar."""

    method: str
    dims: int
    scores: Callable[[slice], np.ndarray]
    fit_seconds: float = 0.0


def baselines(index, Xq, texts: list, lsa_dims: tuple = (), seed: int = 0, database_texts=None) -> Iterator[Scorer]:
    """TF-IDF cosine, LSA at the code size (and ``lsa_dims``), BM25 when ``database_texts`` are given,
    and for binary codes ITQ at the same number of bits, each fitted when the one before has been measured.

    Parameters
    ----------
    index : TextIndex, fitted
    Xq : CSR matrix of shape (n_queries, n_features)
        The queries' TF-IDF rows.
    texts : list of str
        The queries' texts (for BM25).
    database_texts : sequence of str, optional
        The indexed documents' texts in position order (``texts_in_index_order``).
    """
    Xd = index.tfidf_
    XdT = Xd.T.tocsr()
    code_size = index.index_.dim
    yield Scorer("tfidf-cosine", Xd.shape[1], lambda rows: (Xq[rows] @ XdT).toarray())
    for dims in dict.fromkeys((code_size, *lsa_dims)):
        yield lsa(Xd, Xq, dims, seed)
    if database_texts is not None:
        yield bm25(database_texts, texts, index.config.tfidf, Xd.shape[0])
    if index.binary:
        yield itq(Xd, Xq, code_size, seed)


def lsa(Xd, Xq, dims: int, seed: int) -> Scorer:
    """LSA (TruncatedSVD of the database's TF-IDF rows), cosine of the normalised projections."""
    started = time.perf_counter()
    svd = TruncatedSVD(n_components=min(dims, Xd.shape[1] - 1), random_state=seed).fit(Xd)
    Zd = normalize(svd.transform(Xd)).astype(np.float32)
    Zq = normalize(svd.transform(Xq)).astype(np.float32)
    return Scorer(
        f"lsa-{svd.n_components}", svd.n_components, lambda rows: Zq[rows] @ Zd.T, time.perf_counter() - started
    )


def bm25(database_texts, texts, tfidf, n_database: int) -> Scorer:
    """Okapi BM25 over the whole vocabulary of the database (``retrieval.evaluation.bm25``)."""
    started = time.perf_counter()
    database_texts = list(database_texts)
    if len(database_texts) != n_database:
        raise RetrievalError(
            f"BM25 needs the text of each of the {n_database} indexed documents; got {len(database_texts)}"
        )
    model = BM25(tfidf=tfidf).fit(database_texts)
    return Scorer(
        "bm25", model.weights_.shape[1], lambda rows: model.scores(texts[rows]), time.perf_counter() - started
    )


def itq(Xd, Xq, n_bits: int, seed: int) -> Scorer:
    """ITQ binary codes of as many bits, scored by negated Hamming distance."""
    started = time.perf_counter()
    model = ITQ(n_bits, seed=seed).fit(Xd)
    Bd, Bq = model.transform(Xd), model.transform(Xq)
    return Scorer(
        f"itq-{n_bits}bit", n_bits, lambda rows: -hamming_distances(Bq[rows], Bd), time.perf_counter() - started
    )


def texts_in_index_order(index, corpus) -> list[str]:
    """The texts of the indexed documents, in position order, found by id in ``corpus`` (the one built from).

    The bundle keeps features, not texts, so BM25 needs the corpus again; an indexed id it lacks is an error.
    """
    by_id = dict(zip(corpus.doc_ids, corpus.texts))
    doc_ids = index.index_.id_map.doc_ids
    missing = [doc_id for doc_id in doc_ids if doc_id not in by_id]
    if missing:
        raise RetrievalError(
            f"the database file lacks {len(missing)} of the {len(doc_ids)} indexed documents (e.g. "
            f"{', '.join(map(repr, missing[:3]))}); give the corpus the index was built from"
        )
    return [by_id[doc_id] for doc_id in doc_ids]
