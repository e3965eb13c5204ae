"""The ``retrieval`` command: thin wrappers that parse options, call the library, print."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from indexing.lock import writer_lock
from retrieval.cli.common import (
    BatchSizeOpt,
    BetaOpt,
    CheckpointOpt,
    CodeActivationOpt,
    CodeSizeOpt,
    ContractiveOpt,
    EarlyStoppingOpt,
    EpochsOpt,
    JsonOpt,
    KindOpt,
    LearningRateOpt,
    LrScheduleOpt,
    MetricOpt,
    OptimizerOpt,
    ReduceLrOpt,
    SeedOpt,
    SparseKlOpt,
    SparseL1Opt,
    SparseTargetOpt,
    StackedOpt,
    ValidationOpt,
    WaitOpt,
    kind_options,
    memory_mb,
    report_kinds,
    train_options,
    user_errors,
)
from retrieval.cli.config import config_app
from retrieval.cli.data import data_app, demo_app
from retrieval.cli.images import images_app
from retrieval.cli.querying import AlphaOpt, ModeOpt
from retrieval.cli.serve import serve
from retrieval.cli.spark import CodesOpt, EngineOpt, SparkMasterOpt, check_engine, fit_index, index_codes
from retrieval.errors import RetrievalError

app = typer.Typer(
    rich_markup_mode=None,  # plain help: a default in brackets, [english], is text, not a style tag
    help="Semantic document search with deep autoencoders: TF-IDF -> autoencoder codes -> FAISS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(images_app, name="images")
app.add_typer(demo_app, name="demo")
app.add_typer(config_app, name="config")
app.command()(serve)
app.command("index")(index_codes)


def _split_ints(value: str, name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise RetrievalError(f"{name} must be comma-separated whole numbers like 500,250,125; got {value!r}") from None


def _file_config(path: Path | None):
    """The BuildConfig of the TOML file at ``path`` (the defaults where it is silent, or with no file)."""
    from retrieval.config import BuildConfig
    from retrieval.config.toml import read_toml

    if path is None:
        return BuildConfig()
    settings = read_toml(path, BuildConfig)
    sections = {name: value for name, value in settings.items() if isinstance(value, dict)}
    config = BuildConfig().override(metric=settings.get("metric"), **sections)
    tops = {name: value for name, value in settings.items() if not isinstance(value, dict) and name != "metric"}
    return dataclasses.replace(config, **tops) if tops else config


def _code_flags(codes, bits, code_size):
    """--bits N means binary codes of N bits; it cannot disagree with --codes or --code-size."""
    if bits is None:
        return codes, code_size
    if bits <= 0 or bits % 8:
        raise RetrievalError(f"--bits must be a positive multiple of 8 such as 32, 64 or 128; got {bits}")
    if codes == "float":
        raise RetrievalError("--bits applies to binary codes; drop --codes float or --bits")
    if code_size is not None and code_size != bits:
        raise RetrievalError(f"--bits {bits} and --code-size {code_size} disagree; give one of them")
    return "binary", bits


def _lexical_options(enabled, alpha, k1, b, stemmer=None, pair_weight=None) -> dict:
    """The LexicalConfig fields that the build's flags set; --no-lexical leaves nothing for the others to set."""
    if enabled is False:
        given = [
            name
            for name, value in (
                ("--alpha", alpha),
                ("--bm25-k1", k1),
                ("--bm25-b", b),
                ("--stemmer", stemmer),
                ("--pair-weight", pair_weight),
            )
            if value is not None
        ]
        if given:
            raise RetrievalError(f"--no-lexical builds no BM25 index, so {', '.join(given)} would do nothing; drop one")
    return dict(enabled=enabled, alpha=alpha, k1=k1, b=b, stemmer=stemmer, pair_weight=pair_weight)


def _code_words(summary: dict) -> str:
    size = summary["code_size"]
    return f"{size}-bit codes ({size // 8} bytes each)" if summary["metric"] == "hamming" else f"{size}-d codes"


RerankOpt = Annotated[
    int, typer.Option(help="Re-rank the codes' first N candidates (at least k) by TF-IDF cosine (0 = off).")
]
NprobeOpt = Annotated[
    Optional[int], typer.Option(help="IVF lists scanned per query (more: slower, closer to exact) [chosen at build].")
]
EfSearchOpt = Annotated[
    Optional[int], typer.Option(help="HNSW candidates kept per query (more: slower, closer to exact) [64].")
]


