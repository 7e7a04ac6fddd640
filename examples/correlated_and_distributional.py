"""Correlated group effects and a distributional formula on lme4's sleepstudy.

Run with ``python examples/correlated_and_distributional.py``. It fits

1. ``Reaction ~ Days + (Days | Subject)``: each subject's intercept and slope, and their
   correlation, printed next to lme4's REML estimates;
2. the same model with ``sigma ~ Days``: does the residual spread grow over the days of
   sleep deprivation? It prints the posterior of ``sigma_Days`` (on the log scale) and the
   residual sd the model predicts for day 0 and day 9.
"""

import arviz as az
import numpy as np
import pandas as pd

import bayesmm as bmm

data = bmm.load_data("sleepstudy")

model = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
components = ["1|Subject_sigma", "Days|Subject_sigma", "1|Subject:Days|Subject_corr", "sigma"]
summary = az.summary(idata, var_names=components, kind="stats")
summary["lme4"] = [24.74, 5.92, 0.066, 25.59]  # Bates et al. (2015), section 3.3
print(summary)

hetero = bmm.Model(bmm.Formula("Reaction ~ Days + (Days | Subject)", "sigma ~ Days"), data)
print(hetero)
idata = hetero.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
print(az.summary(idata, var_names=["sigma_Intercept", "sigma_Days"], kind="stats"))
posterior = idata.posterior
for day in (0, 9):
    sigma = np.exp(posterior["sigma_Intercept"] + posterior["sigma_Days"] * day)
    low, high = np.quantile(sigma, [0.05, 0.95])
    mean = float(sigma.mean())
    print(f"residual sd on day {day}: {mean:.1f} (90% interval {low:.1f} to {high:.1f})")
new = pd.DataFrame({"Days": [0, 9], "Subject": ["new", "new"]})
spread = hetero.fitted(idata).draws(new, "response", sample_new_groups="gaussian", random_seed=2)
print("predictive sd of a new subject on days 0 and 9:", spread.std(axis=0).round(1))
