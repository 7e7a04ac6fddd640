"""Saving and loading multivariate models: one file (format 3) with each response's spec, a
loaded model that predicts bit for bit as the fitted one without pymc, and clear errors for
bad files and for an older reader.

The fits are prior draws in place of NUTS (``prior_draws_everywhere``): what is under test is
that the loaded model predicts exactly as the in-memory one does, for any draws.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _multivariate import frame
from bayesmm._errors import NotFittedError
from bayesmm.fitted import FittedModel
from bayesmm.io import read_header
from bayesmm.persist import netcdf
from bayesmm.predict.multiresponse import MvFittedModel

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

NEW = pd.DataFrame({"x": [0.0, 1.5, -0.5], "w": [1.0, -1.0, 0.2], "g": ["a", "d", "new"]})
SUMMARIES = ("point", "interval", "quantiles", "density")
POLICIES = ("uncertainty", "gaussian", "old_levels", "population")


def _fit(model, draws=200, seed=1):
    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        return model.fit(
            draws=draws, chains=2, inference_method="pymc", random_seed=seed, progressbar=False
        )


@pytest.fixture(scope="module")
def rescor(tmp_path_factory):
    """Correlated gaussian responses with group terms and a distributional formula, saved."""
    model = bmm.Model(
        bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w + (1|g)", "sigma ~ x"),
        frame(),
        priors={"rescor": bmm.Prior("LKJCorr", eta=2.0)},
    )
    idata = _fit(model)
    path = model.save(tmp_path_factory.mktemp("rescor") / "mv.nc", idata)
    return model, idata, path


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A gaussian and a bernoulli response (probit), independent residuals, saved."""
    model = bmm.Model(
        "mvbind(y1, b) ~ x + (1|g)",
        frame(),
        family={"y1": "gaussian", "b": "bernoulli"},
        link={"b": "probit"},
    )
    idata = _fit(model, seed=2)
    path = model.save(tmp_path_factory.mktemp("mixed") / "mixed.nc", idata)
    return model, idata, path


def _all_predictions(fitted, new):
    """Every prediction and summary of a multivariate fitted model, as arrays by name."""
    out = {}
    for kind in ("response_params", "response"):
        for r, values in fitted.draws(None, kind, random_seed=5).items():
            out[f"draws {kind} in-sample {r}"] = values
        for policy in POLICIES:
            found = fitted.draws(new, kind, sample_new_groups=policy, random_seed=5)
            out.update({f"draws {kind} {policy} {r}": v for r, v in found.items()})
        one = fitted.draws(
            new, kind, response=fitted.responses[1], sample_new_groups=True, random_seed=4
        )
        out[f"draws {kind} one response"] = next(iter(one.values()))
    array = fitted.draws_array(new, sample_new_groups=True, random_seed=6, n_samples=50)
    out["draws_array"] = array.to_numpy()
    for summary in SUMMARIES:
        table = getattr(fitted, summary)(new, sample_new_groups=True, random_seed=5)
        out[f"{summary} responses"] = table["__response__"].to_numpy()
        for column in table.columns.drop("__response__"):
            out[f"{summary} {column}"] = np.stack(table[column].to_numpy())
    return out


def _assert_same(expected, got):
    assert expected.keys() == got.keys()
    for key, values in expected.items():
        assert np.array_equal(values, got[key]), key


@pytest.mark.parametrize("case", ["rescor", "mixed"])
def test_a_loaded_multivariate_model_predicts_bit_for_bit_like_the_fitted_one(
    case, request, tmp_path
):
    model, idata, path = request.getfixturevalue(case)
    loaded = bmm.load(path)
    assert isinstance(loaded, MvFittedModel)
    assert loaded.responses == model.design.responses and loaded.design.rescor == model.rescor
    assert {r: f.name for r, f in loaded.families.items()} == {
        r: f.name for r, f in model.families.items()
    }
    assert loaded.links == model.links
    expected = _all_predictions(model.fitted(idata), NEW)
    _assert_same(expected, _all_predictions(loaded, NEW))
    # The loaded model saves again to an equivalent file.
    again = bmm.load(loaded.save(tmp_path / "again.nc"))
    _assert_same(expected, _all_predictions(again, NEW))
    assert again.data_sha256 == loaded.data_sha256 == model.spec().data_sha256


