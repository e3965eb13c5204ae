"""Starting Spark: the extra and Java checked first, Spark's own logging quiet, no UI for a local run."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from retrieval.errors import RetrievalError

DEFAULT_MASTER = "local[*]"
EXTRA = "pip install 'retrieval[spark]'"

# Spark's start-up chatter and per-stage INFO lines would bury the build's own progress. The root at WARN
# (not ERROR) also keeps Spark from printing its "Setting default log level" notice for a pyspark shell.
# FileStreamSink warns (with a stack trace) when a path has glob characters escaped, which ours may have.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
logger.hadoop.name = org.apache.hadoop.util.NativeCodeLoader
logger.hadoop.level = error
logger.sink.name = org.apache.spark.sql.execution.streaming.FileStreamSink
logger.sink.level = error
"""


def require_pyarrow(what: str) -> None:
    """pyarrow (reading and writing Parquet) comes with the spark extra."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise RetrievalError(f"{what} needs the spark extra: {EXTRA}") from None


def require_spark(what: str = "--engine spark") -> None:
    """pyspark and Java must be there before anything is trained: a missing one is a one-line error."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise RetrievalError(f"{what} needs the spark extra: {EXTRA}") from None
    require_pyarrow(what)
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and Path(java_home, "bin", "java").exists()) and shutil.which("java") is None:
        raise RetrievalError(
            f"{what} needs Java 17 or later, and found none (Debian: apt-get install "
            "default-jre-headless; or set JAVA_HOME)"
        )


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def _settings(master: str, log_config: Path) -> dict:
    settings = {
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_config}",
        "spark.ui.showConsoleProgress": "false",  # the build draws its own progress
        # Spark runs one Python worker per core: BLAS threads beyond one per worker only fight for the cores
        "spark.executorEnv.OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
        "spark.executorEnv.OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    if is_local(master):
        # no web UI, so no port to find free on a shared machine; few shuffle partitions for one machine
        settings.update({"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "8"})
    return settings


@contextmanager
def spark_session(master: str = DEFAULT_MASTER):
    """A SparkSession on ``master`` for the duration of the block, stopped afterwards.

    A session already active in this process (a notebook's, a test's) is used as it is and left
    running. For a local master the executors' Python is this interpreter (Spark would otherwise
    start ``python3`` from PATH, which may lack this package) and Spark binds to the loopback
    interface. On a cluster, set PYSPARK_PYTHON to a Python with ``retrieval`` installed on every
    executor, and give paths every machine can reach.
    """
    require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    if is_local(master):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="retrieval-spark-") as scratch:
        log_config = Path(scratch, "log4j2.properties")
        log_config.write_text(LOG4J2)
        builder = SparkSession.builder.master(master).appName("retrieval build")
        for key, value in _settings(master, log_config).items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except Exception as err:  # pyspark's errors when the JVM cannot start are of several classes
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RetrievalError(f"Spark did not start on {master!r}: {first}") from None
        try:
            yield spark
        finally:
            spark.stop()
