"""The Spark engine on the command line: ``build --engine spark`` and ``retrieval index CODES_DIR``.

Nothing here imports pyspark or pyarrow until a command needs them, so ``retrieval --help``
and every other command work without the spark extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from retrieval.cli.common import JsonOpt, memory_mb, user_errors
from retrieval.errors import RetrievalError

ENGINES = ("local", "spark")
# help text is Rich markup: a bracketed default is escaped, or Rich takes it for a style and drops it
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where every document is encoded: local (this process) or spark (Spark's executors, numpy only; needs the "
        "spark extra and Java). Training is on this machine either way.",
    ),
]
SparkMasterOpt = Annotated[
    Optional[str],
    typer.Option(
        help="Spark master URL for --engine spark, e.g. spark://host:7077 [local[*]: every core of this machine]."
    ),
]
CodesOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--codes-dir",
        help="With --engine spark: keep the model and the Parquet codes in this directory, for `retrieval index` [a "
        "temporary directory beside --out, removed].",
    ),
]


def check_engine(engine: str, spark_master, codes, documents) -> None:
    """Engine options, checked before anything is read or trained."""
    if engine not in ENGINES:
        raise RetrievalError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "local":
        given = [
            name for name, value in (("--spark-master", spark_master), ("--codes-dir", codes)) if value is not None
        ]
        if given:
            raise RetrievalError(f"{' and '.join(given)} apply to --engine spark")
        return
    from retrieval.spark.build import check_codes_dir
    from retrieval.spark.jobs import check_format
    from retrieval.spark.session import require_spark

    check_format(documents)
    require_spark()
    if codes is not None:
        check_codes_dir(codes)


def fit_index(index, documents, engine: str, spark_master, codes, out: Path, progress):
    """``index.fit`` here, or with Spark's executors encoding the documents."""
    if engine == "local":
        return index.fit(documents, on_stage=progress.stage, on_epoch=progress.epoch, on_progress=progress.documents)
    from retrieval.spark.build import fit_with_spark
    from retrieval.spark.session import DEFAULT_MASTER

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return fit_with_spark(
        index,
        documents,
        spark_master or DEFAULT_MASTER,
        codes,
        temp_dir=Path(out).parent,
        on_stage=progress.stage,
        on_epoch=progress.epoch,
        on_progress=progress.documents,
    )


@user_errors
def index_codes(
    codes_dir: Annotated[
        Path,
        typer.Argument(
            metavar="CODES_DIR",
            help="A directory holding model/ and codes/ (Parquet shards), as `retrieval build --engine spark "
            "--codes-dir CODES_DIR` writes.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the index to (replaced atomically).")],
    index_kind: Annotated[
        Optional[str],
        typer.Option("--index", help="FAISS index: auto, flat, ivf, ivfpq or hnsw, as for build [the model's]."),
    ] = None,
    max_index_memory: Annotated[
        Optional[str],
        typer.Option(help="Memory budget for the index, such as 512MB or 2GB, as for build [the model's]."),
    ] = None,
    pq: Annotated[
        Optional[int],
        typer.Option(help="IVF-PQ bytes per code, dividing the code size (0 = the most that fit) [the model's]."),
    ] = None,
    nlist: Annotated[
        Optional[int], typer.Option(help="IVF lists (0 = about 4 x sqrt(documents)) [the model's].")
    ] = None,
    nprobe: Annotated[Optional[int], typer.Option(help="IVF lists scanned per query [chosen by size].")] = None,
    hnsw_m: Annotated[Optional[int], typer.Option(help="HNSW links per document [the model's].")] = None,
    ef_search: Annotated[Optional[int], typer.Option(help="HNSW candidates kept per query [the model's].")] = None,
    corpus: Annotated[
        Optional[Path],
        typer.Option(
            "--corpus",
            help="The corpus the codes were made from, read again for the lexical (BM25) side of hybrid search; it "
            "must hold the codes' documents in their order [the corpus the model records, if it is still there and "
            "holds them; else none: semantic search only].",
        ),
    ] = None,
    json_out: JsonOpt = False,
):
    """Index the Parquet codes in CODES_DIR/codes with the model in CODES_DIR/model.

    The codes may come from `build --engine spark --codes-dir` or be made elsewhere, with the columns position, id,
    code, tfidf_indices and tfidf_values (title, snippet and label optional). The lexical side for hybrid search is
    built from the corpus (--corpus, or the one the model records).
    """
    from retrieval.cli import display
    from retrieval.spark.build import index_from_codes

    with display.status("indexing the codes…"):
        index = index_from_codes(
            codes_dir,
            dict(
                kind=index_kind,
                nlist=nlist,
                nprobe=nprobe,
                m=hnsw_m,
                ef_search=ef_search,
                pq=pq,
                max_memory_mb=memory_mb(max_index_memory, "--max-index-memory"),
            ),
            corpus=corpus,
        )
        manifest = index.save(out)
    summary = {
        "out": str(out),
        "documents": manifest["documents"],
        "code_size": manifest["code_size"],
        "metric": manifest["metric"],
        "index": manifest["index"],
        "codes": manifest["codes"],
        "build_seconds": manifest["build_seconds"],
        "bytes": sum(f["bytes"] for f in manifest["files"].values()),
        "lexical": manifest.get("lexical"),
        "lexical_note": manifest.get("lexical_note"),
    }
    if json_out:
        display.print_json(summary)
    else:
        lexical = summary["lexical"]
        side = f", BM25 over {lexical['terms']:,} terms" if lexical else ", no lexical side"
        display.out.print(
            f"indexed {out}: {summary['documents']:,} documents from {summary['codes']['shards']} "
            f"shards, {summary['code_size']}-d codes in a {summary['index']['kind']} index{side}, "
            f"{summary['build_seconds']:.1f} s, {summary['bytes'] / 1e6:.1f} MB"
        )
        if summary["lexical_note"]:
            display.err.print(f"note: {summary['lexical_note']}", markup=False)
