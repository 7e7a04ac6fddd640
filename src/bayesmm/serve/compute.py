"""Where a prediction request is computed, and how many may wait.

Light requests (at most :data:`INLINE_ROWS` rows, about a millisecond of numpy) are answered
on the event loop: a hop to another thread or process would cost more than the work. Heavy
ones go to a small pool of **compute processes** that run at a lower CPU priority
(``nice``), so that on a busy machine the operating system gives the cores to the light
requests first and the heavy ones use what is left: a batch of densities cannot hold up a
one-row point, neither through the CPU nor through the GIL. Each compute process gets the
model once, when it starts, and answers with the response's JSON bytes, so the server
process neither validates nor serialises a large answer on its event loop.

Admission control bounds the heavy work: at most ``processes + max_queue`` heavy requests
are computed or waiting at once; the next one is refused at once with a 503 and a
``Retry-After`` header (the time the queue needs to drain, from the recent durations),
rather than waiting without bound. Without compute processes (``processes=0``, or an app
whose lifespan has not started, as under a test client), heavy requests run in the thread
pool under the same bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

__all__ = ["INLINE_ROWS", "ComputePool", "Overloaded"]

#: Requests of at most this many rows are computed on the event loop.
INLINE_ROWS = 32

#: A compute process's niceness above the server's: lower priority for heavy requests.
NICENESS = 10

#: Seconds the compute processes may take to start (import bayesmm, receive the model).
START_SECONDS = 300.0

#: What a compute process answers with: set once, when it starts (one model per process).
_WORKER: dict[str, Any] = {}


class Overloaded(Exception):
    """The heavy-request queue is full: answered with a 503 and ``Retry-After``."""

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(
            f"The server is computing or queueing {limit} large requests, its limit; retry "
            f"in {retry_after} s, or send batches of at most {INLINE_ROWS} rows."
        )
        self.retry_after = retry_after


def _start_worker(path: str, digest: str) -> None:
    """A compute process's initializer: lower priority, signals left to the server (which
    shuts the pool down after its in-flight requests), and the model's answerer built once.

    The answerer comes in a file the server wrote for this (private to its user, removed
    once the processes have started) and is read only if it has the digest the server gave:
    passing a large model through the start-up pipe instead would leave the server waiting
    forever on a process that died while starting.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # a platform without nice: same priority
        os.nice(NICENESS)
    payload = Path(path).read_bytes()
    if hashlib.sha256(payload).hexdigest() != digest:
        raise RuntimeError(f"{path!r} is not the file the server wrote for its processes.")
    _WORKER["answer"] = pickle.loads(payload)()


def _answer_in_worker(endpoint: str, body: str) -> bytes:
    return _WORKER["answer"](endpoint, body)


def _ready() -> int:
    return os.getpid()


class ComputePool:
    """The compute processes of one server process, and the admission control of heavy
    requests.

    Parameters
    ----------
    make : callable
        Builds, in a compute process, ``answer(endpoint, json_body) -> bytes``; it must pickle (a
        module-level function or a ``functools.partial`` of one).
    processes : int
        Compute processes; 0 computes heavy requests in the thread pool.
    max_queue : int
        Heavy requests that may wait beyond those being computed.
    """

    def __init__(self, make: Callable[[], Any], processes: int, max_queue: int) -> None:
        self.make = make
        self.processes = processes
        self.limit = max(processes, 1) + max_queue
        self.in_flight = 0
        self.seconds = 0.1  # a running mean of a heavy request's duration
        self.executor: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the compute processes and wait until each has the model.

        Raises
        ------
        RuntimeError
            If a compute process exits while starting (or none has started in
            :data:`START_SECONDS`), saying the likely cause.
        """
        if self.processes == 0 or self.executor is not None:
            return
        payload = pickle.dumps(self.make)
        folder = Path(tempfile.mkdtemp(prefix="bayesmm-serve-"))  # readable by this user only
        try:
            path = folder / "answerer.pickle"
            path.write_bytes(payload)
            self.executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(str(path), hashlib.sha256(payload).hexdigest()),
            )
            await self._wait_until_started()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def _wait_until_started(self) -> None:
        assert self.executor is not None
        loop = asyncio.get_running_loop()
        pending = {loop.run_in_executor(self.executor, _ready) for _ in range(self.processes)}
        try:
            await asyncio.wait_for(asyncio.gather(*pending), START_SECONDS)
        except (BrokenProcessPool, TimeoutError) as err:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None
            raise RuntimeError(
                "The server's compute processes did not start"
                + (" in time" if isinstance(err, TimeoutError) else "")
                + ". Python starts them by importing the main script again: a script that "
                'builds and runs the app must do so under `if __name__ == "__main__":`. '
                "Or pass compute_processes=0 to compute every request in the server process."
            ) from err

    def stop(self) -> None:
        """Let the compute processes finish what they have, then end them."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def retry_after(self) -> int:
        """Seconds until the queue has drained, at the recent pace (at least 1)."""
        return max(1, math.ceil(self.seconds * self.in_flight / max(self.processes, 1)))

    async def heavy(self, endpoint: str, body: str, local: Callable[[], bytes]) -> bytes:
        """Compute a heavy request in a compute process (``body``, the request's JSON) or,
        without them, ``local()`` in the thread pool; an :class:`Overloaded` when full."""
        if self.in_flight >= self.limit:
            raise Overloaded(self.retry_after(), self.limit)
        self.in_flight += 1
        start = time.perf_counter()
        try:
            if self.executor is None:
                return await run_in_threadpool(local)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, _answer_in_worker, endpoint, body)
        finally:
            self.in_flight -= 1
            self.seconds = 0.8 * self.seconds + 0.2 * (time.perf_counter() - start)
