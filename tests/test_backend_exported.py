"""The JAX route's programs stored on disk (backend/exported.py): a new process that fits a
structure seen before reads its program instead of tracing NumPyro's sampler."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayesmm as bmm

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("numpyro") is None, reason="needs bayesmm[jax]"
)

FORMULA = "Reaction ~ Days + (Days | Subject)"
NAMES = ("start", "advance", "draws", "draws_and_log_likelihood")


@pytest.fixture
def jax():
    from bayesmm.backend.programs.jax import configure

    return configure()


def _functions(jax, function):
    x = np.arange(6.0).reshape(2, 3)
    return {name: (function, (jax.ShapeDtypeStruct(x.shape, x.dtype),), None) for name in NAMES}


def test_programs_are_written_and_read_back(jax, tmp_path):
    from bayesmm.backend.programs import exported

    folder = tmp_path / "programs" / "one"
    function = jax.jit(lambda x: (2 * x, x.sum(axis=1)))
    ran = exported.write(jax, folder, _functions(jax, function), ["b"], ["y"])
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{n}.bin" for n in NAMES] + ["meta.json"]
    )
    stored = exported.read(jax, folder, {})
    assert stored is not None and (stored.outputs, stored.observed) == (["b"], ["y"])
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for name in NAMES:
        for got, want in zip(stored.programs[name](x), ran[name](x), strict=True):
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(stored.programs["start"](x)[1], [6.0, 15.0])


def test_a_damaged_or_missing_program_is_traced_again(jax, tmp_path):
    from bayesmm.backend.programs import exported

    one, other = tmp_path / "one", tmp_path / "other"
    exported.write(jax, one, _functions(jax, jax.jit(lambda x: x + 1)), ["b"], ["y"])
    exported.write(jax, other, _functions(jax, jax.jit(lambda x: x - 1)), ["b"], ["y"])
    assert exported.read(jax, one, {}) is not None
    # A program that deserialises but is not the one meta.json records (another writer's
    # file, say) is not trusted; neither is a damaged one, nor a folder missing a file.
    (one / "draws.bin").write_bytes((other / "draws.bin").read_bytes())
    assert exported.read(jax, one, {}) is None
    (one / "draws.bin").write_bytes(b"not a program")
    assert exported.read(jax, one, {}) is None
    (one / "draws.bin").unlink()
    assert exported.read(jax, one, {}) is None
    assert exported.read(jax, None, {}) is None


def test_writers_of_one_folder_at_once_leave_it_whole(jax, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from bayesmm.backend.programs import exported

    folder = tmp_path / "p"
    functions = _functions(jax, jax.jit(lambda x: (x * 5, x.max())))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: exported.write(jax, folder, functions, ["b"], ["y"]), range(8)))
    assert not list(folder.glob("*.tmp"))
    stored = exported.read(jax, folder, {})
    assert stored is not None
    np.testing.assert_array_equal(stored.programs["advance"](np.ones((2, 3)))[1], 1.0)


def test_a_program_with_a_host_callback_runs_as_traced_and_is_not_stored(jax, tmp_path):
    from bayesmm.backend.programs import exported

    seen = []

    def noisy(x):
        jax.debug.callback(lambda v: seen.append(float(v)), x.sum())
        return x * 3

    folder = tmp_path / "p"
    ran = exported.write(jax, folder, _functions(jax, jax.jit(noisy)), ["b"], ["y"])
    np.testing.assert_array_equal(ran["start"](np.ones((2, 3))), np.full((2, 3), 3.0))
    jax.effects_barrier()
    assert seen == [6.0] and not folder.exists()


def test_only_the_most_recently_used_structures_are_kept(jax, tmp_path, monkeypatch):
    import os

    from bayesmm.backend.programs import exported

    monkeypatch.setattr(exported, "MAX_STORED", 3)
    functions = _functions(jax, jax.jit(lambda x: x + 2))
    for k, name in enumerate("abcd"):
        exported.write(jax, tmp_path / name, functions, ["b"], ["y"])
        os.utime(tmp_path / name, (k, k))  # written in this order, a second apart
    # "a" (the oldest) went when "d" came; reading "b" makes it the most recent.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "c", "d"]
    assert exported.read(jax, tmp_path / "b", {}) is not None
    exported.write(jax, tmp_path / "e", functions, ["b"], ["y"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "d", "e"]


def test_the_folder_follows_the_key_the_devices_and_the_cache(tmp_path):
    from bayesmm.backend.programs.exported import folder_for

    one = folder_for(str(tmp_path), ("structure", (3, 2)), 2, "cpu")
    assert one is not None and one.parent == tmp_path / "programs"
    assert one == folder_for(str(tmp_path), ("structure", (3, 2)), 2, "cpu")
    assert one != folder_for(str(tmp_path), ("structure", (4, 2)), 2, "cpu")
    assert one != folder_for(str(tmp_path), ("structure", (3, 2)), 1, "cpu")
    assert folder_for(None, ("structure", (3, 2)), 2, "cpu") is None


_FIT = (
    "import json, sys\n"
    "import bayesmm as bmm\n"
    "from bayesmm.backend import jax as route\n"
    "if sys.argv[1] == 'read':\n"
    "    def refuse(*args, **kwargs):\n"
    "        raise AssertionError('traced although the program was stored')\n"
    "    route._trace = route._funcify = refuse\n"
    "data = bmm.load_data('sleepstudy')\n"
    "out = {}\n"
    "for shift in (0, 1000):\n"
    "    # The reading process shows a progress bar: the stored program runs in segments.\n"
    "    bar = sys.argv[1] == 'read'\n"
    f"    idata = bmm.Model({FORMULA!r}, data.assign(Reaction=data['Reaction'] + shift)).fit(\n"
    "        draws=50, tune=50, chains=2, progressbar=bar, inference_method='numpyro',\n"
    "        random_seed=0)\n"
    "    out[shift] = {name: idata.posterior[name].values.ravel().tolist()\n"
    "                  for name in ('Intercept', 'Days', 'sigma')}\n"
    "    out[shift]['ll'] = float(idata.log_likelihood['Reaction'].sum())\n"
    "print('RESULT', json.dumps(out))\n"
)


def _run(mode, cache):
    src = str(Path(bmm.__file__).resolve().parent.parent)
    env = {**os.environ, "BAYESMM_JAX_CACHE": str(cache), "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", _FIT, mode],
        env=env,
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.split("RESULT ", 1)[1])


@pytest.mark.slow
def test_a_new_process_samples_from_the_stored_program_without_tracing(tmp_path):
    first = _run("trace", tmp_path)
    assert len(list((tmp_path / "programs").iterdir())) == 1
    # A process that may not trace (nor translate a graph to JAX) gets the same draws, with
    # a progress bar or without, and follows other data of the same shapes: the stored
    # program takes the data as arguments.
    again = _run("read", tmp_path)
    assert again == first
    # The priors scale with the data, so the posterior of the shifted data is the same one,
    # moved by 1000 ms: the means differ by Monte-Carlo error only. Four standard errors,
    # taking an effective sample size of at least half the 100 draws.
    shifted, plain = again["1000"], again["0"]
    for name, shift in (("Intercept", 1000), ("Days", 0)):
        a, b = np.asarray(shifted[name]), np.asarray(plain[name])
        error = np.sqrt((a.var() + b.var()) / 50)
        assert abs(a.mean() - b.mean() - shift) < 4 * error, name


def test_the_folder_follows_the_code_of_every_module_that_shapes_a_log_density():
    """A response's log density is a Python function (a CustomDist's) that the structure key
    cannot see: a changed likelihood must not find the programs the old one made."""
    from bayesmm.backend.programs.exported import code_files

    package = Path(bmm.__file__).resolve().parent
    names = {p.relative_to(package).as_posix() for p in code_files()}
    assert {"backend/graph/likelihoods.py", "backend/graph/cdfs.py", "families/builtin.py"} <= names
    assert names == {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
