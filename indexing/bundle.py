"""A saved index is one directory, replaced atomically and verified on load.

Layout: ``manifest.json`` (format version, the caller's body, library
versions, and the size and sha256 of every other file) beside the files the
caller writes. A build writes into a temporary sibling and swaps it into
place only when complete, so an interrupted or failed build leaves the
previous index, if any, untouched. Nothing ever writes into an existing
bundle file, so a save may hard-link files it does not change from the
generation it replaces (``BundleReader.link_into``): the two directories then
share them, and removing either one removes only its own links.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from indexing.errors import IndexingError
from indexing.lock import index_target, writer_lock

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_bundle(path: Path) -> bool:
    return (Path(path) / MANIFEST_NAME).is_file()


def _check_replaceable(out_dir: Path) -> None:
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise IndexingError(f"cannot write the index to {out_dir}: it is a file, not a directory")
    if any(out_dir.iterdir()) and not is_bundle(out_dir):
        raise IndexingError(
            f"refusing to replace {out_dir}: it is a non-empty directory that is not a saved index "
            f"(no {MANIFEST_NAME}); choose another --out"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(out_dir: Path) -> None:
    """Remove temporary siblings left by builds that were killed (their pid is gone)."""
    for stale in out_dir.parent.glob(f".{out_dir.name}.tmp-*"):
        try:
            pid = int(stale.name.rsplit(".tmp-", 1)[1].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(stale, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in [*root.iterdir(), root]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: filesystem cannot exchange
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def _swap_into_place(staged: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(staged, out_dir)
    elif _exchange(staged, out_dir):
        shutil.rmtree(staged)  # now holds the previous index
    else:
        old = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}-old")
        os.rename(out_dir, old)
        os.rename(staged, out_dir)
        shutil.rmtree(old)
    fd = os.open(out_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def generation_of(manifest: dict) -> str:
    """A generation's id: a digest of its manifest, which lists every file's sha256 (same bytes, same id)."""
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def _generation_on_disk(out_dir: Path) -> str | None:
    try:
        return generation_of(json.loads((out_dir / MANIFEST_NAME).read_bytes()))
    except (OSError, ValueError):
        return None


@contextmanager
def staged_bundle(out_dir: Path, unchanged_since: str | None = None, wait: float = 0.0) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``out_dir`` to write a bundle into, holding its writer lock.

    On a clean exit the staged directory must hold a manifest (see
    ``write_manifest``); it then replaces ``out_dir`` atomically. On any
    exception, including KeyboardInterrupt, it is removed and ``out_dir`` is
    left as it was. With ``unchanged_since`` (a ``generation_of`` id: the
    generation an update was loaded from), the swap is refused if ``out_dir``
    no longer holds that generation, so an update never silently replaces
    another writer's. ``wait``: seconds to wait for another writer's lock
    (``indexing.lock.writer_lock``, which a caller may already hold).
    """
    out_dir = index_target(out_dir)
    with writer_lock(out_dir, wait):
        _check_replaceable(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(out_dir)
        staged = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-{os.getpid()}-", dir=out_dir.parent))
        try:
            yield staged
            if not is_bundle(staged):
                raise IndexingError(f"internal error: the staged index has no {MANIFEST_NAME}")
            if unchanged_since is not None and _generation_on_disk(out_dir) != unchanged_since:
                raise IndexingError(
                    f"{out_dir} changed since this update loaded it (another writer saved a new "
                    "generation); nothing was written: load it again and repeat the update"
                )
            _fsync_tree(staged)
            _swap_into_place(staged, out_dir)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise


def library_versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "faiss": faiss.__version__}


def write_manifest(bundle_dir: Path, body: dict, known: dict | None = None) -> dict:
    """Write ``manifest.json`` listing every other file in ``bundle_dir`` with its sha256.

    ``body`` is the caller's JSON-serialisable description (config, counts,
    code size, its own library versions under ``library_versions``).
    ``known`` maps the names of files linked unchanged from a loaded generation
    (``BundleReader.link_into``) to the size and sha256 that generation's
    manifest records: those are not hashed again. Use it for nothing else.
    """
    bundle_dir = Path(bundle_dir)
    known = known or {}
    files = {}
    for path in sorted(bundle_dir.iterdir()):
        if path.name == MANIFEST_NAME:
            continue
        if not path.is_file():
            raise IndexingError(f"a bundle holds only plain files; {path.name} is not one")
        if path.name in known:
            entry = known[path.name]
            if path.stat().st_size != entry["bytes"]:
                raise IndexingError(
                    f"internal error: {path.name} was linked with {entry['bytes']} bytes and now has "
                    f"{path.stat().st_size}"
                )
            files[path.name] = {"bytes": entry["bytes"], "sha256": entry["sha256"]}
            continue
        files[path.name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {"format_version": FORMAT_VERSION, **body}
    manifest["library_versions"] = {**library_versions(), **body.get("library_versions", {})}
    manifest["files"] = files
    (bundle_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def parse_manifest(raw: bytes, bundle_dir: Path) -> dict:
    """Parse a manifest's bytes; check its format version and that every listed name is a plain file name."""
    manifest_path = Path(bundle_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(raw)
        version = manifest["format_version"]
        files = manifest["files"]
        if not isinstance(files, dict) or not all(
            isinstance(e, dict) and {"bytes", "sha256"} <= e.keys() for e in files.values()
        ):
            raise TypeError("'files' must map names to their bytes and sha256")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise IndexingError(f"{manifest_path} is damaged and cannot be read ({err})") from None
    if version != FORMAT_VERSION:
        raise IndexingError(
            f"{bundle_dir} uses index format {version!r}; this version reads format {FORMAT_VERSION}: rebuild the index"
        )
    for name in files:
        if Path(name).name != name or name in ("", ".", ".."):
            raise IndexingError(f"{manifest_path} is damaged: it lists an unsafe file name {name!r}")
    return manifest


def read_manifest(bundle_dir: Path, verify: bool = True) -> dict:
    """Read and check a bundle's manifest.

    Raises IndexingError naming the problem: no such directory, not an index,
    an unreadable manifest, an unsupported format version, or (with
    ``verify``) a listed file that is missing, truncated or altered.
    """
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise IndexingError(f"no index at {bundle_dir}: the directory does not exist")
    manifest_path = bundle_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise IndexingError(f"{bundle_dir} is not a saved index: {MANIFEST_NAME} is missing")
    manifest = parse_manifest(manifest_path.read_bytes(), bundle_dir)
    files = manifest["files"]
    for name, entry in files.items():
        path = bundle_dir / name
        if not path.is_file():
            raise IndexingError(f"{bundle_dir} is damaged: {name} is missing; rebuild the index")
        if verify:
            check_file(bundle_dir, name, entry, path.stat().st_size, lambda path=path: sha256_file(path))
    return manifest


def check_file(bundle_dir: Path, name: str, entry: dict, size: int, sha256) -> None:
    """Raise IndexingError unless a file's ``size`` and ``sha256()`` (called only if the size fits) match ``entry``."""
    if size != entry["bytes"]:
        raise IndexingError(
            f"{bundle_dir} is damaged: {name} has {size} bytes, expected {entry['bytes']} "
            "(truncated or altered); rebuild the index"
        )
    if sha256() != entry["sha256"]:
        raise IndexingError(f"{bundle_dir} is damaged: {name} does not match its checksum (altered); rebuild the index")
