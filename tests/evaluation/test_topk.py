"""The end-of-build check in bounded memory: P@k kept block by block equals the full ranking's, and the lexical
builder's chunked counting sort makes the same arrays as one pass."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.evaluation import topk
from retrieval.evaluation.text import evaluate, rank_by_scores, ranking_scores, tie_order
from retrieval.evaluation.validation import validate
from retrieval.runtime.analysis import Analyzer
from retrieval.runtime.lexical_builder import LexicalBuilder


def _full_ranking_precision(scores, query_labels, db_labels, k, order, exclude):
    """P@k as the label protocol computes it: every document ranked, the query's own moved last."""
    ranks = rank_by_scores(scores, order)
    relevant = query_labels[:, None] == db_labels[None, :]
    if exclude is not None:
        relevant[np.arange(len(exclude)), exclude] = False
        ranks = np.take_along_axis(ranks, np.argsort(ranks == exclude[:, None], axis=1, kind="stable"), axis=1)
    return ranking_scores(ranks, relevant, k)[0]


@pytest.mark.parametrize("k", [1, 5, 12, 50])
@pytest.mark.parametrize("leave_one_out", [False, True])
def test_precision_kept_block_by_block_equals_the_full_ranking(k, leave_one_out):
    rng = np.random.default_rng(4)
    n_queries, n_database = 300, 50  # more queries than one chunk
    scores = rng.integers(0, 4, size=(n_queries, n_database)).astype(np.float32)  # few values: many ties
    db_labels, query_labels = rng.integers(0, 3, n_database), rng.integers(0, 3, n_queries)
    order = tie_order(n_database, seed=9)
    exclude = rng.integers(0, n_database, n_queries) if leave_one_out else None
    expected = _full_ranking_precision(scores, query_labels, db_labels, k, order, exclude)

    def scorer(columns):
        return lambda rows: scores[rows, columns].copy()

    for block in (1, 7, 13, n_database):  # blocks smaller than k, not dividing the database, and the whole
        got = topk.precision_at_k(scorer, query_labels, db_labels, k, order, exclude, budget=block * topk.QUERY_CHUNK)
        np.testing.assert_array_equal(got, expected)


def test_validation_scores_in_blocks_as_evaluate_ranks_everything(fitted, corpus, monkeypatch):
    # LSA fitted on every document (the corpus is the index's), so every figure is evaluate's
    positions = np.array([fitted.index_.id_map.position(doc_id) for doc_id in corpus.doc_ids])
    report = evaluate(fitted, corpus, k=10, lsa_dims=(32,), exclude=positions)
    expected = {m["method"]: m["precision_at_k"] for m in report["methods"]}
    monkeypatch.setattr(topk, "BUDGET", 3 * topk.QUERY_CHUNK)  # blocks of 3 of the 100 documents
    check = validate(fitted, corpus=corpus, sample=len(corpus), k=10)
    assert check["codes"] == expected["autoencoder-8"]
    assert check["tfidf"] == expected["tfidf-cosine"]
    assert check["lsa"] == expected["lsa-32"]


def test_index_scores_a_block_of_positions(fitted):
    queries = fitted.index_.stored(0, 4)
    whole = fitted.index_.scores(queries)
    np.testing.assert_array_equal(fitted.index_.scores(queries, 5, 17), whole[:, 5:17])
    with pytest.raises(Exception, match="not a range"):
        fitted.index_.stored(3, len(fitted.index_) + 1)


def test_lexical_builder_makes_the_same_arrays_however_texts_arrive(monkeypatch):
    texts = ["red fish blue fish", "one fish two fish red", "", "blue " * 70_000 + "whale", "two red whales"] * 7
    analyzer = Analyzer(True, ("the",), "english")
    at_once = LexicalBuilder(analyzer, pair_weight=0.2).add(texts).finish()
    monkeypatch.setattr("retrieval.runtime.lexical_builder._TEXTS", 3)  # many chunks, some with a count > 65,535
    piecewise = LexicalBuilder(analyzer, pair_weight=0.2)
    for start in range(0, len(texts), 4):
        piecewise.add(texts[start : start + 4])
    piecewise = piecewise.finish()
    for name in ("terms", "indptr", "rows", "impact", "lengths"):
        np.testing.assert_array_equal(getattr(piecewise, name), getattr(at_once, name))
    blue = np.searchsorted(at_once.terms, b"blue")
    span = slice(at_once.indptr[blue], at_once.indptr[blue + 1])
    assert list(at_once.rows[span][:3]) == [0, 3, 5]  # each term's rows in order
    assert np.all(np.diff(at_once.rows[span]) > 0)
