"""Default priors scaled from the data: rstanarm-style rules (``automatic_priors="default"``)
and the partial-correlation scale of maximum-likelihood GLMs (``automatic_priors="mle"``).

>>> import bayesmm as bmm
>>> from bayesmm.scaling import default_priors
>>> model = bmm.Model("Reaction ~ Days + (1 | Subject)", bmm.load_data("sleepstudy"))
>>> default_priors(model.design, model.family, model.link)["Days"]
Normal(mu: 0.0, sigma: 48.8915)
"""

from __future__ import annotations

from .default import DEFAULT_SCALE, default_priors, eta_location, eta_scale
from .mle import AUTOMATIC_PRIORS, NAMED_SCALES, is_scale, mle_priors, resolve_scale
from .user import GivenPriors, resolve_priors

__all__ = [
    "DEFAULT_SCALE",
    "default_priors",
    "eta_scale",
    "eta_location",
    "AUTOMATIC_PRIORS",
    "NAMED_SCALES",
    "mle_priors",
    "resolve_scale",
    "is_scale",
    "resolve_priors",
    "GivenPriors",
]
