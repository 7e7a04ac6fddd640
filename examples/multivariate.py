"""Two outcomes of the same pupils, fitted together: reading and maths scores in schools.

Run with ``python examples/multivariate.py`` (about a minute on two cores). It

1. simulates 40 schools of 15 pupils, each with a reading and a maths score; the scores of
   a pupil are correlated (residual correlation 0.5), and so are a school's effects on the
   two (0.7), and an hour of homework helps maths more than reading;
2. fits them as one model with correlated residuals (``rescor``, the default for gaussian
   responses) and the school effects linked across the responses by ``gr(school, id="s")``;
3. prints the posterior of the correlations and the slopes beside the truth;
4. draws the joint predictive distribution of a new pupil's two scores in a new school,
   with and without the correlations, to ``multivariate-joint.png`` (or the path given as
   the first argument), and prints the probability that the pupil scores above 60 in both.

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

rng = np.random.default_rng(20261208)
n_schools, per_school = 40, 15
school = np.repeat(np.arange(n_schools), per_school)
effects = rng.multivariate_normal([0, 0], [[16, 0.7 * 4 * 5], [0.7 * 4 * 5, 25]], n_schools)
residuals = rng.multivariate_normal([0, 0], [[64, 0.5 * 8 * 10], [0.5 * 8 * 10, 100]], school.size)
homework = rng.uniform(0, 3, school.size)
data = pd.DataFrame(
    {
        "reading": 50 + 1.0 * homework + effects[school, 0] + residuals[:, 0],
        "maths": 45 + 4.0 * homework + effects[school, 1] + residuals[:, 1],
        "homework": homework,
        "school": [f"school{i}" for i in school],
    }
)

draws = int(os.environ.get("BAYESMM_EXAMPLE_DRAWS", "1000"))
options = {"draws": draws, "chains": 2, "random_seed": 1, "progressbar": False}
formula = bmm.Formula('reading ~ homework + (1 | gr(school, id="s"))') + bmm.Formula(
    'maths ~ homework + (1 | gr(school, id="s"))'
)
joint = bmm.Model(formula, data)
separate = bmm.Model(
    "mvbind(reading, maths) ~ homework + (1 | school)", data, rescor=False
)
fits = {"joint": joint.fitted(joint.fit(**options)), "separate": separate.fitted(separate.fit(**options))}
names = [
    "reading_homework",
    "maths_homework",
    "reading:maths_rescor",
    "reading_1|school:maths_1|school_corr",
    "reading_1|school_sigma",
    "maths_1|school_sigma",
]
print(az.summary(fits["joint"].idata, var_names=names, kind="stats"))
print("truth: slopes 1.0 and 4.0, rescor 0.5, school correlation 0.7, school sds 4 and 5")

new = pd.DataFrame({"homework": [2.0], "school": ["a new school"]})
figure, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
for ax, (label, fitted) in zip(axes, fits.items(), strict=True):
    scores = fitted.draws_array(new, kind="response", sample_new_groups="gaussian", random_seed=2)
    reading = scores.sel(__response__="reading").to_numpy().ravel()
    maths = scores.sel(__response__="maths").to_numpy().ravel()
    both = np.mean((reading > 60) & (maths > 60))
    print(f"{label}: P(both above 60) = {both:.3f}; correlation {np.corrcoef(reading, maths)[0, 1]:.2f}")
    ax.scatter(reading, maths, s=3, alpha=0.25)
    ax.axvline(60, color="grey", lw=0.8)
    ax.axhline(60, color="grey", lw=0.8)
    ax.set_title(f"{label}: P(both > 60) = {both:.2f}")
    ax.set_xlabel("reading")
axes[0].set_ylabel("maths")
figure.suptitle("A new pupil (2 hours of homework) in a new school: joint predictive draws")
figure.tight_layout()
path = sys.argv[1] if len(sys.argv) > 1 else "multivariate-joint.png"
figure.savefig(path, dpi=110)
print(f"wrote {path}")
