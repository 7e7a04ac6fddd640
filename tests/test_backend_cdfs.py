"""The log probabilities of truncated and censored responses (backend.cdfs): values as
scipy's, gradients finite at one-sided, far and extreme bounds and equal to finite
differences, on the PyTensor and JAX routes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from bayesmm.backend.graph.cdfs import STABLE, log_interval

#: Each PyMC distribution: its scipy twin, a sampler of its parameters, and whether it is
#: a count. The bounds are drawn from the scipy distribution's quantiles.
FAMILIES = {
    "Normal": (lambda p: stats.norm(p["mu"], p["sigma"]), {"mu": (-3, 3), "sigma": (0.3, 3)}),
    "LogNormal": (
        lambda p: stats.lognorm(p["sigma"], scale=np.exp(p["mu"])),
        {"mu": (-1, 2), "sigma": (0.3, 1.5)},
    ),
    "Laplace": (lambda p: stats.laplace(p["mu"], p["b"]), {"mu": (-3, 3), "b": (0.3, 3)}),
    "Weibull": (
        lambda p: stats.weibull_min(p["alpha"], scale=p["beta"]),
        {"alpha": (0.7, 4), "beta": (0.5, 5)},
    ),
    "Exponential": (lambda p: stats.expon(scale=p["scale"]), {"scale": (0.3, 5)}),
    "Gamma": (
        lambda p: stats.gamma(p["alpha"], scale=1 / p["beta"]),
        {"alpha": (0.8, 6), "beta": (0.3, 3)},
    ),
    "Wald": (
        lambda p: stats.invgauss(p["mu"] / p["lam"], scale=p["lam"]),
        {"mu": (0.5, 3), "lam": (0.5, 6)},
    ),
    "Beta": (lambda p: stats.beta(p["alpha"], p["beta"]), {"alpha": (0.8, 6), "beta": (0.8, 6)}),
    "StudentT": (
        lambda p: stats.t(p["nu"], p["mu"], p["sigma"]),
        {"nu": (2.5, 30), "mu": (-3, 3), "sigma": (0.3, 3)},
    ),
    "Poisson": (lambda p: stats.poisson(p["mu"]), {"mu": (0.5, 20)}),
    "NegativeBinomial": (
        lambda p: stats.nbinom(p["alpha"], p["alpha"] / (p["alpha"] + p["mu"])),
        {"mu": (0.5, 20), "alpha": (0.5, 10)},
    ),
}
COUNTS = {"Poisson", "NegativeBinomial"}
#: PyTensor differentiates the incomplete gamma and beta functions in their shapes by series
#: that it stops early: the upper incomplete gamma's is off by up to 0.5% of its value
#: (against finite differences of PyTensor's own values). A gradient error costs NUTS
#: acceptance, not correctness (its moves are accepted on the exact log density), so those
#: parameters are held to what PyTensor gives; the others to the differences' own error.
SERIES_RTOL = {"Gamma": 1e-2, "Beta": 1e-3, "StudentT": 1e-3, "NegativeBinomial": 1e-3}
#: JAX lacks the gradients of the incomplete gamma and beta functions in their shapes, so
#: "auto" samples these with nutpie (docs/formulas.md); the others run on both routes.
NOT_ON_JAX = {"Gamma", "Beta", "StudentT", "NegativeBinomial"}
SHAPES = ("lb", "ub", "both", "far")
N = 24


def _points(name: str, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random parameters, and the bounds of each shape: moderate quantiles, and a far upper
    bound (1e-12 in the tail, times 10, for the far shape)."""
    scipy_of, ranges = FAMILIES[name]
    rng = np.random.default_rng(seed)
    params = {k: rng.uniform(lo, hi, N) for k, (lo, hi) in ranges.items()}
    frozen = scipy_of(params)
    low = frozen.ppf(rng.uniform(0.02, 0.6, N))
    high = frozen.ppf(rng.uniform(0.7, 0.98, N))
    if name == "Beta":
        far = np.full(N, 1 - 1e-12)
    elif name == "Wald":  # scipy cannot invert its survival function this far out
        far = params["mu"] * 1e4
    else:
        far = frozen.isf(1e-12) * 10
    if name in COUNTS:
        low, high = np.maximum(low, 1), np.maximum(high, low + 1)
    else:
        high = np.maximum(high, low + 1e-3 * np.abs(low) + 1e-3)
    if name in ("Normal", "Laplace", "StudentT"):
        far = params["mu"] + 40 * params[next(k for k in ranges if k not in ("mu", "nu"))]
    return params, {"low": low, "high": high, "far": np.maximum(far, high + 1)}


