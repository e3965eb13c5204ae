"""Read a corpus from a directory of text files, a JSONL file, or a CSV/TSV file.

Every irregularity is handled one deliberate way and counted in the report:
bytes that are not UTF-8 are replaced (U+FFFD), empty documents are skipped,
a repeated id keeps its first document, and a record without an id or text
is skipped with its line number. A corpus that yields no document, a missing
path, an unknown format or a field name that no record has is an error.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import CorpusError

FORMATS = ("dir", "jsonl", "csv", "tsv")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
TEXT_SUFFIXES = (".txt", ".md")
_EXAMPLES = 5


@dataclass(frozen=True)
class Fields:
    """Names of the fields (JSONL keys or CSV columns) to read."""

    id: str = "id"
    text: str = "text"
    label: str = "label"
    title: str = "title"


@dataclass
class Corpus:
    """Documents in reading order; ``labels`` is None when no document has one."""

    doc_ids: list = field(default_factory=list)
    texts: list = field(default_factory=list)
    titles: list = field(default_factory=list)
    labels: list | None = None

    def __len__(self) -> int:
        return len(self.doc_ids)


@dataclass
class CorpusReport:
    """What reading found, for the build summary."""

    path: str
    format: str
    documents: int = 0
    empty: list = field(default_factory=list)
    duplicate_ids: list = field(default_factory=list)
    malformed: list = field(default_factory=list)
    not_utf8: list = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines, one per kind of irregularity found."""
        out = [f"read {self.documents} documents from {self.path} ({self.format})"]
        for what, items in [
            ("empty documents skipped", self.empty),
            ("repeated ids skipped (first kept)", self.duplicate_ids),
            ("malformed records skipped", self.malformed),
            ("documents with non-UTF-8 bytes (replaced)", self.not_utf8),
        ]:
            if items:
                shown = ", ".join(map(str, items[:_EXAMPLES])) + (", ..." if len(items) > _EXAMPLES else "")
                out.append(f"{len(items)} {what}: {shown}")
        return out

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "documents": self.documents,
            "empty": len(self.empty),
            "duplicate_ids": len(self.duplicate_ids),
            "malformed": len(self.malformed),
            "not_utf8": len(self.not_utf8),
        }


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "dir"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(
            f"unknown corpus format for {path}: expected a directory of {'/'.join(TEXT_SUFFIXES)} files "
            f"or a file ending in {', '.join(_SUFFIXES)} (or pass --format {'|'.join(FORMATS)})"
        )
    return fmt


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8-sig", errors="replace"), True


class _Collector:
    def __init__(self, report: CorpusReport):
        self.corpus, self.report = Corpus(), report
        self._seen: set[str] = set()
        self._labels: list = []

    def add(self, doc_id, text: str, title=None, label=None, bad_bytes=False) -> None:
        doc_id = str(doc_id)
        if doc_id in self._seen:
            self.report.duplicate_ids.append(doc_id)
            return
        if not text.strip():
            self.report.empty.append(doc_id)
            return
        self._seen.add(doc_id)
        if bad_bytes:
            self.report.not_utf8.append(doc_id)
        self.corpus.doc_ids.append(doc_id)
        self.corpus.texts.append(text)
        self.corpus.titles.append(str(title) if title not in (None, "") else doc_id)
        self._labels.append(None if label in (None, "") else str(label))

    def finish(self) -> tuple[Corpus, CorpusReport]:
        if any(label is not None for label in self._labels):
            self.corpus.labels = self._labels
        self.report.documents = len(self.corpus)
        if not self.corpus.doc_ids:
            raise CorpusError(f"no documents to index in {self.report.path}: " + "; ".join(self.report.lines()))
        return self.corpus, self.report


def _read_dir(path: Path, fields: Fields, out: _Collector) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise CorpusError(f"{path} holds no {' or '.join(TEXT_SUFFIXES)} files (searched recursively)")
    for file in files:
        text, bad = _decode(file.read_bytes())
        rel = file.relative_to(path).as_posix()
        out.add(rel, text, title=rel, bad_bytes=bad)


def _read_jsonl(path: Path, fields: Fields, out: _Collector) -> None:
    checked = False
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line, bad = _decode(raw)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                out.report.malformed.append(f"line {number} (invalid JSON: {err.msg})")
                continue
            if not isinstance(record, dict):
                out.report.malformed.append(f"line {number} (not a JSON object)")
                continue
            if not checked:  # a wrong field name fails at once, not as n malformed lines
                _require_fields(path, fields, list(record))
                checked = True
            doc_id, text = record.get(fields.id), record.get(fields.text)
            if doc_id is None or not isinstance(text, str) or isinstance(doc_id, (dict, list)):
                out.report.malformed.append(f"line {number} (needs {fields.id!r} and a string {fields.text!r})")
                continue
            out.add(doc_id, text, record.get(fields.title), record.get(fields.label), bad)


def _read_table(path: Path, fields: Fields, out: _Collector, delimiter: str) -> None:
    text, bad_file = _decode(path.read_bytes())
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    _require_fields(path, fields, reader.fieldnames or [])
    for record in reader:
        doc_id, body = record.get(fields.id), record.get(fields.text)
        if doc_id in (None, "") or body is None:
            out.report.malformed.append(f"line {reader.line_num} (missing {fields.id!r} or {fields.text!r})")
            continue
        bad = bad_file and "\ufffd" in body
        out.add(doc_id, body, record.get(fields.title), record.get(fields.label), bad)


def _require_fields(path: Path, fields: Fields, present: list) -> None:
    for role, name in (("id", fields.id), ("text", fields.text)):
        if name not in present:
            shown = ", ".join(map(repr, present)) or "none"
            raise CorpusError(
                f"{path} has no {role} field {name!r} (fields found: {shown}); "
                f"name it with --{role}-field"
            )


def read_corpus(path, fmt: str | None = None, fields: Fields = Fields()) -> tuple[Corpus, CorpusReport]:
    """Read documents from ``path``.

    Parameters
    ----------
    path : str or Path
        A directory (``.txt``/``.md`` files, recursively; id = relative path),
        a ``.jsonl`` file, or a ``.csv``/``.tsv`` file with a header row.
    fmt : {"dir", "jsonl", "csv", "tsv"}, optional
        Overrides detection by suffix.
    fields : Fields
        Field names for the id, text, label and title.

    Returns
    -------
    corpus : Corpus
    report : CorpusReport
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} does not exist")
    if fmt is not None and fmt not in FORMATS:
        raise CorpusError(f"unknown corpus format {fmt!r}; choose one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if (fmt == "dir") != path.is_dir():
        raise CorpusError(f"{path} is {'a directory' if path.is_dir() else 'a file'}, not a {fmt} corpus")
    out = _Collector(CorpusReport(path=str(path), format=fmt))
    try:
        if fmt == "dir":
            _read_dir(path, fields, out)
        elif fmt == "jsonl":
            _read_jsonl(path, fields, out)
        else:
            _read_table(path, fields, out, "," if fmt == "csv" else "\t")
    except (OSError, csv.Error) as err:
        raise CorpusError(f"cannot read {path}: {err}") from None
    return out.finish()
