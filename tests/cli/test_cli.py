"""The CLI through typer's CliRunner: build -> query -> info -> evaluate, and every bad input."""

import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import TINY_FLAGS, run_cli

from indexing import read_manifest
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
    result = run(
        "build",
        corpus_file,
        "--out",
        out,
        *TINY[:-4],
        "--epochs",
        "1",
        "--output",
        "sigmoid",
        "--activation",
        "tanh",
        "--raw-tf",
        "--lr-schedule",
        "cosine",
    )
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
    assert set(answer["hits"][0]) == {"id", "score", "title", "label", "snippet", "semantic_score", "lexical_score"}
    assert answer["mode"] == "hybrid"  # the default where the index has a lexical side


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
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--hidden", "5,x"],
            "--hidden must be comma-separated whole numbers",
        ),
        (["build", "{queries}", "--out", "{tmp}/o", "--optimizer", "lbfgs"], "optimizer must be one of adam"),
        (["build", "{queries}", "--out", "{tmp}/o", "--text-field", "body"], "has no text field 'body'"),
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--output", "softmax", "--loss", "mse"],
            "loss for a softmax output must be one of categorical_crossentropy; got 'mse'",
        ),
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--output", "relu"],
            "output must be one of softmax, sigmoid, linear; got 'relu'",
        ),
        (
            ["build", "{tmp}/20newsgroups/train.jsonl", "--out", "{tmp}/o"],
            "does not exist; fetch it with `retrieval data fetch 20newsgroups`",
        ),
        (["data", "fetch", "mnist-text"], "unknown dataset 'mnist-text'; available: 20newsgroups, reuters8"),
        (
            ["query", "{bundle}", "text", "--mode", "fuzzy"],
            "mode must be one of hybrid, semantic, lexical; got 'fuzzy'",
        ),
        (
            ["query", "{bundle}", "text", "--alpha", "1.5"],
            "alpha must be a weight in [0, 1] (1 = codes only, 0 = BM25 only); got 1.5",
        ),
        (["query", "{bundle}", "text", "--alpha", "-0.1"], "alpha must be a weight in [0, 1]"),
        (
            ["query", "{bundle}", "text", "--mode", "lexical", "--alpha", "0.5"],
            "it has nothing to weigh in lexical mode",
        ),
        (
            ["query", "{bundle}", "text", "--mode", "semantic", "--alpha", "0.5"],
            "it has nothing to weigh in semantic mode",
        ),
        (
            ["query", "{bundle}", "text", "--rerank", "20", "--alpha", "0.5"],
            "rerank re-orders the codes' candidates, so it implies semantic",
        ),
        (["query", "{bundle}", "text", "--mode", "hybrid", "--rerank", "20"], "it goes with mode semantic"),
        (
            ["query", "{bundle}", "--like", "doc-0-000", "--mode", "bm25"],
            "mode must be one of hybrid, semantic, lexical; got 'bm25'",
        ),
        (
            ["query", "{bundle}", "--file", "{queries}", "--mode", "lexical", "--alpha", "0.3"],
            "nothing to weigh in lexical mode",
        ),
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--alpha", "2"],
            "alpha must be a weight in [0, 1], or -1 to choose it at build; got 2.0",
        ),
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--bm25-k1", "-1"],
            "bm25 k1 must be a non-negative number; got -1.0",
        ),
        (["build", "{queries}", "--out", "{tmp}/o", "--bm25-b", "1.5"], "bm25 b must be a number in [0, 1]; got 1.5"),
        (
            ["build", "{queries}", "--out", "{tmp}/o", "--no-lexical", "--alpha", "0.5", "--bm25-b", "0.5"],
            "--no-lexical builds no BM25 index, so --alpha, --bm25-b would do nothing",
        ),
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


@pytest.mark.parametrize(
    "name", ["encoder.json", "encoder.npz", "index.faiss", "doc_ids.json", "metadata.jsonl", "vectorizer.json"]
)
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


# --- hybrid, semantic and lexical search ----------------------------------------------------------------


def _answer(*args) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_query_modes_in_json(cli_bundle, corpus):
    text = " ".join(corpus.texts[3].split()[:6])  # a short query: where BM25 has most to say
    hybrid = _answer("query", cli_bundle, text, "-k", "5", "--mode", "hybrid")
    assert hybrid == _answer("query", cli_bundle, text, "-k", "5")  # hybrid is the default
    assert hybrid["mode"] == "hybrid" and hybrid["known_terms"] > 0
    for hit in hybrid["hits"]:
        assert 0 <= hit["score"] <= 1 and isinstance(hit["semantic_score"], float) and hit["lexical_score"] >= 0
    assert [h["score"] for h in hybrid["hits"]] == sorted((h["score"] for h in hybrid["hits"]), reverse=True)
    lexical = _answer("query", cli_bundle, text, "-k", "5", "--mode", "lexical")
    assert lexical["mode"] == "lexical"
    assert all(h["semantic_score"] is None and h["lexical_score"] == h["score"] for h in lexical["hits"])
    library = TextIndex.load(cli_bundle).search(text, 5, mode="lexical")[0]
    assert [h["id"] for h in lexical["hits"]] == [hit.doc_id for hit in library]