def _read(path: Path, fmt, id_field="id", text_field="text", label_field="label", title_field="title"):
    from retrieval.data.datasets import missing_hint
    from retrieval.text.corpus import CorpusError, Fields, read_corpus

    try:
        return read_corpus(path, fmt, Fields(id=id_field, text=text_field, label=label_field, title=title_field))
    except CorpusError as error:
        raise CorpusError(f"{error}{missing_hint(path)}") from None


def _source(path: Path, fmt, id_field="id", text_field="text", label_field="label", title_field="title"):
    """The corpus at ``path`` as a stream (read during the build, not before)."""
    from retrieval.data.datasets import missing_hint
    from retrieval.text.corpus import CorpusError, Fields
    from retrieval.text.stream import CorpusSource

    try:
        return CorpusSource(path, fmt, Fields(id=id_field, text=text_field, label=label_field, title=title_field))
    except CorpusError as error:
        raise CorpusError(f"{error}{missing_hint(path)}") from None


IdField = Annotated[str, typer.Option(help="Field/column holding the document id.")]
TextField = Annotated[str, typer.Option(help="Field/column holding the text.")]
LabelField = Annotated[str, typer.Option(help="Field/column holding the label (optional in the data).")]
TitleField = Annotated[str, typer.Option(help="Field/column holding the title (optional in the data).")]
FormatOpt = Annotated[Optional[str], typer.Option("--format", help="dir, jsonl, csv or tsv (default: from the path).")]


