"""The build on Spark: train on the driver, encode on the executors, index from the Parquet shards.

``fit_with_spark`` gives the same index as ``TextIndex.fit`` on the same corpus and config:
the driver draws the same seeded sample and trains the same model (``train_on_sample``);
the executors run the exported numpy encoder that the single-machine build runs, so the
codes agree to float rounding (the rows are batched differently); the index is built from
the codes in corpus order by the same rule. The lexical (BM25) side is built on the driver
from one more pass over the corpus, checked document for document against the codes' ids,
and the fusion weights are chosen on the training sample as ``fit`` chooses them.
``index_from_codes`` is the last step alone: it reads the corpus for BM25 where it can.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory

from retrieval.code_index import stage_reporter
from retrieval.errors import CorpusError, RetrievalError
from retrieval.spark.model import CODES_DIR, FILES, MODEL_DIR, KerasFile, read_model, write_model
from retrieval.spark.session import DEFAULT_MASTER, require_pyarrow, require_spark, spark_session
from retrieval.spark.shards import read_shards, shard_files
from retrieval.text.index import TextIndex
from retrieval.text.lexical_build import CorpusMismatch, from_corpus
from retrieval.text.search import BUILT_WITHOUT
from retrieval.text.stream import CorpusSource, as_source, sample


def check_codes_dir(codes_dir) -> None:
    """A directory to write codes into must not hold a build's codes already."""
    codes_dir = Path(codes_dir)
    taken = [name for name in (MODEL_DIR, CODES_DIR) if (codes_dir / name).exists()]
    if taken:
        raise RetrievalError(
            f"{codes_dir} already holds a build's {' and '.join(name + '/' for name in taken)}; "
            "remove them or give another --codes-dir"
        )


def fit_with_spark(
    index: TextIndex,
    corpus,
    master: str = DEFAULT_MASTER,
    codes_dir=None,
    temp_dir=None,
    on_stage=None,
    on_epoch=None,
    on_progress=None,
) -> TextIndex:
    """Fit ``index`` on ``corpus`` with Spark encoding every document; as ``TextIndex.fit`` otherwise.

    Parameters
    ----------
    index : TextIndex
        Unfitted; its config says what to train.
    corpus : CorpusSource or path
        A JSONL file that the driver and every executor can read at the same path.
    master : str
        Spark's master URL (``local[*]``: every core of this machine).
    codes_dir : path, optional
        Where the model directory and the Parquet shards go, and stay. By default a temporary
        directory (in ``temp_dir``) that is removed afterwards.
    on_stage, on_epoch, on_progress : callable, optional
        As for ``TextIndex.fit``.
    """
    from retrieval.spark.jobs import check_format, encode, scan

    started = time.perf_counter()
    stage = stage_reporter(on_stage)
    source = as_source(corpus)
    if not isinstance(source, CorpusSource):
        raise RetrievalError("the Spark engine reads a corpus on disk (a JSONL file), not one in memory")
    check_format(source)
    require_spark()  # before training: a missing extra or Java fails in a second, not after the training
    if codes_dir is not None:
        check_codes_dir(codes_dir)
    _, _, n, plan = index.train_on_sample(source, on_stage, on_epoch, on_progress)
    keep = (
        nullcontext(codes_dir)
        if codes_dir is not None
        else TemporaryDirectory(prefix=".retrieval-codes-", dir=temp_dir)
    )
    with keep as work:
        work = Path(work)
        write_model(index, work / MODEL_DIR, n, source.report.to_dict(), source)
        model = read_model(work)  # the files the executors get, read back as `retrieval index` reads them
        with spark_session(master) as spark:
            stage("reading on Spark")
            found = scan(spark, source)
            stage("encoding on Spark")
            encode(spark, source, found, model, work / CODES_DIR)
        stage("indexing")
        codes, doc_ids, metadata, tfidf = read_shards(
            work / CODES_DIR, model.encoder.code_size, model.transform.n_features
        )
    if len(doc_ids) != n:
        raise RetrievalError(f"Spark encoded {len(doc_ids)} documents of the {n} in {source.path}; nothing was written")
    if index.config.lexical.enabled:
        stage("reading the corpus for BM25")
    lexical = from_corpus(index.config, source, doc_ids, on_progress)  # the same documents, or an error
    index.index_documents(codes, doc_ids, metadata, tfidf, plan, lexical)
    index.weigh(index.sample_, on_stage)
    index.corpus_report_ = found.report
    index.build_seconds_ = time.perf_counter() - started
    return index


