"""Large data, two grouping factors: gaussian and bernoulli ``y ~ x + z + (1|g) + (x|h)``
with one ``g`` per 100 rows and 20 levels of ``h`` (whose intercepts and ``x`` slopes vary,
correlated), at 10^5, 10^6 and 10^7 rows.

Each run is a fresh process, so its time and peak memory are its own. Prints, per family,
size and method: the time to build the model and of ``fit()``, the peak resident memory,
the smallest bulk ESS (NUTS) or Pareto k-hat (approximations), what ran (the likelihood and
the sampler), and the largest gap of a posterior mean from NUTS', in NUTS posterior SDs,
over the fixed effects, the standard deviations and the correlation; then each of those
quantities' gap and its posterior SD as a multiple of NUTS'.

    python benchmarks/large_crossed.py                                  # everything
    python benchmarks/large_crossed.py --family gaussian --rows 100000
    python benchmarks/large_crossed.py --family bernoulli --methods vi pathfinder

Methods: ``default`` is ``fit()`` as a user calls it; ``nuts`` the reference, NUTS on the
rows (for the gaussian family with ``sufficient_statistics=False``, so it is the fit that
ran before the exact summaries; for bernoulli what ``"auto"`` runs); ``vi`` and
``pathfinder`` the approximations (bernoulli). NUTS runs only up to 10^6 rows (an hour or
more above), and its summary is stored in ``benchmarks/results/large_crossed_<family>_<rows>
.json`` and reused while that file exists. All fits: 2 chains of 500 + 500 draws (NUTS) or
500 draws (approximations).
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

FORMULA = "y ~ x + z + (1|g) + (x|h)"
ROWS_PER_GROUP = 100
H_LEVELS = 20
#: NUTS above this many rows takes an hour or more on two cores.
NUTS_ROWS = 1_000_000
FIXED = ("Intercept", "x", "z")
SPREAD = ("1|g_sigma", "1|h_sigma", "x|h_sigma", "1|h:x|h_corr")
METHODS = {
    "gaussian": {
        "default": {},
        "nuts": {"sufficient_statistics": False},
    },
    "bernoulli": {
        "default": {},
        "nuts": {},
        "vi": {"inference_method": "vi", "batch_size": 20_000, "steps": 20_000},
        "pathfinder": {"inference_method": "pathfinder"},
    },
}
RESULTS = Path(__file__).parent / "results"


def simulate(rows: int, family: str, seed: int = 0) -> pd.DataFrame:
    """``eta = b0 + bx x + bz z + u_g + a_h + c_h x`` with ``u ~ N(0, s_g^2)`` and ``(a, c)``
    of SDs 0.5 and 0.3, correlated 0.5. Gaussian: ``y = eta + N(0, 1)`` with ``b = (1, 0.5,
    -0.3)`` and ``s_g = 0.7``; bernoulli: ``P(y) = logistic(eta)`` with ``b = (-0.5, 0.8,
    -0.4)`` and ``s_g = 0.5``."""
    rng = np.random.default_rng(seed)
    groups = max(rows // ROWS_PER_GROUP, 1)
    g = rng.integers(0, groups, rows)
    h = rng.integers(0, H_LEVELS, rows)
    x = rng.normal(size=rows)
    z = rng.normal(size=rows)
    a = rng.normal(0, 0.5, H_LEVELS)
    c = 0.5 * 0.3 / 0.5 * a + rng.normal(0, 0.3 * np.sqrt(0.75), H_LEVELS)
    if family == "gaussian":
        eta = 1.0 + 0.5 * x - 0.3 * z + rng.normal(0, 0.7, groups)[g] + a[h] + c[h] * x
        y = eta + rng.normal(size=rows)
    else:
        eta = -0.5 + 0.8 * x - 0.4 * z + rng.normal(0, 0.5, groups)[g] + a[h] + c[h] * x
        y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": pd.Categorical(g), "h": pd.Categorical(h)})


def one(rows: int, family: str, method: str, seed: int) -> dict:
    import arviz as az

    import bayesmm as bmm

    start = time.perf_counter()
    model = bmm.Model(FORMULA, simulate(rows, family), family=family)
    model.build()
    built = time.perf_counter() - start
    start = time.perf_counter()
    settings = METHODS[family][method]
    nuts_like = "inference_method" not in settings
    counts = {"draws": 500, "tune": 500} if nuts_like else {"draws": 500}
    idata = model.fit(chains=2, random_seed=seed, progressbar=False, **counts, **settings)
    seconds = time.perf_counter() - start
    compared = list(FIXED + SPREAD) + (["sigma"] if family == "gaussian" else [])
    table = az.summary(idata, var_names=compared, round_to="none")
    result = {
        "family": family,
        "rows": rows,
        "method": method,
        "settings": settings,
        "random_seed": seed,
        "build_s": round(built, 1),
        "fit_s": round(seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "ran": f"{idata.attrs.get('likelihood', 'rows')} / {idata.attrs['inference_method']}",
        "means": {k: float(table.loc[k, "mean"]) for k in table.index},
        "sds": {k: float(table.loc[k, "sd"]) for k in table.index},
    }
    if nuts_like:
        result["min_ess"] = round(float(table["ess_bulk"].min()))
    else:
        result["pareto_k"] = round(float(idata.attrs["pareto_k"]), 2)
    return result


def run(rows: int, family: str, method: str, seed: int) -> dict | None:
    """One run in a fresh process; None (with what it printed) if it failed."""
    command = [sys.executable, __file__, "--one", method, "--rows", str(rows)]
    command += ["--family", family, "--seed", str(seed)]
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        print(f"{rows:>10,} rows  {family:<9} {method:<10} failed:\n{output.stderr[-2000:]}")
        return None
    return json.loads(output.stdout.strip().splitlines()[-1])


def line(result: dict, nuts: dict | None) -> str:
    text = f"{result['rows']:>10,} rows  {result['family']:<9} {result['method']:<10} "
    text += f"build {result['build_s']:>6.1f} s  fit {result['fit_s']:>7.1f} s  "
    text += f"peak {result['peak_rss_gb']:5.2f} GB  "
    text += f"min ESS {result['min_ess']}" if "min_ess" in result else f"k-hat {result['pareto_k']}"
    text += f"  ({result['ran']})"
    if nuts is not None and result is not nuts:
        gaps = {
            k: abs(result["means"][k] - nuts["means"][k]) / nuts["sds"][k] for k in nuts["means"]
        }
        worst = max(gaps, key=gaps.__getitem__)
        fixed = max(gaps[k] for k in FIXED)
        text += f"  largest gap {gaps[worst]:.2f} NUTS SDs ({worst}), fixed effects {fixed:.2f}"
        # Each quantity: its gap from NUTS' mean, in NUTS SDs, and its SD over NUTS'.
        text += (
            "\n"
            + " " * 12
            + ", ".join(
                f"{k} {gaps[k]:.2f} (SD {result['sds'][k] / nuts['sds'][k]:.2f}x)" for k in gaps
            )
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10**5, 10**6, 10**7])
    parser.add_argument("--family", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--methods", nargs="+", help="default: every method of each family")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.rows[0], args.family[0], args.one, args.seed)))
        return
    for family in args.family:
        for rows in args.rows:
            stored = RESULTS / f"large_crossed_{family}_{rows}.json"
            nuts = json.loads(stored.read_text()) if stored.exists() else None
            methods = [m for m in METHODS[family] if args.methods is None or m in args.methods]
            if nuts is None and rows <= NUTS_ROWS and "nuts" in methods:
                nuts = run(rows, family, "nuts", args.seed)
                if nuts is not None:
                    RESULTS.mkdir(exist_ok=True)
                    stored.write_text(json.dumps(nuts, indent=1) + "\n")
            for method in methods:
                result = nuts if method == "nuts" else run(rows, family, method, args.seed)
                if result is not None:
                    print(line(result, nuts), flush=True)


if __name__ == "__main__":
    main()
