"""Checks shared by the tests of model terms: a saved model loads, predicts the same and
serves in a process that never imports pymc; and a PyMC model's log density at a point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

_CODE = """
import json, sys
import numpy as np, pandas as pd
import bayesmm as bmm
from fastapi.testclient import TestClient
from bayesmm.serve import create_app
rows = json.loads({rows!r})
new = pd.DataFrame(rows).astype({{c: float for c in {floats!r}}})
loaded = bmm.load({path!r})
np.testing.assert_allclose(loaded.draws(new, random_seed=2), np.load({expected!r}))
client = TestClient(create_app({path!r}))
body = {{"rows": rows, "kind": "response_params", "random_seed": 2}}
got = client.post("/v1/predict/interval", json=body)
assert got.status_code == 200, got.text
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""


def assert_served_without_pymc(
    fitted, path: Path, rows: list[dict], tmp_path: Path, floats: tuple[str, ...] = ()
) -> None:
    """``bmm.load(path)`` gives ``fitted``'s ``draws`` of ``rows`` (``None`` values are
    missing; ``floats`` are the columns read as numbers), and the server answers them,
    without pymc or pytensor ever imported."""
    import pandas as pd

    new = pd.DataFrame(rows).astype({c: float for c in floats})
    expected = tmp_path / "expected.npy"
    np.save(expected, fitted.draws(new, random_seed=2))
    code = _CODE.format(
        rows=json.dumps(rows), floats=list(floats), path=str(path), expected=str(expected)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def logp_at(model, point) -> float:
    """The log density of ``model``'s observed variable at ``point`` (values of the
    model's value variables; the others at their initial point)."""
    pymc_model = model.backend.model
    start = pymc_model.initial_point()
    start.update({k: np.asarray(v) for k, v in point.items()})
    return float(pymc_model.compile_logp(vars=[pymc_model.observed_RVs[0]])(start))
