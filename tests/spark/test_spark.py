"""The Spark engine in local[2]: the same index as the single-machine build (its lexical side and fusion
weights included), and indexes from Parquet (with the lexical side built from the corpus where it is given or recorded).

Needs the spark extra (pyspark, pyarrow) and Java: skipped without them, but failed when ``CI``
is set (CI must run them). The corpus is read in 4 KB splits (lines cross their boundaries) and
Arrow batches of 7 lines.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CONFIG, TINY_FLAGS, run_cli, write_jsonl

TRAINING_ONLY = {"tensorflow", "keras", "sklearn"}
SAMPLE = 60  # fewer than the corpus: the executors encode documents the model never saw


def _spark_missing() -> str | None:
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        return "the Spark tests need the spark extra (pip install -e '.[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        return "the Spark tests need Java 17 or later (Debian: apt-get install default-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark():  # module scope: Spark stops before the other test modules run
    reason = _spark_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Spark tests: {reason}")
        pytest.skip(reason)
    from retrieval.spark.session import spark_session

    with spark_session("local[2]") as session:
        session.conf.set("spark.sql.files.maxPartitionBytes", "4096")  # many splits of a small file
        session.conf.set("spark.sql.files.openCostInBytes", "0")
        session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")  # and many batches in a split
        yield session


def write_irregular(path: Path, corpus) -> Path:
    """The corpus as JSONL with every irregularity the reader handles, between its documents."""

    def record(doc_id, text, **more) -> bytes:
        return json.dumps({"id": doc_id, "text": text, **more}).encode()

    lines = []
    for i, (doc_id, text, title, label) in enumerate(zip(corpus.doc_ids, corpus.texts, corpus.titles, corpus.labels)):
        lines.append(record(doc_id, text, title=title, label=label) + (b"\r" if i % 7 == 3 else b""))
        extra = {
            3: [b"", b"   "],  # blank lines
            5: [b"{not json", b"[1, 2]", record("no-text", None)],  # malformed
            9: [record(corpus.doc_ids[2], "a later text under an id seen before")],  # repeated id
            11: [record("late", "   ")],  # blank text: empty, and the id is not yet taken...
            13: [record("late", corpus.texts[13], label="topic0")],  # ...so this one is kept
            15: [b'{"id": 42, "text": "caf\xe9 ' + corpus.texts[15].encode() + b'"}'],  # not UTF-8; a numeric id
            17: [b"\xef\xbb\xbf" + record("bom", corpus.texts[17], title="")],  # a byte-order mark, an empty title
            19: [b'{"id": "cr",\r"text": "' + corpus.texts[19].encode() + b'"}'],  # a lone \r between tokens
        }.get(i, [])
        lines.extend(extra)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture(scope="module")
def irregular(tmp_path_factory, corpus):
    return write_irregular(tmp_path_factory.mktemp("spark") / "corpus.jsonl", corpus)


@pytest.fixture(scope="module")
def both(spark, irregular, tmp_path_factory):
    """The single-machine build and the Spark build of the same corpus and config, and the codes directory."""
    from retrieval.spark.build import fit_with_spark
    from retrieval.text.index import TextIndex
    from retrieval.text.stream import CorpusSource

    config = dataclasses.replace(TINY_CONFIG, train_sample=SAMPLE)
    codes_dir = tmp_path_factory.mktemp("codes") / "run"
    single = TextIndex(config).fit(CorpusSource(irregular))
    spread = fit_with_spark(TextIndex(config), CorpusSource(irregular), "local[2]", codes_dir=codes_dir)
    return single, spread, codes_dir


def assert_same_lexical(index, single) -> None:
    """``index`` has the lexical side of the single-machine build ``single``: the same arrays, exactly, and
    the same fusion weights, chosen on the same figures."""
    assert index.lexical_ is not None and index.load_note_ is None
    ours, theirs = index.lexical_.arrays(), single.lexical_.arrays()
    assert ours.keys() == theirs.keys()
    for part, array in theirs.items():
        assert ours[part].dtype == array.dtype and np.array_equal(ours[part], array), part
    assert (index.lexical_.k1, index.lexical_.b, index.lexical_.pair_weight) == (
        single.lexical_.k1,
        single.lexical_.b,
        single.lexical_.pair_weight,
    )
    assert index.lexical_.analyzer.to_dict() == single.lexical_.analyzer.to_dict()
    assert index.fusion_ == single.fusion_
    figures = getattr(index, "fusion_figures_", None)
    if figures is None:  # a loaded index: the figures its build recorded
        figures = index.manifest_["fusion"]["figures"]
    assert figures == single.fusion_figures_


def assert_same_answers(index, single, queries) -> None:
    """The same hits in hybrid and lexical mode, for texts and for indexed documents (lexical scores exactly)."""
    for mode in ("hybrid", "lexical"):
        ours, theirs = index.search(queries.texts, 10, mode=mode), single.search(queries.texts, 10, mode=mode)
        assert [[hit.doc_id for hit in found] for found in ours] == [[hit.doc_id for hit in found] for found in theirs]
        assert [found.mode for found in ours] == [mode] * len(ours)
        if mode == "lexical":
            scores = [[hit.score for hit in found] for found in theirs]
            assert [[hit.score for hit in found] for found in ours] == scores
        doc_id = single.index_.id_map.doc_ids[3]
        assert [hit.doc_id for hit in index.similar_to(doc_id, 5, mode=mode)] == [
            hit.doc_id for hit in single.similar_to(doc_id, 5, mode=mode)
        ]


def test_the_spark_build_is_the_single_machine_build(both, queries):
    single, spread, codes_dir = both
    assert list(spread.index_.id_map.doc_ids) == list(single.index_.id_map.doc_ids)
    assert {"late", "42", "bom", "cr"} <= set(single.index_.id_map.doc_ids)
    np.testing.assert_allclose(spread.index_.stored(), single.index_.stored(), atol=1e-5)
    assert spread.metadata_ == single.metadata_
    assert (spread.tfidf_ != single.tfidf_).nnz == 0
    for name in ("documents", "empty", "duplicate_ids", "malformed", "not_utf8"):
        assert getattr(spread.corpus_report_, name) == getattr(single.corpus_report_, name), name
    assert single.corpus_report_.malformed and single.corpus_report_.duplicate_ids and single.corpus_report_.empty
    assert single.corpus_report_.not_utf8 == ["42"]
    hits = [[hit.doc_id for hit in found] for found in single.search(queries.texts, 10, mode="semantic")]
    assert [[hit.doc_id for hit in found] for found in spread.search(queries.texts, 10, mode="semantic")] == hits
    assert_same_lexical(spread, single)  # the driver read the corpus again for BM25, and weighed it as fit does
    assert_same_answers(spread, single, queries)
    assert spread.search(queries.texts[:1], 10)[0].mode == "hybrid"  # the default, as for a local build
    assert len(list((codes_dir / "codes").glob("*.parquet"))) > 1  # the corpus was read in several splits
    record = json.loads((codes_dir / "model" / "model.json").read_text())
    assert Path(record["corpus_source"]["path"]).is_absolute() and record["analyzer"]["stemmer"] == "english"


def test_the_pass_for_bm25_checks_the_documents(both, irregular):
    """The driver's pass for BM25 must find the documents the codes hold, in their order."""
    from retrieval.errors import RetrievalError
    from retrieval.text.lexical_build import from_corpus
    from retrieval.text.stream import CorpusSource

    single, _, _ = both
    doc_ids = list(single.index_.id_map.doc_ids)
    with pytest.raises(
        RetrievalError,
        match=r"its document 1 is 'doc-0-000' where the codes have 'doc-0-001'; "
        r"the codes have 'doc-0-000' as their document 2; nothing was written",
    ):
        from_corpus(single.config, CorpusSource(irregular), [doc_ids[1], doc_ids[0], *doc_ids[2:]])
    with pytest.raises(RetrievalError, match=r"holds more than the 3 documents of the codes \(its document 4 is"):
        from_corpus(single.config, CorpusSource(irregular), doc_ids[:3])
    with pytest.raises(RetrievalError, match=r"holds 104 documents and the codes 105 \(the next indexed id is 'extra'"):
        from_corpus(single.config, CorpusSource(irregular), [*doc_ids, "extra"])
    off = dataclasses.replace(single.config, lexical=dataclasses.replace(single.config.lexical, enabled=False))
    assert from_corpus(off, "not read at all", doc_ids) is None


