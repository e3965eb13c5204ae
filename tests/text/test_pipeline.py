"""The text pipeline end to end on tiny data: search, save/load, evaluation."""

import numpy as np
import pytest

from indexing import IndexingError
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.evaluation.text import evaluate, ranking_scores
from retrieval.text.index import TextIndex


def test_a_document_queried_by_its_own_text_comes_back_first(fitted, corpus):
    results = fitted.search(corpus.texts[:20], k=3)
    assert [hits[0].doc_id for hits in results] == corpus.doc_ids[:20]
    assert results[0][0].title == corpus.titles[0] and results[0][0].label == corpus.labels[0]
    assert results[0][0].score == pytest.approx(1.0, abs=1e-4)


def test_save_and_load_give_identical_results(fitted, bundle_dir, queries):
    loaded = TextIndex.load(bundle_dir)
    np.testing.assert_array_equal(fitted.encode(queries.texts), loaded.encode(queries.texts))
    before, after = fitted.search(queries.texts, k=5), loaded.search(queries.texts, k=5)
    assert before == after
    assert loaded.config == fitted.config
    assert loaded.manifest_["documents"] == len(fitted.index_)
    assert (loaded.tfidf_ != fitted.tfidf_).nnz == 0


def test_similar_to_excludes_the_document_itself(fitted, corpus):
    hits = fitted.similar_to(corpus.doc_ids[0], k=5)
    assert len(hits) == 5 and corpus.doc_ids[0] not in [h.doc_id for h in hits]
    everything = fitted.similar_to(corpus.doc_ids[0], k=10_000)
    assert len(everything) == len(corpus) - 1
    with pytest.raises(IndexingError, match="unknown document id 'nope'"):
        fitted.similar_to("nope")


def test_bad_use(fitted):
    with pytest.raises(NotFittedError, match="not fitted"):
        TextIndex().search(["text"])
    with pytest.raises(IndexingError, match="k must be a positive whole number, got 0"):
        fitted.search(["text"], k=0)
    assert fitted.search([], k=3) == []


def test_loading_an_index_of_another_kind_or_with_a_missing_file(tmp_path, bundle_dir):
    import json
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "kind": "images"}))
    with pytest.raises(IndexingError, match="holds a 'images' index; this command reads 'text' indexes"):
        TextIndex.load(copy)
    del manifest["files"]["tfidf.npz"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexingError, match="the manifest does not list tfidf.npz"):
        TextIndex.load(copy)


def test_ranking_scores_on_a_hand_checked_example():
    ranks = np.array([[2, 0, 1, 3]])
    relevant = np.array([[False, True, True, False]])  # items 1 and 2
    precision, ap = ranking_scores(ranks, relevant, k=2)
    assert precision[0] == pytest.approx(0.5)  # ranks 1-2 hold item 2 (relevant) and item 0 (not)
    assert ap[0] == pytest.approx((1 / 1 + 2 / 3) / 2)  # hits at ranks 1 and 3


def test_evaluation_reports_the_index_beside_both_baselines(fitted, queries):
    report = evaluate(fitted, queries, k=10)
    assert [m["method"] for m in report["methods"]] == ["autoencoder-8", "tfidf-cosine", "lsa-8"]
    assert report["queries"] == len(queries) and report["database"] == len(fitted.index_)
    for m in report["methods"]:
        assert 0.0 <= m["precision_at_k"] <= 1.0 and 0.0 <= m["mean_average_precision"] <= 1.0
    # the topics are separable: TF-IDF cosine must find same-topic neighbours
    assert report["methods"][1]["precision_at_k"] > 0.9


def test_evaluation_needs_labels_and_a_positive_k(fitted, queries):
    from retrieval.text.corpus import Corpus

    with pytest.raises(RetrievalError, match="k must be a positive whole number; got 0"):
        evaluate(fitted, queries, k=0)
    unlabelled = Corpus(doc_ids=["q"], texts=["text"], titles=["q"], labels=None)
    with pytest.raises(RetrievalError, match="none of the 1 queries has a label"):
        evaluate(fitted, unlabelled)
