"""The CLI through typer's CliRunner: build -> query -> info -> evaluate, and every bad input."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from indexing import read_manifest
from conftest import TINY_FLAGS, run_cli
from retrieval.text.index import TextIndex

TINY = TINY_FLAGS


run = run_cli


@pytest.fixture(scope="module")
def cli_bundle(tmp_path_factory, corpus_file):
    out = tmp_path_factory.mktemp("cli") / "index"
    result = run("build", corpus_file, "--out", out, *TINY, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents"] == 100 and summary["code_size"] == 8 and summary["epochs"] == 8
    return out


def test_build_matches_the_library_with_the_same_seed(cli_bundle, bundle_dir, queries):
    from_cli, from_library = TextIndex.load(cli_bundle), TextIndex.load(bundle_dir)
    assert from_cli.search(queries.texts, 5) == from_library.search(queries.texts, 5)


def test_build_prints_progress_and_a_summary(tmp_path, corpus_file):
    result = run("build", corpus_file, "--out", tmp_path / "i", *TINY[:-4], "--epochs", "2")
    assert result.exit_code == 0
    # two decoder warm-up epochs (--warmup-steps 14, 7 batches each), then the two asked for
    assert "read 100 documents" in result.stderr and "epoch 4/4  loss" in result.stderr
    assert "built " in result.stdout and "100 documents" in result.stdout


def test_model_options_reach_the_manifest(tmp_path, corpus_file):
    out = tmp_path / "i"
    result = run("build", corpus_file, "--out", out, *TINY[:-4], "--epochs", "1", "--output", "sigmoid",
                 "--activation", "tanh", "--raw-tf", "--lr-schedule", "cosine")
    assert result.exit_code == 0, result.stderr
    config = read_manifest(out)["config"]
    assert config["autoencoder"]["output"] == "sigmoid" and config["autoencoder"]["loss"] == "binary_crossentropy"
    assert config["autoencoder"]["activation"] == "tanh" and config["tfidf"]["sublinear_tf"] is False
    assert config["train"]["lr_schedule"] == "cosine"


def test_query_text_table_and_json(cli_bundle, corpus):
    result = run("query", cli_bundle, corpus.texts[3], "-k", "3")
    assert result.exit_code == 0 and corpus.doc_ids[3] in result.stdout and "rank" in result.stdout
    result = run("query", cli_bundle, corpus.texts[3], "-k", "3", "--json")
    answer = json.loads(result.stdout)
    assert answer["query"] == corpus.texts[3]
    assert answer["hits"][0]["id"] == corpus.doc_ids[3] and len(answer["hits"]) == 3
    assert set(answer["hits"][0]) == {"id", "score", "title", "label", "snippet"}


def test_query_file_is_one_json_line_per_query(cli_bundle, queries_file, queries):
    result = run("query", cli_bundle, "--file", queries_file, "-k", "2", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == queries.doc_ids
    assert all(len(line["hits"]) == 2 for line in lines)


def test_query_like_an_indexed_document(cli_bundle, corpus):
    result = run("query", cli_bundle, "--like", corpus.doc_ids[0], "-k", "4", "--json")
    hits = json.loads(result.stdout)["hits"]
    assert len(hits) == 4 and corpus.doc_ids[0] not in [h["id"] for h in hits]


def test_info_and_evaluate(cli_bundle, queries_file):
    result = run("info", cli_bundle)
    assert result.exit_code == 0 and "100" in result.stdout and "in-32-16-8-16-32-in" in result.stdout
    manifest = json.loads(run("info", cli_bundle, "--json").stdout)
    assert manifest["code_size"] == 8 and "tensorflow" in manifest["library_versions"]
    result = run("evaluate", cli_bundle, "--queries", queries_file, "-k", "5")
    assert result.exit_code == 0 and "tfidf-cosine" in result.stdout and "lsa-8" in result.stdout
    report = json.loads(run("evaluate", cli_bundle, "--queries", queries_file, "-k", "5", "--json").stdout)
    assert report["k"] == 5 and len(report["methods"]) == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "{bundle}"], "give exactly one of TEXT, --file or --like (got none)"),
        (["query", "{bundle}", "text", "--like", "x"], "give exactly one of TEXT, --file or --like (got TEXT, --like)"),
        (["query", "{bundle}", "text", "-k", "0"], "-k must be a positive whole number; got 0"),
        (["query", "{bundle}", "   "], "the query text is empty"),
        (["query", "{bundle}", "--like", "no-such-doc"], "unknown document id 'no-such-doc'"),
        (["query", "{tmp}/missing", "text"], "no index at"),
        (["query", "{bundle}", "--file", "{tmp}/q.xlsx"], "corpus not found"),
        (["evaluate", "{bundle}", "--queries", "{queries}", "-k", "-1"], "-k must be a positive whole number"),
        (["build", "{tmp}/nothing.jsonl", "--out", "{tmp}/o"], "corpus not found"),
        (["build", "{tmp}", "--out", "{tmp}/o", "--format", "xml"], "unknown corpus format 'xml'"),
        (["build", "{queries}", "--out", "{tmp}/o", "--hidden", "5,x"], "--hidden must be comma-separated whole numbers"),
        (["build", "{queries}", "--out", "{tmp}/o", "--optimizer", "lbfgs"], "optimizer must be one of adam"),
        (["build", "{queries}", "--out", "{tmp}/o", "--text-field", "body"], "has no text field 'body'"),
        (["build", "{queries}", "--out", "{tmp}/o", "--output", "softmax", "--loss", "mse"], "loss for a softmax output must be one of categorical_crossentropy; got 'mse'"),
        (["build", "{queries}", "--out", "{tmp}/o", "--output", "relu"], "output must be one of softmax, sigmoid, linear; got 'relu'"),
        (["build", "{tmp}/20newsgroups/train.jsonl", "--out", "{tmp}/o"], "does not exist; fetch it with `retrieval data fetch 20newsgroups`"),
        (["data", "fetch", "mnist-text"], "unknown dataset 'mnist-text'; available: 20newsgroups, reuters8"),
    ],
)
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(tmp_path, cli_bundle, queries_file, args, message):
    args = [a.format(bundle=cli_bundle, tmp=tmp_path, queries=queries_file) for a in args]
    result = run(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "o").exists()


def _flip_a_bit(path, at: int = 100) -> None:
    with open(path, "r+b") as handle:
        handle.seek(min(at, path.stat().st_size - 1))
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))


@pytest.mark.parametrize("name", ["encoder.json", "encoder.npz", "index.faiss", "doc_ids.json", "metadata.jsonl",
                                  "vectorizer.json"])
def test_a_flipped_bit_in_any_file_a_query_reads_is_refused(tmp_path, cli_bundle, queries_file, name):
    broken = tmp_path / "broken"
    shutil.copytree(cli_bundle, broken)
    _flip_a_bit(broken / name)
    for args in (["query", broken, "text"], ["info", broken], ["evaluate", broken, "--queries", queries_file]):
        result = run(*args)
        assert result.exit_code == 1 and f"{name} does not match its checksum" in result.stderr, args


def test_files_a_query_does_not_read_are_checked_when_they_are_read(tmp_path, cli_bundle, corpus):
    broken = tmp_path / "broken"
    shutil.copytree(cli_bundle, broken)
    for name in ("encoder.keras", "tfidf.npz"):
        _flip_a_bit(broken / name)
    assert run("query", broken, corpus.texts[0], "-k", "3").exit_code == 0  # reads neither
    result = run("query", broken, corpus.texts[0], "-k", "3", "--rerank", "10")
    assert result.exit_code == 1 and "tfidf.npz does not match its checksum" in result.stderr
    result = run("info", broken)
    assert result.exit_code == 1 and "does not match its checksum" in result.stderr


def test_a_build_that_fails_mid_write_leaves_the_old_index(tmp_path, cli_bundle, corpus_file, monkeypatch):
    target = tmp_path / "index"
    shutil.copytree(cli_bundle, target)
    before = read_manifest(target)

    def fail(self, path):
        path.write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr("indexing.vectors.VectorIndex.write", fail)
    result = run("build", corpus_file, "--out", target, *TINY[:-4], "--epochs", "1")
    assert result.exit_code == 130 and "nothing was written" in result.stderr
    assert read_manifest(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_refuses_to_overwrite_a_directory_that_is_not_an_index(tmp_path, corpus_file):
    (tmp_path / "notes.txt").write_text("keep me")
    result = run("build", corpus_file, "--out", tmp_path, *TINY[:-4], "--epochs", "1")
    assert result.exit_code == 1 and "refusing to replace" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_kill_9_mid_write_leaves_the_old_index_loadable(tmp_path, cli_bundle, corpus_file):
    target = tmp_path / "index"
    shutil.copytree(cli_bundle, target)
    before = read_manifest(target)
    script = textwrap.dedent(f"""
        import os, signal
        from indexing.vectors import VectorIndex
        def die(self, path):
            path.write_bytes(b"partial")
            os.kill(os.getpid(), signal.SIGKILL)
        VectorIndex.write = die
        from retrieval.cli.main import app
        app({["build", str(corpus_file), "--out", str(target), *TINY[:-4], "--epochs", "1"]!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL
    assert read_manifest(target) == before
    TextIndex.load(target).search(["anything"], 1)
    # the next build clears what the killed one left behind
    assert any(p.name.startswith(".index.tmp-") for p in tmp_path.iterdir())
    assert run("build", corpus_file, "--out", target, *TINY[:-4], "--epochs", "1").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]
