"""Bundles as older versions wrote them, for the front ends' tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def old_bundle(source, path) -> Path:
    """A copy of the bundle at ``source`` as the version before the lexical index wrote it.

    The lexical files are deleted and the manifest is written again, checksums and all, without its
    ``lexical`` and ``fusion`` keys: what a bundle built before hybrid search holds.
    """
    from indexing.bundle import write_manifest

    path = Path(path)
    shutil.copytree(source, path)
    for name in path.glob("lexical_*.npy"):
        name.unlink()
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").unlink()
    write_manifest(path, {k: v for k, v in manifest.items() if k not in ("files", "format_version", "lexical", "fusion")})
    return path
