"""Paths and URLs that cannot be read or written: every error is a ``ModelFileError`` (or a
``DataError`` for a path that is no path) naming what the caller gave, for ``bmm.load``,
``save``, ``bayesmm fit -o`` and ``bayesmm serve``; and ``file://`` URLs are local files.

The URLs go to 127.0.0.1 only, on a port nothing listens on, or to protocols fsspec does not
know. The last test fuzzes ``bmm.load``'s arguments.
"""

from __future__ import annotations

import os
import pathlib
import re
import socket
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmm as bmm
from bayesmm.fitted import FittedModel

pytest.importorskip("fsspec")

FORMULA = "Reaction ~ Days + (1|Subject)"


@pytest.fixture(scope="module")
def closed_port():
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def fitted(stub_sampler, sleepstudy):
    model = bmm.Model(FORMULA, sleepstudy)
    return model, model.fit(draws=5, chains=1, random_seed=1)


@pytest.fixture
def saved(fitted, tmp_path):
    model, idata = fitted
    return model.save(tmp_path / "model.nc", idata)


# --- URLs ------------------------------------------------------------------------------------


def test_a_closed_ftp_port_is_our_error_for_load_and_save(fitted, closed_port):
    model, idata = fitted
    url = f"ftp://127.0.0.1:{closed_port}/m.nc"
    expected = rf"'{url}': ConnectionRefusedError: .*check the host and port in the URL"
    with pytest.raises(bmm.ModelFileError, match=rf"Could not read {expected}"):
        bmm.load(url)
    with pytest.raises(bmm.ModelFileError, match=rf"Could not write {expected}"):
        model.save(url, idata)
    with pytest.raises(bmm.ModelFileError, match=rf"Could not write {expected}"):
        model.fitted(idata).save(url)


@pytest.mark.parametrize("url", ["nosuch://bucket/m.nc", "zzz+qq://host/m.nc"])
def test_an_unknown_protocol_is_our_error_for_load_and_save(fitted, url):
    model, idata = fitted
    match = rf"'{re.escape(url)}' is not a URL fsspec can open: Protocol not known: .*Check the"
    with pytest.raises(bmm.ModelFileError, match=match):
        bmm.load(url)
    with pytest.raises(bmm.ModelFileError, match=match):
        model.save(url, idata)


def test_hdfs_without_java_says_what_to_check(fitted, closed_port):
    pytest.importorskip("pyarrow")
    model, idata = fitted
    url = f"hdfs://127.0.0.1:{closed_port}/m.nc"
    for action, call in (
        ("read", lambda: bmm.load(url)),
        ("write", lambda: model.save(url, idata)),
    ):
        with pytest.raises(bmm.ModelFileError, match=rf"Could not {action} '{url}': .*JAVA_HOME"):
            call()


def test_a_missing_driver_says_what_to_install(fitted, monkeypatch):
    model, idata = fitted
    monkeypatch.setitem(sys.modules, "fsspec", None)  # as if it were not installed
    with pytest.raises(
        bmm.ModelFileError,
        match=r"'s3://bucket/m.nc' is a URL: reading and writing URLs needs fsspec and s3fs "
        r"\(pip install 'bayesmm\[remote\]' s3fs\)",
    ):
        bmm.load("s3://bucket/m.nc")
    with pytest.raises(bmm.ModelFileError, match=r"needs fsspec and s3fs"):
        model.save("s3://bucket/m.nc", idata)


