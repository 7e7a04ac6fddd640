"""The ``Prior`` record: a PyMC distribution's name and parameters, checked when made.

The table of PyMC's scalar distributions (:data:`DISTRIBUTIONS`) is written out here, so that
a prior is checked without importing PyMC; ``tests/test_priors_records.py`` checks the table against
the installed PyMC. A prior writes itself to JSON-ready values (:meth:`Prior.to_dict`) for
saved files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import PriorError
from .._validation import did_you_mean
from ..persist.values import decode_value, encode_value

__all__ = [
    "DISTRIBUTIONS",
    "SHRINKAGE",
    "Prior",
    "DEFAULT_CORRELATION_PRIOR",
    "format_value",
    "prior_to_dict",
    "prior_from_dict",
]

_REAL, _POS, _NONNEG, _UNIT, _COUNT, _INT = (
    "real",
    "positive",
    "non-negative",
    "unit",
    "count",
    "integer",
)

#: PyMC's scalar distributions, each parameter with its constraint. Kept here so that a Prior
#: is checked when it is made, without importing PyMC; ``tests/test_priors_records.py`` checks the
#: table against the installed PyMC.
DISTRIBUTIONS: dict[str, dict[str, str]] = {
    "AsymmetricLaplace": {"kappa": _POS, "mu": _REAL, "b": _POS, "q": _UNIT},
    "Bernoulli": {"p": _UNIT, "logit_p": _REAL},
    "Beta": {"alpha": _POS, "beta": _POS, "mu": _UNIT, "sigma": _POS, "nu": _POS},
    "BetaBinomial": {"alpha": _POS, "beta": _POS, "n": _COUNT},
    "Binomial": {"n": _COUNT, "p": _UNIT, "logit_p": _REAL},
    "Cauchy": {"alpha": _REAL, "beta": _POS},
    "DiracDelta": {"c": _REAL},
    "DiscreteUniform": {"lower": _INT, "upper": _INT},
    "DiscreteWeibull": {"q": _UNIT, "beta": _POS},
    "ExGaussian": {"mu": _REAL, "sigma": _POS, "nu": _POS},
    "Exponential": {"lam": _POS, "scale": _POS},
    "Flat": {},
    "Gamma": {"alpha": _POS, "beta": _POS, "mu": _POS, "sigma": _POS},
    "Geometric": {"p": _UNIT},
    "Gumbel": {"mu": _REAL, "beta": _POS},
    "HalfCauchy": {"beta": _POS},
    "HalfFlat": {},
    "HalfNormal": {"sigma": _POS, "tau": _POS},
    "HalfStudentT": {"nu": _POS, "sigma": _POS, "lam": _POS},
    "HyperGeometric": {"N": _COUNT, "k": _COUNT, "n": _COUNT},
    "InverseGamma": {"alpha": _POS, "beta": _POS, "mu": _POS, "sigma": _POS},
    "Kumaraswamy": {"a": _POS, "b": _POS},
    "Laplace": {"mu": _REAL, "b": _POS},
    # Only for the correlations of group effects (the matrix's size comes from the formula).
    "LKJCorr": {"eta": _POS},
    "LogNormal": {"mu": _REAL, "sigma": _POS, "tau": _POS},
    "Logistic": {"mu": _REAL, "s": _POS},
    "Moyal": {"mu": _REAL, "sigma": _POS},
    "NegativeBinomial": {"mu": _POS, "alpha": _POS, "p": _UNIT, "n": _POS},
    "Normal": {"mu": _REAL, "sigma": _POS, "tau": _POS},
    "Pareto": {"alpha": _POS, "m": _POS},
    "Poisson": {"mu": _NONNEG},
    "Rice": {"nu": _NONNEG, "sigma": _POS, "b": _NONNEG},
    "SkewNormal": {"alpha": _REAL, "mu": _REAL, "sigma": _POS, "tau": _POS},
    "SkewStudentT": {"a": _POS, "b": _POS, "mu": _REAL, "sigma": _POS, "lam": _POS},
    "StudentT": {"nu": _POS, "mu": _REAL, "sigma": _POS, "lam": _POS},
    "Triangular": {"lower": _REAL, "c": _REAL, "upper": _REAL},
    "TruncatedNormal": {"mu": _REAL, "sigma": _POS, "tau": _POS, "lower": _REAL, "upper": _REAL},
    "Uniform": {"lower": _REAL, "upper": _REAL},
    "VonMises": {"mu": _REAL, "kappa": _POS},
    "Wald": {"mu": _POS, "lam": _POS, "phi": _POS, "alpha": _NONNEG},
    "Weibull": {"alpha": _POS, "beta": _POS},
}

_BOOL = "bool"

#: Joint priors of the common slopes (never the intercept), with each parameter's constraint
#: and default; see :mod:`bayesmm.backend.shrinkage`. ``par_ratio`` has no default (None):
#: when given, ``scale_global`` becomes ``par_ratio / sqrt(n)``.
SHRINKAGE: dict[str, dict[str, tuple[str, Any]]] = {
    # Regularised horseshoe (Piironen & Vehtari 2017), with brms's defaults.
    "Horseshoe": {
        "df": (_POS, 1.0),
        "scale_global": (_POS, 1.0),
        "df_global": (_POS, 1.0),
        "scale_slab": (_POS, 2.0),
        "df_slab": (_POS, 4.0),
        "par_ratio": (_POS, None),
        "autoscale": (_BOOL, True),
    },
    # R2-D2 (Zhang, Naughton, Bondell & Reich 2022), with brms's defaults.
    "R2D2": {
        "mean_R2": (_UNIT, 0.5),
        "prec_R2": (_POS, 2.0),
        "cons_D2": (_POS, 0.5),
        "autoscale": (_BOOL, True),
    },
}

_CONSTRAINTS: dict[str, tuple[Any, str]] = {
    _REAL: (lambda v: np.all(np.isfinite(v)), "finite"),
    _POS: (lambda v: np.all(np.isfinite(v) & (v > 0)), "positive"),
    _NONNEG: (lambda v: np.all(np.isfinite(v) & (v >= 0)), "non-negative"),
    _UNIT: (lambda v: np.all((v >= 0) & (v <= 1)), "between 0 and 1"),
    _COUNT: (lambda v: np.all((v >= 0) & (np.mod(v, 1) == 0)), "a non-negative integer"),
    _INT: (lambda v: np.all(np.isfinite(v) & (np.mod(v, 1) == 0)), "an integer"),
}


def _check_shrinkage(name: str, params: Mapping[str, Any]) -> None:
    """Check a shrinkage prior's parameters: numbers (``autoscale`` a bool), no hyperpriors."""
    allowed = SHRINKAGE[name]
    for param, value in params.items():
        if param not in allowed:
            raise PriorError(
                f"Prior {name!r} has no parameter {param!r}; its parameters are "
                f"{list(allowed)}." + did_you_mean(param, allowed)
            )
        kind, default = allowed[param]
        if value is None and default is None:  # par_ratio=None: its default, no ratio
            continue
        if kind == _BOOL:
            if not isinstance(value, bool | np.bool_):
                raise PriorError(f"Prior {name!r}: {param} must be True or False; got {value!r}.")
            continue
        number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        )
        check, wording = _CONSTRAINTS[kind]
        if (
            not number
            or not check(np.asarray(float(value)))
            or (kind == _UNIT and not 0 < value < 1)
        ):
            wording = "number strictly between 0 and 1" if kind == _UNIT else f"{wording} number"
            raise PriorError(f"Prior {name!r}: {param} must be a {wording}; got {value!r}.")


