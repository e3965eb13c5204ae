"""The build on Spark: train on the driver, encode on the executors, index from the Parquet shards.

``fit_with_spark`` gives the same index as ``TextIndex.fit`` on the same corpus and config:
the driver draws the same seeded sample and trains the same model (``train_on_sample``);
the executors run the exported numpy encoder that the single-machine build runs, so the
codes agree to float rounding (the rows are batched differently); the index is built from
the codes in corpus order by the same rule. ``index_from_codes`` is the last step alone.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from tempfile import TemporaryDirectory

from retrieval.errors import RetrievalError
from retrieval.spark.model import CODES_DIR, FILES, MODEL_DIR, KerasFile, read_model, write_model
from retrieval.spark.session import DEFAULT_MASTER, require_pyarrow, require_spark, spark_session
from retrieval.spark.shards import read_shards, shard_files
from retrieval.text.index import TextIndex
from retrieval.text.stream import CorpusSource, as_source


def check_codes_dir(codes_dir) -> None:
    """A directory to write codes into must not hold a build's codes already."""
    codes_dir = Path(codes_dir)
    taken = [name for name in (MODEL_DIR, CODES_DIR) if (codes_dir / name).exists()]
    if taken:
        raise RetrievalError(f"{codes_dir} already holds a build's {' and '.join(name + '/' for name in taken)}; "
                             "remove them or give another --codes-dir")


def fit_with_spark(index: TextIndex, corpus, master: str = DEFAULT_MASTER, codes_dir=None, temp_dir=None,
                   on_stage=None, on_epoch=None, on_progress=None) -> TextIndex:
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
    stage = on_stage or (lambda name: None)
    source = as_source(corpus)
    if not isinstance(source, CorpusSource):
        raise RetrievalError("the Spark engine reads a corpus on disk (a JSONL file), not one in memory")
    check_format(source)
    require_spark()  # before training: a missing extra or Java fails in a second, not after the training
    if codes_dir is not None:
        check_codes_dir(codes_dir)
    _, _, n, plan = index.train_on_sample(source, on_stage, on_epoch, on_progress)
    keep = nullcontext(codes_dir) if codes_dir is not None else \
        TemporaryDirectory(prefix=".retrieval-codes-", dir=temp_dir)
    with keep as work:
        work = Path(work)
        write_model(index, work / MODEL_DIR, n, source.report.to_dict())
        model = read_model(work)  # the files the executors get, read back as `retrieval index` reads them
        with spark_session(master) as spark:
            stage("reading on Spark")
            found = scan(spark, source)
            stage("encoding on Spark")
            encode(spark, source, found, model, work / CODES_DIR)
        stage("indexing")
        codes, doc_ids, metadata, tfidf = read_shards(work / CODES_DIR, model.encoder.code_size,
                                                      model.transform.n_features)
    if len(doc_ids) != n:
        raise RetrievalError(f"Spark encoded {len(doc_ids)} documents of the {n} in {source.path}; nothing was written")
    index.index_documents(codes, doc_ids, metadata, tfidf, plan)
    index.corpus_report_ = found.report
    index.build_seconds_ = time.perf_counter() - started
    return index


def index_from_codes(codes_dir, index_options: dict | None = None) -> TextIndex:
    """A TextIndex from ``CODES_DIR/model`` and the Parquet shards in ``CODES_DIR/codes``, ready to save.

    ``index_options`` are IndexConfig fields (``kind``, ``nlist``, ...; None keeps the model's
    config); they choose the FAISS index for the number of shard rows, as a build does. No Spark
    and no TensorFlow: the Keras encoder is copied into the bundle as a file.
    """
    require_pyarrow("retrieval index")
    started = time.perf_counter()
    codes_dir = Path(codes_dir)
    if not codes_dir.is_dir():
        raise RetrievalError(f"no codes directory: {codes_dir} does not exist")
    model = read_model(codes_dir)
    config = model.config.override(index=index_options or {})
    codes, doc_ids, metadata, tfidf = read_shards(codes_dir / CODES_DIR, model.encoder.code_size,
                                                  model.transform.n_features)
    index = TextIndex(config)
    index.vectorizer_, index.transform_, index.encoder_ = model.vectorizer, model.transform, model.encoder
    index.history_ = model.record.get("history", {})
    index._keras = {"encoder": KerasFile(model.path / FILES["keras"])}
    # what the bundle's manifest carries: the versions that trained the model (not this process's,
    # which may lack TensorFlow), and the corpus report when the shards are that corpus's documents
    corpus = model.record.get("corpus") if model.record.get("documents") == len(doc_ids) else None
    index.manifest_ = {"library_versions": model.record.get("library_versions", {}),
                       **({"corpus": corpus} if corpus else {}),
                       "codes": {"path": str(codes_dir), "shards": len(shard_files(codes_dir / CODES_DIR))}}
    index.index_documents(codes, doc_ids, metadata, tfidf)
    index.build_seconds_ = time.perf_counter() - started
    return index
