"""Write the golden model files that every later bayesmm must load (``tests/test_io_files.py``).

Run once per file-format version, from the repository root:

    python tests/data/golden/make_golden.py

Each model is fitted with NUTS, thinned to 25 draws per chain to keep the files small, saved
as ``<name>_v<format>.nc``, and its predictions for a few new rows are written next to it as
``<name>_v<format>.json``. Never regenerate the files of an existing format version: they are
the record of what that version wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

import bayesmm as bmm
from bayesmm.io import FORMAT_VERSION

HERE = Path(__file__).parent
SEED = 20261121

MODELS = {
    "sleepstudy": (
        "sleepstudy",
        "Reaction ~ center(Days) + (Days | Subject)",
        "gaussian",
        {"Days": [0, 3.5, 9, 4], "Subject": [308, 335, 372, "new"]},
    ),
    "cbpp": (
        "cbpp",
        "p(incidence, size) ~ period + (1|herd)",
        "binomial",
        {"period": ["1", "2", "4"], "herd": ["1", "15", "new"], "size": [10, 20, 5]},
    ),
}


def main() -> None:
    for name, (dataset, formula, family, new) in MODELS.items():
        model = bmm.Model(formula, bmm.load_data(dataset), family=family)
        idata = model.fit(draws=200, tune=500, chains=2, random_seed=SEED, progressbar=False)
        stem = HERE / f"{name}_v{FORMAT_VERSION}"
        fitted = bmm.load(model.save(stem.with_suffix(".nc"), idata, draws=25))
        rows = pd.DataFrame(new)
        predictions = {
            f"{kind}:{policy}": fitted.draws(
                rows, kind, sample_new_groups=policy, random_seed=SEED
            ).tolist()
            for kind in ("response_params", "response")
            for policy in ("uncertainty", "gaussian", "population")
        }
        record = {
            "formula": formula,
            "family": family,
            "seed": SEED,
            "new_data": new,
            "predictions": predictions,
            "in_sample_mean": fitted.draws(None, "response_params").mean(0).tolist(),
        }
        stem.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {stem}.nc and .json")


if __name__ == "__main__":
    main()
