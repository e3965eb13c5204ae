"""The image pipeline: pixels -> autoencoder codes -> FAISS, in the same bundle format as text."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexing import BundleReader, IndexingError
from retrieval.code_index import CodeIndex, Hit
from retrieval.config import ImageConfig
from retrieval.errors import RetrievalError


def train_rows(doc_ids) -> np.ndarray:
    """Rows of the training split behind image ids of the form ``train:ROW``, int64 of shape (n,)."""
    return np.array([int(doc_id.split(":", 1)[1]) for doc_id in doc_ids], dtype=np.int64)


def as_rows(images, pixels: int) -> np.ndarray:
    """Images (n, h, w), (n, h*w), (h, w) or (h*w,) with values in [0, 1] -> (n, pixels) float32."""
    X = np.asarray(images, dtype=np.float32)
    if X.ndim in (1, 2) and X.size == pixels:
        X = X.reshape(1, pixels)
    elif X.ndim == 3:
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2 or X.shape[1] != pixels:
        raise RetrievalError(f"images must have {pixels} pixels each; got an array of shape {np.shape(images)}")
    if X.size and (not np.isfinite(X).all() or X.min() < 0 or X.max() > 1):
        raise RetrievalError("pixel values must be finite and in [0, 1]")
    return X


class ImageIndex(CodeIndex):
    """Similar-image search, reconstruction and denoising with one autoencoder.

    Parameters
    ----------
    config : ImageConfig

    Attributes
    ----------
    decoder_ : keras.Model
        Codes (n, code_size) -> pixels (n, h*w) in [0, 1]; read from the bundle on first use.
    image_shape_ : (height, width)
    class_names_ : tuple of str
    (and those of CodeIndex)
    """

    KIND = "images"
    CONFIG = ImageConfig
    FILES = {"decoder": "decoder.keras"}

    def fit(
        self,
        X: np.ndarray,
        labels,
        doc_ids,
        image_shape: tuple = (28, 28),
        class_names: tuple = (),
        on_stage: Callable[[str], None] | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> "ImageIndex":
        """Train on rows ``X`` (n, h*w) in [0, 1] and index them under ``doc_ids`` with their ``labels``."""
        started = time.perf_counter()
        self.image_shape_, self.class_names_ = tuple(image_shape), tuple(class_names)
        X = as_rows(X, int(np.prod(image_shape)))
        self._train(X, list(doc_ids), on_stage, on_epoch, **self._train_options())
        self.metadata_ = [{"title": doc_id, "snippet": "", "label": label} for doc_id, label in zip(doc_ids, labels)]
        self.build_seconds_ = time.perf_counter() - started
        return self

    def _train_options(self) -> dict:
        return {"noise": self.config.noise}

    def _share_features(self, other) -> None:
        other.image_shape_, other.class_names_ = self.image_shape_, self.class_names_

    @property
    def pixels(self) -> int:
        return int(np.prod(self.image_shape_))

    def features(self, images) -> np.ndarray:
        return as_rows(images, self.pixels)

    def reconstruct(self, images) -> np.ndarray:
        """The autoencoder's output (n, h*w), float32 in [0, 1]; for noisy input, the denoised image."""
        from retrieval.model.training import encode  # the decoder stays a Keras model

        self._check_fitted()
        return encode(self.decoder_, self.encode(images))

    def search(self, images, k: int = 10) -> list[list[Hit]]:
        """The ``k`` most similar indexed images to each image, best first."""
        return self.search_codes(self.encode(images), k)

    def manifest_body(self) -> dict:
        return {
            **super().manifest_body(),
            "image_shape": list(self.image_shape_),
            "class_names": list(self.class_names_),
        }

    def _save_files(self, staged: Path) -> None:
        self.decoder_.save(staged / self.FILES["decoder"])

    def _load_files(self, reader: BundleReader) -> None:
        self.image_shape_ = tuple(reader.manifest["image_shape"])
        self.class_names_ = tuple(reader.manifest.get("class_names", ()))
        if self.encoder_.input_dim != self.pixels:
            raise IndexingError(f"{reader.path} is inconsistent: the encoder does not take {self.image_shape_} images")
