"""Functions named by import path (``"module:qualname"``), for saved custom families.

A model file cannot hold code. The functions of a custom family (its link, its inverse, a
support check) are written as the place they can be imported from, and found there again when
the file is loaded.

Found again under a :class:`PathPolicy`: a file from an untrusted source must not make the
loading process import any module it names (importing runs the module's code) or hand it any
function it likes. By default a file may name only the functions of
:data:`VETTED_FUNCTIONS`, by their exact paths: the functions of bayesmm's built-in links
(and the numpy, scipy and pytensor operations their inverses are written with), and the
densities, supports, default priors and prior scales of its built-in families, which are
all the paths bayesmm itself writes for a family or link made of its own parts. A path is
checked as text, before anything is imported. A caller names the modules of their own custom
families (``allow_modules``), whose functions are then found there, and only there; or
trusts the file (``trusted=True``). pytensor's functions are found on first use, so loading
stays light.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Callable, Collection
from typing import Any

from .._errors import DataError
from .._validation import short_repr

__all__ = [
    "EARLIER_PATHS",
    "VETTED_FUNCTIONS",
    "PathPolicy",
    "LazyCallable",
    "UntrustedPathError",
    "callable_path",
    "check_trust",
    "resolve_path",
    "UnsavableError",
]

_LINK_FUNCTIONS = (
    # The link functions of the built-in links, and their inverses and derivatives.
    "numpy:log",
    "scipy.special:logit",
    "scipy.special:ndtri",
    "bayesmm.links:identity_link",
    "bayesmm.links:identity_inverse",
    "bayesmm.links:identity_derivative",
    "bayesmm.links:log_inverse",
    "bayesmm.links:log_derivative",
    "bayesmm.links:logit_inverse",
    "bayesmm.links:logit_derivative",
    "bayesmm.links:probit_inverse",
    "bayesmm.links:probit_derivative",
    "bayesmm.links:cloglog_link",
    "bayesmm.links:cloglog_inverse",
    "bayesmm.links:cloglog_derivative",
    "bayesmm.links:inverse_link",
    "bayesmm.links:inverse_inverse",
    "bayesmm.links:inverse_derivative",
    "bayesmm.links:inverse_squared_link",
    "bayesmm.links:inverse_squared_inverse",
    "bayesmm.links:inverse_squared_derivative",
    "bayesmm.links:tan_half_link",
    "bayesmm.links:tan_half_inverse",
    "bayesmm.links:tan_half_derivative",
    # The operations their inverses are written with: numpy's (bayesmm.links.NUMPY_OPS)...
    "numpy:exp",
    "numpy:sqrt",
    "numpy:arctan",
    "scipy.special:expit",
    "scipy.special:ndtr",
    # ... and pytensor's (bayesmm.backend.variables.PYTENSOR_OPS), as a custom link's
    # backend inverse names them: in pytensor.tensor.math, where they live, or in
    # pytensor.tensor, which exports them (pt.sigmoid is bound to both of its names).
    *(
        f"{module}:{name}"
        for module in ("pytensor.tensor.math", "pytensor.tensor")
        for name in ("exp", "log", "sqrt", "expit", "sigmoid", "arctan")
    ),
)

_FAMILY_FUNCTIONS = (
    # numpy samplers and log densities: of the known PyMC distributions
    # (bayesmm.families.known) and of the built-in families.
    "bayesmm.families.densities:bernoulli_draw",
    "bayesmm.families.densities:bernoulli_logpdf",
    "bayesmm.families.densities:binomial_draw",
    "bayesmm.families.densities:binomial_logpmf",
    "bayesmm.families.densities:laplace_draw",
    "bayesmm.families.densities:laplace_logpdf",
    "bayesmm.families.densities:lognormal_draw",
    "bayesmm.families.densities:lognormal_logpdf",
    "bayesmm.families.densities:negbinomial_draw",
    "bayesmm.families.densities:negbinomial_logpmf",
    "bayesmm.families.densities:normal_draw",
    "bayesmm.families.densities:normal_logpdf",
    "bayesmm.families.densities:poisson_draw",
    "bayesmm.families.densities:poisson_logpmf",
    "bayesmm.families.densities:studentt_draw",
    "bayesmm.families.densities:studentt_logpdf",
    "bayesmm.families.densities:wald_draw",
    "bayesmm.families.densities:wald_logpdf",
    "bayesmm.families.densities:gamma_draw",
    "bayesmm.families.densities:_gamma_logpdf",
    "bayesmm.families.densities:asym_laplace_draw",
    "bayesmm.families.densities:beta_binomial_draw",
    "bayesmm.families.densities:category_draw",
    "bayesmm.families.densities:_category_logpmf",
    "bayesmm.families.densities:multinomial_draw",
    "bayesmm.families.densities:_multinomial_logpmf",
    "bayesmm.families.densities:zoib_draw",
    "bayesmm.families.densities:_zoib_logpdf",
    "bayesmm.families.known:_exponential_draw",
    "bayesmm.families.known:_exponential_logpdf",
    "bayesmm.families.known:_gamma_draw",
    "bayesmm.families.known:_gamma_logpdf",
    "bayesmm.families.known:_logistic_draw",
    "bayesmm.families.known:_logistic_logpdf",
    # Response checks (bayesmm.families.support).
    "bayesmm.families.support:angles",
    "bayesmm.families.support:binary",
    "bayesmm.families.support:counts",
    "bayesmm.families.support:finite_numbers",
    "bayesmm.families.support:nonnegative",
    "bayesmm.families.support:positive",
    "bayesmm.families.support:successes",
    "bayesmm.families.support:unit_closed",
    "bayesmm.families.support:unit_open",
    # Default priors of auxiliary parameters, and the scales default priors are taken from
    # (numpy:log, above, is lognormal's).
    "bayesmm.families.builtin_parts:sigma_prior",
    "bayesmm.families.builtin_parts:shape_prior",
    "bayesmm.families.builtin_parts:nu_prior",
    "bayesmm.families.builtin_parts:zero_prior",
    "bayesmm.families.builtin_parts:kappa_vonmises_prior",
    "bayesmm.families.builtin_parts:threshold_prior",
    "bayesmm.families.builtin_parts:median_quantile",
    "bayesmm.families.builtin_parts:nonzero",
    "bayesmm.families.builtin_parts:log_nonzero",
    "bayesmm.families.builtin_parts:inside_unit",
    # Log densities that once lived in side tables, now on their families' records.
    "bayesmm.families.densities:asym_laplace_logpdf",
    "bayesmm.families.densities:beta_binomial_logpmf",
    "bayesmm.families.densities:beta_logpdf",
    "bayesmm.families.densities:category_logpmf",
    "bayesmm.families.densities:exponential_logpdf",
    "bayesmm.families.densities:gamma_logpdf",
    "bayesmm.families.densities:multinomial_logpmf",
    "bayesmm.families.densities:vonmises_logpdf",
    "bayesmm.families.densities:weibull_logpdf",
    "bayesmm.families.densities:zoib_logpdf",
)

#: Paths earlier versions of bayesmm wrote for the same functions, before they moved; the
#: functions are still there under these names, so that every saved file loads.
EARLIER_PATHS = (
    "bayesmm.families.builtin:_sigma_prior",
    "bayesmm.families.builtin:_shape_prior",
    "bayesmm.families.builtin:_nu_prior",
    "bayesmm.families.builtin:_zero_prior",
    "bayesmm.families.builtin:_kappa_vonmises_prior",
    "bayesmm.families.builtin:_threshold_prior",
    "bayesmm.families.builtin:_median_quantile",
    "bayesmm.families.builtin:_nonzero",
    "bayesmm.families.builtin:_log_nonzero",
    "bayesmm.families.builtin:_inside_unit",
    "bayesmm.families.densities:_category_logpmf",
    "bayesmm.families.densities:_gamma_logpdf",
    "bayesmm.families.densities:_multinomial_logpmf",
    "bayesmm.families.densities:_zoib_logpdf",
)

#: The functions a model file may name without the caller's leave, by exact import path:
#: bayesmm's built-in links' functions and the operations their inverses use, and the
#: densities, supports, default priors and prior scales of its built-in families. These are
#: every path bayesmm writes for a family or link made of its own parts, and the paths
#: earlier versions wrote for them (:data:`EARLIER_PATHS`; ``tests/test_io_trust.py`` checks
#: both ways), and each is a pure function of arrays or of a response summary.
VETTED_FUNCTIONS: frozenset[str] = frozenset((*_LINK_FUNCTIONS, *_FAMILY_FUNCTIONS, *EARLIER_PATHS))

#: Modules whose functions are found on first use (importing them is heavy).
_LAZY_MODULES = ("pytensor",)

#: Modules searched for objects that do not say where they live (numpy and scipy ufuncs).
_UFUNC_MODULES = ("numpy", "scipy.special")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: A module (``my_package.families``), or one function (``numpy:tanh``), in allow_modules.
_ALLOWED_ENTRY = re.compile(rf"^{_NAME}(\.{_NAME})*(:{_NAME}(\.{_NAME})*)?$")


class UnsavableError(ValueError):
    """A function that cannot be named by an import path; the message says why."""


class UntrustedPathError(LookupError):
    """A file names a function the caller does not allow, or gives a built-in's name to
    functions that are not the built-in's own."""


