"""Jupyter's rich display: ``Model._repr_html_`` and ``FittedModel._repr_html_``."""

import re

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm

SLEEP = "Reaction ~ Days + (Days | Subject)"


def _cells(html: str, label: str) -> list[float]:
    """The numbers of the posterior table's row for ``label``."""
    row = re.search(rf"<code>{re.escape(label)}</code></td>(.*?)</tr>", html)
    assert row is not None, label
    return [float(v) for v in re.findall(r">([-+0-9.e]+|nan)</td>", row.group(1))]


@pytest.fixture
def sleep_stub_fit(sleepstudy, stub_sampler):
    model = bmm.Model(SLEEP, sleepstudy)
    return model, model.fit(draws=200, chains=2, random_seed=5)


def test_model_html_shows_the_pieces_of_print_model(sleepstudy):
    model = bmm.Model(SLEEP, sleepstudy)
    html = model._repr_html_()
    for piece in (
        f"<code>{SLEEP}</code>",
        "<code>gaussian</code>",
        "<code>mu = identity</code>",
        "<code>180</code>",
        "target = <code>mu</code>",
        "<em>Common-level effects</em>",
        "<em>Correlations of group-level effects</em>",
        '<code>Intercept</code></td><td style="text-align:left">'
        "<code>Normal(mu: 298.5079, sigma: 140.8219)</code>",
        "<code>HalfStudentT(nu: 4, sigma: 56.3288)</code>",
    ):
        assert piece in html
    assert "<script" not in html


def test_model_html_escapes_column_names_and_levels():
    rng = np.random.default_rng(0)
    n = 60
    data = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "a<b": rng.normal(size=n),
            "g": rng.choice(["x&y", "<z>"], size=n),
        }
    )
    html = bmm.Model("y ~ `a<b` + g", data)._repr_html_()
    assert "a&lt;b" in html
    assert "a<b" not in html
    assert "<z>" not in html


def test_model_html_escapes_the_modelled_event():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"y": rng.choice(["<no>", "<yes>"], 50), "x": rng.normal(size=50)})
    html = bmm.Model("y ~ x", data, family="bernoulli")._repr_html_()
    assert "y == &#x27;&lt;yes&gt;&#x27;" in html
    assert "<yes>" not in html


def test_model_html_escapes_ordinal_categories():
    rng = np.random.default_rng(1)
    data = pd.DataFrame(
        {
            "y": pd.Categorical(
                rng.choice(["<1", "1-5", ">5"], 90), ["<1", "1-5", ">5"], ordered=True
            ),
            "x": rng.normal(size=90),
        }
    )
    model = bmm.Model("y ~ x", data, family="cumulative")
    html = model._repr_html_()
    assert "&lt;1 &lt; 1-5 &lt; &gt;5" in html
    assert ">Thresholds<" in html
    assert "<1 " not in html


def test_the_text_repr_is_unchanged_by_the_html_display(sleepstudy):
    model = bmm.Model(SLEEP, sleepstudy)
    model._repr_html_()
    assert repr(model) == str(model)
    assert str(model).startswith(f"       Formula: {SLEEP}\n")


def test_fitted_html_shows_the_model_the_sampler_and_the_posterior(sleep_stub_fit):
    model, idata = sleep_stub_fit
    idata.attrs["inference_method"] = "nutpie"
    fitted = model.fitted(idata)
    html = fitted._repr_html_()
    assert f"<code>{SLEEP}</code>" in html
    assert ">gaussian<" in html
    assert ">mu = identity<" in html
    assert "2 chains &times; 200 draws" in html
    assert ">nutpie<" in html
    assert "<th>5%</th>" in html and "<th>95%</th>" in html
    assert "Divergences" not in html  # the stub sampler gives no sample_stats
    draws = idata.posterior["Days"].to_numpy().reshape(-1)
    mean, sd, q5, q95 = _cells(html, "Days")[:4]
    assert mean == pytest.approx(draws.mean(), rel=1e-3, abs=1e-3)
    assert sd == pytest.approx(draws.std(ddof=1), rel=1e-3)
    assert q5 == pytest.approx(np.quantile(draws, 0.05), rel=1e-3, abs=1e-3)
    assert q95 == pytest.approx(np.quantile(draws, 0.95), rel=1e-3, abs=1e-3)
    assert len(_cells(html, "sigma")) == 5  # with R-hat
    assert "<code>Intercept</code>" in html
    assert "1|Subject" not in html  # group-level effects are left out
    assert repr(fitted).startswith("FittedModel(")


def test_fitted_html_counts_divergences_when_there_are_sample_stats(sleep_stub_fit):
    import xarray as xr

    model, idata = sleep_stub_fit
    diverging = np.zeros((2, 200), dtype=bool)
    diverging[0, :3] = True
    idata.add_groups(sample_stats=xr.Dataset({"diverging": (("chain", "draw"), diverging)}))
    html = model.fitted(idata)._repr_html_()
    assert re.search(r">Divergences</th><td[^>]*>3<", html)


def test_fitted_html_of_a_posterior_only_file_shows_what_is_there(sleep_stub_fit, tmp_path):
    model, idata = sleep_stub_fit
    path = tmp_path / "sleep.bmm"
    model.fitted(idata).save(path, posterior_only=True)
    html = bmm.load(path)._repr_html_()
    assert f"<code>{SLEEP}</code>" in html
    assert "<code>Days</code>" in html
    assert "Divergences" not in html


def test_fitted_html_escapes_column_names(stub_sampler):
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"y": rng.normal(size=40), "a<b": rng.normal(size=40)})
    model = bmm.Model("y ~ `a<b`", data)
    html = model.fitted(model.fit(draws=50, chains=1, random_seed=1))._repr_html_()
    assert "<code>a&lt;b</code>" in html
    assert "a<b" not in html
