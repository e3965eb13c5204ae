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

# min_df drops rare terms, so it may ask at most one document in this many: on
# 3 documents min_df=2 would keep only words two of them share (often none)
MIN_DF_ONE_IN = 10


def effective_df(config: TfidfConfig, n_docs: int) -> tuple[int, float]:
    """The ``min_df`` and ``max_df`` a corpus of ``n_docs`` documents is fitted with.

    ``min_df`` is capped at a tenth of the documents (at least 1), so corpora
    under 20 documents keep every term; ``max_df`` becomes 1.0 when it would
    allow a term in less than one document. Larger corpora get the configured values.

    Returns
    -------
    min_df : int
    max_df : float
    """
    min_df = min(config.min_df, max(1, n_docs // MIN_DF_ONE_IN))
    max_df = config.max_df if n_docs * config.max_df >= 1 else 1.0
    return min_df, max_df


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
    min_df_ : int or None
        The ``min_df`` the vocabulary was chosen with (``effective_df``); None
        when loaded from a vectorizer saved before it was recorded.
    max_df_ : float or None
        The ``max_df`` likewise.
    """

    def __init__(self, config: TfidfConfig = TfidfConfig()):
        self.config = config

    def _vectorizer(self, vocabulary=None, n_docs: int | None = None) -> TfidfVectorizer:
        c = self.config
        # a fixed vocabulary needs no pruning
        min_df, max_df = (1, 1.0) if vocabulary is not None else effective_df(c, n_docs)
        return TfidfVectorizer(
            max_features=c.max_features,
            min_df=min_df,
            max_df=max_df,
            sublinear_tf=c.sublinear_tf,
            stop_words=self._stop_words(),
            lowercase=c.lowercase,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def _stop_words(self) -> str | None:
        return None if self.config.stop_words == "none" else self.config.stop_words

    def fit(self, texts) -> "TfidfFeaturizer":
        """Learn the vocabulary and idf from a sequence of str."""
        texts = list(texts)
        vectorizer = self._vectorizer(n_docs=len(texts))
        try:
            vectorizer.fit(texts)
        except ValueError:  # no words at all, only stop words, or min_df/max_df pruning everything
            raise RetrievalError(self._no_terms(texts, vectorizer)) from None
        self._set(vectorizer)
        self.min_df_, self.max_df_ = vectorizer.min_df, vectorizer.max_df
        return self

    def _no_terms(self, texts: list, vectorizer: TfidfVectorizer) -> str:
        """Why fitting left no terms, and the flag that changes it (diagnosed only on failure)."""
        start = f"no terms left to index in {len(texts)} texts"
        if not any(vectorizer.build_analyzer()(text) for text in texts):
            keeping = TfidfVectorizer(lowercase=self.config.lowercase, stop_words=None).build_analyzer()
            if self._stop_words() and any(keeping(text) for text in texts):
                return f"{start}: every word is an {self._stop_words()} stop word; keep them with --stop-words none"
            return (
                f"{start}: they hold no words (runs of two or more letters or digits); "
                f"check the text field (--text-field)"
            )
        return (
            f"{start}: no term is in at least min_df={vectorizer.min_df} and at most max_df={vectorizer.max_df} "
            f"of them; lower --min-df or raise --max-df (--min-df 1 --max-df 1.0 keeps every term)"
        )

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
        """Plain data: ``config``, ``vocabulary``, ``idf``, and ``effective`` (the min_df and max_df used)."""
        self._check_fitted()
        return {
            "config": asdict(self.config),
            "vocabulary": self.vocabulary_,
            "idf": self.idf_.tolist(),
            "effective": {"min_df": self.min_df_, "max_df": self.max_df_},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "TfidfFeaturizer":
        """The featurizer ``to_dict`` described; one saved before ``effective`` was recorded loads too."""
        try:
            featurizer = cls(TfidfConfig(**data["config"]))
            vocabulary, idf = list(data["vocabulary"]), np.asarray(data["idf"], dtype=np.float32)
            effective = data.get("effective") or {}
            featurizer.min_df_, featurizer.max_df_ = effective.get("min_df"), effective.get("max_df")
        except (KeyError, TypeError, AttributeError) as err:
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
