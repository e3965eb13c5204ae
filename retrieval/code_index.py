"""What every pipeline shares: codes in a FAISS index, with ids, metadata and one bundle.

``CodeIndex`` holds the numpy encoder, the float or binary FAISS index, the
ids and display metadata, search, and the bundle. ``retrieval.text.index.TextIndex``
adds TF-IDF features; ``retrieval.images.index.ImageIndex`` adds pixels.

Searching never needs Keras: a loaded index runs the encoder exported to
numpy (``retrieval.runtime``). Training, retraining and saving import the
model package when they are called, so loading an index for search does not
import TensorFlow. Saving and loading live in ``retrieval.bundle_io``.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from indexing import BinaryIndex, VectorIndex
from indexing.ann import IndexPlan, plan_index
from retrieval.bundle_io import COMMON_FILES, Bundled
from retrieval.config import BuildConfig
from retrieval.errors import NotFittedError, RetrievalError
from retrieval.runtime.encoder import binarize

SNIPPET_CHARS = 160
ENCODE_CHUNK = 10_000  # rows encoded at once when a whole corpus (or a large addition) is encoded


class Hit(NamedTuple):
    """One search result (a named tuple: a batch of queries builds many)."""

    doc_id: str
    score: float
    title: str
    snippet: str
    label: str | None = None
    semantic: float | None = None  # the codes' own score of a hybrid hit (None: not measured in this mode)
    lexical: float | None = None  # BM25's, likewise

    def to_json(self) -> dict:
        """The hit as ``retrieval query --json`` and the HTTP API show it: ``score`` is what ranked it (the fused
        score in hybrid mode), ``semantic_score`` and ``lexical_score`` each side's own (null where unused)."""
        return {
            "id": self.doc_id,
            "score": round(self.score, 6),
            "title": self.title,
            "label": self.label,
            "snippet": self.snippet,
            "semantic_score": _rounded(self.semantic),
            "lexical_score": _rounded(self.lexical),
        }


def _rounded(score: float | None) -> float | None:
    return None if score is None else round(float(score), 6)


def query_json(query: str, hits) -> dict:
    """One query's answer as ``retrieval query --json`` and ``GET /search`` give it (``known_terms`` for a
    text query's HitList; not for the neighbours of a document, nor for images)."""
    known, mode = getattr(hits, "known_terms", None), getattr(hits, "mode", None)
    return {
        "query": query,
        **({"known_terms": known} if known is not None else {}),
        **({"mode": mode} if mode is not None else {}),
        "hits": [hit.to_json() for hit in hits],
    }


def stage_reporter(on_stage):
    """``on_stage`` (called with each build stage's name), or a reporter that says nothing."""
    return on_stage or _silent


def _silent(name: str) -> None:
    pass


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1].rstrip() + "…"


