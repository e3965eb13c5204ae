"""Binary codes: packed bits in a FAISS binary index, ITQ, the near-binary code layer, re-ranking."""

import json

import faiss
import numpy as np
import pytest
from conftest import TINY_CONFIG, run_cli

from indexing import BinaryIndex, IndexingError, hamming_distances, pack_bits, read_index, read_manifest
from retrieval.config import AutoencoderConfig, BuildConfig
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.evaluation.itq import ITQ
from retrieval.evaluation.text import evaluate, rerank
from retrieval.runtime.encoder import binarize
from retrieval.text.index import TextIndex

BINARY_CONFIG = TINY_CONFIG.override(autoencoder={"codes": "binary", "code_size": 16})


def random_codes(n, n_bytes, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, n_bytes), dtype=np.uint8)


@pytest.fixture(scope="module")
def binary_fitted(corpus):
    return TextIndex(BINARY_CONFIG).fit(corpus)


def test_pack_bits_round_trips_and_refuses_bad_shapes():
    bits = np.random.default_rng(0).integers(0, 2, size=(5, 24))
    packed = pack_bits(bits)
    assert packed.dtype == np.uint8 and packed.shape == (5, 3)
    assert (np.unpackbits(packed, axis=1) == bits).all()
    with pytest.raises(IndexingError, match=r"multiple of 8; got \(5, 12\)"):
        pack_bits(bits[:, :12])
    with pytest.raises(IndexingError, match="only 0 and 1"):
        pack_bits(bits * 2)


@pytest.mark.parametrize("n_bytes", [3, 8, 16])
def test_hamming_distances_match_counting_bits(n_bytes):
    queries, stored = random_codes(7, n_bytes, 1), random_codes(50, n_bytes, 2)
    naive = (np.unpackbits(queries, axis=1)[:, None, :] != np.unpackbits(stored, axis=1)[None, :, :]).sum(axis=2)
    assert (hamming_distances(queries, stored) == naive).all()


def test_binary_search_is_exact_and_breaks_ties_by_position():
    stored, queries = random_codes(300, 8, 3), random_codes(20, 8, 4)
    doc_ids = [f"d{i}" for i in range(300)]
    index = BinaryIndex(64).add(stored, doc_ids)
    hits = index.search(queries, 10)
    distances = hamming_distances(queries, stored)
    expected = np.argsort(distances, axis=1, kind="stable")[:, :10]
    assert (hits.positions == expected).all()
    assert np.allclose(hits.scores, 1 - np.take_along_axis(distances, expected, axis=1) / 64)
    assert hits.doc_ids[0][0] == doc_ids[expected[0, 0]]
    assert np.allclose(index.scores(queries), 1 - distances / 64)
    assert index.search(queries[:1], 1000).positions.shape == (1, 300)  # k beyond n: everything


def test_binary_index_round_trips_and_costs_n_bits_over_8_bytes(tmp_path):
    stored = random_codes(100, 8, 5)
    index = BinaryIndex(64).add(stored, [f"d{i}" for i in range(100)])
    index.write(tmp_path / "index.faiss")
    loaded = read_index(tmp_path / "index.faiss", [f"d{i}" for i in range(100)], "hamming")
    assert isinstance(loaded, BinaryIndex) and loaded.dim == 64 and loaded.n_bytes == 8
    assert (loaded.stored() == stored).all() and (loaded.reconstruct("d7") == stored[7]).all()
    assert faiss.downcast_IndexBinary(loaded._index.index).code_size == 8


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda i: BinaryIndex(12), "positive multiple of 8 bits; got 12"),
        (
            lambda i: i.add(np.zeros((2, 8), np.float32), ["a", "b"]),
            r"packed bits, uint8 of shape \(n, 8\); got float32",
        ),
        (lambda i: i.add(np.zeros((2, 4), np.uint8), ["a", "b"]), r"uint8 of shape \(n, 8\); got uint8 \(2, 4\)"),
        (lambda i: i.add(np.zeros((2, 8), np.uint8), ["a"]), "got 2 codes but 1 document ids"),
        (lambda i: i.search(np.zeros((1, 8), np.uint8), 0), "k must be a positive whole number, got 0"),
        (lambda i: i.search(np.zeros((1, 8), np.uint8), 1), "the index is empty"),
    ],
)
def test_binary_index_bad_input_names_the_problem(call, message):
    with pytest.raises(IndexingError, match=message):
        call(BinaryIndex(64))


