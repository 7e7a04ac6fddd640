"""The served app's processes: large requests in compute processes (the same answers), a
bounded queue (503 with Retry-After), readiness, a graceful stop on SIGTERM with one and
with several server processes, and memory that stays flat over many requests.

The latency of light requests under heavy ones is measured by
``python benchmarks/serve_load.py --case mixed`` (see benchmarks/README.md), not timed here.
"""

from __future__ import annotations

import gc
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.request

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import bayesmm as bmm
from bayesmm.serve import create_app
from bayesmm.serve.compute import INLINE_ROWS
from bayesmm.serve.demo import DEMO_FILE

LARGE = [{"Days": i % 10, "Subject": ("308", "309", "new")[i % 3]} for i in range(INLINE_ROWS + 8)]


@pytest.fixture(scope="module")
def demo():
    return bmm.load(DEMO_FILE)


def test_large_requests_in_a_compute_process_equal_the_in_process_answers(demo):
    probs = [0.1, 0.5, 0.9]
    body = {"rows": LARGE, "quantiles": probs, "random_seed": 5, "sample_new_groups": True}
    with TestClient(create_app(DEMO_FILE)) as client:
        assert client.app.state.pool.executor is not None  # the lifespan started it
        assert client.get("/readyz").json() == {"status": "ready"}
        got = client.post("/v1/predict/density", json=body)
        # An error raised in the compute process is answered as in the server process.
        unseen = client.post("/v1/predict/point", json={"rows": LARGE, "sample_new_groups": False})
        huge = client.post(
            "/v1/predict/point", json={"rows": [{"Days": 1e308, "Subject": "308"}] * 40}
        )
    assert got.status_code == 200, got.text
    expected = demo.quantiles(
        pd.DataFrame(LARGE), probs=probs, random_seed=5, sample_new_groups=True
    )
    np.testing.assert_array_equal([r["quantiles"] for r in got.json()["results"]], expected)
    assert unseen.status_code == 422
    assert "'new'" in unseen.json()["detail"][0]["msg"]
    assert (
        unseen.json()["detail"][0]["msg"]
        == TestClient(create_app(demo))
        .post("/v1/predict/point", json={"rows": LARGE, "sample_new_groups": False})
        .json()["detail"][0]["msg"]
    )
    assert huge.status_code == 422 and "row(s) [0, 1, 2" in huge.json()["detail"][0]["msg"]


def test_a_full_queue_answers_503_with_retry_after_and_small_requests_still_pass(demo, monkeypatch):
    release, started = threading.Event(), threading.Event()
    draws = demo.draws

    def slow_when_large(data, *args, **kwargs):
        if len(data) > INLINE_ROWS:
            started.set()
            release.wait(30)
        return draws(data, *args, **kwargs)

    monkeypatch.setattr(demo, "draws", slow_when_large)
    client = TestClient(create_app(demo, compute_processes=0, max_queue=0))
    answers = {}
    first = threading.Thread(
        target=lambda: answers.setdefault(
            "first", client.post("/v1/predict/point", json={"rows": LARGE})
        )
    )
    first.start()
    assert started.wait(30)
    refused = client.post("/v1/predict/point", json={"rows": LARGE})
    small = client.post("/v1/predict/point", json={"rows": LARGE[:1]})
    release.set()
    first.join(30)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert "its limit" in refused.json()["detail"]
    assert small.status_code == 200 and answers["first"].status_code == 200


def test_the_pool_options_are_checked():
    with pytest.raises(bmm.DataError, match=r"compute_processes must be an integer >= 0; got -1"):
        create_app(DEMO_FILE, compute_processes=-1)
    with pytest.raises(bmm.DataError, match=r"max_queue must be an integer >= 0; got 1.5"):
        create_app(DEMO_FILE, max_queue=1.5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_lets_a_request_in_flight_finish_then_exits_0(workers):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bayesmm", "serve", "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while _get(f"http://127.0.0.1:{port}/readyz") != 200:
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.1)
        assert _get(f"http://127.0.0.1:{port}/healthz") == 200
        # A large density whose body is sent in two parts: SIGTERM arrives in between, while
        # the request is in flight.
        body = json.dumps({"rows": LARGE * 25, "bins": 20}).encode()
        head = (
            "POST /v1/predict/density HTTP/1.1\r\nhost: test\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(head.encode() + body[:50])
            time.sleep(0.5)
            server.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            sock.sendall(body[50:])
            answer = b""
            while chunk := sock.recv(1 << 16):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:300]
        results = json.loads(answer.split(b"\r\n\r\n", 1)[1])["results"]
        assert len(results) == len(LARGE) * 25
        assert server.wait(60) == 0
        # The socket is closed: nothing accepts new requests.
        assert _get(f"http://127.0.0.1:{port}/healthz") == 0
    finally:
        if server.poll() is None:
            server.kill()
        output = server.stdout.read()
        server.stdout.close()
        server.wait()
    assert "Traceback" not in output, output


def test_memory_stays_flat_over_many_requests(demo):
    client = TestClient(create_app(demo, compute_processes=0))
    bodies = [
        ("point", {"rows": [{"Days": 3, "Subject": "308"}]}),
        ("interval", {"rows": [{"Days": 3, "Subject": "new"}], "random_seed": 1}),
        ("density", {"rows": [{"Days": 3, "Subject": "309"}], "bins": 10}),
        ("point", {"rows": LARGE}),
    ]

    def send(n):
        for i in range(n):
            name, body = bodies[i % len(bodies)]
            assert client.post(f"/v1/predict/{name}", json=body).status_code == 200

    send(200)  # every code path loaded, caches filled
    gc.collect()
    tracemalloc.start()
    try:
        send(200)
        gc.collect()
        middle = tracemalloc.get_traced_memory()[0]
        send(800)
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # pandas prunes its weak references in batches, a swing of up to about 70 kB; a leak of
    # a frame, an answer or a request's draws (kilobytes each) would add megabytes.
    assert end - middle < 200_000, (middle, end)
