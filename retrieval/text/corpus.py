"""Read a corpus from a directory of text files, a JSONL file, or a CSV/TSV file.

Every irregularity is handled one deliberate way and counted in the report:
bytes that are not UTF-8, lone surrogates (a JSON escape such as ``\\ud800``, or a
file name that is not UTF-8) and control characters other than tab and line
breaks are replaced (U+FFFD: nothing later can fail to encode or store them),
empty documents are skipped,
a repeated id keeps its first document, and a record without an id or text
is skipped with its line number. A corpus that yields no document, a missing
path, an unknown format or a field name that no record has is an error.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
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
            ("documents with non-UTF-8 bytes, lone surrogates or control characters (replaced)", self.not_utf8),
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


# what no stage after reading may see: C0 controls but tab, newline and carriage return; DEL; lone surrogates
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value):
    """``value`` with lone surrogates and control characters (tab and line breaks kept) replaced by U+FFFD,
    and whether any was; a value that is not a string passes as it is."""
    if isinstance(value, str) and _NOT_TEXT.search(value):
        return _NOT_TEXT.sub("\ufffd", value), True
    return value, False


def _cleaned(doc_id, text, title, label, bad: bool) -> tuple:
    """A record's fields through ``clean_text``; ``bad`` also when any of them changed."""
    values = [clean_text(value) for value in (doc_id, text, title, label)]
    return (*(value for value, _ in values), bad or any(changed for _, changed in values))


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8-sig", errors="replace"), True


_REPLACED = [0]  # bytes replaced by the "retrieval-replace" handler, for the report


def _replace_and_count(error: UnicodeDecodeError):
    _REPLACED[0] += 1
    return "\ufffd", error.end


codecs.register_error("retrieval-replace", _replace_and_count)


class ReadProgress:
    """How far a pass has read, as a fraction of the files or bytes to read (for progress and time left)."""

    fraction: float = 0.0


class _Rules:
    """Applies the corpus rules to records as they stream by, counting what they skip in ``report``."""

    def __init__(self, report: CorpusReport):
        self.report = report
        self._seen: set[str] = set()

    def admit(self, doc_id, text: str, bad_bytes: bool) -> str | None:
        """The record's id as a string if it is kept, else None (and the reason counted)."""
        doc_id = str(doc_id)
        if doc_id in self._seen:
            self.report.duplicate_ids.append(doc_id)
            return None
        if not text.strip():
            self.report.empty.append(doc_id)
            return None
        self._seen.add(doc_id)
        if bad_bytes:
            self.report.not_utf8.append(doc_id)
        self.report.documents += 1
        return doc_id


def _dir_records(path: Path, fields: Fields, report: CorpusReport, at: ReadProgress):
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise CorpusError(f"{path} holds no {' or '.join(TEXT_SUFFIXES)} files (searched recursively)")
    for number, file in enumerate(files, start=1):
        text, bad = _decode(file.read_bytes())
        rel = file.relative_to(path).as_posix()
        at.fraction = number / len(files)
        yield _cleaned(rel, text, rel, None, bad)


def parse_jsonl_line(raw: bytes, fields: Fields):
    """One line of a JSONL corpus as the reader sees it (the Spark engine parses its lines with it too).

    Returns
    -------
    keys : list of str or None
        The fields of a JSON object (the first object's must include the id and text fields).
    record : tuple or None
        (doc_id, text, title, label, bad_bytes) of a usable record; None for a blank or malformed line.
    problem : str or None
        Why the line is malformed, for the report (None when it is not).
    """
    line, bad = _decode(raw)
    if not line.strip():
        return None, None, None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return None, None, f"invalid JSON: {err.msg}"
    if not isinstance(record, dict):
        return None, None, "not a JSON object"
    doc_id, text = record.get(fields.id), record.get(fields.text)
    if doc_id is None or not isinstance(text, str) or isinstance(doc_id, (dict, list)):
        return list(record), None, f"needs {fields.id!r} and a string {fields.text!r}"
    return list(record), _cleaned(doc_id, text, record.get(fields.title), record.get(fields.label), bad), None


def shown_fields(doc_id: str, title, label) -> tuple:
    """A kept document's title (its id when it has none) and label (None when it has none), as strings."""
    return str(title) if title not in (None, "") else doc_id, None if label in (None, "") else str(label)


def _jsonl_records(path: Path, fields: Fields, report: CorpusReport, at: ReadProgress):
    checked, size = False, max(path.stat().st_size, 1)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number % 1024 == 0:
                at.fraction = handle.tell() / size
            keys, record, problem = parse_jsonl_line(raw, fields)
            if keys is not None and not checked:  # a wrong field name fails at once, not as n malformed lines
                _require_fields(path, fields, keys)
                checked = True
            if problem is not None:
                report.malformed.append(f"line {number} ({problem})")
            elif record is not None:
                yield record
    at.fraction = 1.0


