"""The numpy query path: the exported encoder equals Keras, TF-IDF equals scikit-learn, one generation per load."""

import json
import shutil

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import TINY_CONFIG, run_cli

from indexing import IndexingError
from indexing.bundle import sha256_file
from retrieval.config import AutoencoderConfig
from retrieval.errors import RetrievalError
from retrieval.runtime.encoder import Encoder
from retrieval.runtime.tfidf import TfidfTransform
from retrieval.text.index import TextIndex

KINDS = [
    dict(kind="plain", anchor="lsa", hidden=(20, 10), code_size=4),
    dict(kind="denoising", activation="elu", hidden=(20,)),
    dict(kind="sparse", activation="selu", hidden=(20,)),
    dict(kind="contractive", activation="gelu", code_activation="tanh", hidden=(20,)),
    dict(kind="variational", activation="tanh", hidden=(20,)),
    dict(kind="plain", codes="binary", binarizer="straight_through", code_size=16, activation="sigmoid", hidden=(20,)),
    dict(kind="plain", codes="binary", binarizer="itq", code_size=16, hidden=()),
]


@pytest.mark.parametrize("options", KINDS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_the_exported_encoder_matches_keras_for_every_kind(options):
    from retrieval.model.builder import build_autoencoder, with_code_transform
    from retrieval.model.export import export_encoder
    from retrieval.model.training import encode

    rng = np.random.default_rng(0)
    config = AutoencoderConfig(**{"code_size": 8, **options})
    anchor = rng.standard_normal((50, config.code_size)).astype(np.float32) if config.anchor != "none" else None
    models = build_autoencoder(50, config, seed=1, anchor=anchor)
    size = config.code_size
    models = with_code_transform(
        models,
        rng.standard_normal(size),
        np.linalg.qr(rng.standard_normal((size, size)))[0],
        squash=config.codes == "binary",
    )
    X = sp.random(30, 50, density=0.2, format="csr", dtype=np.float32, random_state=2)
    runtime = export_encoder(models.encoder)
    np.testing.assert_allclose(runtime.encode(X), encode(models.encoder, X), atol=1e-5)
    # saved as JSON + .npz and read back: the same codes, bit for bit
    again = Encoder.from_bytes(json.dumps(runtime.spec()).encode(), runtime.npz_bytes())
    np.testing.assert_array_equal(again.encode(X), runtime.encode(X))


def test_the_exported_conv_encoder_matches_keras_with_tensorflows_same_padding():
    from retrieval.images.data import image_model
    from retrieval.model.builder import build_autoencoder
    from retrieval.model.export import export_encoder
    from retrieval.model.training import encode

    config = image_model("conv", code_size=8)
    models = build_autoencoder(784, config, seed=0)
    X = np.random.default_rng(3).random((12, 784), dtype=np.float32)
    np.testing.assert_allclose(export_encoder(models.encoder).encode(X), encode(models.encoder, X), atol=1e-5)


def test_the_runtime_tfidf_equals_scikit_learn(corpus, queries):
    from retrieval.text.featurize import TfidfFeaturizer

    texts = queries.texts + ["", "the and of", "Ünïcode wörds AEWORD0 aeword0 a", "x" * 3]
    for config in (TINY_CONFIG.tfidf, TINY_CONFIG.override(tfidf={"sublinear_tf": False, "stop_words": "none"}).tfidf):
        featurizer = TfidfFeaturizer(config).fit(corpus.texts + ["wörds ünïcode"] * 2)
        expected = featurizer.transform(texts)
        got = TfidfTransform.from_dict(featurizer.to_dict()).transform(texts)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=1e-6)


@pytest.mark.parametrize("chunk", [1, 7, 10**9])
def test_the_tfidf_lookup_in_chunks_changes_nothing(corpus, queries, monkeypatch, chunk):
    from retrieval.runtime import tfidf
    from retrieval.text.featurize import TfidfFeaturizer

    texts = queries.texts + ["", "x" * 3] + corpus.texts[:5]
    featurizer = TfidfFeaturizer(TINY_CONFIG.tfidf).fit(corpus.texts)
    expected = featurizer.transform(texts)
    monkeypatch.setattr(tfidf, "LOOKUP_CHUNK", chunk)
    got = TfidfTransform.from_dict(featurizer.to_dict()).transform(texts)
    np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=1e-6)


def test_bad_runtime_input_names_the_problem():
    transform = TfidfTransform(["aa", "bb"], np.ones(2))
    with pytest.raises(RetrievalError, match="a list of texts, not a single string"):
        transform.transform("aa bb")
    with pytest.raises(RetrievalError, match="a text must be a string; got int"):
        transform.transform(["aa", 3])
    with pytest.raises(RetrievalError, match="vocabulary and idf do not match"):
        TfidfTransform(["aa"], np.ones(2))
    with pytest.raises(RetrievalError, match="exported encoder is malformed"):
        Encoder.from_bytes(b"{not json", b"")
    with pytest.raises(RetrievalError, match="unknown step 'lstm'"):
        Encoder([{"op": "lstm", "name": "x", "inputs": ["features"]}], {}, 4)


