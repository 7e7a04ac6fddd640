"""Importing bayesmm is light, and what it silences stays silenced when a dependency loads later.

Each check runs in a fresh interpreter: this process has imported everything already.
"""

from __future__ import annotations

import os
import subprocess
import sys

#: Loaded on first use, never by ``import bayesmm`` (docs/architecture.md, "Import cost").
ON_FIRST_USE = (
    "arviz",
    "formulae",
    "matplotlib",
    "scipy.stats",
    "scipy.interpolate",
    "pymc",
    "pytensor",
    "jax",
    "numpyro",
    "nutpie",
    "fastapi",
    "sklearn",
    "dask",
)


def _run(code: str, *options: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, *options, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip()


def test_importing_bayesmm_loads_no_heavy_dependency():
    code = f"import sys, bayesmm; print(sorted(m for m in {ON_FIRST_USE!r} if m in sys.modules))"
    assert _run(code) == "[]"


def test_the_public_names_load_their_dependencies_on_first_use():
    code = (
        "import sys, bayesmm as bmm;"
        "bmm.Model('Reaction ~ Days + (1|Subject)', bmm.load_data('sleepstudy'));"
        "print('formulae' in sys.modules, 'pymc' in sys.modules)"
    )
    assert _run(code) == "True False"


def test_the_silenced_warnings_stay_silenced_when_their_packages_load_later(tmp_path):
    # A fresh cache folder makes arviz announce its refactor, as it does once a day; -W error
    # turns anything not silenced into an error, as the test configuration does.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    code = (
        "import sys, warnings, bayesmm;"
        "assert 'arviz' not in sys.modules;"
        "import arviz;"
        "warnings.warn('PyTensor could not link to a BLAS installation.', UserWarning);"
        "print('quiet')"
    )
    assert _run(code, "-W", "error", env=env) == "quiet"


def test_without_bayesmm_arviz_announces_its_refactor(tmp_path):
    """The check above is not vacuous: arviz does warn from a fresh cache folder."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import arviz"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode != 0
    assert "ArviZ is undergoing a major refactor" in out.stderr
