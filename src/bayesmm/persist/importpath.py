"""Functions named by import path (``"module:qualname"``), for saved custom families.

A model file cannot hold code. The functions of a custom family (its link, its inverse, a
support check) are written as the place they can be imported from, and found there again when
the file is loaded.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["callable_path", "resolve_path", "UnsavableError"]

#: Modules searched for objects that do not say where they live (numpy and scipy ufuncs).
_UFUNC_MODULES = ("numpy", "scipy.special")


class UnsavableError(ValueError):
    """A function that cannot be named by an import path; the message says why."""


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def callable_path(function: Callable[..., Any]) -> str:
    """``"module:qualname"`` from which ``function`` itself can be imported.

    Module-level functions and classes, numpy and scipy ufuncs, and objects bound to a name
    in the module they come from (e.g. ``pytensor.tensor.sigmoid``) have one.

    Raises
    ------
    UnsavableError
        For a lambda, a function defined inside another, a function of the script being
        run (``__main__``), a ``functools.partial``, or anything not found at its import path.
    """
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


def resolve_path(path: str) -> Callable[..., Any]:
    """The callable at ``"module:qualname"``, importing the module.

    Raises
    ------
    LookupError
        If the path is malformed, the module cannot be imported, it has no such attribute,
        or the attribute is not callable; the message says which.
    """
    module, _, qualname = str(path).partition(":")
    if not module or not qualname:
        raise LookupError(f"{path!r} is not an import path of the form 'module:name'")
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
    if not callable(obj):
        raise LookupError(f"{path!r} is not callable; got {type(obj).__name__}")
    return obj
