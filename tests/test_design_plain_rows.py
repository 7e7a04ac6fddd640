"""New rows encoded with numpy alone (``design.plain_rows``) against formulae's encoding.

``DesignState.encode`` takes the fast path whenever the formula has a plan and the rows hold
what the plan expects; ``DesignState.encode_with_formulae`` is the general path. Both must
give the same arrays, bit for bit, and the same predictions for the same seed; rows the plan
does not expect, and formulas without a plan, go through formulae with its own errors.

The posteriors here are random draws shaped like a fit's (no sampler runs): what is under
test is that both encodings feed prediction the same numbers.
"""

from __future__ import annotations

import dataclasses

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _posteriors import random_posterior
from bayesmm.design import DesignState, NewDesign


@pytest.fixture(scope="module")
def frame(sleepstudy):
    rng = np.random.default_rng(0)
    n = len(sleepstudy)
    return sleepstudy.assign(
        g=rng.choice(["lo", "mid", "hi"], n),  # text
        c=pd.Categorical(rng.choice(["b", "a"], n), categories=["b", "a"]),  # categorical
        k=rng.integers(1, 4, n),  # whole numbers, made categorical with categorical=
        z=rng.normal(size=n),
        w=rng.uniform(1, 5, n),
        site=rng.choice(["s1", "s2", "s3", "s4"], n),
    )