def test_the_file_holds_each_responses_spec_and_the_shared_priors(rescor):
    model, _, path = rescor
    header = read_header(path)
    assert header["format_version"] == netcdf.FORMAT_VERSIONS["multivariate"] == 3
    assert {"posterior", "log_likelihood", "observed_data", "constant_data"} <= set(
        header["groups"]
    )
    spec = header["spec"]
    assert spec["model"] == "multivariate" and spec["responses"] == ["y1", "y2"]
    assert spec["formula"] == "(y1 ~ x + (1|g)) + (y2 ~ w + (1|g), sigma ~ x)"
    assert spec["rescor"] is True and spec["sample_new_groups"] is False
    assert spec["options"]["dropna"] is False and spec["options"]["automatic_priors"] == "default"
    # The shared priors: the residual correlations' LKJ, as given.
    shared = {p["name"]: p["prior"] for p in spec["priors"]}
    assert list(shared) == ["rescor"] and shared["rescor"]["prior"] == "LKJCorr"
    y1, y2 = spec["by_response"]
    assert (y1["formula"], y1["family"], y1["link"]) == ("y1 ~ x + (1|g)", "gaussian", "identity")
    assert y2["design"]["distributional"][0]["formula"] == "sigma ~ x"
    # Each response's priors under a univariate model's names, as used in the fit.
    priors = {p["name"]: p["prior"] for p in y1["priors"]}
    assert {"Intercept", "x", "1|g", "sigma"} <= set(priors)
    assert priors["x"]["params"]["sigma"]["value"] == pytest.approx(
        model.priors["y1_x"].params["sigma"]
    )
    assert "sigma_x" in {p["name"] for p in y2["priors"]}
    assert y1["normal_groups"] == ["1|g"]
    # Plain JSON: the spec survives a round trip through the standard library alone.
    assert json.loads(json.dumps(spec)) == spec
    with h5py.File(path, "r") as handle:
        assert sorted(handle["constant_data"]) == ["__obs__", "g", "w", "x", "y1", "y2"]


