"""A build reads its corpus as a stream: a seeded reservoir sample, then chunks; nothing else kept."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import TINY_CONFIG, TINY_FLAGS, run_cli, write_jsonl

from retrieval.text.corpus import Corpus, CorpusError, read_corpus
from retrieval.text.stream import CorpusSource, MemorySource, chunks, sample


def _csv(path, corpus: Corpus) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "title", "label"])
        writer.writerows(zip(corpus.doc_ids, corpus.texts, corpus.titles, corpus.labels))


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_a_stream_yields_what_reading_into_memory_does(tmp_path, corpus, suffix):
    path = tmp_path / f"c.{suffix}"
    (write_jsonl if suffix == "jsonl" else _csv)(path, corpus)
    source = CorpusSource(path)
    parts = list(chunks(source, size=7))
    assert [len(part) for part in parts[:-1]] == [7] * (len(parts) - 1) and 0 < len(parts[-1]) <= 7
    assert sum((part.doc_ids for part in parts), []) == corpus.doc_ids
    assert sum((part.texts for part in parts), []) == corpus.texts
    assert sum((part.labels for part in parts), []) == corpus.labels
    assert source.report.to_dict() == read_corpus(path)[1].to_dict()


def test_csv_stream_flags_only_records_with_replaced_bytes(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(b"id,text\na,plain text\nb,caf\xe9 text\nc,more plain text\n")
    documents = list(CorpusSource(path).documents())
    assert [doc[0] for doc in documents] == ["a", "b", "c"] and documents[1][1] == "caf\ufffd text"
    assert read_corpus(path)[1].not_utf8 == ["b"]


def test_the_sample_is_seeded_in_reading_order_and_covers_a_small_corpus(corpus):
    source = MemorySource(corpus)
    first, n = sample(source, 30, seed=3)
    again, _ = sample(source, 30, seed=3)
    other, _ = sample(source, 30, seed=4)
    assert n == len(corpus) and len(first) == 30 and first.doc_ids == again.doc_ids != other.doc_ids
    positions = [corpus.doc_ids.index(doc_id) for doc_id in first.doc_ids]
    assert positions == sorted(positions)
    assert first.labels == [corpus.labels[i] for i in positions]
    whole, _ = sample(source, len(corpus) + 5, seed=3)
    assert whole.doc_ids == corpus.doc_ids


def test_the_reservoir_is_uniform():
    """Each of 200 positions enters a 20-document sample with probability 0.1: over 2,000 seeded draws its
    count is Binomial(2000, 0.1), mean 200, sd 13.4; every count within 5 sd, and early and late alike."""
    docs = Corpus(doc_ids=[str(i) for i in range(200)], texts=["text"] * 200, titles=[str(i) for i in range(200)])
    counts = np.zeros(200)
    for seed in range(2000):
        counts[[int(doc_id) for doc_id in sample(MemorySource(docs), 20, seed=seed)[0].doc_ids]] += 1
    assert counts.sum() == 40_000 and np.abs(counts - 200).max() < 5 * 13.4
    assert abs(counts[:100].mean() - counts[100:].mean()) < 10


def test_a_stream_build_equals_the_in_memory_build_when_the_sample_covers_the_corpus(corpus, corpus_file, fitted):
    from retrieval.text.index import TextIndex

    streamed = TextIndex(TINY_CONFIG).fit(CorpusSource(corpus_file))
    assert list(streamed.index_.id_map.doc_ids) == corpus.doc_ids
    assert np.array_equal(streamed.index_.stored(), fitted.index_.stored())
    assert streamed.metadata_ == fitted.metadata_ and streamed.corpus_report_.documents == len(corpus)


def test_a_sampled_stream_build_encodes_every_document_in_reading_order(corpus, corpus_file):
    from retrieval.text.index import TextIndex

    progress = []
    index = TextIndex(replace(TINY_CONFIG, train_sample=40)).fit(
        CorpusSource(corpus_file), on_progress=lambda docs, fraction: progress.append((docs, fraction))
    )
    assert len(index.sample_) == 40 and list(index.index_.id_map.doc_ids) == corpus.doc_ids
    expected = index.index_._prepare(index.encode(corpus.texts), "codes")  # as a query of the same text gets it
    assert np.allclose(index.index_.stored(), expected, atol=1e-6)
    assert index.tfidf_.shape[0] == len(corpus) and [m["label"] for m in index.metadata_] == corpus.labels
    assert progress[-1] == (len(corpus), 1.0) and progress.count((len(corpus), 1.0)) == 2  # two passes


def test_a_corpus_that_changes_between_passes_is_an_error_and_nothing_is_written(tmp_path, corpus):
    from retrieval.text.index import TextIndex

    path = tmp_path / "c.jsonl"
    write_jsonl(path, corpus)

    def grow(docs, fraction):  # after the first pass, someone appends a document
        if fraction == 1.0 and not grown:
            grown.append(1)
            with open(path, "a") as handle:
                handle.write(json.dumps({"id": "late", "text": "a late arrival"}) + "\n")

    grown = []
    with pytest.raises(CorpusError, match="changed while it was read: 100 documents on the first pass, 101"):
        TextIndex(replace(TINY_CONFIG, train_sample=40)).fit(CorpusSource(path), on_progress=grow)


def test_the_cli_builds_from_a_stream_and_logs_each_pass(tmp_path, corpus_file, corpus):
    out = tmp_path / "streamed"
    result = run_cli("build", corpus_file, "--out", out, *TINY_FLAGS, "--train-sample", "40", "--no-validate")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count(f"  {len(corpus):,} documents in") == 2  # reading, then encoding every document
    assert "encoding every document" in result.stderr
    result = run_cli("build", tmp_path / "absent.jsonl", "--out", tmp_path / "x", *TINY_FLAGS)
    assert result.exit_code == 1 and "corpus not found" in result.stderr and not (tmp_path / "x").exists()
