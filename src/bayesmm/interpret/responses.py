"""One response of a multivariate model, as the ``FittedModel`` the functions of
:mod:`bayesmm.interpret` work on.

A multivariate fit (:class:`~bayesmm.predict.multiresponse.MvFittedModel`) reads each
response's posterior under univariate names (``y1_x`` as ``x``); a ``FittedModel`` of those
parts predicts that response as a univariate model would, so ``predictions``,
``comparisons``, ``slopes`` and the plots need nothing of their own for several responses.
They see the response's marginal predictive distribution: its draws with
``kind="response"`` are not joint with the other responses' (``MvFittedModel.draws`` are).
"""

from __future__ import annotations

from typing import Any

from .._errors import DataError
from ..fitted import FittedModel
from ..predict.multiresponse import MvFittedModel

__all__ = ["holds_posterior", "one_response"]


def holds_posterior(model: Any) -> bool:
    """Whether ``model`` is a fitted model (one response or several), which holds its
    posterior and takes no ``idata``."""
    return isinstance(model, FittedModel | MvFittedModel)


def one_response(fitted: FittedModel | MvFittedModel, response: Any = None) -> FittedModel:
    """The ``FittedModel`` of ``response``: ``fitted`` itself for a model of one response,
    whose ``response=`` may name it; for a multivariate model, the response's parts read
    under univariate names (its stacked draws shared, not computed again).

    Raises
    ------
    DataError
        For a multivariate model without ``response=``, or a name that is not one of its
        responses (naming them); for a model of one response, another name than its own.
    """
    if isinstance(fitted, FittedModel):
        own = fitted.design.response.name
        if response is not None and response != own:
            raise DataError(
                f"response names {response!r}, but this model has the one response {own!r}: "
                "leave response=None (it is for models of several responses)."
            )
        return fitted
    parts = fitted.response_parts(response)
    return FittedModel(
        parts.design,
        parts.family,
        parts.link,
        {"posterior": parts.posterior},
        fixed=parts.fixed,
        normal_groups=parts.normal_groups,
        sample_new_groups=getattr(fitted, "sample_new_groups", False),
        stacked=fitted.posterior_draws(response),
    )