def _table_records(path: Path, fields: Fields, report: CorpusReport, at: ReadProgress, delimiter: str):
    csv.field_size_limit(sys.maxsize)
    size, replaced_before = max(path.stat().st_size, 1), _REPLACED[0]
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="retrieval-replace", newline="")
        reader = csv.DictReader(text, delimiter=delimiter)
        _require_fields(path, fields, reader.fieldnames or [])
        for number, record in enumerate(reader, start=1):
            doc_id, body = record.get(fields.id), record.get(fields.text)
            if number % 1024 == 0:
                at.fraction = raw.tell() / size
            if doc_id in (None, "") or body is None:
                report.malformed.append(f"line {reader.line_num} (missing {fields.id!r} or {fields.text!r})")
                continue
            # decoding runs ahead of parsing, so the count already covers this record's bytes
            bad = _REPLACED[0] > replaced_before and "\ufffd" in body
            yield _cleaned(doc_id, body, record.get(fields.title), record.get(fields.label), bad)
    at.fraction = 1.0


def _require_fields(path: Path, fields: Fields, present: list) -> None:
    for role, name in (("id", fields.id), ("text", fields.text)):
        if name not in present:
            shown = ", ".join(map(repr, present)) or "none"
            raise CorpusError(
                f"{path} has no {role} field {name!r} (fields found: {shown}); name it with --{role}-field"
            )


def check_source(path, fmt: str | None = None) -> tuple[Path, str]:
    """The corpus path and its format, checked: the path exists and is of that format."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"corpus not found: {path} does not exist")
    if fmt is not None and fmt not in FORMATS:
        raise CorpusError(f"unknown corpus format {fmt!r}; choose one of {', '.join(FORMATS)}")
    fmt = fmt or detect_format(path)
    if (fmt == "dir") != path.is_dir():
        raise CorpusError(f"{path} is {'a directory' if path.is_dir() else 'a file'}, not a {fmt} corpus")
    return path, fmt


def iter_documents(
    path,
    fmt: str | None = None,
    fields: Fields = Fields(),
    report: CorpusReport | None = None,
    at: ReadProgress | None = None,
):
    """Stream the kept documents of a corpus as (doc_id, text, title, label), in reading order.

    Nothing but the ids seen so far is held (to skip repeats). ``report`` counts what the
    rules skip as the stream goes; ``at`` follows how far it has read.
    """
    path, fmt = check_source(path, fmt)
    report = report if report is not None else CorpusReport(path=str(path), format=fmt)
    at = at if at is not None else ReadProgress()
    rules = _Rules(report)
    if fmt == "dir":
        records = _dir_records(path, fields, report, at)
    elif fmt == "jsonl":
        records = _jsonl_records(path, fields, report, at)
    else:
        records = _table_records(path, fields, report, at, "," if fmt == "csv" else "\t")
    try:
        for doc_id, text, title, label, bad in records:
            doc_id = rules.admit(doc_id, text, bad)
            if doc_id is not None:
                yield doc_id, text, *shown_fields(doc_id, title, label)
    except (OSError, csv.Error) as err:
        raise CorpusError(f"cannot read {path}: {err}") from None


def read_corpus(path, fmt: str | None = None, fields: Fields = Fields()) -> tuple[Corpus, CorpusReport]:
    """Read documents from ``path`` into memory (``retrieval.text.stream`` reads them as a stream).

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
    path, fmt = check_source(path, fmt)
    report = CorpusReport(path=str(path), format=fmt)
    corpus, labels = Corpus(), []
    for doc_id, text, title, label in iter_documents(path, fmt, fields, report):
        corpus.doc_ids.append(doc_id)
        corpus.texts.append(text)
        corpus.titles.append(title)
        labels.append(label)
    return finish(corpus, labels, report), report


def empty_corpus_error(report: CorpusReport) -> CorpusError:
    """The error for a corpus that yields no document, saying what was skipped."""
    return CorpusError(f"no documents to index in {report.path}: " + "; ".join(report.lines()))


def finish(corpus: Corpus, labels: list, report: CorpusReport) -> Corpus:
    """Attach ``labels`` when any document has one; an empty corpus is an error that says what was skipped."""
    if any(label is not None for label in labels):
        corpus.labels = labels
    if not corpus.doc_ids:
        raise empty_corpus_error(report)
    return corpus