@app.command()
@user_errors
def build(
    corpus: Annotated[Path, typer.Argument(help="A directory of .txt/.md files, or a .jsonl, .csv or .tsv file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the index to (replaced atomically).")],
    fmt: FormatOpt = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    label_field: LabelField = "label",
    title_field: TitleField = "title",
    code_size: CodeSizeOpt = None,
    hidden: Annotated[Optional[str], typer.Option(help="Encoder widths, comma-separated [500,250,125].")] = None,
    activation: Annotated[
        Optional[str],
        typer.Option(help="Hidden-layer activation: relu, elu, selu, gelu, tanh, sigmoid, linear [relu]."),
    ] = None,
    kind: KindOpt = None,
    sparse_l1: SparseL1Opt = None,
    sparse_kl: SparseKlOpt = None,
    sparse_target: SparseTargetOpt = None,
    contractive_weight: ContractiveOpt = None,
    beta: BetaOpt = None,
    code_activation: CodeActivationOpt = None,
    output: Annotated[
        Optional[str], typer.Option(help="Output activation: softmax, sigmoid or linear [softmax].")
    ] = None,
    loss: Annotated[
        Optional[str],
        typer.Option(help="categorical_crossentropy, binary_crossentropy, mse or cosine (must suit --output)."),
    ] = None,
    input_dropout: Annotated[Optional[float], typer.Option(help="Fraction of input masked in training [0.7].")] = None,
    epochs: EpochsOpt = None,
    batch_size: BatchSizeOpt = None,
    learning_rate: LearningRateOpt = None,
    optimizer: OptimizerOpt = None,
    lr_schedule: LrScheduleOpt = None,
    validation_fraction: ValidationOpt = None,
    early_stopping: EarlyStoppingOpt = None,
    reduce_lr: ReduceLrOpt = None,
    checkpoint: CheckpointOpt = None,
    seed: SeedOpt = None,
    stacked: StackedOpt = None,
    max_features: Annotated[Optional[int], typer.Option(help="Vocabulary size [10000].")] = None,
    min_df: Annotated[
        Optional[int], typer.Option(help="Drop terms in fewer documents [2, at most a tenth of the corpus].")
    ] = None,
    max_df: Annotated[
        Optional[float], typer.Option(help="Drop terms in more than this fraction of documents [0.5].")
    ] = None,
    stop_words: Annotated[Optional[str], typer.Option(help="english or none [english].")] = None,
    sublinear_tf: Annotated[
        Optional[bool], typer.Option("--sublinear-tf/--raw-tf", help="Use 1 + log(tf) [sublinear].")
    ] = None,
    metric: MetricOpt = None,
    codes: Annotated[
        Optional[str],
        typer.Option(help="float (cosine search) or binary (semantic hashing: packed bits, Hamming search) [float]."),
    ] = None,
    bits: Annotated[
        Optional[int],
        typer.Option(help="Binary code length, a multiple of 8 such as 32, 64 or 128 (implies --codes binary)."),
    ] = None,
    binarizer: Annotated[
        Optional[str],
        typer.Option(
            help="How bits are made: itq (float training, then an ITQ rotation), straight_through or noise (a "
            "near-binary code trained) [itq]."
        ),
    ] = None,
    binary_noise: Annotated[
        Optional[float], typer.Option(help="Std of the Gaussian noise added before the code sigmoid in training [0].")
    ] = None,
    anchor: Annotated[
        Optional[str],
        typer.Option(help="Fixed projection added to the code: smoothed_lsa, lsa or none [smoothed_lsa]."),
    ] = None,
    neighbours: Annotated[
        Optional[int], typer.Option(help="Neighbours per document for smoothed targets and the anchor (0 = none) [20].")
    ] = None,
    neighbour_weight: Annotated[
        Optional[float], typer.Option(help="Weight of the neighbours' mean in each target (0 = own words only) [4].")
    ] = None,
    steps: Annotated[
        Optional[int],
        typer.Option(help="Training budget in optimiser steps, rounded up to whole epochs (0 = use --epochs) [600]."),
    ] = None,
    max_epochs: Annotated[
        Optional[int], typer.Option(help="At most this many epochs of a --steps budget (0 = no cap) [8].")
    ] = None,
    warmup_steps: Annotated[
        Optional[int], typer.Option(help="Decoder-only steps before training an anchored encoder [300].")
    ] = None,
    warmup_learning_rate: Annotated[
        Optional[float], typer.Option(help="Learning rate of the decoder warm-up [1e-3].")
    ] = None,
    short_inputs: Annotated[
        Optional[float],
        typer.Option(
            help="Fraction of training rows cut to a few of their terms, as a person's query is (the denoising recipe "
            "for short queries; measured in bench/known_item.py --variant short-inputs) [0]."
        ),
    ] = None,
    short_terms: Annotated[
        Optional[int], typer.Option(help="A cut row keeps 2 to this many of its terms [24].")
    ] = None,
    index_kind: Annotated[
        Optional[str],
        typer.Option(
            "--index",
            help="FAISS index: auto (exact up to 100,000 documents, IVF above; within --max-index-memory), flat "
            "(exact), ivf, ivfpq (compressed float codes) or hnsw [auto].",
        ),
    ] = None,
    max_index_memory: Annotated[
        Optional[str],
        typer.Option(
            help="Memory budget for the index, such as 512MB or 2GB: auto picks the first of flat, IVF, IVF-PQ that "
            "fits; another --index must fit [none]."
        ),
    ] = None,
    pq: Annotated[
        Optional[int], typer.Option(help="IVF-PQ bytes per code, dividing --code-size (0 = the most that fit) [0].")
    ] = None,
    nlist: Annotated[Optional[int], typer.Option(help="IVF lists (0 = about 4 x sqrt(documents)) [0].")] = None,
    nprobe: NprobeOpt = None,
    hnsw_m: Annotated[Optional[int], typer.Option(help="HNSW links per document [32].")] = None,
    ef_search: EfSearchOpt = None,
    train_sample: Annotated[
        Optional[int],
        typer.Option(
            help="Fit the vocabulary and train on this many documents (a seeded sample); every document is still "
            "encoded and indexed (0 = all) [20000]."
        ),
    ] = None,
    lexical: Annotated[
        Optional[bool],
        typer.Option(
            "--lexical/--no-lexical", help="Keep a BM25 index beside the codes for hybrid and lexical search [lexical]."
        ),
    ] = None,
    alpha: Annotated[
        Optional[float],
        typer.Option(
            help="Hybrid search's weight of the codes in [0, 1], fixed for every query (-1 = choose it at build on the "
            "corpus) [-1]."
        ),
    ] = None,
    bm25_k1: Annotated[Optional[float], typer.Option("--bm25-k1", help="BM25 term-frequency saturation [1.2].")] = None,
    bm25_b: Annotated[
        Optional[float], typer.Option("--bm25-b", help="BM25 length normalisation in [0, 1] [0.75].")
    ] = None,
    stemmer: Annotated[
        Optional[str], typer.Option(help="Stem words in the BM25 index: english (Snowball) or none [english].")
    ] = None,
    pair_weight: Annotated[
        Optional[float],
        typer.Option(
            help="What a short query's adjacent word pairs weigh beside its words in BM25, in [0, 1] (0 = index no "
            "pairs) [0.2]."
        ),
    ] = None,
    engine: EngineOpt = "local",
    spark_master: SparkMasterOpt = None,
    codes_dir: CodesOpt = None,
    validate_queries: Annotated[
        Optional[Path], typer.Option(help="Labelled held-out queries for the end-of-build check against LSA-32.")
    ] = None,
    validate: Annotated[
        bool,
        typer.Option("--validate/--no-validate", help="Check the codes against LSA-32 at the end of a labelled build."),
    ] = True,
    wait: WaitOpt = 0.0,
    json_out: JsonOpt = False,
    config_file: Annotated[
        Optional[Path],
        typer.Option(
            "--config",
            help="A TOML file of build settings (as `retrieval config show DIR` prints them); flags given on the "
            "command line win over it. The manifest records the config the build used.",
        ),
    ] = None,
):
    """Build an index from CORPUS into --out."""
    from retrieval.cli import display
    from retrieval.evaluation.validation import validate as validate_codes
    from retrieval.text.index import TextIndex

    codes, code_size = _code_flags(codes, bits, code_size)
    config = _file_config(config_file).override(  # the flags given win over the file
        tfidf=dict(
            max_features=max_features, min_df=min_df, max_df=max_df, stop_words=stop_words, sublinear_tf=sublinear_tf
        ),
        autoencoder=dict(
            code_size=code_size,
            input_dropout=input_dropout,
            activation=activation,
            output=output,
            loss=loss,
            **kind_options(kind, sparse_l1, sparse_kl, sparse_target, contractive_weight, beta, code_activation),
            hidden=_split_ints(hidden, "--hidden") if hidden is not None else None,
            codes=codes,
            binarizer=binarizer,
            binary_noise=binary_noise,
            anchor=anchor,
        ),
        train=dict(
            **train_options(
                epochs,
                batch_size,
                learning_rate,
                optimizer,
                lr_schedule,
                validation_fraction,
                early_stopping,
                reduce_lr,
                checkpoint,
                seed,
                stacked,
            ),
            steps=steps,
            max_epochs=max_epochs,
            warmup_steps=warmup_steps,
            warmup_learning_rate=warmup_learning_rate,
            short_inputs=short_inputs,
            short_terms=short_terms,
        ),
        neighbours=dict(k=neighbours, weight=neighbour_weight),
        index=dict(
            kind=index_kind,
            nlist=nlist,
            nprobe=nprobe,
            m=hnsw_m,
            ef_search=ef_search,
            pq=pq,
            max_memory_mb=memory_mb(max_index_memory, "--max-index-memory"),
        ),
        lexical=_lexical_options(lexical, alpha, bm25_k1, bm25_b, stemmer, pair_weight),
        metric=metric,
    )
    if train_sample is not None:
        config = dataclasses.replace(config, train_sample=train_sample)
    if validate_queries is not None and not validate:
        raise RetrievalError("--validate-queries and --no-validate contradict each other; give one")
    documents = _source(corpus, fmt, id_field, text_field, label_field, title_field)
    check_engine(engine, spark_master, codes_dir, documents)
    with display.status("reading validation queries…"):
        held_out = (
            _read(validate_queries, None, id_field, text_field, label_field, title_field)[0]
            if validate_queries
            else None
        )
    if held_out is not None and held_out.labels is None:
        raise RetrievalError(f"{validate_queries} has no labels; validation queries need a {label_field!r} field")
    index = TextIndex(config)
    with writer_lock(out, wait), display.BuildProgress(lambda: config.epochs_for(len(index.sample_))) as progress:
        fit_index(index, documents, engine, spark_master, codes_dir, out, progress)
        report = index.corpus_report_
        check = None
        if validate and (held_out is not None or index.sample_.labels is not None):
            progress.stage("validating")
            check = validate_codes(index, corpus=index.sample_, queries=held_out, seed=config.train.seed)
        progress.stage("saving")
        manifest = index.save(out, extra={"corpus": report.to_dict(), **({"validation": check} if check else {})})
        progress.done()
    if not json_out:
        for line in report.lines():
            display.err.print(line)
    summary = {
        "out": str(out),
        "documents": manifest["documents"],
        "vocabulary_size": manifest["vocabulary_size"],
        "code_size": manifest["code_size"],
        "metric": manifest["metric"],
        "epochs": len(index.history_["loss"]),
        "final_loss": index.history_["loss"][-1],
        "build_seconds": manifest["build_seconds"],
        "bytes": sum(f["bytes"] for f in manifest["files"].values()),
        "corpus": report.to_dict(),
        "validation": check,
        "lexical": manifest.get("lexical"),  # None: built with --no-lexical
        "fusion": {key: value for key, value in manifest.get("fusion", {}).items() if key != "figures"} or None,
    }
    if json_out:
        display.print_json(summary)
    else:
        display.out.print(
            f"built {out}: {summary['documents']:,} documents, {summary['vocabulary_size']:,} terms, "
            f"{_code_words(summary)}, {summary['epochs']} epochs (final loss {summary['final_loss']:.4f}), "
            f"{summary['build_seconds']:.1f} s, {summary['bytes'] / 1e6:.1f} MB"
        )
        if check:
            display.out.print(f"{'warning: ' if check['verdict'] == 'lsa' else 'check: '}{check['message']}")


