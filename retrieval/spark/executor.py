"""What runs on Spark's executors: JSONL lines -> the corpus rules -> TF-IDF rows -> codes, in numpy.

Each function takes the Arrow batches of one partition of the corpus's lines (``value``,
the line's raw bytes, and ``block``, the byte offset where Spark's split of the file
starts) and yields Arrow batches. A line is known by (block, row): its split, and its
number within the split; the driver turns those keys into line numbers and positions.

Only numpy, scipy, pyarrow and the numpy runtime are imported here: never TensorFlow,
Keras or scikit-learn (a test runs these functions on Spark's workers and checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from retrieval.text.corpus import Fields, parse_jsonl_line, shown_fields

# One row per line that the driver needs to see: every record (for the repeated-id rule), every
# malformed line (for the report), and one summary row per split (its lines and records).
SCAN_SCHEMA = (
    "block long, row long, kind string, doc_id string, nonblank boolean, bad boolean, "
    "detail string, lines long, records long"
)
CODES_SCHEMA = (
    "position long, id string, code array<float>, title string, snippet string, label string, "
    "tfidf_indices array<int>, tfidf_values array<float>"
)


SCAN_COLUMNS = pa.schema(
    [
        ("block", pa.int64()),
        ("row", pa.int64()),
        ("kind", pa.string()),
        ("doc_id", pa.string()),
        ("nonblank", pa.bool_()),
        ("bad", pa.bool_()),
        ("detail", pa.string()),
        ("lines", pa.int64()),
        ("records", pa.int64()),
    ]
)  # the Arrow twin of SCAN_SCHEMA


def _lines(batch, rows: dict):
    """(block, row, raw bytes) for every line of an Arrow batch, in order; ``rows`` counts each split's lines."""
    values = batch.column(0).cast(pa.binary()).to_pylist()  # the bytes as in the file, not yet decoded
    for block, raw in zip(batch.column(1).to_pylist(), values):
        row = rows.get(block, 0)
        rows[block] = row + 1
        yield block, row, raw


def scan_partition(batches, fields: Fields):
    """The scan: parse every line with the single-machine reader's rules, emit what the driver counts.

    One output batch per input batch (every column typed: a batch whose column is all null must
    still match the others), then one with a summary row per split.
    """
    lines: dict = {}
    records: dict = {}
    for batch in batches:
        out = []  # (block, row, kind, doc_id, nonblank, bad, detail, lines, records)
        for block, row, raw in _lines(batch, lines):
            _, record, problem = parse_jsonl_line(raw, fields)
            if problem is not None:
                out.append((block, row, "malformed", None, None, None, problem, None, None))
            elif record is not None:
                doc_id, text, _, _, bad = record
                out.append((block, row, "record", str(doc_id), bool(text.strip()), bad, None, None, None))
                records[block] = records.get(block, 0) + 1
        if out:
            yield _rows_batch(out)
    if lines:
        yield _rows_batch(
            [
                (block, -1, "split", None, None, None, None, count, records.get(block, 0))
                for block, count in lines.items()
            ]
        )


def _rows_batch(rows: list) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array(column, kind.type) for column, kind in zip(zip(*rows), SCAN_COLUMNS)], schema=SCAN_COLUMNS
    )


@dataclass
class EncodePlan:
    """What the driver broadcasts to the encoding tasks.

    Attributes
    ----------
    fields : Fields
    vectorizer : bytes
        ``vectorizer.json``.
    steps, weights : bytes
        The exported encoder (``encoder.json``, ``encoder.npz``).
    dropped : frozenset of (block, row)
        Records the corpus rules drop (a blank text, a repeated id).
    first_position : dict of block -> int
        The position of the first document kept in each split.
    """

    fields: Fields
    vectorizer: bytes
    steps: bytes
    weights: bytes
    dropped: frozenset = field(default_factory=frozenset)
    first_position: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Names the model, so that a Python worker that Spark reuses builds it once."""
        import hashlib

        return hashlib.sha256(self.vectorizer + self.steps + self.weights).hexdigest()


_MODELS: dict = {}  # model key -> (transform, encoder)


def _model(plan: EncodePlan):
    key = plan.key
    if key not in _MODELS:
        import json

        from retrieval.runtime.encoder import Encoder
        from retrieval.runtime.tfidf import TfidfTransform

        _MODELS.clear()  # one build's model at a time
        _MODELS[key] = (
            TfidfTransform.from_dict(json.loads(plan.vectorizer)),
            Encoder.from_bytes(plan.steps, plan.weights),
        )
    return _MODELS[key]


def encode_partition(batches, broadcast):
    """The encoding: the documents the rules keep, featurised and encoded an input batch at a time."""
    from retrieval.code_index import snippet  # what search shows, cut as the single-machine build cuts it

    plan: EncodePlan = broadcast.value
    transform, encoder = _model(plan)
    lines: dict = {}
    kept: dict = {}  # block -> documents kept so far in it
    for batch in batches:
        docs = []
        for block, row, raw in _lines(batch, lines):
            if (block, row) in plan.dropped:
                continue
            _, record, _ = parse_jsonl_line(raw, plan.fields)
            if record is None:
                continue
            doc_id, text, title, label, _ = record
            number = kept.get(block, 0)
            kept[block] = number + 1
            doc_id = str(doc_id)
            docs.append((plan.first_position[block] + number, doc_id, text, *shown_fields(doc_id, title, label)))
        if docs:
            yield _encoded(docs, transform, encoder, snippet)


def _encoded(docs: list, transform, encoder, snippet) -> pa.RecordBatch:
    positions, doc_ids, texts, titles, labels = zip(*docs)
    X = transform.transform(list(texts))
    codes = encoder.encode(X)
    return pa.RecordBatch.from_arrays(
        [
            pa.array(positions, pa.int64()),
            pa.array(doc_ids, pa.string()),
            _lists(np.arange(0, codes.size + 1, codes.shape[1], dtype=np.int32), codes.ravel(), pa.float32()),
            pa.array(titles, pa.string()),
            pa.array([snippet(text) for text in texts], pa.string()),
            pa.array(labels, pa.string()),
            _lists(X.indptr, X.indices, pa.int32()),
            _lists(X.indptr, X.data, pa.float32()),
        ],
        names=["position", "id", "code", "title", "snippet", "label", "tfidf_indices", "tfidf_values"],
    )


def _lists(offsets, values, kind) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), pa.array(values, kind))