def test_the_executors_never_import_tensorflow(spark, both, irregular):
    from retrieval.spark.executor import EncodePlan, encode_partition
    from retrieval.spark.jobs import corpus_lines, scan
    from retrieval.spark.model import read_model
    from retrieval.text.stream import CorpusSource

    single, _, codes_dir = both
    source = CorpusSource(irregular)
    for _ in source.documents():  # the driver's pass, which the scan is checked against
        pass
    found, model = scan(spark, source), read_model(codes_dir)
    broadcast = spark.sparkContext.broadcast(
        EncodePlan(
            source.fields,
            model.file_bytes("vectorizer"),
            model.file_bytes("steps"),
            model.file_bytes("weights"),
            found.dropped,
            found.first_position,
        )
    )

    def probe(batches):
        import os
        import sys

        import pyarrow as pa

        encoded = sum(batch.num_rows for batch in encode_partition(batches, broadcast))
        loaded = sorted({name.split(".")[0] for name in sys.modules} & {"tensorflow", "keras", "sklearn"})
        yield pa.RecordBatch.from_pydict({"pid": [os.getpid()], "encoded": [encoded], "loaded": [",".join(loaded)]})

    rows = corpus_lines(spark, irregular).mapInArrow(probe, "pid long, encoded long, loaded string").collect()
    assert sum(row.encoded for row in rows) == len(single.index_)
    assert all(row.pid != os.getpid() for row in rows)  # Python workers, not this process (which has TensorFlow)
    assert all(row.loaded == "" for row in rows), [row.loaded for row in rows]


