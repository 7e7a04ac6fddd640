"""The HTTP service: endpoints equal the in-process summaries, bad input gets precise 422s.

The models are fitted with prior draws in place of NUTS (``stub_sampler``): what is under
test is that the service gives the numbers the library gives, for any posterior.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import bayesmm as bmm
from bayesmm.serve import create_app
from bayesmm.serve.demo import DEMO_FILE

MODELS = {
    "gaussian": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian"),
    "bernoulli": ("bacteria", "y['y'] ~ trt + week + (1|ID)", "bernoulli"),
}
ROWS = {
    "gaussian": [
        {"Days": 3, "Subject": "308"},
        {"Days": 7.5, "Subject": 372},
        {"Days": 1, "Subject": "new"},
    ],
    "bernoulli": [
        {"trt": "drug", "week": 2, "ID": "X01"},
        {"trt": "placebo", "week": 11, "ID": "new"},
    ],
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Both models, fitted with prior draws, saved, and served from their files."""
    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        out = {}
        for name, (dataset, formula, family) in MODELS.items():
            model = bmm.Model(formula, bmm.load_data(dataset), family=family)
            idata = model.fit(draws=100, chains=2, random_seed=3)
            path = model.save(tmp_path_factory.mktemp(name) / "m.nc", idata)
            fitted = bmm.load(path)
            out[name] = (fitted, TestClient(create_app(path)))
        return out


def _frame(rows):
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", list(MODELS))
def test_point_equals_the_in_process_summary(served, name):
    fitted, client = served[name]
    rows = ROWS[name]
    for stat in ("mean", "median"):
        for kind in ("response_params", "response"):
            body = {
                "rows": rows,
                "stat": stat,
                "kind": kind,
                "sample_new_groups": "gaussian",
                "random_seed": 7,
            }
            got = client.post("/v1/predict/point", json=body)
            assert got.status_code == 200, got.text
            expected = fitted.point(
                _frame(rows), stat=stat, kind=kind, sample_new_groups="gaussian", random_seed=7
            )
            assert [r["value"] for r in got.json()["results"]] == expected[stat].tolist()
            assert got.json()["n_draws"] == 200


@pytest.mark.parametrize("name", list(MODELS))
def test_interval_equals_the_in_process_summary(served, name):
    fitted, client = served[name]
    rows = ROWS[name]
    for method in ("hdi", "eti"):
        body = {
            "rows": rows,
            "prob": 0.8,
            "method": method,
            "sample_new_groups": True,
            "random_seed": 1,
        }
        got = client.post("/v1/predict/interval", json=body).json()
        expected = fitted.interval(
            _frame(rows), prob=0.8, method=method, sample_new_groups=True, random_seed=1
        )
        assert [r["lower"] for r in got["results"]] == expected["lower"].tolist()
        assert [r["upper"] for r in got["results"]] == expected["upper"].tolist()
    # The default is a 94% HDI of new observations.
    default = client.post("/v1/predict/interval", json={"rows": rows[:1], "random_seed": 2}).json()
    expected = fitted.interval(_frame(rows[:1]), prob=0.94, random_seed=2)
    assert (default["prob"], default["method"], default["kind"]) == (0.94, "hdi", "response")
    assert default["results"][0]["lower"] == expected["lower"].iloc[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_density_and_quantiles_equal_the_in_process_summaries(served, name):
    fitted, client = served[name]
    rows = ROWS[name]
    options = {"sample_new_groups": "old_levels", "random_seed": 4, "n_samples": 150}
    got = client.post(
        "/v1/predict/density", json={"rows": rows, "bins": 7, "kind": "response_params", **options}
    ).json()
    expected = fitted.density(_frame(rows), bins=7, kind="response_params", **options)
    for result, edges, heights in zip(
        got["results"], expected["edges"], expected["density"], strict=True
    ):
        assert result["x"] == ((edges[:-1] + edges[1:]) / 2).tolist()
        assert result["density"] == heights.tolist()
    assert got["n_draws"] == 150
    got = client.post(
        "/v1/predict/density", json={"rows": rows, "quantiles": [0.05, 0.5, 0.95], **options}
    ).json()
    expected = fitted.quantiles(_frame(rows), probs=[0.05, 0.5, 0.95], **options)
    assert [r["quantiles"] for r in got["results"]] == expected.to_numpy().tolist()
    assert got["results"][0]["probs"] == [0.05, 0.5, 0.95]


def test_the_model_endpoint_describes_inputs_levels_and_versions(served):
    _, client = served["bernoulli"]
    info = client.get("/v1/model").json()
    assert info["formula"] == "y['y'] ~ trt + week + (1|ID)"
    assert (info["family"], info["link"]) == ("bernoulli", "logit")
    inputs = {c["name"]: c for c in info["inputs"]}
    assert inputs["trt"] == {
        "name": "trt",
        "role": "predictor",
        "type": "level",
        "levels": ["placebo", "drug", "drug+"],
    }
    assert inputs["week"]["type"] == "number" and inputs["week"]["levels"] is None
    assert inputs["ID"]["role"] == "group" and len(inputs["ID"]["levels"]) == 50
    assert info["groups"] == [{"factor": "ID", "terms": ["1|ID"], "n_levels": 50}]
    assert (info["chains"], info["draws"]) == (2, 200)
    assert {"bayesmm", "pymc", "formulae", "arviz"} <= set(info["versions"])
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_openapi_examples_work_as_given(served, name):
    _, client = served[name]
    schema = client.get("/openapi.json").json()
    for path in ("/v1/predict/point", "/v1/predict/interval", "/v1/predict/density"):
        examples = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"][
            "examples"
        ]
        for example in examples.values():
            response = client.post(path, json=example["value"])
            assert response.status_code == 200, (path, response.text)