def test_reading_a_damaged_binary_index_names_the_file(tmp_path):
    (tmp_path / "index.faiss").write_bytes(b"not an index")
    with pytest.raises(IndexingError, match="cannot read binary FAISS index .*index.faiss"):
        read_index(tmp_path / "index.faiss", [], "hamming")
    BinaryIndex(16).add(random_codes(3, 2, 0), "abc").write(tmp_path / "three.faiss")
    with pytest.raises(IndexingError, match="holds 3 codes but the id list has 2 ids"):
        read_index(tmp_path / "three.faiss", ["a", "b"], "hamming")


def test_itq_rotation_lowers_the_quantisation_error():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 60)) @ rng.standard_normal((60, 60))  # correlated features
    itq = ITQ(16, seed=0).fit(X)
    V = itq.svd_.transform(X) - itq.mean_

    def agreement(R):  # tr(B^T V R) with B = sign(V R): min ||B - V R||_F over B is max of this
        return np.abs(V @ R).sum()

    assert np.allclose(itq.rotation_ @ itq.rotation_.T, np.eye(16), atol=1e-8)
    random_rotation = np.linalg.qr(rng.standard_normal((16, 16)))[0]
    assert agreement(itq.rotation_) > 1.03 * max(agreement(np.eye(16)), agreement(random_rotation))
    codes = itq.transform(X)
    assert codes.shape == (400, 2) and codes.dtype == np.uint8
    assert (ITQ(16, seed=0).fit(X).transform(X) == codes).all()  # seeded: repeatable
    with pytest.raises(NotFittedError, match="not fitted"):
        ITQ(16).transform(X)
    with pytest.raises(RetrievalError, match="positive multiple of 8; got 10"):
        ITQ(10)


def test_the_binary_code_layer_is_exactly_binary_in_training_and_learns():
    from retrieval.model._tf import keras
    from retrieval.model.blocks import BinaryCode

    layer = BinaryCode(16, binarizer="straight_through", seed=0)
    x = np.random.default_rng(0).standard_normal((32, 8)).astype(np.float32)
    trained, inferred = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=False))
    assert set(np.unique(trained)) <= {0.0, 1.0}
    assert ((inferred > 0) & (inferred < 1)).all() and (trained == (inferred > 0.5)).all()
    model = keras.Sequential([keras.Input((8,)), layer, keras.layers.Dense(8)])
    model.compile("adam", "mse")
    before = layer.get_weights()[0].copy()
    model.fit(x, x, epochs=2, verbose=0)
    assert not np.allclose(before, layer.get_weights()[0])  # the straight-through gradient reached it


