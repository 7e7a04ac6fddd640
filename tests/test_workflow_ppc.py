"""Posterior predictive checks (``workflow.ppc``, ``FittedModel.plot_ppc``): every kind on the
training rows and on new rows with their responses, what the plots show, and the errors.
Fits use the stub sampler (prior draws, with priors near the truth): what is checked does not
depend on the posterior."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def gaussian(stub_sampler):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=60), "g": rng.integers(0, 4, 60).astype(str)})
    frame["y"] = 1 + 0.5 * frame["x"] + rng.normal(size=60)
    priors = {
        "Intercept": bmm.Prior("Normal", mu=1.0, sigma=0.1),
        "x": bmm.Prior("Normal", mu=0.5, sigma=0.1),
        "sigma": 1.0,
    }
    model = bmm.Model("y ~ x + (1|g)", frame, priors=priors)
    return model.fitted(model.fit(draws=100, chains=2, random_seed=5)), frame


@pytest.fixture
def counts(stub_sampler):
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(size=50)})
    frame["n"] = rng.poisson(np.exp(0.5 + 0.3 * frame["x"]))
    priors = {
        "Intercept": bmm.Prior("Normal", mu=0.5, sigma=0.1),
        "x": bmm.Prior("Normal", mu=0.3, sigma=0.1),
    }
    model = bmm.Model("n ~ x", frame, family="poisson", priors=priors)
    return model.fitted(model.fit(draws=100, chains=2, random_seed=5)), frame


def _is_axes(result) -> bool:
    return all(isinstance(a, matplotlib.axes.Axes) for a in np.ravel(result))


@pytest.mark.parametrize("kind", ["density", "stat", "intervals", "loo_pit"])
def test_every_kind_returns_axes_on_training_and_new_rows(gaussian, kind):
    fitted, frame = gaussian
    extra = {"group": "g"} if kind == "intervals" else {}
    assert _is_axes(fitted.plot_ppc(kind, **extra))
    new = frame.head(20).assign(y=frame["y"].head(20) + 0.1)
    assert _is_axes(fitted.plot_ppc(kind, data=new, **extra))


def test_bars_show_observed_counts_and_predicted_intervals(counts):
    fitted, frame = counts
    ax = fitted.plot_ppc("bars")
    assert _is_axes(ax)
    heights = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in ax.patches}
    observed = frame["n"].value_counts()
    for value, count in observed.items():
        assert heights[int(value)] == count
    assert _is_axes(bmm.workflow.plot_ppc(fitted, "bars", data=frame.tail(10)))


@pytest.mark.parametrize(
    ("stat", "function"),
    [("mean", np.mean), ("sd", lambda y: np.std(y, ddof=1)), ("max", np.max), (np.median, None)],
)
def test_stat_draws_the_observed_statistic_of_the_data(gaussian, stat, function):
    fitted, frame = gaussian
    function = function or stat
    ax = fitted.plot_ppc("stat", stat=stat)
    (line,) = ax.lines
    assert line.get_xdata()[0] == pytest.approx(function(frame["y"].to_numpy()))
    new = frame.tail(15)
    ax = fitted.plot_ppc("stat", data=new, stat=stat)
    assert ax.lines[0].get_xdata()[0] == pytest.approx(function(new["y"].to_numpy()))


def test_intervals_mark_each_groups_observed_mean(gaussian):
    fitted, frame = gaussian
    ax = fitted.plot_ppc("intervals", group="g")
    observed = next(line for line in ax.lines if line.get_label() == "observed")
    expected = frame.groupby("g")["y"].mean().sort_index()
    np.testing.assert_allclose(observed.get_ydata(), expected.to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(expected.index)


def test_loo_pit_weighs_each_row_by_its_psis_weights(gaussian, monkeypatch):
    import arviz as az

    fitted, frame = gaussian
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return plt.gca()

    monkeypatch.setattr(az, "plot_loo_pit", spy)
    fitted.plot_ppc("loo_pit")
    ll = fitted.log_likelihood(frame, frame["y"].to_numpy())
    reff = bmm.predict.relative_efficiency(fitted.idata.posterior)
    expected, _ = az.psislw(-ll.T.copy(), reff)
    np.testing.assert_allclose(seen["log_weights"], expected)
    assert seen["y_hat"].shape == ll.T.shape
    np.testing.assert_array_equal(seen["y"], frame["y"].to_numpy())
    # New rows were not fitted: their draws weigh the same.
    fitted.plot_ppc("loo_pit", data=frame.head(5))
    np.testing.assert_allclose(np.exp(seen["log_weights"]).sum(axis=1), 1.0)
    assert np.ptp(seen["log_weights"]) == 0


def test_bad_input_names_the_argument(gaussian):
    fitted, frame = gaussian
    with pytest.raises(bmm.DataError, match=r"kind must be one of .*'density'.*got 'hist'"):
        fitted.plot_ppc("hist")
    with pytest.raises(bmm.DataError, match=r"stat must be one of .*'mean'.*got 'variance'"):
        fitted.plot_ppc("stat", stat="variance")
    with pytest.raises(bmm.DataError, match=r"kind='intervals' needs group="):
        fitted.plot_ppc("intervals")
    with pytest.raises(bmm.DataError, match=r"group must be a column of the training rows.*'G'"):
        fitted.plot_ppc("intervals", group="G")
    with pytest.raises(bmm.DataError, match=r"group must be a column of data.*'h'"):
        fitted.plot_ppc("intervals", data=frame, group="h")
    with pytest.raises(bmm.DataError, match=r"data must hold the observed response 'y'"):
        fitted.plot_ppc("density", data=frame.drop(columns="y"))
    with pytest.raises(bmm.DataError, match=r"kind='bars' is for counts and categories"):
        fitted.plot_ppc("bars")
