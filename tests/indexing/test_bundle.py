"""The bundle directory: atomic replacement and verification on load."""

import json
import os

import pytest

from indexing import FORMAT_VERSION, IndexingError, read_manifest, staged_bundle, write_manifest


def make_bundle(path, payload=b"version one"):
    with staged_bundle(path) as staged:
        (staged / "data.bin").write_bytes(payload)
        write_manifest(staged, {"kind": "test"})


def test_written_bundle_verifies_and_lists_every_file(tmp_path):
    make_bundle(tmp_path / "b")
    manifest = read_manifest(tmp_path / "b")
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["files"]) == {"data.bin"}
    assert manifest["files"]["data.bin"]["bytes"] == len(b"version one")
    assert {"python", "numpy", "faiss"} <= set(manifest["library_versions"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_rebuild_replaces_the_previous_bundle(tmp_path):
    make_bundle(tmp_path / "b", b"one")
    make_bundle(tmp_path / "b", b"two")
    assert (tmp_path / "b" / "data.bin").read_bytes() == b"two"
    read_manifest(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_the_old_bundle_intact(tmp_path, failure):
    make_bundle(tmp_path / "b", b"old")
    with pytest.raises(type(failure)):
        with staged_bundle(tmp_path / "b") as staged:
            (staged / "data.bin").write_bytes(b"half of the new")
            raise failure
    assert (tmp_path / "b" / "data.bin").read_bytes() == b"old"
    read_manifest(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_a_bundle_without_manifest_is_never_swapped_in(tmp_path):
    make_bundle(tmp_path / "b", b"old")
    with pytest.raises(IndexingError, match="staged index has no manifest.json"):
        with staged_bundle(tmp_path / "b") as staged:
            (staged / "data.bin").write_bytes(b"new")
    assert (tmp_path / "b" / "data.bin").read_bytes() == b"old"


def test_refuses_to_replace_a_directory_that_is_not_a_bundle(tmp_path):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(IndexingError, match="refusing to replace .*home: it is a non-empty directory"):
        make_bundle(precious)
    assert (precious / "thesis.tex").read_text() == "years of work"
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexingError, match="it is a file, not a directory"):
        make_bundle(tmp_path / "file")


def test_staging_left_by_a_killed_build_is_cleaned_up(tmp_path):
    dead_pid = 2**22 + 12345  # above the default pid_max, so never a live process
    stale = tmp_path / f".b.tmp-{dead_pid}-abc"
    stale.mkdir()
    (stale / "half.bin").write_bytes(b"x")
    make_bundle(tmp_path / "b")
    assert not stale.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: (b / "data.bin").unlink(), "data.bin is missing"),
        (lambda b: (b / "data.bin").write_bytes(b"version"), "data.bin has 7 bytes, expected 11"),
        (lambda b: (b / "data.bin").write_bytes(b"version 0ne"), "data.bin does not match its checksum"),
        (lambda b: (b / "manifest.json").unlink(), "is not a saved index: manifest.json is missing"),
        (lambda b: (b / "manifest.json").write_text("{not json"), "manifest.json is damaged"),
    ],
)
def test_damaged_bundles_fail_with_a_clear_message(tmp_path, damage, message):
    make_bundle(tmp_path / "b")
    damage(tmp_path / "b")
    with pytest.raises(IndexingError, match=message):
        read_manifest(tmp_path / "b")


def test_unsupported_format_version_and_unsafe_names(tmp_path):
    make_bundle(tmp_path / "b")
    manifest_path = tmp_path / "b" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexingError, match="uses index format 99; this version reads format 1"):
        read_manifest(tmp_path / "b")
    manifest["files"]["../outside"] = manifest["files"]["data.bin"]
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexingError, match="unsafe file name '../outside'"):
        read_manifest(tmp_path / "b")


def test_missing_directory(tmp_path):
    with pytest.raises(IndexingError, match="no index at .*nowhere: the directory does not exist"):
        read_manifest(tmp_path / "nowhere")


def test_indexing_never_imports_keras_or_scikit_learn():
    import subprocess
    import sys

    code = "import indexing, sys; bad = {'keras', 'tensorflow', 'sklearn'} & set(sys.modules); print(sorted(bad))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
