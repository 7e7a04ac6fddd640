"""Small pure checks that word every message the same way."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

from ._errors import DataError


def did_you_mean(got: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` for close matches of ``got``, or ``""``."""
    close = difflib.get_close_matches(str(got), [str(c) for c in choices], n=n, cutoff=0.6)
    if not close:
        return ""
    if len(close) == 1:
        return f" Did you mean {close[0]!r}?"
    return " Did you mean one of " + ", ".join(repr(c) for c in close) + "?"


def choice_message(arg: str, got: object, choices: Iterable[str]) -> str:
    """Message for an argument that must be one of ``choices``."""
    options = sorted(str(c) for c in choices)
    return f"{arg} must be one of {options}; got {got!r}." + did_you_mean(str(got), options)


def check_choice(arg: str, got: Any, choices: Iterable[str]) -> str:
    """``got`` if it is one of the text ``choices`` (never compared as an array would be).

    Raises
    ------
    DataError
        With :func:`choice_message`.
    """
    options = tuple(choices)
    if not isinstance(got, str) or got not in options:
        raise DataError(choice_message(arg, got, options))
    return got


def describe_values(values: Iterable[object], limit: int = 5) -> str:
    """Show up to ``limit`` values, then a count of the rest."""
    values = list(values)
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values) - limit} more)"
    return "[" + shown + "]"


def check_counts(draws: Any = 1, tune: Any = 0, chains: Any = None) -> None:
    """Check the counts of a fit: ``draws`` >= 1, ``tune`` >= 0, ``chains`` >= 1 (or None).

    Raises
    ------
    DataError
        Naming the count, what it must be, and what it was.
    """
    check_count("draws", draws, minimum=1)
    check_count("tune", tune, minimum=0)
    if chains is not None:
        check_count("chains", chains, minimum=1)


def check_sampling(random_seed: Any, options: Mapping[str, Any]) -> None:
    """Check a fit's seed and the sampler options every route shares.

    Raises
    ------
    DataError
        For a seed that is not a non-negative integer or None (:func:`check_seed`), a
        ``target_accept`` outside (0, 1), or a ``max_tree_depth`` or ``cores`` that is not a
        positive integer.
    """
    check_seed(random_seed)
    if "target_accept" in options:
        value = options["target_accept"]
        number = isinstance(value, int | float | np.integer | np.floating)
        if isinstance(value, bool) or not number or not 0 < float(value) < 1:
            raise DataError(
                f"target_accept must be a number strictly between 0 and 1 (the target "
                f"acceptance rate of NUTS, e.g. 0.9); got {value!r}."
            )
    for name in ("max_tree_depth", "cores"):
        if name in options:
            check_count(name, options[name], minimum=1)


#: What a seed may be besides a non-negative integer or None, where a function takes it.
SEED_KINDS: Mapping[str, tuple[type, str]] = {
    "generator": (np.random.Generator, "a numpy.random.Generator"),
    "sequence": (np.random.SeedSequence, "a numpy.random.SeedSequence"),
}


def check_seed(seed: Any, argument: str = "random_seed", also: tuple[str, ...] = ()) -> None:
    """Check a seed: a non-negative integer or None, or one of the kinds ``also`` names
    (keys of :data:`SEED_KINDS`), the one check of every function that takes a seed.

    Raises
    ------
    DataError
        Naming ``argument``, what it may be, and the type and value it was.
    """
    if seed is None or any(isinstance(seed, SEED_KINDS[kind][0]) for kind in also):
        return
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        return
    kinds = ["a non-negative integer", *(SEED_KINDS[kind][1] for kind in also)]
    raise DataError(
        f"{argument} must be {', '.join(kinds)} or None; got {type(seed).__name__} {seed!r}."
    )


def check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}; got {value!r}.")


def check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool | np.bool_):
        raise DataError(f"{name} must be True or False; got {value!r}.")


def evaluation_reason(err: Exception) -> str:
    """Why formulae could not evaluate a term, in the user's words: formulae reports an
    unknown name as a bare ``KeyError('name')`` and numpy a text column as a ufunc loop."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return (
            f"{err.args[0]!r} is neither a column of the data nor a function a formula can call "
            f"(numpy is there as np, e.g. np.log)"
        )
    if isinstance(err, TypeError) and "ufunc" in str(err):
        return f"a function of the formula cannot take the values it was given ({err})"
    return str(err)


#: The most histogram bins a density may ask for: each row's histogram is held in memory.
MAX_BINS = 10_000


def check_probability(name: str, value: Any) -> float:
    """A probability strictly between 0 and 1, as a float."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < 1:
        raise DataError(f"{name} must be a probability strictly between 0 and 1; got {value!r}.")
    return float(value)


def check_probabilities(name: str, values: Any) -> list[float]:
    """One probability or a non-empty flat sequence of them, as a list of floats."""
    if isinstance(values, str | bytes) or np.ndim(values) > 1 or np.size(values) == 0:
        raise DataError(
            f"{name} must be a probability or a non-empty list of probabilities strictly "
            f"between 0 and 1, e.g. [0.05, 0.5, 0.95]; got {values!r}."
        )
    return [check_probability(name, v) for v in np.atleast_1d(np.asarray(values, dtype=object))]


def check_bins(bins: Any) -> int | np.ndarray:
    """A number of histogram bins (1 to ``MAX_BINS``) or increasing finite edges."""
    if np.ndim(bins) == 0:
        if (
            isinstance(bins, bool)
            or not isinstance(bins, Integral)
            or not 1 <= int(bins) <= MAX_BINS
        ):
            raise DataError(
                f"bins must be an integer from 1 to {MAX_BINS} or a sequence of edges; "
                f"got {bins!r}."
            )
        return int(bins)
    try:
        edges = np.asarray(bins, dtype=float)
    except (TypeError, ValueError):
        edges = np.array([np.nan])
    if (
        edges.ndim != 1
        or not 2 <= edges.size <= MAX_BINS + 1
        or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) <= 0)
    ):
        raise DataError(
            f"bins as edges must be an increasing sequence of 2 to {MAX_BINS + 1} finite "
            f"numbers; got {describe_values(np.ravel(np.asarray(bins, dtype=object)))}."
        )
    return edges


def check_path(path: Any, argument: str = "path") -> str:
    """A file's path or URL as text: a non-empty ``str`` or ``os.PathLike``, without NUL.

    Raises
    ------
    DataError
        If ``path`` is anything else (bytes included), or its ``__fspath__`` fails or gives
        something other than text.
    """
    try:
        text = os.fspath(path) if isinstance(path, os.PathLike) else path
    except Exception as err:  # a PathLike's own __fspath__ failed
        raise DataError(
            f"{argument} must be a file's path or URL; {type(path).__name__}.__fspath__() "
            f"raised {type(err).__name__}: {err}"
        ) from None
    if not isinstance(text, str) or not text:
        got = f"{type(path).__name__} {short_repr(path)}"
        raise DataError(
            f"{argument} must be a file's path or URL (a non-empty str or pathlib.Path); got {got}."
        )
    if "\x00" in text:
        raise DataError(f"{argument} must not contain a NUL character; got {short_repr(text)}.")
    return text


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters, for a message that quotes what it got
    (an object whose ``repr`` fails is named by its type)."""
    try:
        text = repr(value)
    except Exception:  # an object whose repr fails
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
