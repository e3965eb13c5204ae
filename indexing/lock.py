"""One writer at a time for an index directory: an advisory lock on a file beside it.

``retrieval build --out``, ``add`` and ``remove`` hold the lock from loading
the index to swapping the new generation in, so that two updates never both
start from the same generation and one of them vanish. A second writer waits
up to its ``wait`` seconds and then fails, naming the process that holds the
lock; nothing of its own is written. The lock is ``fcntl.flock`` on
``.NAME.lock`` in the directory's parent (the index directory itself is
replaced by every save): the kernel releases it when its holder exits, even
by ``kill -9``, so a crashed writer never leaves the index locked. The holder
removes the file before letting go, and a writer that gets the lock of a file
no longer at that path opens the new one and locks again, so two writers
never hold locks on two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexing.errors import IndexingError

_held: dict[
    tuple[str, int], int
] = {}  # (lock file, thread) -> depth: a holder may take it again (a save inside an update)
POLL_SECONDS = 0.05


def index_target(index_dir) -> Path:
    """The directory a save replaces: ``index_dir`` as an absolute path, or, if it is a symbolic link, the
    directory it leads to (the target is replaced, and the link keeps leading to it, now the new generation)."""
    index_dir = Path(index_dir).absolute()
    return index_dir.resolve() if index_dir.is_symlink() else index_dir


def lock_path(index_dir) -> Path:
    """The lock file of the index at ``index_dir``: ``.NAME.lock`` beside it (beside the directory a symbolic
    link leads to, so that writers through a link and through the target take the same lock)."""
    index_dir = index_target(index_dir)
    return index_dir.with_name(f".{index_dir.name}.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "another process"
    return f"process {text}" if text.isdigit() else "another process"


@contextmanager
def writer_lock(index_dir, wait: float = 0.0) -> Iterator[None]:
    """Hold the writer lock of the index at ``index_dir``, waiting up to ``wait`` seconds for it.

    Raises
    ------
    IndexingError
        When another process (or another thread) still holds it after ``wait`` seconds.
    """
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait < float("inf"):
        raise IndexingError(f"the time to wait for another writer must be a number of seconds >= 0; got {wait!r}")
    path = lock_path(index_dir)
    key = (str(path), threading.get_ident())
    if key in _held:
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, index_dir, wait)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # while still held: a waiter then finds its file gone and opens the new one
    finally:
        os.close(fd)  # releases the lock


def _open(path: Path, index_dir) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise IndexingError(f"cannot lock {index_dir} for writing: {path.name}: {err.strerror}") from None


def _acquire(path: Path, index_dir, wait: float) -> int:
    """An open descriptor of ``path`` holding its lock (the file at ``path`` now, not one a holder removed)."""
    deadline = time.monotonic() + wait
    fd = _open(path, index_dir)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                holder = _holder(fd)
                os.close(fd)
                waited = f" after waiting {wait:g} s" if wait else ""
                raise IndexingError(
                    f"{index_dir} is being written by {holder}{waited}; nothing was changed. Wait for it to "
                    f"finish, or pass --wait SECONDS to wait up to that long"
                ) from None
            time.sleep(min(POLL_SECONDS, left))
            continue
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed this file as it let go: lock the one at ``path`` now
        fd = _open(path, index_dir)
