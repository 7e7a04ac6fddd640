"""Prediction: a fitted subject, a new subject under each policy, and a posterior check.

Run with ``python examples/prediction.py``; it prints 90% predictive intervals of reaction
time after 0 to 9 days of sleep deprivation, and writes ``prediction_ppc.png``.
"""

import arviz as az
import matplotlib

matplotlib.use("Agg")  # write files; no display needed
import matplotlib.pyplot as plt
import pandas as pd

import bayesmm as bmm

data = bmm.load_data("sleepstudy")
model = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
idata = model.fit(draws=1000, chains=2, random_seed=1, progressbar=False)
fitted = model.fitted(idata)

days = pd.DataFrame({"Days": [0, 3, 6, 9]})
print("Subject 308 (fitted), 90% predictive interval:")
print(fitted.interval(days.assign(Subject="308"), prob=0.9, random_seed=1).round(1))

new = days.assign(Subject="someone new")
for policy in ["gaussian", "uncertainty", "population"]:
    print(f"\nA new subject, sample_new_groups={policy!r}:")
    print(fitted.interval(new, prob=0.9, sample_new_groups=policy, random_seed=1).round(1))

print("\nBayesian R2:")
print(fitted.r2().round(3))

az.plot_ppc(model.predict(idata, kind="response", random_seed=1), num_pp_samples=50)
plt.savefig("prediction_ppc.png", dpi=80)
print("\nWrote prediction_ppc.png")
