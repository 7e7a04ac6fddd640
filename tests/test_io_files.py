"""Saving and loading fitted models: round trips, light loading, bad files, size options.

Most tests use prior draws in place of NUTS (the ``stub_sampler`` fixture): what is under test
is that a loaded model predicts exactly as the in-memory one does, for any draws.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import arviz as az
import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import bayesmm as bmm
from bayesmm.io import FORMAT_VERSION, read_header
from bayesmm.persist.netcdf import FORMAT_VERSIONS
from bayesmm.spec import data_fingerprint

#: A model of one response is written as format 2 (multivariate models added format 3), so
#: that bayesmm before format 3 reads it.
UNIVARIATE = FORMAT_VERSIONS["univariate"]
SUMMARIES = ("point", "interval", "quantiles", "density")

CASES = {
    "gaussian LMM": (
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        "gaussian",
        pd.DataFrame({"Days": [0, 4.5, 9, 2], "Subject": [308, "335", 372, "new"]}),
    ),
    "binomial GLMM": (
        "cbpp",
        "p(incidence, size) ~ period + (1|herd)",
        "binomial",
        pd.DataFrame({"period": ["1", "4", "2"], "herd": ["3", "15", "99"], "size": [10, 20, 5]}),
    ),
    "bernoulli, categorical predictor": (
        "bacteria",
        "y['y'] ~ trt + center(week) + (1|ID)",
        "bernoulli",
        pd.DataFrame(
            {"trt": ["placebo", "drug+", "drug"], "week": [0, 6, 11], "ID": ["X01", "Z26", "new"]}
        ),
    ),
}


def _fit(name, draws=100, chains=2):
    dataset, formula, family, new = CASES[name]
    model = bmm.Model(formula, bmm.load_data(dataset), family=family)
    idata = model.fit(draws=draws, chains=chains, random_seed=11, progressbar=False)
    return model, idata, new


def _all_predictions(fitted, new):
    """Every prediction and summary, for the training rows and for new rows."""
    out = {}
    for kind in ("response_params", "response"):
        out[f"draws {kind} in-sample"] = fitted.draws(None, kind, random_seed=5)
        for policy in ("uncertainty", "gaussian", "old_levels", "population"):
            out[f"draws {kind} {policy}"] = fitted.draws(
                new, kind, sample_new_groups=policy, random_seed=5
            )
        predicted = fitted.predict(new, kind, sample_new_groups=True, random_seed=5)
        out[f"predict {kind}"] = predicted["predictions"].to_array().to_numpy()
    for summary in SUMMARIES:
        table = getattr(fitted, summary)(new, sample_new_groups=True, random_seed=5)
        for column in table.columns:
            out[f"{summary} {column}"] = np.stack(table[column].to_numpy())
    out["r2"] = fitted.r2().to_numpy()
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_loaded_model_predicts_bit_for_bit_like_the_fitted_one(tmp_path, stub_sampler, case):
    model, idata, new = _fit(case)
    path = model.save(tmp_path / "model.nc", idata)
    loaded = bmm.load(path)
    expected = _all_predictions(model.fitted(idata), new)
    got = _all_predictions(loaded, new)
    assert expected.keys() == got.keys()
    for key, values in expected.items():
        assert np.array_equal(values, got[key]), key
    # The loaded model saves again to an equivalent file.
    again = bmm.load(loaded.save(tmp_path / "again.nc"))
    assert np.array_equal(
        again.draws(new, "response", sample_new_groups=True, random_seed=2),
        loaded.draws(new, "response", sample_new_groups=True, random_seed=2),
    )


def test_the_file_holds_spec_versions_fingerprint_and_format(tmp_path, stub_sampler, sleepstudy):
    model, idata, _ = _fit("gaussian LMM")
    header = read_header(model.save(tmp_path / "m.nc", idata))
    assert header["format_version"] == UNIVARIATE == 2
    assert set(header["versions"]) >= {"bayesmm", "pymc", "formulae", "arviz"}
    assert header["data_sha256"] == data_fingerprint(model.design.state.frame)
    assert len(header["data_sha256"]) == 64
    assert {"posterior", "log_likelihood", "observed_data", "constant_data"} <= set(
        header["groups"]
    )
    spec = header["spec"]
    assert spec["formula"] == "Reaction ~ Days + (Days | Subject)"
    assert (spec["family"], spec["link"]) == ("gaussian", "identity")
    priors = {p["name"]: p["prior"] for p in spec["priors"]}
    assert priors["Days"]["prior"] == "Normal"
    assert priors["Days"]["params"]["sigma"]["value"] == pytest.approx(
        model.priors["Days"].params["sigma"]
    )
    assert priors["1|Subject"]["params"]["sigma"]["prior"] == "HalfNormal"
    subject = spec["design"]["columns"]["Subject"]
    assert subject["kind"] == "categorical" and len(subject["levels"]) == 18
    assert spec["sample_new_groups"] is False
    # Plain JSON: the spec survives a round trip through the standard library alone.
    assert json.loads(json.dumps(spec)) == spec


def test_transform_state_and_reference_levels_are_stored(tmp_path, stub_sampler):
    model, idata, _ = _fit("bernoulli, categorical predictor")
    spec = read_header(model.save(tmp_path / "m.nc", idata))["spec"]
    records = {r["term"]: r for r in spec["design"]["formulae"]}
    center = records["center(week)"]["components"][0]["calls"][0]["transform"]
    week = bmm.load_data("bacteria")["week"]
    assert center["class"] == "Center"
    assert center["state"]["mean"] == pytest.approx(week.mean(), rel=1e-15)
    trt = records["trt"]["components"][0]
    assert trt["levels"] == ["placebo", "drug", "drug+"]  # the data's category order
    assert trt["contrast"]["labels"] == ["drug", "drug+"]  # placebo is the reference


def test_spline_and_polynomial_terms_survive_a_round_trip(tmp_path, stub_sampler, sleepstudy):
    formula = "Reaction ~ bs(Days, df=4) + poly(Days, 2) + scale(Days) + (center(Days)|Subject)"
    model = bmm.Model(formula, sleepstudy)
    idata = model.fit(draws=20, chains=1, random_seed=1)
    loaded = bmm.load(model.save(tmp_path / "m.nc", idata))
    new = pd.DataFrame({"Days": [0.5, 3.25, 8.0, 9.0], "Subject": [308, 309, 310, 308]})
    assert np.array_equal(loaded.draws(new), model.fitted(idata).draws(new))


def test_loading_and_predicting_import_neither_pymc_nor_pytensor(tmp_path, stub_sampler):
    model, idata, _ = _fit("gaussian LMM")
    path = model.save(tmp_path / "m.nc", idata)
    code = f"""
