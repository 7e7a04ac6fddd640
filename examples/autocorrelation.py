"""Autocorrelated residuals within each subject's days: the sleepstudy model with ``ar()``.

Run with ``python examples/autocorrelation.py`` (about a minute on two cores). It

1. fits lme4's sleepstudy model, ``Reaction ~ Days + (Days | Subject)``, and the same model
   with AR(1) residuals within each subject's series of days,
   ``... + ar(time=Days, gr=Subject)``;
2. compares them by PSIS-LOO (the AR model's rows are each scored given the rest of their
   subject's days, ``FittedModel.loo``);
3. forecasts five more days of two subjects: each forecast starts from the subject's last
   residual, so it leans towards the last observed day and relaxes to the subject's line;
4. draws the forecasts with their 90% bands to ``autocorrelation-forecast.png``, or to the
   path given as the first argument.

``BAYESMM_EXAMPLE_DRAWS`` sets the draws per chain (default 1000).
"""

import os
import sys

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesmm as bmm

data = bmm.load_data("sleepstudy")
data["Subject"] = data["Subject"].astype(str)
draws = int(os.environ.get("BAYESMM_EXAMPLE_DRAWS", "1000"))
options = {"draws": draws, "chains": 2, "random_seed": 1, "progressbar": False}

plain = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
ar = bmm.Model("Reaction ~ Days + (Days | Subject) + ar(time=Days, gr=Subject)", data)
fits = {"independent": plain.fitted(plain.fit(**options)), "ar(1)": ar.fitted(ar.fit(**options))}
print(az.summary(fits["ar(1)"].idata, var_names=["Intercept", "Days", "ar", "sigma"]))
print(bmm.compare(fits))

subjects = ["308", "335"]
future = pd.DataFrame(
    {"Subject": np.repeat(subjects, 5), "Days": np.tile(np.arange(10, 15), len(subjects))}
)
fig, axes = plt.subplots(1, len(subjects), figsize=(9, 3.5), sharey=True)
for ax, subject in zip(axes, subjects, strict=True):
    rows = future[future["Subject"] == subject]
    seen = data[data["Subject"] == subject]
    ax.plot(seen["Days"], seen["Reaction"], "o", color="black", label="observed")
    for name, color in (("independent", "tab:gray"), ("ar(1)", "tab:blue")):
        fitted = fits[name]
        band = fitted.interval(rows, prob=0.9, method="eti", random_seed=2)
        mean = fitted.point(rows)
        ax.plot(rows["Days"], mean, color=color, label=f"{name}: mean")
        ax.fill_between(rows["Days"], band["lower"], band["upper"], color=color, alpha=0.2)
    ax.set_title(f"Subject {subject}")
    ax.set_xlabel("Days")
axes[0].set_ylabel("Reaction (ms)")
axes[0].legend(loc="upper left", fontsize=8)
fig.tight_layout()
path = sys.argv[1] if len(sys.argv) > 1 else "autocorrelation-forecast.png"
fig.savefig(path, dpi=120)
print(f"wrote {path}")
