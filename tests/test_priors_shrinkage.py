"""Joint shrinkage priors of the common slopes: ``Prior("Horseshoe")`` and ``Prior("R2D2")``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmm as bmm
from _recovery import interval_misses

SLOPES = [2.0, -1.5, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def _sparse(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(SLOPES)))
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(len(SLOPES))])
    frame["y"] = 1.0 + X @ np.array(SLOPES) + rng.normal(size=n)
    frame["g"] = np.tile(["a", "b", "c"], n)[:n]
    return frame


FORMULA = "y ~ " + " + ".join(f"x{j}" for j in range(len(SLOPES)))


@pytest.fixture(scope="module")
def data():
    return _sparse(80, 1)


def _prior_draws(model, names, n=4000):
    import pymc as pm

    pymc_model = model.backend.model
    values = pm.draw([pymc_model[name] for name in names], draws=n, random_seed=3)
    return dict(zip(names, values, strict=True))


def test_common_shrinks_the_slopes_but_never_the_intercept(data):
    model = bmm.Model(FORMULA, data, priors={"common": bmm.Prior("Horseshoe")})
    kinds = {t.name: t.prior.name for t in model.priors.terms}
    assert kinds["Intercept"] == "Normal" and kinds["x0"] == kinds["x11"] == "Horseshoe"
    text = repr(model)
    assert "x3 ~ Horseshoe()" in text


def test_a_tuple_of_terms_shrinks_those_alone(data):
    model = bmm.Model(FORMULA, data, priors={("x3", "x4"): bmm.Prior("R2D2")})
    assert model.priors["x3"].name == "R2D2" and model.priors["x0"].name == "Normal"
    pymc_model = model.backend.model
    assert list(pymc_model.coords["shrinkage__dim"]) == ["x3", "x4"]


def test_horseshoe_slopes_are_z_tau_and_the_regularised_local_scale(data):
    model = bmm.Model(FORMULA, data, priors={"common": bmm.Prior("Horseshoe", scale_slab=1.5)})
    names = [
        "x0",
        "x5",
        "hs_local",
        "hs_global",
        "hs_global_raw",
        "hs_slab",
        "shrinkage_z",
        "sigma",
    ]
    d = _prior_draws(model, names)
    c2 = 1.5**2 * d["hs_slab"]
    lam, tau = d["hs_local"], d["hs_global"]
    scale = tau[:, None] * np.sqrt(
        c2[:, None] * lam**2 / (c2[:, None] + tau[:, None] ** 2 * lam**2)
    )
    expected = d["shrinkage_z"] * scale
    np.testing.assert_allclose(d["x0"], expected[:, 0], rtol=1e-10)
    np.testing.assert_allclose(d["x5"], expected[:, 5], rtol=1e-10)
    # autoscale: tau's scale is scale_global (1) times sigma.
    np.testing.assert_allclose(tau, d["hs_global_raw"] * d["sigma"], rtol=1e-12)
    # The local scales are half-Cauchy (df=1), the slab inverse-gamma(2, 2): KS at 0.1%.
    assert stats.kstest(lam[:, 0], stats.halfcauchy.cdf).pvalue > 1e-3
    assert stats.kstest(d["hs_slab"], stats.invgamma(2, scale=2).cdf).pvalue > 1e-3


def test_par_ratio_sets_the_global_scale_and_autoscale_can_be_off(data):
    prior = bmm.Prior("Horseshoe", par_ratio=0.25, autoscale=False)
    model = bmm.Model(FORMULA, data, priors={"common": prior})
    d = _prior_draws(model, ["hs_global", "hs_global_raw"])
    np.testing.assert_allclose(d["hs_global"], d["hs_global_raw"] * 0.25 / np.sqrt(len(data)))


def test_r2d2_slopes_split_the_explained_variance(data):
    model = bmm.Model(FORMULA, data, priors={"common": bmm.Prior("R2D2", mean_R2=0.4)})
    d = _prior_draws(
        model, ["x0", "x7", "R2D2_R2", "R2D2_tau2", "R2D2_phi", "shrinkage_z", "sigma"]
    )
    np.testing.assert_allclose(d["R2D2_tau2"], d["R2D2_R2"] / (1 - d["R2D2_R2"]))
    np.testing.assert_allclose(d["R2D2_phi"].sum(axis=1), 1.0)
    scale = np.sqrt(d["R2D2_phi"] * d["R2D2_tau2"][:, None]) * d["sigma"][:, None]
    np.testing.assert_allclose(d["x7"], d["shrinkage_z"][:, 7] * scale[:, 7], rtol=1e-10)
    # R2 ~ Beta(mean * prec, (1 - mean) * prec) = Beta(0.8, 1.2): KS at 0.1%.
    assert stats.kstest(d["R2D2_R2"], stats.beta(0.8, 1.2).cdf).pvalue > 1e-3


def test_a_factor_term_is_shrunk_column_by_column(data, stub_sampler, tmp_path):
    model = bmm.Model("y ~ x0 + g", data, priors={"common": bmm.Prior("R2D2")})
    pymc_model = model.backend.model
    assert list(pymc_model.coords["shrinkage__dim"]) == ["x0", "g[b]", "g[c]"]
    idata = model.fit(draws=20, chains=2, random_seed=2, progressbar=False)
    assert idata.posterior["g"].shape == (2, 20, 2)
    loaded = bmm.load(model.save(tmp_path / "r2d2.nc", idata))
    assert loaded.spec.priors == model.spec().priors
    new = pd.DataFrame({"x0": [0.0, 1.0], "g": ["a", "c"]})
    np.testing.assert_array_equal(loaded.draws(new), model.fitted(idata).draws(new))


@pytest.mark.parametrize(
    ("prior", "match"),
    [
        (lambda: bmm.Prior("Horseshoe", df=0), r"df must be a positive number; got 0"),
        (lambda: bmm.Prior("Horseshoe", scale=1), r"no parameter 'scale'.*scale_global"),
        (lambda: bmm.Prior("R2D2", mean_R2=1.2), r"mean_R2 must be a number strictly between"),
        (lambda: bmm.Prior("R2D2", autoscale="yes"), r"autoscale must be True or False"),
        (lambda: bmm.Prior("R2D2", prec_R2=bmm.Prior("HalfNormal", sigma=1)), r"prec_R2 must"),
    ],
)
def test_bad_parameters_name_the_prior(prior, match):
    with pytest.raises(bmm.PriorError, match=match):
        prior()


def test_shrinkage_is_refused_where_it_does_not_belong(data):
    with pytest.raises(bmm.PriorError, match=r"'Intercept' is the intercept.*tuple of slopes"):
        bmm.Model(FORMULA, data, priors={"Intercept": bmm.Prior("Horseshoe")})
    with pytest.raises(bmm.PriorError, match=r"two different shrinkage priors"):
        bmm.Model(FORMULA, data, priors={"x0": bmm.Prior("Horseshoe"), "x1": bmm.Prior("R2D2")})
    with pytest.raises(bmm.PriorError, match=r"'1\|g' is a group term"):
        bmm.Model("y ~ x0 + (1|g)", data, priors={"1|g": bmm.Prior("R2D2")})
    formula = bmm.Formula("y ~ x0 + x1", "sigma ~ x2")
    with pytest.raises(bmm.PriorError, match=r"term of the formula of 'sigma'"):
        bmm.Model(formula, data, priors={"sigma_x2": bmm.Prior("R2D2")})
    # Through "common", the distributional formula's terms keep their defaults.
    model = bmm.Model(formula, data, priors={"common": bmm.Prior("R2D2")})
    assert model.priors["sigma_x2"].name == "Normal" and model.priors["x1"].name == "R2D2"


@pytest.mark.parametrize(
    ("formula", "key", "match"),
    [
        (
            "y ~ x0 + (1|g)",
            "group_specific",
            r"priors\['group_specific'\] = Horseshoe\(\), but a Horseshoe prior shrinks "
            r"the slopes of the main formula jointly and it is never a prior of group-specific "
            r"effects\. Give it to 'common'",
        ),
        ("y ~ 1 + (1|g)", "common", r"priors\['common'\] .* the main formula has no slopes"),
    ],
)
def test_a_shrinkage_prior_for_a_kind_it_cannot_reach_is_refused(data, formula, key, match):
    with pytest.raises(bmm.PriorError, match=match):
        bmm.Model(formula, data, priors={key: bmm.Prior("Horseshoe")})
    model = bmm.Model(formula, data)
    with pytest.raises(bmm.PriorError, match=match):
        model.set_priors(**{key: bmm.Prior("Horseshoe")})


@pytest.mark.slow
@pytest.mark.parametrize("name", ["Horseshoe", "R2D2"])
def test_sparse_slopes_are_recovered_and_the_zeros_shrunk(name):
    """Fourteen 90% intervals (the intercept, twelve slopes, sigma): three or more misses by
    chance has probability 15%, five or more 0.9%, so at most four may miss (fixed seeds);
    every 99% interval must cover. The shrinkage is checked against the default priors on the
    same data: the nine zero slopes' posterior means are closer to zero in total."""
    data = _sparse(100, 5)
    truth = {"Intercept": 1.0, "sigma": 1.0, **{f"x{j}": b for j, b in enumerate(SLOPES)}}
    options = {"draws": 500, "tune": 1000, "chains": 2, "random_seed": 4, "progressbar": False}
    shrunk = bmm.Model(FORMULA, data, priors={"common": bmm.Prior(name)}).fit(
        target_accept=0.95, **options
    )
    assert len(interval_misses(shrunk.posterior, truth, name)) <= 4
    assert int(shrunk.sample_stats["diverging"].sum()) <= 5  # of 1,000 draws
    flat = bmm.Model(FORMULA, data).fit(**options)
    zeros = [f"x{j}" for j, b in enumerate(SLOPES) if b == 0]
    error = {
        label: sum(float(fit.posterior[z].mean()) ** 2 for z in zeros)
        for label, fit in (("shrunk", shrunk), ("default", flat))
    }
    assert error["shrunk"] < error["default"], error


