"""Small corpora build with the default TF-IDF settings; corpora with no terms get an error naming the flag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_FLAGS, run_cli

from retrieval.config import TfidfConfig
from retrieval.errors import RetrievalError
from retrieval.text.featurize import TfidfFeaturizer, effective_df

THREE = ["Solar panels convert sunlight", "River boats carry heavy cargo", "Violin concertos need daily practice"]
STOP_WORDS_ONLY = ["the and of", "a an the", "it is what it is"]


def unique_word_corpus(n: int) -> list[str]:
    """``n`` documents sharing no word, so min_df >= 2 leaves nothing."""
    return [f"zq{i}word zq{i}term" for i in range(n)]


@pytest.mark.parametrize(
    "min_df, max_df, n_docs, expected",
    [
        (2, 0.5, 1, (1, 1.0)),
        (2, 0.5, 3, (1, 0.5)),
        (2, 0.5, 19, (1, 0.5)),
        (2, 0.5, 20, (2, 0.5)),
        (2, 0.5, 100_000, (2, 0.5)),
        (5, 0.5, 30, (3, 0.5)),
        (5, 0.1, 9, (1, 1.0)),
    ],
)
def test_effective_df_follows_the_corpus_size(min_df, max_df, n_docs, expected):
    assert effective_df(TfidfConfig(min_df=min_df, max_df=max_df), n_docs) == expected


def test_a_three_document_corpus_fits_with_the_defaults():
    featurizer = TfidfFeaturizer().fit(THREE)
    assert (featurizer.min_df_, featurizer.max_df_) == (1, 0.5)
    assert {"solar", "cargo", "violin"} <= set(featurizer.vocabulary_)
    X = featurizer.transform(THREE)
    assert X.shape == (3, featurizer.n_features_)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)).A1, 1.0, rtol=1e-5)


def test_a_one_document_corpus_fits_with_the_defaults():
    featurizer = TfidfFeaturizer().fit(["The quick brown fox jumps over the lazy dog"])
    assert (featurizer.min_df_, featurizer.max_df_) == (1, 1.0)
    assert featurizer.vocabulary_ == ["brown", "dog", "fox", "jumps", "lazy", "quick"]


def test_a_large_enough_corpus_keeps_the_configured_min_df():
    texts = unique_word_corpus(30) + ["shared words here"] * 2
    featurizer = TfidfFeaturizer(TfidfConfig(max_df=1.0)).fit(texts)
    assert featurizer.min_df_ == 2 and featurizer.vocabulary_ == ["shared", "words"]


def test_a_corpus_of_stop_words_names_the_stop_words_flag():
    with pytest.raises(
        RetrievalError,
        match="no terms left to index in 3 texts: every word is an english stop word; keep them with --stop-words none",
    ):
        TfidfFeaturizer().fit(STOP_WORDS_ONLY)
    assert "what" in TfidfFeaturizer(TfidfConfig(stop_words="none")).fit(STOP_WORDS_ONLY).vocabulary_


def test_texts_without_words_name_the_text_field_flag():
    with pytest.raises(RetrievalError, match=r"they hold no words .* check the text field \(--text-field\)"):
        TfidfFeaturizer(TfidfConfig(stop_words="none")).fit(["!!", "a b", ""])


def test_pruning_every_term_names_the_min_df_and_max_df_flags():
    with pytest.raises(
        RetrievalError,
        match=r"no term is in at least min_df=2 and at most max_df=0.5 of them; "
        r"lower --min-df or raise --max-df",
    ):
        TfidfFeaturizer().fit(unique_word_corpus(40))


def test_the_effective_values_round_trip_and_an_older_dict_without_them_loads():
    featurizer = TfidfFeaturizer().fit(THREE)
    data = json.loads(json.dumps(featurizer.to_dict()))
    assert data["effective"] == {"min_df": 1, "max_df": 0.5}
    again = TfidfFeaturizer.from_dict(data)
    assert (again.min_df_, again.max_df_) == (1, 0.5)

    older = {key: value for key, value in data.items() if key != "effective"}
    loaded = TfidfFeaturizer.from_dict(older)
    assert loaded.min_df_ is None and loaded.max_df_ is None  # not recorded, so not guessed
    assert (loaded.transform(THREE) != featurizer.transform(THREE)).nnz == 0
    assert TfidfFeaturizer.from_dict(loaded.to_dict()).vocabulary_ == featurizer.vocabulary_


def flags_without_tfidf(flags: list[str]) -> list[str]:
    """TINY_FLAGS (small, fast training) without --min-df and --max-df, so the defaults apply."""
    kept, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag in ("--min-df", "--max-df"):
            skip = True
        else:
            kept.append(flag)
    return kept


def write_texts(path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": text}) + "\n" for i, text in enumerate(texts)))


def test_cli_builds_a_three_document_corpus_with_the_default_tfidf_flags(tmp_path):
    corpus, out = tmp_path / "three.jsonl", tmp_path / "index"
    write_texts(corpus, THREE)
    flags = flags_without_tfidf(TINY_FLAGS)
    assert "--min-df" not in flags and "--max-df" not in flags and "--seed" in flags
    result = run_cli("build", corpus, "--out", out, *flags, "--json")  # the default anchor too
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents"] == 3 and summary["vocabulary_size"] == 14
    assert json.loads((out / "vectorizer.json").read_text())["effective"] == {"min_df": 1, "max_df": 0.5}


def test_cli_build_of_stop_words_names_the_flag(tmp_path):
    corpus = tmp_path / "stop.jsonl"
    write_texts(corpus, STOP_WORDS_ONLY)
    result = run_cli("build", corpus, "--out", tmp_path / "index", *flags_without_tfidf(TINY_FLAGS))
    assert result.exit_code == 1 and "--stop-words none" in result.stderr
