"""Read one generation of a saved index: only the files asked for, each checked against the manifest.

A build swaps a new directory into place while other processes may be
serving the old one. ``BundleReader`` opens the directory once and every file
it will ever need relative to that open directory, so all of them come from
the same generation; a file read later (say the TF-IDF rows for a re-rank)
is read through the descriptor opened at load time, not by path, and is
checked when it is read.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import weakref
from pathlib import Path

import numpy as np

from indexing.bundle import MANIFEST_NAME, check_file, parse_manifest
from indexing.errors import IndexingError

_PROC_FD = Path("/proc/self/fd")


def _sha256_fd(fd: int) -> str:
    """The sha256 of an open file, read in blocks (a large index need not fit in memory twice)."""
    digest, offset = hashlib.sha256(), 0
    while block := os.pread(fd, 1 << 22, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


def _read_fd(fd: int) -> bytes:
    return os.pread(fd, os.fstat(fd).st_size, 0)


# a manifest lists sizes and checksums (kilobytes); a larger one is not read into memory to find it damaged
MAX_MANIFEST_BYTES = 64 << 20


class BundleReader:
    """The files of one saved index, opened together and verified as they are read.

    Parameters
    ----------
    path : path of the index directory
    required : iterable of str
        Files that must be listed in the manifest. Every listed file is opened
        now, so that a later read sees this generation.

    Attributes
    ----------
    manifest : dict
    """

    def __init__(self, path, required=()):
        self.path = Path(path)
        try:
            self._dir = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise IndexingError(f"no index at {self.path}: the directory does not exist") from None
        except NotADirectoryError:
            raise IndexingError(f"no index at {self.path}: it is a file, not a directory") from None
        self._fds: dict[str, int] = {}
        self._finalizer = weakref.finalize(self, _close, self._fds, self._dir)
        try:
            manifest_fd = self._open(MANIFEST_NAME, f"{self.path} is not a saved index: {MANIFEST_NAME} is missing")
            size = os.fstat(manifest_fd).st_size
            if size > MAX_MANIFEST_BYTES:
                raise IndexingError(
                    f"{self.path} is damaged: {MANIFEST_NAME} has {size} bytes, more than a "
                    "manifest can hold; rebuild the index"
                )
            self.manifest = parse_manifest(_read_fd(manifest_fd), self.path)
            self.require(required)
            for name in self.manifest["files"]:
                self._open(name, f"{self.path} is damaged: {name} is missing; rebuild the index")
        except BaseException:
            self.close()
            raise

    def require(self, names) -> None:
        """Raise IndexingError naming any of ``names`` that the manifest does not list."""
        missing = [name for name in names if name not in self.manifest["files"]]
        if missing:
            self.close()
            raise IndexingError(f"{self.path} is damaged: the manifest does not list {', '.join(missing)}")

    def _open(self, name: str, missing: str) -> int:
        """Open ``name`` in the index directory: never through a link, never a FIFO or a device (opening a
        FIFO would wait for a writer), only a regular file."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=self._dir)
        except FileNotFoundError:
            raise IndexingError(missing) from None
        except OSError as err:  # ELOOP: a symbolic link; ENXIO and others: a socket or a device
            kind = "a symbolic link" if err.errno == errno.ELOOP else f"not a file that can be read ({err.strerror})"
            raise IndexingError(
                f"{self.path} is damaged: {name} is {kind}; an index holds only regular files"
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IndexingError(
                f"{self.path} is damaged: {name} is not a regular file; an index holds only regular files"
            )
        self._fds[name] = fd
        return fd

    def _fd(self, name: str) -> int:
        if name not in self._fds:
            raise IndexingError(f"internal error: {name} was not opened with the index")
        return self._fds[name]

    def _verify(self, name: str, data: bytes) -> bytes:
        check_file(self.path, name, self.manifest["files"][name], len(data), lambda: hashlib.sha256(data).hexdigest())
        return data

    def read_bytes(self, name: str) -> bytes:
        """The whole file, after checking its size (before reading it) and sha256."""
        fd, entry = self._fd(name), self.manifest["files"][name]
        size = os.fstat(fd).st_size
        if size != entry["bytes"]:  # a damaged file is not read into memory to find it so: check_file names it
            check_file(self.path, name, entry, size, lambda: "")
        return self._verify(name, os.pread(fd, size, 0))

    def read_json(self, name: str):
        try:
            return json.loads(self.read_bytes(name))
        except (ValueError, UnicodeDecodeError) as err:
            raise IndexingError(f"{self.path} is damaged: {name} is not valid JSON ({err})") from None

    def read_lines(self, name: str) -> list:
        """A JSON-lines file as a list of values; a bad line is named by its number."""
        lines = [line for line in self.read_bytes(name).splitlines() if line.strip()]
        try:  # one parse of the whole file as an array: a tenth of the time of a parse per line
            values = json.loads(b"[" + b",".join(lines) + b"]")
            if len(values) == len(lines):
                return values
        except (ValueError, UnicodeDecodeError):
            pass  # find the bad line below
        values = []
        for number, line in enumerate(lines, start=1):
            try:
                values.append(json.loads(line))
            except (ValueError, UnicodeDecodeError) as err:
                raise IndexingError(
                    f"{self.path} is damaged: line {number} of {name} is not valid JSON ({err})"
                ) from None
        return values

    def faiss_path(self, name: str) -> str:
        """A path FAISS can open that names this generation's file (after checking it)."""
        fd = self._fd(name)
        check_file(self.path, name, self.manifest["files"][name], os.fstat(fd).st_size, lambda: _sha256_fd(fd))
        proc = _PROC_FD / str(fd)
        return str(proc) if proc.exists() else str(self.path / name)

    def read_array(self, name: str, mmap: bool = True):
        """A ``.npy`` file of this generation, after checking its size and sha256, mapped read-only with ``mmap``
        (so processes that load the same generation share its pages) or read. Never unpickles."""
        fd = self._fd(name)
        check_file(self.path, name, self.manifest["files"][name], os.fstat(fd).st_size, lambda: _sha256_fd(fd))
        proc = _PROC_FD / str(fd)
        source = proc if proc.exists() else self.path / name
        try:
            try:
                return np.load(source, mmap_mode="r" if mmap else None, allow_pickle=False)
            except ValueError:  # an empty array cannot be mapped
                if not mmap:
                    raise
                return np.load(source, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise IndexingError(f"{self.path} is damaged: {name} is not a numpy array ({err})") from None

    def link_into(self, name: str, directory) -> dict:
        """Put this generation's file ``name`` into ``directory`` (a staged bundle) unchanged; return the size and
        sha256 this generation's manifest records for it, for ``write_manifest(known=...)``.

        A hard link to the very file opened at load: made by name in the directory opened at load, and kept
        only if it is the same inode as the open file. Sharing the file between generations is safe because
        nothing ever writes into an existing bundle file: every save writes new files into a new directory
        and swaps it in, and a replaced generation only drops its own links. The link is not read, so not
        hashed: it keeps the checksum this generation recorded, and damage to it is still found by the next
        load that reads it. Where no link can be made (another filesystem, the generation deleted since),
        the file is copied from the open descriptor and checked against that checksum as it is copied.
        """
        fd, entry, target = self._fd(name), self.manifest["files"][name], Path(directory) / name
        opened = os.fstat(fd)
        try:
            os.link(name, target, src_dir_fd=self._dir, follow_symlinks=False)
            linked = os.lstat(target)
            if (linked.st_dev, linked.st_ino) == (opened.st_dev, opened.st_ino):
                return {"bytes": entry["bytes"], "sha256": entry["sha256"]}
            os.unlink(target)
        except OSError:
            pass
        digest, offset = hashlib.sha256(), 0
        with open(target, "wb") as out:
            while block := os.pread(fd, 1 << 22, offset):
                digest.update(block)
                out.write(block)
                offset += len(block)
        check_file(self.path, name, entry, offset, digest.hexdigest)
        return {"bytes": entry["bytes"], "sha256": entry["sha256"]}

    def close(self) -> None:
        self._finalizer()


def _close(fds: dict, directory: int) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()
    os.close(directory)
