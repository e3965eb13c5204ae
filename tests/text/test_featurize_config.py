"""The TF-IDF featurizer as plain data, and validated configuration."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from retrieval.config import AutoencoderConfig, BuildConfig, TfidfConfig, TrainConfig
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.runtime.tfidf import load_csr, save_csr
from retrieval.text.featurize import TfidfFeaturizer


def test_round_trip_through_plain_json_transforms_identically(tmp_path, corpus):
    featurizer = TfidfFeaturizer(TfidfConfig(max_features=300, min_df=2, max_df=0.9)).fit(corpus.texts)
    featurizer.save(tmp_path / "v.json")
    saved = json.loads((tmp_path / "v.json").read_text())
    assert set(saved) == {"config", "vocabulary", "idf", "effective"}
    again = TfidfFeaturizer.load(tmp_path / "v.json")
    a, b = featurizer.transform(corpus.texts[:10]), again.transform(corpus.texts[:10])
    assert a.dtype == np.float32 and sp.isspmatrix_csr(a)
    assert (a != b).nnz == 0
    np.testing.assert_allclose(sp.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert featurizer.n_features_ <= 300


def test_not_fitted_and_malformed_input(corpus):
    featurizer = TfidfFeaturizer()
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        featurizer.transform(["text"])
    fitted = TfidfFeaturizer(TfidfConfig(min_df=1, max_df=1.0)).fit(corpus.texts)
    with pytest.raises(RetrievalError, match="takes a list of texts, not a single string"):
        fitted.transform("one string")
    with pytest.raises(RetrievalError, match="incomplete or malformed"):
        TfidfFeaturizer.from_dict({"vocabulary": []})
    data = fitted.to_dict()
    with pytest.raises(RetrievalError, match="vocabulary and idf do not match"):
        TfidfFeaturizer.from_dict({**data, "idf": data["idf"][:-1]})


def test_a_corpus_with_no_usable_terms_is_a_clear_error():
    with pytest.raises(RetrievalError, match="no terms left to index"):
        TfidfFeaturizer(TfidfConfig(min_df=5)).fit(["the and of", "a an the"])


def test_csr_round_trip_without_pickle(tmp_path):
    X = sp.random(20, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
    save_csr(tmp_path / "x.npz", X)
    Y = load_csr((tmp_path / "x.npz").read_bytes())
    assert Y.shape == X.shape and (X != Y).nnz == 0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: TfidfConfig(max_features=0), "max_features must be positive; got 0"),
        (lambda: TfidfConfig(max_df=1.5), r"max_df must be a fraction in \(0, 1\]; got 1.5"),
        (lambda: TfidfConfig(stop_words="french"), "stop_words must be one of english, none; got 'french'"),
        (lambda: AutoencoderConfig(hidden=(10, 0)), "every hidden layer size must be positive"),
        (lambda: AutoencoderConfig(activation="swish2"), "activation must be one of relu, .*; got 'swish2'"),
        (
            lambda: AutoencoderConfig(output="softmax", loss="mse"),
            "loss for a softmax output must be one of categorical_crossentropy",
        ),
        (lambda: AutoencoderConfig(input_dropout=1.0), r"input_dropout must be in \[0, 1\); got 1.0"),
        (lambda: TrainConfig(epochs=0), "epochs must be positive; got 0"),
        (
            lambda: TrainConfig(optimizer="lbfgs"),
            "optimizer must be one of adam, adamw, sgd, rmsprop, adadelta; got 'lbfgs'",
        ),
        (lambda: TrainConfig(validation_fraction=0.7), r"validation_fraction must be in \[0, 0.5\)"),
        (lambda: TrainConfig(checkpoint="best.h5"), "checkpoint must be a path ending in .keras"),
        (lambda: BuildConfig(metric="dot"), "metric must be one of cosine, l2, hamming; got 'dot'"),
    ],
)
def test_bad_config_names_the_value_and_the_choices(make, message):
    with pytest.raises(RetrievalError, match=message):
        make()


def test_override_replaces_given_fields_and_matches_the_loss_to_a_new_output():
    base = BuildConfig()
    changed = base.override(tfidf={"min_df": 3, "max_df": None}, autoencoder={"output": "sigmoid"}, train={"epochs": 2})
    assert changed.tfidf.min_df == 3 and changed.tfidf.max_df == base.tfidf.max_df
    assert changed.autoencoder.loss == "binary_crossentropy" and changed.train.epochs == 2
    assert base.override(autoencoder={"output": "sigmoid", "loss": "mse"}).autoencoder.loss == "mse"
    with pytest.raises(RetrievalError, match="output must be one of softmax, sigmoid, linear; got 'relu'"):
        base.override(autoencoder={"output": "relu"})


def test_config_round_trips_through_a_dict():
    config = BuildConfig(autoencoder=AutoencoderConfig(hidden=[64, 32], code_size=16), train=TrainConfig(epochs=3))
    data = json.loads(json.dumps(config.to_dict()))
    assert BuildConfig.from_dict({**data, "future_field": 1}) == config
