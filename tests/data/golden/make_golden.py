"""Write the golden model files that every later bayesmm must load (``tests/test_io_files.py``).

Run once per file-format version, from the repository root:

    python tests/data/golden/make_golden.py

Each model is fitted with NUTS, thinned to 25 draws per chain to keep the files small, saved
as ``<name>_v<format>.nc``, and its predictions for a few new rows are written next to it as
``<name>_v<format>.json`` (a multivariate model's by response). ``<format>`` is the version
the model's file is written as (a univariate model's is 2, a multivariate model's 3), and a
file that exists is never written again: the files of an existing format version are the
record of what that version wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmm as bmm
from bayesmm.persist.netcdf import FORMAT_VERSIONS

HERE = Path(__file__).parent
SEED = 20261121

MODELS = {
    "sleepstudy": (
        "sleepstudy",
        "Reaction ~ center(Days) + (Days | Subject)",
        "gaussian",
        {"Days": [0, 3.5, 9, 4], "Subject": [308, 335, 372, "new"]},
    ),
    "cbpp": (
        "cbpp",
        "p(incidence, size) ~ period + (1|herd)",
        "binomial",
        {"period": ["1", "2", "4"], "herd": ["1", "15", "new"], "size": [10, 20, 5]},
    ),
}


#: A multivariate model (format 3): correlated gaussian responses, a distributional formula.
MULTIVARIATE = {
    "formula": ("y1 ~ x + (1|g)", ("y2 ~ x + (1|g)", "sigma ~ x")),
    "new_data": {"x": [-1.0, 0.5, 2.0], "g": ["g0", "g7", "new"]},
}


def _bivariate_data() -> pd.DataFrame:
    """Simulated rows of two responses correlated within a row, 20 groups of 15."""
    rng = np.random.default_rng(SEED)
    g = np.repeat(np.arange(20), 15)
    x = rng.normal(size=g.size)
    residuals = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.0]], g.size)
    return pd.DataFrame(
        {
            "y1": 1.0 + 0.5 * x + rng.normal(0, 1.0, 20)[g] + residuals[:, 0],
            "y2": -1.0 + 1.5 * x + rng.normal(0, 1.0, 20)[g] + residuals[:, 1] * np.exp(0.2 * x),
            "x": x,
            "g": [f"g{i}" for i in g],
        }
    )


def _lists(values):
    """Draws as JSON lists: an array, or a dict of arrays by response."""
    if isinstance(values, dict):
        return {r: v.tolist() for r, v in values.items()}
    return values.tolist()


def _write(
    name: str, version: int, model, formula: str, family: str, new: dict, **fit_options
) -> None:
    stem = HERE / f"{name}_v{version}"
    if stem.with_suffix(".nc").exists():
        print(f"kept {stem}.nc: the files of format {version} are never written again")
        return
    options = {"draws": 200, "tune": 500, "chains": 2, **fit_options}
    idata = model.fit(random_seed=SEED, progressbar=False, **options)
    fitted = bmm.load(model.save(stem.with_suffix(".nc"), idata, draws=25))
    rows = pd.DataFrame(new)
    predictions = {
        f"{kind}:{policy}": _lists(
            fitted.draws(rows, kind, sample_new_groups=policy, random_seed=SEED)
        )
        for kind in ("response_params", "response")
        for policy in ("uncertainty", "gaussian", "population")
    }
    in_sample = fitted.draws(None, "response_params")
    means = {r: v.mean(0) for r, v in in_sample.items()} if isinstance(in_sample, dict) else None
    record = {
        "formula": formula,
        "family": family,
        "seed": SEED,
        "new_data": new,
        "predictions": predictions,
        "in_sample_mean": _lists(means if means is not None else in_sample.mean(0)),
    }
    stem.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {stem}.nc and .json")


def main() -> None:
    for name, (dataset, formula, family, new) in MODELS.items():
        model = bmm.Model(formula, bmm.load_data(dataset), family=family)
        _write(name, FORMAT_VERSIONS["univariate"], model, formula, family, new)
    first, second = MULTIVARIATE["formula"]
    formula = bmm.Formula(first) + bmm.Formula(*second)
    model = bmm.Model(formula, _bivariate_data())
    _write(
        "bivariate",
        FORMAT_VERSIONS["multivariate"],
        model,
        str(formula),
        "gaussian",
        MULTIVARIATE["new_data"],
        tune=1000,
        target_accept=0.95,
    )


if __name__ == "__main__":
    main()