@pytest.mark.parametrize("codes, center", [("float", True), ("binary", False)])
def test_the_map_fitted_after_training_keeps_the_decoder_consistent(corpus, tmp_path, codes, center):
    from retrieval.model.builder import build_autoencoder
    from retrieval.model.codes import fit_code_map
    from retrieval.model.fit import load_keras
    from retrieval.model.training import encode
    from retrieval.text.featurize import TfidfFeaturizer

    config = TINY_CONFIG.override(autoencoder={"codes": codes, "code_size": 16, "anchor": "none"})
    X = TfidfFeaturizer(config.tfidf).fit_transform(corpus.texts)[:40].toarray()
    models = build_autoencoder(X.shape[1], config.autoencoder, seed=0)
    before = encode(models.decoder, encode(models.encoder, X))
    finished, runtime, transformed = fit_code_map(models, X, config.autoencoder)
    assert np.allclose(encode(finished.encoder, X), transformed, atol=1e-5)  # the numpy export matches Keras
    assert np.allclose(encode(finished.decoder, transformed), before, atol=1e-5)  # the inverse undoes the map
    if center:
        assert np.allclose(transformed.mean(axis=0), 0, atol=1e-5)
    else:  # ITQ: a rotation of the centred codes, squashed so that 0.5 is the sign
        raw = encode(models.encoder, X)
        signs = (raw - raw.mean(axis=0)) @ finished.encoder.get_layer("code_transform").get_weights()[1] >= 0
        assert ((transformed > 0.5) == signs).all()
    for model, rows in ((finished.encoder, X), (finished.decoder, transformed)):  # saved, loaded in safe mode
        model.save(tmp_path / "model.keras")
        assert np.allclose(
            encode(load_keras((tmp_path / "model.keras").read_bytes(), "model.keras"), rows),
            encode(model, rows),
            atol=1e-6,
        )


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: AutoencoderConfig(codes="binary", code_size=12), "bits must be a multiple of 8; got 12"),
        (
            lambda: AutoencoderConfig(codes="binary", code_size=16, kind="sparse", binarizer="straight_through"),
            "the straight_through binarizer works with the plain and denoising kinds; got kind 'sparse'",
        ),
        (lambda: AutoencoderConfig(codes="bits"), "codes must be one of float, binary; got 'bits'"),
        (
            lambda: AutoencoderConfig(binarizer="sign"),
            "binarizer must be one of itq, straight_through, noise; got 'sign'",
        ),
        (
            lambda: BuildConfig(autoencoder=AutoencoderConfig(codes="binary", code_size=16), metric="l2"),
            "metric 'l2' does not fit binary codes",
        ),
        (lambda: BuildConfig(metric="hamming"), "metric 'hamming' does not fit float codes"),
    ],
)
def test_bad_binary_config_names_the_value(make, message):
    with pytest.raises(RetrievalError, match=message):
        make()


def test_binary_config_defaults_to_hamming_and_back():
    binary = BuildConfig().override(autoencoder={"codes": "binary", "code_size": 64})
    assert binary.metric == "hamming"
    assert binary.override(autoencoder={"codes": "float"}).metric == "cosine"
    assert BuildConfig.from_dict(binary.to_dict()) == binary


def test_binary_index_retrieves_by_topic_and_round_trips(binary_fitted, queries, tmp_path):
    assert isinstance(binary_fitted.index_, BinaryIndex) and binary_fitted.index_.dim == 16
    report = evaluate(binary_fitted, queries, k=10)
    names = [m["method"] for m in report["methods"]]
    assert names == ["autoencoder-16bit", "tfidf-cosine", "lsa-16", "itq-16bit"]
    assert report["methods"][0]["precision_at_k"] > 0.6  # four topics: chance is 0.25
    manifest = binary_fitted.save(tmp_path / "binary")
    assert manifest["metric"] == "hamming" and manifest["files"]["index.faiss"]["bytes"] < 100 * (2 + 8) + 200
    loaded = TextIndex.load(tmp_path / "binary")
    assert loaded.search(queries.texts, 5) == binary_fitted.search(queries.texts, 5)
    codes = binary_fitted.encode(queries.texts)
    assert (binary_fitted.faiss_codes(codes) == binarize(codes)).all()


@pytest.mark.parametrize("index_name", ["fitted", "binary_fitted"])
def test_rerank_orders_the_shortlist_by_exact_tfidf_cosine(index_name, request, queries):
    index = request.getfixturevalue(index_name)
    n = len(index.index_)
    cosines = (index.features(queries.texts) @ index.tfidf_.T).toarray()
    results = index.search(queries.texts, 5, rerank=n)  # the whole database: exactly TF-IDF cosine
    for row, hits in zip(cosines, results):
        assert [h.score for h in hits] == pytest.approx(sorted(row, reverse=True)[:5], abs=1e-6)
    hits = index.search(queries.texts[:1], 5, rerank=10)[0]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    like = index.similar_to(index.index_.id_map.doc_ids[0], 3, rerank=20)
    assert len(like) == 3 and index.index_.id_map.doc_ids[0] not in [h.doc_id for h in like]
    with pytest.raises(RetrievalError, match="rerank must be a whole number of candidates"):
        index.search(queries.texts, 5, rerank=-1)