def _new_rows(n: int, seed: int = 1) -> pd.DataFrame:
    """Rows with fitted and unseen subjects and sites, in a new order."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Days": rng.integers(0, 10, n),
            "Subject": rng.choice(["308", "309", "372", "new1", "new2"], n),
            "g": rng.choice(["lo", "mid", "hi"], n),
            "c": rng.choice(["a", "b"], n),
            "k": rng.integers(1, 4, n),
            "z": rng.normal(size=n),
            "w": rng.uniform(1, 5, n),
            "site": rng.choice(["s1", "s4", "s9"], n),
        },
        index=rng.permutation(np.arange(100, 100 + n)),
    )


def _assert_same(fast: NewDesign, general: NewDesign) -> None:
    """Every field equal, arrays bit for bit and of the same dtype."""
    for field in dataclasses.fields(NewDesign):
        a, b = getattr(fast, field.name), getattr(general, field.name)
        if field.name == "groups":
            assert len(a) == len(b)
            for one, other in zip(a, b, strict=True):
                assert one.new_levels == other.new_levels
                _assert_arrays(one.index, other.index)
                _assert_arrays(one.values, other.values)
        elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            _assert_arrays(a, b)
        else:
            assert a == b, field.name


def _assert_arrays(a: np.ndarray | None, b: np.ndarray | None) -> None:
    if a is None or b is None:
        assert a is None and b is None
        return
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


PLAIN = [
    "Reaction ~ Days + (Days | Subject)",  # numeric, new groups
    "Reaction ~ g + c + (1 | Subject)",  # categorical columns, text and pandas categories
    "Reaction ~ 0 + g + (1 | site)",  # full-rank coding; a second factor with new levels
    "Reaction ~ Days * g + c:z + (1 | Subject) + (0 + c | site)",  # interactions; (c | site)
    "Reaction ~ k + Days:k + (Days || Subject)",  # categorical= whole numbers; uncorrelated
]


@pytest.mark.parametrize("formula", PLAIN)
def test_plain_formulas_encode_new_rows_as_formulae_does(frame, formula):
    model = bmm.Model(formula, frame, categorical="k")
    state = model.design.state
    assert state.plain_rows is not None
    for rows in (_new_rows(1), _new_rows(7, seed=2), _new_rows(3000, seed=3)):
        _assert_same(state.encode(rows), state.encode_with_formulae(rows))


def test_values_given_as_text_or_numbers_match_levels_as_formulae_does(frame):
    model = bmm.Model("Reaction ~ Days * k + (Days | Subject)", frame, categorical="k")
    state = model.design.state
    rows = _new_rows(20)
    # Subjects were numbers at fit time; here numbers, then text; k as text.
    for subjects in (
        rows["Subject"].replace({"new1": "1", "new2": "2"}).astype(int),
        rows["Subject"],
    ):
        new = rows.assign(Subject=subjects, k=rows["k"].astype(str))
        _assert_same(state.encode(new), state.encode_with_formulae(new))


def test_float32_and_unsigned_columns_keep_formulae_dtypes(frame):
    model = bmm.Model("Reaction ~ Days * z + (1 | Subject)", frame)
    state = model.design.state
    rows = _new_rows(9)
    new = rows.assign(Days=rows["Days"].astype(np.uint8), z=rows["z"].astype(np.float32))
    _assert_same(state.encode(new), state.encode_with_formulae(new))


@pytest.mark.parametrize(
    "formula",
    [
        "Reaction ~ np.log(w) + (1 | Subject)",  # a call
        "Reaction ~ center(Days) + (center(Days) | Subject)",  # a stateful transform
        "Reaction ~ Days + (1 | Subject:site)",  # an interacted factor
        "Reaction ~ Days + offset(z) + (1 | Subject)",  # an offset
    ],
)
def test_other_formulas_have_no_plan_and_go_through_formulae(frame, formula):
    model = bmm.Model(formula, frame)
    state = model.design.state
    assert state.plain_rows is None
    rows = _new_rows(5)
    _assert_same(state.encode(rows), state.encode_with_formulae(rows))


def test_rows_the_plan_does_not_expect_go_through_formulae(frame, monkeypatch):
    model = bmm.Model("Reaction ~ Days + g + (Days | Subject)", frame)
    state = model.design.state
    calls = []
    general = DesignState.encode_with_formulae
    monkeypatch.setattr(
        DesignState,
        "encode_with_formulae",
        lambda self, data: calls.append(1) or general(self, data),
    )
    rows = _new_rows(4)
    state.encode(rows)
    assert calls == []  # plain rows: the fast path
    odd = [
        rows.assign(Days=rows["Days"].astype(float)),  # numbers as floats are fine
        rows.assign(Days=rows["Days"].astype(str)),  # numbers as text: pandas converts them
        rows.assign(Days=pd.array(rows["Days"], dtype="Int64")),  # a nullable dtype
        rows.assign(g=pd.Categorical(rows["g"])),  # categorical dtype is fine
        rows.assign(Subject=rows["Subject"].astype(object).where(rows.index != rows.index[0], 1.5)),
    ]
    for new in odd:
        _assert_same(state.encode(new), state.encode_with_formulae(new))
    assert (
        len(calls) == 2 * len(odd) - 2
    )  # the float and the categorical columns took the fast path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.drop(columns="Days"), "must have the column"),
        (lambda rows: rows.assign(g=["lo", "new", "hi", "lo"]), "not seen at fit time"),
        (lambda rows: rows.assign(Days=[1.0, np.nan, 2.0, 3.0]), "missing values"),
        (lambda rows: rows.assign(Days=[1.0, np.inf, 2.0, 3.0]), "infinite values"),
        (lambda rows: rows.assign(Days=["1", "x", "2", "3"]), "must hold numbers"),
        (lambda rows: rows.assign(Subject=["308", None, "309", "309"]), "missing values"),
    ],
)
def test_bad_rows_give_the_errors_of_formulae_path(frame, change, message):
    model = bmm.Model("Reaction ~ Days + g + (Days | Subject)", frame)
    state = model.design.state
    new = change(_new_rows(4))
    with pytest.raises(bmm.DataError, match=message) as fast:
        state.encode(new)
    with pytest.raises(bmm.DataError) as general:
        state.encode_with_formulae(new)
    assert str(fast.value) == str(general.value)


@pytest.mark.parametrize("formula", PLAIN)
@pytest.mark.parametrize("kind", ["response_params", "response"])
def test_predictions_are_the_same_for_the_same_seed(frame, formula, kind, monkeypatch):
    model = bmm.Model(formula, frame, categorical="k")
    fitted = model.fitted({"posterior": random_posterior(model)})
    rows = _new_rows(50)
    options = {"sample_new_groups": "gaussian", "random_seed": 11}
    fast = fitted.draws(rows, kind, **options)
    # The plan is kept on the state once made: without it, the state encodes with formulae.
    monkeypatch.setitem(vars(model.design.state), "plain_rows", None)
    assert model.design.state.plain_rows is None
    general = fitted.draws(rows, kind, **options)
    assert fast.tobytes() == general.tobytes()


def test_a_loaded_model_encodes_as_formulae_does(frame, tmp_path):
    model = bmm.Model("Reaction ~ Days * g + c + (Days | Subject)", frame)
    idata = az.InferenceData(posterior=random_posterior(model))
    model.save(tmp_path / "model.nc", idata, posterior_only=True)
    state = bmm.load(tmp_path / "model.nc").design.state
    assert state.frame is None and state.plain_rows is not None  # levels from the file
    for rows in (_new_rows(1), _new_rows(40, seed=4)):
        _assert_same(state.encode(rows), state.encode_with_formulae(rows))
