"""Functions named by import path (``"module:qualname"``), for saved custom families.

A model file cannot hold code. The functions of a custom family (its link, its inverse, a
support check) are written as the place they can be imported from, and found there again when
the file is loaded.

Found again under a :class:`PathPolicy`: a file from an untrusted source must not make the
loading process import any module it names (importing runs the module's code) or hand it any
function. By default only the modules of :data:`SAFE_MODULES` may be named, the check is made
before anything is imported, and the object a path resolves to must itself come from an
allowed module (a dotted name cannot walk from an allowed module to ``os.system``). A caller
who trusts the file says so (``trusted=True``) or names more modules (``allow_modules``).
pytensor's functions are found on first use, so loading stays light.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "SAFE_MODULES",
    "PathPolicy",
    "LazyCallable",
    "UntrustedPathError",
    "callable_path",
    "resolve_path",
    "UnsavableError",
]

#: The modules a model file may name functions from without being trusted: maths, the
#: backend's operations, and bayesmm's own.
SAFE_MODULES = ("numpy", "scipy.special", "pytensor", "bayesmm")
#: Modules whose functions are found on first use (importing them is heavy).
_LAZY_MODULES = ("pytensor",)

#: Modules searched for objects that do not say where they live (numpy and scipy ufuncs).
_UFUNC_MODULES = ("numpy", "scipy.special")


class UnsavableError(ValueError):
    """A function that cannot be named by an import path; the message says why."""


class UntrustedPathError(LookupError):
    """A file names a module, or a function of a module, that the caller does not allow."""


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _within(module: str, allowed: tuple[str, ...]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


class PathPolicy:
    """Which modules an import path may name, and how it is resolved.

    Parameters
    ----------
    trusted : bool, default False
        Resolve any path: the file comes from a source the caller trusts.
    allow_modules : sequence of str, optional
        Modules (and their submodules) allowed besides :data:`SAFE_MODULES`.
    """

    def __init__(self, trusted: bool = False, allow_modules: tuple[str, ...] = ()) -> None:
        if isinstance(allow_modules, str) or not all(
            isinstance(m, str) and m for m in allow_modules
        ):
            raise TypeError(f"allow_modules must be a list of module names; got {allow_modules!r}")
        self.trusted = bool(trusted)
        self.allowed = (*SAFE_MODULES, *allow_modules)

    def check_module(self, module: str, path: str) -> None:
        """Raise :class:`UntrustedPathError` before ``module`` is imported if not allowed."""
        if not self.trusted and not _within(module, self.allowed):
            raise UntrustedPathError(
                f"the file names {path!r}, of the module {module!r}, which a model file may "
                f"not name unless it is trusted: the allowed modules are {list(self.allowed)}. "
                "Load it with trusted=True (or allow_modules=[...]) only if you trust its "
                "source: importing a module runs its code"
            )

    def check_object(self, obj: Any, path: str) -> None:
        """Raise :class:`UntrustedPathError` if ``obj`` comes from a module not allowed."""
        if self.trusted:
            return
        home = getattr(obj, "__module__", None)
        if home is None and type(obj).__name__ == "ufunc":  # numpy and scipy ufuncs
            return
        home = home if isinstance(home, str) else getattr(type(obj), "__module__", "")
        if not _within(home, self.allowed):
            raise UntrustedPathError(
                f"the file names {path!r}, which resolves to an object of the module "
                f"{home!r}, which a model file may not name unless it is trusted; the allowed "
                f"modules are {list(self.allowed)}"
            )


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


def resolve_path(path: str, policy: PathPolicy | None = None) -> Callable[..., Any]:
    """The callable at ``"module:qualname"``, under ``policy`` (by default: only the modules
    of :data:`SAFE_MODULES`); pytensor's are found on their first call.

    Raises
    ------
    UntrustedPathError
        If the policy does not allow the module (checked before it is imported) or the
        module of the object the path resolves to.
    LookupError
        If the path is malformed, the module cannot be imported, it has no such attribute,
        or the attribute is not callable; the message says which.
    """
    policy = policy if policy is not None else PathPolicy()
    module, _, qualname = str(path).partition(":")
    if not module or not qualname:
        raise LookupError(f"{path!r} is not an import path of the form 'module:name'")
    policy.check_module(module, str(path))
    if _within(module, _LAZY_MODULES) and module not in sys.modules:
        return LazyCallable(str(path), policy)
    return _resolve_now(str(path), policy)


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
