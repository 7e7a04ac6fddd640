import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from bayesmm.design import DroppedRowsWarning, build_design
from bayesmm.families import get_family

GAUSSIAN = get_family("gaussian")


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "c": np.tile(["a", "b", "c"], n // 3),
            "g": np.repeat([f"g{i}" for i in range(6)], n // 6),
            "h": np.tile(["h1", "h2"], n // 2),
            "count": rng.poisson(3, size=n),
        }
    )


def _design(formula, data, family="gaussian", **kwargs):
    return build_design(formula, data, get_family(family), **kwargs)


# --- common terms and categorical coding ---------------------------------------------------


def test_categorical_with_intercept_is_reduced_rank_with_first_level_as_reference(toy):
    d = _design("y ~ c", toy)
    assert [t.name for t in d.common_terms] == ["Intercept", "c"]
    assert d.common_terms[1].levels == ("b", "c")
    np.testing.assert_array_equal(d.common[:3, 1:], [[0, 0], [1, 0], [0, 1]])


@pytest.mark.parametrize("formula", ["y ~ 0 + c", "y ~ c - 1"])
def test_categorical_without_intercept_is_full_rank(toy, formula):
    d = _design(formula, toy)
    assert not d.has_intercept
    assert d.common_terms[0].levels == ("a", "b", "c")
    np.testing.assert_array_equal(d.common.sum(axis=1), 1)


def test_interactions_expand_like_lme4(toy):
    d = _design("y ~ x*c", toy)
    assert [t.name for t in d.common_terms] == ["Intercept", "x", "c", "x:c"]
    d = _design("y ~ x:h", toy)
    assert d.common_terms[1].columns == ("x:h[h1]", "x:h[h2]")


def test_categorical_argument_makes_a_numeric_column_a_factor(toy):
    toy = toy.assign(k=np.tile([1, 2, 3], 20))
    assert _design("y ~ k", toy).common.shape[1] == 2
    d = _design("y ~ k", toy, categorical="k")
    assert d.common_terms[1].levels == ("2", "3")


def test_pandas_category_order_sets_the_reference_level(toy):
    toy = toy.assign(c=pd.Categorical(toy["c"], categories=["c", "a", "b"]))
    assert _design("y ~ c", toy).common_terms[1].levels == ("a", "b")


# --- group-specific terms ------------------------------------------------------------------


def test_group_terms_are_index_vectors_not_dense_matrices(toy):
    d = _design("y ~ x + (x|g)", toy)
    one, slope = d.group_terms
    assert (one.name, slope.name) == ("1|g", "x|g")
    assert one.values is None and one.index.dtype == np.int32
    assert one.levels == tuple(f"g{i}" for i in range(6))
    np.testing.assert_array_equal(one.index, np.repeat(np.arange(6), 10))
    np.testing.assert_array_equal(slope.values[:, 0], toy["x"])


def test_zero_intercept_group_term_has_only_the_slope(toy):
    d = _design("y ~ x + (0 + x|g)", toy)
    assert [t.name for t in d.group_terms] == ["x|g"]


def test_group_intercepts_are_full_rank_and_categorical_slopes_coded_like_common(toy):
    d = _design("y ~ c + (c|g)", toy)
    assert [t.name for t in d.group_terms] == ["1|g", "c|g"]
    assert len(d.group_terms[0].levels) == 6
    assert d.group_terms[1].expr_levels == ("b", "c")  # reduced: the factor has an intercept
    d = _design("y ~ c + (0 + c|g)", toy)
    assert d.group_terms[0].expr_levels == ("a", "b", "c")  # full rank without one


def test_interaction_factor_uses_observed_combinations_only(toy):
    d = _design("y ~ 1 + (1|g:h)", toy)
    term = d.group_terms[0]
    assert term.factor == "g:h"
    assert len(term.levels) == 12
    assert term.levels[:2] == ("g0:h1", "g0:h2")
    sub = toy.iloc[:5]
    assert (
        len(
            _design("y ~ 1 + (1|g:h)", sub.assign(g=["a", "a", "b", "b", "b"]))
            .group_terms[0]
            .levels
        )
        == 4
    )


def test_nested_groups_expand_to_parent_and_interaction(toy):
    d = _design("y ~ 1 + (1|g/h)", toy)
    assert [t.name for t in d.group_terms] == ["1|g", "1|g:h"]


def test_crossed_groups_each_get_their_own_index(toy):
    d = _design("y ~ x + (1|g) + (1|h)", toy)
    assert [(t.name, len(t.levels)) for t in d.group_terms] == [("1|g", 6), ("1|h", 2)]


# --- responses -----------------------------------------------------------------------------


def test_binomial_response_reads_successes_and_trials(cbpp):
    d = _design("p(incidence, size) ~ period + (1|herd)", cbpp, "binomial")
    np.testing.assert_array_equal(d.response.trials, cbpp["size"])
    np.testing.assert_array_equal(d.response.values, cbpp["incidence"])


def test_binomial_without_trials_explains_the_p_syntax(cbpp):
    with pytest.raises(
        bmm.DataError, match=r"needs the response written as p\(successes, trials\)"
    ):
        _design("incidence ~ period", cbpp, "binomial")


def test_bernoulli_string_response_models_the_second_level(bacteria):
    d = _design("y ~ trt", bacteria, "bernoulli")
    assert d.response.event == "y == 'y'"
    np.testing.assert_array_equal(d.response.values, (bacteria["y"] == "y").astype(float))


def test_bernoulli_event_can_be_chosen_in_the_formula(bacteria):
    d = _design("y['n'] ~ trt", bacteria, "bernoulli")
    assert d.response.event == "y == 'n'"
    np.testing.assert_array_equal(d.response.values, (bacteria["y"] == "n").astype(float))


def test_bernoulli_event_that_is_not_a_level_is_an_error(bacteria):
    with pytest.raises(
        bmm.DataError,
        match=r"y\['yes'\] names a level that 'y' does not have; its levels are \['n', 'y'\]",
    ):
        _design("y['yes'] ~ trt", bacteria, "bernoulli")


def test_bernoulli_numeric_and_boolean_responses(toy):
    assert _design("b ~ x", toy.assign(b=toy["x"] > 0), "bernoulli").response.event == "b == True"
    d = _design("b ~ x", toy.assign(b=(toy["x"] > 0).astype(int)), "bernoulli")
    assert d.response.event == "b == 1"


# --- bad input -----------------------------------------------------------------------------


def test_data_must_be_a_dataframe():
    with pytest.raises(bmm.DataError, match=r"data must be a pandas.DataFrame .* got dict"):
        bmm.Model("y ~ x", {"y": [1.0, 2.0], "x": [1.0, 2.0]})


def test_missing_column_lists_close_matches(sleepstudy):
    with pytest.raises(
        bmm.FormulaError, match=r"uses 'Day', which is not a column of data. Did you mean 'Days'\?"
    ):
        bmm.Model("Reaction ~ Day + (1|Subject)", sleepstudy)


def test_missing_values_without_dropna_name_columns_and_row_counts(toy):
    toy = toy.copy()
    toy.loc[[1, 4, 7], "x"] = np.nan
    toy.loc[[4], "y"] = np.nan
    with pytest.raises(
        bmm.DataError,
        match=r"missing values .* \{'y': 1, 'x': 3\} \(3 of 60 rows affected\). Pass dropna=True",
    ):
        bmm.Model("y ~ x", toy)


def test_dropna_removes_incomplete_rows_of_used_columns_and_says_so(toy):
    toy = toy.copy()
    toy.loc[[1, 4, 7], "x"] = np.nan
    toy.loc[[0], "count"] = np.nan  # not in the formula: must not cost a row
    with pytest.warns(
        DroppedRowsWarning, match=r"Automatically removing 3/60 rows from the dataset."
    ):
        model = bmm.Model("y ~ x", toy, dropna=True)
    assert model.design.n_obs == 57
    assert "57 (3 incomplete rows removed)" in str(model)


def test_constant_predictor_is_an_error(toy):
    with pytest.raises(
        bmm.DataError, match=r"predictor 'k' \(term 'k'\) is constant \(every value is 2\)"
    ):
        bmm.Model("y ~ x + k", toy.assign(k=2.0))


def test_single_level_factor_is_an_error(toy):
    with pytest.raises(bmm.DataError, match=r"factor 'k' .* has a single level \['only'\]"):
        bmm.Model("y ~ x + k", toy.assign(k="only"))
    with pytest.raises(bmm.DataError, match=r"grouping factor 'k' in '1\|k' has a single level"):
        bmm.Model("y ~ x + (1|k)", toy.assign(k="only"))


def test_string_response_with_gaussian_is_an_error(bacteria):
    with pytest.raises(
        bmm.DataError, match=r"response 'y' is categorical .* family 'gaussian' needs numbers"
    ):
        bmm.Model("y ~ trt", bacteria)


@pytest.mark.parametrize(
    ("family", "values", "message"),
    [
        (
            "poisson",
            [-1, 2, 3, 4],
            r"non-negative integer counts for family 'poisson'; got 1 value\(s\) outside it, e.g. \[-1\.0\]",
        ),
        ("poisson", [1.5, 2, 3, 4], r"non-negative integer counts .* \[1\.5\]"),
        (
            "negativebinomial",
            [0, 2, 3.2, 4],
            r"non-negative integer counts for family 'negativebinomial'",
        ),
        (
            "beta",
            [0.2, 0.5, 1.0, 0.3],
            r"strictly between 0 and 1 for family 'beta'.* \[1\.0\] \(rows \[2\]\)",
        ),
        (
            "bernoulli",
            [0, 1, 2, 1],
            r"binary .* for family 'bernoulli'; got 1 value\(s\) outside it, e.g. \[2\.0\]",
        ),
        ("gamma", [0.0, 1, 2, 3], r"positive numbers for family 'gamma'"),
        ("wald", [-1.0, 1, 2, 3], r"positive numbers for family 'wald'"),
    ],
)
def test_response_outside_the_family_support_is_an_error(family, values, message):
    df = pd.DataFrame({"y": values, "x": [0.1, 0.5, 0.2, 0.9]})
    with pytest.raises(bmm.DataError, match=message):
        bmm.Model("y ~ x", df, family=family)


def test_binomial_successes_above_trials_is_an_error(cbpp):
    bad = cbpp.assign(incidence=cbpp["size"] + 1)
    with pytest.raises(
        bmm.DataError,
        match=r"The successes 'incidence' of the response 'p\(incidence, size\)' must be at most its trials 'size'; got more in 56 row\(s\)",
    ):
        bmm.Model("p(incidence, size) ~ period", bad, family="binomial")


def test_categorical_argument_naming_a_missing_column_is_an_error(toy):
    with pytest.raises(bmm.DataError, match=r"categorical names 'gg', .* Did you mean 'g'\?"):
        bmm.Model("y ~ x", toy, categorical=["gg"])


def test_unknown_function_in_formula_is_a_formula_error(toy):
    with pytest.raises(bmm.FormulaError, match=r"Could not evaluate formula 'y ~ nosuch\(x\)'"):
        bmm.Model("y ~ nosuch(x)", toy)
    with pytest.raises(bmm.FormulaError, match=r"'nosuch' is neither a column .* e.g. np.log\)"):
        bmm.Model("y ~ nosuch(x)", toy)


def test_an_unknown_function_of_the_response_is_named(toy):
    with pytest.raises(bmm.DataError, match=r"response 'log\(y\)' .* 'log' is neither a column"):
        bmm.Model("log(y) ~ x", toy)
    toy = toy.assign(word="a")
    with pytest.raises(bmm.DataError, match=r"cannot take the values it was given"):
        bmm.Model("np.log(word) ~ x", toy)


def test_a_date_column_is_named_with_a_conversion(toy):
    dated = toy.assign(when=pd.date_range("2020-01-01", periods=len(toy)))
    with pytest.raises(bmm.DataError, match=r"column 'when' holds dates .*\.dt\.days"):
        bmm.Model("y ~ x + when", dated)
    with pytest.raises(bmm.DataError, match=r"column 'when' holds dates"):
        bmm.Model("when ~ x", dated)
    # As a grouping factor a date only labels groups.
    assert bmm.Model("y ~ x + (1|when)", dated.assign(when=dated["when"].dt.floor("3D")))
