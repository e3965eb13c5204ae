"""``retrieval serve``: the HTTP API and search page over one or more saved text indexes."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from retrieval.cli.common import user_errors
from retrieval.config import ServeConfig
from retrieval.errors import RetrievalError

DEFAULTS = ServeConfig()
MAX_DEFAULT_WORKERS = 4


def index_paths(index_dir: Path | None, named: list[str]) -> dict[str, Path]:
    """DIR as ``default`` and each NAME=DIR, in the order given (the first answers when a request names none)."""
    paths: dict[str, Path] = {}
    if index_dir is not None:
        paths["default"] = index_dir
    for item in named:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise RetrievalError(f"--named takes NAME=DIR, e.g. --named news=indexes/20newsgroups; got {item!r}")
        if name in paths:
            raise RetrievalError(f"two indexes are named {name!r}; give each --named index a name of its own")
        paths[name] = Path(path)
    if not paths:
        raise RetrievalError("give an index to serve: retrieval serve DIR, or --named NAME=DIR (repeatable)")
    return paths


def default_workers() -> int:
    """One process per core this process may use, at most ``MAX_DEFAULT_WORKERS`` (each holds the indexes)."""
    return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))


@user_errors
def serve(
    index_dir: Annotated[
        Optional[Path],
        typer.Argument(metavar="DIR", help="A directory written by `retrieval build`, served as 'default'."),
    ] = None,
    index: Annotated[
        Optional[list[str]],
        typer.Option(
            "--named",
            metavar="NAME=DIR",
            help="Serve DIR under NAME (repeatable); requests choose with ?index=NAME. (Was --index, which in "
            "`build` is the FAISS index type.)",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs an API key (RETRIEVAL_API_KEY).")
    ] = DEFAULTS.host,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULTS.port,
    max_k: Annotated[int, typer.Option(help="Most hits a request may ask for.")] = DEFAULTS.max_k,
    max_rerank: Annotated[
        int, typer.Option(help="Most candidates a request may ask to re-rank.")
    ] = DEFAULTS.max_rerank,
    max_query_bytes: Annotated[
        int, typer.Option(help="Longest query text, in UTF-8 bytes.")
    ] = DEFAULTS.max_query_bytes,
    max_batch: Annotated[int, typer.Option(help="Most queries in one POST /search.")] = DEFAULTS.max_batch,
    api_key: Annotated[
        Optional[str],
        typer.Option(
            envvar="RETRIEVAL_API_KEY",
            show_envvar=True,
            help="Require this key (X-API-Key, Bearer or Basic password) on every request but /health. Prefer the "
            "environment variable: an option is visible to every user in the process list.",
        ),
    ] = None,
    reload_interval: Annotated[
        float, typer.Option(help="Seconds between checks for a rebuilt index directory.")
    ] = DEFAULTS.reload_interval,
    workers: Annotated[
        Optional[int],
        typer.Option(
            show_default=False,
            help="Worker processes, each with the indexes loaded (the FAISS codes are memory-mapped, so shared) and "
            "its own socket on the port. [default: one per core, at most 4]",
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log", help="Log one line per request.")] = False,
):
    """Serve saved text indexes over HTTP: a JSON API (described at /docs) and a search page at /.

    A rebuilt index directory is picked up without a restart. Ctrl-C or SIGTERM
    stops the server after the requests in flight are answered.
    """
    from retrieval.runtime.threads import limit_blas_threads

    limit_blas_threads(1)  # before numpy loads: many small searches at once
    import uvicorn

    from indexing import set_search_threads
    from retrieval.cli import display
    from retrieval.server.app import create_app, load_indexes
    from retrieval.server.protocol import LimitedHttpToolsProtocol
    from retrieval.server.workers import check_port, serve_with_workers

    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise RetrievalError(f"--workers must be at least 1; got {workers}")
    config = ServeConfig(
        host=host,
        port=port,
        max_k=max_k,
        max_rerank=max_rerank,
        max_query_bytes=max_query_bytes,
        max_batch=max_batch,
        api_key=api_key,
        reload_interval=reload_interval,
    )
    paths = index_paths(index_dir, index or [])
    set_search_threads(1)  # concurrent requests are the parallelism; a thread team per search would compete
    with display.status("loading…"):
        live = load_indexes(paths)
    check_port(host, port)
    shown = "[::1]" if host == "::1" else host
    for name, item in live.items():
        display.err.print(
            f"{name}: {item.path} ({len(item.current.index.index_):,} documents, generation {item.current.id})",
            highlight=False,
        )
    processes = "1 process" if workers == 1 else f"{workers} worker processes"
    display.err.print(
        f"serving on http://{shown}:{port}/ with {processes} (API docs at /docs; Ctrl-C to stop)", highlight=False
    )
    options = dict(
        host=host,
        port=port,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        timeout_graceful_shutdown=30,
        server_header=False,
        http=LimitedHttpToolsProtocol,
    )
    if workers == 1:
        uvicorn.run(create_app(live, config), **options)
        return
    del live  # each worker loads its own; this process only watches over them
    gc.collect()
    serve_with_workers(paths, config, workers, options)
