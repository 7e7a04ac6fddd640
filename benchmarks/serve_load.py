"""Load test of ``bayesmm serve``: cold start, latency and throughput, mixed load, memory.

Run with ``python benchmarks/serve_load.py [MODEL_FILE] [--case single|mixed|memory]``.
Without a file it serves the shipped demo (lme4's sleepstudy, 500 posterior draws). Each
case starts the real server (``python -m bayesmm serve``, uvicorn) on 127.0.0.1 and drives
it from other processes (asyncio + httpx2); the server and the clients share the machine's
cores.

- ``single`` (the default; ``--seconds 10`` per endpoint and mode): the time from launch to
  the first successful prediction, then 32 concurrent clients for each single-row endpoint,
  **paced** (the 32 together send 300 requests/s, evenly spread: latency at that rate) and
  **saturated** (each sends its next request when the last is answered: the most
  requests/s). It prints p50/p99 latency, requests/s, failed requests, and the server's RSS
  before and after.
- ``mixed`` (``--seconds 20`` per configuration): closed-loop clients, each sending its next
  request when the last is answered: 4 heavy clients sending the largest allowed request
  (1,000 rows, response densities) and 8 light clients sending one-row points, from two
  client processes (so parsing the heavy answers does not delay the light clients). For 1
  and 2 server processes (``--workers``), and for comparison with large requests computed in
  the server process (``--compute-processes 0``), it prints p50/p99 of the light and the
  heavy requests, and how many got a 503 (with ``Retry-After``), another error, or no answer.
- ``memory`` (``--requests 100000``): that many requests (one-row points, intervals and
  densities in turn, and one 1,000-row density in 50) from 16 clients, with the RSS of the
  server and its compute processes after a warm-up and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import numpy as np

CLIENTS = 32
PACED_RATE = 300.0
BODIES = {
    "point": {"rows": [{"Days": 4, "Subject": "308"}]},
    "interval": {"rows": [{"Days": 4, "Subject": "308"}], "prob": 0.9},
    "density": {"rows": [{"Days": 4, "Subject": "308"}], "bins": 20},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _client(
    http: httpx.AsyncClient,
    url: str,
    body: dict,
    until: float,
    interval: float | None,
    offset: float,
) -> tuple[list[float], int]:
    latencies, failures = [], 0
    next_slot = time.perf_counter() + offset  # staggered: requests arrive evenly spread
    while True:
        now = time.perf_counter()
        if now >= until:
            return latencies, failures
        if interval is not None:
            if next_slot > now:
                await asyncio.sleep(next_slot - now)
            next_slot += interval
        start = time.perf_counter()
        try:
            response = await http.post(url, json=body)
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append(time.perf_counter() - start)
        failures += not ok


async def _drive(url: str, body: dict, seconds: float, rate: float | None) -> dict:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await http.post(url, json=body)  # warm the connection pool path
        start = time.perf_counter()
        until = start + seconds
        interval = None if rate is None else CLIENTS / rate
        results = await asyncio.gather(
            *(
                _client(http, url, body, until, interval, i * (interval or 0) / CLIENTS)
                for i in range(CLIENTS)
            )
        )
        elapsed = time.perf_counter() - start
    latencies = np.concatenate([np.asarray(r[0]) for r in results]) * 1e3
    return {
        "requests": latencies.size,
        "failed": sum(r[1] for r in results),
        "rps": latencies.size / elapsed,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
    }


def _start(model_file: str | None, *options: str) -> tuple[subprocess.Popen, str, float]:
    """Launch the server; return it, its base URL, and the seconds to its first prediction."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bayesmm", "serve", *([model_file] if model_file else [])]
    command += ["--port", str(port), "--log-level", "warning", *options]
    launched = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ})
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            response = httpx.post(f"{base}/v1/predict/point", json=BODIES["point"], timeout=5)
            if response.status_code == 200:
                return server, base, time.perf_counter() - launched
        except httpx.HTTPError:
            time.sleep(0.02)


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=60)


def _tree_rss_mb(pid: int) -> float:
    """The RSS of a process and of its descendants (server and compute processes)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += _rss_mb(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            todo.extend(int(c) for c in (task / "children").read_text().split())
    return total


def _wait_ready(base: str, replies: int = 20) -> None:
    """Until ``replies`` readiness checks in a row succeed (every server process is up)."""
    ok = 0
    while ok < replies:
        try:
            ok = ok + 1 if httpx.get(f"{base}/readyz", timeout=5).status_code == 200 else 0
        except httpx.HTTPError:
            ok = 0
        time.sleep(0.05)


def case_single(args: argparse.Namespace) -> None:
    server, base, first = _start(args.model_file)
    try:
        print(f"cold start (launch to first successful prediction): {first:.2f} s")
        for name, body in BODIES.items():  # one request each, so every code path is loaded
            httpx.post(f"{base}/v1/predict/{name}", json=body, timeout=30).raise_for_status()
        time.sleep(1.5)  # the app imports ArviZ in the background at start-up
        print(f"server RSS at start (after one request per endpoint): {_rss_mb(server.pid):.0f} MB")
        print(f"{CLIENTS} concurrent clients, {args.seconds:g} s per endpoint and mode, single row")
        print(
            f"{'endpoint':<10}{'mode':<11}{'requests':>9}{'failed':>8}{'req/s':>8}"
            f"{'p50 ms':>9}{'p99 ms':>9}"
        )
        for mode, rate in (("paced", PACED_RATE), ("saturated", None)):
            for name, body in BODIES.items():
                stats = asyncio.run(_drive(f"{base}/v1/predict/{name}", body, args.seconds, rate))
                print(
                    f"{name:<10}{mode:<11}{stats['requests']:>9}{stats['failed']:>8}"
                    f"{stats['rps']:>8.0f}{stats['p50']:>9.1f}{stats['p99']:>9.1f}"
                )
        print(f"server RSS at end: {_rss_mb(server.pid):.0f} MB")
    finally:
        _stop(server)


HEAVY = {"rows": [{"Days": i % 10, "Subject": "308"} for i in range(1000)], "bins": 20}


async def _closed_loop(url: str, body: dict, clients: int, seconds: float) -> dict:
    """``clients`` closed-loop clients for ``seconds``: latencies of the 200s, and the other
    answers by status (``"none"``: no answer within 60 s or a broken connection)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        until = time.perf_counter() + seconds

        async def one() -> None:
            while time.perf_counter() < until:
                start = time.perf_counter()
                try:
                    response = await http.post(url, json=body)
                    status = str(response.status_code)
                    if status == "503":
                        assert "retry-after" in response.headers, "a 503 without Retry-After"
                        await asyncio.sleep(float(response.headers["retry-after"]))
                except httpx.HTTPError:
                    status = "none"
                if status == "200":
                    latencies.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(one() for _ in range(clients)))
    return {"latencies": latencies, "statuses": statuses}