def test_semantic_mode_is_the_codes_alone_as_before(cli_bundle, corpus):
    """--mode semantic answers as a query did before the lexical index: the codes' nearest neighbours."""
    index = TextIndex.load(cli_bundle)
    answer = _answer("query", cli_bundle, corpus.texts[3], "-k", "5", "--mode", "semantic")
    codes = index.search_codes(index.encoder_.encode(index.features([corpus.texts[3]])), 5)[0]
    assert answer["mode"] == "semantic"
    assert [(h["id"], h["score"]) for h in answer["hits"]] == [(hit.doc_id, round(hit.score, 6)) for hit in codes]
    assert all(h["semantic_score"] == h["score"] and h["lexical_score"] is None for h in answer["hits"])
    # --rerank implies semantic mode, as before
    assert _answer("query", cli_bundle, corpus.texts[3], "-k", "3", "--rerank", "20")["mode"] == "semantic"


def test_alpha_weighs_the_two_sides(cli_bundle, corpus):
    text = " ".join(corpus.texts[10].split()[:6])
    codes_only = _answer("query", cli_bundle, text, "-k", "5", "--alpha", "1")["hits"]
    bm25_only = _answer("query", cli_bundle, text, "-k", "5", "--mode", "hybrid", "--alpha", "0")["hits"]
    semantic = [h["semantic_score"] for h in codes_only]
    assert semantic == sorted(semantic, reverse=True)  # alpha 1: ranked by the codes
    bm25 = [h["lexical_score"] for h in bm25_only]
    assert bm25 == sorted(bm25, reverse=True)  # alpha 0: ranked by BM25
    assert [round(h["score"], 4) for h in bm25_only] == [round(b / bm25[0], 4) for b in bm25]  # min-max from 0
    library = TextIndex.load(cli_bundle).search(text, 5, alpha=0.4)[0]
    assert [h["id"] for h in _answer("query", cli_bundle, text, "-k", "5", "--alpha", "0.4")["hits"]] == [
        hit.doc_id for hit in library
    ]


