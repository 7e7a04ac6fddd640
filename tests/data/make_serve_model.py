"""Write ``bacteria_bernoulli.nc``, the bernoulli model the serving fuzz tests serve.

Run from the repository root: ``python tests/data/make_serve_model.py``. The model is
``y['y'] ~ trt + week + (1|ID)`` on the bundled bacteria data (a categorical predictor and a
grouping factor), fitted briefly with NUTS and kept as 2 chains of 50 draws: the tests check
the service, not the posterior.
"""

from pathlib import Path

import bayesmm as bmm

model = bmm.Model("y['y'] ~ trt + week + (1|ID)", bmm.load_data("bacteria"), family="bernoulli")
idata = model.fit(draws=200, tune=300, chains=2, random_seed=5, progressbar=False)
path = model.save(
    Path(__file__).with_name("bacteria_bernoulli.nc"), idata, draws=50, posterior_only=True
)
print(f"wrote {path}")