def test_the_cli_fit_and_serve_say_it_in_a_sentence(fitted, closed_port, tmp_path, capsys):
    from bayesmm import cli

    rows = tmp_path / "rows.csv"
    bmm.load_data("sleepstudy").to_csv(rows, index=False)
    url = f"ftp://127.0.0.1:{closed_port}/m.nc"
    assert (
        cli.main(["fit", FORMULA, str(rows), "-o", url, "--draws", "5", "--chains", "1", "--quiet"])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("bayesmm fit: ") and "Traceback" not in err
    assert f"Could not write '{url}': ConnectionRefusedError" in err
    pytest.importorskip("bayesmm.serve")
    assert cli.main(["serve", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bayesmm serve: cannot serve '{url}': Could not read '{url}'")


# --- local paths -------------------------------------------------------------------------------


def test_a_file_url_is_a_local_path_for_load_and_save(fitted, saved, tmp_path):
    model, idata = fitted
    expected = bmm.load(saved).point()
    for url in (f"file://{saved}", f"FILE://{saved}", f"file://localhost{saved}"):
        assert bmm.load(url).point().equals(expected)
    written = model.save(f"file://{tmp_path / 'again.nc'}", idata)
    assert written == tmp_path / "again.nc" and bmm.load(written).point().equals(expected)
    assert model.fitted(idata).save(f"file://{tmp_path / 'third.nc'}").exists()


def test_a_missing_file_url_quotes_what_was_given(tmp_path, saved, monkeypatch):
    url = f"file://{tmp_path / 'missing.nc'}"
    with pytest.raises(bmm.io.ModelFileNotFoundError, match=rf"^No model file at '{url}'\.$"):
        bmm.load(url)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(bmm.io.ModelFileNotFoundError, match=r"^No model file at 'file://nope\.nc'"):
        bmm.load("file://nope.nc")
    with pytest.raises(bmm.io.ModelFileNotFoundError, match=r"^No model file at '\./nope\.nc'"):
        bmm.load("./nope.nc")
    # A damaged file's message names the URL too.
    (tmp_path / "empty.nc").write_bytes(b"")
    with pytest.raises(bmm.ModelFileError, match=r"^'file://empty\.nc' is not a bayesmm model"):
        bmm.load("file://empty.nc")
    assert bmm.load("file://model.nc").spec.formula == FORMULA


def test_a_path_the_filesystem_refuses_is_our_error(fitted, tmp_path):
    model, idata = fitted
    long = str(tmp_path / ("x" * 300 + ".nc"))
    with pytest.raises(
        bmm.ModelFileError, match=r"Could not read '.*x{20}.*': OSError: File name too long"
    ):
        bmm.load(long)
    with pytest.raises(
        bmm.ModelFileError, match=r"Could not write '.*': OSError: File name too long"
    ):
        model.save(long, idata)
    # Text the filesystem cannot encode: no such file (Python's pathlib says so).
    with pytest.raises(bmm.ModelFileError, match=r"'.*\\ud800.nc'"):
        bmm.load(str(tmp_path / "\ud800.nc"))
    with pytest.raises(bmm.DataError, match=r"path must not contain a NUL character"):
        bmm.load("m\x00.nc")
    with pytest.raises(bmm.DataError, match=r"path must not contain a NUL character"):
        model.save("m\x00.nc", idata)
    with pytest.raises(bmm.DataError, match=r"path must be a file name; '.*' is a directory"):
        model.save(f"file://{tmp_path}", idata)


# --- bmm.load takes any value ------------------------------------------------------------------


class _PathLike:
    """A path-like object whose ``__fspath__`` gives ``value`` (or raises it)."""

    def __init__(self, value):
        self.value = value

    def __fspath__(self):
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value

    def __repr__(self):
        return f"_PathLike({self.value!r})"


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), max_size=3),
    st.tuples(st.text(max_size=8)),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.sets(st.text(max_size=4), max_size=2),
    st.just(object()),
    st.just(b"model.nc"),
)


def _paths(folder: pathlib.Path):
    """Paths and URLs of every kind, and values that are not paths; no network but to
    nothing at all (unknown protocols)."""
    good, missing = str(folder / "model.nc"), str(folder / "missing.nc")
    named = st.sampled_from(
        [
            good,
            pathlib.Path(good),
            f"file://{good}",
            missing,
            f"file://{missing}",
            str(folder),
            f"file://{folder}",
            "nosuch://bucket/m.nc",
            "://m.nc",
            "file://",
            "m\x00.nc",
            str(folder / "\udcff.nc"),
            "x" * 5000,
            str(folder / ("y" * 300)),
        ]
    )
    text = st.text(max_size=40).filter(lambda t: "://" not in t)
    objects = st.one_of(text, _ANY).map(_PathLike) | st.just(_PathLike(OSError("no")))
    return st.one_of(named, named, text.map(lambda t: str(folder / t)), _ANY, objects)


def _modules():
    entries = st.one_of(
        st.sampled_from(["_custom_links", "numpy", "numpy:tanh", "", "a b", "os:system"]),
        st.text(max_size=12),
        _ANY,
    )
    return st.one_of(
        st.just(()),
        st.lists(entries, max_size=3),
        st.lists(entries, max_size=3).map(tuple),
        _ANY,
    )


def test_any_argument_to_load_gets_a_model_or_one_of_our_errors(saved, tmp_path):
    folder = saved.parent
    assert saved == folder / "model.nc"

    @settings(
        max_examples=300,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        path=_paths(folder),
        trusted=st.one_of(st.booleans(), st.booleans(), _ANY),
        allow_modules=_modules(),
    )
    def check(path, trusted, allow_modules):
        try:
            loaded = bmm.load(path, trusted=trusted, allow_modules=allow_modules)
        except bmm.BayesmmError:
            return
        except TypeError as err:
            # Ours: raised by bayesmm's own check, naming the argument.
            assert str(err).startswith(("trusted must be", "allow_modules must be")), err
            frames = [code.co_filename for code in _frames(err.__traceback__)]
            assert os.sep + "bayesmm" + os.sep in frames[-1], frames[-1]
            return
        assert isinstance(loaded, FittedModel)

    check()


def _frames(traceback):
    while traceback is not None:
        yield traceback.tb_frame.f_code
        traceback = traceback.tb_next
