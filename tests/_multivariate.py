"""Multivariate models of simulated data, for the tests of their design, graph and
predictions."""

import numpy as np
import pandas as pd

from bayesmm.design.multivariate import build_mv_design, resolve_rescor
from bayesmm.families import get_family


def frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y1": rng.normal(size=n),
            "y2": rng.normal(size=n),
            "b": rng.integers(0, 2, size=n),
            "x": rng.normal(size=n),
            "w": rng.normal(size=n),
            "g": np.repeat(list("abcd"), n // 4),
        }
    )


def design_of(formula, data, family=None, rescor=None, dropna=False):
    family = family or {r: "gaussian" for r in formula.responses}
    families = {r: get_family(f) for r, f in family.items()}
    links = {
        r: families[r].resolve_links(None, f.distributional)[1]
        for r, f in formula.by_response().items()
    }
    rescor = resolve_rescor(families, rescor)
    design = build_mv_design(formula, data, families, links, rescor=rescor, dropna=dropna)
    return design, families
