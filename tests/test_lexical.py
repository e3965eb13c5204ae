"""The lexical (BM25) index: exact against the scikit-learn baseline, updates, storage, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.errors import RetrievalError
from retrieval.evaluation.bm25 import BM25
from retrieval.runtime.analysis import TERM_BYTES, tokenize
from retrieval.runtime.lexical import build_lexical
from tests.conftest import make_corpus

STOP = ("the", "and", "of")


@pytest.fixture(scope="module")
def texts():
    corpus = make_corpus(30, seed=5, prefix="lex")
    rng = np.random.default_rng(0)
    # some stop words, repeated words and mixed case, so that tf, lengths and lowercasing matter
    return [f"{text} The and {'Repeat ' * int(rng.integers(0, 4))}" for text in corpus.texts]


def dense(lexical, query, n):
    positions, scores = lexical.scores_of(query)
    out = np.zeros(n, dtype=np.float64)
    out[positions] = scores
    return out


def test_scores_equal_the_baseline(texts):
    from retrieval.config import TfidfConfig

    lexical = build_lexical(texts)
    reference = BM25(tfidf=TfidfConfig(stop_words="none")).fit(texts)
    queries = ["aeword0 common3x repeat the", texts[7], "bfword1 bfword1 cgword2", "nothing known"]
    expected = reference.scores(queries)
    for query, row in zip(queries, expected):
        got = dense(lexical, query, len(texts))
        if query == texts[7]:  # a whole document keeps only its rarest terms (MAX_QUERY_TERMS), so compare ranks
            assert np.argmax(got) == np.argmax(row) == 7
            continue
        np.testing.assert_allclose(got, row, rtol=1e-4, atol=1e-4)


def test_stop_words_match_nothing(texts):
    lexical = build_lexical(texts, stop_words=STOP)
    assert lexical.scores_of("the and of")[0].size == 0
    assert lexical.lengths.max() < build_lexical(texts).lengths.max()  # nor count in a document's length


def test_top_is_the_best_k_with_ties_by_position(texts):
    lexical = build_lexical(texts)
    positions, scores = lexical.top("aeword0 common3x", 5)
    full = dense(lexical, "aeword0 common3x", len(texts))
    order = np.lexsort((np.arange(len(texts)), -full))[:5]
    assert positions.tolist() == order.tolist()
    assert np.all(np.diff(scores) <= 0)
    assert lexical.top("zzzz unknown", 5)[0].size == 0


def test_plus_equals_one_build(texts):
    whole = build_lexical(texts)
    parts = build_lexical(texts[:50]).plus(build_lexical(texts[50:]))
    for name, array in whole.arrays().items():
        np.testing.assert_array_equal(getattr(parts, name), array, err_msg=name)


def test_removal_statistics_follow_the_live_rows(texts):
    """IDF, the document count and the mean length are over the live rows: as if built on them alone."""
    kept = np.arange(0, len(texts), 3)
    lexical = build_lexical(texts).set_live(kept)
    alone = build_lexical([texts[i] for i in kept])
    for query in ("aeword0 common3x", "dhword3 repeat"):
        positions, scores = lexical.scores_of(query)
        expected_positions, expected_scores = alone.scores_of(query)
        np.testing.assert_array_equal(positions, expected_positions)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    compact = lexical.compacted(kept)
    np.testing.assert_allclose(compact.scores_of("aeword0")[1], alone.scores_of("aeword0")[1], rtol=1e-6)
    assert compact.n_stored == len(kept)


def test_tokens_match_the_tfidf_tokenizer():
    from retrieval.runtime.tfidf import TOKEN

    text = "Über-naïve C3PO x y_z  a1 " + "q" * (TERM_BYTES + 1) + " Straße"
    expected = [t.encode() for t in TOKEN.findall(text.lower()) if len(t.encode()) <= TERM_BYTES]
    assert tokenize(text) == expected
    assert tokenize("ASCII only, a b cd") == [b"ascii", b"only", b"cd"]


@pytest.mark.parametrize("k1, b", [(-1, 0.75), (1.2, 1.5), ("x", 0.5)])
def test_bad_parameters(k1, b):
    with pytest.raises(RetrievalError, match="BM25 needs k1 >= 0 and 0 <= b <= 1"):
        build_lexical(["some text here"], k1=k1, b=b)


def test_damaged_arrays_are_refused(texts):
    from retrieval.runtime.lexical import LexicalIndex

    arrays = build_lexical(texts).arrays()
    with pytest.raises(RetrievalError, match="disagree in length"):
        LexicalIndex(**{**arrays, "tf": arrays["tf"][:-1]})
    with pytest.raises(RetrievalError, match="names a row it does not hold"):
        LexicalIndex(**{**arrays, "lengths": arrays["lengths"][:3]})
    with pytest.raises(RetrievalError, match="wrong types"):
        LexicalIndex(**{**arrays, "rows": arrays["rows"].astype(np.int64)})


def test_stemming_joins_word_forms_at_build_and_query_time():
    texts = ["the shuttle launched into orbit", "launching rockets is costly", "a quiet garden"]
    lexical = build_lexical(texts, stop_words=STOP, stemmer="english")
    positions, _ = lexical.scores_of("launch")
    assert positions.tolist() == [0, 1]
    assert build_lexical(texts, stop_words=STOP).scores_of("launch")[0].size == 0  # unstemmed: no such term
    assert lexical.scores_of("the")[0].size == 0  # a stop word is dropped before stemming


def test_a_bad_stemmer_is_named():
    with pytest.raises(RetrievalError, match="stemmer must be one of english, none; got 'latin'"):
        build_lexical(["text"], stemmer="latin")
