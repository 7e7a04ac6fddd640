"""Serving a multivariate model: each result holds one object per response, with the numbers
``MvFittedModel`` gives; rows hold the predictors only; bad input gets 422s naming the column.

The model is fitted with prior draws in place of NUTS: what is under test is that the
service gives the numbers the library gives, for any posterior.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import bayesmm as bmm
from _multivariate import frame
from bayesmm.serve import create_app
from bayesmm.serve.compute import INLINE_ROWS

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

ROWS = [
    {"x": 0.3, "w": 1.0, "g": "a"},
    {"x": -1.2, "w": 0.0, "g": "d"},
    {"x": 2, "w": -0.5, "g": "new"},
]
RESPONSES = ("y1", "y2")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Correlated gaussian responses with group terms and a distributional formula, fitted
    with prior draws, saved; the fitted model, the loaded one, and a client of the file's app."""
    from conftest import prior_draws_everywhere

    model = bmm.Model(
        bmm.Formula("y1 ~ x + (1|g)") + bmm.Formula("y2 ~ w + (1|g)", "sigma ~ x"), frame()
    )
    with prior_draws_everywhere():
        idata = model.fit(
            draws=200, chains=2, inference_method="pymc", random_seed=3, progressbar=False
        )
    path = model.save(tmp_path_factory.mktemp("served") / "mv.nc", idata)
    return model.fitted(idata), bmm.load(path), TestClient(create_app(path)), path


def _by_response(table, column):
    """A stacked per-response table's ``column``, as one list per response."""
    return {r: table.loc[table["__response__"] == r, column].tolist() for r in RESPONSES}


def _answers(results, field):
    """An answer's ``field`` of each row, as one list per response."""
    return {r: [row["responses"][r][field] for row in results] for r in RESPONSES}


def test_point_gives_one_object_per_response_equal_to_the_fitted_models(served):
    fitted, loaded, client, _ = served
    new = pd.DataFrame(ROWS)
    for stat in ("mean", "median"):
        for kind in ("response_params", "response"):
            options = {"sample_new_groups": "gaussian", "random_seed": 7}
            got = client.post(
                "/v1/predict/point", json={"rows": ROWS, "stat": stat, "kind": kind, **options}
            )
            assert got.status_code == 200, got.text
            answer = got.json()
            assert (answer["kind"], answer["stat"], answer["n_draws"]) == (kind, stat, 400)
            assert [list(row["responses"]) for row in answer["results"]] == [["y1", "y2"]] * 3
            expected = fitted.point(new, stat=stat, kind=kind, **options)
            assert _answers(answer["results"], "value") == _by_response(expected, stat)
            again = loaded.point(new, stat=stat, kind=kind, **options)
            assert _by_response(again, stat) == _by_response(expected, stat)


def test_interval_equals_the_fitted_models(served):
    fitted, _, client, _ = served
    for method in ("hdi", "eti"):
        options = {"sample_new_groups": True, "random_seed": 1, "n_samples": 150}
        body = {"rows": ROWS, "prob": 0.8, "method": method, **options}
        got = client.post("/v1/predict/interval", json=body).json()
        expected = fitted.interval(pd.DataFrame(ROWS), prob=0.8, method=method, **options)
        assert _answers(got["results"], "lower") == _by_response(expected, "lower")
        assert _answers(got["results"], "upper") == _by_response(expected, "upper")
        assert got["n_draws"] == 150


def test_density_and_quantiles_equal_the_fitted_models(served):
    fitted, _, client, _ = served
    new = pd.DataFrame(ROWS)
    options = {"sample_new_groups": "old_levels", "random_seed": 4}
    got = client.post("/v1/predict/density", json={"rows": ROWS, "bins": 7, **options}).json()
    expected = fitted.density(new, bins=7, **options)
    for r in RESPONSES:
        mine = expected[expected["__response__"] == r]
        for row, edges, heights in zip(got["results"], mine["edges"], mine["density"], strict=True):
            assert row["responses"][r]["x"] == ((edges[:-1] + edges[1:]) / 2).tolist()
            assert row["responses"][r]["density"] == heights.tolist()
    probs = [0.1, 0.5, 0.9]
    got = client.post("/v1/predict/density", json={"rows": ROWS, "quantiles": probs, **options})
    expected = fitted.quantiles(new, probs=probs, **options)
    for r in RESPONSES:
        mine = expected[expected["__response__"] == r].drop(columns="__response__")
        found = [row["responses"][r]["quantiles"] for row in got.json()["results"]]
        np.testing.assert_array_equal(found, mine.to_numpy())


