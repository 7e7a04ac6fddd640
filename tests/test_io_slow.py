"""File sizes of a real fit (issue: a sleepstudy model with 2,000 draws saves under 5 MB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

pytestmark = pytest.mark.slow

MB = 1024**2


def test_sleepstudy_file_sizes_and_thinning(sleepstudy_fit, tmp_path):
    model, idata = sleepstudy_fit
    assert idata["posterior"].sizes["chain"] * idata["posterior"].sizes["draw"] == 2000
    full = model.save(tmp_path / "full.nc", idata).stat().st_size
    half = model.save(tmp_path / "half.nc", idata, draws=500).stat().st_size
    tenth = model.save(tmp_path / "tenth.nc", idata, draws=100).stat().st_size
    small = model.save(tmp_path / "small.nc", idata, posterior_only=True).stat().st_size
    print(
        f"sizes: full {full / MB:.2f} MB, half {half / MB:.2f} MB, tenth {tenth / MB:.2f} MB, "
        f"posterior only {small / MB:.2f} MB"
    )
    assert full < 5 * MB
    # Thinning shrinks the file in proportion to the draws kept, plus a fixed overhead (HDF5
    # metadata of some 30 variables, the spec, the 180 training rows): size = a + b * draws.
    per_draw = (full - tenth) / (2000 - 200)
    overhead = full - per_draw * 2000
    assert 0 < overhead < 300 * 1024
    assert half == pytest.approx(overhead + per_draw * 1000, rel=0.02)
    assert small < full / 3
    # The loaded real fit predicts as the in-memory one does.
    loaded = bmm.load(tmp_path / "full.nc")
    new = pd.DataFrame({"Days": [0, 9], "Subject": [308, "new"]})
    options = {"sample_new_groups": "gaussian", "random_seed": 1}
    assert np.array_equal(
        loaded.draws(new, "response", **options),
        model.fitted(idata).draws(new, "response", **options),
    )


def test_the_save_and_load_example_runs(tmp_path):
    example = Path(__file__).resolve().parent.parent / "examples" / "save_and_load.py"
    out = subprocess.run(
        [sys.executable, str(example), "100"], cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "pymc imported: False" in out.stdout
    assert (tmp_path / "sleepstudy_model.nc").exists()
