"""Property-based fuzzing of the served OpenAPI schema with schemathesis.

One check is left out: ``positive_data_acceptance`` (every schema-valid request gets a 2xx).
A schema-valid row may name a group level the model has never seen, and with the policy
``sample_new_groups=false`` that is a 422 by design; the schema cannot know the fitted
levels of a grouping factor, because new levels are valid under the other policies.

Every operation of three served models (the shipped gaussian demo, a bernoulli model with
a categorical predictor, ``tests/data/bacteria_bernoulli.nc``, and a cumulative model, whose
results are keyed by category) gets generated requests, valid and invalid. No response may be a server error, and each must match the documented schema and
status codes.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

import bayesmm as bmm
from bayesmm.serve import create_app
from bayesmm.serve.demo import DEMO_FILE

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
BERNOULLI = Path(__file__).parent / "data" / "bacteria_bernoulli.nc"

gaussian = schemathesis.openapi.from_asgi("/openapi.json", create_app(DEMO_FILE, max_batch=20))
bernoulli = schemathesis.openapi.from_asgi("/openapi.json", create_app(BERNOULLI, max_batch=20))


@gaussian.parametrize()
@FUZZ
def test_gaussian_demo_has_no_server_errors_and_keeps_its_schema(case):
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500


@bernoulli.parametrize()
@FUZZ
def test_bernoulli_model_has_no_server_errors_and_keeps_its_schema(case):
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500


def _cumulative_app():
    """A cumulative model of ratings (a family of categories), fitted with prior draws in
    place of NUTS (as the ``stub_sampler`` fixture does) and served from its file."""
    import tempfile

    from conftest import prior_draws_everywhere

    with prior_draws_everywhere():
        wine = bmm.load_data("wine")
        model = bmm.Model("rating ~ temp + contact + (1|judge)", wine, family="cumulative")
        idata = model.fit(draws=20, chains=2, random_seed=3)
        with tempfile.TemporaryDirectory() as folder:
            return create_app(model.save(Path(folder) / "m.nc", idata), max_batch=20)


# schemathesis.pytest.from_fixture does not work with this pytest, so the app is built when
# the module is collected, as the two above are.
cumulative = schemathesis.openapi.from_asgi("/openapi.json", _cumulative_app())


@cumulative.parametrize()
@FUZZ
def test_cumulative_model_has_no_server_errors_and_keeps_its_schema(case):
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500
