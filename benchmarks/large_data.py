"""Large data: a gaussian ``y ~ x + (1|g)`` with one group per 100 rows, fitted with the
defaults (2 chains of 500 + 500 draws, as the measurements in docs/large-data.md).

Each size runs in a fresh process, so its peak memory is its own. Prints, per size: the time
to build the model, the time of ``fit()``, the peak resident memory, the smallest bulk ESS,
which likelihood and sampler ran, and (with ``--compare``) the largest difference of the
posterior means from a fit of the rows, in posterior SDs.

    python benchmarks/large_data.py                          # 100,000 and 1,000,000 rows
    python benchmarks/large_data.py --rows 10000000
    python benchmarks/large_data.py --rows 100000 --compare  # against a fit of the rows
    python benchmarks/large_data.py --rows 100000 --store tests/data/large_gaussian_100k.json
    python benchmarks/large_data.py --rows 10000000 --predict  # and predict, save, load
    python benchmarks/large_data.py --slopes                   # y ~ x + (x|g) instead

``--predict`` then predicts the mean of every training row in chunks
(``fitted.chunked(...).point``), saves the fit without its training rows
(``posterior_only=True``), loads it and predicts 1,000 rows from the file; the peak memory
printed then covers all of it.

The two-factor model, gaussian and bernoulli ``y ~ x + z + (1|g) + (x|h)`` at 10^5 to 10^7
rows with NUTS, ADVI and Pathfinder, has its own script, ``benchmarks/large_crossed.py``;
``python benchmarks/large_data.py --crossed ...`` runs it with the arguments that follow.

``--store`` fits the rows (the sampler every fit used before the statistics) and writes the
posterior means, SDs and Monte-Carlo standard errors that ``tests/test_backend_large_slow.py``
checks the default fit against.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS_PER_GROUP = 100
#: The fixed effects and standard deviations compared between fits.
COMPARED = ("Intercept", "x", "1|g_sigma", "sigma")


#: ``--slopes``: correlated random slopes, and what is compared then.
SLOPES = "y ~ x + (x|g)"
COMPARED_SLOPES = ("Intercept", "x", "1|g_sigma", "x|g_sigma", "1|g:x|g_corr", "sigma")


def simulate(rows: int, seed: int = 0, slopes: bool = False) -> pd.DataFrame:
    """``y = 1 + 0.5 x + u_g + e``, ``u ~ N(0, 0.7^2)``, ``e ~ N(0, 1)``."""
    rng = np.random.default_rng(seed)
    groups = max(rows // ROWS_PER_GROUP, 1)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=rows)
    u = rng.normal(0, 0.7, groups)
    y = 1.0 + 0.5 * x + u[g] + rng.normal(size=rows)
    if slopes:  # v ~ N(0, 0.3^2), correlated 0.5 with u
        v = 0.5 * 0.3 / 0.7 * u + rng.normal(0, 0.3 * np.sqrt(0.75), groups)
        y = y + v[g] * x
    return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})


def summary(idata, compared=COMPARED) -> dict:
    import arviz as az

    table = az.summary(idata, var_names=list(compared), kind="all", round_to="none")
    return {
        name: {
            "mean": float(table.loc[name, "mean"]),
            "sd": float(table.loc[name, "sd"]),
            "mcse": float(table.loc[name, "mcse_mean"]),
        }
        for name in compared
    }


def predict_and_save(model, idata, data: pd.DataFrame) -> dict:
    """Chunked predictions of every row, then a save without the rows, a load, a prediction."""
    import tempfile

    import bayesmm as bmm

    fitted = model.fitted(idata)
    start = time.perf_counter()
    table = fitted.chunked(chunk_rows=50_000).point(data)
    predicted = time.perf_counter() - start
    assert len(table) == len(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.nc"
        start = time.perf_counter()
        fitted.save(path, posterior_only=True)
        saved = time.perf_counter() - start
        size = path.stat().st_size
        loaded = bmm.load(path)
        loaded.point(data.iloc[:1_000])
    return {
        "predict_all_rows_s": round(predicted, 1),
        "save_s": round(saved, 1),
        "file_mb": round(size / 2**20),
    }


def one(
    rows: int, compare: bool, store: str | None, predict: bool = False, slopes: bool = False
) -> dict:
    import arviz as az

    import bayesmm as bmm

    data = simulate(rows, slopes=slopes)
    start = time.perf_counter()
    model = bmm.Model(SLOPES if slopes else "y ~ x + (1|g)", data)
    compared = COMPARED_SLOPES if slopes else COMPARED
    model.build()
    built = time.perf_counter() - start
    rows_only = store is not None
    start = time.perf_counter()
    idata = model.fit(
        draws=500,
        tune=500,
        chains=2,
        random_seed=1,
        progressbar=False,
        sufficient_statistics=False if rows_only else None,
    )
    fitted = time.perf_counter() - start
    ess = az.ess(idata, var_names=list(compared))
    extra = predict_and_save(model, idata, data) if predict else {}
    out = {
        "rows": rows,
        "build_s": round(built, 1),
        "fit_s": round(fitted, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "min_ess": int(min(float(ess[v].min()) for v in ess.data_vars)),
        "likelihood": idata.attrs["likelihood"],
        "sampler": idata.attrs["inference_method"],
        **extra,
    }
    if store:
        Path(store).write_text(
            json.dumps({"rows": rows, "seed": 0, "fit": out, "posterior": summary(idata)}, indent=1)
        )
    if compare:
        other = model.fit(
            draws=500, tune=500, chains=2, random_seed=2, progressbar=False,
            sufficient_statistics=False,
        )  # fmt: skip
        a, b = summary(idata, compared), summary(other, compared)
        out["max_diff_in_sd"] = round(
            max(abs(a[n]["mean"] - b[n]["mean"]) / b[n]["sd"] for n in compared), 3
        )
    return out


def main() -> None:
    if sys.argv[1:2] == ["--crossed"]:
        script = Path(__file__).with_name("large_crossed.py")
        raise SystemExit(subprocess.run([sys.executable, script, *sys.argv[2:]]).returncode)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--store", help="write the rows fit's posterior summary here (one size)")
    parser.add_argument("--predict", action="store_true", help="then predict, save and load")
    parser.add_argument("--slopes", action="store_true", help=f"fit {SLOPES!r}")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.rows[0], args.compare, args.store, args.predict, args.slopes)))
        return
    for rows in args.rows:
        command = [sys.executable, __file__, "--one", "--rows", str(rows)]
        command += ["--compare"] if args.compare else []
        command += ["--store", args.store] if args.store else []
        command += ["--predict"] if args.predict else []
        command += ["--slopes"] if args.slopes else []
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            print(f"{rows} rows failed:\n{result.stderr[-3000:]}")
            continue
        print(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