class CodeIndex(Bundled):
    """Shared by every pipeline: codes in a FAISS index, with ids, metadata and a bundle.

    Subclasses set ``KIND``, ``CONFIG`` (the config class), ``FILES`` (their
    own bundle files), and implement ``features``, ``_save_files`` and
    ``_load_files``.

    Attributes
    ----------
    encoder_ : retrieval.runtime.Encoder
        Features (n, d) -> codes (n, code_size), in numpy.
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
        self._reader, self._display_rows = None, None
        self._keras: dict = {}  # trained Keras models, kept after fitting or read from the bundle when asked

    def features(self, inputs):
        """Inputs (texts, images) -> feature rows (n, d)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "index_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted; call fit(...) or {type(self).__name__}.load(path)"
            )

    # --- training (imports Keras when called) ---------------------------------------------------
    def _train(self, X, doc_ids, on_stage, on_epoch, **train_options):
        """Build and train the autoencoder on rows ``X``, then index their codes under ``doc_ids``."""
        plan = self._plan(len(doc_ids))  # bad settings fail now, not after training
        models, codes = self._fit_model(X, on_stage, on_epoch, **train_options)
        stage_reporter(on_stage)("indexing")
        self.index_ = self._index_codes(codes, doc_ids, plan)
        return models

    def _fit_model(self, X, on_stage, on_epoch, **train_options):
        """Train the autoencoder on rows ``X``; set ``encoder_`` and ``history_``; return the models and X's codes."""
        from retrieval.model.fit import fit_codes

        stage = stage_reporter(on_stage)
        signals = self._signals(X, stage)
        models, self.encoder_, codes, self.history_ = fit_codes(
            X, self.config, signals, stage, on_epoch, **train_options
        )
        self._keras = {"encoder": models.encoder, "decoder": models.decoder}
        return models, codes

    def _index_codes(self, codes: np.ndarray, doc_ids, plan: IndexPlan):
        """A new FAISS index of ``plan`` holding ``codes`` (n, code_size) under ``doc_ids``."""
        return self._new_index(codes.shape[1], plan).add(self.faiss_codes(codes), doc_ids)

    def _signals(self, X, stage):
        """What training takes from the corpus besides its rows (text: neighbour targets and the anchor)."""
        return None

    @property
    def binary(self) -> bool:
        """Whether codes are thresholded to bits and searched by Hamming distance."""
        return self.config.autoencoder.codes == "binary"

    def _plan(self, n_documents: int) -> IndexPlan:
        """The index ``config.index`` asks for at this size (see ``indexing.ann``)."""
        cfg = self.config.index
        return plan_index(
            cfg.kind,
            n_documents,
            cfg.nlist,
            cfg.nprobe,
            cfg.m,
            cfg.ef_search,
            pq=cfg.pq,
            dim=self.config.autoencoder.code_size,
            binary=self.binary,
            max_bytes=cfg.max_memory_mb * 2**20,
        )

    def _new_index(self, code_size: int, plan: IndexPlan):
        return BinaryIndex(code_size, plan) if self.binary else VectorIndex(code_size, self.config.metric, plan)

    def faiss_codes(self, codes: np.ndarray) -> np.ndarray:
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
        other._train(X, list(self.index_.id_map.doc_ids), None, None, **other._train_options())
        other.metadata_ = self.metadata_
        other.build_seconds_ = time.perf_counter() - started
        return other

    def _stored_features(self):
        raise RetrievalError(f"an index of {self.KIND} keeps no features; pass the rows to retrain")

    def _share_features(self, other) -> None:
        """Give ``other`` this index's featurizer (whatever turns inputs into rows)."""

    def _train_options(self) -> dict:
        return {}

    def keras_model(self, part: str):
        """The trained Keras ``encoder`` or ``decoder`` (read from the bundle, in safe mode, on first use)."""
        if self._reader is None:
            self._check_fitted()
        if part not in self._keras:
            from retrieval.model.fit import load_keras

            name = COMMON_FILES["encoder"] if part == "encoder" else self.FILES.get(part)
            if name is None or self._reader is None:
                raise RetrievalError(f"this {type(self).__name__} keeps no Keras {part}")
            self._keras[part] = load_keras(self._reader.read_bytes(name), name)
        return self._keras[part]

    @property
    def decoder_(self):
        """The Keras decoder: codes (n, code_size) -> reconstructions (n, d)."""
        return self.keras_model("decoder")

    @property
    def labels_(self) -> list:
        self._check_fitted()
        return [meta["label"] for meta in self.metadata_]

    def _encode_rows(self, rows) -> np.ndarray:
        """Codes of many feature rows through the numpy encoder, ``ENCODE_CHUNK`` rows at a time."""
        return np.concatenate(
            [
                self.encoder_.encode(rows[start : start + ENCODE_CHUNK])
                for start in range(0, rows.shape[0], ENCODE_CHUNK)
            ]
        )

    # --- search (numpy and FAISS only) -----------------------------------------------------------
    def encode(self, inputs) -> np.ndarray:
        """Codes of shape (n, code_size), float32."""
        self._check_fitted()
        return self.encoder_.encode(self.features(inputs))

    def shown_rows(self) -> list:
        """(title, snippet, label) of each position, as hits show them (made on first use)."""
        if self._display_rows is None:
            self._display_rows = [(meta["title"], meta["snippet"], meta.get("label")) for meta in self.metadata_]
        return self._display_rows

    def _hits(self, hits, skip: str | None = None, k: int | None = None) -> list[list[Hit]]:
        shown, results = self.shown_rows(), []
        for row_ids, row_scores, row_pos in zip(hits.doc_ids, hits.scores.tolist(), hits.positions.tolist()):
            row = [
                Hit(doc_id, score, *shown[pos])
                for doc_id, score, pos in zip(row_ids, row_scores, row_pos)
                if pos >= 0 and doc_id != skip
            ]
            results.append(row[:k] if k is not None else row)
        return results

    def search_codes(self, codes: np.ndarray, k: int = 10) -> list[list[Hit]]:
        """The ``k`` nearest documents to each code (n, code_size), best first.

        For a binary index, sigmoid codes are thresholded; packed bits pass as they are.
        """
        self._check_fitted()
        return self._hits(self.index_.search(self.faiss_codes(codes), k))

    def similar_to(self, doc_id: str, k: int = 10) -> list[Hit]:
        """The ``k`` documents most similar to an indexed one, excluding itself."""
        self._check_fitted()
        code = self.index_.reconstruct(doc_id)
        hits = self.index_.search(code, k + 1 if isinstance(k, int) and k > 0 else k)
        return self._hits(hits, skip=doc_id, k=k)[0]