def index_from_codes(codes_dir, index_options: dict | None = None, corpus=None, on_progress=None) -> TextIndex:
    """A TextIndex from ``CODES_DIR/model`` and the Parquet shards in ``CODES_DIR/codes``, ready to save.

    ``index_options`` are IndexConfig fields (``kind``, ``nlist``, ...; None keeps the model's
    config); they choose the FAISS index for the number of shard rows, as a build does. No Spark
    and no TensorFlow: the Keras encoder is copied into the bundle as a file.

    The lexical (BM25) side is built from ``corpus`` (a path), by default the corpus the model
    records when it is there and holds the shards' documents; its fusion weights are chosen on the
    training sample drawn from it again. ``corpus`` holding other documents than the shards is an
    error; the recorded corpus missing or changed leaves the index semantic only, with a
    ``load_note_`` saying why and how to give the corpus.
    """
    require_pyarrow("retrieval index")
    started = time.perf_counter()
    codes_dir = Path(codes_dir)
    if not codes_dir.is_dir():
        raise RetrievalError(f"no codes directory: {codes_dir} does not exist")
    model = read_model(codes_dir)
    config = model.config.override(index=index_options or {})
    if corpus is not None and not config.lexical.enabled:
        raise RetrievalError(
            "the model was built with --no-lexical, so a corpus would give nothing to index "
            "(--corpus builds the lexical side); leave out --corpus"
        )
    codes, doc_ids, metadata, tfidf = read_shards(
        codes_dir / CODES_DIR, model.encoder.code_size, model.transform.n_features
    )
    lexical, drawn, source, note = _lexical_side(model, config, doc_ids, corpus, codes_dir, on_progress)
    index = TextIndex(config)
    index.vectorizer_, index.transform_, index.encoder_ = model.vectorizer, model.transform, model.encoder
    index.history_ = model.record.get("history", {})
    index._keras = {"encoder": KerasFile(model.path / FILES["keras"])}
    # what the bundle's manifest carries: the versions that trained the model (not this process's,
    # which may lack TensorFlow), and the corpus report when the shards are that corpus's documents
    report = (
        source.report.to_dict()
        if source is not None
        else model.record.get("corpus")
        if model.record.get("documents") == len(doc_ids)
        else None
    )
    index.manifest_ = {
        "library_versions": model.record.get("library_versions", {}),
        **({"corpus": report} if report else {}),
        "codes": {"path": str(codes_dir), "shards": len(shard_files(codes_dir / CODES_DIR))},
    }
    index.index_documents(codes, doc_ids, metadata, tfidf, lexical=lexical)
    index.weigh(drawn, note=note)
    index.build_seconds_ = time.perf_counter() - started
    return index


def without_corpus(codes_dir, why: str) -> str:
    """The note of an index that ``retrieval index`` made without the codes' corpus."""
    return (
        f"this index was made by `retrieval index` without the corpus of its codes ({why}), so it answers in "
        f"semantic mode only; run `retrieval index {codes_dir} --corpus PATH` with that corpus to enable hybrid "
        "and lexical search"
    )


def _lexical_side(model, config, doc_ids, corpus, codes_dir, on_progress):
    """(the lexical index, the training sample to weigh it on, the source read, the note) of ``retrieval index``.

    ``corpus`` given: it must hold the shards' documents (errors propagate). Otherwise the recorded corpus, if
    it is there and holds them; if not, no lexical side and a note saying why.
    """
    from retrieval.runtime.analysis import Analyzer
    from retrieval.text.corpus import Fields

    if not config.lexical.enabled:
        return None, None, None, BUILT_WITHOUT
    recorded = model.record.get("corpus_source") or {}
    report = model.record.get("corpus") or {}
    fields = Fields(**recorded.get("fields", {}))
    analyzer = Analyzer(**model.record["analyzer"]) if model.record.get("analyzer") else None

    def read(source):
        lexical = from_corpus(config, source, doc_ids, on_progress, analyzer)
        drawn, _ = sample(source, config.train_sample, config.train.seed)  # the training sample, drawn again
        return lexical, drawn, source, None

    if corpus is not None:
        return read(CorpusSource(corpus, fields=fields))
    path = recorded.get("path") or report.get("path")
    if not path:
        why = "the model does not record where its corpus is"
    elif model.record.get("documents") != len(doc_ids):
        documents = int(model.record.get("documents") or 0)
        why = f"the codes hold {len(doc_ids):,} documents, not the {documents:,} of {path}"
    elif not Path(path).exists():
        why = f"its corpus {path} is not there"
    else:
        try:
            return read(CorpusSource(path, recorded.get("format") or report.get("format"), fields))
        except CorpusMismatch:
            why = f"its corpus {path} now holds other documents than the codes"
        except CorpusError as err:
            why = f"its corpus {path} cannot be read: {err}"
    return None, None, None, without_corpus(codes_dir, why)
