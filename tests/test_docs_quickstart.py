"""The README's first command: a plain install takes the JAX route, and the quickstart runs on
bundled data and prints no warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bayesmm.backend.samplers import SAMPLERS

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart.py"


def test_a_plain_install_brings_the_jax_route():
    """`pip install .` brings NumPyro, which "auto" picks for small data: without it the
    quickstart samples with nutpie, which compiles again in every process."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in project["dependencies"]}
    assert {*SAMPLERS["numpyro"].packages, *SAMPLERS["blackjax"].packages} <= core
    # The extra stays, so that `pip install "bayesmm[jax]"` (in the errors' advice) works.
    assert "jax" in project["optional-dependencies"]


@pytest.mark.slow
def test_the_quickstart_prints_its_summary_and_no_warning(tmp_path):
    # A fresh cache folder: arviz announces its refactor on its first import of the day.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    env.pop("PYTHONWARNINGS", None)
    out = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Warning" not in out.stderr and "warn(" not in out.stderr, out.stderr[-3000:]
    assert "Days|Subject_sigma" in out.stdout and "r_hat" in out.stdout
    assert (tmp_path / "quickstart_trace.png").stat().st_size > 10_000
