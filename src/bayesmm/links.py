"""The link functions: one table, usable with numpy and with pytensor.

A link has an inverse for numpy arrays (``linkinv``, used to predict) and one for the
backend's tensors (``linkinv_backend``, used to fit). The registered links write their inverse
once, against a small namespace of array operations (``ops``): ``NUMPY_OPS`` here, and the
backend's pytensor versions there, so numpy and pytensor share one definition without this
module importing either backend. A user's link gives the two inverses as plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import SimpleNamespace
from typing import Any

import numpy as np
from scipy import special

from ._errors import FamilyError
from ._validation import choice_message
from .persist.importpath import PathPolicy, UnsavableError, callable_path, resolve_path

__all__ = [
    "Link",
    "LINKS",
    "get_link",
    "NUMPY_OPS",
    "NumpyOpsInverse",
    "CentralDifference",
    "saved_path",
    "own_paths",
    "SINGLE_OP_INVERSES",
    "BACKEND_OP_PATHS",
]

#: numpy versions of the operations that inverse links use.
NUMPY_OPS = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    sqrt=np.sqrt,
    expit=special.expit,
    normal_cdf=special.ndtr,
    arctan=np.arctan,
)

#: Relative step of the central difference: cube root of the float64 epsilon balances
#: truncation and rounding error (Nocedal and Wright 2006, section 8.1).
_STEP = float(np.finfo(float).eps) ** (1 / 3)


@dataclass(frozen=True)
class NumpyOpsInverse:
    """``inverse(eta, NUMPY_OPS)``: the numpy inverse of a link written against ``ops``."""

    inverse: Callable[[Any, Any], Any]

    def __call__(self, eta: np.ndarray) -> np.ndarray:
        return np.asarray(self.inverse(eta, NUMPY_OPS))


@dataclass(frozen=True)
class CentralDifference:
    """``g'(mu)`` by a central difference of ``g``, for links given without a derivative."""

    link: Callable[[np.ndarray], np.ndarray]

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        mu = np.asarray(mu, dtype=float)
        # The step shrinks with mu near 0, so that links on (0, 1) or (0, inf) stay in range.
        h = _STEP * np.maximum(np.abs(mu), 1e-2)
        return (np.asarray(self.link(mu + h)) - np.asarray(self.link(mu - h))) / (2 * h)


_UNSAVABLE_HINT = (
    "A model file names each function of a custom family by its import path. Define it as a "
    "function at module level in an importable module (not in a script run as __main__), or "
    "register the family with bmm.register_family before saving and again before loading "
    "(a registered family is saved by name)."
)


def saved_path(function: Any, family: str, where: str) -> str:
    """The import path a file records for a function of a custom family (or its link).

    Raises
    ------
    FamilyError
        If the function has none (a lambda, a closure, a function of ``__main__``); the
        message names the family and where the function is.
    """
    try:
        return callable_path(function)
    except UnsavableError as err:
        raise FamilyError(
            f"Family {family!r} cannot be saved: {where} = {function!r} {err}. {_UNSAVABLE_HINT}"
        ) from None


def _check_callable(link: str, arg: str, value: Any, what: str, required: bool = True) -> None:
    if value is None and not required:
        return
    if not callable(value):
        raise FamilyError(f"Link {link!r}: {arg} must be {what}; got {value!r}.")


