"""Argument-type fuzzing of ``bayesmm.interpret`` and ``bayesmm.fit_many`` (Hypothesis): any
Python value for any argument gets a result, one of our errors, or a ``TypeError`` or
``ValueError`` raised by bayesmm itself that names the argument; never an exception from
inside numpy, pandas or another library. The runs are derandomised and bounded (seconds).
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmm as bmm
from bayesmm import interpret, many

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

SOURCE = Path(bmm.__file__).parent


class _Thing:
    """An object of a type no function expects."""

    def __repr__(self) -> str:
        return "<thing>"


def _frames() -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            pd.DataFrame({"x": [0.5, 1.0], "arm": ["a", "b"]}),
            pd.DataFrame(),
            pd.DataFrame({"q": [1]}),
        ]
    )


#: Any Python value, and the names of the model's columns, which reach further in.
ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["x", "arm", "g", "y", "x > 0", "b1 > 0", "hdi", "eti", "mean", "sigma"]),
    st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
    st.tuples(st.sampled_from(["x", "arm"]), st.integers()),
    st.dictionaries(
        st.one_of(st.sampled_from(["x", "arm", "g"]), st.integers(), st.text(max_size=3)),
        st.one_of(
            st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=3)
        ),
        max_size=2,
    ),
    st.sampled_from([np.array([1.0, 2.0]), np.zeros((2, 2)), np.array(["x"]), np.float64(0.5)]),
    _frames(),
    st.builds(_Thing),
    st.just(print),
)


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 24
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "arm": np.tile(["a", "b"], n // 2),
            "g": np.repeat(list("abcd"), n // 4),
        }
    )


@pytest.fixture(scope="module")
def fitted():
    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        model = bmm.Model("y ~ x + arm + (1|g)", _data())
        return model.fitted(model.fit(draws=20, chains=1, random_seed=1, progressbar=False))


def _ours_or_a_result(call: Callable[[], Any], argument: str) -> None:
    """Run ``call``: a result, one of our errors, or our own TypeError/ValueError naming
    ``argument``; never another library's exception."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except bmm.BayesmmError as err:
            assert str(err).strip()
        except (TypeError, ValueError) as err:
            # Raised by a raise statement of bayesmm, not by an operation that failed in it.
            last = traceback.extract_tb(err.__traceback__)[-1]
            ours = SOURCE in Path(last.filename).parents and (last.line or "").startswith("raise")
            assert ours and argument in str(err), (
                f"{type(err).__name__} at {last.filename}:{last.lineno} for {argument}: {err}"
            )


#: The arguments fuzzed per function, passed by keyword beside valid values of the others.
CALLS: dict[str, tuple[Callable[..., Any], dict[str, Any], tuple[str, ...]]] = {
    "data_grid": (interpret.data_grid, {"conditional": "x"}, ("conditional", "num")),
    "predictions": (
        interpret.predictions,
        {"conditional": "arm"},
        (
            "conditional",
            "average_by",
            "target",
            "kind",
            "scale",
            "prob",
            "method",
            "return_draws",
            "random_seed",
            "include_group_specific",
            "sample_new_groups",
        ),
    ),
    "comparisons": (
        interpret.comparisons,
        {"contrast": "arm", "conditional": "x"},
        ("contrast", "conditional", "average_by", "comparison", "target", "prob"),
    ),
    "slopes": (
        interpret.slopes,
        {"wrt": "x", "conditional": "arm"},
        ("wrt", "conditional", "average_by", "slope", "eps", "scale"),
    ),
    "hypothesis": (interpret.hypothesis, {"hypotheses": "x > 0"}, ("hypotheses", "prob", "method")),
}

FUZZED = [(name, argument) for name, (_, _, arguments) in CALLS.items() for argument in arguments]


@FUZZ
@given(case=st.sampled_from(FUZZED), value=ANY)
def test_any_value_of_an_argument_is_a_result_or_our_error(fitted, case, value):
    name, argument = case
    function, valid, _ = CALLS[name]
    arguments = {**valid, argument: value}
    _ours_or_a_result(lambda: function(fitted, **arguments), argument)


@FUZZ
@given(
    name=st.sampled_from(["data_grid", "predictions", "comparisons", "slopes", "hypothesis"]),
    first=ANY,
    second=ANY,
)
def test_any_positional_arguments_are_a_result_or_our_error(fitted, name, first, second):
    function = CALLS[name][0]
    if name == "hypothesis":
        _ours_or_a_result(lambda: function(first, second), "model")
        _ours_or_a_result(lambda: function(fitted, first), "hypotheses")
    else:
        _ours_or_a_result(lambda: function(first), "model")
        _ours_or_a_result(lambda: function(fitted, first), "idata")
        _ours_or_a_result(lambda: function(fitted, first, second), "idata")


@FUZZ
@given(
    argument=st.sampled_from(
        [
            "models",
            "executor",
            "random_seed",
            "keep",
            "vectorize",
            "draws",
            "chains",
            "inference_method",
            "target_accept",
        ]
    ),
    value=ANY,
)
def test_any_value_of_a_fit_many_argument_is_fits_or_our_error(
    fitted, monkeypatch, tmp_path, argument, value
):
    # The arguments are what is tested: a fit that would run returns at once.
    def fit(index: int, *args: Any) -> Any:
        return many._Outcome(index, None, {})

    monkeypatch.chdir(tmp_path)  # keep="." or another folder name: nothing is written here
    monkeypatch.setattr(many, "fit_one", fit)
    monkeypatch.setattr(many, "_fit_vectorised", lambda indexes, *a: [fit(i) for i in indexes])
    model = bmm.Model("y ~ x", _data())
    arguments = {"models": [model], "draws": 2, "tune": 0, "chains": 1, "progressbar": False}
    arguments[argument] = value
    _ours_or_a_result(lambda: bmm.fit_many(**arguments), argument)


PLOTS: dict[str, tuple[Callable[..., Any], dict[str, Any], tuple[str, ...]]] = {
    "plot_predictions": (interpret.plot_predictions, {"conditional": "x"}, ("conditional",)),
    "plot_comparisons": (
        interpret.plot_comparisons,
        {"contrast": "arm", "conditional": "x"},
        ("contrast", "conditional"),
    ),
    "plot_slopes": (interpret.plot_slopes, {"wrt": "x", "conditional": "arm"}, ("wrt",)),
    "plot_group_effects": (
        interpret.plot_group_effects,
        {"term": "1|g"},
        ("term", "column", "prob", "method"),
    ),
}


@settings(FUZZ, max_examples=40)
@given(
    case=st.sampled_from(
        [(name, argument) for name, (_, _, arguments) in PLOTS.items() for argument in arguments]
    ),
    value=ANY,
)
def test_any_value_of_a_plot_argument_is_a_figure_or_our_error(fitted, case, value):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name, argument = case
    function, valid, _ = PLOTS[name]
    try:
        _ours_or_a_result(lambda: function(fitted, **{**valid, argument: value}), argument)
    finally:
        plt.close("all")
