"""The lecture's dimensionality-reduction demo: a noisy curved surface in 3-D, reduced to 2-D
by an autoencoder with a 2-unit code, beside PCA's projection; both embeddings are scored."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_s_curve
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsRegressor

from retrieval.config import AutoencoderConfig, TrainConfig
from retrieval.model.builder import build_autoencoder
from retrieval.model.training import encode, train

SURFACE_MODEL = AutoencoderConfig(
    hidden=(64, 32),
    code_size=2,
    activation="tanh",
    code_activation="linear",
    output="linear",
    loss="mse",
    input_dropout=0.0,
    kind="plain",
)


def unrolled_r2(embedding: np.ndarray, position: np.ndarray) -> float:
    """How well 5-NN regression recovers the position along the surface from the 2-D embedding (5-fold R²)."""
    return float(cross_val_score(KNeighborsRegressor(5), embedding, position, cv=5, scoring="r2").mean())


def surface_demo(n: int = 2000, noise: float = 0.05, epochs: int = 150, seed: int = 0) -> dict:
    """Reduce a noisy S-shaped surface from 3-D to 2-D with PCA and with the autoencoder.

    Returns
    -------
    dict
        ``X`` (n, 3), ``position`` (n,) along the curve, ``pca`` and ``autoencoder``
        embeddings (n, 2), and per method ``trustworthiness`` (10 neighbours) and
        ``unrolled_r2``.
    """
    X, position = make_s_curve(n_samples=n, noise=noise, random_state=seed)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    pca = PCA(2, random_state=seed).fit_transform(X)
    models = build_autoencoder(3, SURFACE_MODEL, seed=seed)
    history = train(
        models,
        X,
        SURFACE_MODEL,
        TrainConfig(epochs=epochs, batch_size=64, learning_rate=3e-3, lr_schedule="cosine", seed=seed),
    )
    codes = encode(models.encoder, X)
    scores = {
        name: {
            "trustworthiness": float(trustworthiness(X, emb, n_neighbors=10)),
            "unrolled_r2": unrolled_r2(emb, position),
        }
        for name, emb in (("pca", pca), ("autoencoder", codes))
    }
    return {
        "X": X,
        "position": position,
        "pca": pca,
        "autoencoder": codes,
        "scores": scores,
        "final_loss": history["loss"][-1],
    }
