"""The text pipeline: TF-IDF -> autoencoder codes -> FAISS, saved as one bundle."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import sklearn

from indexing import IndexingError, VectorIndex, read_manifest, staged_bundle, write_manifest
from retrieval._tf import keras, tf
from retrieval.config import BuildConfig
from retrieval.core import build_autoencoder
from retrieval.corpus import Corpus
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.featurize import TfidfFeaturizer, load_csr, save_csr
from retrieval.training import encode, train

KIND = "text"
SNIPPET_CHARS = 160
FILES = {
    "vectorizer": "vectorizer.json",
    "encoder": "encoder.keras",
    "index": "index.faiss",
    "doc_ids": "doc_ids.json",
    "metadata": "metadata.jsonl",
    "tfidf": "tfidf.npz",
}


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


class TextIndex:
    """Semantic document search with a deep autoencoder.

    Parameters
    ----------
    config : BuildConfig

    Attributes
    ----------
    featurizer_ : TfidfFeaturizer
    encoder_ : keras.Model
        TF-IDF rows (n, n_features) -> codes (n, code_size).
    index_ : indexing.VectorIndex
    metadata_ : list of dict
        Per document, in index order: ``title``, ``snippet``, ``label``.
    history_ : dict
        Per-epoch training metrics.
    """

    def __init__(self, config: BuildConfig = BuildConfig()):
        self.config = config

    def fit(
        self,
        corpus: Corpus,
        on_stage: Callable[[str], None] | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> "TextIndex":
        """Learn features and codes from ``corpus`` and index every document.

        ``on_stage(name)`` is called as each stage starts and ``on_epoch(epoch,
        logs)`` after each training epoch, for progress display.
        """
        stage = on_stage or (lambda name: None)
        started = time.perf_counter()
        stage("vectorising")
        self.featurizer_ = TfidfFeaturizer(self.config.tfidf)
        X = self.featurizer_.fit_transform(corpus.texts)
        stage("training")
        models = build_autoencoder(X.shape[1], self.config.autoencoder, seed=self.config.train.seed)
        self.history_ = train(models, X, self.config.autoencoder, self.config.train, on_epoch=on_epoch)
        self.encoder_ = models.encoder
        stage("encoding")
        codes = encode(self.encoder_, X)
        stage("indexing")
        self.index_ = VectorIndex(codes.shape[1], self.config.metric).add(codes, corpus.doc_ids)
        labels = corpus.labels or [None] * len(corpus)
        self.metadata_ = [
            {"title": title, "snippet": snippet(text), "label": label}
            for title, text, label in zip(corpus.titles, corpus.texts, labels)
        ]
        self._tfidf = X
        self.build_seconds_ = time.perf_counter() - started
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError("this TextIndex is not fitted; call fit(corpus) or TextIndex.load(path)")

    @property
    def tfidf_(self):
        """The database's TF-IDF rows, CSR (n_documents, n_features) float32."""
        self._check_fitted()
        if self._tfidf is None:
            self._tfidf = load_csr(self._path / FILES["tfidf"])
        return self._tfidf

    @property
    def labels_(self) -> list:
        self._check_fitted()
        return [meta["label"] for meta in self.metadata_]

    def encode(self, texts) -> np.ndarray:
        """Codes of shape (n_texts, code_size), float32."""
        self._check_fitted()
        return encode(self.encoder_, self.featurizer_.transform(texts))

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

    def search(self, texts, k: int = 10) -> list[list[Hit]]:
        """The ``k`` most similar documents to each text, best first."""
        self._check_fitted()
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        return self._hits(self.index_.search(self.encode(texts), k))

    def similar_to(self, doc_id: str, k: int = 10) -> list[Hit]:
        """The ``k`` documents most similar to an indexed one, excluding itself."""
        self._check_fitted()
        code = self.index_.reconstruct(doc_id)
        hits = self.index_.search(code, k + 1 if isinstance(k, int) and k > 0 else k)
        return self._hits(hits, skip=doc_id, k=k)[0]

    def manifest_body(self) -> dict:
        return {
            "kind": KIND,
            "config": self.config.to_dict(),
            "documents": len(self.index_),
            "vocabulary_size": self.featurizer_.n_features_,
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
            self.featurizer_.save(staged / FILES["vectorizer"])
            self.encoder_.save(staged / FILES["encoder"])
            self.index_.write(staged / FILES["index"])
            (staged / FILES["doc_ids"]).write_text(json.dumps(list(self.index_.id_map.doc_ids)))
            with open(staged / FILES["metadata"], "w") as handle:
                for meta in self.metadata_:
                    handle.write(json.dumps(meta, ensure_ascii=False) + "\n")
            save_csr(staged / FILES["tfidf"], self.tfidf_)
            manifest = write_manifest(staged, {**self.manifest_body(), **(extra or {})})
        return manifest

    @classmethod
    def load(cls, path) -> "TextIndex":
        """Load and verify a bundle; never runs code from the directory."""
        path = Path(path)
        manifest = read_manifest(path)
        if manifest.get("kind") != KIND:
            raise IndexingError(f"{path} holds a {manifest.get('kind')!r} index, not a text index")
        missing = [name for name in FILES.values() if name not in manifest["files"]]
        if missing:
            raise IndexingError(f"{path} is damaged: the manifest does not list {', '.join(missing)}")
        index = cls(BuildConfig.from_dict(manifest["config"]))
        index.manifest_ = manifest
        index._path, index._tfidf = path, None
        index.featurizer_ = TfidfFeaturizer.load(path / FILES["vectorizer"])
        try:
            index.encoder_ = keras.saving.load_model(path / FILES["encoder"], compile=False, safe_mode=True)
        except Exception as err:  # Keras raises many types for a bad archive
            raise IndexingError(f"cannot load the encoder in {path}: {err}") from None
        doc_ids = json.loads((path / FILES["doc_ids"]).read_text())
        index.index_ = VectorIndex.read(path / FILES["index"], doc_ids, manifest["metric"])
        with open(path / FILES["metadata"]) as handle:
            index.metadata_ = [json.loads(line) for line in handle]
        index.history_ = manifest.get("history", {})
        index.build_seconds_ = manifest.get("build_seconds", 0.0)
        if len(index.metadata_) != len(doc_ids):
            raise IndexingError(f"{path} is damaged: metadata and ids disagree in length")
        if index.featurizer_.n_features_ != index.encoder_.input_shape[-1]:
            raise RetrievalError(f"{path} is inconsistent: vectorizer and encoder widths differ")
        return index
