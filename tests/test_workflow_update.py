"""Updating a fitted model with new rows (bayesmm.workflow.update, FittedModel.update,
`bayesmm update`): from stored statistics for a gaussian model, by a refit on the stored rows
for another, refused without either; each batch once. The stub sampler draws from the
priors: these tests check everything around the posterior (test_workflow_update_slow.py
checks the posterior itself)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.cli import main
from bayesmm.design.moments import STATISTICS_GROUP, Moments

FAST = {"draws": 5, "tune": 5, "chains": 1, "progressbar": False}


@pytest.fixture(scope="module")
def halves(sleepstudy):
    """Subjects 308 to 337 first; the second batch brings eight new subjects."""
    first = sleepstudy["Subject"].astype(int) < 349
    return sleepstudy[first], sleepstudy[~first]


@pytest.fixture
def saved(halves, tmp_path, stub_sampler):
    """A gaussian model of the first batch, fitted from its statistics and saved without its
    rows (statistics are saved by default when the fit used them)."""
    model = bmm.Model("Reaction ~ Days + (Days | Subject)", halves[0])
    idata = model.fit(sufficient_statistics=True, random_seed=1, **FAST)
    path = tmp_path / "first.nc"
    model.save(path, idata, posterior_only=True, sample_new_groups="gaussian")
    return path


def test_an_update_from_statistics_adds_the_new_levels_and_says_so(saved, halves, tmp_path):
    fitted = bmm.load(saved)
    assert STATISTICS_GROUP in fitted.idata.groups()
    updated = fitted.update(halves[1], random_seed=2, **FAST)
    attrs = updated.idata.attrs
    assert attrs["update_path"] == "statistics" and attrs["n_rows"] == 180
    assert len(json.loads(attrs["batches_sha256"])) == 2
    levels = updated.idata.posterior["1|Subject"].coords["Subject__factor_dim"].values
    assert list(levels) == [
        *sorted(halves[0]["Subject"].astype(str).unique()),
        *map(str, [349, 350, 351, 352, 369, 370, 371, 372]),
    ]
    # The new subjects are fitted levels now: predicted without a new-group policy.
    new = halves[1].head(3)
    assert updated.point(new, sample_new_groups=False).shape == (3, 1)
    assert updated.sample_new_groups == "gaussian"  # the file's default policy is kept
    # Saved, it holds the added statistics; loaded, it is updated again from them.
    path = updated.save(tmp_path / "second.nc")
    again = bmm.load(path)
    held = Moments.from_dataset(again.idata[STATISTICS_GROUP])
    assert held.rows == 180 and len(held.levels["Subject"]) == 18
    assert again.idata.attrs["update_path"] == "statistics"
    more = halves[1].assign(Reaction=halves[1]["Reaction"] + 1.0)
    assert again.update(more, **FAST).idata.attrs["n_rows"] == 260


def test_the_updated_priors_are_a_fresh_fit_of_all_the_rows_and_given_ones_stay(
    halves, sleepstudy, stub_sampler
):
    given = {"sigma": bmm.Prior("HalfNormal", sigma=40.0)}
    formula = "Reaction ~ Days + (Days | Subject)"
    first = bmm.Model(formula, halves[0], priors=given)
    fitted = first.fitted(first.fit(sufficient_statistics=True, **FAST))
    updated = fitted.update(halves[1], sufficient_statistics=True, **FAST)
    fresh = bmm.Model(formula, sleepstudy, priors=given)
    found = updated.spec.prior_dict()
    assert list(found) == fresh.priors.names()
    assert found["sigma"] == given["sigma"]  # as given, not scaled
    assert found["Days"] != first.priors["Days"]  # a default: scaled anew
    for name, prior in found.items():
        expected = fresh.priors[name]
        assert prior.name == expected.name
        for key, value in prior.params.items():
            other = expected.params[key]
            if isinstance(value, bmm.Prior):
                value, other = value.params["sigma"], other.params["sigma"]
            np.testing.assert_allclose(value, other, rtol=1e-12, err_msg=name)


def test_a_batch_applied_before_is_refused(saved, halves):
    fitted = bmm.load(saved)
    updated = fitted.update(halves[1], **FAST)
    with pytest.raises(bmm.DataError, match=r"were applied to this model before \(batch 2 of 2\)"):
        updated.update(halves[1], **FAST)
    # The first fit's own rows count as its first batch, in another column order too.
    with pytest.raises(bmm.DataError, match=r"applied to this model before \(batch 1 of 2\)"):
        updated.update(halves[0][["Subject", "Days", "Reaction"]], **FAST)


@pytest.fixture(scope="module")
def clicks():
    rng = np.random.default_rng(4)
    n = 400
    data = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 12, n).astype(str)})
    data["c"] = rng.choice(list("abc"), n)
    data["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-data["x"]))).astype(int)
    return data


def test_a_bernoulli_model_with_its_rows_is_refitted_and_says_so(
    clicks, tmp_path, stub_sampler, caplog
):
    model = bmm.Model("y ~ x + c + (1|g)", clicks.iloc[:300], family="bernoulli")
    model.save(tmp_path / "m.nc", model.fit(**FAST))
    fitted = bmm.load(tmp_path / "m.nc")
    # A new group level and a new category of a predictor: a new model of all the rows.
    new = clicks.iloc[300:].assign(g="new", c=["d", *clicks["c"].iloc[301:]])
    with caplog.at_level(logging.INFO, logger="bayesmm"):
        updated = fitted.update(new, **FAST)
    assert "refit of all 400 rows (300 before, 100 new)" in caplog.text
    assert "family 'bernoulli' is not gaussian" in caplog.text
    attrs = updated.idata.attrs
    assert attrs["update_path"] == "rows" and attrs["n_rows"] == 400
    assert len(updated.training_rows) == 400
    assert updated.design.group_terms[0].levels[-1] == "new"
    assert list(updated.idata.posterior["c"].coords["c_dim"].values) == ["b", "c", "d"]
    # Saved, its rows are there for the next update, and no statistics.
    again = bmm.load(updated.save(tmp_path / "m2.nc"))
    assert STATISTICS_GROUP not in again.idata.groups() and again.design.n_obs == 400


@pytest.mark.parametrize(
    ("family", "formula", "advice"),
    [
        ("gaussian", "Reaction ~ Days + (1|Subject)", r"save it with statistics=True"),
        ("bernoulli", "y ~ x + (1|g)", r"save it with its training rows \(posterior_only=False\)"),
    ],
)
def test_a_file_without_rows_or_statistics_is_refused_with_what_to_save(
    sleepstudy, clicks, tmp_path, stub_sampler, family, formula, advice
):
    data = sleepstudy if family == "gaussian" else clicks
    model = bmm.Model(formula, data, family=family)
    model.save(tmp_path / "m.nc", model.fit(**FAST), posterior_only=True, statistics=False)
    fitted = bmm.load(tmp_path / "m.nc")
    with pytest.raises(bmm.DataError, match=r"holds neither its training rows nor .*" + advice):
        fitted.update(data.head(20), **FAST)


def test_statistics_are_refused_where_they_are_not_exact(clicks, tmp_path, stub_sampler):
    model = bmm.Model("y ~ x + (1|g)", clicks, family="bernoulli")
    idata = model.fit(**FAST)
    with pytest.raises(
        bmm.DataError, match=r"statistics=True .* here family 'bernoulli' is not gaussian"
    ):
        model.save(tmp_path / "m.nc", idata, statistics=True)
    with pytest.raises(bmm.DataError, match=r"statistics must be True, False or None; got 'yes'"):
        model.save(tmp_path / "m.nc", idata, statistics="yes")


def test_new_rows_that_do_not_fit_the_model_name_the_column(saved, halves):
    fitted = bmm.load(saved)
    with pytest.raises(
        bmm.DataError, match=r"new rows lack the column 'Days', which the model uses"
    ):
        fitted.update(halves[1].drop(columns="Days"), **FAST)
    text = halves[1].assign(Days=halves[1]["Days"].astype(str) + " days")
    with pytest.raises(bmm.DataError, match=r"column 'Days' must hold numbers"):
        fitted.update(text, **FAST)
    missing = halves[1].assign(Reaction=np.nan)
    with pytest.raises(bmm.DataError, match=r"missing values in \{'Reaction': 80\}"):
        fitted.update(missing, **FAST)


def test_an_update_from_statistics_refuses_a_category_the_model_never_saw(clicks, stub_sampler):
    data = clicks.assign(y=clicks["x"] + clicks["y"])  # a gaussian response
    model = bmm.Model("y ~ x + c + (1|g)", data.iloc[:300])
    fitted = model.fitted(model.fit(sufficient_statistics=True, **FAST))
    new = data.iloc[300:].assign(c="d")
    with pytest.raises(
        bmm.DataError, match=r"The categorical predictor 'c' has level\(s\) \['d'\]"
    ):
        fitted.update(new, **FAST)
    # Without the statistics, a refit on the rows takes it.
    updated = fitted.update(new, sufficient_statistics=False, **FAST)
    assert updated.idata.attrs["update_path"] == "rows"


def _update(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bayesmm", "update", *args], capture_output=True, text=True
    )


def test_bayesmm_update_with_a_column_the_model_lacks_is_one_line_and_exit_code_2(
    saved, halves, tmp_path
):
    table = tmp_path / "new.csv"
    halves[1].rename(columns={"Days": "day"}).to_csv(table, index=False)
    out = _update(str(saved), str(table), "-o", str(tmp_path / "out.nc"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("bayesmm update: new rows lack the column 'Days'")
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / "out.nc").exists()


def test_bayesmm_fit_then_update_writes_the_updated_model(halves, tmp_path, stub_sampler, capsys):
    first, new, model = tmp_path / "first.csv", tmp_path / "new.csv", tmp_path / "m.nc"
    halves[0].to_csv(first, index=False)
    halves[1].to_csv(new, index=False)
    sampling = ["--draws", "5", "--tune", "5", "--chains", "1", "--quiet"]
    formula = "Reaction ~ Days + (Days | Subject)"
    # 100 rows: the fit samples the rows, and --statistics saves their statistics anyway.
    assert main(["fit", formula, str(first), "-o", str(model), "--statistics", *sampling]) == 0
    assert STATISTICS_GROUP in bmm.load(model).idata.groups()
    capsys.readouterr()
    assert main(["update", str(model), str(new), "-o", str(model), *sampling, "--seed", "3"]) == 0
    line = capsys.readouterr().out
    assert "gaussian model of 180 rows (80 new, from its statistics)" in line
    assert bmm.load(model).idata.attrs["n_rows"] == 180
    # Run again, the same batch is refused, and the file is left as it was.
    written = model.read_bytes()
    assert main(["update", str(model), str(new), "-o", str(model), *sampling]) == 2
    assert "were applied to this model before" in capsys.readouterr().err
    assert model.read_bytes() == written
