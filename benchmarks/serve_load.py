"""Load test of ``bayesmm serve``: cold start, latency and throughput under 32 clients.

Run with ``python benchmarks/serve_load.py [MODEL_FILE] [--seconds 10]``. Without a file it
serves the shipped demo (lme4's sleepstudy, 500 posterior draws).

It starts the real server (``python -m bayesmm serve``, uvicorn, one process) on 127.0.0.1,
measures the time from launch to the first successful prediction, then drives it from this
process with 32 concurrent clients (asyncio + httpx) for each single-row endpoint:

- **paced**: the 32 clients together send 300 requests/s, evenly spread (each waits for its
  reply, then for its next slot), which measures latency at the target rate;
- **saturated**: the 32 clients send as fast as replies come back, which measures the most
  requests per second.

It prints p50/p99 latency, requests/s, failed requests, and the server's RSS before and
after. The server and the clients share the machine's cores.
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

import httpx
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_file", nargs="?")
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint and mode")
    args = parser.parse_args()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "bayesmm",
        "serve",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if args.model_file:
        command.insert(4, args.model_file)
    launched = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ})
    try:
        first = None
        while first is None:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with code {server.returncode}")
            try:
                response = httpx.post(f"{base}/v1/predict/point", json=BODIES["point"], timeout=5)
                if response.status_code == 200:
                    first = time.perf_counter() - launched
            except httpx.HTTPError:
                time.sleep(0.02)
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
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
