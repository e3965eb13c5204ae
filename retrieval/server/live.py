"""Indexes that follow their directory: a rebuild is picked up without a restart.

A build swaps a complete new directory into place (``indexing.staged_bundle``).
``LiveIndex`` notices the swap by polling the directory's identity, loads the
new generation beside the one that is answering, and then replaces it with
one assignment. A request takes ``live.current`` once and uses only that
``Generation`` to the end, so no answer mixes two generations; the old one is
freed when its last request is done.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from indexing import IndexingError
from indexing.bundle import MANIFEST_NAME, generation_of
from retrieval.errors import RetrievalError
from retrieval.text.index import TextIndex

log = logging.getLogger("retrieval.server")


class Generation(NamedTuple):
    """One loaded generation of an index directory."""

    index: TextIndex
    id: str  # from the manifest, which lists every file's sha256: the same bytes give the same id
    loaded_at: float  # time.time()


def _stamp(path: Path) -> tuple:
    """What changes when a directory is swapped or its manifest rewritten."""
    directory, manifest = os.stat(path), os.stat(path / MANIFEST_NAME)
    return directory.st_dev, directory.st_ino, manifest.st_ino, manifest.st_mtime_ns, manifest.st_size


# seconds before a directory that failed to load is tried again, while it stays as it is (a change: at once)
RETRY_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)


class LiveIndex:
    """A served index directory and the generation of it that answers.

    Parameters
    ----------
    name : str
        What requests call it (``?index=NAME``).
    path : path of a directory written by ``retrieval build``.

    Attributes
    ----------
    current : Generation
        The generation that answers; replaced whole by ``refresh``.
    reload_error : str or None
        Why the newest directory could not be loaded (the previous generation
        goes on answering), until a load succeeds.
    """

    def __init__(self, name: str, path):
        self.name, self.path = name, Path(path)
        self.reload_error: str | None = None
        self._failures, self._retry_at = 0, 0.0
        self._seen = self._stamp_or_none()
        self.current = self._load()

    def _stamp_or_none(self):
        try:
            return _stamp(self.path)
        except OSError:
            return None

    def _load(self) -> Generation:
        index = TextIndex.load(self.path)
        return Generation(index, generation_of(index.manifest_), time.time())

    def refresh(self, now: float | None = None) -> bool:
        """Load the directory again if it changed since it was last read, or if its last load failed and the
        time to retry it has come (``RETRY_SECONDS``); True if a new generation answers.

        Any failure to load keeps the current generation answering and shows in ``reload_error``.
        """
        now = time.monotonic() if now is None else now
        stamp = self._stamp_or_none()
        if stamp is None:  # gone for a moment (a swap by two renames)
            return False
        if stamp == self._seen and (self.reload_error is None or now < self._retry_at):
            return False
        if stamp != self._seen:
            self._failures = 0
        self._seen = stamp
        try:
            loaded = self._load()
        except Exception as err:  # of any kind: the generation answering must outlive whatever the new one holds
            self._failures += 1
            self._retry_at = now + RETRY_SECONDS[min(self._failures, len(RETRY_SECONDS)) - 1]
            known = isinstance(err, (IndexingError, RetrievalError, OSError))
            self.reload_error = str(err) if known else f"{type(err).__name__}: {err}"
            log.warning(
                "index %r: keeping generation %s; the rebuilt directory cannot be loaded (try %d, next in %g s): %s",
                self.name,
                self.current.id,
                self._failures,
                self._retry_at - now,
                self.reload_error,
            )
            return False
        self.reload_error, self._failures = None, 0
        if loaded.id == self.current.id:
            return False
        previous, self.current = self.current, loaded
        log.info("index %r: generation %s answers (was %s)", self.name, loaded.id, previous.id)
        return True

    def shown_error(self, with_paths: bool) -> str | None:
        """``reload_error`` for ``/health``: the index directory's path replaced by the index's name unless
        ``with_paths`` (a client without the API key learns no filesystem path)."""
        if self.reload_error is None or with_paths:
            return self.reload_error
        shown = self.reload_error
        for path in sorted(
            {str(self.path), str(self.path.absolute()), str(self.path.resolve())}, key=len, reverse=True
        ):
            shown = shown.replace(path, f"<index {self.name}>")
        return shown


class Watcher:
    """A daemon thread that refreshes every live index each ``interval`` seconds until stopped."""

    def __init__(self, indexes, interval: float):
        self.indexes, self.interval = list(indexes), interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retrieval-index-watcher", daemon=True)

    def start(self) -> "Watcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for live in self.indexes:
                try:
                    live.refresh()
                except Exception:  # keep watching: one bad poll must not stop reloads for good
                    log.exception("index %r: checking for a rebuild failed", live.name)
