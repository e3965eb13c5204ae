"""Known-item evaluation (MRR@10, success@1/@10 per mode and per baseline) and the label protocol's mode rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, write_jsonl

from retrieval.errors import RetrievalError
from retrieval.evaluation.known_item import ranks_by_scores, reciprocal_ranks, successes, summary, target_ranks
from retrieval.evaluation.text import rank_by_scores
from retrieval.text.corpus import Corpus
from retrieval.text.index import TextIndex

QUERY_WORDS = 6


# --- the metrics, on tiny arrays ----------------------------------------------------------------------
def test_target_ranks_find_the_target_or_say_it_is_missing():
    ranked = np.array([[3, 1, -1], [2, 0, 5], [7, 8, 9], [-1, -1, -1]])
    assert target_ranks(ranked, np.array([1, 5, 4, 0])).tolist() == [1, 2, -1, -1]


def test_reciprocal_ranks_and_successes_stop_at_the_cutoff():
    ranks = np.array([0, 1, 9, 10, -1])
    np.testing.assert_allclose(reciprocal_ranks(ranks), [1.0, 0.5, 0.1, 0.0, 0.0])
    assert successes(ranks, 1).tolist() == [True, False, False, False, False]
    assert successes(ranks, 10).tolist() == [True, True, True, False, False]
    assert summary(ranks) == pytest.approx({"mrr_at_10": 1.6 / 5, "success_at_1": 0.2, "success_at_10": 0.6})
    assert summary(np.array([2]), cutoff=3) == pytest.approx(
        {"mrr_at_3": 1 / 3, "success_at_1": 0.0, "success_at_3": 1.0}
    )
    with pytest.raises(RetrievalError, match="no known-item queries"):
        summary(np.array([], dtype=np.int64))


def test_ranks_by_scores_break_ties_in_the_tie_order():
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5]] * 5, dtype=np.float32)
    order = np.array([4, 2, 0, 3, 1])  # rank_by_scores: [1, 4, 2, 0, 3]
    assert ranks_by_scores(scores, np.arange(5), order).tolist() == [3, 0, 2, 4, 1]
    # all tied: the rank is the place in the tie order
    assert ranks_by_scores(np.zeros((5, 5)), np.arange(5), order).tolist() == [2, 4, 1, 3, 0]


def test_ranks_by_scores_agree_with_the_full_ranking():
    rng = np.random.default_rng(0)
    scores = -rng.integers(0, 4, size=(20, 30)).astype(np.int32)  # negated Hamming distances: many ties
    order = rng.permutation(30)
    targets = rng.integers(0, 30, size=20)
    full = rank_by_scores(scores, order)
    expected = [int(np.flatnonzero(row == target)[0]) for row, target in zip(full, targets)]
    assert ranks_by_scores(scores, targets, order).tolist() == expected


def test_shapes_that_disagree_are_errors():
    with pytest.raises(RetrievalError, match="targets"):
        target_ranks(np.zeros((2, 3), int), np.zeros(3, int))
    with pytest.raises(RetrievalError, match="order"):
        ranks_by_scores(np.zeros((2, 3)), np.zeros(2, int), np.arange(4))


# --- the CLI on the tiny seeded corpus ------------------------------------------------------------------
def known_item_records(corpus, every: int = 4, labels: bool = False) -> list[dict]:
    """A query per ``every``-th document: its first words, naming the document as its target."""
    return [
        {
            "id": f"q-{doc_id}",
            "text": " ".join(text.split()[:QUERY_WORDS]),
            "target": doc_id,
            **({"label": label} if labels else {}),
        }
        for doc_id, text, label in list(zip(corpus.doc_ids, corpus.texts, corpus.labels))[::every]
    ]


def write_records(path, records) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


@pytest.fixture(scope="module")
def known_file(tmp_path_factory, corpus):
    path = tmp_path_factory.mktemp("known") / "known.jsonl"
    write_records(path, known_item_records(corpus))
    return path


def evaluate_json(*args) -> dict:
    result = run_cli("evaluate", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_known_item_reports_each_mode_beside_the_baselines(bundle_dir, known_file, corpus_file):
    report = evaluate_json(bundle_dir, "--queries", known_file, "--database", corpus_file)
    assert set(report) == {"known_item"}  # no labels: the label protocol is not run
    known = report["known_item"]
    assert known["queries"] == 25 and known["database"] == 100 and known["cutoff"] == 10
    assert [m["mode"] for m in known["modes"]] == ["hybrid", "semantic", "lexical"]
    assert [m["method"] for m in known["methods"]] == ["tfidf-cosine", "lsa-8", "bm25", "rrf"]
    for row in known["modes"] + known["methods"]:
        assert 0 <= row["success_at_1"] <= row["mrr_at_10"] <= row["success_at_10"] <= 1, row
    lexical = known["modes"][2]
    assert lexical["success_at_10"] > 0.5  # six of the document's own words: BM25 finds it


def test_semantic_figures_are_those_of_search_in_semantic_mode(bundle_dir, known_file, corpus):
    known = evaluate_json(bundle_dir, "--queries", known_file, "--no-baselines")["known_item"]
    assert known["methods"] == []
    records = known_item_records(corpus)
    index = TextIndex.load(bundle_dir)
    found = index.search([r["text"] for r in records], k=10, mode="semantic")
    ranks = [
        next((i for i, hit in enumerate(hits) if hit.doc_id == r["target"]), None) for hits, r in zip(found, records)
    ]
    by_hand = {
        "mrr_at_10": np.mean([1 / (rank + 1) if rank is not None else 0 for rank in ranks]),
        "success_at_1": np.mean([rank == 0 for rank in ranks]),
        "success_at_10": np.mean([rank is not None for rank in ranks]),
    }
    semantic = next(m for m in known["modes"] if m["mode"] == "semantic")
    assert {key: semantic[key] for key in by_hand} == pytest.approx(by_hand, abs=1e-12)


def test_a_target_not_in_the_index_is_an_error_that_names_it(bundle_dir, corpus, tmp_path):
    path = tmp_path / "bad.jsonl"
    write_records(
        path, known_item_records(corpus)[:3] + [{"id": "q-lost", "text": "aeword0 aeword1", "target": "nowhere-7"}]
    )
    result = run_cli("evaluate", bundle_dir, "--queries", path)
    assert result.exit_code == 1
    assert "'q-lost' -> 'nowhere-7'" in result.stderr and "target the index does not hold" in result.stderr


def test_queries_with_neither_labels_nor_targets_are_an_error(bundle_dir, corpus, tmp_path):
    path = tmp_path / "plain.jsonl"
    write_records(path, [{"id": "q1", "text": corpus.texts[0]}])
    result = run_cli("evaluate", bundle_dir, "--queries", path)
    assert result.exit_code == 1 and "'label' or a 'target' field" in result.stderr


def test_labels_and_targets_report_both_protocols_with_every_mode(bundle_dir, corpus, tmp_path):
    path = tmp_path / "both.jsonl"
    write_records(path, known_item_records(corpus, every=2, labels=True))
    report = evaluate_json(bundle_dir, "--queries", path, "-k", "5")
    assert report["methods"][0]["method"] == "autoencoder-8" and report["k"] == 5
    assert [m["mode"] for m in report["modes"]] == ["hybrid", "lexical"]
    for row in report["modes"]:
        assert 0 < row["precision_at_k"] <= 1 and 0 < row["mean_average_precision"] <= 1
    assert report["known_item"]["queries"] == 50
    table = run_cli("evaluate", bundle_dir, "--queries", path, "-k", "5").stdout
    assert "relevant = same label" in table and "known-item queries" in table
    assert "hybrid mode" in table and "semantic mode" in table and "--database" in table


def test_the_label_protocol_ranks_search_s_hits_by_their_own_fused_scores(fitted, queries):
    """Over every document, a hybrid hit keeps the fused score search gave it (same normalisation, same alpha)."""
    from retrieval.evaluation.modes import hybrid_scorer, lexical_scorer, searched

    texts = queries.texts[:8]
    X = fitted.features(texts)
    codes = fitted.faiss_codes(fitted.encoder_.encode(X))
    fused = hybrid_scorer(fitted, texts, codes, fitted.transform_.known_terms(X))(slice(0, 8))
    bm25 = lexical_scorer(fitted, texts)(slice(0, 8))
    for row, (hybrid, lexical) in enumerate(
        zip(fitted.search(texts, 10, mode="hybrid"), fitted.search(texts, 10, mode="lexical"))
    ):
        positions = [fitted.index_.id_map.position(hit.doc_id) for hit in hybrid]
        np.testing.assert_allclose(fused[row, positions], [hit.score for hit in hybrid], atol=1e-5)
        positions = [fitted.index_.id_map.position(hit.doc_id) for hit in lexical]
        np.testing.assert_allclose(bm25[row, positions], [hit.score for hit in lexical], rtol=1e-5)
    top = searched(fitted, texts, 10, "hybrid", exclude=searched(fitted, texts, 1, "hybrid")[:, 0])
    assert top.shape == (8, 10) and not (top == searched(fitted, texts, 1, "hybrid")).any()


def test_an_index_without_a_lexical_side_is_measured_in_semantic_mode_only(fitted, corpus, queries):
    import copy

    from retrieval.evaluation.known_item_eval import evaluate_known_item
    from retrieval.evaluation.text import evaluate

    older = copy.copy(fitted)
    older.lexical_, older.fusion_ = None, None  # as a bundle written before the lexical index existed
    records = known_item_records(corpus)
    targets = [r["target"] for r in records]
    asked = Corpus(
        doc_ids=[r["id"] for r in records], texts=[r["text"] for r in records], titles=[r["id"] for r in records]
    )
    known = evaluate_known_item(older, asked, targets, baselines=False)
    assert [m["mode"] for m in known["modes"]] == ["semantic"]
    assert "modes" not in evaluate(older, queries, k=5, baselines=False, modes=True)


def test_a_database_file_that_lacks_indexed_documents_is_an_error(bundle_dir, known_file, corpus, tmp_path):
    partial = tmp_path / "partial.jsonl"
    write_jsonl(
        partial,
        Corpus(
            doc_ids=corpus.doc_ids[:10], texts=corpus.texts[:10], titles=corpus.titles[:10], labels=corpus.labels[:10]
        ),
    )
    result = run_cli("evaluate", bundle_dir, "--queries", known_file, "--database", partial)
    assert result.exit_code == 1 and "lacks 90 of the 100 indexed documents" in result.stderr


def test_reciprocal_rank_fusion_by_hand():
    from retrieval.evaluation.known_item_eval import rrf_positions

    semantic = np.array([[5, 1, 2, -1]])
    lexical = np.array([[1, 7, 5, 2]])
    # 1: 1/62 + 1/61; 5: 1/61 + 1/63; 2: 1/63 + 1/64; 7: 1/62
    assert rrf_positions(semantic, lexical, k=3, c=60).tolist() == [[1, 5, 2]]
    assert rrf_positions(np.array([[3, -1]]), np.array([[-1, -1]]), k=3).tolist() == [[3, -1, -1]]
