import pytest

import bayesmm as bmm
from bayesmm.formula import parse_formula


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("", r"formula must not be empty"),
        ("   ", r"formula must not be empty"),
        ("y x", r"formula 'y x' has no '~'"),
        ("~ x", r"formula '~ x' has no response"),
        ("y ~ x +", r"Could not parse formula 'y ~ x \+'"),
        ("y ~ (x|)", r"Could not parse formula 'y ~ \(x\|\)' near '\)'"),
        ("y ~ x | g", r"'\|' outside parentheses; write group-specific terms as '\(x \| g\)'"),
        ("y ~ (1|g", r"unmatched '\('"),
        ("y ~ x)", r"unmatched '\)'"),
        ("y ~~ x", r"Could not parse formula 'y ~~ x'"),
    ],
)
def test_malformed_formula_raises_formula_error_quoting_it(formula, message):
    with pytest.raises(bmm.FormulaError, match=message):
        parse_formula(formula)


def test_formula_error_points_at_the_bad_character():
    with pytest.raises(bmm.FormulaError) as info:
        parse_formula("y ~ x | g")
    assert "    y ~ x | g\n          ^" in str(info.value)


def test_formula_that_is_not_a_string_is_a_formula_error():
    with pytest.raises(bmm.FormulaError, match="formula must be a string .* got int"):
        bmm.Formula(3)


def test_formula_records_the_text():
    assert str(bmm.Formula("y ~ x + (1|g)")) == "y ~ x + (1|g)"
    assert repr(bmm.Formula("y ~ x")) == "Formula('y ~ x')"