@app.command()
@user_errors
def query(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")],
    text: Annotated[Optional[str], typer.Argument(help="Find documents similar to this text.")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many results per query.")] = 10,
    file: Annotated[
        Optional[Path], typer.Option("--file", help="Batch queries: a corpus file (.jsonl/.csv/.tsv).")
    ] = None,
    like: Annotated[
        Optional[str], typer.Option("--like", help="Find documents similar to this indexed document id.")
    ] = None,
    fmt: FormatOpt = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    rerank: RerankOpt = 0,
    mode: ModeOpt = None,
    alpha: AlphaOpt = None,
    nprobe: NprobeOpt = None,
    ef_search: EfSearchOpt = None,
    json_out: JsonOpt = False,
):
    """Find the documents most similar to TEXT, to each query in --file, or to --like DOC_ID."""
    from retrieval.runtime.threads import limit_blas_threads

    limit_blas_threads(1)  # before numpy loads: the encoder's products are small (see retrieval.runtime.threads)
    from retrieval.cli.querying import note_old_bundle, note_unmatched, show_results
    from retrieval.text.index import HitList, TextIndex
    from retrieval.text.query_mode import query_mode

    given = [name for name, value in (("TEXT", text), ("--file", file), ("--like", like)) if value is not None]
    if len(given) != 1:
        raise RetrievalError(f"give exactly one of TEXT, --file or --like (got {', '.join(given) or 'none'})")
    if k <= 0:
        raise RetrievalError(f"-k must be a positive whole number; got {k}")
    index = TextIndex.load(index_dir)
    index.index_.set_search(nprobe, ef_search)
    used = query_mode(index, mode, alpha, rerank)  # checked together, before any query runs
    note_old_bundle(index, mode)
    search = dict(rerank=rerank, mode=used, alpha=alpha)
    if like is not None:  # similar_to gives a plain list: the HitList says which mode answered
        queries, results = [like], [HitList(index.similar_to(like, k, **search), mode=used)]
    elif file is not None:
        documents, _ = _read(file, fmt, id_field, text_field)
        queries, results = documents.doc_ids, index.search(documents.texts, k, **search)
    else:
        if not text.strip():
            raise RetrievalError("the query text is empty")
        queries, results = [text], index.search([text], k, **search)
    note_unmatched(show_results(queries, results, like is not None, json_out), len(queries))


@app.command()
@user_errors
def add(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")],
    corpus: Annotated[
        Path, typer.Argument(help="New documents: a directory of .txt/.md files, or a .jsonl, .csv or .tsv file.")
    ],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace documents whose id is already in the index.")
    ] = False,
    fmt: FormatOpt = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    label_field: LabelField = "label",
    title_field: TitleField = "title",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Fail, changing nothing, if any record would be skipped (empty, repeated id, malformed)."
        ),
    ] = False,
    wait: WaitOpt = 0.0,
    json_out: JsonOpt = False,
):
    """Add documents to an index without retraining: the stored vectorizer and encoder encode them.

    The index directory is replaced atomically, as by build; a running server picks it up.
    """
    import time

    from retrieval.cli import display
    from retrieval.text.index import TextIndex

    started = time.perf_counter()
    documents, report = _read(corpus, fmt, id_field, text_field, label_field, title_field)
    skipped = len(report.empty) + len(report.duplicate_ids) + len(report.malformed)
    if strict and skipped:
        raise RetrievalError(
            f"{skipped:,} records of {corpus} would be skipped ({'; '.join(report.lines()[1:])}); "
            "nothing was changed (--strict)"
        )
    with writer_lock(index_dir, wait):  # from load to swap: no other writer's update can be lost
        index = TextIndex.load(index_dir)
        before = dict(index.updates_)
        with display.status(f"adding {len(documents):,} documents…"):
            manifest = index.add(documents, replace=replace).save(index_dir)
    _print_update(display, index_dir, manifest, before, time.perf_counter() - started, json_out, report)


