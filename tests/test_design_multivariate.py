"""The design and priors of a multivariate model: one design per response on the same rows,
rescor's default, missing responses, and the priors named by response."""

import numpy as np
import pytest

import bayesmm as bmm
from _multivariate import design_of, frame
from bayesmm._errors import DataError, FamilyError, FormulaError, PriorError
from bayesmm.design import DroppedRowsWarning
from bayesmm.design.multivariate import resolve_rescor
from bayesmm.families import get_family
from bayesmm.links import get_link
from bayesmm.scaling.per_response import mv_priors


def test_each_response_has_its_design_on_the_same_rows_named_by_prefix():
    formula = bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w + (1|g)", "sigma ~ x")
    design, _ = design_of(formula, frame())
    assert design.responses == ("y1", "y2") and design.rescor and design.n_obs == 40
    assert [t.name for t in design.design_of("y2").common_terms] == ["Intercept", "w"]
    prefixed = design.prefixed("y2")
    assert [t.name for t in prefixed.common_terms] == ["y2_Intercept", "y2_w"]
    assert [t.name for t in prefixed.group_terms] == ["y2_1|g"]
    sub = prefixed.distributional[0]
    assert sub.param == "sigma"
    assert [t.name for t in sub.design.common_terms] == ["y2_sigma_Intercept", "y2_sigma_x"]


def test_rescor_is_on_for_all_gaussian_or_all_student_and_off_otherwise():
    gaussian, student, bern = (get_family(n) for n in ("gaussian", "t", "bernoulli"))
    assert resolve_rescor({"a": gaussian, "b": gaussian}, None)
    assert resolve_rescor({"a": student, "b": student}, None)
    assert not resolve_rescor({"a": gaussian, "b": bern}, None)
    assert not resolve_rescor({"a": gaussian, "b": student}, None)
    assert not resolve_rescor({"a": gaussian, "b": gaussian}, False)
    with pytest.raises(FamilyError, match=r"response 'b' has family 'bernoulli'"):
        resolve_rescor({"a": gaussian, "b": bern}, True)
    with pytest.raises(FamilyError, match="every response gaussian"):
        resolve_rescor({"a": gaussian, "b": student}, True)


def test_missing_responses_are_an_error_naming_the_response_and_rows():
    data = frame()
    data.loc[[3, 7], "y2"] = np.nan
    formula = bmm.MvFormula("mvbind(y1, y2) ~ x")
    with pytest.raises(DataError, match=r"response 'y2' is missing in 2 rows: \[3, 7\]"):
        design_of(formula, data)
    with pytest.warns(DroppedRowsWarning, match=r"removing 2/40 rows missing a response"):
        design, _ = design_of(formula, data, dropna=True)
    assert design.n_obs == 38


def test_a_missing_predictor_of_one_response_drops_the_row_for_every_response():
    data = frame()
    data.loc[5, "w"] = np.nan
    formula = bmm.Formula("y1 ~ x") + bmm.Formula("y2 ~ w")
    with pytest.warns(DroppedRowsWarning):
        design, _ = design_of(formula, data, dropna=True)
    assert all(d.n_obs == 39 for d in design.designs)
    assert 5 not in design.design_of("y1").state.frame.index


def test_a_response_that_is_not_a_column_is_a_formula_error():
    with pytest.raises(FormulaError, match=r"response 'y3' is not a column"):
        design_of(bmm.MvFormula("mvbind(y1, y3) ~ x"), frame())


def test_mixed_families_and_their_priors_by_response():
    formula = bmm.MvFormula("mvbind(y1, b) ~ x + (1|g)")
    design, families = design_of(formula, frame(), {"y1": "gaussian", "b": "bernoulli"})
    assert not design.rescor
    links = {r: f.resolve_link(None) for r, f in families.items()}
    priors = mv_priors(design, families, links, None)
    names = priors.names()
    assert {"y1_Intercept", "y1_x", "y1_1|g", "y1_sigma", "b_Intercept", "b_1|g"} <= set(names)
    assert "rescor" not in names and "b_sigma" not in names
    given = mv_priors(
        design,
        families,
        links,
        {
            "y1_x": bmm.Prior("Normal", mu=0, sigma=3),
            "b": {"x": bmm.Prior("Normal", mu=0, sigma=2.5)},
        },
    )
    assert given["y1_x"].params["sigma"] == 3 and given["b_x"].params["sigma"] == 2.5
    with pytest.raises(PriorError, match=r"priors\['z'\].*named by their response"):
        mv_priors(design, families, links, {"z": bmm.Prior("Normal", mu=0, sigma=1)})
    with pytest.raises(PriorError, match="rescor=False"):
        mv_priors(design, families, links, {"rescor": bmm.Prior("LKJCorr", eta=2)})


def test_rescor_has_an_lkj_prior_and_students_share_nu():
    formula = bmm.MvFormula("mvbind(y1, y2) ~ x")
    design, families = design_of(formula, frame(), {"y1": "t", "y2": "t"})
    links = {r: get_link("identity") for r in families}
    priors = mv_priors(design, families, links, {"rescor": bmm.Prior("LKJCorr", eta=2)})
    assert priors["rescor"].params["eta"] == 2
    assert "nu" in priors.names() and "y1_nu" not in priors.names()
    with pytest.raises(PriorError, match="must be an LKJ"):
        mv_priors(design, families, links, {"rescor": bmm.Prior("Normal", mu=0, sigma=1)})


def test_a_response_of_categories_is_refused_naming_it():
    data = frame()
    data["r"] = np.asarray(["lo", "mid", "hi"])[np.arange(len(data)) % 3]
    for family in ("cumulative", "categorical"):
        with pytest.raises(FamilyError, match=r"response 'r' has family .*a probability per"):
            bmm.Model(
                bmm.Formula("y1 ~ x") + bmm.Formula("r ~ x"),
                data,
                family={"y1": "gaussian", "r": family},
            )
