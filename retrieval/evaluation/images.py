"""Image evaluation in one run: reconstruction, denoising per noise kind, and retrieval
(kNN accuracy and precision@k) of the codes beside raw pixels and PCA at the code size."""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg
from sklearn.decomposition import PCA

from indexing import VectorIndex
from retrieval.errors import RetrievalError
from retrieval.images.data import ImageData
from retrieval.images.index import train_rows
from retrieval.model.noise import KINDS, corrupt, psnr

DEFAULT_AMOUNTS = {"gaussian": 0.5, "salt_and_pepper": 0.2, "speckle": 0.5, "periodic": 0.3}
_EPS = 1e-7


def bce(clean: np.ndarray, reconstructed: np.ndarray) -> float:
    """Mean binary cross-entropy per pixel (Keras' definition, clipped at 1e-7)."""
    p = np.clip(reconstructed.astype(np.float64), _EPS, 1 - _EPS)
    return float(-np.mean(clean * np.log(p) + (1 - clean) * np.log(1 - p)))


def retrieval_scores(
    index: VectorIndex, queries: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray, k: int, knn: int
) -> tuple[float, float]:
    """Precision@k (relevant = same class) and kNN majority-vote accuracy, via ``index.search``."""
    precision, correct = [], []
    for start in range(0, len(queries), 1024):
        rows = slice(start, start + 1024)
        found = db_labels[index.search(queries[rows], max(k, knn)).positions]
        precision.append((found[:, :k] == query_labels[rows, None]).mean(axis=1))
        votes = np.array([np.bincount(row[:knn], minlength=int(db_labels.max()) + 1).argmax() for row in found])
        correct.append(votes == query_labels[rows])
    return float(np.concatenate(correct).mean()), float(np.concatenate(precision).mean())


def is_linear(config) -> bool:
    """A single linear encoder and decoder layer: the autoencoder whose optimum is the PCA subspace."""
    return (
        not config.hidden
        and not config.conv_filters
        and config.code_activation == "linear"
        and config.output == "linear"
        and config.kind in ("plain", "denoising")
    )


def pca_subspace_angles(decoder_kernel: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between the decoder's column space and PCA's subspace.

    ``decoder_kernel`` is (code_size, d); ``components`` the top PCA components (code_size, d).
    """
    return np.sort(scipy.linalg.subspace_angles(decoder_kernel.T, components.T))


def variance_ratio(decoder_kernel: np.ndarray, database: np.ndarray, components: np.ndarray) -> float:
    """Variance of ``database`` inside the decoder's column space, over that inside PCA's subspace (<= 1)."""
    centred = database - database.mean(axis=0)
    basis, _ = np.linalg.qr(decoder_kernel.T)  # (d, code) orthonormal
    return float(np.square(centred @ basis).sum() / np.square(centred @ components.T).sum())


def evaluate_images(
    model,
    data: ImageData,
    k: int = 100,
    knn: int = 5,
    amounts: dict | None = None,
    baselines: bool = True,
    seed: int = 0,
) -> dict:
    """Measure a fitted ImageIndex on the test split of ``data``; database = its indexed training images.

    Returns
    -------
    dict
        ``reconstruction`` (bce, mse, psnr), ``denoising`` (per kind: amount,
        psnr_noisy, psnr_denoised), ``retrieval`` (per method: dims,
        knn_accuracy, precision_at_k, seconds), ``k``, ``knn``, ``metric``.
    """
    for name, value in (("k", k), ("knn", knn)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise RetrievalError(f"{name} must be a positive whole number; got {value!r}")
    if data.X_train.shape[1] != model.pixels:
        raise RetrievalError(f"the index takes {model.image_shape_} images but the data set has {data.shape}")
    amounts = {**DEFAULT_AMOUNTS, **(amounts or {})}
    X, y = data.X_test, data.y_test
    names = {name: i for i, name in enumerate(data.class_names)}
    db_labels = np.array([names.get(label, -1) for label in model.labels_])

    reconstructed = model.reconstruct(X)
    report = {
        "k": k,
        "knn": knn,
        "metric": model.index_.metric,
        "queries": len(X),
        "database": len(model.index_),
        "reconstruction": {
            "bce": bce(X, reconstructed),
            "mse": float(np.mean((X - reconstructed) ** 2)),
            "psnr": psnr(X, reconstructed),
        },
        "denoising": [],
        "retrieval": [],
    }
    rng = np.random.default_rng(seed)
    for kind in KINDS:
        noisy = corrupt(X, kind, amounts[kind], rng)
        report["denoising"].append(
            {
                "noise": kind,
                "amount": amounts[kind],
                "psnr_noisy": psnr(X, noisy),
                "psnr_denoised": psnr(X, model.reconstruct(noisy)),
            }
        )

    def add(method, dims, index, queries):
        started = time.perf_counter()
        accuracy, precision = retrieval_scores(index, queries, y, db_labels, k, knn)
        report["retrieval"].append(
            {
                "method": method,
                "dims": dims,
                "knn_accuracy": accuracy,
                "precision_at_k": precision,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )

    code_size, metric = model.index_.dim, model.index_.metric
    ids, linear = list(model.index_.id_map.doc_ids), is_linear(model.config.autoencoder)
    database = data.X_train[train_rows(ids)] if baselines or linear else None  # 188 MB for Fashion-MNIST
    if linear:
        kernel = model.decoder_.get_layer("reconstruction").kernel.numpy()
        components = PCA(n_components=code_size, random_state=seed).fit(database).components_
        angles = np.degrees(pca_subspace_angles(kernel, components))
        report["pca_subspace"] = {
            "components": code_size,
            "max_angle_degrees": float(angles[-1]),
            "median_angle_degrees": float(np.median(angles)),
            "angles_under_5_degrees": int((angles < 5).sum()),
            "variance_ratio": variance_ratio(kernel, database, components),
        }
    add(f"autoencoder-{code_size}", code_size, model.index_, model.encode(X))
    if baselines:
        add("raw-pixels", database.shape[1], VectorIndex(database.shape[1], metric).add(database, ids), X)
        pca = PCA(n_components=code_size, random_state=seed).fit(database)
        add(
            f"pca-{code_size}",
            code_size,
            VectorIndex(code_size, metric).add(pca.transform(database), ids),
            pca.transform(X),
        )
    return report
