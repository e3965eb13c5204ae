"""Training signals that the corpus gives about itself: a neighbour graph, smoothed targets, a spectral anchor.

Plain reconstruction asks the code to remember each document's own words;
retrieval wants documents on one topic to share a code. Two signals, both
computed from the unlabelled training rows, pull the autoencoder that way:

- **neighbour-smoothed targets**: the decoder reconstructs ``l1(x + w * mean of
  x's k nearest neighbours)``, neighbours found by cosine in an LSA space; the
  code must then carry what a document shares with its neighbourhood.
- **a spectral anchor**: a fixed linear projection onto the top singular
  vectors of the row-normalised ``x + a * mean of neighbours`` matrix. The
  encoder adds it to its learned code, so training starts from codes that
  already rank better than LSA and learns a correction on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from indexing import nearest_neighbours
from retrieval.config import SMOOTHED_NEEDS_NEIGHBOURS, NeighbourConfig
from retrieval.errors import RetrievalError


def neighbour_graph(X, config: NeighbourConfig, seed: int = 0) -> sp.csr_matrix:
    """The row-stochastic k-NN graph: row i averages i's ``config.k`` nearest other rows.

    Parameters
    ----------
    X : CSR matrix of shape (n, d), float32
        TF-IDF rows; neighbours are found by cosine between their LSA projections.

    Returns
    -------
    CSR matrix of shape (n, n), float32, each row summing to 1 (all zero for a single document).
    """
    n = X.shape[0]
    k = min(config.k, n - 1)
    if k < 1:  # a lone document has no neighbours: its mean of neighbours is empty
        return sp.csr_matrix((n, n), dtype=np.float32)
    dims = max(1, min(config.dims, X.shape[1] - 1, n - 1))
    Z = TruncatedSVD(dims, random_state=seed).fit_transform(X).astype(np.float32)
    positions = nearest_neighbours(Z, k)
    return sp.csr_matrix(
        (np.full(positions.size, 1.0 / k, dtype=np.float32), positions.ravel(), np.arange(0, positions.size + 1, k)),
        shape=(n, n),
    )


def smoothed(X, neighbour_mean, weight: float, norm: str) -> sp.csr_matrix:
    """``x + weight * neighbour_mean`` row-normalised by ``norm`` ("l1" or "l2"), CSR float32 (n, d).

    ``neighbour_mean`` is ``graph @ X``: each row's neighbours averaged.
    """
    return sp.csr_matrix(normalize(X + weight * neighbour_mean, norm=norm), dtype=np.float32)


def spectral_anchor(X_smooth, code_size: int, seed: int = 0) -> np.ndarray:
    """The top ``code_size`` right singular vectors of ``X_smooth``: shape (d, code_size), float32."""
    size = min(code_size, X_smooth.shape[1] - 1, X_smooth.shape[0] - 1)
    if size < code_size:  # a corpus smaller than the code: its whole span, then zero columns the learned layer fills
        dense = X_smooth.toarray() if sp.issparse(X_smooth) else np.asarray(X_smooth)
        components = np.linalg.svd(dense.astype(np.float64), full_matrices=False)[2][:code_size]
        anchor = np.zeros((X_smooth.shape[1], code_size), dtype=np.float32)
        anchor[:, : components.shape[0]] = components.T
        return anchor
    return TruncatedSVD(code_size, random_state=seed).fit(X_smooth).components_.T.astype(np.float32)


@dataclass(frozen=True)
class Signals:
    """What training takes from the corpus besides its rows.

    Attributes
    ----------
    targets : CSR matrix (n, d) float32 or None
        Reconstruction targets in place of the rows themselves.
    anchor : ndarray (d, code_size) float32 or None
        The fixed projection the encoder adds to its code.
    """

    targets: sp.csr_matrix | None = None
    anchor: np.ndarray | None = None


def corpus_signals(X, neighbours: NeighbourConfig, anchor: str, code_size: int, seed: int = 0) -> Signals:
    """The targets and anchor that ``neighbours`` and ``anchor`` ask for (none at all: ``Signals()``).

    ``anchor`` is "none", "lsa" (the plain TF-IDF singular vectors) or
    "smoothed_lsa" (those of the neighbour-smoothed rows).
    """
    if anchor == "smoothed_lsa" and neighbours.k == 0:
        raise RetrievalError(SMOOTHED_NEEDS_NEIGHBOURS)
    wants_graph = neighbours.k > 0 and (neighbours.weight > 0 or anchor == "smoothed_lsa")
    mean = neighbour_graph(X, neighbours, seed) @ X if wants_graph else None  # shared by targets and anchor
    targets = smoothed(X, mean, neighbours.weight, "l1") if mean is not None and neighbours.weight > 0 else None
    if anchor == "none":
        return Signals(targets=targets)
    base = smoothed(X, mean, neighbours.anchor_weight, "l2") if anchor == "smoothed_lsa" else X
    return Signals(targets=targets, anchor=spectral_anchor(base, code_size, seed))
