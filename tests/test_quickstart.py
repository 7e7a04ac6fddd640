"""The README's first command: the quickstart runs on bundled data and prints no warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.py"


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
