"""Nonlinear terms and missing predictors on lme4's sleepstudy.

Run with ``python examples/nonlinear_terms.py`` (a few minutes on two cores). It fits

1. ``Reaction ~ mo(Days) + (1|Subject)``: a monotonic effect of each day of sleep
   deprivation, printing how the total change is shared between the nine steps;
2. ``Reaction ~ s(Days, k=6) + (1|Subject)``: a penalised smooth, printing the curve at
   days 0, 3, 6 and 9 with its 90% interval;
3. the smooth model with a quarter of ``Days`` hidden, imputed from the subject:
   ``bmm.Formula("Reaction ~ mi(Days) + (1|Subject)", "Days ~ (1|Subject)")`` keeps the
   rows without ``Days``, and prints the slope next to the one from the complete rows.
"""

import arviz as az
import numpy as np
import pandas as pd

import bayesmm as bmm

data = bmm.load_data("sleepstudy")
options = {"draws": 500, "chains": 2, "random_seed": 1, "progressbar": False}

steps = bmm.Model("Reaction ~ mo(Days) + (1|Subject)", data)
idata = steps.fit(**options)
print(az.summary(idata, var_names=["mo(Days)", "mo(Days)_simplex"], kind="stats"))

smooth = bmm.Model("Reaction ~ s(Days, k=6) + (1|Subject)", data)
fitted = smooth.fitted(smooth.fit(**options))
days = pd.DataFrame({"Days": [0, 3, 6, 9], "Subject": "308"})
print(pd.concat([days, fitted.interval(days, prob=0.9, kind="response_params")], axis=1))

rng = np.random.default_rng(2)
hidden = data.assign(Days=data["Days"].astype(float).where(rng.random(len(data)) > 0.25))
imputed = bmm.Model(bmm.Formula("Reaction ~ mi(Days) + (1|Subject)", "Days ~ (1|Subject)"), hidden)
print(imputed)
slope = imputed.fit(**options).posterior["mi(Days)"]
complete = bmm.Model("Reaction ~ Days + (1|Subject)", hidden.dropna()).fit(**options)
print(f"slope of Days: imputed {float(slope.mean()):.2f} (sd {float(slope.std()):.2f}), "
      f"complete rows {float(complete.posterior['Days'].mean()):.2f} "
      f"(sd {float(complete.posterior['Days'].std()):.2f})")  # fmt: skip
