"""What every pipeline shares: codes in a FAISS index, with ids, metadata and one bundle.

``CodeIndex`` holds the encoder, the float or binary FAISS index, the ids and
display metadata, search, and the bundle. ``retrieval.text.index.TextIndex``
adds TF-IDF features; ``retrieval.images.index.ImageIndex`` adds pixels.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import sklearn

from indexing import BinaryIndex, IndexingError, VectorIndex, read_index, read_manifest, staged_bundle, write_manifest
from retrieval.model._tf import keras, tf
from retrieval.config import BuildConfig
from retrieval.model.builder import build_autoencoder
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.model.codes import binarize, finish_codes
from retrieval.model.neighbours import Signals
from retrieval.model.training import encode, train

SNIPPET_CHARS = 160
COMMON_FILES = {"encoder": "encoder.keras", "index": "index.faiss", "doc_ids": "doc_ids.json", "metadata": "metadata.jsonl"}


@dataclass(frozen=True)
class Hit:
    """One search result."""

    doc_id: str
    score: float
    title: str
    snippet: str
    label: str | None = None


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= chars else flat[: chars - 1].rstrip() + "…"


def load_keras(path: Path) -> keras.Model:
    """Load a ``.keras`` model in safe mode: no code from the file runs."""
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a bad archive
        raise IndexingError(f"cannot load the model in {path}: {err}") from None


class CodeIndex:
    """Shared by every pipeline: codes in a FAISS index, with ids, metadata and a bundle.

    Subclasses set ``KIND``, ``CONFIG`` (the config class), ``FILES`` (their
    own bundle files), and implement ``features``, ``_save_files`` and
    ``_load_files``.

    Attributes
    ----------
    encoder_ : keras.Model
        Features (n, d) -> codes (n, code_size).
    index_ : indexing.VectorIndex or indexing.BinaryIndex
    metadata_ : list of dict
        Per document, in index order: ``title``, ``snippet``, ``label``.
    history_ : dict
        Per-epoch training metrics.
    """

    KIND = ""
    CONFIG = BuildConfig
    FILES: dict = {}

    def __init__(self, config=None):
        self.config = config if config is not None else self.CONFIG()

    def features(self, inputs):
        """Inputs (texts, images) -> feature rows (n, d)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted; call fit(...) or {type(self).__name__}.load(path)")

    def _train(self, X, doc_ids, on_stage, on_epoch, **train_options):
        """Build and train the autoencoder on rows ``X``, then index their codes under ``doc_ids``."""
        stage = on_stage or (lambda name: None)
        signals = self._signals(X, stage)
        stage("training")
        models = build_autoencoder(X.shape[1], self.config.autoencoder, seed=self.config.train.seed, anchor=signals.anchor)
        self.history_ = train(models, X, self.config.autoencoder, self.config.train, on_epoch=on_epoch,
                              targets=signals.targets, **train_options)
        stage("encoding")
        models, codes = finish_codes(models, X, self.config.autoencoder, seed=self.config.train.seed)
        self.encoder_ = models.encoder
        stage("indexing")
        self.index_ = self._new_index(codes.shape[1]).add(self.searchable(codes), doc_ids)
        return models

    @property
    def binary(self) -> bool:
        """Whether codes are thresholded to bits and searched by Hamming distance."""
        return self.config.autoencoder.codes == "binary"

    def _new_index(self, code_size: int):
        return BinaryIndex(code_size) if self.binary else VectorIndex(code_size, self.config.metric)

    def searchable(self, codes: np.ndarray) -> np.ndarray:
        """What the FAISS index takes: float codes as they are, binary ones thresholded and packed."""
        if self.binary and codes.dtype != np.uint8:
            return binarize(codes)
        return codes

    def retrain(self, config, X=None) -> "CodeIndex":
        """A new index of the same documents and features, trained with ``config`` (e.g. another kind).

        ``X`` is the feature rows in index order; text indexes default to their stored TF-IDF.
        """
        self._check_fitted()
        X = self._stored_features() if X is None else X
        started = time.perf_counter()
        other = type(self)(config)
        self._share_features(other)
        models = other._train(X, list(self.index_.id_map.doc_ids), None, None, **other._train_options())
        other._keep(models)
        other.metadata_ = self.metadata_
        other.build_seconds_ = time.perf_counter() - started
        return other

    def _signals(self, X, stage) -> Signals:
        """What training takes from the corpus besides its rows (text: neighbour targets and the anchor)."""
        return Signals()

    def _stored_features(self):
        raise RetrievalError(f"an index of {self.KIND} keeps no features; pass the rows to retrain")

    def _share_features(self, other) -> None:
        """Give ``other`` this index's featurizer (whatever turns inputs into rows)."""

    def _train_options(self) -> dict:
        return {}

    def _keep(self, models) -> None:
        """Keep the decoder (in memory; image bundles also save it)."""
        self.decoder_ = models.decoder

    @property
    def labels_(self) -> list:
        self._check_fitted()
        return [meta["label"] for meta in self.metadata_]

    def encode(self, inputs) -> np.ndarray:
        """Codes of shape (n, code_size), float32."""
        self._check_fitted()
        return encode(self.encoder_, self.features(inputs))

    def _hits(self, hits, skip: str | None = None, k: int | None = None) -> list[list[Hit]]:
        results = []
        for row_ids, row_scores, row_pos in zip(hits.doc_ids, hits.scores, hits.positions):
            row = [
                Hit(doc_id, float(score), **self.metadata_[pos])
                for doc_id, score, pos in zip(row_ids, row_scores, row_pos)
                if doc_id != skip and pos >= 0
            ]
            results.append(row[:k] if k is not None else row)
        return results

    def search_codes(self, codes: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """The ``k`` nearest documents to each code (n, code_size), best first.

        For a binary index, sigmoid codes are thresholded; packed bits pass as they are.
        """
        self._check_fitted()
        return self._hits(self.index_.search(self.searchable(codes), k))

    def similar_to(self, doc_id: str, k: int = 10) -> list[Hit]:
        """The ``k`` documents most similar to an indexed one, excluding itself."""
        self._check_fitted()
        code = self.index_.reconstruct(doc_id)
        hits = self.index_.search(code, k + 1 if isinstance(k, int) and k > 0 else k)
        return self._hits(hits, skip=doc_id, k=k)[0]

    def manifest_body(self) -> dict:
        return {
            "kind": self.KIND,
            "config": self.config.to_dict(),
            "documents": len(self.index_),
            "code_size": self.index_.dim,
            "metric": self.index_.metric,
            "labelled": any(label is not None for label in self.labels_),
            "build_seconds": round(getattr(self, "build_seconds_", 0.0), 2),
            "history": self.history_,
            "library_versions": {
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "scikit-learn": sklearn.__version__,
                "scipy": scipy.__version__,
            },
        }

    def save(self, path, extra: dict | None = None) -> dict:
        """Write the bundle to directory ``path`` atomically; return the manifest."""
        self._check_fitted()
        with staged_bundle(Path(path)) as staged:
            self.encoder_.save(staged / COMMON_FILES["encoder"])
            self.index_.write(staged / COMMON_FILES["index"])
            (staged / COMMON_FILES["doc_ids"]).write_text(json.dumps(list(self.index_.id_map.doc_ids)))
            with open(staged / COMMON_FILES["metadata"], "w") as handle:
                for meta in self.metadata_:
                    handle.write(json.dumps(meta, ensure_ascii=False) + "\n")
            self._save_files(staged)
            manifest = write_manifest(staged, {**self.manifest_body(), **(extra or {})})
        return manifest

    def _save_files(self, staged: Path) -> None:
        raise NotImplementedError

    def _load_files(self, path: Path, manifest: dict) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, path):
        """Load and verify a bundle; never runs code from the directory."""
        path = Path(path)
        manifest = read_manifest(path)
        if manifest.get("kind") != cls.KIND:
            raise IndexingError(f"{path} holds a {manifest.get('kind')!r} index; this command reads {cls.KIND!r} indexes")
        missing = [name for name in [*COMMON_FILES.values(), *cls.FILES.values()] if name not in manifest["files"]]
        if missing:
            raise IndexingError(f"{path} is damaged: the manifest does not list {', '.join(missing)}")
        index = cls(cls.CONFIG.from_dict(manifest["config"]))
        index.manifest_, index._path = manifest, path
        index.encoder_ = load_keras(path / COMMON_FILES["encoder"])
        doc_ids = json.loads((path / COMMON_FILES["doc_ids"]).read_text())
        index.index_ = read_index(path / COMMON_FILES["index"], doc_ids, manifest["metric"])
        with open(path / COMMON_FILES["metadata"]) as handle:
            index.metadata_ = [json.loads(line) for line in handle]
        index.history_ = manifest.get("history", {})
        index.build_seconds_ = manifest.get("build_seconds", 0.0)
        if len(index.metadata_) != len(doc_ids):
            raise IndexingError(f"{path} is damaged: metadata and ids disagree in length")
        index._load_files(path, manifest)
        return index
