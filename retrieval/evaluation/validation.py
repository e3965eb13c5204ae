"""The check at the end of a build: do the codes serve this corpus better than LSA would?

A build of a labelled corpus (or one given ``--validate-queries``) measures
the codes' P@100 beside LSA-32 and TF-IDF cosine on the same documents, and
says plainly when LSA would serve the corpus better. Without a query file,
the queries are a seeded sample of labelled indexed documents, each with
itself left out of its ranking (leave-one-out: the encoder saw them in
training, so this is kinder to the codes than held-out queries are).

What it costs: each of the three methods scores every query against every
indexed document (``retrieval.evaluation.topk`` keeps each query's best 100),
so time grows with queries x documents and memory does not: no array holds
more than 16.8 million scores (64 MB of float32) or the transposed TF-IDF rows
of more than 65,536 documents, besides LSA's 32 floats a document (128 MB at a
million). LSA-32 is fitted on the documents the encoder was trained on (the
build's training sample; every document when the corpus is no larger), as the
codes were.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from retrieval.errors import RetrievalError
from retrieval.evaluation.text import labelled
from retrieval.evaluation.topk import block_size, precision_at_k
from retrieval.text.corpus import Corpus

SAMPLE = 1000
LSA_DIMS = 32
MARGIN = 0.005  # P@100 differences smaller than this are called a tie


def _leave_one_out(index, corpus: Corpus, sample: int, seed: int) -> tuple[Corpus, np.ndarray]:
    labelled = [i for i, label in enumerate(corpus.labels or []) if label is not None]
    if len(labelled) < 2:
        raise RetrievalError("validation needs labelled documents or --validate-queries; this corpus has no labels")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(labelled, size=min(sample, len(labelled)), replace=False))
    queries = Corpus(
        doc_ids=[corpus.doc_ids[i] for i in chosen],
        texts=[corpus.texts[i] for i in chosen],
        titles=[corpus.titles[i] for i in chosen],
        labels=[corpus.labels[i] for i in chosen],
    )
    positions = np.array([index.index_.id_map.position(doc_id) for doc_id in queries.doc_ids])
    return queries, positions


def validate(
    index,
    corpus: Corpus | None = None,
    queries: Corpus | None = None,
    sample: int = SAMPLE,
    seed: int = 0,
    k: int = 100,
) -> dict:
    """P@k of the index's codes beside LSA-32 and TF-IDF cosine, and a verdict.

    Each method ranks every indexed document for each query, ties broken in one seeded order
    (as ``retrieval.evaluation.text.evaluate`` breaks them, whose P@k this equals when LSA is
    fitted on the same rows), in bounded memory (see the module docstring for the cost).

    Parameters
    ----------
    index : TextIndex, fitted
    corpus : Corpus, optional
        Indexed documents (labelled, for leave-one-out queries when ``queries`` is None):
        the build's training sample. LSA is fitted on their TF-IDF rows; without it, on every document's.
    queries : Corpus, optional
        Labelled held-out queries.
    sample : int
        Leave-one-out queries drawn from ``corpus``.

    Returns
    -------
    dict
        ``queries`` (count), ``held_out`` (bool), ``k``, ``codes``, ``lsa``,
        ``tfidf`` (P@k each), ``verdict`` ("codes", "tie" or "lsa") and ``message``.
    """
    if queries is None and corpus is None:
        raise RetrievalError("validation needs the labelled corpus or held-out queries")
    exclude = None
    if queries is None:
        queries, exclude = _leave_one_out(index, corpus, sample, seed)
    keep, db, q, k, own, order = labelled(index, queries, k, seed, exclude, "validation")
    Xq = index.features([queries.texts[i] for i in keep])
    Xd = index.tfidf_

    def p_at_k(scorer) -> float:
        return float(precision_at_k(scorer, q, db, k, order, own).mean())

    codes = p_at_k(_code_scorer(index, index.faiss_codes(index.encoder_.encode(Xq))))
    tfidf = p_at_k(lambda columns: _cosine(Xq, Xd[columns].T.tocsr()))
    lsa = p_at_k(_lsa_scorer(Xd, Xq, _fit_rows(index, Xd, corpus), LSA_DIMS, seed))
    verdict = "codes" if codes > lsa + MARGIN else ("lsa" if codes < lsa - MARGIN else "tie")
    where = f"{len(keep):,} {'held-out' if exclude is None else 'leave-one-out'} queries"
    figures = f"P@{k} codes {codes:.3f}, LSA-{LSA_DIMS} {lsa:.3f}, TF-IDF {tfidf:.3f} on {where}"
    message = {
        "codes": f"the codes beat LSA-{LSA_DIMS} on this corpus ({figures})",
        "tie": f"the codes and LSA-{LSA_DIMS} are level on this corpus ({figures})",
        "lsa": f"LSA-{LSA_DIMS} would serve this corpus better than these codes ({figures}); "
        f"try more training data, or search with --rerank",
    }[verdict]
    return {
        "queries": len(keep),
        "held_out": exclude is None,
        "k": k,
        "codes": codes,
        "lsa": lsa,
        "tfidf": tfidf,
        "verdict": verdict,
        "message": message,
    }


def _code_scorer(index, codes: np.ndarray):
    def scorer(columns: slice):
        return lambda rows: index.index_.scores(codes[rows], columns.start, columns.stop)

    return scorer


def _cosine(Xq, XdT):
    # TF-IDF rows are unit length: their dot product is the cosine
    return lambda rows: (Xq[rows] @ XdT).toarray()


def _fit_rows(index, Xd, corpus: Corpus | None):
    """The TF-IDF rows LSA is fitted on: ``corpus``'s documents, in index order (all: ``Xd`` itself)."""
    if corpus is None or len(corpus) >= Xd.shape[0]:
        return Xd
    return Xd[np.sort([index.index_.id_map.position(doc_id) for doc_id in corpus.doc_ids])]


def _lsa_scorer(Xd, Xq, X_fit, dims: int, seed: int):
    """LSA fitted on ``X_fit``: cosine of the normalised projections (``retrieval.evaluation.baselines.lsa``)."""
    svd = TruncatedSVD(n_components=min(dims, Xd.shape[1] - 1), random_state=seed).fit(X_fit)
    step = block_size(Xd.shape[0])  # projected a block at a time: each row's projection is its own
    Zd = np.concatenate(
        [normalize(svd.transform(Xd[start : start + step])).astype(np.float32) for start in range(0, Xd.shape[0], step)]
    )
    Zq = normalize(svd.transform(Xq)).astype(np.float32)
    return lambda columns: lambda rows: Zq[rows] @ Zd[columns].T
