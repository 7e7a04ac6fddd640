"""Running the app: one server process, or several sharing one socket, with a graceful stop.

A server process (uvicorn) stops on SIGTERM or SIGINT by closing its socket, letting the
requests in flight finish within a deadline, stopping its compute processes, and exiting
with code 0. With ``workers > 1``, a small supervisor binds the socket, starts that many
server processes (each loads the model file once and builds its own app), restarts one that
dies, and on SIGTERM or SIGINT asks each to stop as above and waits for them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

__all__ = ["run_server", "serve_file"]

_log = logging.getLogger("bayesmm.serve")

#: A server process that exits sooner than this after starting is not restarted: it would
#: only fail again (a port in use, a file that no longer loads).
STEADY_SECONDS = 10.0


def _ignore(signum: int, frame: FrameType | None) -> None:
    """After its graceful stop, uvicorn raises the signal again for the previous handler;
    this one lets the process end normally, with code 0, instead of being killed by it."""


def run_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    *,
    graceful_seconds: int = 30,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Serve ``app`` with uvicorn in this process until SIGTERM or SIGINT, then stop
    gracefully: requests in flight get ``graceful_seconds`` to finish."""
    import uvicorn

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _ignore)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_seconds,
    )
    uvicorn.Server(config).run(sockets=sockets)


def _server_process(
    make_app: Callable[[], Any], sock: socket.socket, options: dict[str, Any]
) -> None:
    """A server process of the supervisor: build the app, serve on the shared socket."""
    run_server(make_app(), sockets=[sock], **options)


def serve_file(
    make_app: Callable[[], Any],
    *,
    workers: int = 1,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    graceful_seconds: int = 30,
) -> int:
    """Serve the app ``make_app()`` builds (it must pickle: a ``functools.partial`` of
    ``create_app`` and a file's path) in ``workers`` processes; returns the exit code."""
    options: dict[str, Any] = {"log_level": log_level, "graceful_seconds": graceful_seconds}
    if workers == 1:
        run_server(make_app(), host=host, port=port, **options)
        return 0
    sock = socket.create_server((host, port), reuse_port=False, backlog=2048)
    sock.set_inheritable(True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    context = multiprocessing.get_context("spawn")
    start = partial(context.Process, target=_server_process, args=(make_app, sock, options))
    processes, started = [start() for _ in range(workers)], [time.monotonic()] * workers
    for process in processes:
        process.start()
    code = 0
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if time.monotonic() - started[i] < STEADY_SECONDS:
                    _log.error("server process %d exited at start (code %s)", i, process.exitcode)
                    code = 1
                    stop.set()
                    break
                _log.warning("server process %d exited (code %s); restarting", i, process.exitcode)
                processes[i], started[i] = start(), time.monotonic()
                processes[i].start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: each stops gracefully
        for process in processes:
            process.join(graceful_seconds + 10)
            if process.is_alive():
                process.kill()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
