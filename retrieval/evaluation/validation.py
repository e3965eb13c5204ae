"""The check at the end of a build: do the codes serve this corpus better than LSA would?

A build of a labelled corpus (or one given ``--validate-queries``) measures
the codes' P@100 beside LSA-32 and TF-IDF cosine on the same documents, and
says plainly when LSA would serve the corpus better. Without a query file,
the queries are a seeded sample of labelled indexed documents, each with
itself left out of its ranking (leave-one-out: the encoder saw them in
training, so this is kinder to the codes than held-out queries are).
"""

from __future__ import annotations

import numpy as np

from retrieval.text.corpus import Corpus
from retrieval.errors import RetrievalError
from retrieval.evaluation.text import evaluate

SAMPLE = 1000
LSA_DIMS = 32
MARGIN = 0.005  # P@100 differences smaller than this are called a tie


def _leave_one_out(index, corpus: Corpus, sample: int, seed: int) -> tuple[Corpus, np.ndarray]:
    labelled = [i for i, label in enumerate(corpus.labels or []) if label is not None]
    if len(labelled) < 2:
        raise RetrievalError("validation needs labelled documents or --validate-queries; this corpus has no labels")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(labelled, size=min(sample, len(labelled)), replace=False))
    queries = Corpus(doc_ids=[corpus.doc_ids[i] for i in chosen], texts=[corpus.texts[i] for i in chosen],
                     titles=[corpus.titles[i] for i in chosen], labels=[corpus.labels[i] for i in chosen])
    positions = np.array([index.index_.id_map.position(doc_id) for doc_id in queries.doc_ids])
    return queries, positions


def validate(index, corpus: Corpus | None = None, queries: Corpus | None = None, sample: int = SAMPLE,
             seed: int = 0, k: int = 100) -> dict:
    """P@k of the index's codes beside LSA-32 and TF-IDF cosine, and a verdict.

    Parameters
    ----------
    index : TextIndex, fitted
    corpus : Corpus, optional
        The indexed corpus (labelled), for leave-one-out queries when ``queries`` is None.
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
    report = evaluate(index, queries, k=k, seed=seed, lsa_dims=(LSA_DIMS,), exclude=exclude)
    scores = {m["method"]: m["precision_at_k"] for m in report["methods"]}
    codes = report["methods"][0]["precision_at_k"]
    lsa, tfidf = scores[f"lsa-{LSA_DIMS}"], scores["tfidf-cosine"]
    verdict = "codes" if codes > lsa + MARGIN else ("lsa" if codes < lsa - MARGIN else "tie")
    where = f"{report['queries']:,} {'held-out' if exclude is None else 'leave-one-out'} queries"
    figures = f"P@{report['k']} codes {codes:.3f}, LSA-{LSA_DIMS} {lsa:.3f}, TF-IDF {tfidf:.3f} on {where}"
    message = {
        "codes": f"the codes beat LSA-{LSA_DIMS} on this corpus ({figures})",
        "tie": f"the codes and LSA-{LSA_DIMS} are level on this corpus ({figures})",
        "lsa": f"LSA-{LSA_DIMS} would serve this corpus better than these codes ({figures}); "
               f"try more training data, or search with --rerank",
    }[verdict]
    return {"queries": report["queries"], "held_out": exclude is None, "k": report["k"], "codes": codes,
            "lsa": lsa, "tfidf": tfidf, "verdict": verdict, "message": message}
