"""Several server processes on one port, each with its own listening socket (``SO_REUSEPORT``).

Why not uvicorn's own ``--workers``: there the processes share one socket,
and whichever wakes first accepts a burst of connections, so 8 keep-alive
clients often land 6 to 2 or 7 to 1 and one process does most of the work.
With a socket each, the kernel spreads connections by their addresses: on 2
cores the median of five runs went from about 1,000 to about 1,470 requests/s.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import time

from retrieval.config import ServeConfig
from retrieval.errors import RetrievalError

log = logging.getLogger("retrieval.server")
# a worker that dies is started again after a pause that doubles while it keeps dying within STARTUP_SECONDS of
# its start; once it has done so after the last pause, the server stops (a worker that cannot start, say because
# its index no longer loads, would otherwise restart every second, each a full interpreter start and a traceback)
RESTART_PAUSES = (1.0, 2.0, 4.0, 8.0, 16.0)
STARTUP_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _listening_socket(host: str, port: int, share: bool = True) -> socket.socket:
    """A socket bound to ``host:port``: listening and shared with the other workers, or (``share`` off) neither."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise RetrievalError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    if share:
        sock.listen(2048)
    return sock


def check_port(host: str, port: int) -> None:
    """Raise RetrievalError naming ``host:port`` if something listens there (another server, even one of ours)."""
    _listening_socket(host, port, share=False).close()


def _exit_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux), so that workers never outlive a
    killed server and keep its port; exit now if the parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's own signal handlers stop the workers
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _worker(paths: dict, settings: dict, options: dict, parent: int) -> None:
    """One worker process: load the indexes, bind its own socket, serve until SIGTERM or SIGINT."""
    import uvicorn

    from indexing import set_search_threads
    from retrieval.server.app import create_app, load_indexes

    _exit_with_parent(parent)
    set_search_threads(1)
    config = ServeConfig(**settings)
    app = create_app(load_indexes(paths), config)
    sock = _listening_socket(config.host, config.port)
    uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])


def serve_with_workers(paths: dict, config: ServeConfig, workers: int, options: dict) -> None:
    """Run ``workers`` processes until SIGTERM or SIGINT, which each finishes its requests in flight.

    A worker that dies otherwise is started again (see ``RESTART_PAUSES``); one that cannot start stops the
    server with a RetrievalError. Workers exit when this process dies, however it dies.
    """
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited locks or threads
    arguments = ({name: str(path) for name, path in paths.items()}, dataclasses.asdict(config), options, os.getpid())

    def start(number: int):
        process = context.Process(target=_worker, args=arguments, name=f"retrieval-worker-{number}", daemon=False)
        process.start()
        return process

    supervise(start, workers)


def supervise(start, workers: int, clock=time.monotonic, sleep=time.sleep) -> None:
    """Start ``workers`` processes with ``start(number)`` and keep them running until SIGTERM or SIGINT.

    ``start`` returns an object with ``is_alive()``, ``exitcode``, ``terminate()`` and ``join()``
    (a ``multiprocessing.Process``). Raises RetrievalError, having stopped the others, once a worker has died
    within ``STARTUP_SECONDS`` of its start ``len(RESTART_PAUSES) + 1`` times in a row.
    """
    stopping, told = [], set()

    def stop(signum=None, frame=None):
        stopping.append(signum)
        for process in processes:
            if process.is_alive() and id(process) not in told:  # a second SIGTERM would cut uvicorn's drain short
                told.add(id(process))
                process.terminate()  # SIGTERM: uvicorn finishes the requests in flight, then exits

    processes = [start(number) for number in range(workers)]
    started, failures = [clock()] * workers, [0] * workers
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            for number, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                failures[number] = failures[number] + 1 if clock() - started[number] < STARTUP_SECONDS else 1
                if failures[number] > len(RESTART_PAUSES):
                    stop()
                    for other in processes:
                        other.join()
                    raise RetrievalError(
                        f"worker {number} failed {failures[number]} times in a row within "
                        f"{STARTUP_SECONDS:g} s of starting (last exit code {process.exitcode}); "
                        "the server stopped: its log above says why"
                    )
                pause = RESTART_PAUSES[failures[number] - 1]
                log.error("worker %d exited with %s; starting it again in %g s", number, process.exitcode, pause)
                sleep(pause)
                if stopping:  # a stop signal came during the pause
                    break
                processes[number], started[number] = start(number), clock()
            sleep(0.2)
        stop()  # again: a worker started as the signal came was not yet in the list
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
