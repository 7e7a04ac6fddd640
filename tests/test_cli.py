"""`bayesmm fit`: what it says about bad input (a sentence and exit code 2, never a
traceback). Its fits are run by tests/test_remote.py (to S3, then served)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


def _fit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bayesmm", "fit", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "rows.csv"
    path.write_text("y,x,g\n1.0,0.5,a\n2.0,1.5,b\n1.5,1.0,a\n")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["y ~ x", "rows.xlsx", "-o", "m.nc"], r"DATA must end in one of \['.csv', '.json'"),
        (["y ~ x", "missing.csv", "-o", "m.nc"], r"cannot read 'missing.csv'"),
        (["y ~ z", "TABLE", "-o", "m.nc"], r"'z'"),
        (
            ["y ~ x", "TABLE", "-o", "m.nc", "--family", "gausian"],
            r"got 'gausian'. Did you mean 'gaussian'",
        ),
        (["y ~ x", "TABLE", "-o", "m.nc", "--draws", "0"], r"draws must be an integer >= 1"),
        (["y ~ x", "TABLE", "-o", "m.nc", "--chains", "0"], r"chains must be an integer >= 1"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_code_2(table, tmp_path, args, message):
    args = [str(table) if a == "TABLE" else a for a in args]
    args = [str(tmp_path / a) if a == "m.nc" else a for a in args]
    out = _fit(*args)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("bayesmm fit: ")
    assert "Traceback" not in out.stderr
    assert re.search(message, out.stderr), out.stderr
    assert not (tmp_path / "m.nc").exists()


def test_the_help_lists_the_options():
    out = _fit("--help")
    for option in ("FORMULA", "DATA", "--output", "--family", "--draws", "--seed", "--quiet"):
        assert option in out.stdout
