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


def generation_id(manifest: dict) -> str:
    return generation_of(manifest)


def _stamp(path: Path) -> tuple:
    """What changes when a directory is swapped or its manifest rewritten."""
    directory, manifest = os.stat(path), os.stat(path / MANIFEST_NAME)
    return directory.st_dev, directory.st_ino, manifest.st_ino, manifest.st_mtime_ns, manifest.st_size


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
        self._seen = self._stamp_or_none()
        self.current = self._load()

    def _stamp_or_none(self):
        try:
            return _stamp(self.path)
        except OSError:
            return None

    def _load(self) -> Generation:
        index = TextIndex.load(self.path)
        return Generation(index, generation_id(index.manifest_), time.time())

    def refresh(self) -> bool:
        """Load the directory again if it changed since it was last read; True if a new generation answers."""
        stamp = self._stamp_or_none()
        if stamp is None or stamp == self._seen:  # None: gone for a moment (a swap by two renames)
            return False
        self._seen = stamp
        try:
            loaded = self._load()
        except (IndexingError, RetrievalError, OSError) as err:
            self.reload_error = str(err)
            log.warning("index %r: keeping generation %s; the rebuilt directory cannot be loaded: %s",
                        self.name, self.current.id, err)
            return False
        self.reload_error = None
        if loaded.id == self.current.id:
            return False
        previous, self.current = self.current, loaded
        log.info("index %r: generation %s answers (was %s)", self.name, loaded.id, previous.id)
        return True


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