def test_like_and_file_take_a_mode(cli_bundle, corpus, queries_file, queries):
    doc_id = corpus.doc_ids[0]
    for mode in ("hybrid", "semantic", "lexical"):
        answer = _answer("query", cli_bundle, "--like", doc_id, "-k", "4", "--mode", mode)
        assert answer["query"] == doc_id and answer["mode"] == mode and len(answer["hits"]) == 4
        assert doc_id not in [h["id"] for h in answer["hits"]]
        library = TextIndex.load(cli_bundle).similar_to(doc_id, 4, mode=mode)
        assert [h["id"] for h in answer["hits"]] == [hit.doc_id for hit in library]
    answer = _answer("query", cli_bundle, "--like", doc_id, "-k", "4", "--alpha", "0.2")
    assert answer["mode"] == "hybrid" and answer["hits"][0]["lexical_score"] is not None
    result = run("query", cli_bundle, "--file", queries_file, "-k", "2", "--mode", "lexical", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == queries.doc_ids and {line["mode"] for line in lines} == {"lexical"}


def test_the_table_names_the_mode(cli_bundle, corpus):
    text = " ".join(corpus.texts[3].split()[:6])
    hybrid = run("query", cli_bundle, text, "-k", "3").stdout
    assert "· hybrid search" in hybrid and "codes / bm25" in hybrid
    assert re.search(r"\d\.\d{3} / \d+\.\d{2}", hybrid)  # both sides' scores, compactly
    lexical = run("query", cli_bundle, text, "-k", "3", "--mode", "lexical").stdout
    assert "· lexical search" in lexical and "codes / bm25" not in lexical
    semantic = run("query", cli_bundle, "--like", corpus.doc_ids[0], "-k", "3", "--mode", "semantic").stdout
    assert "like doc-0-000 · semantic search" in semantic


def test_markup_in_a_query_or_a_snippet_is_shown_as_text(tmp_path, cli_bundle):
    target = tmp_path / "index"
    shutil.copytree(cli_bundle, target)
    (tmp_path / "new.jsonl").write_text(
        json.dumps({"id": "odd", "text": "[/bold] [red]aeword0 aeword0 afword1"}) + "\n"
    )
    assert run("add", target, tmp_path / "new.jsonl").exit_code == 0
    result = run("query", target, "[/b] aeword0 afword1", "-k", "3", "--mode", "lexical")
    assert (
        result.exit_code == 0 and "[/bold] [red]aeword0" in result.stdout and "'[/b] aeword0 afword1'" in result.stdout
    )


def test_bm25_flags_reach_the_manifest_and_info(tmp_path, corpus_file):
    out = tmp_path / "i"
    result = run(
        "build",
        corpus_file,
        "--out",
        out,
        *TINY[:-4],
        "--epochs",
        "1",
        "--bm25-k1",
        "1.5",
        "--bm25-b",
        "0.5",
        "--pair-weight",
        "0.3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    manifest = read_manifest(out)
    assert summary["lexical"]["k1"] == 1.5 and summary["fusion"]["chosen_by"] == manifest["fusion"]["chosen_by"]
    assert manifest["fusion"]["chosen_by"] != "set at build (--alpha)"  # chosen on the corpus
    assert manifest["config"]["lexical"] == {
        "enabled": True,
        "k1": 1.5,
        "b": 0.5,
        "alpha": -1,
        "depth": 100,
        "stemmer": "english",
        "pair_weight": 0.3,
    }
    lexical = manifest["lexical"]
    assert lexical["k1"] == 1.5 and lexical["b"] == 0.5 and lexical["pair_weight"] == 0.3
    assert 0 < lexical["pair_terms"] < lexical["terms"]
    info = " ".join(run("info", out).stdout.split())
    assert lexical["avgdl"] > 0
    assert (
        f"BM25 (k1 1.5, b 0.5, stemmer english, mean length {lexical['avgdl']:.1f} as built): "
        f"{lexical['terms']:,} terms, {lexical['postings']:,} postings" in info
    )
    assert f"word pairs │ weigh 0.3 beside a short query's words; {lexical['pair_terms']:,} of the terms" in info


def test_a_fixed_alpha_reaches_the_manifest_and_info(tmp_path, corpus_file):
    out = tmp_path / "i"
    result = run("build", corpus_file, "--out", out, *TINY[:-4], "--epochs", "1", "--alpha", "0.4", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["fusion"]["alpha_short"] == 0.4
    manifest = read_manifest(out)
    assert manifest["config"]["lexical"]["alpha"] == 0.4
    assert manifest["fusion"]["alpha_short"] == manifest["fusion"]["alpha_long"] == 0.4
    assert manifest["fusion"]["chosen_by"] == "set at build (--alpha)"
    info = " ".join(run("info", out).stdout.split())
    assert "codes weight 0.4 for short and long queries alike" in info and "set at build (--alpha)" in info


def test_info_shows_how_the_weights_were_chosen(cli_bundle):
    manifest = read_manifest(cli_bundle)
    assert manifest["config"]["lexical"]["alpha"] == -1 and isinstance(manifest["fusion"]["figures"], dict)
    info = " ".join(run("info", cli_bundle).stdout.split())
    how = " ".join(manifest["fusion"]["chosen_by"].split()[:3])  # the start: a long one wraps in the table
    assert "BM25 (k1 1.2, b 0.75, stemmer english, mean length" in info and f"weights chosen by │ {how}" in info
    assert "word pairs │ weigh 0.2 beside a short query's words" in info


def test_a_build_without_the_lexical_index(tmp_path, corpus_file, corpus):
    out = tmp_path / "i"
    result = run("build", corpus_file, "--out", out, *TINY[:-4], "--epochs", "1", "--no-lexical", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["lexical"] is None and json.loads(result.stdout)["fusion"] is None
    manifest = read_manifest(out)
    assert manifest["config"]["lexical"]["enabled"] is False and "lexical" not in manifest
    assert not any(name.startswith("lexical_") for name in manifest["files"])
    assert "none: built with --no-lexical" in " ".join(run("info", out).stdout.split())
    result = run("query", out, corpus.texts[0], "-k", "2", "--json")
    assert json.loads(result.stdout)["mode"] == "semantic" and "built with --no-lexical" in result.stderr
    result = run("query", out, corpus.texts[0], "--mode", "lexical")
    assert result.exit_code == 1 and "rebuild it without --no-lexical" in " ".join(result.stderr.split())


def test_an_old_bundle_answers_semantic_and_says_so_once(tmp_path, cli_bundle, corpus, queries_file):
    from bundles import old_bundle

    old = old_bundle(cli_bundle, tmp_path / "old")
    note = "built before the lexical (BM25) index existed, so it answers in semantic mode only"
    result = run("query", old, "--file", queries_file, "-k", "3", "--json")
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]  # stdout stays pure JSON
    assert len(lines) == 20 and {line["mode"] for line in lines} == {"semantic"}
    assert " ".join(result.stderr.split()).count(note) == 1
    # the answers are today's semantic ones, and asking for semantic mode needs no note
    semantic = run("query", cli_bundle, "--file", queries_file, "-k", "3", "--mode", "semantic", "--json")
    assert [json.loads(line) for line in semantic.stdout.splitlines()] == lines
    quiet = run("query", old, corpus.texts[0], "-k", "2", "--mode", "semantic")
    assert quiet.exit_code == 0 and note not in " ".join(quiet.stderr.split()) and "semantic search" in quiet.stdout
    for args in (["--mode", "hybrid"], ["--mode", "lexical"], ["--alpha", "0.5"]):
        result = run("query", old, corpus.texts[0], *args)
        assert result.exit_code == 1 and "rebuild it to enable hybrid and lexical search" in " ".join(
            result.stderr.split()
        )
    info = " ".join(run("info", old).stdout.split())
    assert note in info and "weights chosen by" not in info
