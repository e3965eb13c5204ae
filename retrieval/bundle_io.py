"""What a saved index is on disk: the bundle a ``CodeIndex`` writes and reads, and its stored rows.

``Bundled`` is the half of ``retrieval.code_index.CodeIndex`` that meets the
directory: ``save`` (atomic, into a staged sibling), ``load`` (every file
verified, no code run from it), and the per-document files kept as stored
rows so that a removal need not rewrite them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from indexing import BundleReader, IndexingError, generation_of, read_index, staged_bundle, write_manifest
from indexing.lock import index_target
from retrieval.runtime.encoder import Encoder

COMMON_FILES = {
    "encoder": "encoder.keras",
    "steps": "encoder.json",
    "weights": "encoder.npz",
    "index": "index.faiss",
    "doc_ids": "doc_ids.json",
    "metadata": "metadata.jsonl",
    "rows": "rows.npy",
}
SEARCH_FILES = ("index", "doc_ids", "metadata")  # and the exported encoder, or a .keras one in an older bundle
METADATA_KEYS = {"title", "snippet", "label"}


def _check_ids(doc_ids, path) -> list:
    if not isinstance(doc_ids, list) or not all(isinstance(d, str) for d in doc_ids):
        raise IndexingError(f"{path} is damaged: {COMMON_FILES['doc_ids']} must be a JSON list of strings")
    return doc_ids


def _check_metadata(rows, path) -> list:
    for number, row in enumerate(rows, start=1):
        if (
            not isinstance(row, dict)
            or set(row) - METADATA_KEYS
            or not isinstance(row.get("title"), str)
            or not isinstance(row.get("snippet"), str)
            or not isinstance(row.get("label"), (str, type(None)))
        ):
            raise IndexingError(
                f"{path} is damaged: line {number} of {COMMON_FILES['metadata']} must be an object "
                "with a string title and snippet and a string or null label"
            )
    return rows


def _read_rows(reader: BundleReader, n: int) -> np.ndarray | None:
    """rows.npy, the stored row of each of the ``n`` positions (written after removals); None when the bundle
    has none (stored row = position, as in every bundle written before it)."""
    name = COMMON_FILES["rows"]
    if name not in reader.manifest["files"]:
        return None
    try:
        rows = np.load(io.BytesIO(reader.read_bytes(name)), allow_pickle=False)
    except (ValueError, OSError) as err:
        raise IndexingError(f"{reader.path} is damaged: {name} is not a numpy array ({err})") from None
    if rows.dtype != np.int64 or rows.shape != (n,) or (n and rows.min() < 0):
        raise IndexingError(
            f"{reader.path} is damaged: {name} must hold one stored row (int64, not negative) for each of the {n} ids"
        )
    return rows


class Bundled:
    """The bundle and the stored rows of a ``CodeIndex`` (which supplies ``KIND``, ``CONFIG``, ``FILES``,
    ``index_``, ``encoder_``, ``keras_model`` and ``_check_fitted``)."""

    # Per-document files (metadata.jsonl; a text index's tfidf.npz) hold "stored rows". Without rows.npy
    # stored row i is position i. A removal compacts the FAISS index and the ids but not those files:
    # ``_rows`` (rows.npy) then names the stored row of each position, and the next save links the big
    # files unchanged from the loaded generation instead of rewriting them. ``add`` compacts them again.
    _rows: np.ndarray | None = None
    _metadata: list | None = None  # the stored rows; None after a lazy load, until first use
    _by_position: tuple | None = None  # (the _rows it was made for, the metadata per position)
    _stored_need: tuple = (0, False)  # (rows, exact): how many stored rows a loaded bundle's files must hold

    @property
    def metadata_(self) -> list:
        """Per position (after removals, gathered once from the stored rows through ``_rows``)."""
        if self._metadata is None:
            self._metadata = self._read_metadata()
        if self._rows is None:
            return self._metadata
        if self._by_position is None or self._by_position[0] is not self._rows:
            self._by_position = (self._rows, [self._metadata[row] for row in self._rows.tolist()])
        return self._by_position[1]

    @metadata_.setter
    def metadata_(self, rows: list) -> None:
        self._metadata, self._rows = rows, None  # a list per position: stored rows are positions again
        self._display_rows = None  # (title, snippet, label) per position, made on first search

    def _keep(self, kept: np.ndarray) -> None:
        """Keep the documents at positions ``kept`` (increasing), after the index dropped the others.

        Their metadata (and a text index's TF-IDF rows) stay where they are stored; only ``_rows``
        changes, so a removal neither reads nor copies them, and the next save links their files.
        """
        self._rows = kept if self._rows is None else self._rows[kept]
        if self._display_rows is not None:
            self._display_rows = [self._display_rows[position] for position in kept.tolist()]

    def _read_metadata(self) -> list:
        """The stored metadata rows of a loaded bundle, read and checked (now, or on first use after a lazy load)."""
        self._check_fitted()
        rows = _check_metadata(self._reader.read_lines(COMMON_FILES["metadata"]), self._reader.path)
        self._check_stored(len(rows), COMMON_FILES["metadata"])
        return rows

    def _check_stored(self, count: int, name: str) -> None:
        """A per-document file of a loaded bundle must hold a row for each id (without rows.npy), or at least
        every row that rows.npy names."""
        need, exact = self._stored_need
        if count != need if exact else count < need:
            raise IndexingError(
                f"{self._reader.path} is damaged: {name} holds {count} rows and the index needs "
                f"{'' if exact else 'at least '}{need} (metadata and ids disagree in length)"
            )

    def _linkable(self) -> bool:
        """Whether the per-document files are the loaded generation's, unchanged but for ``_rows`` (removals
        only since the load): a save then links them rather than writing them."""
        return self._rows is not None and self._reader is not None

    def _write_stored(self, staged: Path) -> dict:
        """metadata.jsonl, and rows.npy when positions are not stored rows; returns the files linked (see
        ``BundleReader.link_into``) with the size and sha256 the loaded generation records for them."""
        if self._linkable():
            np.save(staged / COMMON_FILES["rows"], np.ascontiguousarray(self._rows, dtype=np.int64))
            return {COMMON_FILES["metadata"]: self._reader.link_into(COMMON_FILES["metadata"], staged)}
        with open(staged / COMMON_FILES["metadata"], "w") as handle:  # per position: no rows.npy
            for meta in self.metadata_:
                handle.write(json.dumps(meta, ensure_ascii=False) + "\n")
        return {}

    def _labelled(self) -> bool:
        if self._metadata is None:  # a lazy load, then removals only (retrieval remove): as the bundle said
            return bool((getattr(self, "manifest_", None) or {}).get("labelled", False))
        return any(label is not None for label in self.labels_)

    # --- the bundle ------------------------------------------------------------------------------
    def manifest_body(self) -> dict:
        return {
            **self._carried(),
            "kind": self.KIND,
            "config": self.config.to_dict(),
            "documents": len(self.index_),
            "code_size": self.index_.dim,
            "metric": self.index_.metric,
            "index": self.index_.plan.to_dict(),
            "labelled": self._labelled(),
            "build_seconds": round(getattr(self, "build_seconds_", 0.0), 2),
            "history": self.history_,
            "encoder": self.encoder_.describe(),
            "library_versions": self._trained_with(),
            **({"updates": self.updates_} if getattr(self, "updates_", None) else {}),
        }

    def _trained_with(self) -> dict:
        """The versions that trained the model: this process's, or (for a loaded bundle) those it records."""
        if getattr(self, "manifest_", None) is not None:
            return self.manifest_.get("library_versions", {})
        from retrieval.model.fit import library_versions

        return library_versions()

    def _carried(self) -> dict:
        """What a loaded bundle's manifest says beyond this class's own fields (the corpus report, the
        end-of-build check), kept when an updated index is saved again."""
        manifest = getattr(self, "manifest_", None) or {}
        return {key: value for key, value in manifest.items() if key not in ("format_version", "files")}

    def _write_keras(self, staged: Path, part: str, name: str) -> dict:
        """Save a trained Keras model, or link a loaded bundle's file as it is (no TensorFlow needed); returns
        what was linked, as ``_write_stored`` does."""
        if part not in self._keras and self._reader is not None and name in self._reader.manifest["files"]:
            return {name: self._reader.link_into(name, staged)}
        self.keras_model(part).save(staged / name)
        return {}

    def save(self, path, extra: dict | None = None, wait: float = 0.0) -> dict:
        """Write the bundle to directory ``path`` atomically; return the manifest.

        Saved back to the directory it was loaded from, it is refused (an IndexingError) if another writer
        saved that directory since. ``wait``: seconds to wait for another writer to finish
        (``indexing.writer_lock``).
        """
        self._check_fitted()
        loaded = getattr(self, "_path", None)
        same = loaded is not None and index_target(path) == index_target(loaded)
        with staged_bundle(Path(path), unchanged_since=self._loaded_generation if same else None, wait=wait) as staged:
            linked = self._write_keras(staged, "encoder", COMMON_FILES["encoder"])
            (staged / COMMON_FILES["steps"]).write_text(json.dumps(self.encoder_.spec()))
            (staged / COMMON_FILES["weights"]).write_bytes(self.encoder_.npz_bytes())
            self.index_.write(staged / COMMON_FILES["index"])
            (staged / COMMON_FILES["doc_ids"]).write_text(json.dumps(list(self.index_.id_map.doc_ids)))
            linked.update(self._write_stored(staged))
            linked.update(self._save_files(staged) or {})
            manifest = write_manifest(staged, {**self.manifest_body(), **(extra or {})}, known=linked)
        return manifest

    def _save_files(self, staged: Path) -> dict | None:
        """Write the subclass's own files; return any linked from the loaded generation (see ``_write_stored``)."""
        raise NotImplementedError

    def _load_files(self, reader: BundleReader) -> None:
        raise NotImplementedError

    def _load_encoder(self, reader: BundleReader) -> Encoder:
        files = reader.manifest["files"]
        if COMMON_FILES["steps"] in files and COMMON_FILES["weights"] in files:
            return Encoder.from_bytes(
                reader.read_bytes(COMMON_FILES["steps"]), reader.read_bytes(COMMON_FILES["weights"])
            )
        # a bundle written before the numpy runtime: export its Keras encoder once, in memory
        from retrieval.model.export import export_encoder

        return export_encoder(self.keras_model("encoder"))

    @classmethod
    def load(cls, path, mmap: bool = True, lazy: bool = False):
        """Load one generation of a bundle for search, reading only what search needs, each file verified.

        Never runs code from the directory and never imports Keras for a bundle
        written by this version. With ``mmap``, the FAISS codes are mapped
        read-only rather than copied. With ``lazy``, the metadata is read (and
        checked) on first use rather than now: for an update that shows no
        document (``retrieval remove``: at a million documents it is most of the load).
        """
        path = Path(path)
        reader = BundleReader(path)
        try:
            return cls._load(path, reader, mmap, lazy)
        except IndexingError:
            reader.close()
            raise
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, ArithmeticError) as err:
            # a manifest edited by hand (the files are checksummed, the manifest is what lists the sums): one line
            reader.close()
            raise IndexingError(
                f"{path} is damaged: its manifest does not describe a loadable index ({type(err).__name__}: {err})"
            ) from None

    @classmethod
    def _load(cls, path: Path, reader: BundleReader, mmap: bool, lazy: bool):
        manifest = reader.manifest
        if manifest.get("kind") != cls.KIND:
            raise IndexingError(
                f"{path} holds a {manifest.get('kind')!r} index; this command reads {cls.KIND!r} indexes"
            )
        reader.require([COMMON_FILES[name] for name in SEARCH_FILES] + list(cls.FILES.values()))
        try:
            index = cls(cls.CONFIG.from_dict(manifest["config"]))
        except (KeyError, TypeError) as err:
            raise IndexingError(f"{path} is damaged: its manifest has no usable config ({err})") from None
        index.manifest_, index._path, index._reader = manifest, path, reader
        index._loaded_generation = generation_of(manifest)
        index.encoder_ = index._load_encoder(reader)
        doc_ids = _check_ids(reader.read_json(COMMON_FILES["doc_ids"]), path)
        faiss_path = reader.faiss_path(COMMON_FILES["index"])
        try:
            index.index_ = read_index(faiss_path, doc_ids, manifest["metric"], mmap=mmap)
        except IndexingError as err:  # it names the descriptor FAISS read through: name the bundle's file
            raise IndexingError(str(err).replace(faiss_path, str(path / COMMON_FILES["index"]))) from None
        index._rows = _read_rows(reader, len(doc_ids))
        index._stored_need = (
            (len(doc_ids), True)
            if index._rows is None
            else (int(index._rows.max()) + 1 if len(index._rows) else 0, False)
        )
        if not lazy:
            index._metadata = index._read_metadata()
        index.history_ = manifest.get("history", {})
        index.build_seconds_ = manifest.get("build_seconds", 0.0)
        index.updates_ = manifest.get("updates", {})
        if index.encoder_.code_size != index.index_.dim:
            raise IndexingError(
                f"{path} is inconsistent: the encoder gives {index.encoder_.code_size}-d codes, "
                f"the index holds {index.index_.dim}-d ones"
            )
        index._load_files(reader)
        return index