def _write_shards(directory: Path, index, order, shards: int = 2, drop: str | None = None, change=None):
    """The index's documents as Parquet written with pyarrow, ``shards`` files, rows in ``order``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    codes, X = index.index_.stored(), index.tfidf_
    directory.mkdir(parents=True)
    for number, rows in enumerate(np.array_split(np.asarray(order), shards)):
        columns = {
            "position": pa.array(rows, pa.int64()),
            "id": pa.array([index.index_.id_map.doc_ids[i] for i in rows]),
            "code": pa.array([codes[i].tolist() for i in rows], pa.list_(pa.float32())),
            "title": pa.array([index.metadata_[i]["title"] for i in rows]),
            "label": pa.array([index.metadata_[i]["label"] for i in rows], pa.string()),
            "tfidf_indices": pa.array([X[i].indices.tolist() for i in rows], pa.list_(pa.int32())),
            "tfidf_values": pa.array([X[i].data.tolist() for i in rows], pa.list_(pa.float32())),
        }
        columns.pop(drop, None)
        if change is not None:
            change(columns, number)
        pq.write_table(pa.table(columns), directory / f"shard-{number}.parquet")


@pytest.fixture
def elsewhere(both, tmp_path):
    """A codes directory: the Spark build's model, and shards written directly with pyarrow, shuffled."""
    _, spread, codes_dir = both
    directory = tmp_path / "elsewhere"
    shutil.copytree(codes_dir / "model", directory / "model")
    order = np.random.default_rng(0).permutation(len(spread.index_))
    return directory, order