def _check_parameters(name: str, params: Mapping[str, Any]) -> None:
    """Check a built-in distribution's parameter names and values (see DISTRIBUTIONS)."""
    if name in SHRINKAGE:
        _check_shrinkage(name, params)
        return
    if name not in DISTRIBUTIONS:
        raise PriorError(
            f"Prior name must be a PyMC distribution; got {name!r}."
            + (did_you_mean(name, DISTRIBUTIONS) or f" Known names are {sorted(DISTRIBUTIONS)}.")
            + " For another distribution pass dist=callable (see docs/priors.md)."
        )
    allowed = DISTRIBUTIONS[name]
    for param, value in params.items():
        if param not in allowed:
            raise PriorError(
                f"Prior {name!r} has no parameter {param!r}; its parameters are "
                f"{list(allowed)}." + did_you_mean(param, allowed)
            )
        if isinstance(value, Prior):
            continue
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise PriorError(
                f"Prior {name!r}: {param} must be a number, an array of numbers or a Prior; "
                f"got {value!r}."
            ) from None
        check, wording = _CONSTRAINTS[allowed[param]]
        if not check(array):
            raise PriorError(f"Prior {name!r}: {param} must be {wording}; got {value!r}.")
    bounds = [params.get("lower"), params.get("upper")]
    numeric = not any(b is None or isinstance(b, Prior) for b in bounds)
    if numeric and not np.all(np.asarray(bounds[0], float) < np.asarray(bounds[1], float)):
        raise PriorError(
            f"Prior {name!r}: lower must be less than upper; got lower={bounds[0]!r}, "
            f"upper={bounds[1]!r}."
        )


