"""Parquet shards of codes -> a normal index bundle, with pyarrow only (no Spark, no TensorFlow).

A shard holds one row per document: ``position`` (int, the document's place in the
corpus: the index is in position order), ``id`` (string), ``code`` (a list of floats
as wide as the model's codes), ``tfidf_indices`` and ``tfidf_values`` (the document's
TF-IDF row, kept for re-ranking), and optionally ``title``, ``snippet`` and ``label``
(a missing title is the id). Shards written by ``retrieval build --engine spark`` have
them all; shards made elsewhere are checked before anything is written: a missing
column, a code of the wrong width, a null, a repeated id or position, or a TF-IDF
column outside the vocabulary is an error naming the shard and the problem.

Shards are read one at a time, so memory holds the index's own arrays (codes, ids,
display fields, TF-IDF rows) and one shard, not a copy of the whole dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from retrieval.errors import RetrievalError

REQUIRED = ("position", "id", "code", "tfidf_indices", "tfidf_values")
OPTIONAL = ("title", "snippet", "label")
_EXAMPLES = 3


def shard_files(directory) -> list[Path]:
    """The ``*.parquet`` files of a shard directory, in name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RetrievalError(f"no codes: {directory} is not a directory of Parquet shards")
    files = sorted(directory.glob("*.parquet"))
    if not files:
        raise RetrievalError(f"no codes: {directory} holds no .parquet files")
    return files


def _column_kinds(schema) -> dict:
    import pyarrow as pa

    def list_of(test):
        return lambda t: (
            (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)) and test(t.value_type)
        )

    return {
        "position": ("an integer", pa.types.is_integer),
        "id": ("a string", _is_text),
        "code": ("a list of floats", list_of(pa.types.is_floating)),
        "tfidf_indices": ("a list of integers", list_of(pa.types.is_integer)),
        "tfidf_values": ("a list of floats", list_of(pa.types.is_floating)),
        **{name: ("a string", _is_text) for name in OPTIONAL},
    }


def _is_text(t) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _check_schema(path: Path, schema) -> list[str]:
    """The optional columns the shard has; a missing or mistyped column is an error."""
    present = set(schema.names)
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise RetrievalError(
            f"{path.name}: column {', '.join(map(repr, missing))} missing "
            f"(found: {', '.join(map(repr, schema.names)) or 'none'}); a shard needs "
            f"{', '.join(REQUIRED)} and may have {', '.join(OPTIONAL)}"
        )
    for name, (words, test) in _column_kinds(schema).items():
        if name in present and not test(schema.field(name).type):
            raise RetrievalError(f"{path.name}: column {name!r} must be {words}; it is {schema.field(name).type}")
    return [name for name in OPTIONAL if name in present]


def _no_nulls(path: Path, table, names) -> None:
    for name in names:
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise RetrievalError(f"{path.name}: column {name!r} has {column.null_count} nulls (first at row {row})")


def _lists(path: Path, table, name: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A list column as (lengths, flat values), checked for nulls inside the lists."""
    import pyarrow.compute as pc

    column = table.column(name).combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(column)
    if values.null_count:
        raise RetrievalError(f"{path.name}: column {name!r} holds null values inside its lists")
    return lengths, values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def _read_shard(path: Path, code_size: int, n_features: int):
    """One shard, checked: positions, ids, codes, display fields and its TF-IDF rows (CSR)."""
    import pyarrow.parquet as pq

    optional = _check_schema(path, pq.read_schema(path))
    table = pq.read_table(path, columns=[*REQUIRED, *optional])
    _no_nulls(path, table, REQUIRED)
    widths, codes = _lists(path, table, "code", np.float32)
    bad = np.flatnonzero(widths != code_size)
    if len(bad):
        raise RetrievalError(
            f"{path.name}: codes must be {code_size} wide, as the model's encoder makes them; "
            f"row {int(bad[0])} has {int(widths[bad[0]])} values"
        )
    if not np.isfinite(codes).all():
        raise RetrievalError(f"{path.name}: column 'code' holds NaN or infinite values")
    lengths, indices = _lists(path, table, "tfidf_indices", np.int64)
    value_lengths, values = _lists(path, table, "tfidf_values", np.float32)
    if not np.array_equal(lengths, value_lengths):
        raise RetrievalError(f"{path.name}: tfidf_indices and tfidf_values differ in length")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_features):
        raise RetrievalError(
            f"{path.name}: tfidf_indices must be columns of the model's {n_features}-term "
            "vocabulary; some are outside it"
        )
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    X = sp.csr_matrix((values, indices.astype(np.int32), indptr), shape=(table.num_rows, n_features))
    ids = table.column("id").to_pylist()
    texts = {name: table.column(name).to_pylist() if name in optional else [None] * table.num_rows for name in OPTIONAL}
    metadata = [
        {"title": title if title not in (None, "") else doc_id, "snippet": snippet or "", "label": label}
        for doc_id, title, snippet, label in zip(ids, texts["title"], texts["snippet"], texts["label"])
    ]
    positions = table.column("position").to_numpy().astype(np.int64)
    return positions, ids, codes.reshape(-1, code_size), metadata, X


def read_shards(directory, code_size: int, n_features: int):
    """Every shard of ``directory``, in position order.

    Returns
    -------
    codes : ndarray (n, code_size) float32
    doc_ids : list of str
    metadata : list of dict
    tfidf : CSR matrix (n, n_features) float32
    """
    import pyarrow as pa

    parts = []
    for path in shard_files(directory):
        try:
            parts.append(_read_shard(path, code_size, n_features))
        except (OSError, pa.ArrowException) as err:  # not Parquet, truncated, unreadable
            raise RetrievalError(f"{path.name}: cannot read it as Parquet ({err})") from None
    positions = np.concatenate([part[0] for part in parts])
    order = np.argsort(positions, kind="stable")
    repeated = np.flatnonzero(np.diff(positions[order]) == 0)
    if len(repeated):
        raise RetrievalError(
            f"{len(repeated)} positions appear twice in the shards (e.g. "
            f"{', '.join(str(positions[order][i]) for i in repeated[:_EXAMPLES])})"
        )
    doc_ids = [doc_id for part in parts for doc_id in part[1]]
    doc_ids = [doc_ids[i] for i in order.tolist()]
    seen, twice = set(), []
    for doc_id in doc_ids:
        if doc_id in seen:
            twice.append(doc_id)
        seen.add(doc_id)
    if twice:
        raise RetrievalError(
            f"{len(twice)} ids appear more than once in the shards (e.g. "
            f"{', '.join(map(repr, twice[:_EXAMPLES]))}); an id names one document"
        )
    codes = np.concatenate([part[2] for part in parts])[order]
    metadata = [row for part in parts for row in part[3]]
    metadata = [metadata[i] for i in order.tolist()]
    tfidf = sp.vstack([part[4] for part in parts], format="csr")[order]
    return codes, doc_ids, metadata, tfidf
