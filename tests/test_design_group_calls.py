"""gr(): a factor's options read from the formula's text, and group terms linked across the
responses of a multivariate model (gr(g, id=) and brms's (1 | p | g)): the design, the priors,
the graph's names, and new levels drawn once for every response."""

import numpy as np
import pandas as pd
import pytest

import bayesmm as bmm
from _multivariate import frame
from bayesmm._errors import FormulaError, PriorError
from bayesmm.design.group_calls import GroupCall, read_group_calls

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


@pytest.mark.parametrize(
    ("written", "text", "calls"),
    [
        ('y ~ x + (1 + x | gr(g, id="p"))', "y ~ x + (1 + x | g)", [("g", "p")]),
        ("y ~ x + (1 | gr(g, id=p)) + (1 | h)", "y ~ x + (1 | g) + (1 | h)", [("g", "p")]),
        ("y ~ x + (1 + x | p | g) + (1 || h)", "y ~ x + (1 + x | g) + (1 || h)", [("g", "p")]),
        ("y ~ x + (1 | gr(g))", "y ~ x + (1 | g)", []),
        ("y ~ x + (1 | g)", "y ~ x + (1 | g)", []),
    ],
)
def test_gr_calls_are_read_and_replaced_by_their_factor(written, text, calls):
    read, found = read_group_calls(written)
    assert read == text
    assert [(c.factor, c.id) for c in found] == calls
    assert all(isinstance(c, GroupCall) and c.written.startswith("(") for c in found)


@pytest.mark.parametrize(
    ("written", "match"),
    [
        ("y ~ gr(g)", r"gr\(g\) in formula .*after its bar"),
        ("y ~ (1 | gr(g, cov=K))", r"gr\(\.\.\., cov=\) is not available yet"),
        ("y ~ (1 | gr(g, id=1))", r"id= must be a name or a string"),
        ("y ~ (1 | gr(g, wat=1))", r"gr\(\) has no option 'wat'"),
        ("y ~ (1 | gr(g + h))", r"one grouping column by name"),
        ('y ~ (1 | gr(g, id="p")) + (0 + x | p | g)', r"links the factor 'g' in two group terms"),
        ("y ~ (1 | p | g + h)", r"'\(terms \| id \| factor\)'"),
    ],
)
def test_malformed_gr_calls_are_errors_naming_the_term(written, match):
    with pytest.raises(FormulaError, match=match):
        read_group_calls(written)


def test_an_id_in_a_univariate_model_links_nothing():
    data = frame()
    linked = bmm.Model('y1 ~ x + (1 + x | gr(g, id="p"))', data)
    plain = bmm.Model("y1 ~ x + (1 + x | g)", data)
    assert [t.name for t in linked.design.group_terms] == ["1|g", "x|g"]
    assert linked.design.blocks == plain.design.blocks
    assert str(linked.formula) == str(bmm.Formula('y1 ~ x + (1 + x | gr(g, id="p"))'))


def linked_model(**kwargs):
    formula = bmm.Formula('y1 ~ x + (1 + x | gr(g, id="p"))') + bmm.Formula("y2 ~ w + (1|p|g)")
    return bmm.Model(formula, frame(), **kwargs)


def test_linked_terms_are_one_block_with_one_lkj_prior():
    model = linked_model()
    (block,) = model.design.linked
    assert (block.id, block.factor, block.terms) == ("p", "g", ("y1_1|g", "y1_x|g", "y2_1|g"))
    names = [t.name for t in model.priors.terms]
    assert "g_corr" in names and "y1_g_corr" not in names
    assert model.priors["g_corr"] == bmm.Prior("LKJCorr", eta=1.0)
    given = linked_model(priors={"g_corr": bmm.Prior("LKJCorr", eta=4)})
    assert given.priors["g_corr"].params["eta"] == 4
    with pytest.raises(PriorError, match=r"priors\['g_corr'\] must be an LKJ prior"):
        linked_model(priors={"g_corr": bmm.Prior("Normal", mu=0, sigma=1)})


def test_the_graph_names_the_correlations_across_responses():
    model = linked_model()
    names = {v.name for v in model.backend.model.deterministics}
    expected = {"y1_1|g:y1_x|g_corr", "y1_1|g:y2_1|g_corr", "y1_x|g:y2_1|g_corr"}
    assert expected <= names
    assert {"y1_1|g", "y1_x|g", "y2_1|g", "y1_1|g_sigma", "y2_1|g_sigma"} <= names
    # One Cholesky factor for the three columns, and no block of y1's own.
    free = {v.name for v in model.backend.model.free_RVs}
    assert "g_corr_chol" in free and "y1_g_corr_chol" not in free