# --- families of categories ----------------------------------------------------------------------

WINE_ROWS = [
    {"temp": "warm", "contact": "yes", "judge": "1"},
    {"temp": "cold", "contact": "no", "judge": "new"},
]
WINE_OPTIONS = {"sample_new_groups": "gaussian", "random_seed": 5}


@pytest.fixture(scope="module")
def served_cumulative(tmp_path_factory):
    """A cumulative model of ratings 1-5, fitted with prior draws, saved, served from its file."""
    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        wine = bmm.load_data("wine")
        model = bmm.Model("rating ~ temp + contact + (1|judge)", wine, family="cumulative")
        idata = model.fit(draws=50, chains=2, random_seed=3)
        path = model.save(tmp_path_factory.mktemp("cumulative") / "m.nc", idata)
        return bmm.load(path), TestClient(create_app(path))


def _by_category(table, name):
    """A per-category summary frame as one {label: value} dict per row."""
    levels = [column[len(name) + 1 : -1] for column in table.columns if column.startswith(name)]
    return [{level: row[f"{name}[{level}]"] for level in levels} for _, row in table.iterrows()]


def test_point_gives_each_category_of_a_cumulative_model(served_cumulative):
    fitted, client = served_cumulative
    labels = ["1", "2", "3", "4", "5"]
    for kind, stat in [
        ("response_params", "mean"),
        ("response_params", "median"),
        ("response", "mean"),
    ]:
        body = {"rows": WINE_ROWS, "kind": kind, "stat": stat, **WINE_OPTIONS}
        got = client.post("/v1/predict/point", json=body)
        assert got.status_code == 200, got.text
        expected = fitted.point(_frame(WINE_ROWS), stat=stat, kind=kind, **WINE_OPTIONS)
        results = [r["categories"] for r in got.json()["results"]]
        assert results == _by_category(expected, stat)
        assert all(list(r) == labels for r in results)
        assert got.json()["n_draws"] == 100
    # The predictive draws give each category's share of the draws, which sum to one: not a
    # mean of category codes.
    shares = client.post(
        "/v1/predict/point", json={"rows": WINE_ROWS, "kind": "response", **WINE_OPTIONS}
    ).json()["results"]
    assert [sum(r["categories"].values()) for r in shares] == pytest.approx([1.0, 1.0])
    assert all(
        v * 100 == pytest.approx(round(v * 100)) for r in shares for v in r["categories"].values()
    )


def test_point_median_of_predicted_categories_of_a_cumulative_model_is_a_422(served_cumulative):
    _, client = served_cumulative
    body = {"rows": WINE_ROWS, "kind": "response", "stat": "median", **WINE_OPTIONS}
    detail = _detail(client.post("/v1/predict/point", json=body))
    assert detail[0]["loc"] == ["body", "stat"]
    assert detail[0]["msg"].startswith(
        "stat must be 'mean' for kind='response' with family 'cumulative'"
    )
    assert "got 'median'" in detail[0]["msg"] and "kind='response_params'" in detail[0]["msg"]


def test_interval_gives_each_category_of_a_cumulative_model(served_cumulative):
    fitted, client = served_cumulative
    for method in ("hdi", "eti"):
        body = {"rows": WINE_ROWS, "kind": "response_params", "prob": 0.8, "method": method}
        got = client.post("/v1/predict/interval", json={**body, **WINE_OPTIONS})
        assert got.status_code == 200, got.text
        expected = fitted.interval(
            _frame(WINE_ROWS), prob=0.8, method=method, kind="response_params", **WINE_OPTIONS
        )
        lower, upper = _by_category(expected, "lower"), _by_category(expected, "upper")
        for result, low, high in zip(got.json()["results"], lower, upper, strict=True):
            assert result["categories"] == {
                level: {"lower": low[level], "upper": high[level]} for level in low
            }
    # Predictive draws are categories, which have no interval.
    detail = _detail(client.post("/v1/predict/interval", json={"rows": WINE_ROWS}))
    assert detail[0]["loc"] == ["body", "kind"]
    assert detail[0]["msg"].startswith("kind='response' has no interval for family 'cumulative'")
    assert "Use kind='response_params'" in detail[0]["msg"]