def test_rerank_keeps_the_tail_and_evaluate_reports_it(fitted, queries):
    ranks = np.array([[3, 1, 2, 0]])
    assert rerank(ranks, np.array([[0.0, 0.5, 0.9, 0.1]]), 2).tolist() == [[1, 3, 2, 0]]
    report = evaluate(fitted, queries, k=10, rerank_n=30, lsa_dims=(4,))
    assert [m["method"] for m in report["methods"]] == [
        "autoencoder-8",
        "autoencoder-8+rerank-30",
        "tfidf-cosine",
        "lsa-8",
        "lsa-4",
    ]
    with pytest.raises(RetrievalError, match="LSA sizes must be positive whole numbers; got 0"):
        evaluate(fitted, queries, lsa_dims=(0,))


TINY = [
    "--input-dropout",
    "0.2",
    "--max-features",
    "500",
    "--min-df",
    "1",
    "--max-df",
    "1.0",
    "--hidden",
    "32,16",
    "--epochs",
    "4",
    "--batch-size",
    "16",
    "--learning-rate",
    "0.003",
    "--seed",
    "7",
]


def test_cli_builds_queries_and_evaluates_binary_codes(tmp_path, corpus_file, queries_file):
    out = tmp_path / "bin"
    result = run_cli("build", corpus_file, "--out", out, *TINY, "--bits", "16", "--binarizer", "straight_through")
    assert result.exit_code == 0, result.stderr
    assert read_manifest(out)["config"]["autoencoder"]["binarizer"] == "straight_through"
    assert "16-bit codes (2 bytes each)" in result.stdout
    info = run_cli("info", out)
    assert "16 bits, 2 bytes per document (hamming, straight_through binarizer)" in " ".join(info.stdout.split())
    answer = json.loads(run_cli("query", out, "aeword0 afword1 agword2", "-k", "3", "--rerank", "10", "--json").stdout)
    assert len(answer["hits"]) == 3
    report = json.loads(
        run_cli(
            "evaluate", out, "--queries", queries_file, "-k", "10", "--rerank", "20", "--lsa-dims", "8", "--json"
        ).stdout
    )
    assert [m["method"] for m in report["methods"]] == [
        "autoencoder-16bit",
        "autoencoder-16bit+rerank-20",
        "tfidf-cosine",
        "lsa-16",
        "lsa-8",
        "itq-16bit",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bits", "12"], "--bits must be a positive multiple of 8 such as 32, 64 or 128; got 12"),
        (["--bits", "0"], "--bits must be a positive multiple of 8 such as 32, 64 or 128; got 0"),
        (["--codes", "binary", "--code-size", "12"], "bits must be a multiple of 8; got 12"),
        (["--bits", "16", "--codes", "float"], "--bits applies to binary codes"),
        (["--bits", "16", "--code-size", "32"], "--bits 16 and --code-size 32 disagree"),
        (
            ["--codes", "binary", "--kind", "variational", "--code-size", "16", "--binarizer", "noise"],
            "the noise binarizer works with the plain and denoising kinds",
        ),
        (["--codes", "binary", "--code-size", "16", "--metric", "l2"], "metric 'l2' does not fit binary codes"),
    ],
)
def test_bad_binary_flags_are_one_clear_line(tmp_path, corpus_file, args, message):
    result = run_cli("build", corpus_file, "--out", tmp_path / "o", *TINY, *args)
    assert result.exit_code == 1 and message in " ".join(result.stderr.split())
    assert not (tmp_path / "o").exists()


def test_bad_rerank_and_lsa_flags(cli_index, queries_file):
    result = run_cli("query", cli_index, "text", "--rerank", "-3")
    assert result.exit_code == 1 and "rerank must be a whole number of candidates (0 = off); got -3" in result.stderr
    result = run_cli("evaluate", cli_index, "--queries", queries_file, "--lsa-dims", "8,x")
    assert result.exit_code == 1 and "--lsa-dims must be comma-separated whole numbers" in result.stderr


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, fitted):
    path = tmp_path_factory.mktemp("rerank") / "index"
    fitted.save(path)
    return path
