"""ar() of a family without a residual sd (poisson here): a latent autocorrelated residual
on the linear predictor, as brms fits it. The graph's residuals against the AR recursion
written out in numpy; prediction of training rows, in-sample rows and forecasts against
the fitted residuals and the AR(1) transition; save and load; LOO. The draws are the stub
sampler's (prior draws)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm._errors import FormulaError


def _panel(seed=5, series=5, length=6):
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "g": np.repeat([f"s{i}" for i in range(series)], length),
            "t": np.tile(np.arange(length), series),
            "x": rng.normal(size=series * length),
        }
    )
    data["y"] = rng.poisson(np.exp(0.5 + 0.3 * data["x"]))
    return data.sample(frac=1, random_state=seed).reset_index(drop=True)


def test_the_latent_residuals_follow_the_ar_recursion_from_a_stationary_start():
    data = _panel()
    for p in (1, 2):
        model = bmm.Model(f"y ~ x + ar(time=t, gr=g, p={p})", data, family="poisson")
        pm_model = model.backend.model
        assert "sderr" in [t.name for t in model.priors.terms]
        outputs = pm_model.replace_rvs_by_values(
            [pm_model["series_latent"], pm_model["ar"], pm_model["sderr"]]
        )
        run = pm_model.compile_fn(outputs, inputs=pm_model.value_vars, on_unused_input="ignore")
        point = pm_model.initial_point()
        rng = np.random.default_rng(p)
        point["series_latent_z"] = rng.normal(size=len(data))
        name = "ar_interval__" if p == 1 else "ar_partial_interval__"
        point[name] = rng.normal(size=np.shape(point[name]))
        latent, phi, sderr = run(point)
        phi = np.atleast_1d(phi)
        z = point["series_latent_z"]
        layout = model.design.series
        # Each series written out: the stationary start of an AR(p) by its Yule-Walker
        # covariance's Cholesky factor, then the recursion.
        from statsmodels.tsa.arima_process import arma_acovf

        start = 0
        for code in range(len(layout.state.labels)):
            rows = layout.order[start : start + layout.state.length[code]]
            start += len(rows)
            zz = z[rows]
            gamma = arma_acovf(np.r_[1, -phi], [1], nobs=p) * sderr**2
            lag = np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
            e = np.zeros(len(rows))
            e[:p] = np.linalg.cholesky(gamma[lag]) @ zz[:p]
            for t in range(p, len(rows)):
                e[t] = phi @ e[t - p : t][::-1] + sderr * zz[t]
            got = latent[start - len(rows) : start]
            np.testing.assert_allclose(got, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("formula", "family", "match"),
    [
        ("y ~ x + cosy(time=t, gr=g)", "poisson", r"only ar\(\) is available.*use \(1\|group\)"),
        ("y ~ x + ar(time=t, gr=g)", "categorical", r"only ar\(\) is available"),
    ],
)
def test_other_structures_and_families_of_categories_are_refused(formula, family, match):
    data = _panel()
    if family == "categorical":
        data["y"] = np.asarray(["a", "b", "c"])[data["y"].to_numpy() % 3]
    with pytest.raises(FormulaError, match=match):
        bmm.Model(formula, data, family=family)


@pytest.fixture(scope="module")
def fitted():
    from conftest import prior_draws_everywhere

    model = bmm.Model(
        "y ~ x + ar(time=t, gr=g)",
        _panel(),
        family="poisson",
        priors={"sderr": bmm.Prior("HalfNormal", sigma=0.5)},
    )
    with prior_draws_everywhere():
        idata = model.fit(draws=200, chains=2, random_seed=3, progressbar=False)
    return model.fitted(idata)


def _stacked(fit, name):
    return fit.idata.posterior[name].stack(s=("chain", "draw")).transpose("s", ...).to_numpy()


def test_training_rows_take_their_fitted_residuals_given_or_not(fitted):
    rows = fitted.training_rows
    linear = fitted.linear_predictors(rows)["mu"]
    layout = fitted.design.series
    latent = _stacked(fitted, "series_latent")
    inverse = np.empty_like(layout.order)
    inverse[layout.order] = np.arange(len(layout.order))
    expected = np.exp(linear + latent[:, inverse])
    np.testing.assert_allclose(fitted.parameters()["mu"], expected, rtol=1e-12)
    np.testing.assert_allclose(fitted.parameters(rows)["mu"], expected, rtol=1e-12)


def test_a_forecast_is_the_ar1_transition_from_the_last_residual(fitted):
    """Standardised one- and three-step residuals, ``(e_{T+h} - ar^h e_T) / sd_h`` with
    ``sd_h = sderr sqrt((1 - ar^2h) / (1 - ar^2))``, are standard normal over the 400
    draws: their mean within 4/sqrt(400) = 0.2 of 0, their sd within 0.15 of 1 (about four
    of the sd's standard errors)."""
    new = pd.DataFrame({"g": ["s2", "s2"], "t": [6, 8], "x": [0.0, 0.0]})
    e = np.log(fitted.parameters(new, random_seed=1)["mu"]) - fitted.linear_predictors(new)["mu"]
    phi, sderr = _stacked(fitted, "ar"), _stacked(fitted, "sderr")
    last = _stacked(fitted, "series_residuals")[:, 2, 0]
    for column, h in enumerate([1, 3]):
        sd = sderr * np.sqrt((1 - phi ** (2 * h)) / (1 - phi**2))
        z = (e[:, column] - phi**h * last) / sd
        assert abs(z.mean()) < 0.2
        assert abs(z.std() - 1) < 0.15


def test_the_file_keeps_the_latent_residuals(fitted, tmp_path):
    new = pd.DataFrame({"g": ["s0", "s0", "zz", "s1"], "t": [6, 7, 0, 2], "x": [0.0, 1.0, 2.0, 0]})
    fitted.save(tmp_path / "latent.nc", posterior_only=True)
    loaded = bmm.load(tmp_path / "latent.nc")
    for kind in ("response_params", "response"):
        np.testing.assert_array_equal(
            loaded.draws(new, kind=kind, random_seed=4), fitted.draws(new, kind=kind, random_seed=4)
        )


def test_loo_scores_rows_given_their_fitted_residuals(fitted):
    import arviz as az

    from bayesmm.predict.loo import relative_efficiency

    rows = fitted.training_rows
    pointwise = fitted.log_likelihood(rows, rows["y"].to_numpy())
    _, k = az.psislw(-pointwise.T.copy(), relative_efficiency(fitted.idata.posterior))
    result = fitted.loo(chunk_rows=7)
    np.testing.assert_allclose(result["pareto_k"].values, k, rtol=1e-10)
