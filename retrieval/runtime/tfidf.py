"""TF-IDF rows from a saved vocabulary, in numpy and scipy: what a query runs, with no scikit-learn.

It reproduces scikit-learn's ``TfidfVectorizer.transform`` for the settings
this project saves (word tokens of two or more characters, optional
lowercasing, raw or sublinear tf, the fitted idf, L2-normalised rows). With
the vocabulary fixed, stop words need no list: none is in the vocabulary.
A test checks it against scikit-learn on the same texts.
"""

from __future__ import annotations

import io
import re
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp

from retrieval.errors import RetrievalError

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def _ascii_table(lowercase: bool) -> bytes:
    """A byte table that keeps word characters ([0-9A-Za-z_]), lowercased if asked, and blanks the rest."""
    table = bytearray(b" " * 256)
    for code in range(128):
        char = chr(code)
        if char.isalnum() or char == "_":
            table[code] = ord(char.lower() if lowercase else char)
    return bytes(table)


LOOKUP_CHUNK = 32_768  # tokens looked up at once: about 3 ms


class TfidfTransform:
    """Texts -> L2-normalised TF-IDF rows over a fixed vocabulary.

    Parameters
    ----------
    vocabulary : list of str
        Terms, in column order.
    idf : ndarray of shape (n_features,), float32
    sublinear_tf : bool
        Use 1 + log(tf).
    lowercase : bool
    """

    def __init__(self, vocabulary, idf, sublinear_tf: bool = True, lowercase: bool = True):
        self.vocabulary = list(vocabulary)
        self.idf = np.asarray(idf, dtype=np.float32)
        if self.idf.shape != (len(self.vocabulary),):
            raise RetrievalError("the saved vectorizer is inconsistent: vocabulary and idf do not match")
        self.columns = {term: column for column, term in enumerate(self.vocabulary)}
        if len(self.columns) != len(self.vocabulary):
            raise RetrievalError("the saved vectorizer is inconsistent: a term appears twice")
        self.sublinear_tf, self.lowercase = bool(sublinear_tf), bool(lowercase)
        ascii_terms = {term.encode("ascii"): column for term, column in self.columns.items() if term.isascii()}
        self._lookup = {**self.columns, **ascii_terms}  # str and bytes keys never collide
        self._table = _ascii_table(self.lowercase)

    @property
    def n_features(self) -> int:
        return len(self.vocabulary)

    @classmethod
    def from_dict(cls, data: dict) -> "TfidfTransform":
        """From the ``vectorizer.json`` that ``TfidfFeaturizer.save`` writes."""
        try:
            config = data["config"]
            return cls(data["vocabulary"], data["idf"], config["sublinear_tf"], config["lowercase"])
        except (KeyError, TypeError, ValueError) as err:
            raise RetrievalError(f"the saved vectorizer is incomplete or malformed ({err})") from None

    def transform(self, texts) -> sp.csr_matrix:
        """CSR float32 of shape (n_texts, n_features), each non-empty row of unit L2 norm."""
        if isinstance(texts, str):
            raise RetrievalError("transform takes a list of texts, not a single string")
        texts = list(texts)
        if any(not isinstance(text, str) for text in texts):
            bad = next(text for text in texts if not isinstance(text, str))
            raise RetrievalError(f"a text must be a string; got {type(bad).__name__}")
        tokens = [self._tokens(text) for text in texts]
        lengths = np.fromiter(map(len, tokens), np.int64, count=len(tokens))
        columns = self._columns(tokens, lengths)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        known = columns >= 0
        # one sorted key per (row, term): the unique keys are each row's terms in column order, with their counts
        keys, counts = np.unique(rows[known] * self.n_features + columns[known], return_counts=True)
        rows, columns = np.divmod(keys, self.n_features)
        tf = counts.astype(np.float32)
        if self.sublinear_tf:
            tf = np.log(tf) + np.float32(1)
        weights = tf * self.idf[columns]
        norms = np.sqrt(np.bincount(rows, weights * weights, minlength=len(texts))).astype(np.float32)
        weights /= norms[rows]
        # int32 indices when they fit: scipy then takes the arrays as they are instead of converting them
        index_type = np.int32 if len(columns) < 2**31 else np.int64
        indptr = np.zeros(len(texts) + 1, dtype=index_type)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        return sp.csr_matrix((weights, columns.astype(index_type), indptr), shape=(len(texts), self.n_features))

    def _columns(self, tokens: list, lengths: np.ndarray) -> np.ndarray:
        """Each token's column (-1 if unknown), looked up about ``LOOKUP_CHUNK`` tokens at a time: a lookup
        through ``map`` runs in C and never lets go of the GIL, and 64 whole documents (700,000 tokens) held
        it 70 ms, that long keeping a server's event loop (and /health) waiting."""
        ends = np.cumsum(lengths)
        columns = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
        first = start = 0
        while first < len(tokens):
            last = max(int(np.searchsorted(ends, start + LOOKUP_CHUNK, side="right")), first + 1)
            stop = int(ends[last - 1])
            columns[start:stop] = np.fromiter(
                map(self._lookup.get, chain.from_iterable(tokens[first:last]), repeat(-1)), np.int64, count=stop - start
            )
            first, start = last, stop
        return columns

    def _tokens(self, text: str) -> list:
        """Word tokens as scikit-learn's pattern finds them. ASCII text takes a byte-table path, three times
        faster than the regular expression; its tokens are bytes (``_lookup`` holds both spellings of a term)
        and include 1-character ones, which no vocabulary holds."""
        if text.isascii():
            return text.encode("ascii").translate(self._table).split()
        return TOKEN.findall(text.lower() if self.lowercase else text)

    @staticmethod
    def known_terms(X: sp.csr_matrix) -> np.ndarray:
        """How many distinct vocabulary terms each row holds, shape (n,), int64; 0 = the query matched nothing."""
        return np.diff(X.indptr).astype(np.int64)


def save_csr(path, X: sp.csr_matrix) -> None:
    """Save a CSR matrix as plain arrays (loadable with ``allow_pickle=False``)."""
    X = X.tocsr()
    with open(path, "wb") as handle:  # a handle keeps numpy from appending ".npz"
        np.savez(handle, data=X.data, indices=X.indices, indptr=X.indptr, shape=np.asarray(X.shape))


def load_csr(data: bytes) -> sp.csr_matrix:
    """A CSR matrix from the bytes ``save_csr`` wrote."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))
    except (ValueError, KeyError, OSError) as err:
        raise RetrievalError(f"the saved TF-IDF rows are malformed ({err}); rebuild the index") from None
