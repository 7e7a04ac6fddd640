"""The seam for kinds of model part (``design.kinds``): every kind's declared stages have
their pieces, and a toy kind defined here, ``scaled(x, s=2)``, works end to end: formula,
``print(model)``, ``priors=``, the PyMC graph, the posterior, prediction, the saved file (under
the trust rules of custom families) and the server's schema."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from fastapi.testclient import TestClient

import _custom_kinds
import bayesmm as bmm
from bayesmm.design import STAGES, TERM_KINDS
from bayesmm.design.kinds import registered_kinds

#: Each stage's table of pieces, by kind name (docs/architecture.md, "Adding a kind of term").
TABLES = {
    "scaling": [("bayesmm.scaling.default", "PRIOR_PIECES")],
    "graph": [
        ("bayesmm.backend.graph.terms", "GRAPH_PIECES"),
        ("bayesmm.backend.graph.likelihoods", "RESPONSE_PIECES"),
        ("bayesmm.backend.graph.likelihoods", "OBSERVED_PIECES"),
    ],
    "predict": [
        ("bayesmm.predict.draws", "DRAW_PIECES"),
        ("bayesmm.predict.params", "PARAM_PIECES"),
    ],
    "serve": [("bayesmm.serve.schemas", "SCHEMA_PIECES")],
    "display": [("bayesmm.display", "DISPLAY_PIECES")],
}
#: The modules that read the built-in kinds' calls and columns (their design pieces).
DESIGN_PIECES = {
    "s": "bayesmm.design.smooths",
    "hsgp": "bayesmm.design.gps",
    "mo": "bayesmm.design.monotonic",
    "mi": "bayesmm.design.missing",
    "bs": "bayesmm.design.splines",
    "offset": "bayesmm.design.offsets",
    "factor": "bayesmm.design.terms",
    "censored": "bayesmm.design.censoring",
    "trunc": "bayesmm.design.truncation",
    "se": "bayesmm.design.known_sd",
    "ar": "bayesmm.design.autocorrelation",
    "cosy": "bayesmm.design.autocorrelation",
}


@pytest.fixture
def scaled():
    """The toy kind, registered for the test and forgotten after it."""
    bmm.register_term_kind(_custom_kinds.SCALED)
    yield _custom_kinds.SCALED
    bmm.unregister_term_kind("scaled")


@pytest.fixture
def rows():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(2.0, 1.5, 60), "g": rng.integers(0, 6, 60).astype(str)})
    frame["y"] = 1.0 + 0.8 * frame["x"] + rng.normal(0, 0.5, 60)
    return frame


def _piece(kind, stage):
    if stage == "design":
        return DESIGN_PIECES.get(kind.name) or kind.own_piece("design")
    for module, table in TABLES[stage]:
        piece = getattr(importlib.import_module(module), table).get(kind.name)
        if piece is not None:
            return piece
    return kind.own_piece(stage)


@pytest.mark.parametrize("name", sorted(TERM_KINDS))
def test_every_kind_has_a_piece_in_each_stage_it_declares(name):
    kind = TERM_KINDS[name]
    missing = [stage for stage in kind.stages if _piece(kind, stage) is None]
    assert missing == []
    if name in DESIGN_PIECES:
        importlib.import_module(DESIGN_PIECES[name])


def test_every_stage_table_names_only_kinds_that_declare_it():
    for stage, tables in TABLES.items():
        for module, table in tables:
            for name in getattr(importlib.import_module(module), table):
                assert stage in TERM_KINDS[name].stages, (stage, name)
    assert set(TABLES) | {"design"} == set(STAGES)


def test_the_toy_kind_and_its_pieces(scaled):
    assert _piece(scaled, "scaling") is _custom_kinds.scaled_prior
    assert _piece(scaled, "display") is _custom_kinds.describe
    assert _piece(scaled, "graph") is None  # a plain slope in the graph
    assert registered_kinds() == {"scaled": scaled}


def test_a_kind_is_read_from_the_formula_text_with_its_options(scaled, rows):
    model = bmm.Model("y ~ scaled(x, s=2) + (1|g)", rows)
    term = next(t for t in model.design.common_terms if t.name == "scaled(x)")
    assert (term.kind, dict(term.options)) == ("scaled", {"s": 2.0})
    assert model.design.formula == "y ~ scaled(x, s=2) + (1|g)"  # as written
    np.testing.assert_array_equal(model.design.common[:, term.start], rows["x"])
    default = bmm.Model("y ~ scaled(x)", rows)
    assert dict(default.design.common_terms[1].options) == {"s": 1.0}


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("y ~ scaled(x, t=2)", r"has the option t=, which scaled\(\) does not take.*\['s'\]"),
        ("y ~ scaled(x, s='a')", r"s= must be a number; got 'a'"),
        ("y ~ scaled(x, g, s=2)", r"takes one column expression.*got 2 expressions"),
        ("y ~ scaled(x, s=1) + scaled(x, s=2)", r"writes scaled\(x\) twice with different"),
        ("y ~ scaled(x, s=2", r"unmatched '\('"),
    ],
)
def test_a_kind_written_wrong_is_refused_with_what_was_expected(scaled, rows, formula, match):
    with pytest.raises(bmm.FormulaError, match=match):
        bmm.Model(formula, rows)


def test_registering_a_kind_is_checked():
    with pytest.raises(bmm.FormulaError, match="built-in kind of term"):
        bmm.register_term_kind(bmm.TermKind("s"))
    with pytest.raises(bmm.FormulaError, match="stages must include 'design'"):
        bmm.TermKind("scaled2", stages=("scaling", "plotting"))
    with pytest.raises(bmm.FormulaError, match="must be a Python identifier"):
        bmm.TermKind("not a name")


def test_its_prior_shows_in_print_and_is_replaced_by_priors(scaled, rows):
    model = bmm.Model("y ~ scaled(x, s=2) + (1|g)", rows)
    assert model.priors["scaled(x)"] == bmm.Prior("Normal", mu=0.0, sigma=2.0)
    text = str(model)
    assert "scaled(x): a slope with the prior Normal(0, s=2)" in text
    assert "scaled(x) ~ Normal(mu: 0.0, sigma: 2.0)" in text
    given = bmm.Prior("Normal", mu=1.0, sigma=0.5)
    assert (
        bmm.Model("y ~ scaled(x, s=2)", rows, priors={"scaled(x)": given}).priors["scaled(x)"]
        == given
    )


def test_the_graph_gives_the_slope_its_kinds_prior(scaled, rows):
    """The log density of the slope's variable is Normal(0, s)'s, value and gradient."""
    import pytensor

    model = bmm.Model("y ~ scaled(x, s=2)", rows).backend.model
    value = model.rvs_to_values[model["scaled(x)"]]
    term = model.logp(vars=[model["scaled(x)"]])
    logp = pytensor.function([value], [term, pytensor.grad(term, value)])
    for at in (-3.0, 0.0, 1.7):
        density, gradient = logp(np.array(at))
        assert density == pytest.approx(scipy.stats.norm(0, 2).logpdf(at), rel=1e-12)
        assert gradient == pytest.approx(-at / 4, rel=1e-12)


def test_fit_predict_save_load_and_serve(scaled, rows, stub_sampler, tmp_path):
    model = bmm.Model("y ~ scaled(x, s=2) + (1|g)", rows)
    idata = model.fit(draws=20, chains=2, random_seed=1)
    post = idata.posterior
    assert "scaled(x)" in post
    new = rows.head(5)
    mu = model.fitted(idata).draws(new).T  # (rows, draws), chains stacked
    levels = list(post["1|g"].coords["g__factor_dim"].to_numpy())
    by_row = [levels.index(g) for g in new["g"]]
    expected = (
        post["Intercept"].stack(s=("chain", "draw")).to_numpy()[None, :]
        + np.outer(new["x"], post["scaled(x)"].stack(s=("chain", "draw")).to_numpy())
        + post["1|g"].stack(s=("chain", "draw")).to_numpy()[by_row]
    )
    np.testing.assert_allclose(mu, expected, rtol=1e-10)

    path = tmp_path / "scaled.nc"
    model.save(path, idata)
    bmm.unregister_term_kind("scaled")  # the file registers it again, when trusted
    with pytest.raises(bmm.ModelFileError, match=r"was not loaded.*_custom_kinds:SCALED"):
        bmm.load(path)
    assert "scaled" not in TERM_KINDS
    loaded = bmm.load(path, allow_modules=["_custom_kinds"])
    assert TERM_KINDS["scaled"] is _custom_kinds.SCALED
    assert dict(loaded.design.common_terms[1].options) == {"s": 2.0}
    np.testing.assert_allclose(loaded.draws(new), mu.T, rtol=1e-10)

    from bayesmm.serve import create_app

    client = TestClient(create_app(loaded))
    schema = client.get("/openapi.json").json()
    assert "x" in str(schema["components"]["schemas"])
    body = {"rows": [{"x": 1.0, "g": "1"}], "stat": "mean"}
    answer = client.post("/v1/predict/point", json=body)
    assert answer.status_code == 200, answer.text
    expected = loaded.point(pd.DataFrame(body["rows"]), stat="mean")["mean"].tolist()
    assert [r["value"] for r in answer.json()["results"]] == expected


def test_a_kind_without_a_path_cannot_be_saved(rows, stub_sampler, tmp_path):
    bmm.register_term_kind(bmm.TermKind("anon", options={"s": 1.0}))
    try:
        model = bmm.Model("y ~ anon(x)", rows)
        idata = model.fit(draws=5, chains=1)
        with pytest.raises(bmm.FormulaError, match=r"'anon' has no path.*path='module:NAME'"):
            model.save(tmp_path / "anon.nc", idata)
    finally:
        bmm.unregister_term_kind("anon")
