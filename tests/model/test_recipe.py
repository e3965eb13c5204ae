"""The retrieval-aligned recipe: neighbour graph, smoothed targets, the anchored encoder, warm-up, steps, BM25,
validation."""

import dataclasses
import json
import math

import numpy as np
import pytest
from conftest import TINY_CONFIG, TINY_FLAGS, make_corpus, run_cli, write_jsonl

from indexing import IndexingError, nearest_neighbours
from retrieval.config import AutoencoderConfig, BuildConfig, NeighbourConfig, TrainConfig
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.evaluation.bm25 import BM25
from retrieval.evaluation.text import evaluate
from retrieval.evaluation.validation import validate
from retrieval.model.neighbours import corpus_signals, neighbour_graph, smoothed, spectral_anchor


def built_config(path):
    """The BuildConfig recorded in a bundle's manifest."""
    from indexing import read_manifest
    from retrieval.config import BuildConfig

    return BuildConfig.from_dict(read_manifest(path)["config"])


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(5).standard_normal((300, 12)).astype(np.float32)


def test_nearest_neighbours_match_brute_force_cosine_and_skip_self(rows):
    found = nearest_neighbours(rows, 7)
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    expected = np.argsort(-cosine, axis=1, kind="stable")[:, :7]
    assert found.shape == (300, 7)
    assert not (found == np.arange(300)[:, None]).any()
    np.testing.assert_allclose(np.take_along_axis(cosine, found, 1), np.take_along_axis(cosine, expected, 1), atol=1e-5)


@pytest.mark.parametrize("k", [0, 300, -1])
def test_nearest_neighbours_k_must_leave_room(rows, k):
    with pytest.raises(IndexingError, match="k must be between 1 and 299"):
        nearest_neighbours(rows, k)


def test_nearest_neighbours_want_a_matrix():
    with pytest.raises(IndexingError, match="2-d array"):
        nearest_neighbours(np.zeros(5, dtype=np.float32), 1)


@pytest.fixture(scope="module")
def tfidf(corpus):
    from retrieval.text.featurize import TfidfFeaturizer

    return TfidfFeaturizer(TINY_CONFIG.tfidf).fit_transform(corpus.texts)


def test_neighbour_graph_is_row_stochastic_and_topical(tfidf, corpus):
    graph = neighbour_graph(tfidf, NeighbourConfig(k=5, dims=10))
    assert graph.shape == (100, 100)
    np.testing.assert_allclose(np.asarray(graph.sum(axis=1)).ravel(), 1.0, rtol=1e-6)
    assert (np.diff(graph.indptr) == 5).all() and graph.diagonal().sum() == 0
    labels = np.array(corpus.labels)
    neighbours = graph.indices.reshape(100, 5)
    assert (labels[neighbours] == labels[:, None]).mean() > 0.9  # the synthetic topics are easy


def test_smoothed_targets_are_distributions_mixing_in_the_neighbours(tfidf):
    graph = neighbour_graph(tfidf, NeighbourConfig(k=5, dims=10))
    targets = smoothed(tfidf, graph @ tfidf, 4.0, "l1")
    np.testing.assert_allclose(np.asarray(targets.sum(axis=1)).ravel(), 1.0, rtol=1e-5)
    own = smoothed(tfidf, graph @ tfidf, 0.0, "l1")
    assert (targets[0] > 0).sum() > (own[0] > 0).sum()  # words of the neighbours join each target


def test_spectral_anchor_is_orthonormal_and_spans_a_corpus_smaller_than_the_code(tfidf):
    anchor = spectral_anchor(tfidf, 8)
    assert anchor.shape == (tfidf.shape[1], 8) and anchor.dtype == np.float32
    np.testing.assert_allclose(anchor.T @ anchor, np.eye(8), atol=1e-4)
    small = spectral_anchor(tfidf[:5], 8)  # five documents span at most five directions; the rest start at zero
    assert small.shape == (tfidf.shape[1], 8)
    np.testing.assert_allclose(small[:, :5].T @ small[:, :5], np.eye(5), atol=1e-4)
    assert not small[:, 5:].any()
    residual = tfidf[:5].toarray() - tfidf[:5].toarray() @ small @ small.T
    np.testing.assert_allclose(residual, 0, atol=1e-4)