def test_common_leaves_monotonic_and_smooth_terms_at_their_defaults():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"k": rng.integers(0, 4, 60), "z": rng.normal(size=60), "w": rng.uniform(size=60)}
    )
    frame["y"] = frame["k"] + frame["z"] + rng.normal(size=60)
    model = bmm.Model("y ~ mo(k) + z + s(w, k=5)", frame, priors={"common": bmm.Prior("Horseshoe")})
    kinds = {t.name: t.prior.name for t in model.priors.terms}
    assert kinds == {
        "Intercept": "Normal",
        "mo(k)": "Normal",
        "z": "Horseshoe",
        "s(w, k=5)": "Normal",
        "s(w, k=5)_sigma": "HalfStudentT",
        "sigma": "HalfStudentT",
    }
    assert "hs_global" in model.backend.model.named_vars
    assert bmm.Prior("Horseshoe", par_ratio=None).with_defaults()["par_ratio"] is None


def test_a_multinomial_logit_refuses_shrinkage():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"y": rng.choice(["a", "b", "c"], 90), "x": rng.normal(size=90)})
    with pytest.raises(bmm.PriorError, match=r"one per category but the first"):
        bmm.Model("y ~ x", frame, family="categorical", priors={"common": bmm.Prior("R2D2")})


def test_a_shrunk_zoib_model_loads_predicts_and_serves_without_pymc(stub_sampler, tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x1": rng.normal(size=80), "x2": rng.normal(size=80)})
    frame["y"] = np.clip(rng.beta(2, 3, 80) + 0.3 * (rng.random(80) < 0.15), 0, 1)
    model = bmm.Model("y ~ x1 + x2", frame, family="zoib", priors={"common": bmm.Prior("R2D2")})
    idata = model.fit(draws=20, chains=2, random_seed=3, progressbar=False)
    path = model.save(tmp_path / "zoib.nc", idata)
    new = pd.DataFrame({"x1": [0.0, 1.0], "x2": [1.0, -1.0]})
    np.save(tmp_path / "expected.npy", model.fitted(idata).draws(new, "response", random_seed=2))
    code = f"""
import sys
import numpy as np, pandas as pd
import bayesmm as bmm
from fastapi.testclient import TestClient
from bayesmm.serve import create_app
new = pd.DataFrame({{"x1": [0.0, 1.0], "x2": [1.0, -1.0]}})
loaded = bmm.load({str(path)!r})
assert "R2D2" in repr(loaded.spec.priors), loaded.spec.priors
expected = np.load({str(tmp_path / "expected.npy")!r})
np.testing.assert_array_equal(loaded.draws(new, "response", random_seed=2), expected)
client = TestClient(create_app({str(path)!r}))
got = client.post("/v1/predict/point", json={{"rows": [{{"x1": 0.0, "x2": 1.0}}]}})
assert got.status_code == 200, got.text
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"