@pytest.mark.parametrize(
    "extra", [{}, {"kind": "response_params"}, {"quantiles": [0.1, 0.9]}], ids=str
)
def test_density_of_a_cumulative_model_is_a_422_saying_what_works(served_cumulative, extra):
    _, client = served_cumulative
    detail = _detail(client.post("/v1/predict/density", json={"rows": WINE_ROWS, **extra}))
    assert detail[0]["loc"] == ["body"]
    message = detail[0]["msg"]
    assert "family 'cumulative' predicts a probability for each category" in message
    assert "/v1/predict/point" in message and "/v1/predict/interval" in message


def test_the_openapi_schema_of_a_cumulative_model_documents_its_categories(served_cumulative):
    _, client = served_cumulative
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    point = components["CategoryPointResult"]["properties"]["categories"]
    assert point["additionalProperties"] == {"type": "number"}
    interval = components["CategoryIntervalResult"]["properties"]["categories"]
    assert interval["additionalProperties"] == {"$ref": "#/components/schemas/IntervalResult"}
    for path in ("/v1/predict/point", "/v1/predict/interval"):
        operation = schema["paths"][path]["post"]
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        for example in examples.values():
            response = client.post(path, json=example["value"])
            assert response.status_code == 200, (path, response.text)
            assert set(response.json()["results"][0]["categories"]) == {"1", "2", "3", "4", "5"}


# --- bad input ------------------------------------------------------------------------------------


