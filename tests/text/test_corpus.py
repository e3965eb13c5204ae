"""Reading corpora: every format, every irregularity handled one deliberate way."""

import json

import pytest

from retrieval.text.corpus import CorpusError, Fields, read_corpus


def test_directory_recursive_txt_and_md_with_relative_ids(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "a.txt").write_text("alpha document")
    (tmp_path / "sub" / "b.md").write_text("# beta\nmarkdown document")
    (tmp_path / "sub" / "deeper" / "c.TXT").write_text("gamma document")
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ol\xe9".encode("latin-1"))
    corpus, report = read_corpus(tmp_path)
    assert corpus.doc_ids == ["a.txt", "latin1.txt", "sub/b.md", "sub/deeper/c.TXT"]
    assert corpus.titles[2] == "sub/b.md"
    assert corpus.texts[1] == "caf\ufffd ol\ufffd"
    assert corpus.labels is None
    assert report.empty == ["empty.txt"] and report.not_utf8 == ["latin1.txt"]
    assert report.documents == 4


def test_jsonl_with_custom_fields_duplicates_malformed_and_bad_bytes(tmp_path):
    path = tmp_path / "c.jsonl"
    lines = [
        json.dumps({"key": 1, "body": "first text", "cat": "x", "name": "First"}).encode(),
        json.dumps({"key": 1, "body": "repeated id"}).encode(),
        b"{broken json",
        json.dumps({"key": 3, "body": ""}).encode(),
        json.dumps({"key": 4}).encode(),
        b"",
        json.dumps({"key": 5, "body": "caf"}).encode()[:-2] + b'\xe9"}',
        json.dumps(["not", "an", "object"]).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    corpus, report = read_corpus(path, fields=Fields(id="key", text="body", label="cat", title="name"))
    assert corpus.doc_ids == ["1", "5"]
    assert corpus.titles == ["First", "5"]
    assert corpus.labels == ["x", None]
    assert report.duplicate_ids == ["1"] and report.empty == ["3"] and report.not_utf8 == ["5"]
    assert [m.split(" (")[0] for m in report.malformed] == ["line 3", "line 5", "line 8"]
    summary = "\n".join(report.lines())
    assert "1 repeated ids skipped (first kept): 1" in summary
    assert "3 malformed records skipped: line 3 (invalid JSON" in summary


def test_jsonl_wrong_field_name_fails_at_once_naming_the_fields_found(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "body": "text"}) + "\n")
    with pytest.raises(
        CorpusError, match=r"has no text field 'text' \(fields found: 'id', 'body'\); name it with --text-field"
    ):
        read_corpus(path)


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t")])
def test_tables_with_columns_quoting_and_labels(tmp_path, suffix, delimiter):
    path = tmp_path / f"c{suffix}"
    rows = [
        ["doc", "content", "group"],
        ["a", 'text with "quotes", and commas', "g1"],
        ["b", "multi\nline text", ""],
        ["", "no id", "g"],
    ]
    path.write_text(
        "\n".join(delimiter.join(f'"{c.replace(chr(34), 2 * chr(34))}"' for c in row) for row in rows) + "\n"
    )
    corpus, report = read_corpus(path, fields=Fields(id="doc", text="content", label="group"))
    assert corpus.doc_ids == ["a", "b"]
    assert corpus.texts == ['text with "quotes", and commas', "multi\nline text"]
    assert corpus.labels == ["g1", None]
    assert len(report.malformed) == 1


def test_unknown_format_missing_path_and_empty_corpus(tmp_path):
    (tmp_path / "c.xlsx").write_bytes(b"x")
    with pytest.raises(CorpusError, match=r"unknown corpus format for .*c.xlsx: expected a directory"):
        read_corpus(tmp_path / "c.xlsx")
    with pytest.raises(CorpusError, match="unknown corpus format 'xml'; choose one of dir, jsonl, csv, tsv"):
        read_corpus(tmp_path / "c.xlsx", fmt="xml")
    with pytest.raises(CorpusError, match="corpus not found: .*missing.jsonl does not exist"):
        read_corpus(tmp_path / "missing.jsonl")
    (tmp_path / "e.jsonl").write_text(json.dumps({"id": "a", "text": "  "}) + "\n")
    with pytest.raises(CorpusError, match="no documents to index .*1 empty documents skipped: a"):
        read_corpus(tmp_path / "e.jsonl")
    (tmp_path / "docs").mkdir()
    with pytest.raises(CorpusError, match="holds no .txt or .md files"):
        read_corpus(tmp_path / "docs")
    with pytest.raises(CorpusError, match="is a directory, not a jsonl corpus"):
        read_corpus(tmp_path / "docs", fmt="jsonl")


def test_format_option_overrides_the_suffix(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(json.dumps({"id": "a", "text": "hello there"}) + "\n")
    corpus, _ = read_corpus(path, fmt="jsonl")
    assert corpus.doc_ids == ["a"]
