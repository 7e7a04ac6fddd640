"""Large data, approximately: a bernoulli ``y ~ x + t + (1|g)`` with a numeric ``x`` (so no
two rows share their predictors and counting identical rows cannot shrink the data), a
two-level ``t`` and 1,000 groups, fitted by NUTS once and by each approximation.

Each method runs in a fresh process, so its time and peak memory are its own. Prints, per
method: the time of ``fit()``, the peak resident memory, the smallest bulk ESS (NUTS) or
Pareto k-hat (approximations), the largest difference of the fixed effects' posterior
means from NUTS, in NUTS posterior SDs, and the range of their SDs as multiples of NUTS'.

    python benchmarks/large_bernoulli.py                        # NUTS, vi, pathfinder
    python benchmarks/large_bernoulli.py --methods vi --rows 200000
    python benchmarks/large_bernoulli.py --methods vi pathfinder --seeds 1 2 3
    python benchmarks/large_bernoulli.py --methods laplace      # the joint mode's gap

NUTS (2 chains of 500 + 500) is slow at a million rows: its summary is stored in
``benchmarks/results/large_bernoulli_<rows>.json`` and reused while that file exists.
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

GROUPS = 1_000
#: The fixed effects compared with NUTS.
FIXED = ("Intercept", "x", "t")
#: The settings of each method (``fit()``'s arguments besides the data's).
METHODS = {
    # What "auto" runs on these rows: nutpie with its low-rank mass matrix, which follows
    # the posterior correlation of the intercept with the 1,000 group effects (a diagonal
    # one reached a smallest ESS of 22 in 36 minutes).
    "nuts": {
        "inference_method": "nutpie",
        "low_rank_modified_mass_matrix": True,
        "draws": 500,
        "tune": 500,
    },
    "vi": {"inference_method": "vi", "batch_size": 20_000, "steps": 20_000},
    "pathfinder": {"inference_method": "pathfinder"},
    # Each path's normal left where Pathfinder puts it, near the joint mode.
    "pathfinder-unrefined": {"inference_method": "pathfinder", "refine": False},
    # The normal at the joint posterior mode: where Pathfinder's paths end.
    "laplace": {"inference_method": "laplace"},
    # The same, with the draws resampled by their PSIS-smoothed importance weights.
    "pathfinder-resampled": {"inference_method": "pathfinder", "importance_resampling": True},
    "laplace-resampled": {"inference_method": "laplace", "importance_resampling": True},
}
RESULTS = Path(__file__).parent / "results"


def simulate(rows: int, seed: int = 0) -> pd.DataFrame:
    """``logit P(y) = -0.5 + 0.8 x - 0.4 [t = b] + u_g``, ``u ~ N(0, 0.5^2)``."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, GROUPS, rows)
    x = rng.normal(size=rows)
    t = rng.integers(0, 2, rows)
    eta = -0.5 + 0.8 * x - 0.4 * t + rng.normal(0, 0.5, GROUPS)[g]
    y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"y": y, "x": x, "t": np.where(t == 1, "b", "a"), "g": pd.Categorical(g)})


def one(rows: int, method: str, seed: int) -> dict:
    import arviz as az

    import bayesmm as bmm

    model = bmm.Model("y ~ x + t + (1|g)", simulate(rows), family="bernoulli")
    model.build()
    start = time.perf_counter()
    idata = model.fit(chains=2, random_seed=seed, progressbar=False, **METHODS[method])
    seconds = time.perf_counter() - start
    table = az.summary(idata, var_names=list(FIXED), round_to="none")
    result = {
        "method": method,
        "settings": METHODS[method],
        "random_seed": seed,
        "seconds": round(seconds, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        # one row per coefficient: "Intercept", "x", "t[b]"
        "means": {k: float(table.loc[k, "mean"]) for k in table.index},
        "sds": {k: float(table.loc[k, "sd"]) for k in table.index},
    }
    if method == "nuts":
        result["min_ess"] = round(float(table["ess_bulk"].min()))
    else:
        result["pareto_k"] = round(float(idata.attrs["pareto_k"]), 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1],
        help="the approximations' random seeds, one run each (NUTS runs with the first)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.rows, args.one, args.seeds[0])))
        return
    stored = RESULTS / f"large_bernoulli_{args.rows}.json"
    nuts = json.loads(stored.read_text()) if stored.exists() else None
    runs = [("nuts", args.seeds[0])] if "nuts" in args.methods else []
    runs += [(m, seed) for m in args.methods if m != "nuts" for seed in args.seeds]
    for method, seed in runs:
        if method == "nuts" and nuts is not None:
            result = nuts
        else:
            command = [sys.executable, __file__, "--rows", str(args.rows), "--one", method]
            command += ["--seeds", str(seed)]
            output = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(output.stdout.strip().splitlines()[-1])
            if method == "nuts":
                nuts = result
                RESULTS.mkdir(exist_ok=True)
                stored.write_text(json.dumps(result, indent=1) + "\n")
        # A stored NUTS result ran with its own seed (1 before results recorded it).
        seed = result.get("random_seed", 1)
        line = f"{args.rows:>9,} rows  {method:<10} seed {seed}  {result['seconds']:>7.1f} s  "
        line += f"peak {result['peak_rss_gb']:.2f} GB  "
        check = f"min ESS {result['min_ess']}" if method == "nuts" else ""
        line += check or f"k-hat {result['pareto_k']}"
        if nuts is not None and method != "nuts":
            means, reference = result["means"], nuts["means"]
            gaps = {k: abs(means[k] - reference[k]) / nuts["sds"][k] for k in reference}
            worst = max(gaps, key=gaps.__getitem__)
            line += f"  largest mean gap {gaps[worst]:.2f} NUTS SDs ({worst})"
            ratios = [result["sds"][k] / nuts["sds"][k] for k in reference]
            line += f"  SDs {min(ratios):.2f} to {max(ratios):.2f} x NUTS'"
        print(line, flush=True)


if __name__ == "__main__":
    main()
