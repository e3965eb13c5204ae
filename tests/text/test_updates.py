"""`add` and `remove` without retraining: the library, the bundle, the command line and a live server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_corpus, run_cli, write_jsonl

from retrieval.errors import RetrievalError


@pytest.fixture(scope="module")
def new_docs():
    return make_corpus(3, seed=11, prefix="new")  # the tiny corpus's topics, other documents


def _load(path):
    from retrieval.text.index import TextIndex

    return TextIndex.load(path)


def test_added_documents_are_found_and_the_others_keep_their_codes(copy_dir, new_docs, corpus):
    index = _load(copy_dir)
    before = index.index_.stored().copy()
    index.add(new_docs)
    assert len(index.index_) == len(corpus) + len(new_docs)
    assert np.array_equal(index.index_.stored()[: len(corpus)], before)  # bit for bit
    for doc_id, text, title in zip(new_docs.doc_ids, new_docs.texts, new_docs.titles):
        hit = index.search([text], 1)[0][0]
        assert (hit.doc_id, hit.title) == (doc_id, title) and hit.score == pytest.approx(1, abs=1e-5)
        assert index.search([text], 1, rerank=20)[0][0].doc_id == doc_id  # the TF-IDF rows moved with them
    assert index.updates_["added"] == len(new_docs) and index.updates_["words"] > 0


def test_updates_survive_save_and_load(copy_dir, new_docs, corpus):
    from indexing import read_manifest

    original = read_manifest(copy_dir)
    manifest = _load(copy_dir).add(new_docs).save(copy_dir)
    assert manifest["documents"] == len(corpus) + len(new_docs) and manifest["updates"]["added"] == len(new_docs)
    written = read_manifest(copy_dir)
    for key in set(original) - {
        "files",
        "documents",
        "lexical",
    }:  # config, history, versions that trained it, ... (the lexical index grows)
        assert written[key] == original[key], key
    loaded = _load(copy_dir)
    assert loaded.updates_ == manifest["updates"]
    assert loaded.search([new_docs.texts[4]], 1)[0][0].doc_id == new_docs.doc_ids[4]


def test_an_id_already_present_needs_replace(copy_dir, corpus):
    index = _load(copy_dir)
    again = make_corpus(1, seed=12, prefix="doc")  # ids doc-T-000 exist already
    with pytest.raises(RetrievalError, match=r"4 of the documents are already in the index .*--replace"):
        index.add(again)
    index.add(again, replace=True)
    assert len(index.index_) == len(corpus) and index.updates_ == {**index.updates_, "added": 0, "replaced": 4}
    hit = index.search([again.texts[0]], 1)[0][0]
    assert hit.doc_id == again.doc_ids[0] and hit.score == pytest.approx(1, abs=1e-5)  # the new text answers


def test_removed_documents_are_gone_and_the_rest_stay_aligned(copy_dir, corpus):
    index = _load(copy_dir)
    gone = corpus.doc_ids[:10]
    index.remove(gone)
    assert len(index.index_) == len(corpus) - 10 and index.updates_["removed"] == 10
    for doc_id in gone:
        assert doc_id not in index.index_.id_map
        with pytest.raises(Exception, match="unknown document id"):
            index.similar_to(doc_id)
    for position in (10, 55, 99):
        hit = index.search([corpus.texts[position]], 1, rerank=20)[0][0]
        assert (hit.doc_id, hit.title, hit.label) == (
            corpus.doc_ids[position],
            corpus.titles[position],
            corpus.labels[position],
        )


@pytest.mark.parametrize(
    "ids, message",
    [
        (["doc-0-000", "nope"], r"1 of the ids are not in the index \(e.g. 'nope'\); nothing was removed"),
    ],
)
def test_bad_removals_change_nothing(copy_dir, corpus, ids, message):
    index = _load(copy_dir)
    with pytest.raises(RetrievalError, match=message):
        index.remove(ids)
    assert len(index.index_) == len(corpus)
    with pytest.raises(RetrievalError, match="would remove every document"):
        index.remove(corpus.doc_ids)


def test_a_failed_save_leaves_the_previous_index(copy_dir, new_docs, corpus, monkeypatch):
    import retrieval.bundle_io

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(retrieval.bundle_io, "write_manifest", broken)
    with pytest.raises(OSError, match="disk full"):
        _load(copy_dir).add(new_docs).save(copy_dir)
    monkeypatch.undo()
    assert len(_load(copy_dir).index_) == len(corpus)
    assert not list(copy_dir.parent.glob(".index.tmp-*"))


def test_the_commands(copy_dir, tmp_path, new_docs, corpus):
    path = tmp_path / "new.jsonl"
    write_jsonl(path, new_docs)
    result = run_cli("add", copy_dir, path, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["added"] == len(new_docs) and summary["documents"] == len(corpus) + len(new_docs)
    result = run_cli("add", copy_dir, path)
    assert result.exit_code == 1 and "pass --replace" in result.stderr
    assert run_cli("add", copy_dir, path, "--replace").exit_code == 0
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(new_docs.doc_ids[:5]) + "\n")
    result = run_cli("remove", copy_dir, corpus.doc_ids[0], "--ids", ids, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["removed"] == 6
    result = run_cli("remove", copy_dir, "no-such-id")
    assert result.exit_code == 1 and "not in the index" in result.stderr
    result = run_cli("remove", copy_dir)
    assert result.exit_code == 1 and "give the ids to remove" in result.stderr
    info = run_cli("info", copy_dir).stdout
    assert "since the build" in info and "6 removed" in info
    assert "words are outside the vocabulary" in info


def test_a_live_server_picks_up_an_update(copy_dir, new_docs, corpus):
    from retrieval.server.live import LiveIndex

    live = LiveIndex("default", copy_dir)
    first = live.current.id
    _load(copy_dir).add(new_docs).save(copy_dir)
    assert live.refresh() and live.current.id != first
    assert len(live.current.index.index_) == len(corpus) + len(new_docs)


def test_training_on_a_sample_still_indexes_every_document(corpus, fitted):
    from dataclasses import replace

    from conftest import TINY_CONFIG

    from retrieval.text.index import TextIndex

    index = TextIndex(replace(TINY_CONFIG, train_sample=60)).fit(corpus)
    assert len(index.index_) == len(corpus) and index.manifest_body()["config"]["train_sample"] == 60
    stored = index.index_.stored()
    assert np.array_equal(stored, index.index_._prepare(index.encode(corpus.texts), "codes"))  # as queries get them
    found = [hits[0].doc_id for hits in index.search(corpus.texts, 1)]
    assert found == corpus.doc_ids
    everything = TextIndex(replace(TINY_CONFIG, train_sample=len(corpus))).fit(corpus)  # a sample that covers it all
    assert np.array_equal(everything.index_.stored(), fitted.index_.stored())


def test_train_sample_from_the_command_line(tmp_path, corpus_file, corpus):
    from conftest import TINY_FLAGS

    out = tmp_path / "sampled"
    result = run_cli("build", corpus_file, "--out", out, *TINY_FLAGS, "--train-sample", "50", "--no-validate", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == len(corpus)
    result = run_cli("build", corpus_file, "--out", tmp_path / "bad", *TINY_FLAGS, "--train-sample", "-1")
    assert result.exit_code == 1 and "train_sample must be non-negative" in result.stderr


def test_add_reports_what_it_skipped_and_strict_refuses(copy_dir, tmp_path):
    new = tmp_path / "new.jsonl"
    write_jsonl(new, make_corpus(1, seed=5, prefix="fresh"))
    with open(new, "a") as handle:
        handle.write(json.dumps({"id": "blank", "text": "  "}) + "\n")
        handle.write(json.dumps({"id": "fresh-0-000", "text": "a repeated id"}) + "\n")
        handle.write("{not json\n")
    before = (copy_dir / "manifest.json").read_bytes()
    result = run_cli("add", copy_dir, new, "--strict")
    assert result.exit_code == 1
    assert "3 records of" in result.stderr and "nothing was changed (--strict)" in result.stderr
    assert "1 malformed records skipped: line 7 (invalid JSON" in result.stderr
    assert (copy_dir / "manifest.json").read_bytes() == before
    result = run_cli("add", copy_dir, new)
    assert result.exit_code == 0, result.stderr
    for line in (
        "read 4 documents from",
        "1 empty documents skipped: blank",
        "1 repeated ids skipped (first kept): fresh-0-000",
        "1 malformed records skipped",
    ):
        assert line in result.stderr
    result = run_cli("add", copy_dir, new, "--replace", "--json")
    assert result.exit_code == 0, result.stderr
    corpus = json.loads(result.stdout)["corpus"]
    assert (corpus["documents"], corpus["empty"], corpus["duplicate_ids"], corpus["malformed"]) == (4, 1, 1, 1)
