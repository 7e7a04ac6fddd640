"""Draws from the priors: ``Model.prior_predictive`` and the parameters ``plot_priors``
draws, with the errors of responses PyMC cannot draw from some priors."""

from __future__ import annotations

from collections.abc import Sequence

import arviz as az
import pymc as pm
from pymc.exceptions import TruncationError
from pymc.logprob.utils import ParameterValueError

from ..._errors import BackendError, PriorError
from ..._names import mu_name, sigma_name
from ..._validation import check_seed
from ...design import Design
from ...priors import PriorSet
from .built import BuiltModel, user_facing

__all__ = ["prior_predictive", "prior_variables"]


def prior_predictive(
    built: BuiltModel,
    *,
    draws: int,
    random_seed: int | None,
    var_names: list[str] | None = None,
) -> az.InferenceData:
    """Draws from the prior (and, without ``var_names``, the prior predictive).

    The ``prior`` group keeps the user-facing variables, as the posterior of :func:`sample`
    does. With ``var_names``, only those variables (and what they depend on) are drawn, and
    the response is not.
    """
    check_seed(random_seed)
    model = built.model
    try:
        idata = pm.sample_prior_predictive(
            draws=draws, model=model, random_seed=random_seed, var_names=var_names
        )
    except (TruncationError, ParameterValueError) as err:
        if built.response.split("(")[0] in ("trunc", "truncated"):
            raise BackendError(
                f"PyMC could not draw the truncated response {built.response!r} from the prior "
                f"({str(err).splitlines()[0]}): some prior draws of the parameters leave too "
                "little probability between the bounds. Give narrower priors; "
                "model.plot_priors() draws the parameters alone."
            ) from None
        if not isinstance(err, TruncationError):
            raise
        # The hurdle count families draw positive counts by rejection; a prior that puts the
        # mean near 0 makes positive draws too rare for it.
        raise BackendError(
            f"PyMC could not draw the response from the prior ({str(err).splitlines()[0]}). "
            "The prior puts the "
            "mean of the counts so close to 0 that positive counts are too rare to draw; give "
            "the intercept a narrower prior, or pass var_names= to draw the parameters only."
        ) from None
    idata.prior = user_facing(built, idata["prior"])
    return idata


def prior_variables(
    built: BuiltModel, design: Design, priors: PriorSet, var_names: str | Sequence[str] | None
) -> list[str]:
    """The parameters whose priors ``plot_priors`` draws: ``var_names``, checked, or the
    common terms, the group terms' population means and sds, and the auxiliary parameters
    (the group effects share their prior and would add one panel per level).

    Raises
    ------
    PriorError
        For a name the model does not have, listing those it has.
    """
    model = built.model
    available = {v.name for v in (*model.free_RVs, *model.deterministics)}
    if var_names is None:
        names = [t.name for t in design.common_terms]
        for group in design.group_terms:
            names += [mu_name(group.name), sigma_name(group.name)]
        names += [t.name for t in priors.of_kind("auxiliary")]
        return [n for n in names if n in available]
    names = [var_names] if isinstance(var_names, str) else list(var_names)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise PriorError(
            f"var_names has {unknown}, which the model does not have; its parameters "
            f"are {[n for n in built.order if n in available]}."
        )
    return names
