"""The Spark engine in local[2]: the same index as the single-machine build, and indexes from Parquet.

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
    assert [[hit.doc_id for hit in found] for found in spread.search(queries.texts, 10)] == hits
    assert spread.lexical_ is None  # the Spark engine builds no BM25 side yet: it answers in semantic mode
    assert len(list((codes_dir / "codes").glob("*.parquet"))) > 1  # the corpus was read in several splits


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
    broadcast = spark.sparkContext.broadcast(EncodePlan(source.fields, model.file_bytes("vectorizer"),
                                                        model.file_bytes("steps"), model.file_bytes("weights"),
                                                        found.dropped, found.first_position))

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
    expected = [[hit.doc_id for hit in found] for found in spread.search(queries.texts, 10)]
    assert [[hit.doc_id for hit in found] for found in loaded.search(queries.texts, 10)] == expected
    assert loaded.manifest_["library_versions"]["tensorflow"] == spread._trained_with()["tensorflow"]  # no TF here
    again = index_from_codes(directory, {"kind": "ivf", "nlist": 4})
    assert again.index_.plan.kind == "ivf" and len(again.index_) == len(spread.index_)


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


@pytest.mark.parametrize("case, match", [
    (dict(drop="code"), "column 'code' missing"),
    (dict(change=_wide), "codes must be 8 wide"),
    (dict(change=_repeat_id), "ids appear more than once.*'doc-0-000'"),
    (dict(change=_nulls), "column 'id' has 1 nulls"),
    (dict(model=False), "no model directory"),
    (dict(garbage=True), "shard-0.parquet: cannot read it as Parquet"),
], ids=["missing column", "wrong width", "repeated id", "null id", "no model", "not parquet"])
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
    script = ("import sys, json\nsys.argv = ['retrieval', 'index', %r, '--out', %r]\n"
              "from retrieval.cli.main import main\ntry:\n    main()\nexcept SystemExit as exit:\n"
              "    assert not exit.code, exit.code\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))") % (str(directory), str(tmp_path / "i"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert not loaded & (TRAINING_ONLY | {"pyspark"}), loaded & (TRAINING_ONLY | {"pyspark"})


def test_build_engine_spark_from_the_command_line(spark, irregular, both, tmp_path):
    from retrieval.text.index import TextIndex

    single, _, codes_dir = both
    out = tmp_path / "indexes" / "spark"
    args = ["build", irregular, "--out", out, *TINY_FLAGS, "--train-sample", SAMPLE, "--engine", "spark",
            "--spark-master", "local[2]", "--no-validate"]
    result = run_cli(*args)
    assert result.exit_code == 0, result.output + result.stderr
    built = TextIndex.load(out)
    assert list(built.index_.id_map.doc_ids) == list(single.index_.id_map.doc_ids)
    assert built.manifest_["corpus"]["duplicate_ids"] == 1 and built.manifest_["corpus"]["malformed"] == 3
    assert [p.name for p in (tmp_path / "indexes").iterdir()] == ["spark"]  # the temporary codes are gone
    result = run_cli(*args, "--codes-dir", codes_dir)  # codes there already: an error before any training
    assert result.exit_code == 1 and "already holds a build's model/ and codes/" in result.stderr, result.stderr
    result = run_cli("index", codes_dir, "--out", tmp_path / "again", "--max-index-memory", "1GB", "--json")  # kept codes
    assert result.exit_code == 0, result.output + result.stderr
    assert json.loads(result.stdout)["documents"] == len(single.index_)


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
