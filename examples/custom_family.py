"""A custom family built from Likelihood, Link and Family, fitted, saved and loaded again.

Run with ``python examples/custom_family.py [draws]``. It builds a logit-link Bernoulli
family by hand (scipy's logit and expit for numpy, pytensor's sigmoid for the backend), fits
the bacteria data with it and with the built-in ``bernoulli``, prints both posterior means,
then saves the custom model, loads it back and predicts from the file.

The link's functions are numpy/scipy ufuncs and a pytensor operation, so the file can name
them by import path. A function of your own must be defined at module level in a module that
can be imported when the file is loaded (not in the script you run).
"""

import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytensor.tensor as pt
from scipy import special

import bayesmm as bmm

draws = int(sys.argv[1]) if len(sys.argv) > 1 else 300
data = bmm.load_data("bacteria")
formula = "y['y'] ~ trt + week + (1|ID)"

link = bmm.Link("my_logit", link=special.logit, linkinv=special.expit, linkinv_backend=pt.sigmoid)
family = bmm.Family(
    "my_bernoulli",
    likelihood=bmm.Likelihood("Bernoulli", parent="p"),  # params ("p",) from PyMC's Bernoulli
    link=link,  # its name is the default and only link
)

builtin = bmm.Model(formula, data, family="bernoulli")
# The default prior scale of a link depends on its name, so give the custom model the built-in
# one's priors: the two are then the same model.
custom = bmm.Model(
    formula, data, family=family, priors={t.name: t.prior for t in builtin.priors.terms}
)
print(custom)

options = {"draws": draws, "tune": draws, "chains": 2, "random_seed": 1, "progressbar": False}
fits = {"bernoulli": builtin.fit(**options), "my_bernoulli": custom.fit(**options)}
means = pd.DataFrame(
    {
        name: idata.posterior[["Intercept", "week", "1|ID_sigma"]].mean().to_pandas()
        for name, idata in fits.items()
    }
)
print("\nPosterior means:\n", means.round(3))

with tempfile.TemporaryDirectory() as folder:
    path = custom.save(Path(folder) / "custom.nc", fits["my_bernoulli"])
    loaded = bmm.load(path)
    new = pd.DataFrame({"trt": ["placebo", "drug"], "week": [2, 2], "ID": ["X01", "X01"]})
    print(f"\nLoaded {loaded}")
    print(
        "P(y) for new rows, 90% intervals:\n",
        loaded.interval(new, prob=0.9, kind="response_params").round(3),
    )