def test_index_reads_parquet_made_elsewhere(both, elsewhere, queries, tmp_path):
    from retrieval.spark.build import index_from_codes
    from retrieval.text.index import TextIndex

    _, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, order, shards=3)
    result = run_cli("index", directory, "--out", tmp_path / "index", "--index", "flat")
    assert result.exit_code == 0, result.output + result.stderr
    loaded = TextIndex.load(tmp_path / "index")
    assert list(loaded.index_.id_map.doc_ids) == list(spread.index_.id_map.doc_ids)
    np.testing.assert_allclose(loaded.index_.stored(), spread.index_.stored(), atol=1e-6)  # normalised twice
    assert [m["snippet"] for m in loaded.metadata_] == [""] * len(loaded.metadata_)  # no snippet column: none shown
    expected = [[hit.doc_id for hit in found] for found in spread.search(queries.texts, 10, mode="semantic")]
    assert [[hit.doc_id for hit in found] for found in loaded.search(queries.texts, 10, mode="semantic")] == expected
    assert loaded.manifest_["library_versions"]["tensorflow"] == spread._trained_with()["tensorflow"]  # no TF here
    single = both[0]  # the model records its corpus, still there: the lexical side is read from it
    assert_same_lexical(loaded, single)
    assert_same_answers(loaded, single, queries)
    again = index_from_codes(directory, {"kind": "ivf", "nlist": 4})
    assert again.index_.plan.kind == "ivf" and len(again.index_) == len(spread.index_)
    assert again.lexical_ is not None and again.fusion_ == single.fusion_


def _record_corpus_at(directory: Path, path) -> None:
    """Make the model directory say that its corpus is at ``path``."""
    record_path = directory / "model" / "model.json"
    record = json.loads(record_path.read_text())
    record["corpus_source"]["path"] = str(path)
    record_path.write_text(json.dumps(record))


def test_index_with_the_corpus_elsewhere(both, elsewhere, irregular, queries, tmp_path):
    from retrieval.errors import RetrievalError
    from retrieval.spark.build import index_from_codes
    from retrieval.text.index import TextIndex

    single, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, order)
    _record_corpus_at(directory, tmp_path / "gone.jsonl")  # the corpus the model records is not there
    result = run_cli("index", directory, "--out", tmp_path / "semantic")
    assert result.exit_code == 0, result.output + result.stderr
    assert "no lexical side" in result.stdout
    stderr = " ".join(result.stderr.split())
    assert "gone.jsonl is not there" in stderr and f"retrieval index {directory} --corpus PATH" in stderr
    loaded = TextIndex.load(tmp_path / "semantic")  # semantic only, as before, and the note says how to get hybrid
    assert loaded.lexical_ is None and "--corpus PATH" in loaded.load_note_
    assert loaded.search(queries.texts[:1], 10)[0].mode == "semantic"
    with pytest.raises(RetrievalError, match="without the corpus of its codes .*--corpus PATH"):
        loaded.search(queries.texts[:1], 10, mode="hybrid")
    assert "--corpus PATH" in " ".join(run_cli("info", tmp_path / "semantic").stdout.split())

    moved = shutil.copy(irregular, tmp_path / "moved.jsonl")  # the same corpus at another path
    result = run_cli("index", directory, "--out", tmp_path / "hybrid", "--corpus", moved, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(result.stdout)
    assert summary["lexical"]["terms"] == single.lexical_.n_terms and summary["lexical_note"] is None
    loaded = TextIndex.load(tmp_path / "hybrid")
    assert_same_lexical(loaded, single)
    assert_same_answers(loaded, single, queries)
    assert loaded.manifest_["corpus"]["path"] == str(moved) and loaded.manifest_["corpus"]["malformed"] == 3

    _record_corpus_at(directory, moved)  # recorded, and there: no --corpus needed
    assert_same_lexical(index_from_codes(directory), single)


def _shuffled(corpus):
    order = np.random.default_rng(3).permutation(len(corpus))
    return dataclasses.replace(
        corpus,
        doc_ids=[corpus.doc_ids[i] for i in order],
        texts=[corpus.texts[i] for i in order],
        titles=[corpus.titles[i] for i in order],
        labels=[corpus.labels[i] for i in order],
    )


def _renamed(corpus):
    return dataclasses.replace(corpus, doc_ids=[*corpus.doc_ids[:5], "stranger", *corpus.doc_ids[6:]])


@pytest.mark.parametrize(
    "change, match",
    [
        (
            lambda corpus: corpus,
            r"its document 15 is 'doc-0-014' where the codes have 'late'; the codes have "
            r"'doc-0-014' as their document 16",
        ),  # without the irregular corpus's extra documents
        (
            _shuffled,
            r"does not hold the documents of the codes, in their order: its document 1 is '.*' where the codes "
            r"have 'doc-0-000'; the codes have '.*' as their document",
        ),
        (
            _renamed,
            r"its document 6 is 'stranger' where the codes have 'doc-0-005'; it holds ids the codes do not "
            r"have \(e.g. 'stranger'\)",
        ),
    ],
    ids=["missing documents", "another order", "another id"],
)
def test_index_refuses_a_corpus_of_other_documents(both, elsewhere, corpus, tmp_path, change, match):
    from retrieval.errors import RetrievalError
    from retrieval.spark.build import index_from_codes

    _, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, order)
    other = tmp_path / "other.jsonl"
    write_jsonl(other, change(corpus))
    with pytest.raises(RetrievalError, match=match):
        index_from_codes(directory, corpus=other)
    result = run_cli("index", directory, "--out", tmp_path / "index", "--corpus", other)
    assert result.exit_code == 1 and "error:" in result.stderr, result.output + result.stderr
    assert "nothing was written" in " ".join(result.stderr.split())
    assert not (tmp_path / "index").exists()
    _record_corpus_at(directory, other)  # the recorded corpus changed since: semantic only, with a note
    index = index_from_codes(directory)
    assert index.lexical_ is None and "now holds other documents than the codes" in index.load_note_


