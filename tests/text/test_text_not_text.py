"""Text that cannot be encoded or stored (lone surrogates, control characters) is replaced when read, counted,
and never fails a later stage: a build and an addition of such documents save and answer."""

from __future__ import annotations

import json

from conftest import TINY_FLAGS, make_corpus, run_cli

from retrieval.text.corpus import read_corpus

BAD = "\ud800 \x00 \x07 \udfff"


def _jsonl(path, corpus, spoil: set) -> None:
    """``corpus`` as JSONL, the documents at ``spoil`` with ``BAD`` in every field (escaped, as JSON has them)."""
    with open(path, "w") as handle:
        for i, (doc_id, text, title, label) in enumerate(
            zip(corpus.doc_ids, corpus.texts, corpus.titles, corpus.labels)
        ):
            if i in spoil:
                doc_id, text, title, label = doc_id + BAD, text + BAD, title + BAD, label + BAD
            handle.write(json.dumps({"id": doc_id, "text": text, "title": title, "label": label}) + "\n")


def test_reading_replaces_and_counts_what_is_not_text(tmp_path):
    path = tmp_path / "c.jsonl"
    _jsonl(path, make_corpus(2, seed=1, prefix="d"), spoil={0, 3})
    corpus, report = read_corpus(path)
    clean = "\ufffd \ufffd \ufffd \ufffd"
    assert corpus.doc_ids[0] == "d-0-000" + clean and corpus.texts[3].endswith(clean)
    assert corpus.titles[0].endswith(clean) and corpus.labels[3] == "topic1" + clean
    assert report.not_utf8 == ["d-0-000" + clean, "d-1-001" + clean]
    assert "2 documents with non-UTF-8 bytes, lone surrogates or control characters (replaced)" in report.lines()[1]
    for field in (corpus.doc_ids, corpus.texts, corpus.titles, corpus.labels):
        "".join(field).encode("utf-8")  # everything encodes now
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "tab\tand\x01bell.txt").write_text("a line\twith a tab\r\nand a \x0b vertical tab")
    corpus, report = read_corpus(tmp_path / "d")
    assert (
        corpus.doc_ids == ["tab\tand\ufffdbell.txt"]
        and corpus.texts[0] == "a line\twith a tab\r\nand a \ufffd vertical tab"
    )


def test_build_and_add_of_such_text_save_and_answer(tmp_path):
    corpus_path, more_path, out = tmp_path / "c.jsonl", tmp_path / "more.jsonl", tmp_path / "index"
    _jsonl(corpus_path, make_corpus(10, seed=1, prefix="d"), spoil={0, 17})
    _jsonl(more_path, make_corpus(1, seed=2, prefix="n"), spoil={1})
    result = run_cli("build", corpus_path, "--out", out, *TINY_FLAGS)
    assert result.exit_code == 0, result.stderr
    assert "2 documents with non-UTF-8 bytes, lone surrogates or control characters (replaced)" in result.stderr
    result = run_cli("add", out, more_path)
    assert result.exit_code == 0, result.stderr
    result = run_cli("query", out, "--like", "n-1-000\ufffd \ufffd \ufffd \ufffd", "--json", "-k", "100")
    assert result.exit_code == 0, result.stderr
    hits = json.loads(result.stdout.splitlines()[0])["hits"]
    assert "d-0-000\ufffd \ufffd \ufffd \ufffd" in [hit["id"] for hit in hits]