def _detail(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"]


def test_an_unknown_level_names_the_field_and_the_valid_levels(served):
    _, client = served["bernoulli"]
    detail = _detail(
        client.post(
            "/v1/predict/point", json={"rows": [{"trt": "aspirin", "week": 2, "ID": "X01"}]}
        )
    )
    assert detail[0]["loc"] == ["body", "rows", 0, "trt"]
    assert detail[0]["msg"] == "Input should be 'placebo', 'drug' or 'drug+'"


def test_unseen_groups_follow_the_policy_which_a_request_can_override(served):
    _, client = served["gaussian"]  # saved with the default policy: an error
    row = {"Days": 1, "Subject": "999"}
    detail = _detail(client.post("/v1/predict/point", json={"rows": [row]}))
    assert (
        "The grouping factor 'Subject' has level(s) ['999'] that were not seen at fit time"
        in detail[0]["msg"]
    )
    assert (
        client.post(
            "/v1/predict/point", json={"rows": [row], "sample_new_groups": "population"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "loc", "message"),
    [
        (
            {"rows": [{"Days": "soon", "Subject": "308"}]},
            ["body", "rows", 0, "Days"],
            "Input should be a valid number",
        ),
        ({"rows": [{"Days": 1}]}, ["body", "rows", 0, "Subject"], "Field required"),
        (
            {"rows": [{"Days": 1, "Subject": "308", "Age": 3}]},
            ["body", "rows", 0, "Age"],
            "Extra inputs are not permitted",
        ),
        ({"rows": []}, ["body", "rows"], "List should have at least 1 item"),
        (
            {"rows": [{"Days": 1, "Subject": "308"}], "prob": 1.5},
            ["body", "prob"],
            "Input should be less than 1",
        ),
        (
            {"rows": [{"Days": 1, "Subject": "308"}], "method": "widest"},
            ["body", "method"],
            "Input should be 'hdi' or 'eti'",
        ),
        (
            {"rows": [{"Days": 1, "Subject": "308"}], "n_samples": 201},
            ["body", "n_samples"],
            "Input should be less than or equal to 200",
        ),
        (
            {"rows": [{"Days": 1, "Subject": "308"}], "sample_new_groups": "sometimes"},
            ["body", "sample_new_groups"],
            "Input should be",
        ),
        (
            {"rows": [{"Days": 1, "Subject": "308"}], "kind": "mean"},
            ["body", "kind"],
            "Input should be 'response_params' or 'response'",
        ),
    ],
)
def test_bad_requests_get_precise_422s(served, body, loc, message):
    _, client = served["gaussian"]
    detail = _detail(client.post("/v1/predict/interval", json=body))
    # A union (sample_new_groups: a boolean or a policy name) reports each alternative.
    assert any(d["loc"][: len(loc)] == loc and d["msg"].startswith(message) for d in detail), detail


def test_non_finite_numbers_and_malformed_json_are_rejected(served):
    _, client = served["gaussian"]
    nan = b'{"rows": [{"Days": NaN, "Subject": "308"}]}'
    detail = _detail(
        client.post("/v1/predict/point", content=nan, headers={"content-type": "application/json"})
    )
    assert detail[0]["loc"] == ["body", "rows", 0, "Days"] and "finite number" in detail[0]["msg"]
    detail = _detail(
        client.post(
            "/v1/predict/point", content=b'{"rows": [', headers={"content-type": "application/json"}
        )
    )
    assert detail[0]["msg"] == "JSON decode error"
    # Inputs so extreme that the prediction overflows: a 422 naming the row, not a 500.
    detail = _detail(
        client.post(
            "/v1/predict/point",
            json={"rows": [{"Days": 1e308, "Subject": "308"}], "kind": "response"},
        )
    )
    assert detail[0]["msg"].startswith("The prediction is not a finite number for row(s) [0]")


def test_batch_and_body_size_limits(sleepstudy, stub_sampler, tmp_path):
    model = bmm.Model("Reaction ~ Days + (1|Subject)", sleepstudy)
    fitted = model.fitted(model.fit(draws=20, chains=1, random_seed=1))
    client = TestClient(create_app(fitted, max_batch=3, max_body_bytes=2000))
    rows = [{"Days": 1, "Subject": "308"}] * 4
    detail = _detail(client.post("/v1/predict/point", json={"rows": rows}))
    assert detail[0]["msg"] == "List should have at most 3 items after validation, not 4"
    big = client.post(
        "/v1/predict/point", content=b" " * 3000, headers={"content-type": "application/json"}
    )
    assert big.status_code == 413
    assert big.json() == {"detail": "The request body must be at most 2000 bytes; got 3000."}


def test_a_server_error_is_logged_with_a_request_id_and_never_leaks(served, monkeypatch, caplog):
    fitted, _ = served["gaussian"]

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(fitted, "draws", broken)
    app = create_app(fitted)
    quiet = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="bayesmm.serve"):
        response = quiet.post(
            "/v1/predict/point",
            json={"rows": ROWS["gaussian"][:1]},
            headers={"x-request-id": "abc123"},
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "request_id": "abc123"}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.headers["x-request-id"] == "abc123"
    assert "request abc123 failed" in caplog.text and "secret internal detail" in caplog.text


def test_concurrent_requests_give_the_sequential_answers(served):
    _, client = served["gaussian"]
    bodies = [
        {"rows": [{"Days": d, "Subject": "308"}], "kind": "response", "random_seed": d}
        for d in range(16)
    ]
    sequential = [client.post("/v1/predict/interval", json=b).json() for b in bodies]
    results = [None] * len(bodies)

    def call(i):
        results[i] = client.post("/v1/predict/interval", json=bodies[i]).json()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == sequential


# --- start-up and the command -----------------------------------------------------------------


def test_a_file_that_cannot_be_loaded_stops_start_up(tmp_path):
    with pytest.raises(bmm.ModelFileError, match="No model file at"):
        create_app(tmp_path / "missing.nc")
    out = subprocess.run(
        [sys.executable, "-m", "bayesmm", "serve", str(tmp_path / "missing.nc")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "bayesmm serve: cannot serve" in out.stderr and "No model file at" in out.stderr
    assert "Traceback" not in out.stderr


def test_the_command_line_help():
    out = subprocess.run(
        [sys.executable, "-m", "bayesmm", "serve", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    for option in (
        "MODEL_FILE",
        "--host",
        "--port",
        "--max-batch",
        "--max-body-bytes",
        "demo",
        "--workers",
        "--compute-processes",
        "--max-queue",
        "--graceful-seconds",
        "--trusted",
    ):
        assert option in out.stdout
    out = subprocess.run([sys.executable, "-m", "bayesmm"], capture_output=True, text=True)
    assert out.returncode == 2 and "COMMAND" in out.stderr


def test_the_demo_model_is_shipped_and_serves_without_pymc():
    code = f"""
import sys
from fastapi.testclient import TestClient
from bayesmm.serve import create_app
client = TestClient(create_app({str(DEMO_FILE)!r}))
r = client.post("/v1/predict/interval", json={{"rows": [{{"Days": 5, "Subject": "new"}}]}})
assert r.status_code == 200, r.text
print(r.json()["n_draws"], sorted(m for m in sys.modules if m.split(".")[0] in ("pymc", "pytensor")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "500 []"
    info = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import json; from bayesmm.io import read_header; print(json.dumps(read_header({str(DEMO_FILE)!r})['spec']['formula']))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert info == "Reaction ~ Days + (Days | Subject)"