def test_signals_follow_the_config(tfidf):
    none = corpus_signals(tfidf, NeighbourConfig(k=0), "none", 8)
    assert none.targets is None and none.anchor is None
    lsa = corpus_signals(tfidf, NeighbourConfig(k=0), "lsa", 8)
    assert lsa.targets is None and lsa.anchor.shape == (tfidf.shape[1], 8)
    both = corpus_signals(tfidf, NeighbourConfig(k=5, dims=10), "smoothed_lsa", 8)
    assert both.targets.shape == tfidf.shape and not np.allclose(both.anchor, lsa.anchor, atol=1e-3)
    with pytest.raises(RetrievalError, match="smoothed_lsa anchor needs neighbours"):
        corpus_signals(tfidf, NeighbourConfig(k=0), "smoothed_lsa", 8)


def test_an_anchored_encoder_starts_at_its_anchor():
    from retrieval.model.builder import build_autoencoder

    config = AutoencoderConfig(hidden=(16,), code_size=4, anchor="lsa")
    anchor = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    models = build_autoencoder(30, config, seed=1, anchor=anchor)
    X = np.random.default_rng(1).random((6, 30)).astype(np.float32)
    np.testing.assert_allclose(models.encoder.predict(X, verbose=0), X @ anchor, rtol=1e-5, atol=1e-5)
    with pytest.raises(RetrievalError, match=r"must have shape \(30, 4\)"):
        build_autoencoder(30, config, anchor=anchor[:10])
    with pytest.raises(RetrievalError, match="needs its projection matrix"):
        build_autoencoder(30, config)


def test_warm_up_trains_the_decoder_alone_and_the_anchor_never(tfidf):
    from retrieval.model.builder import ANCHOR, build_autoencoder
    from retrieval.model.training import train

    model = dataclasses.replace(TINY_CONFIG.autoencoder, anchor="lsa")
    anchor = spectral_anchor(tfidf, 8)
    models = build_autoencoder(tfidf.shape[1], model, seed=0, anchor=anchor)
    code_before = models.encoder.get_layer("code").get_weights()[0].copy()
    history = train(models, tfidf, model, TrainConfig(steps=7, warmup_steps=14, batch_size=16, seed=0))
    assert len(history["warmup_loss"]) == 2 and len(history["loss"]) == 1
    np.testing.assert_array_equal(models.encoder.get_layer(ANCHOR).get_weights()[0], anchor)
    assert not np.array_equal(models.encoder.get_layer("code").get_weights()[0], code_before)  # trained after warm-up


def test_a_step_budget_becomes_whole_epochs():
    assert TrainConfig(steps=600, warmup_steps=300, batch_size=128).epochs_for(11293) == (4, 7)
    assert TrainConfig(steps=600, batch_size=128).epochs_for(100) == (0, 600)
    assert TrainConfig(epochs=5).epochs_for(10**6) == (0, 5)
    assert TrainConfig(steps=600, max_epochs=8, batch_size=128).epochs_for(5485) == (0, 8)  # 43 batches an epoch
    assert TrainConfig(steps=600, max_epochs=8, batch_size=128).epochs_for(54804) == (0, 2)
    assert BuildConfig().epochs_for(5485) == math.ceil(300 / 43) + 8


def test_anchor_config_is_checked_and_follows_the_kind():
    with pytest.raises(RetrievalError, match="anchor must be one of none, lsa, smoothed_lsa"):
        AutoencoderConfig(anchor="pca")
    with pytest.raises(RetrievalError, match="use anchor none with kind 'contractive'"):
        AutoencoderConfig(kind="contractive", anchor="lsa")
    assert BuildConfig().override(autoencoder={"kind": "variational"}).autoencoder.anchor == "none"
    assert (
        BuildConfig().override(autoencoder={"binarizer": "straight_through", "codes": "binary"}).autoencoder.anchor
        == "none"
    )
    assert BuildConfig().override(autoencoder={"kind": "sparse"}).autoencoder.anchor == "smoothed_lsa"
    assert BuildConfig().override(train={"epochs": 3}).train.steps == 0
    with pytest.raises(RetrievalError, match="neighbours k must be non-negative"):
        NeighbourConfig(k=-1)
    with pytest.raises(RetrievalError, match="smoothed_lsa anchor needs neighbours"):
        BuildConfig().override(neighbours={"k": 0})
    assert BuildConfig().override(neighbours={"k": 0}, autoencoder={"anchor": "lsa"}).autoencoder.anchor == "lsa"


def test_an_old_manifest_config_loads_without_the_recipe():
    old = BuildConfig().to_dict()
    del old["neighbours"], old["autoencoder"]["anchor"], old["train"]["steps"], old["train"]["warmup_steps"]
    config = BuildConfig.from_dict(old)
    assert config.autoencoder.anchor == "none" and config.train.steps == 0 and config.train.epochs == 20


