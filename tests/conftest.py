"""Tiny seeded corpora and one small trained index, built once per session."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from retrieval.config import AutoencoderConfig, BuildConfig, TfidfConfig, TrainConfig
from retrieval.corpus import Corpus

TOPICS = 4
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
    autoencoder=AutoencoderConfig(hidden=(32, 16), code_size=8, input_dropout=0.2),
    train=TrainConfig(epochs=8, batch_size=16, learning_rate=3e-3, seed=7),
)


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
    from retrieval.pipeline import TextIndex

    return TextIndex(TINY_CONFIG).fit(corpus)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, fitted):
    path = tmp_path_factory.mktemp("bundles") / "tiny"
    fitted.save(path)
    return path
