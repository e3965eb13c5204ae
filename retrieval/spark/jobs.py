"""The Spark jobs of a build, run from the driver: scan the corpus, then encode it into Parquet shards.

Spark reads the JSONL corpus as lines (split only at ``\\n``, as Python reads the file),
and every line gets the single-machine reader's treatment (``parse_jsonl_line``). The
two corpus rules that need the whole corpus are settled by the scan: an id's first
record with a non-blank text is kept, an earlier blank one counts as empty and every
later one as repeated (exactly ``iter_documents``' order of checks), and each split's
lines and kept records give line numbers and positions. What the scan finds must
match the driver's own reading of the file (its training-sample pass), document for
document; a difference stops the build, since the file changed or the readers disagree.
The encoding job then keeps the same records and writes, per document, its position
in the corpus (0, 1, ... in file order), id, code, display fields and TF-IDF row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from retrieval.errors import CorpusError, RetrievalError
from retrieval.text.corpus import CorpusReport

READS = ("jsonl",)


def check_format(source) -> None:
    """The Spark engine reads JSONL; the other formats have no faithful split of their records."""
    if source.fmt not in READS:
        raise RetrievalError(
            f"--engine spark reads JSONL corpora (.jsonl, .ndjson); {source.path} is {source.fmt}. "
            "Convert it to JSONL, or build it with the default engine"
        )


def _hadoop_path(path: Path) -> str:
    """A local path as Spark takes it: absolute, on the local filesystem, glob characters escaped."""
    escaped = "".join("\\" + char if char in "\\*?[]{}" else char for char in str(Path(path).resolve()))
    return "file://" + escaped


def corpus_lines(spark, path: Path):
    """The corpus file's lines as a DataFrame: ``value`` (the line) and ``block`` (where its split starts)."""
    from pyspark.sql import functions as F

    return spark.read.text(_hadoop_path(path), lineSep="\n").select(
        F.col("value"), F.col("_metadata.file_block_start").alias("block")
    )


@dataclass
class Scan:
    """What the scan found: the report, the records to drop, and where each split's documents start."""

    report: CorpusReport
    dropped: frozenset = field(default_factory=frozenset)
    first_position: dict = field(default_factory=dict)


def scan(spark, source) -> Scan:
    """Apply the corpus rules on Spark; the result must agree with ``source.report`` (the driver's pass)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from retrieval.spark.executor import SCAN_SCHEMA, scan_partition

    scanned = corpus_lines(spark, source.path).mapInArrow(partial(scan_partition, fields=source.fields), SCAN_SCHEMA)
    kind, key = F.col("kind"), F.struct("block", "row")
    record = kind == "record"
    # each id's first record with a non-blank text: the one kept (lines that are no record have no id)
    first = F.min(F.when(record & F.col("nonblank"), key)).over(Window.partitionBy("doc_id"))
    marked = scanned.withColumn("first", first)
    found = (
        F.when(~record, kind)
        .when(F.col("first").isNull() | (key < F.col("first")), "empty")
        .when(key > F.col("first"), "duplicate")
        .otherwise("not_utf8")
    )
    rows = (
        marked.filter(~record | F.col("first").isNull() | (key != F.col("first")) | F.col("bad"))
        .select(
            "block",
            "row",
            found.alias("kind"),
            F.when(record, F.col("doc_id")).otherwise(F.col("detail")).alias("detail"),
            "lines",
            "records",
        )
        .collect()
    )  # what the driver must see: few rows unless the corpus is very irregular
    return _settle(source, sorted((r.block, r.row, r.kind, r.detail, r.lines, r.records) for r in rows))


def _settle(source, rows: list) -> Scan:
    """Line numbers, positions and the report from the scan's rows (in file order), checked against the driver's."""
    splits = {block: (lines, records) for block, row, kind, _, lines, records in rows if kind == "split"}
    dropped = [(block, row) for block, row, kind, *_ in rows if kind in ("empty", "duplicate")]
    dropped_in = Counter(block for block, _ in dropped)
    first_line, first_position, line, position = {}, {}, 0, 0
    for block in sorted(splits):
        lines, records = splits[block]
        first_line[block], first_position[block] = line, position
        line += lines
        position += records - dropped_in[block]
    report = CorpusReport(path=str(source.path), format=source.fmt, documents=position)
    lists = {"empty": report.empty, "duplicate": report.duplicate_ids, "not_utf8": report.not_utf8}
    for block, row, kind, detail, _, _ in rows:
        if kind == "malformed":
            report.malformed.append(f"line {first_line[block] + row + 1} ({detail})")
        elif kind in lists:
            lists[kind].append(detail)
    driver = source.report
    for name in ("documents", "empty", "duplicate_ids", "malformed", "not_utf8"):
        if getattr(report, name) != getattr(driver, name):
            raise CorpusError(
                f"Spark's reading of {source.path} differs from the driver's ({name}: "
                f"{_count(getattr(report, name))} against {_count(getattr(driver, name))}); "
                "was the file changed during the build? Nothing was written"
            )
    return Scan(report, frozenset(dropped), first_position)


def _count(value) -> int:
    return value if isinstance(value, int) else len(value)


def encode(spark, source, found: Scan, model, out: Path) -> None:
    """Featurise and encode every kept document on the executors; write the shards to ``out`` (new)."""
    from retrieval.spark.executor import CODES_SCHEMA, EncodePlan, encode_partition

    plan = EncodePlan(
        source.fields,
        model.file_bytes("vectorizer"),
        model.file_bytes("steps"),
        model.file_bytes("weights"),
        found.dropped,
        found.first_position,
    )
    broadcast = spark.sparkContext.broadcast(plan)
    try:
        codes = corpus_lines(spark, source.path).mapInArrow(
            partial(encode_partition, broadcast=broadcast), CODES_SCHEMA
        )
        codes.write.mode("errorifexists").parquet(_hadoop_path(out))
    finally:
        broadcast.destroy()
