"""Removals that neither assign codes again nor rewrite the big files.

An IVF index drops entries from its lists (renumbered, each kept in its list and order); metadata.jsonl and
tfidf.npz keep their stored rows, rows.npy maps positions to them, and the next save hard-links those files
from the previous generation with the checksums it recorded. Ground truth is the old way: every kept code
assigned again, every per-document row copied.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
from conftest import TINY_CONFIG, make_corpus, run_cli

from indexing import BinaryIndex, IndexingError, VectorIndex, read_manifest
from indexing.ann import IndexPlan
from indexing.bundle import sha256_file
from retrieval.config import IndexConfig
from retrieval.runtime.lexical_builder import compacted
from retrieval.text.index import TextIndex

N, DIM = 3000, 16
LINKED = ("metadata.jsonl", "tfidf.npz", "encoder.keras")


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((24, DIM)).astype(np.float32)
    X = (centres[rng.integers(0, 24, N)] + 0.3 * rng.standard_normal((N, DIM))).astype(np.float32)
    return X, [f"d{i}" for i in range(N)]


def _answers(index, queries, k=10):
    hits = index.search(queries, k)
    return hits.doc_ids, hits.scores


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("mmap", [False, True])
def test_an_ivf_removal_answers_exactly_as_a_rebuild_from_the_kept_codes(codes, tmp_path, binary, mmap):
    X, ids = codes
    plan = IndexPlan("ivf", nlist=32, nprobe=4)
    data = np.packbits(X > 0, axis=1) if binary else X
    (BinaryIndex(DIM, plan) if binary else VectorIndex(DIM, "cosine", plan)).add(data, ids).write(tmp_path / "ivf")
    loaded = (
        BinaryIndex.read(tmp_path / "ivf", ids, mmap=mmap)
        if binary
        else VectorIndex.read(tmp_path / "ivf", ids, "cosine", mmap=mmap)
    )
    rng = np.random.default_rng(1)
    gone = [ids[i] for i in rng.choice(N, 400, replace=False)]
    shrunk, kept = loaded.without(gone)
    kept_ids = [ids[i] for i in kept]
    rebuilt = loaded._rebuilt(loaded.stored()[kept], kept_ids)  # the old way: every kept code assigned again
    assert len(loaded) == N and len(shrunk) == N - 400 and shrunk.plan == plan
    assert list(shrunk.id_map.doc_ids) == kept_ids and np.array_equal(shrunk.stored(), rebuilt.stored())
    queries = data[rng.choice(N, 300, replace=False)]
    got, expected = _answers(shrunk, queries), _answers(rebuilt, queries)
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1])  # the same ids and scores, ties included
    for doc_id in kept_ids[::97]:
        assert np.array_equal(shrunk.reconstruct(doc_id), loaded.reconstruct(doc_id))
    if not binary:  # every list scanned: exact search over the kept codes
        exact = VectorIndex(DIM).add(X[kept], kept_ids)
        scanned = _answers(shrunk.set_search(nprobe=32), queries)
        assert scanned[0] == _answers(exact, queries)[0]
        assert np.allclose(scanned[1], _answers(exact, queries)[1], atol=1e-5)
    again, _ = shrunk.plus(data[:1] if binary else X[:1], ["new"]).without(kept_ids[:5])  # still an index to update
    assert len(again) == N - 400 + 1 - 5 and again.id_map.position("new") == len(again) - 1
    assert np.array_equal(again.reconstruct("new"), again.stored()[-1])
    assert again.search(data[:1], 1).scores[0][0] == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("binary", [False, True])
def test_an_ivf_addition_copies_the_lists_and_answers_as_a_rebuild(codes, tmp_path, binary):
    X, ids = codes
    plan = IndexPlan("ivf", nlist=32, nprobe=4)
    data = np.packbits(X > 0, axis=1) if binary else X
    (BinaryIndex(DIM, plan) if binary else VectorIndex(DIM, "cosine", plan)).add(data[:2500], ids[:2500]).write(
        tmp_path / "ivf"
    )
    mapped = (
        BinaryIndex.read(tmp_path / "ivf", ids[:2500], mmap=True)
        if binary
        else VectorIndex.read(tmp_path / "ivf", ids[:2500], "cosine", mmap=True)
    )
    grown = mapped.plus(data[2500:], ids[2500:])
    rebuilt = mapped._rebuilt(mapped.stored(), ids[:2500]).add(data[2500:], ids[2500:])  # the old way
    assert len(mapped) == 2500 and list(grown.id_map.doc_ids) == ids and grown.plan == plan
    assert np.array_equal(grown.stored(), rebuilt.stored())
    got, expected = _answers(grown, data[::10]), _answers(rebuilt, data[::10])
    assert got[0] == expected[0] and np.array_equal(got[1], expected[1])


@pytest.fixture(scope="module")
def ivf_bundle(tmp_path_factory, corpus):
    config = dataclasses.replace(TINY_CONFIG, index=IndexConfig(kind="ivf", nlist=4, nprobe=2))
    path = tmp_path_factory.mktemp("ivf") / "index"
    TextIndex(config).fit(corpus).save(path)
    return path


@pytest.fixture
def ivf_copy(tmp_path, ivf_bundle):
    path = tmp_path / "index"
    shutil.copytree(ivf_bundle, path)
    return path


def _the_old_way(path, gone):
    """The index a removal gave before stored rows: codes assigned again, metadata and TF-IDF rows copied."""
    index = TextIndex.load(path)
    keep = np.ones(len(index.index_), dtype=bool)
    keep[[index.index_.id_map.position(doc_id) for doc_id in gone]] = False
    kept = np.flatnonzero(keep)
    ids = index.index_.id_map.doc_ids
    tfidf = index.tfidf_
    index.index_ = index.index_._rebuilt(index.index_.stored()[kept], [ids[i] for i in kept])
    index.metadata_ = [index.metadata_[i] for i in kept]
    index._tfidf = tfidf[kept]
    index.lexical_ = compacted(index.lexical_, kept)  # BM25 over the kept rows alone
    return index


def _display_rows(results):
    return [[(hit.doc_id, hit.score, hit.title, hit.label) for hit in hits] for hits in results]


def _same_answers(index, truth, queries, kept_ids):
    assert _display_rows(index.search(queries.texts, 10)) == _display_rows(truth.search(queries.texts, 10))
    assert _display_rows(index.search(queries.texts, 5, rerank=30)) == _display_rows(
        truth.search(queries.texts, 5, rerank=30)
    )
    for doc_id in kept_ids[::9]:
        assert np.array_equal(index.index_.reconstruct(doc_id), truth.index_.reconstruct(doc_id))
        assert _display_rows([index.similar_to(doc_id, 5)]) == _display_rows([truth.similar_to(doc_id, 5)])
        assert _display_rows([index.similar_to(doc_id, 5, rerank=20)]) == _display_rows(
            [truth.similar_to(doc_id, 5, rerank=20)]
        )
    assert index.labels_ == truth.labels_ and (index.tfidf_ != truth.tfidf_).nnz == 0


def test_a_removal_answers_as_before_in_memory_and_after_save_and_load(ivf_copy, corpus, queries):
    gone = corpus.doc_ids[::7]
    kept_ids = [doc_id for doc_id in corpus.doc_ids if doc_id not in set(gone)]
    truth = _the_old_way(ivf_copy, gone)
    inodes = {name: os.stat(ivf_copy / name).st_ino for name in LINKED}
    index = TextIndex.load(ivf_copy).remove(gone)
    assert index.index_.plan.kind == "ivf" and list(index.index_.id_map.doc_ids) == kept_ids
    _same_answers(index, truth, queries, kept_ids)  # at once, in the process that removed them
    manifest = index.save(ivf_copy)
    assert "rows.npy" in manifest["files"] and manifest["documents"] == len(kept_ids)
    assert {name: os.stat(ivf_copy / name).st_ino for name in LINKED} == inodes  # linked, not written
    assert read_manifest(ivf_copy, verify=True)["files"] == manifest["files"]  # and their checksums still hold
    rows = np.load(ivf_copy / "rows.npy")
    assert rows.dtype == np.int64 and list(rows) == [corpus.doc_ids.index(doc_id) for doc_id in kept_ids]
    loaded = TextIndex.load(ivf_copy)
    _same_answers(loaded, truth, queries, kept_ids)
    assert [meta["title"] for meta in loaded.metadata_] == [f"title {doc_id}" for doc_id in kept_ids]


def test_removals_compose_and_an_addition_compacts(ivf_copy, corpus, queries):
    first, second = corpus.doc_ids[:30:3], corpus.doc_ids[50::4]
    TextIndex.load(ivf_copy).remove(first).save(ivf_copy)
    TextIndex.load(ivf_copy).remove(second).save(ivf_copy)
    gone = set(first) | set(second)
    kept_ids = [doc_id for doc_id in corpus.doc_ids if doc_id not in gone]
    loaded = TextIndex.load(ivf_copy)
    assert list(loaded.index_.id_map.doc_ids) == kept_ids
    assert list(np.load(ivf_copy / "rows.npy")) == [corpus.doc_ids.index(doc_id) for doc_id in kept_ids]
    assert [meta["title"] for meta in loaded.metadata_] == [f"title {doc_id}" for doc_id in kept_ids]
    for doc_id in kept_ids[::11]:
        position = corpus.doc_ids.index(doc_id)
        assert loaded.search([corpus.texts[position]], 1, rerank=20)[0][0].doc_id == doc_id
    new = make_corpus(2, seed=21, prefix="new")
    metadata_inode = os.stat(ivf_copy / "metadata.jsonl").st_ino
    manifest = loaded.add(new).save(ivf_copy)
    assert "rows.npy" not in manifest["files"] and not (ivf_copy / "rows.npy").exists()
    assert os.stat(ivf_copy / "metadata.jsonl").st_ino != metadata_inode
    assert len((ivf_copy / "metadata.jsonl").read_text().splitlines()) == len(kept_ids) + len(new)
    compacted = TextIndex.load(ivf_copy)
    assert compacted._rows is None and compacted.tfidf_.shape[0] == len(kept_ids) + len(new)
    for doc_id, text in [
        *zip(new.doc_ids, new.texts),
        *[(doc_id, corpus.texts[corpus.doc_ids.index(doc_id)]) for doc_id in kept_ids[::13]],
    ]:
        hit = compacted.search([text], 1, rerank=20)[0][0]
        assert (hit.doc_id, hit.title) == (doc_id, f"title {doc_id}")


def test_an_addition_with_replace_after_a_removal_keeps_rows_aligned(ivf_copy, corpus):
    index = TextIndex.load(ivf_copy).remove(corpus.doc_ids[:10])
    again = make_corpus(1, seed=12, prefix="doc")  # doc-T-000: one removed (doc-0-000), three still present
    index.add(again, replace=True)
    for doc_id, text in zip(again.doc_ids, again.texts):
        hit = index.search([text], 1, rerank=20)[0][0]
        assert hit.doc_id == doc_id and hit.score == pytest.approx(1, abs=1e-5)
    assert index._rows is None and len(index.metadata_) == index.tfidf_.shape[0] == len(index.index_)


def test_a_bundle_without_rows_loads_as_before_and_a_flat_removal_links_too(tmp_path, bundle_dir, corpus, queries):
    path = tmp_path / "flat"
    shutil.copytree(bundle_dir, path)
    assert "rows.npy" not in read_manifest(path)["files"]  # as every bundle written before stored rows
    loaded = TextIndex.load(path)
    assert loaded._rows is None and loaded.index_.plan.kind == "flat"
    assert loaded.search([corpus.texts[3]], 1)[0][0].doc_id == corpus.doc_ids[3]
    gone = corpus.doc_ids[5:20]
    kept_ids = [doc_id for doc_id in corpus.doc_ids if doc_id not in set(gone)]
    truth = _the_old_way(path, gone)
    inodes = {name: os.stat(path / name).st_ino for name in LINKED}
    assert "rows.npy" in loaded.remove(gone).save(path)["files"]
    assert {name: os.stat(path / name).st_ino for name in LINKED} == inodes
    _same_answers(TextIndex.load(path), truth, queries, kept_ids)


def _flip_a_bit(path, at: int = 100) -> None:
    with open(path, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_a_linked_file_is_still_verified(ivf_copy, corpus):
    TextIndex.load(ivf_copy).remove(corpus.doc_ids[:5]).save(ivf_copy)
    _flip_a_bit(ivf_copy / "tfidf.npz")
    loaded = TextIndex.load(ivf_copy)  # the TF-IDF rows are read on first use
    with pytest.raises(IndexingError, match="tfidf.npz does not match its checksum"):
        loaded.search([corpus.texts[7]], 3, rerank=10)
    _flip_a_bit(ivf_copy / "metadata.jsonl")
    with pytest.raises(IndexingError, match="metadata.jsonl does not match its checksum"):
        TextIndex.load(ivf_copy)
    result = run_cli("query", ivf_copy, corpus.texts[7])
    assert result.exit_code == 1 and "metadata.jsonl does not match its checksum" in result.stderr


def test_damage_is_carried_to_the_next_generation_not_hidden(ivf_copy, corpus):
    _flip_a_bit(ivf_copy / "metadata.jsonl")  # damaged before the removal: linked unread, with the old checksum
    TextIndex.load(ivf_copy, lazy=True).remove(corpus.doc_ids[:5]).save(ivf_copy)
    with pytest.raises(IndexingError, match="metadata.jsonl does not match its checksum"):
        TextIndex.load(ivf_copy)


def test_where_no_link_can_be_made_the_file_is_copied_and_checked(ivf_copy, corpus, monkeypatch):
    def no_link(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    inode = os.stat(ivf_copy / "tfidf.npz").st_ino
    manifest = TextIndex.load(ivf_copy).remove(corpus.doc_ids[:5]).save(ivf_copy)
    assert os.stat(ivf_copy / "tfidf.npz").st_ino != inode
    assert read_manifest(ivf_copy, verify=True)["files"] == manifest["files"]
    _flip_a_bit(ivf_copy / "tfidf.npz")
    before = read_manifest(ivf_copy, verify=False)
    with pytest.raises(IndexingError, match="tfidf.npz does not match its checksum"):
        TextIndex.load(ivf_copy).remove(corpus.doc_ids[5:10]).save(ivf_copy)
    assert read_manifest(ivf_copy, verify=False) == before and not list(ivf_copy.parent.glob(".index.tmp-*"))


def test_a_failed_save_after_linking_leaves_the_previous_generation(ivf_copy, corpus, monkeypatch):
    import retrieval.bundle_io

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(retrieval.bundle_io, "write_manifest", broken)
    with pytest.raises(OSError, match="disk full"):
        TextIndex.load(ivf_copy).remove(corpus.doc_ids[:5]).save(ivf_copy)
    monkeypatch.undo()
    assert not list(ivf_copy.parent.glob(".index.tmp-*"))
    assert all(os.stat(ivf_copy / name).st_nlink == 1 for name in LINKED)  # the staged links went with it
    read_manifest(ivf_copy, verify=True)
    assert len(TextIndex.load(ivf_copy).index_) == len(corpus)


def test_the_command_removes_without_reading_the_metadata(ivf_copy, corpus, queries, monkeypatch):
    from indexing.reader import BundleReader

    gone = corpus.doc_ids[1:40:2]
    truth = _the_old_way(ivf_copy, gone)
    read_lines = BundleReader.read_lines

    def no_metadata(self, name):
        assert name != "metadata.jsonl", "a removal read the metadata"
        return read_lines(self, name)

    monkeypatch.setattr(BundleReader, "read_lines", no_metadata)
    result = run_cli("remove", ivf_copy, *gone, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["removed"] == len(gone)
    monkeypatch.undo()
    manifest = read_manifest(ivf_copy, verify=True)
    assert manifest["labelled"] is True and "rows.npy" in manifest["files"]
    kept_ids = [doc_id for doc_id in corpus.doc_ids if doc_id not in set(gone)]
    _same_answers(TextIndex.load(ivf_copy), truth, queries, kept_ids)
    lazy = TextIndex.load(ivf_copy, lazy=True)  # read and checked on first use
    assert lazy.search([corpus.texts[2]], 1)[0][0].title == f"title {corpus.doc_ids[2]}"


def _rewrite(path, name, data: bytes) -> None:
    (path / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": len(data), "sha256": sha256_file(path / name)}
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "rows, message",
    [
        (lambda rows: rows[:-1], "rows.npy must hold one stored row .* for each of the"),
        (lambda rows: rows.astype(np.int32), "rows.npy must hold one stored row"),
        (lambda rows: rows - 2, "rows.npy must hold one stored row .*not negative"),
        (lambda rows: rows + 1000, r"metadata.jsonl holds 100 rows and the index needs at least 1100"),
    ],
)
def test_a_damaged_rows_file_whose_checksum_matches_is_a_clean_error(ivf_copy, corpus, rows, message):
    import io

    TextIndex.load(ivf_copy).remove(corpus.doc_ids[:1]).save(ivf_copy)
    buffer = io.BytesIO()
    np.save(buffer, rows(np.load(ivf_copy / "rows.npy")))
    _rewrite(ivf_copy, "rows.npy", buffer.getvalue())
    with pytest.raises(IndexingError, match=message):
        TextIndex.load(ivf_copy)
