"""The JAX route on whatever device JAX finds: NumPyro's NUTS on a million-row bernoulli and
more, and ``fit_many``'s vectorised program over 100 small models.

Meant for a machine with a GPU (``pip install "bayesmm[jax]" "jax[cuda12]"``), where the
chains run side by side on the device; it runs on a CPU too (smaller sizes with
``--rows``), which is how it is checked. The data are simulated where the script runs.

    python benchmarks/accelerator.py                          # 10^5, 10^6 and 10^7 rows
    python benchmarks/accelerator.py --rows 20000 --fits 10   # a quick check

Prints the device, then per size: rows, groups, the time of ``fit()``, the sampling time
alone, the smallest bulk ESS and the slope's posterior mean (the data's slope is 0.8); then
``fit_many`` of the small models, sequential and vectorised, in fits per second. Everything
runs in this one process, so the later sizes find the JAX runtime started. Figures from a
machine with an accelerator belong in ``benchmarks/README.md`` with the device's name.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))


def bernoulli(rows: int) -> dict[str, float]:
    """``y ~ x + t + (1|g)`` on ``rows`` simulated rows, 1,000 groups, with NumPyro."""
    import arviz as az
    from large_bernoulli import simulate

    import bayesmm as bmm

    model = bmm.Model("y ~ x + t + (1|g)", simulate(rows), family="bernoulli")
    model.build()
    start = time.perf_counter()
    idata = model.fit(
        inference_method="numpyro",
        draws=500,
        tune=500,
        chains=2,
        random_seed=1,
        progressbar=False,
        log_likelihood=False,
    )
    seconds = time.perf_counter() - start
    table = az.summary(idata, var_names=["Intercept", "x", "t"], round_to="none")
    return {
        "seconds": seconds,
        "sampling": float(idata.attrs["sampling_time"]),
        "min_ess": float(table["ess_bulk"].min()),
        "x": float(table.loc["x", "mean"]),
    }


def many(fits: int) -> dict[str, float]:
    """Fits per second of ``fits`` small models (64 rows, 8 groups), one after the other and
    as one vectorised program, each after a warm-up call of as many other models (the
    vectorised program is compiled for its number of fits)."""
    from many_fits import model

    import bayesmm as bmm

    options = {"draws": 500, "tune": 500, "chains": 2, "progressbar": False}
    result = {}
    for way, vectorize in (("sequential", False), ("vectorised", True)):
        warm = [model("small", seed) for seed in range(fits + 1, 2 * fits + 1)]
        bmm.fit_many(warm, vectorize=vectorize, random_seed=0, **options)
        models = [model("small", seed) for seed in range(1, fits + 1)]
        start = time.perf_counter()
        bmm.fit_many(models, vectorize=vectorize, random_seed=1, **options)
        result[way] = fits / (time.perf_counter() - start)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--fits", type=int, default=100)
    args = parser.parse_args()

    from bayesmm.backend.programs.jax import configure

    jax = configure()
    devices = jax.devices()
    print(f"JAX {jax.__version__} on {devices[0].platform}: {[str(d) for d in devices]}")
    print("\n| rows | fit() s | sampling s | min ESS | mean of x |")
    print("|---|---|---|---|---|")
    for rows in args.rows:
        r = bernoulli(rows)
        print(
            f"| {rows:,} | {r['seconds']:.1f} | {r['sampling']:.1f} | {r['min_ess']:.0f} "
            f"| {r['x']:.4f} |",
            flush=True,
        )
    r = many(args.fits)
    print(f"\nfit_many of {args.fits} small models, fits per second:")
    print(f"sequential {r['sequential']:.2f}, vectorised {r['vectorised']:.2f}")


if __name__ == "__main__":
    main()
