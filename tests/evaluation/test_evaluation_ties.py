"""Evaluation breaks tied scores in a seeded random order, so that a label-sorted database leaks nothing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from indexing import BinaryIndex
from retrieval.evaluation.text import evaluate, rank_by_scores, tie_order
from retrieval.text.corpus import Corpus

LABELS = ("a", "b", "c", "d")
PER_LABEL = 50
N_BITS = 8
N_FEATURES = 20

# identical TF-IDF rows have no variance, which TruncatedSVD's explained-variance ratio divides by
pytestmark = pytest.mark.filterwarnings("ignore:.*encountered in divide:RuntimeWarning")


def tied_index(n_per_label: int = PER_LABEL):
    """A stand-in for a fitted binary TextIndex whose documents are all alike, stored sorted by label.

    Every code and every TF-IDF row is the same, so every method scores every
    document equally and only the tie-breaking rule decides the ranking.
    """
    n = n_per_label * len(LABELS)
    row = np.random.default_rng(0).random(N_FEATURES).astype(np.float32)

    def features(count):
        return sp.csr_matrix(np.tile(row, (count, 1)))

    packed = np.full((n, N_BITS // 8), 0b10110010, dtype=np.uint8)
    return SimpleNamespace(
        labels_=[label for label in LABELS for _ in range(n_per_label)],
        features=lambda texts: features(len(texts)),
        encoder_=SimpleNamespace(encode=lambda rows: np.ones((rows.shape[0], N_BITS), dtype=np.float32)),
        faiss_codes=lambda codes: np.full((len(codes), N_BITS // 8), 0b10110010, dtype=np.uint8),
        index_=BinaryIndex(N_BITS).add(packed, [f"doc{i}" for i in range(n)]),
        tfidf_=features(n),
        binary=True,
    )


def first_label_queries(n: int = 20) -> Corpus:
    return Corpus(
        doc_ids=[f"q{i}" for i in range(n)], texts=["same words"] * n, titles=[""] * n, labels=[LABELS[0]] * n
    )


def figures(report: dict) -> dict:
    return {m["method"]: (m["precision_at_k"], m["mean_average_precision"]) for m in report["methods"]}


def test_rank_by_scores_orders_by_score_then_by_the_tie_order():
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5]], dtype=np.float32)
    order = np.array([4, 2, 0, 3, 1])
    before = scores.copy()
    assert rank_by_scores(scores, order).tolist() == [[1, 4, 2, 0, 3]]
    np.testing.assert_array_equal(scores, before)  # not negated in place
    # negated Hamming distances (int32), as the ITQ baseline passes them
    assert rank_by_scores(-np.array([[3, 1, 3, 0]], dtype=np.int32), np.array([2, 3, 0, 1])).tolist() == [[3, 1, 2, 0]]


def test_tie_order_is_a_seeded_permutation():
    assert sorted(tie_order(50, seed=3)) == list(range(50))
    assert tie_order(50, seed=3).tolist() == tie_order(50, seed=3).tolist()
    assert tie_order(50, seed=3).tolist() != tie_order(50, seed=4).tolist()


def test_all_tied_scores_give_the_base_rate_not_the_database_order():
    # breaking ties by position would put the 50 "a" documents first: P@50 = 1.0 for every method
    report = evaluate(tied_index(), first_label_queries(), k=PER_LABEL, seed=0)
    results = figures(report)
    assert set(results) == {"autoencoder-8bit", "tfidf-cosine", "lsa-8", "itq-8bit"}
    base_rate = 1 / len(LABELS)
    for method, (precision, average_precision) in results.items():
        assert precision == pytest.approx(base_rate, abs=0.12), method
        assert average_precision < 0.45, method


def test_the_tie_order_is_the_same_for_every_method():
    results = figures(evaluate(tied_index(), first_label_queries(), k=PER_LABEL, seed=5))
    assert len(set(results.values())) == 1


def test_tied_results_are_deterministic_for_a_seed_and_follow_it():
    index, queries = tied_index(), first_label_queries()
    once = figures(evaluate(index, queries, k=10, seed=11))
    assert figures(evaluate(index, queries, k=10, seed=11)) == once
    assert figures(evaluate(index, queries, k=10, seed=12)) != once