import sys
import pandas as pd
import bayesmm as bmm
fitted = bmm.load({str(path)!r})
new = pd.DataFrame({{"Days": [3], "Subject": ["new"]}})
fitted.predict(new, kind="response", sample_new_groups="gaussian", random_seed=1)
fitted.interval(new, sample_new_groups=True)
fitted.draws()
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- bad files ---------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path, stub_sampler):
    model, idata, _ = _fit("gaussian LMM", draws=20)
    return model, idata, model.save(tmp_path / "good.nc", idata)


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.nc"
    with pytest.raises(bmm.ModelFileError, match=r"No model file at '.*nowhere\.nc'"):
        bmm.load(path)
    with pytest.raises(FileNotFoundError):
        bmm.load(path)


def test_an_empty_or_foreign_file_is_not_ours(tmp_path):
    empty = tmp_path / "empty.nc"
    empty.write_bytes(b"")
    with pytest.raises(
        bmm.ModelFileError, match=r"empty\.nc' is not a bayesmm model file: .*empty"
    ):
        bmm.load(empty)
    text = tmp_path / "notes.nc"
    text.write_text("hello")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"notes\.nc' is not a bayesmm model file: it is not netCDF-4/HDF5 \(the file starts with b'hello'\)",
    ):
        bmm.load(text)


