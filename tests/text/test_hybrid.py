"""Query modes: semantic, lexical and hybrid search on the tiny seeded index, its bundle and its updates."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from indexing import IndexingError
from retrieval.errors import RetrievalError
from retrieval.text.fusion import FusionWeights, fuse, lowest_score, normalised
from retrieval.text.index import TextIndex
from tests.bundles import old_bundle, term_count_bundle

QUERY = "aeword0 bfword1 common3x"


def test_modes_default_and_record(fitted):
    hits = fitted.search(QUERY, k=5)[0]
    assert hits.mode == "hybrid" and len(hits) == 5
    assert all(hit.semantic is not None and hit.lexical is not None for hit in hits)
    assert fitted.search(QUERY, k=5, rerank=10)[0].mode == "semantic"  # re-ranking is a semantic-mode recipe
    weights = fitted.fusion_
    assert 0 <= weights.alpha_short <= 1 and 0 <= weights.alpha_long <= 1 and "pseudo-queries" in weights.chosen_by


def test_semantic_mode_is_the_codes_alone(fitted):
    semantic = fitted.search(QUERY, k=7, mode="semantic")[0]
    codes = fitted.search_codes(fitted.encode([QUERY]), 7)[0]
    assert [(h.doc_id, h.score) for h in semantic] == [(h.doc_id, h.score) for h in codes]
    assert all(hit.lexical is None for hit in semantic)


def test_lexical_mode_is_bm25_alone(fitted):
    hits = fitted.search(QUERY, k=6, mode="lexical")[0]
    positions, scores = fitted.live_lexical().top(QUERY, 6)
    assert [h.doc_id for h in hits] == [fitted.index_.id_map.ids(p) for p in positions.tolist()]
    np.testing.assert_allclose([h.score for h in hits], scores)
    assert fitted.search("unknownword", k=3, mode="lexical")[0].known_terms == 0


def test_a_few_words_that_weigh_nothing_on_the_codes_need_no_code(fitted, monkeypatch):
    """Hybrid with weight 0 on the codes ranks by BM25 alone, without a TF-IDF row or a code (semantic_score is
    null); a weight above 0, or a text of more than FEW_WORDS words, still makes both."""
    from retrieval.text.search import FEW_WORDS

    lexical = fitted.search(QUERY, k=5, mode="lexical")[0]
    with monkeypatch.context() as patch:
        patch.setattr(type(fitted), "features", lambda *args: pytest.fail("a TF-IDF row was made"))
        hits = fitted.search(QUERY, k=5, alpha=0.0)[0]
    assert [h.doc_id for h in hits] == [h.doc_id for h in lexical] and hits.mode == "hybrid"
    assert all(h.semantic is None and h.lexical is not None for h in hits)
    assert hits.known_terms == lexical.known_terms == 3
    assert all(h.semantic is not None for h in fitted.search(QUERY, k=5, alpha=0.4)[0])
    long_text = " ".join([QUERY] * (FEW_WORDS // 3 + 1))
    assert all(h.semantic is not None for h in fitted.search(long_text, k=5, alpha=0.0)[0])


def brute_force(index, query, alpha, depth):
    """The fused ranking by hand: each side's top ``depth`` from exact scores over every document."""
    code = index.faiss_codes(index.encode([query]))
    semantic_all = index.index_.scores(code)[0]
    lexical_all = np.zeros(len(index.index_), np.float32)
    positions, scores = index.live_lexical().scores_of(query)
    lexical_all[positions] = scores
    order = lambda s: np.lexsort((np.arange(len(s)), -s))  # noqa: E731
    pool = np.union1d(order(semantic_all)[:depth], positions[order(scores)[:depth]])
    sem = normalised(semantic_all[pool], lowest_score(index.index_.metric))
    lex = normalised(lexical_all[pool], 0.0)
    fused = alpha * sem + (1 - alpha) * lex
    return [index.index_.id_map.ids(p) for p in pool[np.lexsort((pool, -fused))].tolist()]


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_hybrid_equals_brute_force(fitted, alpha):
    depth = fitted.config.lexical.depth
    hits = fitted.search(QUERY, k=10, alpha=alpha)[0]
    assert [h.doc_id for h in hits] == brute_force(fitted, QUERY, alpha, depth)[:10]


