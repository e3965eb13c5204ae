"""A corpus read as a stream, as often as a build needs: once to sample, once to encode.

A build never holds the corpus: the first pass keeps a seeded uniform sample
(reservoir sampling) and counts the documents; the second hands the documents
over a chunk at a time. An in-memory ``Corpus`` streams the same way, so the
library and the command line share one path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from retrieval.errors import CorpusError
from retrieval.text.corpus import (
    Corpus,
    CorpusReport,
    Fields,
    ReadProgress,
    check_source,
    empty_corpus_error,
    finish,
    iter_documents,
)

CHUNK = 10_000  # documents handed over at once by the second pass

# on_progress(documents so far, fraction read or None)
Progress = Callable[[int, "float | None"], None]


class CorpusSource:
    """A corpus on disk (directory, JSONL, CSV or TSV), read as a stream.

    Parameters
    ----------
    path : str or Path
    fmt : {"dir", "jsonl", "csv", "tsv"}, optional
    fields : Fields

    Attributes
    ----------
    report : CorpusReport
        What the last complete pass found.
    """

    def __init__(self, path, fmt: str | None = None, fields: Fields = Fields()):
        self.path, self.fmt = check_source(path, fmt)
        self.fields = fields
        self.report = CorpusReport(path=str(self.path), format=self.fmt)
        self._counted: int | None = None

    def documents(self, on_progress: Progress | None = None) -> Iterator[tuple]:
        """One pass: (doc_id, text, title, label) per kept document, in reading order."""
        report, at = CorpusReport(path=str(self.path), format=self.fmt), ReadProgress()
        count = 0
        for count, document in enumerate(iter_documents(self.path, self.fmt, self.fields, report, at), start=1):
            if on_progress is not None and count % 1000 == 0:
                on_progress(count, at.fraction)
            yield document
        if not count:
            raise empty_corpus_error(report)
        if self._counted is not None and count != self._counted:
            raise CorpusError(
                f"{self.path} changed while it was read: {self._counted} documents on the first "
                f"pass, {count} on this one; nothing was written"
            )
        self._counted, self.report = count, report
        if on_progress is not None:
            on_progress(count, 1.0)


class MemorySource:
    """A ``Corpus`` already in memory, streamed like a ``CorpusSource``."""

    def __init__(self, corpus: Corpus, report: CorpusReport | None = None):
        if not len(corpus):
            raise CorpusError("the corpus holds no documents")
        self.corpus = corpus
        self.report = report or CorpusReport(path="(in memory)", format="memory", documents=len(corpus))

    def documents(self, on_progress: Progress | None = None) -> Iterator[tuple]:
        corpus = self.corpus
        labels = corpus.labels or [None] * len(corpus)
        for i in range(len(corpus)):
            if on_progress is not None and (i + 1) % 1000 == 0:
                on_progress(i + 1, (i + 1) / len(corpus))
            yield corpus.doc_ids[i], corpus.texts[i], corpus.titles[i], labels[i]
        if on_progress is not None:
            on_progress(len(corpus), 1.0)


def as_source(corpus) -> CorpusSource | MemorySource:
    """A source for ``corpus``: a ``Corpus``, a source already, or a path."""
    if isinstance(corpus, (CorpusSource, MemorySource)):
        return corpus
    if isinstance(corpus, Corpus):
        return MemorySource(corpus)
    if isinstance(corpus, (str, Path)):
        return CorpusSource(corpus)
    raise TypeError(f"expected a Corpus, a CorpusSource or a path, got {type(corpus).__name__}")


def chunks(source, size: int = CHUNK, on_progress: Progress | None = None) -> Iterator[Corpus]:
    """One pass over ``source`` as ``Corpus`` chunks of at most ``size`` documents (labels always a list)."""
    chunk = _empty()
    for doc_id, text, title, label in source.documents(on_progress):
        _append(chunk, doc_id, text, title, label)
        if len(chunk) == size:
            yield chunk
            chunk = _empty()
    if len(chunk):
        yield chunk


def sample(source, size: int, seed: int, on_progress: Progress | None = None) -> tuple[Corpus, int]:
    """A seeded uniform sample of ``size`` documents in reading order, and how many there are in all.

    ``size`` 0 or at least the corpus keeps every document (the whole corpus, in memory). The
    reservoir follows Li's Algorithm L: it draws random numbers only when a document enters, so
    a million-document pass costs little beyond reading.
    """
    if isinstance(source, MemorySource) and (not size or size >= len(source.corpus)):
        return source.corpus, len(source.corpus)
    keep_all = not size
    rng = np.random.default_rng(seed)
    reservoir: list = []  # (position, document)
    weight, skip_to = 1.0, -1
    n = 0
    for n, document in enumerate(source.documents(on_progress), start=1):
        position = n - 1
        if keep_all or position < size:
            reservoir.append((position, document))
            if not keep_all and position == size - 1:
                weight = math.exp(math.log(rng.random()) / size)
                skip_to = position + _skip(rng, weight)
        elif position == skip_to:
            reservoir[int(rng.integers(size))] = (position, document)
            weight *= math.exp(math.log(rng.random()) / size)
            skip_to = position + _skip(rng, weight)
    reservoir.sort(key=lambda item: item[0])
    corpus, labels = Corpus(), []
    for _, (doc_id, text, title, label) in reservoir:
        _append(corpus, doc_id, text, title, label)
        labels.append(label)
    return finish(corpus, labels, source.report), n


def _skip(rng, weight: float) -> int:
    """How far ahead the next document to enter the reservoir is (at least 1)."""
    return int(math.floor(math.log(rng.random()) / math.log1p(-weight))) + 1


def _empty() -> Corpus:
    return Corpus(labels=[])


def _append(corpus: Corpus, doc_id, text, title, label) -> None:
    corpus.doc_ids.append(doc_id)
    corpus.texts.append(text)
    corpus.titles.append(title)
    if corpus.labels is not None:
        corpus.labels.append(label)
