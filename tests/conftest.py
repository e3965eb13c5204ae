"""Tiny seeded corpora and one small trained index, built once per session."""

from __future__ import annotations

import json
import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from retrieval.config import AutoencoderConfig, BuildConfig, TfidfConfig, TrainConfig
from retrieval.text.corpus import Corpus

TOPICS = 4


def run_cli(*args):
    """Invoke the CLI in-process; a traceback in the output fails the test (user errors never show one)."""
    from typer.testing import CliRunner

    from retrieval.cli.main import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result


TOPIC_WORDS = 25


def topic_word(topic: int, i: int) -> str:
    return f"{'abcd'[topic]}{'efghijklmnopqrstuvwxyzabc'[i]}word{i}"


def make_corpus(n_per_topic: int, seed: int, prefix: str) -> Corpus:
    """Documents whose words come 80% from their topic's vocabulary, 20% from a shared one."""
    rng = np.random.default_rng(seed)
    shared = [f"common{i}x" for i in range(30)]
    corpus = Corpus(labels=[])
    for topic in range(TOPICS):
        own = [topic_word(topic, i) for i in range(TOPIC_WORDS)]
        for j in range(n_per_topic):
            words = [rng.choice(own) if rng.random() < 0.8 else rng.choice(shared) for _ in range(40)]
            doc_id = f"{prefix}-{topic}-{j:03d}"
            corpus.doc_ids.append(doc_id)
            corpus.texts.append(" ".join(words))
            corpus.titles.append(f"title {doc_id}")
            corpus.labels.append(f"topic{topic}")
    return corpus


def write_jsonl(path, corpus: Corpus) -> None:
    with open(path, "w") as handle:
        for doc_id, text, title, label in zip(corpus.doc_ids, corpus.texts, corpus.titles, corpus.labels):
            handle.write(json.dumps({"id": doc_id, "text": text, "title": title, "label": label}) + "\n")


TINY_CONFIG = BuildConfig(
    tfidf=TfidfConfig(max_features=500, min_df=1, max_df=1.0),
    autoencoder=AutoencoderConfig(hidden=(32, 16), code_size=8, input_dropout=0.2, anchor="smoothed_lsa"),
    train=TrainConfig(epochs=8, batch_size=16, learning_rate=3e-3, seed=7, warmup_steps=14),
)

# the same model as TINY_CONFIG, from the command line (the last four flags are the learning rate and seed)
TINY_FLAGS = [
    "--input-dropout",
    "0.2",
    "--max-features",
    "500",
    "--min-df",
    "1",
    "--max-df",
    "1.0",
    "--hidden",
    "32,16",
    "--code-size",
    "8",
    "--warmup-steps",
    "14",
    "--epochs",
    "8",
    "--batch-size",
    "16",
    "--learning-rate",
    "0.003",
    "--seed",
    "7",
]


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return make_corpus(25, seed=1, prefix="doc")


@pytest.fixture(scope="session")
def queries() -> Corpus:
    return make_corpus(5, seed=2, prefix="query")


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus):
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_jsonl(path, corpus)
    return path


@pytest.fixture(scope="session")
def queries_file(tmp_path_factory, queries):
    path = tmp_path_factory.mktemp("queries") / "queries.jsonl"
    write_jsonl(path, queries)
    return path


@pytest.fixture(scope="session")
def fitted(corpus):
    from retrieval.text.index import TextIndex

    return TextIndex(TINY_CONFIG).fit(corpus)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, fitted):
    path = tmp_path_factory.mktemp("bundles") / "tiny"
    fitted.save(path)
    return path


@pytest.fixture
def copy_dir(tmp_path, bundle_dir):
    """A copy of the tiny bundle in this test's own directory, to update or damage."""
    path = tmp_path / "index"
    shutil.copytree(bundle_dir, path)
    return path


def write_idx(path, array: np.ndarray) -> None:
    """Write a gzip-compressed unsigned-byte IDX file."""
    import gzip

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def make_images(n_per_class: int, seed: int, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images of class c: a bright 8x8 square in quadrant c, speckled, on a dim background."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c in range(classes):
        for _ in range(n_per_class):
            image = rng.integers(0, 40, size=(28, 28))
            row, col = 4 + 12 * (c // 2) + rng.integers(-2, 3), 4 + 12 * (c % 2) + rng.integers(-2, 3)
            image[row : row + 8, col : col + 8] = rng.integers(180, 256, size=(8, 8))
            images.append(image)
            labels.append(c)
    order = rng.permutation(len(labels))
    return np.array(images)[order], np.array(labels)[order]


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("idx")
    for prefix, n, seed in (("train", 40, 3), ("t10k", 10, 4)):
        images, labels = make_images(n, seed)
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture(scope="session")
def image_index(image_dir):
    from retrieval.config import ImageConfig, TrainConfig
    from retrieval.images.data import image_model, load_images
    from retrieval.images.index import ImageIndex

    data = load_images(image_dir)
    config = ImageConfig(
        model="deep",
        autoencoder=image_model("deep", code_size=8),
        train=TrainConfig(epochs=6, batch_size=32, learning_rate=3e-3, seed=3),
    )
    labels = [data.class_names[y] for y in data.y_train]
    return ImageIndex(config).fit(
        data.X_train, labels, [f"train:{i}" for i in range(len(labels))], data.shape, data.class_names
    )