@app.command()
@user_errors
def remove(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")],
    doc_ids: Annotated[
        Optional[list[str]], typer.Argument(metavar="ID...", help="Ids of the documents to remove.")
    ] = None,
    ids_file: Annotated[Optional[Path], typer.Option("--ids", help="A file of ids to remove, one per line.")] = None,
    wait: WaitOpt = 0.0,
    json_out: JsonOpt = False,
):
    """Remove documents from an index by id (replaced atomically, as by build)."""
    import time

    from retrieval.cli import display
    from retrieval.text.index import TextIndex

    started = time.perf_counter()
    wanted = list(doc_ids or [])
    if ids_file is not None:
        wanted += [line.strip() for line in ids_file.read_text().splitlines() if line.strip()]
    if not wanted:
        raise RetrievalError("give the ids to remove: retrieval remove DIR ID..., or --ids FILE")
    with writer_lock(index_dir, wait):
        index = TextIndex.load(index_dir, lazy=True)  # a removal shows no document: the metadata is linked, not read
        before = dict(index.updates_)
        with display.status(f"removing {len(set(wanted)):,} documents…"):
            manifest = index.remove(wanted).save(index_dir)
    _print_update(display, index_dir, manifest, before, time.perf_counter() - started, json_out)


def _print_update(
    display, index_dir, manifest: dict, before: dict, seconds: float, json_out: bool, report=None
) -> None:
    """An update's summary; with the ``report`` of the corpus it read (``add``), that too, as ``build`` shows it."""
    updates = manifest.get("updates", {})
    changed = {name: updates.get(name, 0) - before.get(name, 0) for name in ("added", "replaced", "removed")}
    summary = {
        "out": str(index_dir),
        **changed,
        "documents": manifest["documents"],
        "seconds": round(seconds, 2),
        "since_build": updates,
        **({"corpus": report.to_dict()} if report is not None else {}),
    }
    if json_out:
        display.print_json(summary)
        return
    for line in report.lines() if report is not None else []:
        display.err.print(line)
    done = ", ".join(f"{value:,} {name}" for name, value in changed.items() if value) or "no change"
    display.out.print(
        f"updated {index_dir}: {done}; {manifest['documents']:,} documents ({seconds:.1f} s). "
        f"Since the build: {display.updates_line(updates)}"
    )


