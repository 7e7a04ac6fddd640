"""Property-based tests (Hypothesis): whatever a user passes, the answer is a model, a
prediction, or one of our errors with a message; never another exception.

Generated: data frames (floats with NaN and inf, nullable integers with NA, categoricals with
unused levels, datetimes, bools, object columns of mixed types, empty frames, duplicated
names), formulas from a grammar of our syntax over those columns, families, and prediction
frames for a fitted model. The runs are derandomised (the same examples every run) and
bounded: the example counts are in ``settings`` below (about 30 s in all).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import bayesmm as bmm

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ROWS = st.one_of(st.integers(min_value=6, max_value=12), st.integers(min_value=0, max_value=5))


def _floats(n):
    return st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(min_value=-1e3, max_value=1e3),
        ),
        min_size=n,
        max_size=n,
    ).map(lambda v: pd.Series(v, dtype=float))


def _column(n):
    """A column of ``n`` rows of one of the dtypes users bring."""
    small = st.integers(min_value=-5, max_value=5)
    levels = st.sampled_from(["a", "b", "c"])
    clean = st.one_of(
        st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=n, max_size=n).map(pd.Series),
        st.lists(levels, min_size=n, max_size=n).map(pd.Series),
    )
    return st.one_of(
        clean,
        clean,
        _floats(n),
        st.lists(small, min_size=n, max_size=n).map(lambda v: pd.Series(v, dtype="int64")),
        st.lists(st.one_of(small, st.none()), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype="Int64")
        ),
        st.lists(st.booleans(), min_size=n, max_size=n).map(pd.Series),
        st.lists(levels, min_size=n, max_size=n).map(
            lambda v: pd.Series(pd.Categorical(v, categories=["a", "b", "c", "unused"]))
        ),
        st.lists(st.one_of(levels, st.none()), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype=object)
        ),
        st.lists(st.one_of(levels, small, st.floats(allow_nan=True)), min_size=n, max_size=n).map(
            lambda v: pd.Series(v, dtype=object)
        ),
        st.lists(
            st.datetimes(
                min_value=pd.Timestamp("2000-01-01"), max_value=pd.Timestamp("2030-01-01")
            ),
            min_size=n,
            max_size=n,
        ).map(lambda v: pd.Series(pd.to_datetime(v))),
    )


@st.composite
def frames(draw):
    """Columns y, x, g and z of any dtype; now and then one missing or one duplicated."""
    n = draw(ROWS)
    names = ["y", "x", "g", "z"]
    change = draw(st.sampled_from(["none"] * 8 + ["drop", "duplicate"]))
    if change == "drop":
        names.remove(draw(st.sampled_from(names)))
    elif change == "duplicate":
        names.append(draw(st.sampled_from(names)))
    columns = [draw(_column(n)) for _ in names]
    frame = pd.concat(columns, axis=1)
    frame.columns = names
    return frame


TERMS = [
    "x",
    "z",
    "g",
    "x:g",
    "x*z",
    "(1|g)",
    "(x|g)",
    "(1 + x || g)",
    "C(z)",
    "np.log(x)",
    "scale(x)",
    "0",
    "1",
    "offset(x)",
    "bs(x, df=3)",
]
RESPONSES = ["y", "x", "p(y, x)", "censored(y, z)", "y['a']", "c(y, x)", "log(y)"]


@st.composite
def formulas(draw):
    response = draw(st.sampled_from(RESPONSES))
    terms = draw(st.lists(st.sampled_from(TERMS), min_size=0, max_size=4))
    junk = draw(st.sampled_from([""] * 12 + [" +", "~", "(", "|", " + (1|)", " ~ x"]))
    return f"{response} ~ {' + '.join(terms) or '1'}{junk}"


FAMILIES = ["gaussian", "bernoulli", "poisson", "binomial", "cumulative", "t", "gamma"]


def _ours_or_nothing(call):
    """Run ``call``; an exception must be one of ours, with a message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = call()
        except bmm.BayesmmError as err:
            assert str(err).strip(), f"{type(err).__name__} without a message"
            # One event per kind of message: quoted names and values blanked out.
            kind = re.sub(r"'[^']*'", "'.'", str(err))[:50]
            event(f"{type(err).__name__}: {kind}")
            return None
    event("ok")
    return out


@PROPERTY
@given(data=frames(), formula=formulas(), family=st.sampled_from(FAMILIES))
def test_a_model_is_built_or_our_error_says_why(data, formula, family):
    _ours_or_nothing(lambda: bmm.Model(formula, data, family=family))


FORMULA_TEXT = st.text(alphabet=st.sampled_from(list("yxg+|()*:1 -,.'[]")), max_size=12)


@PROPERTY
@given(
    text=st.one_of(
        st.tuples(FORMULA_TEXT, FORMULA_TEXT).map("~".join),
        st.text(alphabet=st.sampled_from(list("yxg~+|()*:1 -,.'[]")), max_size=25),
    )
)
def test_any_text_as_a_formula_is_a_formula_or_our_error(text):
    data = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "x": [0.1, 0.2, 0.3, 0.4], "g": list("abab")})
    _ours_or_nothing(lambda: bmm.Model(text, data))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from conftest import prior_draws_everywhere

    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "x": rng.normal(size=40),
            "c": rng.choice(["a", "b"], 40),
            "g": rng.choice(list("pqr"), 40),
        }
    )
    data["y"] = data["x"] + rng.normal(size=40)
    with prior_draws_everywhere():
        model = bmm.Model("y ~ x + c + (1|g)", data)
        return model.fitted(model.fit(draws=20, chains=1, random_seed=1))


@st.composite
def prediction_frames(draw):
    """Columns x, c and g, each usually of the type the model expects (with any values:
    unseen levels, NaN, inf, huge numbers) and otherwise of any dtype; now and then one
    missing, one duplicated, or one the model does not use."""
    n = draw(st.integers(min_value=0, max_value=6))
    expected = {
        "x": st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n),
        "c": st.lists(st.sampled_from(["a", "b", "z"]), min_size=n, max_size=n),
        "g": st.lists(st.sampled_from(["p", "q", "r", "new", 3]), min_size=n, max_size=n),
    }
    names = ["x", "c", "g"]
    change = draw(st.sampled_from(["none"] * 7 + ["drop", "duplicate", "extra"]))
    if change == "drop":
        names.remove(draw(st.sampled_from(names)))
    elif change == "duplicate":
        names.append(draw(st.sampled_from(names)))
    elif change == "extra":
        names.append("other")
    columns = []
    for name in names:
        typed = name in expected and draw(st.integers(0, 9)) < 7
        columns.append(pd.Series(draw(expected[name])) if typed else draw(_column(n)))
    frame = pd.concat(columns, axis=1)
    frame.columns = names
    return frame


@PROPERTY
@given(
    frame=prediction_frames(),
    kind=st.sampled_from(["response_params", "response"]),
    policy=st.sampled_from([False, True, "gaussian", "population"]),
)
def test_a_prediction_is_numbers_or_our_error_says_why(fitted, frame, kind, policy):
    out = _ours_or_nothing(
        lambda: fitted.point(frame, kind=kind, sample_new_groups=policy, random_seed=1)
    )
    if out is not None:
        assert len(out) == len(frame) and out["mean"].dtype == float
