"""Approximate Gaussian processes: ``hsgp(x, m=20, c=1.5)``, ``hsgp(x1, x2, ...)``.

The Hilbert-space approximation (Solin & Särkkä 2020; Riutort-Mayol et al. 2022): on the box
``[-L, L]`` around the centre of the training inputs, with ``L = c * S`` (``S`` the half-range
of each input), a stationary GP is ``f(x) = sum_j sqrt(spd(omega_j)) phi_j(x) z_j`` with
``z_j ~ Normal(0, 1)``: the eigenfunctions ``phi_j(x) = prod_d sin(pi j_d (x_d + L_d) /
(2 L_d)) / sqrt(L_d)`` of the Laplacian, ``m`` per input (``m ** D`` in all), and the kernel's
spectral density ``spd`` at their frequencies ``omega_j``. The basis depends on ``m``, ``c``
and the training range alone, so it is a design column like any other; the lengthscale and
the amplitude (``hsgp(x)_lengthscale``, ``hsgp(x)_sigma``) only weight its coefficients.

Kernels: ``cov="exp_quad"`` (the default), ``"matern52"``, ``"matern32"``; the lengthscale is
shared by the inputs (isotropic). ``by=g`` gives each level of ``g`` a GP of its own, with
its own lengthscale and amplitude.

:class:`GaussianProcess` is a formulae stateful transform; its state (centre, half-ranges, the
settings and the ``by`` levels) is plain numbers, written to files as formulae's own
transforms' state is.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FormulaError, HSGPWarning
from .._validation import describe_values
from .by import by_columns, by_labels, check_by, level_rows
from .formulae_state import lazy_calls, term_calls
from .types import Design, GPBasis

__all__ = [
    "GP",
    "KERNELS",
    "GaussianProcess",
    "HSGPWarning",
    "check_gps",
    "gp_basis",
    "spectral_density",
    "warn_if_too_coarse",
]

#: The name of the call in formulas.
GP = "hsgp"

#: Each kernel's smoothness nu (None: the exponentiated quadratic) and the two rules of
#: Riutort-Mayol et al. (2022, section 4.3, for one input): the approximation is accurate
#: when ``c >= c_factor * l / S`` and ``m >= m_factor * c / (l / S)``.
KERNELS: dict[str, tuple[float | None, float, float]] = {
    "exp_quad": (None, 3.2, 1.75),
    "matern52": (2.5, 4.1, 2.65),
    "matern32": (1.5, 4.5, 3.42),
}


class GaussianProcess:
    """``hsgp(x, ..., m=20, c=1.5, cov="exp_quad", by=None)``: the basis (see the module)."""

    __transform_name__ = GP
    __stateful_transform__ = True

    def __init__(self) -> None:
        self.params_set = False
        self.m = 0
        self.c = 0.0
        self.cov = "exp_quad"
        self.centre: list[float] = []
        self.half_range: list[float] = []
        self.levels: list[str] = []
        self.means: list[list[float]] = []  # of each column over the training rows (per level)

    def __call__(
        self, *xs: Any, m: int = 20, c: float = 1.5, cov: str = "exp_quad", by: Any = None
    ) -> np.ndarray:
        values = np.column_stack([np.asarray(x, dtype=float) for x in xs])
        labels = by_labels(by)
        if not self.params_set:
            low, high = values.min(axis=0), values.max(axis=0)
            self.m, self.c, self.cov = int(m), float(c), str(cov)
            self.centre = ((low + high) / 2).tolist()
            self.half_range = ((high - low) / 2).tolist()
            self.levels = [] if labels is None else sorted(pd.unique(labels))
        shifted = values - np.asarray(self.centre)
        bound = np.asarray(self.half_range) * self.c
        outside = np.any(np.abs(shifted) > bound, axis=1)
        if outside.any():
            raise DataError(
                f"hsgp() is defined on the box of c={self.c:g} times the half-range around the "
                f"training inputs; got {int(outside.sum())} row(s) outside it (index "
                f"{describe_values(np.flatnonzero(outside))}). Refit with a larger c to predict "
                "that far."
            )
        basis = _eigenfunctions(shifted, bound, self.m)
        if not self.params_set:
            # Centred (per level): the intercept takes the level, which the broad first
            # functions would otherwise share with it.
            rows = level_rows(labels, self.levels, len(values))
            self.means = [basis[own].mean(axis=0).tolist() for own in rows]
            self.params_set = True
        blocks = [basis - np.asarray(means) for means in self.means]
        return by_columns(blocks, labels, self.levels, GP)


def _indices(m: int, dims: int) -> np.ndarray:
    """The multi-indices ``j`` (1-based) of the ``m ** dims`` basis functions, in order."""
    return np.array(list(itertools.product(range(1, m + 1), repeat=dims)), dtype=float)


def _eigenfunctions(shifted: np.ndarray, bound: np.ndarray, m: int) -> np.ndarray:
    indices = _indices(m, shifted.shape[1])
    out = np.ones((shifted.shape[0], len(indices)))
    for d in range(shifted.shape[1]):
        angle = np.pi * indices[:, d][None, :] * (shifted[:, [d]] + bound[d]) / (2 * bound[d])
        out *= np.sin(angle) / np.sqrt(bound[d])
    return out


def gp_basis(term: Any) -> GPBasis | None:
    """The record of a formulae common term that is ``hsgp()``, from its fitted transform;
    ``None`` for other terms."""
    components = list(getattr(term, "components", []) or [])
    if len(components) != 1:
        return None
    for call in lazy_calls(getattr(components[0], "call", None)):
        gp = call.stateful_transform
        if isinstance(gp, GaussianProcess):
            bound = np.asarray(gp.half_range) * gp.c
            indices = _indices(gp.m, len(bound))
            omega2 = ((np.pi * indices / (2 * bound)) ** 2).sum(axis=1)
            return GPBasis(
                kernel=gp.cov,
                m=gp.m,
                c=gp.c,
                half_range=tuple(float(s) for s in gp.half_range),
                omega2=tuple(float(w) for w in omega2),
                levels=tuple(gp.levels),
            )
    return None


def spectral_density(
    omega2: Any, lengthscale: Any, amplitude: Any, kernel: str, dims: int, xp: Any
) -> Any:
    """The kernel's spectral density at squared frequencies ``omega2``, with array module
    ``xp`` (numpy, or pytensor's tensor module) for ``exp``: amplitude ``sigma`` gives
    ``k(0) = sigma ** 2``."""
    nu = KERNELS[kernel][0]
    if nu is None:
        constant = (2 * math.pi) ** (dims / 2)
        return amplitude**2 * constant * lengthscale**dims * xp.exp(-0.5 * lengthscale**2 * omega2)
    constant = (
        2**dims * math.pi ** (dims / 2) * math.gamma(nu + dims / 2) * (2 * nu) ** nu
    ) / math.gamma(nu)
    return (
        amplitude**2
        * constant
        / lengthscale ** (2 * nu)
        * (2 * nu / lengthscale**2 + omega2) ** (-(nu + dims / 2))
    )


def warn_if_too_coarse(design: Design, posterior: Any) -> None:
    """Warn (:class:`HSGPWarning`) for each ``hsgp()`` term whose ``m`` or ``c`` breaks the
    rules of Riutort-Mayol et al. (2022) at the posterior median of its lengthscale."""
    for part in (design, *(d.design for d in design.distributional)):
        for term in part.common_terms:
            if term.gp is None or f"{term.name}_lengthscale" not in posterior:
                continue
            gp = term.gp
            _, c_factor, m_factor = KERNELS[gp.kernel]
            scale = float(np.median(np.asarray(posterior[f"{term.name}_lengthscale"]))) / max(
                gp.half_range
            )
            need_m = math.ceil(m_factor * gp.c / scale)
            need_c = c_factor * scale
            if gp.m < need_m or gp.c < need_c:
                warnings.warn(
                    f"{term.name}: the estimated lengthscale is {scale:.3g} times the inputs' "
                    f"half-range, which needs m >= {need_m} and c >= {max(need_c, 1.2):.3g} for "
                    f"an accurate approximation (Riutort-Mayol et al. 2022); got m={gp.m}, "
                    f"c={gp.c:g}. Refit with larger values.",
                    HSGPWarning,
                    stacklevel=3,
                )


def check_gps(description: Any, data: pd.DataFrame) -> None:
    """Each ``hsgp()`` names numeric columns, ``m >= 1``, ``c > 1`` and a known ``cov``;
    alone in its term, never in a group term.

    Raises
    ------
    FormulaError, DataError
        Naming the term.
    """
    for call in term_calls(
        description,
        GP,
        "The term {term!r} interacts an hsgp(); write hsgp(x1, x2) for a GP of several "
        "inputs, or hsgp(x, by=g) for one GP per level of g.",
        "The group term {term!r} has an hsgp(); GPs are common terms (hsgp(x, by=g) gives "
        "one per level of g).",
    ):
        _check_call(call, data)


def _value(node: Any) -> Any:
    kind = type(node).__name__
    if kind == "LazyValue":
        return node.value
    if kind == "LazyOperator" and len(node.args) == 1:  # -1: a negative number
        inner = _value(node.args[0])
        return -inner if isinstance(inner, int | float) else None
    return None


def _check_call(call: Any, data: pd.DataFrame) -> None:
    term = str(call)
    args = list(getattr(call, "args", []) or [])
    kwargs = dict(getattr(call, "kwargs", None) or {})
    names = [getattr(a, "name", None) for a in args]
    unknown = sorted(set(kwargs) - {"m", "c", "cov", "by"})
    if str(call.callee) != GP or not names or None in names or unknown:
        raise FormulaError(
            f"{term!r} is not a GP of columns; write hsgp(x), hsgp(x, m=20, c=1.5), "
            "hsgp(x1, x2) or hsgp(x, by=g)"
            + (f" (unknown argument(s) {unknown})." if unknown else ".")
        )
    for name in names:
        column = data[name]
        if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
            column.dtype
        ):
            raise DataError(f"{term} needs numeric inputs; {name!r} holds {column.dtype} values.")
        if column.nunique() < 2:
            raise DataError(f"{term} needs at least two distinct values of {name!r}.")
    m = _value(kwargs["m"]) if "m" in kwargs else 20
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise DataError(
            f"{term}: m (basis functions per input) must be a whole number >= 1; got {m!r}."
        )
    c = _value(kwargs["c"]) if "c" in kwargs else 1.5
    if isinstance(c, bool) or not isinstance(c, int | float) or not c > 1:
        raise DataError(
            f"{term}: c (the boundary, in half-ranges of the inputs) must be a number above 1; "
            f"got {c!r}. 1.5 to 2 is usual."
        )
    cov = _value(kwargs["cov"]) if "cov" in kwargs else "exp_quad"
    if cov not in KERNELS:
        raise DataError(f"{term}: cov must be one of {list(KERNELS)}; got {cov!r}.")
    if m ** len(names) > 2000:
        raise DataError(
            f"{term}: m={m} per input gives {m ** len(names)} basis functions over "
            f"{len(names)} inputs; use a smaller m (at most 2,000 functions)."
        )
    check_by(kwargs, data, term, "GP")
