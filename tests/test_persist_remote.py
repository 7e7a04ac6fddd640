"""Model files at URLs: save and load on S3, `bayesmm fit -o s3://...` then
`bayesmm serve s3://...`, all against a local S3-compatible server (moto's server mode)
started here; nothing reaches the network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

moto_server = pytest.importorskip("moto.server")
pytest.importorskip("s3fs")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3():
    """A local S3 server with a bucket ``models``; its endpoint and dummy credentials in the
    environment of this process (for s3fs) and in ``env`` for the commands."""
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    settings = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        import s3fs

        # A filesystem cached before these settings (by another test) would keep its own.
        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem(skip_instance_cache=True).mkdir("models")
        yield {**os.environ, **settings}
        s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


@pytest.fixture
def sleep_fit(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    return model, model.fit(draws=50, chains=2, random_seed=1)


ROWS = pd.DataFrame({"Days": [0, 4.5, 9], "Subject": ["308", "372", "new"]})


def test_a_model_saved_to_s3_loads_back_the_same(s3, sleep_fit):
    model, idata = sleep_fit
    url = "s3://models/sleep/m.nc"
    assert model.save(url, idata, sample_new_groups="gaussian") == url
    loaded = bmm.load(url)
    expected = model.fitted(idata).point(ROWS, sample_new_groups="gaussian", random_seed=2)
    pd.testing.assert_frame_equal(loaded.point(ROWS, random_seed=2), expected)
    assert loaded.source["path"] == url


def test_bad_urls_are_named(s3, sleep_fit, monkeypatch):
    model, idata = sleep_fit
    with pytest.raises(bmm.ModelFileError, match=r"No model file at 's3://models/none.nc'"):
        bmm.load("s3://models/none.nc")
    model.save("s3://models/pinned.nc", idata)
    # The message names the URL, not the local copy.
    with pytest.raises(bmm.ModelFileError, match=r"^'s3://models/pinned.nc' has the SHA-256"):
        bmm.load("s3://models/pinned.nc", sha256="0" * 64)
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(bmm.ModelFileError, match=r"needs fsspec and s3fs \(pip install"):
        bmm.load("s3://models/pinned.nc")


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _post(base: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{base}{path}", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_fit_to_s3_then_serve_from_s3_predicts_as_the_in_process_model(s3, sleepstudy, tmp_path):
    """The train-and-serve pipeline: `bayesmm fit` writes to S3, `bayesmm serve` reads the
    same URL, and its predictions equal those of the same fit made in this process."""
    data = tmp_path / "sleepstudy.csv"
    sleepstudy.to_csv(data, index=False)
    url = "s3://models/cli/sleep.nc"
    fit = [str(data), "-o", url, "--sample-new-groups", "gaussian", "--quiet", "--seed", "7"]
    fit += ["--draws", "200", "--tune", "200", "--chains", "2"]
    out = subprocess.run(
        [sys.executable, "-m", "bayesmm", "fit", "Reaction ~ Days + (Days | Subject)", *fit],
        capture_output=True,
        text=True,
        env=s3,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"wrote {url!r}" in out.stdout
    # The same fit in this process, from the same table.
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", pd.read_csv(data))
    idata = model.fit(draws=200, tune=200, chains=2, random_seed=7, progressbar=False)
    here = model.fitted(idata)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "bayesmm", "serve", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=s3,
    )
    try:
        deadline = time.monotonic() + 120
        while not _ready(base):
            assert server.poll() is None, server.stderr.read()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
        rows = [{"Days": 3, "Subject": 308}, {"Days": 7.5, "Subject": 999}]  # 999 is new
        served = _post(base, "/v1/predict/point", {"rows": rows, "random_seed": 4})
        intervals = _post(base, "/v1/predict/interval", {"rows": rows, "random_seed": 4})
    finally:
        server.terminate()
        server.wait(60)
        server.stderr.close()
    frame = pd.DataFrame(rows)
    expected = here.point(frame, random_seed=4, sample_new_groups="gaussian")["mean"]
    np.testing.assert_array_equal([r["value"] for r in served["results"]], expected)
    expected = here.interval(frame, prob=0.94, random_seed=4, sample_new_groups="gaussian")
    np.testing.assert_array_equal([r["lower"] for r in intervals["results"]], expected["lower"])
