"""The layering of docs/architecture.md, and the static checks, enforced in CI."""

import ast
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

import bayesmm

SRC = Path(bayesmm.__file__).parent
HEAVY = {"pymc", "pytensor", "nutpie"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_backend_imports_pymc_and_pytensor():
    offenders = {
        str(path.relative_to(SRC)): sorted(_imports(path) & HEAVY)
        for path in SRC.rglob("*.py")
        if path.parent.name != "backend" and _imports(path) & HEAVY
    }
    assert offenders == {}


def test_only_serve_imports_the_web_stack():
    web = {"fastapi", "uvicorn", "pydantic", "starlette"}
    offenders = {
        str(path.relative_to(SRC)): sorted(_imports(path) & web)
        for path in SRC.rglob("*.py")
        if path.parent.name != "serve" and _imports(path) & web
    }
    assert offenders == {}


def test_only_the_sklearn_package_imports_scikit_learn():
    offenders = {
        str(path.relative_to(SRC)): "sklearn"
        for path in SRC.rglob("*.py")
        if path.parent.name != "sklearn" and "sklearn" in _imports(path)
    }
    assert offenders == {}


def test_importing_bayesmm_loads_no_sampler_and_no_side_effects():
    code = (
        "import sys, logging, bayesmm;"
        "heavy = sorted(m for m in ('pymc', 'pytensor', 'nutpie', 'fastapi', 'sklearn')"
        " if m in sys.modules);"
        "handlers = logging.getLogger('bayesmm').handlers;"
        "print(heavy, [type(h).__name__ for h in handlers])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['NullHandler']"


@pytest.mark.skipif(
    find_spec("ruff") is None or find_spec("mypy") is None, reason="needs the test extra"
)
def test_ruff_and_mypy_pass_on_the_source():
    root = Path(__file__).resolve().parent.parent
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "src/bayesmm"], cwd=root, capture_output=True, text=True
    )
    assert mypy.returncode == 0, mypy.stdout


def test_prediction_needs_no_pymc():
    """Predicting from draws is numpy: it neither imports pymc nor compiles a graph."""
    code = """
import sys
import numpy as np, pandas as pd, arviz as az, xarray as xr
import bayesmm as bmm
data = bmm.load_data("sleepstudy")
model = bmm.Model("Reaction ~ Days + (1|Subject)", data)
rng = np.random.default_rng(0)
levels = list(data["Subject"].cat.categories)
posterior = xr.Dataset({
    "Intercept": (("chain", "draw"), rng.normal(250, 5, (2, 50))),
    "Days": (("chain", "draw"), rng.normal(10, 1, (2, 50))),
    "1|Subject": (("chain", "draw", "Subject__factor_dim"), rng.normal(0, 30, (2, 50, 18))),
    "1|Subject_sigma": (("chain", "draw"), rng.gamma(30, 1, (2, 50))),
    "sigma": (("chain", "draw"), rng.gamma(25, 1, (2, 50))),
}, coords={"Subject__factor_dim": levels})
fitted = model.fitted(az.InferenceData(posterior=posterior))
fitted.interval(pd.DataFrame({"Days": [3], "Subject": ["new"]}), sample_new_groups="gaussian")
print(sorted(m for m in ("pymc", "pytensor") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