def check_trust(trusted: Any, allow_modules: Any) -> tuple[bool, tuple[str, ...]]:
    """``trusted`` and ``allow_modules`` as :func:`bayesmm.load` takes them, checked.

    Raises
    ------
    TypeError
        If ``trusted`` is not a ``bool`` (a string such as ``"false"`` is refused, not read
        as true), or ``allow_modules`` is not a list or tuple of strings (a single string is
        refused, not split into letters).
    DataError
        If an entry of ``allow_modules`` is not a module name (``my_package.families``) or a
        function's import path (``numpy:tanh``).
    """
    if not isinstance(trusted, bool):
        raise TypeError(
            "trusted must be True or False (a bool); got "
            f"{_type(trusted)} {short_repr(trusted, 80)}."
        )
    if not isinstance(allow_modules, list | tuple):
        hint = ""
        if isinstance(allow_modules, str):
            hint = f" For one module, write allow_modules=[{allow_modules!r}]."
        raise TypeError(
            "allow_modules must be a list or tuple of module names (str), e.g. "
            f"['my_package.families']; got {_type(allow_modules)} "
            f"{short_repr(allow_modules, 80)}.{hint}"
        )
    for entry in allow_modules:
        if not isinstance(entry, str):
            raise TypeError(
                "allow_modules must be a list or tuple of module names (str); got an entry "
                f"of type {_type(entry)}: {short_repr(entry, 80)}."
            )
        if not _ALLOWED_ENTRY.match(entry):
            raise DataError(
                "allow_modules must hold module names such as 'my_package.families', or "
                f"functions' import paths such as 'numpy:tanh'; got {short_repr(entry, 80)}."
            )
    return trusted, tuple(allow_modules)


