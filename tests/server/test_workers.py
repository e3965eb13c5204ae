"""Supervised workers: restarts back off, a worker that cannot start stops the server, none outlives its parent."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from serving import serving

from retrieval.errors import RetrievalError
from retrieval.server import workers as module


class FakeProcess:
    """A worker that lives until ``dies_at`` on the fake clock (never, with None)."""

    def __init__(self, clock, dies_at):
        self.clock, self.dies_at, self.exitcode, self.terminated, self.joined = clock, dies_at, None, False, False

    def is_alive(self):
        alive = not self.terminated and (self.dies_at is None or self.clock.now < self.dies_at)
        if not alive and self.exitcode is None:
            self.exitcode = -15 if self.terminated else 1
        return alive

    def terminate(self):
        self.terminated = True

    def join(self):
        self.joined = True


class Clock:
    def __init__(self):
        self.now, self.pauses = 0.0, []

    def sleep(self, seconds):
        if seconds >= 1:
            self.pauses.append(seconds)
        self.now += seconds


def test_a_worker_that_cannot_start_backs_off_then_stops_the_server():
    clock, started = Clock(), []

    def start(number):
        process = FakeProcess(clock, clock.now + 0.5 if number == 1 else None)  # worker 1 dies at once, always
        started.append((number, process))
        return process

    with pytest.raises(
        RetrievalError,
        match=r"worker 1 failed 6 times in a row within 30 s of starting "
        r"\(last exit code 1\); the server stopped",
    ):
        module.supervise(start, 2, clock=lambda: clock.now, sleep=clock.sleep)
    assert clock.pauses == list(module.RESTART_PAUSES)  # 1, 2, 4, 8, 16 s between the six starts
    assert sum(number == 1 for number, _ in started) == 6 and sum(number == 0 for number, _ in started) == 1
    survivor = started[0][1]
    assert survivor.terminated and survivor.joined  # the healthy worker is stopped with it


def test_a_worker_that_ran_for_a_while_is_restarted_after_the_shortest_pause():
    clock, started = Clock(), []

    def start(number):
        # the first run lives a minute; the restarts live a minute each too; after the third start, stop
        if len(started) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # the supervisor's handler: stop, as a user's signal would
        process = FakeProcess(clock, clock.now + 60)
        started.append(process)
        return process

    module.supervise(start, 1, clock=lambda: clock.now, sleep=clock.sleep)
    assert clock.pauses == [1.0, 1.0, 1.0]  # never a longer pause: each death came long after its start
    assert len(started) == 4 and started[-1].terminated


def _port_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` (as ``retrieval serve`` binds: SO_REUSEADDR, so the closed
    connections waiting out TIME_WAIT do not count; a socket still listening does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


def test_workers_exit_when_the_server_is_killed(bundle_dir):
    with serving(bundle_dir, "--workers", "2") as (url, process):
        port = int(url.rsplit(":", 1)[1])
        children = [int(c) for c in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()]
        workers = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 2
        process.kill()  # kill -9: no handler runs in the parent
        process.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(worker) for worker in workers):
            time.sleep(0.05)
        gone_after = time.monotonic() - (deadline - 10)
        assert not any(_alive(worker) for worker in workers)
        assert gone_after < 2.0, f"the workers took {gone_after:.1f} s to exit"
        assert _port_free(port)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited: nothing of it serves or holds the port
