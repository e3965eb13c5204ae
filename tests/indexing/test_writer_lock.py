"""One writer at a time: the writer lock, the generation check at swap, and two `add` runs that both land."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_corpus, run_cli, write_jsonl

from indexing import IndexingError, writer_lock

ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import sys, time; from indexing.lock import writer_lock\n"
    "with writer_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(float(sys.argv[2]))\n"
)


def _doc_ids(path) -> list:
    return json.loads((Path(path) / "doc_ids.json").read_text())


def _holder(path, seconds: float) -> subprocess.Popen:
    """Another process holding ``path``'s writer lock for ``seconds`` (returned once it holds it)."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_writer_fails_at_once_or_waits(tmp_path):
    index_dir = tmp_path / "index"
    released = threading.Event()

    def hold():
        with writer_lock(index_dir):
            held.set()
            released.wait(10)

    held = threading.Event()
    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(IndexingError, match=r"index is being written by process \d+; nothing was changed.*--wait"):
            with writer_lock(index_dir):
                pass
        with pytest.raises(IndexingError, match="after waiting 0.2 s"):
            with writer_lock(index_dir, wait=0.2):
                pass
        threading.Timer(0.2, released.set).start()
        started = time.monotonic()
        with writer_lock(index_dir, wait=10):  # the holder lets go after 0.2 s
            assert time.monotonic() - started < 5
    finally:
        released.set()
        thread.join()
    with writer_lock(index_dir), writer_lock(index_dir):  # a holder may take it again (a save inside an update)
        assert (tmp_path / ".index.lock").read_text() == f"{os.getpid()}\n"
    assert list(tmp_path.iterdir()) == []  # the lock file goes with the lock
    for bad in (-1, float("inf"), "2", True):
        with pytest.raises(IndexingError, match="seconds >= 0"):
            with writer_lock(index_dir, wait=bad):
                pass


def test_an_update_from_a_generation_another_writer_replaced_is_refused(copy_dir, corpus):
    from retrieval.text.index import TextIndex

    first, second = TextIndex.load(copy_dir), TextIndex.load(copy_dir)
    first.remove([corpus.doc_ids[0]]).save(copy_dir)
    saved = (copy_dir / "manifest.json").read_bytes()
    with pytest.raises(IndexingError, match="changed since this update loaded it.*nothing was written"):
        second.remove([corpus.doc_ids[1]]).save(copy_dir)
    assert (copy_dir / "manifest.json").read_bytes() == saved  # the first writer's update stands
    ids = _doc_ids(copy_dir)
    assert corpus.doc_ids[0] not in ids and corpus.doc_ids[1] in ids
    assert not [p for p in copy_dir.parent.iterdir() if ".tmp-" in p.name]  # no staging left behind
    second.save(copy_dir.parent / "elsewhere")  # to another directory: nothing to lose there
    TextIndex.load(copy_dir).remove([corpus.doc_ids[1]]).save(copy_dir)  # loaded again, it goes through
    assert corpus.doc_ids[1] not in _doc_ids(copy_dir)


def test_the_cli_refuses_while_another_process_writes_and_waits_with_wait(copy_dir, tmp_path):
    new = tmp_path / "new.jsonl"
    write_jsonl(new, make_corpus(1, seed=5, prefix="late"))
    before = (copy_dir / "manifest.json").read_bytes()
    holder = _holder(copy_dir, 30)
    try:
        result = run_cli("add", copy_dir, new)
        assert result.exit_code == 1
        assert f"is being written by process {holder.pid}; nothing was changed" in result.stderr
        result = run_cli("remove", copy_dir, _doc_ids(copy_dir)[0])
        assert result.exit_code == 1 and "is being written by process" in result.stderr
        assert (copy_dir / "manifest.json").read_bytes() == before
    finally:
        holder.kill()
        holder.wait()
    holder = _holder(copy_dir, 1.0)
    try:
        result = run_cli("add", copy_dir, new, "--wait", "30")
        assert result.exit_code == 0, result.stderr
    finally:
        holder.wait()
    assert any(doc_id.startswith("late") for doc_id in _doc_ids(copy_dir))
    result = run_cli("add", copy_dir, new, "--wait", "-1")
    assert result.exit_code == 2 and "--wait" in result.stderr


def test_two_concurrent_add_runs_both_land(copy_dir, tmp_path):
    """Two `retrieval add` processes at once, each of its own documents: the index ends with both."""
    files = []
    for name in ("one", "two"):
        files.append(tmp_path / f"{name}.jsonl")
        write_jsonl(files[-1], make_corpus(2, seed=len(files), prefix=name))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "retrieval.cli.main", "add", str(copy_dir), str(path), "--wait", "120"],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    for run in runs:
        assert run.wait(timeout=180) == 0, run.stderr.read()
    ids = _doc_ids(copy_dir)
    assert sum(doc_id.startswith("one") for doc_id in ids) == 8 and sum(doc_id.startswith("two") for doc_id in ids) == 8


def test_writers_contending_never_overlap(tmp_path):
    """Four threads, 25 read-modify-write rounds each under the lock (whose file comes and goes): none lost."""
    counter = tmp_path / "counter"
    counter.write_text("0")

    def rounds():
        for _ in range(25):
            with writer_lock(tmp_path / "index", wait=30):
                value = int(counter.read_text())
                time.sleep(0.01)
                counter.write_text(str(value + 1))

    threads = [threading.Thread(target=rounds) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text() == "100"


def test_an_update_through_a_symbolic_link_replaces_the_target_and_keeps_the_link(copy_dir, tmp_path, corpus):
    links = tmp_path / "links"
    links.mkdir()
    link = links / "current"
    link.symlink_to(copy_dir)
    result = run_cli("remove", link, corpus.doc_ids[0])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.resolve() == copy_dir.resolve()  # still a link, to the same directory
    assert corpus.doc_ids[0] not in _doc_ids(copy_dir)  # which holds the update
    assert list(links.iterdir()) == [link]  # nothing staged or left beside the link
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nor beside the target
    holder = _holder(copy_dir, 30)  # a writer of the target holds the link's writers off too
    try:
        result = run_cli("remove", link, corpus.doc_ids[1])
        assert result.exit_code == 1 and "is being written by process" in result.stderr
    finally:
        holder.kill()
        holder.wait()
    from retrieval.text.index import TextIndex

    first, second = TextIndex.load(link), TextIndex.load(copy_dir)  # one update through each name
    first.remove([corpus.doc_ids[2]]).save(link)
    with pytest.raises(IndexingError, match="changed since this update loaded it"):
        second.remove([corpus.doc_ids[3]]).save(copy_dir)
