"""`bayesmm fit`: what it says about bad input (a sentence and exit code 2, never a
traceback). Its fits are run by tests/test_persist_remote.py (to S3, then served)."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-o", "MISSING/m.nc"],
            r"--output must be in an existing directory; '.*missing' does not",
        ),
        (["-o", "FOLDER"], r"--output must be a file name; '.*' is a directory"),
        (
            ["-o", "gss://bucket/m.nc"],
            r"--output 'gss://bucket/m.nc' is not a URL fsspec can open: .*which fsspec does not know; .* Did you mean .*'gs'",
        ),
        (
            ["--sample-new-groups", "gausian"],
            r"sample_new_groups must be one of \[.*\]; got 'gausian'. Did you mean 'gaussian'\?",
        ),
        (["--inference-method", "nuts"], r"inference_method must be one of \[.*\]; got 'nuts'"),
        (["--family", "gausian"], r"got 'gausian'. Did you mean 'gaussian'"),
        (["--link", "logit"], r"link 'logit' is not allowed for family 'gaussian'"),
        (["--seed", "-1"], r"--seed must be a non-negative integer or None; got int -1"),
        (["--tune", "-1"], r"tune must be an integer >= 0; got -1"),
    ],
)
def test_every_argument_is_checked_before_the_data_are_read(tmp_path, capsys, args, message):
    from bayesmm.cli import main

    # DATA does not exist: a message about the options shows they were checked first.
    argv = ["fit", "y ~ x", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "m.nc")]
    args = [str(tmp_path / "missing" / "m.nc") if a == "MISSING/m.nc" else a for a in args]
    args = [str(tmp_path) if a == "FOLDER" else a for a in args]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bayesmm fit: ") and "cannot read" not in err
    assert re.search(message, err), err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_output_folder_that_cannot_be_written_is_refused_first(tmp_path, capsys):
    from bayesmm.cli import main

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert main(["fit", "y ~ x", "absent.csv", "-o", str(folder / "m.nc")]) == 2
    finally:
        folder.chmod(0o700)
    assert "must be in a directory you may write to" in capsys.readouterr().err


def test_a_boolean_policy_is_taken_in_words(tmp_path, monkeypatch, capsys):
    from bayesmm import cli

    def stop(path: str) -> None:
        raise ValueError("stopped after the checks")

    monkeypatch.setattr(cli, "_read_table", stop)
    for word in ("true", "False"):
        out = ["fit", "y ~ x", "t.csv", "-o", str(tmp_path / "m.nc"), "--sample-new-groups", word]
        assert cli.main(out) == 2
        assert "stopped after the checks" in capsys.readouterr().err
