"""PNG pictures of an image autoencoder, drawn with matplotlib's headless Agg backend."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path) -> Path:
    """Write a compact PNG: an adaptive 256-colour palette keeps committed pictures small."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=80, bbox_inches="tight")
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(256).save(path, optimize=True)
    return path


def _show(ax, row: np.ndarray, shape, title: str | None = None) -> None:
    ax.imshow(row.reshape(shape), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def image_rows(path: Path, rows: list[tuple[str, np.ndarray]], shape) -> Path:
    """A grid: one named row of images per entry (e.g. originals, reconstructions)."""
    n = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 1.1, len(rows) * 1.25), squeeze=False)
    for r, (name, images) in enumerate(rows):
        for c in range(n):
            if c < len(images):
                _show(axes[r][c], images[c], shape)
            else:
                axes[r][c].axis("off")
        axes[r][0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    return _save(fig, path)


def neighbours(path: Path, query: np.ndarray, found: np.ndarray, titles: list[str], shape, query_title: str) -> Path:
    """A query image followed by its nearest neighbours, each titled (label, score)."""
    fig, axes = plt.subplots(1, len(found) + 1, figsize=((len(found) + 1) * 1.3, 1.7), squeeze=False)
    _show(axes[0][0], query, shape, query_title)
    axes[0][0].patch.set_edgecolor("red")
    for ax, image, title in zip(axes[0][1:], found, titles):
        _show(ax, image, shape, title)
    return _save(fig, path)


def code_map(path: Path, codes: np.ndarray, labels: np.ndarray, class_names, title: str) -> Path:
    """Codes in 2-D (the codes themselves if 2-D, else their first two principal components), by class."""
    centred = codes - codes.mean(axis=0)
    if codes.shape[1] > 2:
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        centred = centred @ components[:2].T
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for i, name in enumerate(class_names):
        mine = labels == i
        ax.scatter(centred[mine, 0], centred[mine, 1], s=3, alpha=0.5, label=name, color=plt.cm.tab10(i % 10))
    ax.set_title(title, fontsize=10)
    ax.legend(markerscale=4, fontsize=7, loc="best")
    return _save(fig, path)


def loss_curves(path: Path, history: dict, title: str) -> Path:
    """Training (and validation) loss per epoch, from the Keras History."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, values in history.items():
        if "loss" in name:
            ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def kinds_chart(path: Path, rows: list[dict], baselines: list[dict], metric: str, label: str, title: str) -> Path:
    """Bars of one figure per autoencoder kind, with the baselines in grey."""
    names = [row["kind"] for row in rows] + [row["method"] for row in baselines]
    values = [row[metric] for row in rows] + [row[metric] for row in baselines]
    colours = [plt.cm.tab10(0)] * len(rows) + ["0.6"] * len(baselines)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(names), 3.6))
    bars = ax.bar(names, values, color=colours)
    ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_ylabel(label)
    ax.set_ylim(0, max(values) * 1.15)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", rotation=30, labelsize=8)
    return _save(fig, path)


def surface(path: Path, X: np.ndarray, position: np.ndarray, embeddings: dict, scores: dict) -> Path:
    """The 3-D surface, then each 2-D embedding, coloured by position along the surface."""
    fig = plt.figure(figsize=(4 * (1 + len(embeddings)), 3.8))
    ax = fig.add_subplot(1, 1 + len(embeddings), 1, projection="3d")
    ax.scatter(X[:, 0], X[:, 1], X[:, 2], c=position, cmap="viridis", s=3)
    ax.set_title("noisy surface in 3-D", fontsize=10)
    for i, (name, embedding) in enumerate(embeddings.items(), start=2):
        ax = fig.add_subplot(1, 1 + len(embeddings), i)
        ax.scatter(embedding[:, 0], embedding[:, 1], c=position, cmap="viridis", s=3)
        s = scores[name]
        ax.set_title(
            f"{name} (2-D)\ntrustworthiness {s['trustworthiness']:.3f}, unrolled R² {s['unrolled_r2']:.3f}", fontsize=9
        )
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, path)
