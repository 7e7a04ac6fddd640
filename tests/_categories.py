"""Simulated data of three unordered categories, for the multinomial logit's tests."""

import numpy as np
import pandas as pd
from scipy.special import softmax


def simulate(rng: np.random.Generator, n: int = 300, groups: int = 8) -> pd.DataFrame:
    """Three categories a (reference), b and c; eta_b = 0.5 + x + u_b[g] and
    eta_c = -0.5 - 0.8 x + u_c[g], with group intercepts u of sd 0.5."""
    x = rng.normal(size=n)
    g = rng.integers(0, groups, size=n)
    u_b, u_c = 0.5 * rng.standard_normal((2, groups))
    eta = np.stack([np.zeros(n), 0.5 + 1.0 * x + u_b[g], -0.5 - 0.8 * x + u_c[g]], axis=1)
    u = rng.random((n, 1))
    codes = (softmax(eta, axis=1).cumsum(axis=1) < u).sum(axis=1)
    y = pd.Categorical(np.array(["a", "b", "c"])[codes], categories=["a", "b", "c"])
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


def simulate_counts(rng: np.random.Generator, n: int = 300, groups: int = 10) -> pd.DataFrame:
    """Counts of three categories a (reference), b and c in 5 to 29 trials per row, with
    log odds as :func:`simulate`'s and group intercepts of sd 0.4."""
    x = rng.normal(size=n)
    g = rng.integers(0, groups, size=n)
    u_b, u_c = 0.4 * rng.standard_normal((2, groups))
    eta = np.stack([np.zeros(n), 0.5 + 1.0 * x + u_b[g], -0.5 - 0.8 * x + u_c[g]], axis=1)
    trials = rng.integers(5, 30, size=n)
    counts = rng.multinomial(trials, softmax(eta, axis=1))
    data = pd.DataFrame(counts, columns=["a", "b", "c"])
    return data.assign(x=x, g=[f"g{i}" for i in g])