def _compiled(name: str, mode: str):
    """``f(*params, low, high, far)``: log P(interval) of each shape, and its gradients in the
    parameters."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    dist = getattr(pm, name)
    keys = list(FAMILIES[name][1])
    inputs = [pt.dvector(k) for k in keys]
    low, high, far = pt.dvector("low"), pt.dvector("high"), pt.dvector("far")
    params = dict(zip(keys, inputs, strict=True))
    count = name in COUNTS
    shapes = {
        "lb": log_interval(dist, params, low, None, count),
        "ub": log_interval(dist, params, None, high, count),
        "both": log_interval(dist, params, low, high, count),
        "far": log_interval(dist, params, low, far, count),
    }
    outputs = []
    for value in shapes.values():
        outputs += [value, *pt.grad(value.sum(), inputs)]
    arguments = [*inputs, low, high, far]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipping .* as JAX tracing would remove it")
        both = pytensor.function(arguments, outputs, mode=mode)
        # The values alone, for the finite differences: the incomplete beta function's
        # gradient is a Python loop per element on this route.
        values = pytensor.function(arguments, list(shapes.values()), mode=mode)
    return both, values, keys


def _scipy_interval(name: str, params: dict, low, high) -> np.ndarray:
    frozen = FAMILIES[name][0](params)
    below = low - 1 if (name in COUNTS and low is not None) else low
    cdf_high = np.ones(N) if high is None else frozen.cdf(high)
    cdf_low = np.zeros(N) if below is None else frozen.cdf(below)
    return np.log(cdf_high - cdf_low)


def _routes() -> list[tuple[str, str]]:
    out = [(name, "FAST_COMPILE") for name in STABLE]
    return out + [(name, "JAX") for name in STABLE if name not in NOT_ON_JAX]


def test_every_stable_form_is_tested():
    assert set(STABLE) == set(FAMILIES)


@pytest.mark.parametrize(("name", "mode"), _routes())
def test_interval_gradients_are_finite_and_match_finite_differences(name, mode):
    if mode == "JAX":
        pytest.importorskip("jax")
        from bayesmm.backend.programs.jax import configure
        from bayesmm.backend.programs.jax_ops import register_jax_ops

        configure()
        register_jax_ops()
    function, values, keys = _compiled(name, mode)
    params, bounds = _points(name, seed=sum(map(ord, name)))
    args = [params[k] for k in keys] + [bounds["low"], bounds["high"], bounds["far"]]
    out = function(*args)
    per_shape = len(keys) + 1
    for i, shape in enumerate(SHAPES):
        value, grads = out[i * per_shape], out[i * per_shape + 1 : (i + 1) * per_shape]
        assert np.all(np.isfinite(value)), (shape, value)
        assert all(np.all(np.isfinite(g)) for g in grads), (shape, grads)
        if shape != "far":  # scipy's CDF loses the far tail in differences; ours keeps it
            low = bounds["low"] if shape in ("lb", "both") else None
            high = bounds["high"] if shape in ("ub", "both") else None
            expected = _scipy_interval(name, params, low, high)
            np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-8)
        # Central differences in each parameter: error O(h^2), about 1e-8 here.
        for j, key in enumerate(keys):
            h = 1e-5 * np.maximum(1.0, np.abs(params[key]))
            plus = [a + h if n == j else a for n, a in enumerate(args)]
            minus = [a - h if n == j else a for n, a in enumerate(args)]
            numeric = (values(*plus)[i] - values(*minus)[i]) / (2 * h)
            rtol = SERIES_RTOL.get(name, 1e-5)
            np.testing.assert_allclose(grads[j], numeric, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("mode", ["FAST_RUN", "JAX"])
@pytest.mark.parametrize("bounds", ["lb=0", "ub=0.5", "lb=0, ub=50"])
def test_a_one_sided_gaussian_models_gradient_is_finite_at_random_points(mode, bounds):
    """The model the posterior went wrong on: normal data with a third cut off at 0."""
    import pytensor
    import pytensor.tensor as pt

    if mode == "JAX":
        pytest.importorskip("jax")
        from bayesmm.backend.programs.jax import configure
        from bayesmm.backend.programs.jax_ops import register_jax_ops

        configure()
        register_jax_ops()
    rng = np.random.default_rng(7)
    y = rng.normal(0.4, 1.0, 300)
    y = y[(y >= 0) & (y <= 0.5)] if "ub=0.5" in bounds and "lb" not in bounds else y
    y = y[y >= 0] if "lb=0" in bounds else y[y <= 0.5]
    frame = pd.DataFrame({"y": y, "x": rng.normal(size=len(y))})
    model = bmm.Model(f"trunc(y, {bounds}) ~ x", frame).backend.model
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipping .* as JAX tracing would remove it")
        function = pytensor.function(
            model.value_vars, pt.grad(model.logp(), model.value_vars), mode=mode
        )
    for _ in range(20):
        # Far from the data too: intercepts of +-30, sigma from e^-3 to e^3.
        point = [
            rng.uniform(-30, 30, v.type.shape or ())
            if "sigma" not in v.name
            else rng.uniform(-3, 3, v.type.shape or ())
            for v in model.value_vars
        ]
        assert all(np.all(np.isfinite(g)) for g in function(*point))
