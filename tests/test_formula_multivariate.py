"""Multivariate formulas: ``Formula + Formula``, ``mvbind()``, and the names of their parts."""

import pytest

import bayesmm as bmm
from bayesmm import _names
from bayesmm._errors import FormulaError
from bayesmm.formula import as_formula


def test_adding_formulas_makes_a_multivariate_formula_with_each_ones_parts():
    mv = bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ z + (1|g)", "sigma ~ w")
    assert isinstance(mv, bmm.MvFormula)
    assert mv.responses == ("y1", "y2")
    assert mv.by_response()["y2"].distributional == {"sigma": "w"}
    assert mv.by_response()["y1"].distributional == {}
    three = mv + bmm.Formula("y3 ~ 1")
    assert three.responses == ("y1", "y2", "y3")


def test_mvbind_gives_each_response_the_same_right_hand_side_and_parts():
    mv = bmm.MvFormula("mvbind(y1, y2) ~ x + (1|g)", "sigma ~ w")
    assert [f.main for f in mv.formulas] == ["y1 ~ x + (1|g)", "y2 ~ x + (1|g)"]
    assert all(f.additional == ("sigma ~ w",) for f in mv.formulas)
    assert as_formula("mvbind(a, b) ~ x").responses == ("a", "b")
    assert isinstance(as_formula("y ~ x"), bmm.Formula)


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("mvbind(y1) ~ x", r"two or more responses.*\['y1'\]"),
        ("mvbind(log(y1), y2) ~ x", r"plain column names.*log\(y1\)"),
        ("mvbind() ~ x", "plain column names"),
    ],
)
def test_a_bad_mvbind_is_a_formula_error(formula, match):
    with pytest.raises(FormulaError, match=match):
        bmm.MvFormula(formula)


def test_one_response_or_a_repeated_one_is_not_multivariate():
    with pytest.raises(FormulaError, match="two or more responses"):
        bmm.MvFormula("y ~ x")
    with pytest.raises(FormulaError, match=r"several for \['y'\]"):
        bmm.Formula("y ~ x") + bmm.Formula("y ~ z")
    with pytest.raises(FormulaError, match="several responses"):
        bmm.Formula("mvbind(y1, y2) ~ x")


def test_the_names_of_a_multivariate_models_parts():
    assert _names.response_name("y1", "1|g_sigma") == "y1_1|g_sigma"
    assert _names.rescor_name("y1", "y2") == "y1:y2_rescor"
    assert _names.joint_response_name(("y1", "y2")) == "y1:y2"
    assert _names.RESPONSE_DIM == "__response__"
