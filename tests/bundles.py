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
    write_manifest(
        path, {k: v for k, v in manifest.items() if k not in ("files", "format_version", "lexical", "fusion")}
    )
    return path


def term_count_bundle(source, path) -> Path:
    """A copy of the bundle at ``source`` as the version before impacts were stored wrote it: the lexical index
    holds each posting's term count (``lexical_tf.npy``, recovered from the impacts) and no mean length."""
    import numpy as np

    from indexing.bundle import write_manifest

    path = Path(path)
    shutil.copytree(source, path)
    manifest = json.loads((path / "manifest.json").read_text())
    settings = manifest["lexical"]
    k1, b, avgdl = settings["k1"], settings["b"], settings["avgdl"]
    impact = np.load(path / "lexical_impact.npy").astype(np.float64)
    rows, lengths = np.load(path / "lexical_rows.npy"), np.load(path / "lexical_lengths.npy").astype(np.float64)
    norm = k1 * (1 - b + b * lengths[rows] / avgdl)
    np.save(path / "lexical_tf.npy", np.rint(impact * norm / (k1 + 1 - impact)).astype(np.float32))
    (path / "lexical_impact.npy").unlink()
    (path / "manifest.json").unlink()
    settings.pop("avgdl")
    write_manifest(path, {k: v for k, v in manifest.items() if k not in ("files", "format_version")})
    return path