def test_fuse_normalises_each_side():
    positions = np.array([3, 5, 9])
    fused = fuse(
        positions, np.array([0.9, -1.0, 0.5], np.float32), np.array([0.0, 4.0, 2.0], np.float32), alpha=0.5, lowest=-1.0
    )
    # codes: (s + 1) / 1.9; BM25: s / 4
    expected = {3: 0.5 * 1.0, 5: 0.5 * 0.0 + 0.5 * 1.0, 9: 0.5 * (1.5 / 1.9) + 0.5 * 0.5}
    assert fused.positions.tolist() == sorted(expected, key=lambda p: (-expected[p], p))
    np.testing.assert_allclose(fused.scores, sorted(expected.values(), reverse=True), rtol=1e-6)


def test_weight_follows_query_length():
    weights = FusionWeights(alpha_short=0.2, alpha_long=1.0)
    short, long = weights.short_terms, weights.long_terms
    assert weights.alpha(1) == weights.alpha(short) == 0.2 and weights.alpha(long) == weights.alpha(10 * long) == 1.0
    middle = round((short * long) ** 0.5)  # log-linear: the geometric mean is half way
    assert 0.2 < weights.alpha(short + 1) < weights.alpha(middle) < weights.alpha(long - 1) < 1.0
    assert abs(FusionWeights(0.2, 1.0, short_terms=10, long_terms=40).alpha(20) - 0.6) < 1e-9


def test_similar_in_every_mode_leaves_the_document_out(fitted):
    doc_id = fitted.index_.id_map.doc_ids[3]
    for mode in ("hybrid", "lexical", "semantic"):
        hits = fitted.similar_to(doc_id, k=5, mode=mode)
        assert len(hits) == 5 and doc_id not in [h.doc_id for h in hits], mode
        assert sum(h.label == fitted.labels_[3] for h in hits) >= 3, mode


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "fuzzy"}, "mode must be one of hybrid, semantic, lexical"),
        ({"alpha": 1.5}, r"alpha must be a weight in \[0, 1\]"),
        ({"alpha": "0.5"}, r"alpha must be a weight in \[0, 1\]"),
        ({"mode": "lexical", "rerank": 10}, "goes with mode semantic"),
    ],
)
def test_bad_query_settings(fitted, kwargs, message):
    with pytest.raises(RetrievalError, match=message):
        fitted.search(QUERY, **kwargs)


def test_alpha_at_build_is_kept(corpus):
    from dataclasses import replace

    from tests.conftest import TINY_CONFIG

    config = replace(TINY_CONFIG, lexical=replace(TINY_CONFIG.lexical, alpha=0.25))
    index = TextIndex(config).fit(corpus)
    assert (index.fusion_.alpha_short, index.fusion_.alpha_long) == (0.25, 0.25)
    assert index.fusion_.chosen_by.startswith("set at build")


def test_round_trip_maps_the_lexical_arrays(bundle_dir, fitted):
    loaded = TextIndex.load(bundle_dir)
    for name in ("rows", "impact", "indptr", "terms", "lengths"):  # views of the mapped files, not copies
        array = getattr(loaded.lexical_, name)
        assert isinstance(array.base, np.memmap) and not array.flags.writeable, name
    for mode in ("hybrid", "lexical"):
        assert [(h.doc_id, round(h.score, 5)) for h in loaded.search(QUERY, k=8, mode=mode)[0]] == [
            (h.doc_id, round(h.score, 5)) for h in fitted.search(QUERY, k=8, mode=mode)[0]
        ]
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["fusion"]["alpha_short"] == fitted.fusion_.alpha_short
    assert set(manifest["fusion"]["figures"]["short_mrr_at_10"]) == {str(a / 10) for a in range(11)}


def test_updates_keep_the_lexical_index_current(bundle_dir, tmp_path, new_docs_for_lexical):
    path = tmp_path / "index"
    shutil.copytree(bundle_dir, path)
    index = TextIndex.load(path)
    removed = [index.index_.id_map.doc_ids[i] for i in (0, 1, 2)]
    index.remove(removed)
    found = {h.doc_id for h in index.search(QUERY, k=len(index.index_), mode="lexical")[0]}
    assert not found & set(removed)
    index.save(path)
    index = TextIndex.load(path).add(new_docs_for_lexical)
    text = new_docs_for_lexical.texts[0] + " zzuniqueword"
    assert index.search("zzuniqueword", k=1, mode="lexical")[0][0].doc_id == new_docs_for_lexical.doc_ids[-1]
    index.save(path)
    again = TextIndex.load(path)
    assert again.search("zzuniqueword", k=1)[0][0].doc_id == new_docs_for_lexical.doc_ids[-1]
    assert len(again.lexical_.lengths) == len(again.index_)  # the add compacted the stored rows
    assert text  # the new document's own words are findable too
    assert (
        again.search(new_docs_for_lexical.texts[1], k=1, mode="lexical")[0][0].doc_id == new_docs_for_lexical.doc_ids[1]
    )


