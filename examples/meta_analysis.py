"""Meta-analysis of the BCG vaccine trials with known standard errors, ``se(yi, sei)``.

Run with ``python examples/meta_analysis.py`` (under a minute on two cores). It

1. computes each trial's log risk ratio of tuberculosis (vaccinated against control) and its
   standard error from the 2x2 counts;
2. fits the random-effects model ``se(yi, sei) ~ 1 + (1|trial)``: a pooled log risk ratio
   and the between-trial sd ``1|trial_sigma`` (tau), with no residual sigma, since each
   trial's sampling error is known;
3. fits the meta-regression on absolute latitude, ``se(yi, sei) ~ ablat + (1|trial)``;
4. draws a forest plot (each trial's estimate with its 95% interval, the trial's shrunken
   estimate, and the pooled one) to ``meta-analysis-forest.png``, or to the path given as the
   first argument.
"""

import sys

import arviz as az
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import bayesmm as bmm

data = bmm.load_data("bcg")
risk_vaccinated = data["tpos"] / (data["tpos"] + data["tneg"])
risk_control = data["cpos"] / (data["cpos"] + data["cneg"])
data["yi"] = np.log(risk_vaccinated / risk_control)
data["sei"] = np.sqrt(
    1 / data["tpos"]
    - 1 / (data["tpos"] + data["tneg"])
    + 1 / data["cpos"]
    - 1 / (data["cpos"] + data["cneg"])
)
data["trial"] = data["trial"].astype(str)
options = {"draws": 1000, "chains": 2, "random_seed": 1, "progressbar": False}

pooled = bmm.Model("se(yi, sei) ~ 1 + (1|trial)", data)
print(pooled)
idata = pooled.fit(**options)
print(az.summary(idata, var_names=["Intercept", "1|trial_sigma"], kind="stats"))
ratio = np.exp(idata.posterior["Intercept"])
print(
    f"pooled risk ratio: {float(ratio.median()):.2f}, 90% interval "
    f"{float(ratio.quantile(0.05)):.2f} to {float(ratio.quantile(0.95)):.2f}"
)

latitude = bmm.Model("se(yi, sei) ~ ablat + (1|trial)", data)
regression = latitude.fit(**options)
print(az.summary(regression, var_names=["Intercept", "ablat", "1|trial_sigma"], kind="stats"))

# The forest plot: each trial's estimate, its estimate shrunk toward the others, the pool.
fitted = pooled.fitted(idata)
shrunk = fitted.interval(data[["trial"]], prob=0.95, kind="response_params")
order = np.argsort(data["yi"].to_numpy())
fig, ax = plt.subplots(figsize=(6.5, 6))
rows = np.arange(len(data))
yi, sei = data["yi"].to_numpy()[order], data["sei"].to_numpy()[order]
ax.errorbar(yi, rows + 0.15, xerr=1.96 * sei, fmt="s", color="0.4", label="trial (95% CI)")
low, high = shrunk.iloc[order, 0].to_numpy(), shrunk.iloc[order, 1].to_numpy()
mid = fitted.point(data[["trial"]], kind="response_params")["mean"].to_numpy()[order]
ax.errorbar(
    mid,
    rows - 0.15,
    xerr=[mid - low, high - mid],
    fmt="o",
    color="C0",
    label="trial, shrunk (95% interval)",
)
mu = idata.posterior["Intercept"]
ax.errorbar(
    float(mu.median()),
    -1.2,
    xerr=[[float(mu.median() - mu.quantile(0.025))], [float(mu.quantile(0.975) - mu.median())]],
    fmt="D",
    color="C3",
    label="pooled",
)
labels = [f"{a} {y}" for a, y in zip(data["author"], data["year"], strict=True)]
ax.set_yticks([*rows, -1.2], [labels[i] for i in order] + ["pooled"])
ax.axvline(0, color="0.7", lw=1)
ax.set_xlabel("log risk ratio of tuberculosis (vaccinated / control)")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[1] if len(sys.argv) > 1 else "meta-analysis-forest.png", dpi=110)