def test_a_netcdf_file_that_is_not_ours_says_so(tmp_path):
    dataset = xr.Dataset({"temperature": ("time", np.arange(3.0))})
    foreign = tmp_path / "weather.nc"
    dataset.to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"weather\.nc' is a netCDF file but not a bayesmm model file: it has no 'bayesmm_format' attribute",
    ):
        bmm.load(foreign)
    classic = tmp_path / "classic.nc"
    dataset.to_netcdf(classic, engine="scipy")
    with pytest.raises(
        bmm.ModelFileError, match=r"classic\.nc' is a netCDF-3 file, not a bayesmm model file"
    ):
        bmm.load(classic)
    # An InferenceData that bayesmm did not write is foreign too.
    plain = tmp_path / "plain.nc"
    az.from_dict(posterior={"a": np.zeros((1, 5))}).to_netcdf(str(plain))
    with pytest.raises(bmm.ModelFileError, match="not a bayesmm model file"):
        bmm.load(plain)


def test_a_truncated_or_corrupt_file_says_so(saved, tmp_path):
    _, _, path = saved
    content = path.read_bytes()
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(content[: len(content) // 2])
    with pytest.raises(bmm.ModelFileError, match=r"truncated\.nc' is corrupt or truncated"):
        bmm.load(truncated)
    # Overwrite the middle of the file (the posterior's chunks) with zeros.
    damaged = tmp_path / "damaged.nc"
    middle = len(content) // 2
    damaged.write_bytes(content[:middle] + bytes(4096) + content[middle + 4096 :])
    with pytest.raises(bmm.ModelFileError, match=r"damaged\.nc' is corrupt"):
        bmm.load(damaged)


def _edit_attrs(source: Path, target: Path, **changes) -> Path:
    shutil.copy(source, target)
    with h5py.File(target, "r+") as handle:
        for key, value in changes.items():
            if value is None:
                del handle.attrs[key]
            else:
                handle.attrs[key] = value
    return target


def test_a_file_from_a_newer_format_asks_for_an_upgrade(saved, tmp_path):
    _, _, path = saved
    future = _edit_attrs(path, tmp_path / "future.nc", bayesmm_format_version=FORMAT_VERSION + 1)
    with pytest.raises(
        bmm.ModelFileError,
        match=rf"future\.nc' uses file format version {FORMAT_VERSION + 1}, written by bayesmm .*; this bayesmm \(.*\) reads format versions up to {FORMAT_VERSION}\. Upgrade bayesmm",
    ):
        bmm.load(future)


def test_an_incomplete_file_says_exactly_what_is_missing(saved, tmp_path):
    _, _, path = saved
    no_spec = _edit_attrs(path, tmp_path / "nospec.nc", bayesmm_spec=None)
    with pytest.raises(
        bmm.ModelFileError,
        match=rf"nospec\.nc' \(format version {UNIVARIATE}\) lacks the attribute\(s\) \['bayesmm_spec'\]",
    ):
        bmm.load(no_spec)
    spec = read_header(path)["spec"]
    del spec["sample_new_groups"], spec["priors"]
    partial = _edit_attrs(path, tmp_path / "partial.nc", bayesmm_spec=json.dumps(spec))
    with pytest.raises(
        bmm.ModelFileError,
        match=rf"partial\.nc' \(format version {UNIVARIATE}\) has a model spec without the entries \['priors', 'sample_new_groups'\]",
    ):
        bmm.load(partial)
    garbled = _edit_attrs(path, tmp_path / "garbled.nc", bayesmm_spec="{not json")
    with pytest.raises(
        bmm.ModelFileError,
        match=r"garbled\.nc' is corrupt: its 'bayesmm_spec' attribute is not valid JSON",
    ):
        bmm.load(garbled)


def test_altered_training_rows_fail_the_fingerprint(saved, tmp_path):
    _, _, path = saved
    altered = tmp_path / "altered.nc"
    shutil.copy(path, altered)
    with h5py.File(altered, "r+") as handle:
        handle["constant_data/Reaction"][0] += 1.0
    with pytest.raises(
        bmm.ModelFileError,
        match=r"altered\.nc' is corrupt: its training rows do not match the stored SHA-256 fingerprint",
    ):
        bmm.load(altered)


def test_an_unregistered_family_is_named(saved, tmp_path):
    _, _, path = saved
    spec = read_header(path)["spec"]
    spec["family"] = "zero_inflated_thing"
    other = _edit_attrs(path, tmp_path / "family.nc", bayesmm_spec=json.dumps(spec))
    with pytest.raises(
        bmm.ModelFileError,
        match=r"family\.nc' was fitted with family 'zero_inflated_thing' and link 'identity', which this session cannot provide: .*Register the family with bmm.register_family",
    ):
        bmm.load(other)


def test_predicting_without_a_needed_column_names_it(saved):
    _, _, path = saved
    loaded = bmm.load(path)
    with pytest.raises(
        bmm.DataError,
        match=r"data must have the column\(s\) \['Days'\] that formula 'Reaction ~ Days \+ \(Days \| Subject\)' uses to predict; got columns \['Subject'\]",
    ):
        loaded.predict(pd.DataFrame({"Subject": [308]}))
    with pytest.raises(
        bmm.DataError,
        match=r"The grouping factor 'Subject' has level\(s\) \['new'\] that were not seen at fit time",
    ):
        loaded.predict(pd.DataFrame({"Days": [1], "Subject": ["new"]}))


def test_save_refuses_bad_options_and_never_leaves_a_partial_file(saved, tmp_path):
    model, idata, _ = saved
    with pytest.raises(
        bmm.DataError,
        match=r"draws must be at most the 20 draws per chain of the posterior; got 50",
    ):
        model.save(tmp_path / "x.nc", idata, draws=50)
    with pytest.raises(
        bmm.DataError, match=r"draws must be a positive integer \(draws per chain\); got 0"
    ):
        model.save(tmp_path / "x.nc", idata, draws=0)
    with pytest.raises(bmm.DataError, match="sample_new_groups must be one of"):
        model.save(tmp_path / "x.nc", idata, sample_new_groups="sometimes")
    with pytest.raises(bmm.DataError, match=r"path must be a file name; '.*' is a directory"):
        model.save(tmp_path, idata)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.nc"]


# --- options -------------------------------------------------------------------------------------


def test_posterior_only_keeps_the_posterior_and_predicts_for_new_rows(saved, tmp_path):
    model, idata, _ = saved
    path = model.save(tmp_path / "small.nc", idata, posterior_only=True)
    assert read_header(path)["groups"] == ["posterior"]
    loaded = bmm.load(path)
    new = pd.DataFrame({"Days": [2, 7], "Subject": [308, 309]})
    assert np.array_equal(
        loaded.draws(new, "response", random_seed=1),
        model.fitted(idata).draws(new, "response", random_seed=1),
    )
    with pytest.raises(
        bmm.DataError,
        match=r"saved without its training rows \(posterior_only=True\), so it cannot predict for them: pass data",
    ):
        loaded.predict()
    with pytest.raises(bmm.DataError, match="saved without its training rows"):
        loaded.r2()
    with pytest.raises(bmm.DataError, match="saved without its training rows"):
        loaded.loo()
    assert loaded.data_sha256 == data_fingerprint(model.design.state.frame)


def test_thinning_keeps_evenly_spaced_draws(saved, tmp_path):
    model, idata, _ = saved
    loaded = bmm.load(model.save(tmp_path / "thin.nc", idata, draws=5))
    kept = [0, 5, 10, 14, 19]
    stored = loaded.idata["posterior"]["Days"].to_numpy()
    assert np.array_equal(stored, idata["posterior"]["Days"].to_numpy()[:, kept])
    assert loaded.idata["log_likelihood"].sizes["draw"] == 5
    thinned = model.fitted(idata.isel(draw=kept))
    new = pd.DataFrame({"Days": [2], "Subject": [310]})
    assert np.array_equal(
        loaded.draws(new, "response", random_seed=3), thinned.draws(new, "response", random_seed=3)
    )


def test_the_default_new_group_policy_is_saved(saved, tmp_path):
    model, idata, _ = saved
    loaded = bmm.load(model.save(tmp_path / "g.nc", idata, sample_new_groups="gaussian"))
    new = pd.DataFrame({"Days": [2], "Subject": ["new"]})
    assert loaded.sample_new_groups == "gaussian"
    assert np.array_equal(
        loaded.draws(new, random_seed=4),
        model.fitted(idata).draws(new, sample_new_groups="gaussian", random_seed=4),
    )
    with pytest.raises(bmm.DataError, match="not seen at fit time"):
        loaded.draws(new, sample_new_groups=False)


# --- rebuilding for a refit ----------------------------------------------------------------------


def test_to_model_rebuilds_the_same_model(saved, sleepstudy):
    model, _, path = saved
    loaded = bmm.load(path)
    rebuilt = loaded.to_model(sleepstudy, require_same_data=True)
    assert str(rebuilt) == str(model)
    assert rebuilt.priors == model.priors
    assert np.array_equal(rebuilt.design.common, model.design.common)
    # New priors replace the stored ones; different data are accepted unless required to match.
    wider = loaded.to_model(
        sleepstudy.iloc[:90], priors={"Days": bmm.Prior("Normal", mu=0, sigma=100)}
    )
    assert wider.priors["Days"] == bmm.Prior("Normal", mu=0, sigma=100)
    assert wider.priors["Intercept"] == model.priors["Intercept"]  # not rescaled to the new data
    with pytest.raises(
        bmm.DataError,
        match=r"data must give the same training rows as the fit \(require_same_data=True\); got SHA-256 [0-9a-f]{12}\.\.\., but the fit's rows have [0-9a-f]{12}",
    ):
        loaded.to_model(sleepstudy.iloc[:90], require_same_data=True)


def test_custom_prior_functions_are_recorded_but_must_be_given_again(
    tmp_path, stub_sampler, sleepstudy
):
    def laplace(name, dims=None, **params):
        import pymc as pm

        return pm.Laplace(name, mu=0, b=10, dims=dims)

    model = bmm.Model(
        "Reaction ~ Days + (1|Subject)",
        sleepstudy,
        priors={"Days": bmm.Prior("Laplace", dist=laplace)},
    )
    idata = model.fit(draws=10, chains=1, random_seed=1)
    loaded = bmm.load(model.save(tmp_path / "c.nc", idata))
    with pytest.raises(
        bmm.PriorError,
        match=r"The prior of 'Days' used the custom dist function .*laplace, which a saved file cannot hold\. Pass it again",
    ):
        loaded.to_model(sleepstudy)
    again = loaded.to_model(sleepstudy, priors={"Days": bmm.Prior("Normal", mu=0, sigma=10)})
    assert again.priors["Days"] == bmm.Prior("Normal", mu=0, sigma=10)


# --- the golden file -----------------------------------------------------------------------------

GOLDEN = Path(__file__).parent / "data" / "golden"


def _assert_close(got, expected, key):
    """Draws as stored: an array, or a dict of arrays by response (a multivariate model)."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), key
        for response, values in expected.items():
            np.testing.assert_allclose(
                got[response], np.asarray(values), rtol=1e-12, atol=0, err_msg=key
            )
    else:
        np.testing.assert_allclose(got, np.asarray(expected), rtol=1e-12, atol=0, err_msg=key)


@pytest.mark.parametrize("name", sorted(path.stem for path in GOLDEN.glob("*.nc")))
def test_the_golden_file_loads_and_reproduces_its_predictions(name):
    """Files of every format version must load in every later bayesmm.

    ``tests/data/golden/make_golden.py`` wrote them, with the predictions they must give:
    format 1 (bayesmm 0.1, independent group effects), format 2 (correlated effects) and
    format 3 (a multivariate model).
    """
    loaded = bmm.load(GOLDEN / f"{name}.nc")
    stored = json.loads((GOLDEN / f"{name}.json").read_text())
    new = pd.DataFrame(stored["new_data"])
    for key, expected in stored["predictions"].items():
        kind, policy = key.split(":")
        got = loaded.draws(new, kind, sample_new_groups=policy, random_seed=stored["seed"])
        _assert_close(got, expected, key)
    in_sample = loaded.draws(None, "response_params")
    if isinstance(in_sample, dict):
        in_sample = {response: values.mean(0) for response, values in in_sample.items()}
    else:
        in_sample = in_sample.mean(0)
    _assert_close(in_sample, stored["in_sample_mean"], "in-sample mean")


def test_loading_never_unpickles(saved, monkeypatch):
    """Opening an untrusted file cannot run code: the pickle machinery is never used."""
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used while loading")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(np, "load", refuse)
    _, _, path = saved
    loaded = bmm.load(path)
    assert loaded.draws(pd.DataFrame({"Days": [1], "Subject": [308]})).shape == (40, 1)


def test_numeric_categories_and_boolean_columns_round_trip(tmp_path, stub_sampler, sleepstudy):
    data = sleepstudy.assign(late=sleepstudy["Days"] > 4, Subject=sleepstudy["Subject"].astype(int))
    model = bmm.Model("Reaction ~ Days + late + (1|Subject)", data, categorical="Days")
    idata = model.fit(draws=10, chains=1, random_seed=1)
    loaded = bmm.load(model.save(tmp_path / "m.nc", idata))
    new = pd.DataFrame(
        {"Days": [0, "9", 3], "late": [False, True, False], "Subject": ["308", 309, 310]}
    )
    assert np.array_equal(loaded.draws(new), model.fitted(idata).draws(new))
    assert np.array_equal(loaded.draws(), model.fitted(idata).draws())
    assert loaded.to_model(data, require_same_data=True).priors == model.priors


def test_the_spec_is_a_snapshot_taken_when_the_model_was_paired(tmp_path, stub_sampler, sleepstudy):
    model = bmm.Model("Reaction ~ Days + (1|Subject)", sleepstudy)
    idata = model.fit(draws=10, chains=1, random_seed=1)
    fitted = model.fitted(idata)
    before = model.priors["Days"]
    model.set_priors({"Days": bmm.Prior("Normal", mu=0, sigma=1)})
    loaded = bmm.load(fitted.save(tmp_path / "m.nc"))
    assert loaded.to_model(sleepstudy).priors["Days"] == before


def test_columns_a_file_cannot_hold_are_refused_when_saving(tmp_path, stub_sampler, sleepstudy):
    data = sleepstudy.assign(
        when=pd.Timestamp("2026-01-01") + pd.to_timedelta(sleepstudy["Days"], unit="D")
    )
    model = bmm.Model("Reaction ~ Days + (1|when)", data)
    idata = model.fit(draws=10, chains=1, random_seed=1)
    with pytest.raises(
        bmm.DataError,
        match=r"This model cannot be saved: column 'when' is a pandas.*Timestamp, which a file cannot hold",
    ):
        model.save(tmp_path / "m.nc", idata)
    assert not list(tmp_path.iterdir())


def test_a_formula_in_a_file_cannot_call_arbitrary_functions(saved, tmp_path):
    """A file is data: its formula may call formulae's transforms and elementwise maths only."""
    _, _, path = saved
    marker = tmp_path / "ran"
    spec = read_header(path)["spec"]
    for evil in (
        f"Reaction ~ np.testing._private.utils.os.system('touch {marker}') + (Days | Subject)",
        f"Reaction ~ np.savetxt('{marker}', Days) + (Days | Subject)",
    ):
        spec["formula"] = spec["design"]["formula"] = evil
        forged = _edit_attrs(path, tmp_path / "forged.nc", bayesmm_spec=json.dumps(spec))
        with pytest.raises(
            bmm.ModelFileError,
            match=r"forged\.nc' has a design spec .*which a model file may not call; allowed are formulae's transforms and np\.\{abs",
        ):
            bmm.load(forged)
        assert not marker.exists()
    # The formula of the design must be the file's formula (the one error messages quote).
    spec = read_header(path)["spec"]
    spec["design"]["formula"] = "Reaction ~ 1 + (Days | Subject)"
    mismatched = _edit_attrs(path, tmp_path / "mismatch.nc", bayesmm_spec=json.dumps(spec))
    with pytest.raises(
        bmm.ModelFileError, match="the formula of its design differs from its formula"
    ):
        bmm.load(mismatched)


@pytest.mark.parametrize("posterior_only", [False, True])
def test_awkward_column_types_round_trip(tmp_path, stub_sampler, cbpp, sleepstudy, posterior_only):
    # Binomial counts in float columns (a missing value made them float).
    data = cbpp.astype({"incidence": float, "size": float})
    data.loc[0, "incidence"] = np.nan
    with pytest.warns(bmm.BayesmmWarning, match="removing 1/56 rows"):
        binomial = bmm.Model(
            "p(incidence, size) ~ period + (1|herd)", data, family="binomial", dropna=True
        )
    # A grouping factor of Python ints in an object column, and a categorical made of booleans.
    other = sleepstudy.assign(
        Subject=sleepstudy["Subject"].astype(int).astype(object), late=sleepstudy["Days"] > 4
    )
    flagged = bmm.Model("Reaction ~ Days + late + (1|Subject)", other, categorical="late")
    for model, new in (
        (binomial, pd.DataFrame({"period": ["2"], "herd": ["3"], "size": [12.0]})),
        (flagged, pd.DataFrame({"Days": [2], "late": [True], "Subject": [308]})),
    ):
        idata = model.fit(draws=10, chains=1, random_seed=1)
        loaded = bmm.load(model.save(tmp_path / "m.nc", idata, posterior_only=posterior_only))
        kind = "response"
        assert np.array_equal(
            loaded.draws(new, kind, random_seed=1),
            model.fitted(idata).draws(new, kind, random_seed=1),
        )


def test_a_posterior_that_does_not_fit_the_model_is_named(saved, tmp_path):
    _, _, path = saved
    spec = read_header(path)["spec"]
    spec["fixed"] = {}
    spec["design"]["common_terms"][1]["name"] = "Hours"  # a term the posterior does not have
    wrong = _edit_attrs(path, tmp_path / "wrong.nc", bayesmm_spec=json.dumps(spec))
    with pytest.raises(
        bmm.ModelFileError,
        match=r"wrong\.nc' does not hold a usable posterior for its model: DataError: The posterior does not have the variable\(s\) \['Hours'\]",
    ):
        bmm.load(wrong)


def test_a_file_that_cannot_be_written_is_named(saved, tmp_path, monkeypatch):
    model, idata, _ = saved

    def disk_full(self, filename, **kwargs):
        Path(filename).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(az.InferenceData, "to_netcdf", disk_full)
    with pytest.raises(
        bmm.ModelFileError, match=r"Could not write '.*full\.nc': OSError: No space left on device"
    ):
        model.save(tmp_path / "full.nc", idata)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.nc"]  # no partial file left