def test_the_model_endpoint_describes_each_response_and_the_inputs(served):
    _, _, client, _ = served
    info = client.get("/v1/model").json()
    assert info["formula"] == "(y1 ~ x + (1|g)) + (y2 ~ w + (1|g), sigma ~ x)"
    assert info["responses"] == [
        {"name": "y1", "formula": "y1 ~ x + (1|g)", "family": "gaussian", "link": "identity"},
        {"name": "y2", "formula": "y2 ~ w + (1|g)", "family": "gaussian", "link": "identity"},
    ]
    assert info["rescor"] is True
    # The predictors of every response's formulas, each once, and never a response.
    assert [(c["name"], c["role"]) for c in info["inputs"]] == [
        ("x", "predictor"),
        ("g", "group"),
        ("w", "predictor"),
    ]
    assert info["groups"] == [{"factor": "g", "terms": ["y1_1|g", "y2_1|g"], "n_levels": 4}]
    assert (info["chains"], info["draws"], info["sample_new_groups"]) == (2, 400, False)


def test_the_openapi_examples_work_as_given(served):
    _, _, client, _ = served
    schema = client.get("/openapi.json").json()
    for path in ("/v1/predict/point", "/v1/predict/interval", "/v1/predict/density"):
        content = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for example in content["examples"].values():
            response = client.post(path, json=example["value"])
            assert response.status_code == 200, (path, response.text)
            assert set(response.json()["results"][0]["responses"]) == set(RESPONSES)


@pytest.mark.parametrize(
    "row, loc, message",
    [
        ({"x": 0.3, "g": "a"}, ["body", "rows", 0, "w"], "Field required"),
        (
            {"x": 0.3, "w": 1.0, "g": "a", "y1": 2.0},
            ["body", "rows", 0, "y1"],
            "Extra inputs are not permitted",
        ),
        ({"x": "0.3", "w": 1.0, "g": "a"}, ["body", "rows", 0, "x"], "Input should be a valid"),
    ],
)
def test_bad_rows_get_a_422_naming_the_column(served, row, loc, message):
    _, _, client, _ = served
    got = client.post("/v1/predict/point", json={"rows": [row]})
    assert got.status_code == 422
    detail = got.json()["detail"][0]
    assert detail["loc"] == loc and detail["msg"].startswith(message)


def test_an_unseen_group_follows_the_policy_and_is_named_without_one(served):
    _, _, client, _ = served
    got = client.post("/v1/predict/point", json={"rows": ROWS})  # the file's policy: none
    assert got.status_code == 422
    assert "'new'" in got.json()["detail"][0]["msg"] and "g" in got.json()["detail"][0]["msg"]
    allowed = client.post("/v1/predict/point", json={"rows": ROWS, "sample_new_groups": True})
    assert allowed.status_code == 200


def test_a_response_of_categories_is_refused_before_it_could_be_served():
    data = frame().assign(o=np.tile([1, 2, 3, 2], 10))
    with pytest.raises(bmm.FamilyError, match=r"response 'o' has family 'cumulative'"):
        bmm.Model("mvbind(y1, o) ~ x", data, family={"y1": "gaussian", "o": "cumulative"})


def test_large_requests_in_a_compute_process_equal_the_in_process_answers(served):
    fitted, _, _, path = served
    large = [ROWS[i % 3] for i in range(INLINE_ROWS + 4)]
    body = {"rows": large, "random_seed": 2, "sample_new_groups": "population", "prob": 0.5}
    with TestClient(create_app(path)) as client:
        assert client.app.state.pool.executor is not None  # the lifespan started it
        got = client.post("/v1/predict/interval", json=body)
    assert got.status_code == 200, got.text
    expected = fitted.interval(
        pd.DataFrame(large), prob=0.5, random_seed=2, sample_new_groups="population"
    )
    assert _answers(got.json()["results"], "lower") == _by_response(expected, "lower")


def test_a_multivariate_file_is_served_without_pymc(served):
    _, _, _, path = served
    code = f"""
import sys
from fastapi.testclient import TestClient
from bayesmm.serve import create_app
client = TestClient(create_app({str(path)!r}))
rows = [{{"x": 0.5, "w": 1.0, "g": "new"}}]
got = client.post("/v1/predict/interval", json={{"rows": rows, "sample_new_groups": True}})
assert got.status_code == 200, got.text
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]"