def test_index_of_some_of_the_documents(both, elsewhere, irregular, tmp_path):
    """Codes of part of the corpus: the recorded corpus is not theirs (semantic only); given, it is an error."""
    from retrieval.errors import RetrievalError
    from retrieval.spark.build import index_from_codes

    _, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, np.sort(order[:50]))
    index = index_from_codes(directory)
    assert index.lexical_ is None and len(index.index_) == 50
    assert "the codes hold 50 documents, not the 104 of" in index.load_note_ and "--corpus PATH" in index.load_note_
    with pytest.raises(RetrievalError, match="does not hold the documents of the codes"):
        index_from_codes(directory, corpus=irregular)


def test_index_of_a_model_without_a_lexical_side(both, elsewhere, irregular, tmp_path):
    from retrieval.errors import RetrievalError
    from retrieval.spark.build import index_from_codes
    from retrieval.text.search import BUILT_WITHOUT

    _, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, order)
    record_path = directory / "model" / "model.json"
    record = json.loads(record_path.read_text())
    record["config"]["lexical"]["enabled"] = False
    record_path.write_text(json.dumps(record))
    index = index_from_codes(directory)
    assert index.lexical_ is None and index.load_note_ == BUILT_WITHOUT
    with pytest.raises(RetrievalError, match="built with --no-lexical.*leave out --corpus"):
        index_from_codes(directory, corpus=irregular)


def _nulls(columns, number):
    import pyarrow as pa

    if number == 1:
        ids = columns["id"].to_pylist()
        columns["id"] = pa.array([None] + ids[1:], pa.string())


def _repeat_id(columns, number):
    import pyarrow as pa

    if number == 1:
        columns["id"] = pa.array(["doc-0-000"] + columns["id"].to_pylist()[1:])


def _wide(columns, number):
    import pyarrow as pa

    columns["code"] = pa.array([row + [0.0] for row in columns["code"].to_pylist()], pa.list_(pa.float32()))


@pytest.mark.parametrize(
    "case, match",
    [
        (dict(drop="code"), "column 'code' missing"),
        (dict(change=_wide), "codes must be 8 wide"),
        (dict(change=_repeat_id), "ids appear more than once.*'doc-0-000'"),
        (dict(change=_nulls), "column 'id' has 1 nulls"),
        (dict(model=False), "no model directory"),
        (dict(garbage=True), "shard-0.parquet: cannot read it as Parquet"),
    ],
    ids=["missing column", "wrong width", "repeated id", "null id", "no model", "not parquet"],
)
def test_index_rejects_bad_parquet(both, elsewhere, tmp_path, case, match):
    from retrieval.errors import RetrievalError
    from retrieval.spark.build import index_from_codes

    _, spread, _ = both
    directory, order = elsewhere
    if case.pop("model", True) is False:
        shutil.rmtree(directory / "model")
    garbage = case.pop("garbage", False)
    _write_shards(directory / "codes", spread, order, **case)
    if garbage:
        (directory / "codes" / "shard-0.parquet").write_bytes(b"not a Parquet file")
    with pytest.raises(RetrievalError, match=match):
        index_from_codes(directory)
    result = run_cli("index", directory, "--out", tmp_path / "index")
    assert result.exit_code == 1 and "error:" in result.stderr, result.output + result.stderr
    assert not (tmp_path / "index").exists()


