"""The output naming contract: the names of posterior variables and of their dimensions.

Every module that writes or reads a posterior variable's name, or a dimension's, takes it
from here, so that the fit, prediction, saved files and the server agree on one spelling:

* ``Intercept``, ``Days``: common terms, as the formula names them;
* ``1|Subject``, ``Days|Subject``: group terms; ``1|Subject_sigma`` and ``1|Subject_mu``
  their population's sd and mean;
* ``1|Subject:Days|Subject_corr``: a correlation of a block; ``Subject_corr`` keys its
  LKJ prior;
* ``sigma_x``, ``sigma_1|g``: the terms of a distributional formula, prefixed by its
  parameter;
* ``mo(x)_simplex``: the shares of the steps of a monotonic effect ``mo(x)``;
* ``ar``, ``cosy``: a residual structure's correlation parameters (``ar_partial``, the
  partial autocorrelations an ``ar(p)`` with ``p > 1`` samples); ``series_residuals``, the
  residuals a forecast starts from, over ``__series__`` and ``__lag__`` (lags 1 to p);
* ``y1_Intercept``, ``y1_1|g``, ``y1_sigma``, ``y1_sigma_x``: the terms and parameters of
  response ``y1`` of a multivariate model, prefixed by the response (as distributional
  terms are by their parameter); ``y1:y2_rescor``, the residual correlation of a pair of
  responses (prior key ``rescor``); ``y1:y2``, their joint observed variable;
* dimensions: ``__response__`` (the responses of a multivariate model), ``__obs__``
  (rows), ``__category__`` (categories), ``Subject__factor_dim``
  (a factor's levels), ``Days|Subject__expr_dim`` (a group term's columns), ``x_dim`` (a
  common term's columns).
"""

from __future__ import annotations

__all__ = [
    "OBS_DIM",
    "CATEGORY_DIM",
    "SERIES_DIM",
    "LAG_DIM",
    "SERIES_RESIDUALS",
    "SERIES_DISTANCE",
    "SDERR",
    "SERIES_LATENT",
    "SERIES_ROW_DIM",
    "DATA_PREFIX",
    "RESPONSE_DIM",
    "RESCOR_PRIOR",
    "response_name",
    "rescor_name",
    "joint_response_name",
    "sigma_name",
    "mu_name",
    "correlation_name",
    "correlation_prior_name",
    "factor_dim",
    "expr_dim",
    "common_dim",
    "monotonic_name",
    "monotonic_dim",
]

#: The dimension of per-row values (observations, and rows of predictions).
OBS_DIM = "__obs__"
#: The dimension of the category probabilities of a family of categories.
CATEGORY_DIM = "__category__"
#: The dimension of the series of an ``ar()``/``cosy()`` term, and of an ``ar(p)``'s lags.
SERIES_DIM = "__series__"
LAG_DIM = "__lag__"
#: Each series' residuals a forecast starts from, per draw: an ``ar(p)``'s last ``p``
#: (newest first, by lag), a ``cosy``'s sum.
SERIES_RESIDUALS = "series_residuals"
#: A t response's ``ar()``/``cosy()``: each series' sum of squared standardised innovations
#: over its training rows, which a forecast's scale grows with.
SERIES_DISTANCE = "series_distance"
#: A latent ``ar()`` (a family without a residual sd): its innovation sd, and the latent
#: residual of each training row, on the linear predictor's scale.
SDERR = "sderr"
SERIES_LATENT = "series_latent"
#: The dimension of ``series_latent``: the training rows by series, then time.
SERIES_ROW_DIM = "__series_row__"
#: The dimension of the responses of a multivariate model.
RESPONSE_DIM = "__response__"
#: The key of the prior of a multivariate model's residual correlations (an LKJ).
RESCOR_PRIOR = "rescor"
#: The prefix of the names of a model's data containers (never a column's name).
DATA_PREFIX = "@"


def sigma_name(term: str) -> str:
    """The sd of a group term's population: ``"1|Subject_sigma"``."""
    return f"{term}_sigma"


def mu_name(term: str) -> str:
    """The mean of a group term's population: ``"1|Subject_mu"``."""
    return f"{term}_mu"


def correlation_name(first: str, second: str) -> str:
    """The correlation of two columns of a block: ``"1|Subject:Days|Subject_corr"``."""
    return f"{first}:{second}_corr"


def correlation_prior_name(prefix: str, factor: str) -> str:
    """The key of a block's correlation prior: ``"Subject_corr"`` (``"sigma_Subject_corr"``)."""
    return f"{prefix}{factor}_corr"


def factor_dim(factor: str) -> str:
    """The dimension of a grouping factor's levels: ``"Subject__factor_dim"``."""
    return f"{factor}__factor_dim"


def expr_dim(expr: str) -> str:
    """The dimension of the columns of a group term's expression."""
    return f"{expr}__expr_dim"


def common_dim(term: str) -> str:
    """The dimension of the columns of a common term with several (a factor's levels)."""
    return f"{term}_dim"


def monotonic_name(term: str) -> str:
    """The simplex of a monotonic effect's steps: ``"mo(x)_simplex"``."""
    return f"{term}_simplex"


def monotonic_dim(term: str) -> str:
    """The dimension of a monotonic effect's steps: ``"mo(x)_simplex_dim"``."""
    return f"{monotonic_name(term)}_dim"


def response_name(response: str, name: str) -> str:
    """A term or parameter of one response of a multivariate model: ``"y1_Intercept"``,
    ``"y1_sigma"``, ``"y1_1|g_sigma"``."""
    return f"{response}_{name}"


def rescor_name(first: str, second: str) -> str:
    """The residual correlation of two responses: ``"y1:y2_rescor"``."""
    return f"{first}:{second}_rescor"


def joint_response_name(responses: tuple[str, ...] | list[str]) -> str:
    """The observed variable of responses modelled jointly (with residual correlations):
    ``"y1:y2"``."""
    return ":".join(responses)
