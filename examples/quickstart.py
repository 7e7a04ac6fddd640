"""Quickstart: fit lme4's sleepstudy with by-subject intercepts and slopes.

Run with ``python examples/quickstart.py``; it prints the model and the posterior summary and
writes ``quickstart_trace.png``.
"""

# bayesmm first: importing it quiets two warnings of its dependencies that a user cannot
# act on (see docs/fitting.md).
import bayesmm as bmm  # isort: skip

import arviz as az
import matplotlib

matplotlib.use("Agg")  # write files; no display needed
import matplotlib.pyplot as plt
import pandas as pd

data = bmm.load_data("sleepstudy")
model = bmm.Model("Reaction ~ Days + (Days | Subject)", data)
print(model)

idata = model.fit(draws=1000, chains=2, random_seed=1)
with pd.option_context("display.max_rows", None, "display.width", 120):
    print(az.summary(idata))

az.plot_trace(idata, var_names=["Intercept", "Days", "sigma"])
plt.tight_layout()
plt.savefig("quickstart_trace.png", dpi=80)
print("Wrote quickstart_trace.png")
