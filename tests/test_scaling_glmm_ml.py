"""The test-only ML fitter must itself reproduce published glmer estimates."""

import numpy as np
import pandas as pd

from _glmm_ml import fit_random_intercept_glmm

# lme4 (Bates et al. 2015): glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
# family = binomial, data = cbpp): fixed effects and the herd standard deviation.
GLMER_CBPP = np.array([-1.3983, -0.9919, -1.1282, -1.5797])
GLMER_CBPP_SD = 0.642


def test_ml_fitter_reproduces_glmer_on_cbpp(cbpp):
    X = pd.get_dummies(cbpp["period"], drop_first=True).to_numpy(float)
    X = np.column_stack([np.ones(len(cbpp)), X])
    beta, sd = fit_random_intercept_glmm(
        "binomial",
        cbpp["incidence"].to_numpy(float),
        X,
        cbpp["herd"].cat.codes.to_numpy(),
        trials=cbpp["size"].to_numpy(float),
    )
    # glmer's default Laplace approximation differs from quadrature in the third decimal.
    np.testing.assert_allclose(beta, GLMER_CBPP, atol=0.01)
    assert abs(sd - GLMER_CBPP_SD) < 0.02
