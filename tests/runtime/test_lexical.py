"""The lexical (BM25) index: exact against the scikit-learn baseline, updates, storage, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.errors import RetrievalError
from retrieval.evaluation.bm25 import BM25
from retrieval.runtime.analysis import TERM_BYTES, tokenize
from retrieval.runtime.lexical_builder import appended, build_lexical, compacted
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
    parts = appended(build_lexical(texts[:50], avgdl=whole.avgdl), build_lexical(texts[50:], avgdl=whole.avgdl))
    for name, array in whole.arrays().items():
        np.testing.assert_array_equal(getattr(parts, name), array, err_msg=name)
    assert parts.avgdl == whole.avgdl
    with pytest.raises(RetrievalError, match="weighed with another mean length"):
        appended(build_lexical(texts[:50]), build_lexical(texts[50:]))


def test_removal_statistics_follow_the_live_rows(texts):
    """IDF and the document count are over the live rows, with the build's mean length: as if built on them alone
    with that mean."""
    kept = np.arange(0, len(texts), 3)
    lexical = build_lexical(texts).set_live(kept)
    alone = build_lexical([texts[i] for i in kept], avgdl=lexical.avgdl)
    for query in ("aeword0 common3x", "dhword3 repeat"):
        positions, scores = lexical.scores_of(query)
        expected_positions, expected_scores = alone.scores_of(query)
        np.testing.assert_array_equal(positions, expected_positions)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    compact = compacted(lexical, kept)
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

    lexical = build_lexical(texts)
    arrays = {**lexical.arrays(), "avgdl": lexical.avgdl}
    with pytest.raises(RetrievalError, match="disagree in length"):
        LexicalIndex(**{**arrays, "impact": arrays["impact"][:-1]})
    with pytest.raises(RetrievalError, match="names a row it does not hold"):
        LexicalIndex(**{**arrays, "lengths": arrays["lengths"][:3]})
    with pytest.raises(RetrievalError, match="wrong types"):
        LexicalIndex(**{**arrays, "rows": arrays["rows"].astype(np.int64)})
    for avgdl in (None, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(RetrievalError, match="mean length must be a finite number"):
            LexicalIndex(**{**arrays, "avgdl": avgdl})


def zipf_texts(n: int, seed: int) -> list[str]:
    """Seeded documents of 5 to 40 words drawn from a Zipf-like vocabulary of 400, duplicates included (ties)."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 401)
    texts = [" ".join(f"w{i}" for i in rng.choice(400, int(rng.integers(5, 40)), p=p / p.sum())) for _ in range(n)]
    return texts + texts[:50]


@pytest.mark.parametrize("removed", [False, True])
def test_ranked_equals_ranking_every_match(monkeypatch, removed):
    """The threshold read off a sample of the scores never changes the answer: the k best live positions (ties
    to the earlier) and their scores, as ranking every matching document gives them; also for positions asked."""
    import retrieval.runtime.lexical as module

    monkeypatch.setattr(module, "SAMPLE_SCORES", 512)  # the sample path on a small corpus (2 runs of 256)
    monkeypatch.setattr(module, "GATHER_POSTINGS", 500)  # and both ways of reading postings
    texts = zipf_texts(2000, seed=3)
    lexical = build_lexical(texts)
    if removed:
        lexical.set_live(np.random.default_rng(1).permutation(len(texts))[:1500])
    rng = np.random.default_rng(2)
    pruned = {"sampled": 0, "gathered": 0}
    for _ in range(30):
        query = " ".join(f"w{i}" for i in rng.integers(0, 400, int(rng.integers(1, 9))))
        term_ids = lexical.term_ids(query)
        matched, scores = lexical.scores_of(query, term_ids)
        asked = rng.integers(0, lexical.n_documents, 20)
        for k in (1, 10, 100):
            positions, top_scores, at_scores = lexical.ranked(term_ids, k, at=asked)
            expected = np.lexsort((matched, -scores))[:k]
            np.testing.assert_array_equal(positions, matched[expected])
            np.testing.assert_array_equal(top_scores, scores[expected])
            dense_scores = np.zeros(lexical.n_documents, np.float32)
            dense_scores[matched] = scores
            np.testing.assert_array_equal(at_scores, dense_scores[asked])
        scratch, touched, n_terms = lexical._accumulated(term_ids)
        pruned["sampled"] += len(lexical._leading(scratch, 10)[0]) < len(matched)
        if touched is not None:
            pruned["gathered"] += len(lexical._leading_touched(scratch, touched, n_terms, 10)[0]) < len(matched)
        lexical._clear(scratch, touched)
    assert min(pruned.values()) >= 10  # each threshold did leave rows out, for a third of the queries at least


def test_a_bundle_of_term_counts_scores_alike(texts):
    """An index from term counts (what a bundle written before impacts were stored holds) is the same index."""
    from retrieval.runtime.lexical_builder import from_tf

    lexical = build_lexical(texts)
    tf = np.array(
        [
            sum(1 for token in texts[row].lower().split() if token == term.decode())
            for term, start, end in zip(lexical.terms, lexical.indptr[:-1], lexical.indptr[1:])
            for row in lexical.rows[start:end]
        ],
        dtype=np.float32,
    )
    old = from_tf(lexical.terms, lexical.indptr, lexical.rows, tf, lexical.lengths, k1=1.2, b=0.75)
    assert old.avgdl == pytest.approx(lexical.avgdl)
    np.testing.assert_allclose(old.impact, lexical.impact, rtol=1e-6)


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