def _type(value: Any) -> str:
    """The name of ``value``'s type, with its module unless it is a builtin (numpy.bool)."""
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _within(module: str, allowed: Collection[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


class PathPolicy:
    """Which functions a file's import paths may name, and how they are resolved.

    Parameters
    ----------
    trusted : bool, default False
        Resolve any path: the file comes from a source the caller trusts.
    allow_modules : list or tuple of str, optional
        The caller's own modules (and their submodules), whose functions a file may name
        besides :data:`VETTED_FUNCTIONS`, e.g. the module of a custom family; or single
        functions by import path (``"numpy:tanh"``).

    Raises
    ------
    TypeError, DataError
        As :func:`check_trust`.
    """

    def __init__(self, trusted: bool = False, allow_modules: tuple[str, ...] = ()) -> None:
        self.trusted, entries = check_trust(trusted, allow_modules)
        self.modules = tuple(e for e in entries if ":" not in e)
        self.functions = frozenset(e for e in entries if ":" in e)

    def is_users(self, path: str) -> bool:
        """Whether ``path`` names a function of a module (or a function) the caller allows."""
        module = path.partition(":")[0]
        return path in self.functions or _within(module, self.modules)

    def check(self, path: str, where: str, own: Collection[str] | None = None) -> None:
        """Raise :class:`UntrustedPathError`, before anything is imported, unless ``path``
        may be named where the file names it.

        ``where`` says where (``"the link_record 'my_logit', in its 'linkinv' field,"``).
        ``own`` are the paths a built-in's own function has in that place, for a record that
        carries a built-in's name: it may name only those (or the caller's own functions).
        """
        if self.trusted or self.is_users(path):
            return
        module = path.partition(":")[0]
        leave = (
            f"If that function is yours, or you trust it, load with allow_modules="
            f"[{module!r}] (that module's functions) or allow_modules=[{path!r}] (that "
            "function); or with trusted=True if you trust the file's source: importing a "
            "module runs its code"
        )
        if own is not None and path not in own:
            owned = ", ".join(repr(p) for p in sorted(own)) or "none"
            raise UntrustedPathError(
                f"{where} names {path!r}, which is not that built-in's own function there "
                f"(its own: {owned}); a record with a built-in's name may name only the "
                f"built-in's functions. {leave}"
            )
        if path not in VETTED_FUNCTIONS:
            raise UntrustedPathError(
                f"{where} names {path!r}, which is not one of the functions a model file may "
                "name: bayesmm's built-in links' functions and the densities, supports and "
                f"default priors of its families (see docs/io.md). {leave}"
            )

    def check_object(self, obj: Any, path: str) -> None:
        """Raise :class:`UntrustedPathError` if ``path``, of a module the caller allows,
        resolves to an object of another module (a dotted name that walks out of it)."""
        if self.trusted or path in VETTED_FUNCTIONS or path in self.functions:
            return
        home = getattr(obj, "__module__", None)
        home = home if isinstance(home, str) else getattr(type(obj), "__module__", "")
        module, _, qualname = path.partition(":")
        if "." not in qualname and not _defined(obj):
            # A record (a kind of term, say) made at the top level of an allowed module is
            # that module's own, whatever module its class comes from.
            home = module
        if not _within(home, self.modules):
            raise UntrustedPathError(
                f"the file names {path!r}, which resolves to an object of the module "
                f"{home!r}, not of the modules it was allowed ({list(self.modules)})"
            )


def _defined(obj: Any) -> bool:
    """Whether ``obj`` is defined by a ``def`` or ``class`` (or is a module or a builtin),
    and so has a module of its own, rather than being an instance made somewhere."""
    import inspect  # on first use: loading a file needs it, importing bayesmm does not

    return inspect.isroutine(obj) or inspect.isclass(obj) or inspect.ismodule(obj)


class LazyCallable:
    """A function found by its import path on its first call (for pytensor's, whose import
    loading a model must not pay)."""

    def __init__(self, path: str, policy: PathPolicy) -> None:
        self.path = path
        self.policy = policy
        self._function: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._function is None:
            self._function = _resolve_now(self.path, self.policy)
        return self._function(*args, **kwargs)

    def __reduce__(self) -> Any:
        return (LazyCallable, (self.path, self.policy))

    def __repr__(self) -> str:
        return f"LazyCallable({self.path!r})"


def callable_path(function: Callable[..., Any]) -> str:
    """``"module:qualname"`` from which ``function`` itself can be imported.

    Module-level functions and classes, numpy and scipy ufuncs, and objects bound to a name
    in the module they come from (e.g. ``pytensor.tensor.sigmoid``) have one; so does a
    :class:`LazyCallable`, by its own path.

    Raises
    ------
    UnsavableError
        For a lambda, a function defined inside another, a function of the script being
        run (``__main__``), a ``functools.partial``, or anything not found at its import path.
    """
    if isinstance(function, LazyCallable):
        return function.path
    if isinstance(function, functools.partial):
        raise UnsavableError("is a functools.partial, which has no import path")
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None)
    if isinstance(qualname, str):
        if "<lambda>" in qualname:
            raise UnsavableError("is a lambda, which has no import path")
        if "<locals>" in qualname:
            raise UnsavableError("is defined inside a function, so it has no import path")
    if module == "__main__":
        raise UnsavableError(
            "is defined in the script being run (__main__), which cannot be imported when "
            "the file is loaded elsewhere"
        )
    if isinstance(module, str) and isinstance(qualname, str) and module in sys.modules:
        try:
            if _lookup(sys.modules[module], qualname) is function:
                return f"{module}:{qualname}"
        except AttributeError:
            pass
    # Objects without a qualified name (ufuncs, pytensor's elementwise ops): the name they
    # are bound to in their module, or in numpy or scipy.special.
    own_name = getattr(function, "__name__", None)
    candidates = [module] if isinstance(module, str) else []
    for name in (*candidates, *_UFUNC_MODULES):
        found = sys.modules.get(name)
        if found is None:
            continue
        names = sorted(k for k, v in vars(found).items() if v is function and not k.startswith("_"))
        if names:
            return f"{name}:{own_name if own_name in names else names[0]}"
    raise UnsavableError(
        f"cannot be found by an import path (module {module!r}, name {qualname or own_name!r})"
    )


def resolve_path(
    path: str,
    policy: PathPolicy | None = None,
    where: str = "the file",
    own: Collection[str] | None = None,
) -> Callable[..., Any]:
    """The callable at ``"module:qualname"``, under ``policy`` (by default: the functions of
    :data:`VETTED_FUNCTIONS` only); pytensor's are found on their first call.

    ``where`` and ``own`` are as for :meth:`PathPolicy.check`.

    Raises
    ------
    UntrustedPathError
        If the policy does not allow the path (checked before anything is imported), or a
        path of a module the caller allows resolves to an object of another module.
    LookupError
        If the path is malformed, the module cannot be imported, it has no such attribute,
        or the attribute is not callable; the message says which.
    """
    policy = policy if policy is not None else PathPolicy()
    module, _, qualname = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not module or not qualname:
        raise LookupError(
            f"{where} names {path!r}, which is not an import path of the form 'module:name'"
        )
    policy.check(path, where, own)
    if _within(module, _LAZY_MODULES) and module not in sys.modules:
        return LazyCallable(path, policy)
    return _resolve_now(path, policy)


def _resolve_now(path: str, policy: PathPolicy) -> Callable[..., Any]:
    module, _, qualname = path.partition(":")
    try:
        found = importlib.import_module(module)
    except ImportError as err:
        raise LookupError(
            f"the module {module!r} of {path!r} cannot be imported ({type(err).__name__}: {err})"
        ) from None
    try:
        obj = _lookup(found, qualname)
    except AttributeError:
        raise LookupError(f"the module {module!r} has no attribute {qualname!r}") from None
    policy.check_object(obj, path)
    if not callable(obj):
        raise LookupError(f"{path!r} is not callable; got {type(obj).__name__}")
    return obj