@dataclass(frozen=True, init=False)
class Link:
    """A link function ``eta = g(mu)`` with its inverse for numpy and for the backend.

    Parameters
    ----------
    name : str
        The link's name, e.g. ``"logit"``; a family allows links by name.
    link : callable
        ``g(mu)`` on numpy arrays; used to centre default priors.
    linkinv : callable, optional
        ``g^-1(eta)`` on numpy arrays; used to predict. Required unless ``inverse`` is given.
    linkinv_backend : callable, optional
        ``g^-1(eta)`` on pytensor tensors (e.g. with ``pytensor.tensor.sigmoid``); used to
        fit. Required unless ``inverse`` is given.
    derivative : callable, optional
        ``g'(mu)`` on numpy arrays; used to scale default priors by the delta method. If
        omitted, computed by a central difference of ``link``.
    inverse : callable, optional, keyword only
        ``g^-1(eta, ops)``, written with the operations in ``ops`` (``ops.exp``,
        ``ops.expit``, ...) so that one definition serves numpy and pytensor; this is how
        the registered links are written. Fills in whichever of ``linkinv`` and
        ``linkinv_backend`` is missing.

    Raises
    ------
    FamilyError
        If the name is not a non-empty string, or a function is missing or not callable.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import special
    >>> from pytensor.tensor import sigmoid  # doctest: +SKIP
    >>> link = Link("my_logit", link=special.logit, linkinv=special.expit,
    ...             linkinv_backend=sigmoid)  # doctest: +SKIP
    >>> float(LINKS["logit"].linkinv(np.array(0.0)))
    0.5
    """

    name: str
    link: Callable[[np.ndarray], np.ndarray]
    linkinv: Callable[[np.ndarray], np.ndarray]
    linkinv_backend: Callable[[Any], Any] | None
    derivative: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[Any, Any], Any] | None

    def __init__(
        self,
        name: str,
        link: Callable[[np.ndarray], np.ndarray] | None = None,
        linkinv: Callable[[np.ndarray], np.ndarray] | None = None,
        linkinv_backend: Callable[[Any], Any] | None = None,
        derivative: Callable[[np.ndarray], np.ndarray] | None = None,
        *,
        inverse: Callable[[Any, Any], Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FamilyError(f"Link name must be a non-empty string; got {name!r}.")
        _check_callable(name, "link", link, "a callable g(mu) on numpy arrays")
        _check_callable(
            name, "inverse", inverse, "a callable inverse(eta, ops) or None", required=False
        )
        # With an ops-written inverse, either plain inverse may be left out.
        required = inverse is None
        _check_callable(
            name,
            "linkinv",
            linkinv,
            "a callable g^-1(eta) on numpy arrays (the inverse link, used to predict)",
            required,
        )
        _check_callable(
            name,
            "linkinv_backend",
            linkinv_backend,
            "a callable g^-1(eta) on pytensor tensors (the inverse link, used to fit), e.g. "
            "with pytensor.tensor.sigmoid",
            required,
        )
        _check_callable(
            name, "derivative", derivative, "a callable g'(mu) on numpy arrays or None", False
        )
        assert link is not None  # checked above; for the type checker
        if linkinv is None:
            assert inverse is not None
            linkinv = NumpyOpsInverse(inverse)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "link", link)
        object.__setattr__(self, "linkinv", linkinv)
        object.__setattr__(self, "linkinv_backend", linkinv_backend)
        object.__setattr__(
            self, "derivative", derivative if derivative is not None else CentralDifference(link)
        )
        object.__setattr__(self, "inverse", inverse)

    def backend_inverse(self, eta: Any, ops: Any) -> Any:
        """The inverse link on the backend's tensors; ``ops`` are the backend's operations."""
        if self.linkinv_backend is not None:
            return self.linkinv_backend(eta)
        assert self.inverse is not None  # the constructor requires one of the two
        return self.inverse(eta, ops)

    @property
    def is_registered(self) -> bool:
        """Whether this is the link of its name in :data:`LINKS`."""
        return LINKS.get(self.name) == self

    def to_dict(self, family: str) -> dict[str, Any]:
        """JSON-ready values: the name of a registered link, else its functions' import paths.

        Raises
        ------
        FamilyError
            If a function cannot be named by an import path; the message names ``family``.
        """
        if self.is_registered:
            return {"registered": self.name}
        where = f"its link {self.name!r} has"
        linkinv = None if isinstance(self.linkinv, NumpyOpsInverse) else self.linkinv
        derivative = None if isinstance(self.derivative, CentralDifference) else self.derivative
        functions = {
            "link": self.link,
            "linkinv": linkinv,
            "linkinv_backend": self.linkinv_backend,
            "derivative": derivative,
            "inverse": self.inverse,
        }
        paths = {
            key: None if value is None else saved_path(value, family, f"{where} {key}")
            for key, value in functions.items()
        }
        return {"name": self.name, **paths}

    @classmethod
    def from_dict(
        cls,
        record: Mapping[str, Any],
        policy: PathPolicy | None = None,
        where: str = "the link record",
    ) -> Link:
        """The inverse of :meth:`to_dict`; ``policy`` says which functions the record may
        name (by default the vetted ones, see :mod:`bayesmm.persist.importpath`), and
        ``where`` names the record in errors.

        A record with the name of a registered link (``"identity"``) may name only that
        link's own functions (see :func:`own_paths`), or the caller's.

        Raises
        ------
        UntrustedPathError
            If the record names a function the policy does not allow, or one that is not its
            built-in name's own.
        LookupError
            If a function's module cannot be imported or does not hold it.
        FamilyError
            If the link is not registered in this session, or its functions do not make one.
        """
        if not isinstance(record, Mapping):
            raise FamilyError(f"{where} must be a JSON object; got {type(record).__name__}.")
        if "registered" in record:
            return get_link(record["registered"])
        name = record.get("name")
        own = own_paths(name) if isinstance(name, str) and name in LINKS else None
        label = f"{where} {name!r}" + (" (a built-in link's name)" if own else "")
        functions = {
            key: resolve_path(
                record[key],
                policy,
                f"{label}, in its {key!r} field,",
                None if own is None else own[key],
            )
            if record.get(key)
            else None
            for key in _FUNCTIONS
        }
        return cls(name, **functions)  # type: ignore[arg-type]

    def __reduce__(self) -> Any:
        # A registered link pickles as its name (it unpickles as the registered one); another
        # link pickles as its fields, which must then be picklable themselves.
        if LINKS.get(self.name) is self:
            return (get_link, (self.name,))
        return (_link_from_fields, ({f.name: getattr(self, f.name) for f in fields(self)},))


def _link_from_fields(values: dict[str, Any]) -> Link:
    """Rebuild a pickled link; a derivative computed numerically is computed again."""
    values = dict(values)
    if isinstance(values.get("linkinv"), NumpyOpsInverse):
        values["linkinv"] = None
    if isinstance(values.get("derivative"), CentralDifference):
        values["derivative"] = None
    return Link(**values)


# The registered links' functions, at module level so that each has an import path: a file
# may name them (bayesmm.persist.importpath.VETTED_FUNCTIONS), and a record with a built-in
# link's name may name only its own (see Link.from_dict). Each inverse is written against
# ``ops``, for numpy and pytensor alike.


def identity_link(mu: Any) -> Any:
    return mu


def identity_inverse(eta: Any, ops: Any) -> Any:
    return eta


def identity_derivative(mu: Any) -> Any:
    return np.ones_like(mu)


def log_inverse(eta: Any, ops: Any) -> Any:
    return ops.exp(eta)


def log_derivative(mu: Any) -> Any:
    return 1 / mu


def logit_inverse(eta: Any, ops: Any) -> Any:
    return ops.expit(eta)


def logit_derivative(mu: Any) -> Any:
    return 1 / (mu * (1 - mu))


def probit_inverse(eta: Any, ops: Any) -> Any:
    return ops.normal_cdf(eta)


def probit_derivative(mu: Any) -> Any:
    return 1 / np.exp(-0.5 * special.ndtri(mu) ** 2) * np.sqrt(2 * np.pi)


def cloglog_link(mu: Any) -> Any:
    return np.log(-np.log1p(-mu))


def cloglog_inverse(eta: Any, ops: Any) -> Any:
    return 1 - ops.exp(-ops.exp(eta))


def cloglog_derivative(mu: Any) -> Any:
    return -1 / ((1 - mu) * np.log1p(-mu))


def inverse_link(mu: Any) -> Any:
    return 1 / mu


def inverse_inverse(eta: Any, ops: Any) -> Any:
    return 1 / eta


def inverse_derivative(mu: Any) -> Any:
    return -1 / mu**2


def inverse_squared_link(mu: Any) -> Any:
    return 1 / mu**2


def inverse_squared_inverse(eta: Any, ops: Any) -> Any:
    return 1 / ops.sqrt(eta)


def inverse_squared_derivative(mu: Any) -> Any:
    return -2 / mu**3


def tan_half_link(mu: Any) -> Any:
    return np.tan(mu / 2)


def tan_half_inverse(eta: Any, ops: Any) -> Any:
    return 2 * ops.arctan(eta)


def tan_half_derivative(mu: Any) -> Any:
    return 0.5 / np.cos(mu / 2) ** 2


LINKS: dict[str, Link] = {
    link.name: link
    for link in [
        Link("identity", identity_link, inverse=identity_inverse, derivative=identity_derivative),
        Link("log", np.log, inverse=log_inverse, derivative=log_derivative),
        Link("logit", special.logit, inverse=logit_inverse, derivative=logit_derivative),
        Link("probit", special.ndtri, inverse=probit_inverse, derivative=probit_derivative),
        Link("cloglog", cloglog_link, inverse=cloglog_inverse, derivative=cloglog_derivative),
        Link("inverse", inverse_link, inverse=inverse_inverse, derivative=inverse_derivative),
        Link(
            "inverse_squared",
            inverse_squared_link,
            inverse=inverse_squared_inverse,
            derivative=inverse_squared_derivative,
        ),
        # For angles (the von Mises family): maps the real line onto (-pi, pi), as brms does.
        Link("tan_half", tan_half_link, inverse=tan_half_inverse, derivative=tan_half_derivative),
    ]
}

#: A registered link's inverse that is one operation of ``ops``: a custom link's plain
#: inverses may be that operation (``Link("logit", special.logit, linkinv=special.expit,
#: linkinv_backend=pt.sigmoid)``), and a record with the link's name may name it.
SINGLE_OP_INVERSES = {"log": "exp", "logit": "expit", "probit": "normal_cdf"}

#: The names of pytensor's operations in ``ops`` (bayesmm.backend.variables' PYTENSOR_OPS),
#: written out so that this module does not import pytensor: each is found in
#: pytensor.tensor.math, where it lives, and in pytensor.tensor, which exports it.
_BACKEND_OP_NAMES = {
    "exp": ("exp",),
    "log": ("log",),
    "sqrt": ("sqrt",),
    "expit": ("expit", "sigmoid"),
    "arctan": ("arctan",),
    "normal_cdf": (),
}
#: The import paths of each of pytensor's operations in ``ops``.
BACKEND_OP_PATHS: dict[str, tuple[str, ...]] = {
    op: tuple(
        f"{module}:{name}"
        for module in ("pytensor.tensor.math", "pytensor.tensor")
        for name in names
    )
    for op, names in _BACKEND_OP_NAMES.items()
}

_FUNCTIONS = ("link", "linkinv", "linkinv_backend", "derivative", "inverse")


def own_paths(name: str) -> dict[str, frozenset[str]]:
    """The import paths of the registered link ``name``'s own functions, by the field of a
    link record they may fill: its link, derivative and ops-written inverse, and for an
    inverse of one operation (:data:`SINGLE_OP_INVERSES`) that operation with numpy
    (``linkinv``) and with pytensor (``linkinv_backend``)."""
    link = LINKS[name]
    found: dict[str, set[str]] = {key: set() for key in _FUNCTIONS}
    for key in ("link", "derivative", "inverse"):
        found[key].add(callable_path(getattr(link, key)))
    op = SINGLE_OP_INVERSES.get(name)
    if op is not None:
        found["linkinv"].add(callable_path(getattr(NUMPY_OPS, op)))
        found["linkinv_backend"].update(BACKEND_OP_PATHS[op])
    return {key: frozenset(paths) for key, paths in found.items()}


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