def _drive_process(url: str, body: dict, clients: int, seconds: float) -> dict:
    return asyncio.run(_closed_loop(url, body, clients, seconds))


def _percentiles(latencies: list[float]) -> str:
    if not latencies:
        return f"{'-':>9}{'-':>9}"
    ms = np.asarray(latencies) * 1e3
    return f"{np.percentile(ms, 50):>9.1f}{np.percentile(ms, 99):>9.1f}"


def case_mixed(args: argparse.Namespace) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    print(
        f"closed loop, {args.seconds:g} s each: 4 heavy clients (1,000-row densities), "
        "8 light clients (one-row points)"
    )
    print(
        f"{'server':<36}{'light p50':>10}{'p99 ms':>8}{'heavy p50':>10}{'p99 ms':>8}"
        f"{'light':>8}{'heavy':>7}{'503':>6}{'other':>7}"
    )
    configurations = [
        ("1 process, large in-process", ["--workers", "1", "--compute-processes", "0"]),
        ("1 process, 1 compute process", ["--workers", "1"]),
        ("2 processes, large in-process", ["--workers", "2", "--compute-processes", "0"]),
        ("2 processes, 1 compute process each", ["--workers", "2"]),
    ]
    context = multiprocessing.get_context("spawn")
    for label, options in configurations:
        server, base, _ = _start(args.model_file, *options)
        try:
            _wait_ready(base)
            with ProcessPoolExecutor(2, mp_context=context) as drivers:
                heavy = drivers.submit(
                    _drive_process, f"{base}/v1/predict/density", HEAVY, 4, args.seconds
                )
                light = drivers.submit(
                    _drive_process, f"{base}/v1/predict/point", BODIES["point"], 8, args.seconds
                )
                heavy_stats, light_stats = heavy.result(), light.result()
        finally:
            _stop(server)
        statuses = {**heavy_stats["statuses"]}
        for key, count in light_stats["statuses"].items():
            statuses[key] = statuses.get(key, 0) + count
        other = sum(n for k, n in statuses.items() if k not in ("200", "503"))
        print(
            f"{label:<36}{_percentiles(light_stats['latencies'])[:-9]:>10}"
            f"{_percentiles(light_stats['latencies'])[-9:]:>8}"
            f"{_percentiles(heavy_stats['latencies'])[:-9]:>10}"
            f"{_percentiles(heavy_stats['latencies'])[-9:]:>8}"
            f"{len(light_stats['latencies']):>8}{len(heavy_stats['latencies']):>7}"
            f"{statuses.get('503', 0):>6}{other:>7}"
        )


async def _many(base: str, total: int, clients: int) -> dict:
    """``total`` requests from ``clients`` clients: one-row points, intervals and densities
    in turn, and a 1,000-row density every 50th."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    statuses: dict[int, int] = {}
    sent = 0
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def one() -> None:
            nonlocal sent
            while sent < total:
                i, sent = sent, sent + 1
                name = ("point", "interval", "density")[i % 3]
                body = HEAVY if i % 50 == 49 else {**BODIES[name], "random_seed": i}
                url = f"{base}/v1/predict/{'density' if i % 50 == 49 else name}"
                response = await http.post(url, json=body)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(one() for _ in range(clients)))
    return statuses


def case_memory(args: argparse.Namespace) -> None:
    server, base, _ = _start(args.model_file)
    try:
        _wait_ready(base)
        asyncio.run(_many(base, 2000, 16))  # warm up: every path, the allocator's pools
        time.sleep(1.0)
        before = _tree_rss_mb(server.pid)
        print(f"RSS of the server and its compute process after 2,000 requests: {before:.0f} MB")
        start = time.perf_counter()
        statuses = asyncio.run(_many(base, args.requests, 16))
        elapsed = time.perf_counter() - start
        after = _tree_rss_mb(server.pid)
        print(
            f"after {args.requests:,} more requests ({elapsed:.0f} s, statuses {statuses}): "
            f"{after:.0f} MB ({after - before:+.0f} MB)"
        )
    finally:
        _stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_file", nargs="?")
    parser.add_argument("--case", choices=["single", "mixed", "memory"], default="single")
    parser.add_argument("--seconds", type=float, default=None, help="per endpoint and mode")
    parser.add_argument("--requests", type=int, default=100_000, help="for --case memory")
    args = parser.parse_args()
    if args.seconds is None:
        args.seconds = 20.0 if args.case == "mixed" else 10.0
    {"single": case_single, "mixed": case_mixed, "memory": case_memory}[args.case](args)


if __name__ == "__main__":
    main()
