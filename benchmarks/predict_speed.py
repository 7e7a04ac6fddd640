"""How fast prediction is, in process, for the sleepstudy model with 2,000 posterior draws.

    python benchmarks/predict_speed.py

Fits ``Reaction ~ Days + (Days | Subject)`` (2 chains x 1,000 draws), then times predictions
for 1 row and for 10,000 rows (a mix of fitted and new subjects, new ones under the
``"gaussian"`` policy). Each figure is the median of repeated calls. Targets: 1 row under
5 ms, 10,000 rows under 1 s.

``FittedModel`` stacks the posterior once; ``Model.predict`` does that on every call and
also builds an InferenceData, so both are shown.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import bayesmm as bmm


def _median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    logging.getLogger("pymc").setLevel(logging.ERROR)
    data = bmm.load_data("sleepstudy")
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
    idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
    fitted = model.fitted(idata)
    n_draws = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]

    rng = np.random.default_rng(0)
    subjects = np.append(data["Subject"].cat.categories.astype(str), ["new1", "new2"])
    big = pd.DataFrame(
        {"Days": rng.integers(0, 10, 10_000), "Subject": rng.choice(subjects, 10_000)}
    )
    one = big.iloc[:1].assign(Subject="308")
    options = {"sample_new_groups": "gaussian", "random_seed": 1}

    rows = [
        ("DesignState.encode (the row only)", 1, lambda: model.design.state.encode(one)),
        ("FittedModel.draws, mean", 1, lambda: fitted.draws(one)),
        ("FittedModel.point", 1, lambda: fitted.point(one)),
        ("FittedModel.interval (90% HDI)", 1, lambda: fitted.interval(one, random_seed=1)),
        ("FittedModel.density (20 bins)", 1, lambda: fitted.density(one, random_seed=1)),
        ("Model.predict -> InferenceData", 1, lambda: model.predict(idata, one)),
        ("FittedModel.draws, mean", 10_000, lambda: fitted.draws(big, **options)),
        (
            "FittedModel.draws, response",
            10_000,
            lambda: fitted.draws(big, "response", **options),
        ),
        ("FittedModel.interval (90% HDI)", 10_000, lambda: fitted.interval(big, **options)),
        (
            "FittedModel.interval (90% ETI)",
            10_000,
            lambda: fitted.interval(big, method="eti", **options),
        ),
        ("Model.predict -> InferenceData", 10_000, lambda: model.predict(idata, big, **options)),
    ]
    print(f"sleepstudy, {n_draws} posterior draws; median of repeated calls")
    print(f"{'call':<34} {'rows':>6} {'ms':>9}")
    for name, n_rows, call in rows:
        repeats = 200 if n_rows == 1 else 5
        print(f"{name:<34} {n_rows:>6} {_median_ms(call, repeats):>9.2f}")
    print("targets: 1 row < 5 ms; 10,000 rows < 1000 ms")


if __name__ == "__main__":
    main()
