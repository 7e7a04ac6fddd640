"""Fit the demo model that ``bayesmm serve`` ships, and save it where the package keeps it.

lme4's sleepstudy model with correlated effects, 2 chains of 1,000 draws thinned to 250 per
chain in the file, with new subjects drawn from the fitted population by default::

    python examples/serve_demo.py
"""

from __future__ import annotations

import bayesmm as bmm
from bayesmm.serve.demo import DEMO_FILE, DEMO_FORMULA


def write_demo(path=DEMO_FILE):
    """Fit the demo model with NUTS and save it to ``path``."""
    model = bmm.Model(DEMO_FORMULA, bmm.load_data("sleepstudy"))
    idata = model.fit(draws=1000, tune=1000, chains=2, random_seed=2024, progressbar=False)
    return model.save(path, idata, draws=250, sample_new_groups="gaussian")


if __name__ == "__main__":
    print(f"wrote {write_demo()}")