@pytest.fixture
def new_docs_for_lexical():
    from tests.conftest import make_corpus

    docs = make_corpus(2, seed=9, prefix="fresh")
    docs.texts[-1] += " zzuniqueword"
    docs.texts[0] += " aaearlyword"  # sorts before every term: an addition moves every term number
    return docs


def test_an_old_bundle_answers_in_semantic_mode(bundle_dir, tmp_path):
    index = TextIndex.load(old_bundle(bundle_dir, tmp_path / "old"))
    assert index.lexical_ is None and "rebuild it to enable hybrid" in index.load_note_
    hits = index.search(QUERY, k=3)[0]
    assert hits.mode == "semantic" and len(hits) == 3
    with pytest.raises(RetrievalError, match="rebuild it to enable hybrid and lexical search"):
        index.search(QUERY, mode="hybrid")


def test_a_damaged_lexical_file_is_found(bundle_dir, tmp_path):
    path = tmp_path / "damaged"
    shutil.copytree(bundle_dir, path)
    target = path / "lexical_impact.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(IndexingError, match="lexical_impact.npy does not match its checksum"):
        TextIndex.load(path)


@pytest.mark.parametrize("avgdl", ["x", None, -1.0])
def test_a_damaged_mean_length_is_found(bundle_dir, tmp_path, avgdl):
    path = tmp_path / "damaged"
    shutil.copytree(bundle_dir, path)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["lexical"]["avgdl"] = avgdl
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexingError, match="is damaged: the lexical index's mean length must be a finite number"):
        TextIndex.load(path)


def test_a_bundle_of_term_counts_answers_alike_and_is_upgraded_on_save(bundle_dir, tmp_path):
    """A bundle written before impacts were stored (term counts, no mean length) answers as the same index
    does, and its next save writes the impacts rather than linking files its generation lacks."""
    current = TextIndex.load(bundle_dir)
    older = TextIndex.load(term_count_bundle(bundle_dir, tmp_path / "counts"))
    assert older.lexical_.converted and older.lexical_.avgdl == pytest.approx(current.lexical_.avgdl)
    for mode in ("hybrid", "lexical"):
        got, want = older.search(QUERY, k=5, mode=mode)[0], current.search(QUERY, k=5, mode=mode)[0]
        assert [hit.doc_id for hit in got] == [hit.doc_id for hit in want]
        np.testing.assert_allclose([hit.score for hit in got], [hit.score for hit in want], rtol=1e-5)
    older.remove([older.index_.id_map.doc_ids[0]])
    older.save(tmp_path / "counts")
    saved = TextIndex.load(tmp_path / "counts")
    assert not saved.lexical_.converted and (tmp_path / "counts" / "lexical_impact.npy").exists()
    assert not (tmp_path / "counts" / "lexical_tf.npy").exists()
    assert [hit.doc_id for hit in saved.search(QUERY, k=5, mode="lexical")[0]] == [
        hit.doc_id for hit in older.search(QUERY, k=5, mode="lexical")[0]
    ]


def test_like_after_an_addition_reads_the_merged_vocabulary(bundle_dir, tmp_path, new_docs_for_lexical):
    """An addition merges the lexical vocabulary, so term numbers move: a --like query made before it must
    not leave stale ones behind."""
    path = tmp_path / "index"
    shutil.copytree(bundle_dir, path)
    index = TextIndex.load(path)
    doc_id = index.index_.id_map.doc_ids[5]
    index.similar_to(doc_id, k=5, mode="lexical")  # caches the TF-IDF columns' term numbers
    index.add(new_docs_for_lexical)
    in_memory = [(h.doc_id, round(h.score, 4)) for h in index.similar_to(doc_id, k=5, mode="lexical")]
    index.save(path)
    assert in_memory == [
        (h.doc_id, round(h.score, 4)) for h in TextIndex.load(path).similar_to(doc_id, k=5, mode="lexical")
    ]
