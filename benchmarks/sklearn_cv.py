"""5-fold cross-validation of the sleepstudy model: reused compiled sampler against cold fits.

    python benchmarks/sklearn_cv.py [--draws 1000] [--tune 1000] [--chains 4] [--repeats 2]

Each way runs ``cross_val_score`` with ``KFold(5, shuffle=True)`` on lme4's sleepstudy and
``BayesianRegressor("~ Days + (Days | Subject)")``:

- cold, nutpie: ``reuse_compiled=False``; every fold compiles its own sampler;
- cold, pymc: ``inference_method="pymc"``, PyMC's own NUTS, compiled every fold;
- reused: the default; the first fold compiles, the other four reuse it.

One throwaway fit first takes the one-off start-up costs of the process (numba's first
compile), which would otherwise fall on whichever way ran first. Times are wall-clock seconds,
best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.model_selection import KFold, cross_validate

import bayesmm as bmm
from bayesmm.sklearn import BayesianRegressor, clear_compiled_cache, compiled_cache


def _cv(estimator, X, y) -> tuple[float, dict]:
    start = time.perf_counter()
    result = cross_validate(estimator, X, y, cv=KFold(5, shuffle=True, random_state=0))
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    data = bmm.load_data("sleepstudy")
    X, y = data[["Days", "Subject"]], data["Reaction"]
    options = dict(draws=args.draws, tune=args.tune, chains=args.chains, random_seed=1)
    model = "~ Days + (Days | Subject)"
    BayesianRegressor("~ Days", reuse_compiled=False, **options).fit(X, y)  # start-up costs

    ways = {
        "cold, nutpie (5 compiles)": BayesianRegressor(model, reuse_compiled=False, **options),
        "cold, pymc (5 compiles)": BayesianRegressor(model, inference_method="pymc", **options),
        "reused, nutpie (1 compile)": BayesianRegressor(model, **options),
    }
    results = {}
    for name, estimator in ways.items():
        best, folds = np.inf, None
        for _ in range(args.repeats):
            clear_compiled_cache()
            seconds, result = _cv(estimator, X, y)
            if seconds < best:
                best, folds = seconds, result
        results[name] = (best, folds)

    print(
        f"5-fold CV of Reaction ~ Days + (Days | Subject) on sleepstudy (180 rows); "
        f"{args.chains} chains x ({args.tune} tune + {args.draws} draws); best of {args.repeats}"
    )
    print(f"{'':28s} {'seconds':>8s}  {'mean R2':>7s}  fold R2 / fold fit seconds")
    for name, (seconds, folds) in results.items():
        scores = folds["test_score"]
        r2 = " ".join(f"{s:.3f}" for s in scores)
        fits = " ".join(f"{s:.2f}" for s in folds["fit_time"])
        print(f"{name:28s} {seconds:8.2f}  {scores.mean():7.3f}  {r2} / {fits}")
    reused = results["reused, nutpie (1 compile)"][0]
    for name in list(ways)[:2]:
        print(f"speed-up of reuse over {name}: {results[name][0] / reused:.1f}x")
    print(f"cache: {compiled_cache()}")


if __name__ == "__main__":
    main()