@pytest.mark.parametrize(
    ("others", "match"),
    [
        (['y2 ~ w + (1 | gr(h, id="p"))'], r"id 'p' links the factors \['g', 'h'\]"),
        (
            ['y2 ~ w + (1 | gr(g, id="p"))', 'y3 ~ w + (1 | gr(g, id="q"))', "y4 ~ (1|q|g)"],
            r"factor 'g' is linked by two ids",
        ),
        (['y2 ~ w + (1 | gr(g, id="p")) + (0 + x | g)'], r"another group term of it"),
    ],
)
def test_links_that_do_not_make_one_block_are_errors(others, match):
    data = frame().assign(h=np.tile(list("pqrs"), 10), y3=np.arange(40.0), y4=np.ones(40))
    formula = bmm.Formula('y1 ~ x + (1 | gr(g, id="p"))')
    for other in others:
        formula = formula + bmm.Formula(other)
    with pytest.raises(FormulaError, match=match):
        bmm.Model(formula, data)


def _posterior(model, corr, n=4000, seed=0):
    """A posterior of ``model`` with fixed sds and the linked correlation ``corr``."""
    import arviz as az

    rng = np.random.default_rng(seed)
    levels = list(model.design.design_of("y1").group_terms[0].levels)
    values = {
        "y1_Intercept": np.zeros(n),
        "y1_x": np.zeros(n),
        "y2_Intercept": np.zeros(n),
        "y2_w": np.zeros(n),
        "y1_sigma": np.ones(n),
        "y2_sigma": np.ones(n),
        "y1:y2_rescor": np.zeros(n),
        "y1_1|g": rng.normal(size=(n, len(levels))),
        "y1_x|g": rng.normal(size=(n, len(levels))),
        "y2_1|g": rng.normal(size=(n, len(levels))),
        "y1_1|g_sigma": np.full(n, 2.0),
        "y1_x|g_sigma": np.full(n, 1.0),
        "y2_1|g_sigma": np.full(n, 0.5),
        "y1_1|g:y1_x|g_corr": np.zeros(n),
        "y1_1|g:y2_1|g_corr": np.full(n, corr),
        "y1_x|g:y2_1|g_corr": np.zeros(n),
    }
    dims = {name: ["g__factor_dim"] for name in ("y1_1|g", "y1_x|g", "y2_1|g")}
    return az.from_dict(
        posterior={k: v[None] for k, v in values.items()},
        dims=dims,
        coords={"g__factor_dim": levels},
    )


def test_a_new_level_is_drawn_once_for_every_response_with_the_linked_correlation():
    model = linked_model()
    fitted = model.fitted(_posterior(model, corr=0.8))
    new = pd.DataFrame({"x": np.zeros(3), "w": np.zeros(3), "g": ["new1", "new2", "a"]})
    mu = fitted.draws(new, sample_new_groups="gaussian", random_seed=1)
    # 4,000 draws of a bivariate normal with correlation 0.8: the sample correlation's sd is
    # (1 - 0.8^2) / sqrt(4000) = 0.006, so 0.03 is five of them.
    for row in (0, 1):
        assert np.corrcoef(mu["y1"][:, row], mu["y2"][:, row])[0, 1] == pytest.approx(0.8, abs=0.03)
        assert mu["y1"][:, row].std() == pytest.approx(2.0, rel=0.05)
        assert mu["y2"][:, row].std() == pytest.approx(0.5, rel=0.05)
    # Two new levels are independent of each other.
    assert abs(np.corrcoef(mu["y1"][:, 0], mu["y2"][:, 1])[0, 1]) < 0.06
    # A fitted level is the posterior's.
    posterior = fitted.idata["posterior"]
    np.testing.assert_allclose(
        mu["y2"][:, 2], posterior["y2_1|g"].sel(g__factor_dim="a").values.ravel()
    )


def test_unlinked_blocks_of_two_responses_keep_their_own_new_levels():
    data = frame()
    model = bmm.Model("mvbind(y1, y2) ~ x + (1 + x | g)", data)
    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        idata = model.fit(
            draws=500, chains=2, inference_method="pymc", random_seed=1, progressbar=False
        )
    new = pd.DataFrame({"x": np.zeros(1), "g": ["new"]})
    mu = model.fitted(idata).draws(new, sample_new_groups="gaussian", random_seed=2)
    # Independent a priori: 1,000 draws, the sample correlation's sd about 0.03.
    assert abs(np.corrcoef(mu["y1"][:, 0], mu["y2"][:, 0])[0, 1]) < 0.15


def test_a_saved_linked_model_draws_new_levels_as_the_fitted_one(tmp_path):
    model = linked_model()
    fitted = model.fitted(_posterior(model, corr=0.8, n=300))
    path = fitted.save(tmp_path / "linked.nc")
    loaded = bmm.load(path)
    assert loaded.design.linked == model.design.linked
    new = pd.DataFrame({"x": np.zeros(2), "w": np.zeros(2), "g": ["new1", "a"]})
    for kind in ("response_params", "response"):
        got = loaded.draws(new, kind=kind, sample_new_groups="gaussian", random_seed=5)
        expected = fitted.draws(new, kind=kind, sample_new_groups="gaussian", random_seed=5)
        for response in ("y1", "y2"):
            np.testing.assert_array_equal(got[response], expected[response])