def format_value(value: Any) -> str:
    """Format a prior parameter for display, rounding numbers to 4 decimals."""
    if isinstance(value, Prior):
        return repr(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(round(float(value), 4))
    arr = np.asarray(value)
    if arr.dtype.kind in "fiu":
        if arr.ndim == 0:
            return format_value(arr.item())
        return "[" + ", ".join(format_value(v) for v in arr.ravel().tolist()) + "]"
    return repr(value)


@dataclass(frozen=True, eq=False, init=False)
class Prior:
    """A prior distribution: a PyMC distribution name and its parameters.

    Parameters may be numbers, arrays, or other ``Prior`` objects (hyperpriors), to any depth.
    The name and the parameters are checked when the prior is made: an unknown distribution,
    a parameter the distribution does not have, or a value outside the parameter's domain
    (e.g. a negative ``sigma``) is a :class:`~bayesmm.PriorError`.

    Parameters
    ----------
    name : str
        A PyMC distribution name, e.g. ``"Normal"`` or ``"HalfStudentT"``; any name when
        ``dist`` is given.
    dist : callable, optional
        For distributions PyMC does not have under a name: ``dist(name, dims=dims, **params)``
        must create and return a PyMC random variable inside the model context. Its parameters
        are not checked.
    **params
        The distribution's parameters.

    Examples
    --------
    >>> Prior("Normal", mu=0, sigma=Prior("HalfCauchy", beta=5))
    Normal(mu: 0, sigma: HalfCauchy(beta: 5))
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    dist: Callable[..., Any] | None = None

    def __init__(self, name: str, *, dist: Callable[..., Any] | None = None, **params: Any):
        if not isinstance(name, str) or not name:
            raise PriorError(f"Prior name must be a non-empty string; got {name!r}.")
        if dist is not None and not callable(dist):
            raise PriorError(
                f"Prior dist must be a callable dist(name, dims=..., **params) returning a PyMC "
                f"variable; got {type(dist).__name__}."
            )
        if dist is None:
            _check_parameters(name, params)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", dict(params))
        object.__setattr__(self, "dist", dist)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {format_value(v)}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prior):
            return NotImplemented
        if self.name != other.name or self.params.keys() != other.params.keys():
            return False
        if self.dist is not other.dist:
            return False
        for key, value in self.params.items():
            theirs = other.params[key]
            if isinstance(value, Prior) or isinstance(theirs, Prior):
                if value != theirs:
                    return False
            elif not np.array_equal(np.asarray(value), np.asarray(theirs)):
                return False
        return True

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params)))

    @property
    def has_hyperprior(self) -> bool:
        """Whether any parameter is itself a ``Prior``."""
        return any(isinstance(v, Prior) for v in self.params.values())

    @property
    def is_shrinkage(self) -> bool:
        """Whether this is a joint prior of the common slopes (``Horseshoe``, ``R2D2``)."""
        return self.dist is None and self.name in SHRINKAGE

    def with_defaults(self) -> dict[str, Any]:
        """A shrinkage prior's parameters, those not given at their defaults."""
        return {k: self.params.get(k, default) for k, (_, default) in SHRINKAGE[self.name].items()}

    @property
    def is_normal_with_hyperprior(self) -> bool:
        """Whether this is ``Normal(mu, sigma)`` with a prior on ``sigma``: the population
        distribution of group effects that new levels can be drawn from."""
        return self.name == "Normal" and isinstance(self.params.get("sigma"), Prior)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: the name and the parameters, hyperpriors nested.

        A custom ``dist`` function is recorded by name only (a file holds no code);
        :meth:`from_dict` refuses it.
        """
        params = {
            key: value.to_dict() if isinstance(value, Prior) else {"value": encode_value(value)}
            for key, value in self.params.items()
        }
        custom = None
        if self.dist is not None:
            module = getattr(self.dist, "__module__", "?")
            custom = f"{module}.{getattr(self.dist, '__qualname__', '?')}"
        return {"prior": self.name, "params": params, "custom_dist": custom}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], term: str = "?") -> Prior:
        """The inverse of :meth:`to_dict`; ``term`` names the prior in errors.

        Raises
        ------
        PriorError
            For a prior that used a custom ``dist`` function, which a file cannot hold.
        """
        if value.get("custom_dist"):
            raise PriorError(
                f"The prior of {term!r} used the custom dist function {value['custom_dist']}, "
                "which a saved file cannot hold. Pass it again: priors={"
                + repr(term)
                + ": Prior(...)}."
            )
        params: dict[str, Any] = {
            key: cls.from_dict(inner, term) if "prior" in inner else decode_value(inner["value"])
            for key, inner in value["params"].items()
        }
        return cls(value["prior"], **params)


#: The correlations of group effects: LKJ with eta = 1, uniform over correlation matrices
#: (Lewandowski, Kurowicka and Joe 2009; brms's default).
DEFAULT_CORRELATION_PRIOR = Prior("LKJCorr", eta=1.0)


def prior_to_dict(prior: Prior | float) -> dict[str, Any]:
    """A prior, or a number that fixes a parameter, as JSON-ready values."""
    if isinstance(prior, Prior):
        return prior.to_dict()
    return {"value": encode_value(float(prior))}


def prior_from_dict(value: Mapping[str, Any], term: str) -> Prior | float:
    """The inverse of :func:`prior_to_dict`; ``term`` names the prior in errors."""
    if "prior" not in value:
        return float(decode_value(value["value"]))
    return Prior.from_dict(value, term)