@app.command()
@user_errors
def info(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")],
    json_out: JsonOpt = False,
):
    """Describe a saved index (and verify its checksums)."""
    from indexing import read_manifest
    from retrieval.cli import display

    manifest = read_manifest(index_dir)
    if json_out:
        display.print_json(manifest)
    else:
        display.out.print(display.info_table(index_dir, manifest))


@app.command()
@user_errors
def evaluate(
    index_dir: Annotated[Path, typer.Argument(metavar="DIR", help="A directory written by `retrieval build`.")],
    queries: Annotated[
        Path,
        typer.Option(
            "--queries", help="Queries with a label, a target document id, or both: a corpus file or directory."
        ),
    ],
    k: Annotated[int, typer.Option("-k", "--k", help="Precision at this rank.")] = 100,
    baselines: Annotated[
        bool, typer.Option(help="Also measure TF-IDF cosine, LSA at the code size and (binary codes) ITQ.")
    ] = True,
    rerank: RerankOpt = 0,
    lsa_dims: Annotated[
        Optional[str], typer.Option(help="More LSA sizes to measure, comma-separated (e.g. 32 beside 64-bit codes).")
    ] = None,
    fmt: FormatOpt = None,
    id_field: IdField = "id",
    text_field: TextField = "text",
    label_field: LabelField = "label",
    target_field: Annotated[
        str, typer.Option(help="Field/column holding the id of a query's one right document (known-item queries).")
    ] = "target",
    database: Annotated[
        Optional[Path],
        typer.Option(
            help="The corpus the index was built from: its texts give the BM25 baseline (the index keeps none)."
        ),
    ] = None,
    kinds: Annotated[
        Optional[str],
        typer.Option(help="Retrain the index once per kind (comma-separated) with the same budget and compare."),
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option(help="With --kinds: write compare.json and compare.png here.")
    ] = None,
    nprobe: NprobeOpt = None,
    ef_search: EfSearchOpt = None,
    json_out: JsonOpt = False,
):
    """Each mode of the index beside TF-IDF cosine, LSA and BM25: precision@k and MAP where the queries have
    labels (relevant = same label), MRR@10 and success@1/@10 where they name a target document (known-item)."""
    from retrieval.cli import display
    from retrieval.evaluation.baselines import texts_in_index_order
    from retrieval.evaluation.known_item_eval import evaluate_known_item
    from retrieval.evaluation.text import evaluate as run_evaluation
    from retrieval.text.index import TextIndex

    if k <= 0:
        raise RetrievalError(f"-k must be a positive whole number; got {k}")
    index = TextIndex.load(index_dir)
    index.index_.set_search(nprobe, ef_search)
    documents, _ = _read(queries, fmt, id_field, text_field, label_field)
    targets = _read(queries, fmt, id_field, text_field, target_field)[0].labels  # the same records, target as label
    if documents.labels is None and targets is None:
        raise RetrievalError(
            f"none of the {len(documents)} queries in {queries} has a {label_field!r} or a "
            f"{target_field!r} field; evaluate needs labels, target document ids, or both"
        )
    database_texts = texts_in_index_order(index, _read(database, fmt, id_field, text_field)[0]) if database else None
    dims = _split_ints(lsa_dims, "--lsa-dims") if lsa_dims else ()
    report = {}
    if documents.labels is not None and (targets is None or any(index.labels_)):  # unlabelled index: known-item only
        report = run_evaluation(
            index,
            documents,
            k=k,
            baselines=baselines,
            seed=index.config.train.seed,
            rerank_n=rerank,
            lsa_dims=dims,
            database_texts=database_texts,
            modes=kinds is None,
        )
    if targets is not None:
        report["known_item"] = evaluate_known_item(
            index,
            documents,
            targets,
            seed=index.config.train.seed,
            baselines=baselines,
            lsa_dims=dims,
            database_texts=database_texts,
        )
    if kinds is not None and "methods" not in report:
        raise RetrievalError("--kinds compares the kinds on labelled queries; these have no labels")
    if kinds is not None:
        from retrieval.evaluation.kinds import code_activity, compare_kinds, parse_kinds, reconstruction_loss

        texts = [t for t, label in zip(documents.texts, documents.labels or []) if label is not None]

        def measure(other):
            own = run_evaluation(other, documents, k=k, baselines=False)["methods"][0]
            return {
                "precision_at_k": own["precision_at_k"],
                "mean_average_precision": own["mean_average_precision"],
                "reconstruction_loss": reconstruction_loss(other, other.features(texts)),
                **code_activity(other.encode(texts)),
            }

        with display.status("training each kind…"):
            rows = compare_kinds(
                index,
                parse_kinds(kinds),
                measure,
                on_kind=lambda kind: display.err.print(f"training {kind}…") if not json_out else None,
            )
        report_kinds(
            rows,
            report["methods"][1:],
            report["k"],
            out_dir,
            json_out,
            [
                ("P@%d" % report["k"], "precision_at_k", ".4f"),
                ("MAP", "mean_average_precision", ".4f"),
                ("recon loss", "reconstruction_loss", ".4f"),
                ("|code|", "mean_activation", ".3f"),
                ("active", "active_fraction", ".3f"),
            ],
            "text",
        )
    elif json_out:
        display.print_json(report)
    else:
        for table in display.evaluation_tables(report, with_bm25=database_texts is not None or not baselines):
            display.out.print(table)
        if "recall_at_10" in report:
            display.out.print(
                f"recall@10 of the {display.search_words(report['index'])} against exact search on "
                f"the same codes: {report['recall_at_10']:.4f}"
            )


def main():
    app(prog_name="retrieval")


if __name__ == "__main__":
    sys.exit(main())
