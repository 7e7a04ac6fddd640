"""The link functions: one table, usable with numpy and with pytensor.

Each inverse link is written against a small namespace of array operations (``ops``), so the
same definition serves the PyMC backend (pytensor ops) and prediction (numpy ops) without
this module importing either backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import special

from ._errors import FamilyError
from ._validation import choice_message

__all__ = ["Link", "LINKS", "get_link", "NUMPY_OPS"]

#: numpy versions of the operations that inverse links use.
NUMPY_OPS = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    sqrt=np.sqrt,
    expit=special.expit,
    normal_cdf=special.ndtr,
    arctan=np.arctan,
)


@dataclass(frozen=True)
class Link:
    """A link function ``eta = g(mu)`` and its inverse.

    Parameters
    ----------
    name : str
        The link's name, e.g. ``"logit"``.
    link : callable
        ``g(mu)`` on numpy arrays; used to centre default priors.
    inverse : callable
        ``g^-1(eta, ops)``, written with the operations in ``ops`` so it works with numpy and
        pytensor alike.
    derivative : callable
        ``g'(mu)`` on numpy arrays; used to scale default priors by the delta method.
    """

    name: str
    link: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[Any, Any], Any]
    derivative: Callable[[np.ndarray], np.ndarray]

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """The inverse link on numpy arrays."""
        return self.inverse(eta, NUMPY_OPS)

    def __reduce__(self) -> Any:
        # A registered link pickles as its name (its functions are lambdas); another link
        # pickles as its fields, which must then be picklable themselves.
        if LINKS.get(self.name) is self:
            return (get_link, (self.name,))
        return (Link, (self.name, self.link, self.inverse, self.derivative))


def _cloglog_inverse(eta: Any, ops: Any) -> Any:
    return 1 - ops.exp(-ops.exp(eta))


LINKS: dict[str, Link] = {
    link.name: link
    for link in [
        Link("identity", lambda mu: mu, lambda eta, ops: eta, lambda mu: np.ones_like(mu)),
        Link("log", np.log, lambda eta, ops: ops.exp(eta), lambda mu: 1 / mu),
        Link(
            "logit", special.logit, lambda eta, ops: ops.expit(eta), lambda mu: 1 / (mu * (1 - mu))
        ),
        Link(
            "probit",
            special.ndtri,
            lambda eta, ops: ops.normal_cdf(eta),
            lambda mu: 1 / np.exp(-0.5 * special.ndtri(mu) ** 2) * np.sqrt(2 * np.pi),
        ),
        Link(
            "cloglog",
            lambda mu: np.log(-np.log1p(-mu)),
            _cloglog_inverse,
            lambda mu: -1 / ((1 - mu) * np.log1p(-mu)),
        ),
        Link("inverse", lambda mu: 1 / mu, lambda eta, ops: 1 / eta, lambda mu: -1 / mu**2),
        Link(
            "inverse_squared",
            lambda mu: 1 / mu**2,
            lambda eta, ops: 1 / ops.sqrt(eta),
            lambda mu: -2 / mu**3,
        ),
        # For angles (the von Mises family): maps the real line onto (-pi, pi), as brms does.
        Link(
            "tan_half",
            lambda mu: np.tan(mu / 2),
            lambda eta, ops: 2 * ops.arctan(eta),
            lambda mu: 0.5 / np.cos(mu / 2) ** 2,
        ),
    ]
}


def get_link(name: str | Link) -> Link:
    """Look up a link by name.

    Raises
    ------
    FamilyError
        If ``name`` is not a known link; the message lists the valid ones.
    """
    if isinstance(name, Link):
        return name
    if name not in LINKS:
        raise FamilyError(choice_message("link", name, LINKS))
    return LINKS[name]