def test_bm25_scores_match_the_formula():
    texts = ["apple banana apple", "banana cherry", "cherry cherry cherry date"]
    bm25 = BM25(k1=1.2, b=0.75).fit(texts)
    scores = bm25.scores(["apple cherry"])[0]
    avg = 3.0  # document lengths 3, 2 and 4

    def term(tf, df, length):
        return math.log1p((3 - df + 0.5) / (df + 0.5)) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avg))

    expected = [term(2, 1, 3), term(1, 2, 2), term(3, 2, 4)]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    with pytest.raises(NotFittedError, match="not fitted"):
        BM25().scores(["x"])
    with pytest.raises(RetrievalError, match="k1 >= 0 and 0 <= b <= 1"):
        BM25(b=2)


def test_evaluate_measures_bm25_and_needs_every_database_text(fitted, queries, corpus):
    report = evaluate(fitted, queries, k=10, database_texts=corpus.texts)
    assert "bm25" in [m["method"] for m in report["methods"]]
    with pytest.raises(RetrievalError, match="BM25 needs the text of each of the 100"):
        evaluate(fitted, queries, k=10, database_texts=corpus.texts[:5])


def test_leave_one_out_never_counts_the_query_itself(fitted, corpus):
    report = evaluate(fitted, corpus, k=1, baselines=False, exclude=np.arange(100))
    with_self = evaluate(fitted, corpus, k=1, baselines=False)
    assert with_self["methods"][0]["precision_at_k"] == 1.0  # every document finds itself first
    # left out, the first hit is another document: the same topic on this easy corpus, but not always
    assert report["methods"][0]["precision_at_k"] > 0.8


def test_validation_reports_codes_beside_lsa(fitted, corpus, queries):
    loo = validate(fitted, corpus=corpus, sample=40, k=10)
    assert loo["queries"] == 40 and not loo["held_out"] and loo["verdict"] in ("codes", "tie", "lsa")
    assert "LSA-32" in loo["message"] and "leave-one-out" in loo["message"]
    held = validate(fitted, queries=queries, k=10)
    assert held["held_out"] and held["queries"] == 20
    unlabelled = dataclasses.replace(corpus, labels=None)
    with pytest.raises(RetrievalError, match="no labels"):
        validate(fitted, corpus=unlabelled)


def test_build_checks_the_codes_and_says_so(tmp_path, corpus_file, queries_file):
    result = run_cli(
        "build", corpus_file, "--out", tmp_path / "i", *TINY_FLAGS, "--json", "--validate-queries", queries_file
    )
    assert result.exit_code == 0, result.stderr
    check = json.loads(result.stdout)["validation"]
    assert check["held_out"] and check["queries"] == 20
    info = run_cli("info", tmp_path / "i")
    assert "check" in info.stdout and "LSA-32" in info.stdout
    unlabelled = make_corpus(2, seed=9, prefix="u")
    write_jsonl(tmp_path / "u.jsonl", dataclasses.replace(unlabelled, labels=[None] * len(unlabelled)))
    bad = run_cli(
        "build", corpus_file, "--out", tmp_path / "j", *TINY_FLAGS, "--validate-queries", tmp_path / "u.jsonl"
    )
    assert bad.exit_code == 1 and "has no labels" in bad.stderr and not (tmp_path / "j").exists()
    both = run_cli("build", corpus_file, "--out", tmp_path / "j", "--no-validate", "--validate-queries", queries_file)
    assert both.exit_code == 1 and "contradict" in both.stderr
    wrong = run_cli("build", corpus_file, "--out", tmp_path / "j", "--kind", "contractive", "--anchor", "lsa")
    assert wrong.exit_code == 1 and "use anchor none with kind 'contractive'" in wrong.stderr
    lonely = run_cli("build", corpus_file, "--out", tmp_path / "j", "--neighbours", "0")
    assert lonely.exit_code == 1 and "smoothed_lsa anchor needs neighbours" in lonely.stderr
    plain_lsa = run_cli(
        "build", corpus_file, "--out", tmp_path / "k", *TINY_FLAGS, "--neighbours", "0", "--anchor", "lsa", "--json"
    )
    assert plain_lsa.exit_code == 0, plain_lsa.stderr
    assert built_config(tmp_path / "k").autoencoder.anchor == "lsa"
