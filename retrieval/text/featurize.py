"""TF-IDF featurizer that saves as plain data (vocabulary, idf, settings), never a pickle."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from retrieval.config import TfidfConfig
from retrieval.errors import NotFittedError, RetrievalError


class TfidfFeaturizer:
    """Turn texts into L2-normalised TF-IDF rows, kept sparse.

    Parameters
    ----------
    config : TfidfConfig

    Attributes
    ----------
    vocabulary_ : list of str
        Terms, in column order.
    idf_ : ndarray of shape (n_features,), float32
    """

    def __init__(self, config: TfidfConfig = TfidfConfig()):
        self.config = config

    def _vectorizer(self, vocabulary=None, n_docs: int | None = None) -> TfidfVectorizer:
        c = self.config
        # max_df as a fraction needs enough documents to be meaningful
        max_df = c.max_df if n_docs is None or n_docs * c.max_df >= 1 else 1.0
        return TfidfVectorizer(
            max_features=c.max_features,
            min_df=c.min_df if vocabulary is None else 1,
            max_df=max_df if vocabulary is None else 1.0,
            sublinear_tf=c.sublinear_tf,
            stop_words=None if c.stop_words == "none" else c.stop_words,
            lowercase=c.lowercase,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def fit(self, texts) -> "TfidfFeaturizer":
        """Learn the vocabulary and idf from a sequence of str."""
        texts = list(texts)
        vectorizer = self._vectorizer(n_docs=len(texts))
        try:
            vectorizer.fit(texts)
        except ValueError as err:  # empty vocabulary, or min_df pruning everything
            raise RetrievalError(
                f"no terms left to index ({err}); the corpus may be too small or too uniform for "
                f"min_df={self.config.min_df}, max_df={self.config.max_df}"
            ) from None
        self._set(vectorizer)
        return self

    def _set(self, vectorizer: TfidfVectorizer) -> None:
        self._vectorizer_ = vectorizer
        self.vocabulary_ = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float32)

    @property
    def n_features_(self) -> int:
        self._check_fitted()
        return len(self.vocabulary_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "_vectorizer_"):
            raise NotFittedError("this TfidfFeaturizer is not fitted yet; call fit(texts) first")

    def transform(self, texts) -> sp.csr_matrix:
        """Return a CSR float32 matrix of shape (n_texts, n_features), rows L2-normalised."""
        self._check_fitted()
        if isinstance(texts, str):
            raise RetrievalError("transform takes a list of texts, not a single string")
        return self._vectorizer_.transform(list(texts)).astype(np.float32).tocsr()

    def fit_transform(self, texts) -> sp.csr_matrix:
        texts = list(texts)
        return self.fit(texts).transform(texts)

    def to_dict(self) -> dict:
        self._check_fitted()
        return {"config": asdict(self.config), "vocabulary": self.vocabulary_, "idf": self.idf_.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> "TfidfFeaturizer":
        try:
            featurizer = cls(TfidfConfig(**data["config"]))
            vocabulary, idf = list(data["vocabulary"]), np.asarray(data["idf"], dtype=np.float32)
        except (KeyError, TypeError) as err:
            raise RetrievalError(f"the saved vectorizer is incomplete or malformed ({err})") from None
        if len(vocabulary) != len(idf) or len(set(vocabulary)) != len(vocabulary):
            raise RetrievalError("the saved vectorizer is inconsistent: vocabulary and idf do not match")
        vectorizer = featurizer._vectorizer(vocabulary=vocabulary)
        vectorizer.idf_ = idf
        featurizer._set(vectorizer)
        return featurizer

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> "TfidfFeaturizer":
        return cls.from_dict(json.loads(Path(path).read_text()))


def save_csr(path: Path, X: sp.csr_matrix) -> None:
    """Save a CSR matrix as plain arrays (loadable with ``allow_pickle=False``)."""
    X = X.tocsr()
    with open(path, "wb") as handle:  # a handle keeps numpy from appending ".npz"
        np.savez(handle, data=X.data, indices=X.indices, indptr=X.indptr, shape=np.asarray(X.shape))


def load_csr(path: Path) -> sp.csr_matrix:
    with np.load(path, allow_pickle=False) as arrays:
        return sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )
