"""PSIS-LOO a chunk of rows at a time (``FittedModel.loo``) is ArviZ's ``az.loo`` of the
stored pointwise log-likelihood: the same numbers, for any chunk size."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

import bayesmm as bmm


@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto")
@pytest.mark.parametrize(
    ("dataset", "formula", "family"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian"),
        ("cbpp", "p(incidence, size) ~ period + (1 | herd)", "binomial"),
        ("bacteria", "y['y'] ~ trt + week + (1 | ID)", "bernoulli"),
    ],
)
def test_chunked_loo_is_az_loo_of_the_stored_log_likelihood(dataset, formula, family, stub_sampler):
    model = bmm.Model(formula, bmm.load_data(dataset), family=family)
    idata = model.fit(draws=100, chains=2, random_seed=1, log_likelihood=True)
    expected = az.loo(idata, pointwise=True)
    # The stored log-likelihood comes from PyTensor and this one from numpy: they agree to
    # about 1e-9 relative, which the smoothing can carry a little further.
    for chunk_rows in (7, 10_000):
        got = model.fitted(idata).loo(chunk_rows=chunk_rows)
        for key in ("elpd_loo", "se", "p_loo", "good_k"):
            assert got[key] == pytest.approx(expected[key], rel=1e-6), key
        assert (got["n_samples"], got["n_data_points"]) == (200, expected["n_data_points"])
        np.testing.assert_allclose(got["loo_i"], expected["loo_i"], rtol=1e-6)
        np.testing.assert_allclose(got["pareto_k"], expected["pareto_k"], rtol=1e-6)


def test_chunk_rows_must_be_a_positive_integer(sleepstudy, stub_sampler):
    model = bmm.Model("Reaction ~ Days", sleepstudy)
    fitted = model.fitted(model.fit(draws=10, chains=1))
    with pytest.raises(bmm.DataError, match=r"chunk_rows must be an integer >= 1; got 0"):
        fitted.loo(chunk_rows=0)
