"""The bundle reader opens only what it expects: regular files, never through a link, sizes checked before reading."""

from __future__ import annotations

import os
import shutil
import threading
import tracemalloc

import pytest
from conftest import run_cli

from indexing import IndexingError


def _load(path):
    from retrieval.text.index import TextIndex

    return TextIndex.load(path)


def _load_within(path, seconds: float):
    """Load ``path`` in a thread; the error it raised (None if none), or a failure if it did not return in time."""
    outcome = {}

    def run():
        try:
            _load(path)
            outcome["error"] = None
        except Exception as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)  # a read that hangs must not hang the suite
    thread.start()
    thread.join(seconds)
    assert "error" in outcome, f"loading {path} did not return within {seconds} s"
    return outcome["error"]


def test_a_fifo_in_place_of_a_listed_file_is_refused_without_waiting(copy_dir):
    (copy_dir / "doc_ids.json").unlink()
    os.mkfifo(copy_dir / "doc_ids.json")
    error = _load_within(copy_dir, 10)
    assert isinstance(error, IndexingError)
    assert "doc_ids.json is not a regular file" in str(error)
    result = run_cli("query", copy_dir, "some text")
    assert result.exit_code == 1 and "not a regular file" in result.stderr


def test_a_symbolic_link_in_place_of_a_listed_file_is_refused(copy_dir, tmp_path):
    shutil.copy(copy_dir / "vectorizer.json", tmp_path / "elsewhere.json")
    (copy_dir / "vectorizer.json").unlink()
    (copy_dir / "vectorizer.json").symlink_to(tmp_path / "elsewhere.json")  # the same bytes, through a link
    with pytest.raises(IndexingError, match="vectorizer.json is a symbolic link; an index holds only regular files"):
        _load(copy_dir)


def test_a_listed_file_of_the_wrong_size_is_not_read(copy_dir):
    with open(copy_dir / "doc_ids.json", "r+b") as handle:
        handle.truncate(1 << 30)  # a sparse gigabyte
    tracemalloc.start()
    try:
        with pytest.raises(IndexingError, match=r"doc_ids.json has 1073741824 bytes, expected \d+"):
            _load(copy_dir)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_an_oversized_manifest_is_not_read(copy_dir):
    with open(copy_dir / "manifest.json", "r+b") as handle:
        handle.truncate(100 << 20)
    with pytest.raises(IndexingError, match="manifest.json has 104857600 bytes, more than a manifest can hold"):
        _load(copy_dir)


def _rewrite_ids(path, change) -> None:
    """Give the bundle's FAISS index the ids ``change(ids)`` and record the new file in the manifest (a writer's
    bug, not damage on disk: the checksums agree)."""
    import json

    import faiss
    import numpy as np

    from indexing.bundle import sha256_file

    raw = faiss.read_index(str(path / "index.faiss"))
    ids = change(faiss.vector_to_array(raw.id_map).copy())
    faiss.copy_array_to_vector(np.ascontiguousarray(ids, dtype=np.int64), raw.id_map)
    raw.construct_rev_map()
    faiss.write_index(raw, str(path / "index.faiss"))
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["index.faiss"] = {
        "bytes": (path / "index.faiss").stat().st_size,
        "sha256": sha256_file(path / "index.faiss"),
    }
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("change", [lambda ids: ids[::-1], lambda ids: ids + len(ids), lambda ids: ids * 0])
def test_faiss_ids_that_are_not_the_positions_are_refused(copy_dir, change):
    _rewrite_ids(copy_dir, change)  # permuted, out of range, repeated
    with pytest.raises(
        IndexingError,
        match=r"index/index.faiss is damaged: its FAISS index's ids are not the positions "
        r"0 to 99 in order",
    ):
        _load(copy_dir)


@pytest.mark.parametrize(
    "where, value",
    [
        (("config", "index"), None),
        (("config", "autoencoder", "hidden"), "x"),
        (("config", "train", "checkpoint"), -1),
        (("fusion", "short_terms"), -1),
        (("fusion", "alpha_short"), None),
        (("lexical",), "x"),
        (("lexical", "b"), "x"),
        (("lexical", "k1"), None),
    ],
)
def test_a_manifest_edited_by_hand_is_one_line_naming_the_index(copy_dir, where, value):
    # the files are checksummed, not the manifest that lists the sums: each of these was a traceback
    import json

    manifest = json.loads((copy_dir / "manifest.json").read_text())
    section = manifest
    for key in where[:-1]:
        section = section[key]
    section[where[-1]] = value
    (copy_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexingError, match=f"{copy_dir} is damaged"):
        _load(copy_dir)
    result = run_cli("query", copy_dir, "anything")
    assert result.exit_code == 1 and "is damaged" in result.output and len(result.output.strip().splitlines()) <= 3
