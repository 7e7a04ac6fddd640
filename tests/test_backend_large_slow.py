"""The default fit of a large gaussian model (sampled from its summed rows) has the posterior
of a fit of its rows, stored by ``benchmarks/large_data.py --store`` before the statistics
existed: 100,000 rows, 1,000 groups, 2 chains of 500 + 500 draws."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from scipy import stats

import bayesmm as bmm

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
REFERENCE = json.loads((ROOT / "tests/data/large_gaussian_100k.json").read_text())


def _benchmark():
    spec = importlib.util.spec_from_file_location("large_data", ROOT / "benchmarks/large_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_summed_fit_has_the_posterior_of_the_rows():
    large = _benchmark()
    data = large.simulate(REFERENCE["rows"], REFERENCE["seed"])
    idata = bmm.Model("y ~ x + (1|g)", data).fit(
        draws=500, tune=500, chains=2, random_seed=3, progressbar=False
    )
    assert idata.attrs["likelihood"].startswith("sufficient statistics")
    got, expected = large.summary(idata), REFERENCE["posterior"]
    # Two independent runs of the same posterior: each mean's difference over its Monte-Carlo
    # standard error is about N(0, 1). Four comparisons at a 1% family-wise false-alarm rate
    # (Bonferroni): |z| below the 1 - 0.01 / 8 quantile, 3.02.
    bound = stats.norm.ppf(1 - 0.01 / (2 * len(large.COMPARED)))
    for name in large.COMPARED:
        a, b = got[name], expected[name]
        z = (a["mean"] - b["mean"]) / (a["mcse"] ** 2 + b["mcse"] ** 2) ** 0.5
        assert abs(z) < bound, (name, a, b)
        # And the same spread: posterior SDs within 10% (each is estimated from ~1,000
        # effective draws, so with a relative error of about 2%).
        assert a["sd"] == pytest.approx(b["sd"], rel=0.1), name