@pytest.mark.parametrize("codes", ["float", "binary"])
def test_a_document_queried_by_its_own_text_finds_itself_first(corpus, fitted, codes, tmp_path):
    index = (
        fitted
        if codes == "float"
        else TextIndex(TINY_CONFIG.override(autoencoder={"codes": "binary", "code_size": 16})).fit(corpus)
    )
    index.save(tmp_path / "index")
    for one in (index, TextIndex.load(tmp_path / "index")):
        # the stored codes are exactly the codes the query path gives the same texts: no bit differs
        # (a float index stores unit-length codes: _prepare is what it does to codes it is given)
        expected = one.index_._prepare(one.faiss_codes(one.encode(corpus.texts)), "codes")
        np.testing.assert_array_equal(expected, one.index_.stored())
        for doc_id, hits in zip(corpus.doc_ids, one.search(corpus.texts, k=len(corpus))):
            best = [hit.doc_id for hit in hits if hit.score == hits[0].score]
            assert doc_id in best and hits[0].score == pytest.approx(1.0)
            if codes == "float":
                assert hits[0].doc_id == doc_id


def test_a_query_with_no_known_term_matches_nothing_and_says_so(fitted, bundle_dir, corpus):
    results = fitted.search(["the and of", "zzzunknown", corpus.texts[0]], k=3)
    assert [r.known_terms for r in results] == [0, 0, len(set(corpus.texts[0].split()))]
    assert results[0] == [] and results[1] == [] and len(results[2]) == 3
    result = run_cli("query", bundle_dir, "the and of", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == {
        "query": "the and of",
        "known_terms": 0,
        "mode": "hybrid",
        "hits": [],
    }
    assert "no term the index knows" in result.stderr


def _rewrite(path, name, text):
    """Replace a file and its checksum in the manifest, as a careless tool might."""
    (path / name).write_text(text)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": (path / name).stat().st_size, "sha256": sha256_file(path / name)}
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("doc_ids.json", "{bad json", "doc_ids.json is not valid JSON"),
        ("doc_ids.json", '{"a": 1}', "doc_ids.json must be a JSON list of strings"),
        ("metadata.jsonl", "not json\n", "line 1 of metadata.jsonl is not valid JSON"),
        ("metadata.jsonl", "[1, 2]\n", "line 1 of metadata.jsonl must be an object"),
        ("vectorizer.json", '{"config": {}}', "vectorizer.json is not valid JSON|vectorizer is incomplete"),
        ("encoder.json", '{"format": 1}', "exported encoder is malformed"),
    ],
)
def test_malformed_files_whose_checksums_match_are_clean_errors(tmp_path, bundle_dir, name, text, message):
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    _rewrite(broken, name, text)
    with pytest.raises((IndexingError, RetrievalError), match=message):
        TextIndex.load(broken)
    result = run_cli("query", broken, "text")
    assert result.exit_code == 1 and "error:" in result.stderr


def test_a_loaded_index_answers_from_its_own_generation_after_a_rebuild(tmp_path, corpus, queries):
    from retrieval.text.corpus import Corpus

    path = tmp_path / "index"
    first = TextIndex(TINY_CONFIG).fit(corpus)
    first.save(path)
    loaded = TextIndex.load(path)
    texts = (queries.texts * 3)[: len(corpus) // 2]
    other = Corpus(doc_ids=[f"new-{i}" for i in range(len(texts))], texts=texts, titles=[""] * len(texts))
    TextIndex(TINY_CONFIG).fit(other).save(path)  # swapped in underneath the loaded one
    assert (loaded.tfidf_ != first.tfidf_).nnz == 0  # read after the swap, from the first generation
    before = first.search(queries.texts, k=5, rerank=20)
    after = loaded.search(queries.texts, k=5, rerank=20)
    assert [[h.doc_id for h in row] for row in after] == [[h.doc_id for h in row] for row in before]
    assert TextIndex.load(path).search(queries.texts[:1], k=1)[0][0].doc_id.startswith("new-")


def test_a_bundle_written_before_the_runtime_still_loads(tmp_path, bundle_dir, fitted, queries):
    old = tmp_path / "old"
    shutil.copytree(bundle_dir, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for name in ("encoder.json", "encoder.npz"):
        (old / name).unlink()
        del manifest["files"][name]
    (old / "manifest.json").write_text(json.dumps(manifest))
    loaded = TextIndex.load(old)  # exports the Keras encoder in memory
    np.testing.assert_allclose(loaded.encode(queries.texts), fitted.encode(queries.texts), atol=1e-5)
