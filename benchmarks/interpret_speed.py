"""Speed of bayesmm.interpret on a large fit: 10,000 rows, 2,000 posterior draws.

    python benchmarks/interpret_speed.py

The posterior is made of prior draws (no sampling: only the computation is timed). Prints the
median of 5 runs of each call, after one warm-up run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import bayesmm as bmm
from bayesmm import interpret

ROWS, DRAWS, GROUPS = 10_000, 2_000, 100


def fitted_model() -> bmm.fitted.FittedModel:
    rng = np.random.default_rng(0)
    g = rng.integers(0, GROUPS, ROWS)
    data = pd.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "t": pd.Categorical(rng.choice(["a", "b"], ROWS)),
            "g": pd.Categorical(g.astype(str)),
        }
    )
    eta = -0.3 + 0.8 * data["x"] + 0.5 * (data["t"] == "b") + rng.normal(0, 0.5, GROUPS)[g]
    data["y"] = (rng.uniform(size=ROWS) < 1 / (1 + np.exp(-eta))).astype(int)
    model = bmm.Model("y ~ x + t + (1|g)", data, family="bernoulli")
    # One chain of prior draws stands for the posterior: its shape is what is timed.
    prior = model.prior_predictive(draws=DRAWS, random_seed=1).prior
    import arviz as az

    return model.fitted(az.InferenceData(posterior=prior))


def timed(label: str, call) -> None:
    call()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    print(f"| {label} | {statistics.median(times):.3f} |")


def main() -> None:
    fitted = fitted_model()
    print(f"{ROWS} rows, {fitted.posterior_draws.n_samples} draws")
    print("| call | seconds (median of 5) |")
    print("|---|---|")
    timed("comparisons(contrast='t', average_by=True)",
          lambda: interpret.comparisons(fitted, "t", average_by=True))  # fmt: skip
    timed("comparisons(contrast={'x': 1}, average_by=True)",
          lambda: interpret.comparisons(fitted, {"x": 1}, average_by=True))  # fmt: skip
    timed("slopes('x', average_by=True)", lambda: interpret.slopes(fitted, "x", average_by=True))
    timed("predictions(average_by='t')", lambda: interpret.predictions(fitted, average_by="t"))
    timed("predictions(conditional=['x', 't'])",
          lambda: interpret.predictions(fitted, ["x", "t"]))  # fmt: skip


if __name__ == "__main__":
    main()
