"""bench/scale.py: a seeded synthetic corpus whose labels are known, the same for the same arguments."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_synthetic_corpus(scale, corpus, tmp_path):
    summary = scale.make_corpus(corpus.texts, tmp_path / "a", docs=300, queries=40, topics=4, seed=3)
    docs, queries = _rows(tmp_path / "a" / "train.jsonl"), _rows(tmp_path / "a" / "test.jsonl")
    assert len(docs) == summary["documents"] == 300 and len(queries) == 40
    assert len({d["id"] for d in docs + queries}) == 340
    assert {d["label"] for d in docs} <= {f"topic{t:02d}" for t in range(4)} and len({d["label"] for d in docs}) > 1
    vocabulary = {word for text in corpus.texts for word in text.split()}
    assert all(d["text"] and set(d["text"].split()) <= vocabulary for d in docs)
    again = scale.make_corpus(corpus.texts, tmp_path / "b", docs=300, queries=40, topics=4, seed=3)
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()
    assert again["top_words"] == summary["top_words"] and len(summary["top_words"]) == 4
    other = scale.make_corpus(corpus.texts, tmp_path / "c", docs=300, queries=40, topics=4, seed=4)
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (tmp_path / "a" / "train.jsonl").read_bytes()
    assert other["documents"] == 300
