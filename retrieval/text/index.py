"""The text pipeline: TF-IDF -> autoencoder codes -> FAISS, saved as one bundle."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexing import Hits
from retrieval.code_index import CodeIndex, Hit, snippet
from retrieval.config import BuildConfig
from retrieval.text.corpus import Corpus
from retrieval.errors import RetrievalError
from retrieval.text.featurize import TfidfFeaturizer, load_csr, save_csr
from retrieval.model.neighbours import Signals, corpus_signals
from retrieval.model.training import encode

__all__ = ["CodeIndex", "Hit", "TextIndex"]


def check_rerank(rerank) -> None:
    """``rerank`` must be a whole number of candidates, 0 for none."""
    if isinstance(rerank, bool) or not isinstance(rerank, (int, np.integer)) or rerank < 0:
        raise RetrievalError(f"rerank must be a whole number of candidates (0 = off); got {rerank!r}")


def _shortlist(rerank: int, k) -> int:
    """How many candidates the codes propose: N, and at least k."""
    return max(int(rerank), k) if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else k


class TextIndex(CodeIndex):
    """Semantic document search: TF-IDF -> autoencoder codes -> FAISS.

    Parameters
    ----------
    config : BuildConfig

    Attributes
    ----------
    featurizer_ : TfidfFeaturizer
    (and those of CodeIndex)
    """

    KIND = "text"
    CONFIG = BuildConfig
    FILES = {"vectorizer": "vectorizer.json", "tfidf": "tfidf.npz"}

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
        started = time.perf_counter()
        if on_stage:
            on_stage("vectorising")
        self.featurizer_ = TfidfFeaturizer(self.config.tfidf)
        X = self.featurizer_.fit_transform(corpus.texts)
        self._keep(self._train(X, corpus.doc_ids, on_stage, on_epoch))
        labels = corpus.labels or [None] * len(corpus)
        self.metadata_ = [
            {"title": title, "snippet": snippet(text), "label": label}
            for title, text, label in zip(corpus.titles, corpus.texts, labels)
        ]
        self._tfidf = X
        self.build_seconds_ = time.perf_counter() - started
        return self

    def features(self, texts):
        return self.featurizer_.transform(texts)

    def _signals(self, X, stage) -> Signals:
        model = self.config.autoencoder
        if model.anchor == "none" and not (self.config.neighbours.k and self.config.neighbours.weight):
            return Signals()
        stage("neighbours")
        return corpus_signals(X, self.config.neighbours, model.anchor, model.code_size, seed=self.config.train.seed)

    def _stored_features(self):
        return self.tfidf_

    def _share_features(self, other) -> None:
        other.featurizer_, other._tfidf = self.featurizer_, self.tfidf_

    @property
    def tfidf_(self):
        """The database's TF-IDF rows, CSR (n_documents, n_features) float32."""
        self._check_fitted()
        if self._tfidf is None:
            self._tfidf = load_csr(self._path / self.FILES["tfidf"])
        return self._tfidf

    def search(self, texts, k: int = 10, rerank: int = 0) -> list[list[Hit]]:
        """The ``k`` most similar documents to each text, best first.

        With ``rerank`` = N > 0, the codes propose max(N, k) candidates and TF-IDF
        cosine orders them (semantic hashing's recipe); scores are then cosines.
        """
        self._check_fitted()
        check_rerank(rerank)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        X = self.features(texts)
        codes = encode(self.encoder_, X)
        if not rerank:
            return self.search_codes(codes, k)
        return self._hits(self._rerank(self.index_.search(self.searchable(codes), _shortlist(rerank, k)), X), k=k)

    def similar_to(self, doc_id: str, k: int = 10, rerank: int = 0) -> list[Hit]:
        """The ``k`` documents most similar to an indexed one, excluding itself (``rerank`` as in ``search``)."""
        check_rerank(rerank)
        if not rerank:
            return super().similar_to(doc_id, k)
        self._check_fitted()
        X = self.tfidf_[self.index_.id_map.position(doc_id)]
        hits = self.index_.search(self.index_.reconstruct(doc_id), _shortlist(rerank, k) + 1)
        return self._hits(self._rerank(hits, X), skip=doc_id, k=k)[0]

    def _rerank(self, hits: Hits, X) -> Hits:
        """Re-order each query's candidates by TF-IDF cosine with its row of ``X`` (n_queries, n_features)."""
        positions = np.where(hits.positions >= 0, hits.positions, 0)
        cosines = np.stack([
            (self.tfidf_[row] @ X[i].T).toarray().ravel() for i, row in enumerate(positions)
        ]).astype(np.float32)
        cosines[hits.positions < 0] = -np.inf
        order = np.argsort(-cosines, axis=1, kind="stable")
        positions = np.take_along_axis(hits.positions, order, axis=1)
        return Hits(scores=np.take_along_axis(cosines, order, axis=1), positions=positions,
                    doc_ids=self.index_.id_map.ids(positions))

    def manifest_body(self) -> dict:
        return {**super().manifest_body(), "vocabulary_size": self.featurizer_.n_features_}

    def _save_files(self, staged: Path) -> None:
        self.featurizer_.save(staged / self.FILES["vectorizer"])
        save_csr(staged / self.FILES["tfidf"], self.tfidf_)

    def _load_files(self, path: Path, manifest: dict) -> None:
        self._tfidf = None
        self.featurizer_ = TfidfFeaturizer.load(path / self.FILES["vectorizer"])
        if self.featurizer_.n_features_ != self.encoder_.input_shape[-1]:
            raise RetrievalError(f"{path} is inconsistent: vectorizer and encoder widths differ")
