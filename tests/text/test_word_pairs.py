"""Word pairs in the lexical index: a short query's adjacent words found together outrank the same words apart."""

from __future__ import annotations

import math

import numpy as np
import pytest

from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import pair_terms
from retrieval.runtime.lexical import PAIR_QUERY_WORDS
from retrieval.runtime.lexical_builder import appended, build_lexical
from tests.conftest import make_corpus

WEIGHT = 0.3


@pytest.fixture(scope="module")
def texts():
    corpus = make_corpus(20, seed=11, prefix="pair")
    return [*corpus.texts, "time warner profit rose", "warner said the time was right for profit"]


def naive_bm25(texts, query, weight, k1=1.2, b=0.75):
    """BM25 written out term by term: words, then the query's pairs at ``weight`` times their IDF."""
    docs = [text.lower().split() for text in texts]
    bags = [{} for _ in docs]
    for bag, words in zip(bags, docs):
        for term in [w.encode() for w in words] + pair_terms([w.encode() for w in words]):
            bag[term] = bag.get(term, 0) + 1
    n, avgdl = len(docs), sum(map(len, docs)) / len(docs)
    words = [w.encode() for w in query.lower().split()]
    query_terms = [(term, 1.0) for term in set(words)] + [(term, weight) for term in set(pair_terms(words))]
    scores = np.zeros(n)
    for term, scale in query_terms:
        df = sum(term in bag for bag in bags)
        if not df:
            continue
        idf = math.log1p((n - df + 0.5) / (df + 0.5)) * scale
        for i, bag in enumerate(bags):
            tf = bag.get(term, 0)
            scores[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(docs[i]) / avgdl)) if tf else 0
    return scores


def dense(lexical, query, n):
    positions, scores = lexical.scores_of(query)
    out = np.zeros(n)
    out[positions] = scores
    return out


def test_pairs_score_as_written_out(texts):
    lexical = build_lexical(texts, pair_weight=WEIGHT)
    for query in ("time warner profit", texts[3][:40], "warner time"):
        np.testing.assert_allclose(
            dense(lexical, query, len(texts)), naive_bm25(texts, query, WEIGHT), rtol=1e-4, atol=1e-5
        )


def test_adjacent_words_outrank_the_same_words_apart(texts):
    with_pairs, without = build_lexical(texts, pair_weight=WEIGHT), build_lexical(texts)
    together, apart = len(texts) - 2, len(texts) - 1
    scores = dense(with_pairs, "time warner", len(texts))
    assert scores[together] > scores[apart]
    plain = dense(without, "time warner", len(texts))
    assert scores[together] - scores[apart] > plain[together] - plain[apart]


def test_pairs_do_not_change_a_documents_length(texts):
    np.testing.assert_array_equal(build_lexical(texts, pair_weight=WEIGHT).lengths, build_lexical(texts).lengths)


def test_a_long_query_uses_its_words_alone(texts):
    lexical = build_lexical(texts, pair_weight=WEIGHT)
    long_query = " ".join(f"word{i}" for i in range(PAIR_QUERY_WORDS)) + " time warner"
    term_ids = lexical.term_ids(long_query)
    assert lexical.word_count(term_ids) == len(term_ids)
    short = lexical.term_ids("time warner")
    assert lexical.word_count(short) == 2 and len(short) == 3


def test_pairs_follow_removal_and_addition(texts):
    kept = np.arange(0, len(texts), 2)
    lexical = build_lexical(texts, pair_weight=WEIGHT).set_live(kept)
    alone = build_lexical([texts[i] for i in kept], pair_weight=WEIGHT, avgdl=lexical.avgdl)
    for query in ("time warner profit", texts[4][:30]):
        np.testing.assert_allclose(lexical.scores_of(query)[1], alone.scores_of(query)[1], rtol=1e-6)
    whole = build_lexical(texts, pair_weight=WEIGHT)
    parts = appended(
        build_lexical(texts[:10], pair_weight=WEIGHT, avgdl=whole.avgdl),
        build_lexical(texts[10:], pair_weight=WEIGHT, avgdl=whole.avgdl),
    )
    assert parts.n_pairs == whole.n_pairs
    np.testing.assert_allclose(dense(parts, "time warner", len(texts)), dense(whole, "time warner", len(texts)))


@pytest.mark.parametrize("weight", [-0.1, 1.5, True, "0.2"])
def test_a_bad_pair_weight_is_refused(weight):
    with pytest.raises(RetrievalError, match="word-pair weight must be a number in"):
        build_lexical(["some text here"], pair_weight=weight)
