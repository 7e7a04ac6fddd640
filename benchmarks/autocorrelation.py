"""Residual autocorrelation at scale: a gaussian ``y ~ x + ar(time=t, gr=g)`` with 1,000
series of 100 times (100,000 rows), fitted with the defaults (2 chains of 1,000 + 1,000
draws), in a fresh process.

Prints the wall time from ``bmm.Model(...)`` to the returned InferenceData (building and
compiling included), the smallest bulk ESS and the largest R-hat of the parameters, then the
time of a refit in the same process on data simulated again (the same structure, so it
compiles nothing), and that refit's sampling time for comparison.

    python benchmarks/autocorrelation.py
    python benchmarks/autocorrelation.py --series 200 --times 50   # a quicker look
    python benchmarks/autocorrelation.py --method nutpie
    python benchmarks/autocorrelation.py --gradient   # the log density's gradient alone

``--gradient`` times one evaluation of the log density and its gradient (the median of 100)
of the model with ``ar()`` and of the same model without it, and fits nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def simulate(series: int, times: int, seed: int, phi: float = 0.6) -> pd.DataFrame:
    """``y = 1 + 0.5 x + e``, ``e`` an AR(1) per series with innovations' sd 1, from its
    stationary distribution; rows in random order."""
    rng = np.random.default_rng(seed)
    e = np.empty((series, times))
    e[:, 0] = rng.normal(0, 1 / np.sqrt(1 - phi**2), series)
    for t in range(1, times):
        e[:, t] = phi * e[:, t - 1] + rng.normal(size=series)
    x = rng.normal(size=(series, times))
    data = pd.DataFrame(
        {
            "g": np.repeat(np.arange(series), times).astype(str),
            "t": np.tile(np.arange(times), series),
            "x": x.ravel(),
            "y": (1 + 0.5 * x + e).ravel(),
        }
    )
    return data.sample(frac=1, random_state=seed).reset_index(drop=True)


def gradient_times(data: pd.DataFrame) -> None:
    """The median time of the log density's gradient with and without ``ar()``."""
    import bayesmm as bmm

    for formula in ("y ~ x + ar(time=t, gr=g)", "y ~ x"):
        model = bmm.Model(formula, data).backend.model
        gradient, point = model.compile_dlogp(), model.initial_point()
        gradient(point)
        times = []
        for _ in range(100):
            start = time.perf_counter()
            gradient(point)
            times.append(time.perf_counter() - start)
        print(f"{formula}: gradient {1000 * float(np.median(times)):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--times", type=int, default=100)
    parser.add_argument("--method", default="auto")
    parser.add_argument("--gradient", action="store_true")
    args = parser.parse_args()
    if args.gradient:
        gradient_times(simulate(args.series, args.times, seed=1))
        return
    import arviz as az

    import bayesmm as bmm

    names = ["Intercept", "x", "ar", "sigma"]
    data = simulate(args.series, args.times, seed=1)
    start = time.perf_counter()
    model = bmm.Model("y ~ x + ar(time=t, gr=g)", data)
    idata = model.fit(inference_method=args.method, random_seed=1, progressbar=False)
    first = time.perf_counter() - start
    summary = az.summary(idata, var_names=names)
    print(f"rows: {len(data):,} ({args.series} series of {args.times} times)")
    print(f"sampler: {idata.attrs.get('inference_method')}")
    print(f"first fit, Model(...) to InferenceData: {first:.1f} s")
    print(
        f"smallest bulk ESS: {summary['ess_bulk'].min():.0f}; largest R-hat: "
        f"{summary['r_hat'].max():.3f}"
    )
    print(summary[["mean", "sd", "ess_bulk", "r_hat"]].to_string())
    again = simulate(args.series, args.times, seed=2)
    start = time.perf_counter()
    other = bmm.Model("y ~ x + ar(time=t, gr=g)", again)
    other.fit(inference_method=args.method, random_seed=2, progressbar=False)
    second = time.perf_counter() - start
    # The same model fitted again: its sampling, with nothing to build or encode.
    start = time.perf_counter()
    other.fit(inference_method=args.method, random_seed=2, progressbar=False)
    sampling = time.perf_counter() - start
    print(f"refit on new data in the same process: {second:.1f} s")
    print(
        f"the same fit again (its sampling): {sampling:.1f} s; the refit costs "
        f"{100 * (second / sampling - 1):+.0f}% more"
    )


if __name__ == "__main__":
    main()
