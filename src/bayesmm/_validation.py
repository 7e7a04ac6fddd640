"""Small pure checks that word every message the same way."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


def describe_values(values: Iterable[object], limit: int = 5) -> str:
    """Show up to ``limit`` values, then a count of the rest."""
    values = list(values)
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values) - limit} more)"
    return "[" + shown + "]"