def test_loading_and_predicting_import_neither_pymc_nor_pytensor(rescor):
    _, _, path = rescor
    code = f"""
import sys
import pandas as pd
import bayesmm as bmm
fitted = bmm.load({str(path)!r})
new = pd.DataFrame({{"x": [0.5], "w": [1.0], "g": ["new"]}})
fitted.draws(new, kind="response", sample_new_groups="gaussian", random_seed=1)
fitted.interval(new, sample_new_groups=True)
fitted.density(None, random_seed=2)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"


def test_the_save_options_posterior_only_draws_and_the_default_policy(rescor, tmp_path):
    model, idata, _ = rescor
    fitted = model.fitted(idata)
    small = bmm.load(
        model.save(
            tmp_path / "small.nc",
            idata,
            posterior_only=True,
            draws=50,
            sample_new_groups="gaussian",
        )
    )
    assert read_header(tmp_path / "small.nc")["groups"] == ["posterior"]
    assert small.posterior_draws("y1").n_samples == 100
    assert small.sample_new_groups == "gaussian"
    # The stored default policy predicts an unseen group without being asked to.
    thinned = fitted.draws(NEW, "response", sample_new_groups="gaussian", n_samples=100)
    got = small.draws(NEW, "response")
    assert got["y1"].shape == thinned["y1"].shape == (100, 3)
    whole = bmm.load(model.save(tmp_path / "whole.nc", idata, posterior_only=True))
    for kind in ("response_params", "response"):
        expected = fitted.draws(NEW, kind, sample_new_groups="population", random_seed=3)
        found = whole.draws(NEW, kind, sample_new_groups="population", random_seed=3)
        assert all(np.array_equal(expected[r], found[r]) for r in expected)
    with pytest.raises(bmm.DataError, match="saved without"):
        whole.draws()


def test_an_older_reader_asks_for_an_upgrade_and_still_reads_univariate_files(
    rescor, tmp_path, monkeypatch, sleepstudy
):
    """A bayesmm that reads format 2 at most refuses a multivariate file, saying why, and
    reads a univariate file written now (format 2)."""
    _, _, path = rescor
    from conftest import prior_draws_everywhere

    one = bmm.Model("Reaction ~ Days + (1|Subject)", sleepstudy)
    with prior_draws_everywhere():
        idata = one.fit(draws=200, chains=2, random_seed=1, progressbar=False)
    univariate = one.save(tmp_path / "one.nc", idata)
    monkeypatch.setattr(netcdf, "FORMAT_VERSION", 2)
    with pytest.raises(
        bmm.ModelFileError,
        match=r"mv\.nc' uses file format version 3, written by bayesmm .*; this bayesmm \(.*\) reads format versions up to 2\. Upgrade bayesmm to load it",
    ):
        bmm.load(path)
    assert isinstance(bmm.load(univariate), FittedModel)


def _edit(source, target, attrs=None, delete=()):
    shutil.copy(source, target)
    with h5py.File(target, "r+") as handle:
        for key, value in (attrs or {}).items():
            handle.attrs[key] = value
        for name in delete:
            del handle[name]
    return target


def test_bad_multivariate_files_say_what_is_wrong(rescor, tmp_path):
    _, _, path = rescor
    spec = read_header(path)["spec"]
    old = _edit(path, tmp_path / "old.nc", {"bayesmm_format_version": 2})
    with pytest.raises(
        bmm.ModelFileError,
        match=r"old\.nc' is corrupt: it holds a multivariate model, which format version 3 added, but says it is format 2",
    ):
        bmm.load(old)
    partial = {k: v for k, v in spec.items() if k != "rescor"}
    no_rescor = _edit(path, tmp_path / "norescor.nc", {"bayesmm_spec": json.dumps(partial)})
    with pytest.raises(
        bmm.ModelFileError,
        match=r"norescor\.nc' \(format version 3\) has a multivariate model spec without the entries \['rescor'\]",
    ):
        bmm.load(no_rescor)
    lacking = json.loads(json.dumps(spec))
    del lacking["by_response"][1]["priors"]
    no_priors = _edit(path, tmp_path / "nopriors.nc", {"bayesmm_spec": json.dumps(lacking)})
    with pytest.raises(
        bmm.ModelFileError,
        match=r"nopriors\.nc' \(format version 3\) has a model spec of the response 'y2' without the entries \['priors'\]",
    ):
        bmm.load(no_priors)
    one = dict(spec, by_response=spec["by_response"][:1])
    short = _edit(path, tmp_path / "short.nc", {"bayesmm_spec": json.dumps(one)})
    with pytest.raises(bmm.ModelFileError, match=r"does not give one spec for each of its"):
        bmm.load(short)


def test_altered_rows_and_a_posterior_that_does_not_fit_are_refused(rescor, tmp_path):
    _, _, path = rescor
    altered = tmp_path / "altered.nc"
    shutil.copy(path, altered)
    with h5py.File(altered, "r+") as handle:
        handle["constant_data/w"][0] += 1.0
    with pytest.raises(
        bmm.ModelFileError,
        match=r"altered\.nc' is corrupt: its training rows do not match the stored SHA-256",
    ):
        bmm.load(altered)
    no_rescor = _edit(path, tmp_path / "correlation.nc", delete=["posterior/y1:y2_rescor"])
    with pytest.raises(
        bmm.ModelFileError,
        match=r"correlation\.nc' does not hold a usable posterior for its model: KeyError: .*y1:y2_rescor",
    ):
        bmm.load(no_rescor)
    no_slope = _edit(path, tmp_path / "slope.nc", delete=["posterior/y2_w"])
    with pytest.raises(
        bmm.ModelFileError, match=r"slope\.nc' does not hold a usable posterior for its model"
    ):
        bmm.load(no_slope)


def test_a_fitted_model_without_a_spec_says_how_to_save(rescor, tmp_path):
    model, idata, _ = rescor
    bare = MvFittedModel(model.design, model.families, model.links, idata)
    with pytest.raises(NotFittedError, match=r"no model spec to save; save it with model\.save"):
        bare.save(tmp_path / "bare.nc")
    assert not list(tmp_path.iterdir())


def test_a_bad_policy_is_refused_before_anything_is_written(rescor, tmp_path):
    model, idata, _ = rescor
    with pytest.raises(bmm.DataError, match="sample_new_groups"):
        model.save(tmp_path / "m.nc", idata, sample_new_groups="sometimes")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("nu", [None, 4.0], ids=["sampled nu", "fixed nu"])
def test_t_responses_keep_their_shared_nu(nu, tmp_path):
    """Correlated t responses share one nu, sampled or fixed to a number: a prior of the
    responses together, which the file holds beside the responses' own."""
    priors = {} if nu is None else {"nu": nu}
    model = bmm.Model("mvbind(y1, y2) ~ x + (1|g)", frame(), family="t", priors=priors)
    idata = _fit(model, seed=4)
    loaded = bmm.load(model.save(tmp_path / "t.nc", idata))
    assert [p["name"] for p in loaded.spec.priors] == ["rescor", "nu"]
    assert loaded.fixed == ({} if nu is None else {"nu": 4.0}) == model.fitted(idata).fixed
    new = NEW.drop(columns="w")
    for kind in ("response_params", "response"):
        expected = model.fitted(idata).draws(new, kind, sample_new_groups=True, random_seed=8)
        got = loaded.draws(new, kind, sample_new_groups=True, random_seed=8)
        assert all(np.array_equal(expected[r], got[r]) for r in expected)