def test_indexing_codes_imports_neither_tensorflow_nor_spark(both, elsewhere, tmp_path):
    _, spread, _ = both
    directory, order = elsewhere
    _write_shards(directory / "codes", spread, order)
    script = (
        "import sys, json\nsys.argv = ['retrieval', 'index', %r, '--out', %r]\n"
        "from retrieval.cli.main import main\ntry:\n    main()\nexcept SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    ) % (str(directory), str(tmp_path / "i"))
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & (TRAINING_ONLY | {"pyspark"}), loaded & (TRAINING_ONLY | {"pyspark"})
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text())
    assert manifest["lexical"]["terms"] and manifest["fusion"]  # BM25 built and weighed, without scikit-learn


def test_build_engine_spark_from_the_command_line(spark, irregular, both, tmp_path):
    from retrieval.text.index import TextIndex

    single, _, codes_dir = both
    out = tmp_path / "indexes" / "spark"
    args = [
        "build",
        irregular,
        "--out",
        out,
        *TINY_FLAGS,
        "--train-sample",
        SAMPLE,
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
        "--no-validate",
    ]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output + result.stderr
    built = TextIndex.load(out)
    assert list(built.index_.id_map.doc_ids) == list(single.index_.id_map.doc_ids)
    assert built.manifest_["corpus"]["duplicate_ids"] == 1 and built.manifest_["corpus"]["malformed"] == 3
    assert [p.name for p in (tmp_path / "indexes").iterdir()] == ["spark"]  # the temporary codes are gone
    result = run_cli(*args, "--codes-dir", codes_dir)  # codes there already: an error before any training
    assert result.exit_code == 1 and "already holds a build's model/ and codes/" in result.stderr, result.stderr
    assert built.manifest_["lexical"] == single.manifest_body()["lexical"] and built.fusion_ == single.fusion_
    result = run_cli(
        "index", codes_dir, "--out", tmp_path / "again", "--max-index-memory", "1GB", "--json"
    )  # kept codes
    assert result.exit_code == 0, result.output + result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents"] == len(single.index_) and summary["lexical"]["terms"] == single.lexical_.n_terms


def test_engine_errors(tmp_path, corpus, monkeypatch):
    path = tmp_path / "corpus.csv"
    path.write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in zip(corpus.doc_ids, corpus.texts)))
    result = run_cli("build", path, "--out", tmp_path / "x", "--engine", "spark")
    assert result.exit_code == 1 and "reads JSONL corpora" in result.stderr, result.stderr
    result = run_cli("build", path, "--out", tmp_path / "x", "--codes-dir", tmp_path / "c")
    assert result.exit_code == 1 and "apply to --engine spark" in result.stderr, result.stderr
    result = run_cli("build", path, "--out", tmp_path / "x", "--engine", "dask")
    assert result.exit_code == 1 and "unknown engine 'dask'" in result.stderr, result.stderr
    from retrieval.errors import RetrievalError
    from retrieval.spark.session import require_spark

    installed = _spark_missing() is None
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the extra were not installed
    with pytest.raises(RetrievalError, match=r"needs the spark extra: pip install 'retrieval\[spark\]'"):
        require_spark()
    write_jsonl(tmp_path / "corpus.jsonl", corpus)
    result = run_cli("build", tmp_path / "corpus.jsonl", "--out", tmp_path / "x", "--engine", "spark")
    assert result.exit_code == 1 and "--engine spark needs the spark extra" in result.stderr, result.stderr
    if installed:  # and as if Java were not
        monkeypatch.delitem(sys.modules, "pyspark")
        monkeypatch.setenv("PATH", str(tmp_path))
        monkeypatch.delenv("JAVA_HOME", raising=False)
        with pytest.raises(RetrievalError, match="needs Java 17 or later"):
            require_spark()
