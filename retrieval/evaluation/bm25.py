"""Okapi BM25, the lexical baseline that evaluate measures the codes against.

Scores are ``sum over query terms of idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))``
with Lucene's idf ``log(1 + (N - df + 0.5) / (df + 0.5))``, over the whole
vocabulary of the database (no cap), tokenised like the TF-IDF featurizer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from retrieval.config import TfidfConfig
from retrieval.errors import NotFittedError, RetrievalError


class BM25:
    """Okapi BM25 over a database of texts.

    Parameters
    ----------
    k1, b : float
        Term-frequency saturation and length normalisation (the usual 1.2 and 0.75).
    tfidf : TfidfConfig
        Only its tokenisation settings (stop words, lowercase) are used.

    Attributes
    ----------
    weights_ : CSR matrix of shape (n_documents, n_terms), float32
        Each document's BM25 weight per term; a query's scores are its term
        indicator row times these.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, tfidf: TfidfConfig = TfidfConfig()):
        if k1 < 0 or not 0 <= b <= 1:
            raise RetrievalError(f"BM25 needs k1 >= 0 and 0 <= b <= 1; got k1={k1}, b={b}")
        self.k1, self.b, self.tfidf = k1, b, tfidf

    def fit(self, texts) -> "BM25":
        """Index a sequence of str."""
        self.vectorizer_ = CountVectorizer(
            stop_words=None if self.tfidf.stop_words == "none" else self.tfidf.stop_words,
            lowercase=self.tfidf.lowercase,
            dtype=np.float32,
        )
        try:
            counts = self.vectorizer_.fit_transform(list(texts)).tocsr()
        except ValueError as err:
            raise RetrievalError(f"BM25 found no terms in the database ({err})") from None
        n = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / max(lengths.mean(), 1e-12))
        tf = counts.data
        rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        data = idf[counts.indices] * tf * (self.k1 + 1) / (tf + norm[rows])
        self.weights_ = sp.csr_matrix((data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape)
        self._weights_t = self.weights_.T.tocsr()
        return self

    def scores(self, texts) -> np.ndarray:
        """BM25 scores of every database document for each text: (n_texts, n_documents) float32."""
        if not hasattr(self, "weights_"):
            raise NotFittedError("this BM25 is not fitted; call fit(texts) first")
        present = self.vectorizer_.transform(list(texts))
        present.data[:] = 1  # each query term counts once, as in Lucene
        return (present @ self._weights_t).toarray()
