"""Checks of a response against a family's support, and the texts that describe them.

Each check is ``check(y, trials)`` and returns what is wrong with ``y``, naming the
offending values and rows, or ``None``; ``Family.check_response`` words the error around it.
A :class:`Support` record carries a check with the text that describes it, so the two never
travel apart. The built-in families and the PyMC distributions bayesmm knows share these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validation import describe_values

__all__ = [
    "Support",
    "SupportCheck",
    "FINITE",
    "REAL",
    "POSITIVE",
    "NONNEGATIVE",
    "UNIT_OPEN",
    "ANGLES",
    "COUNTS",
    "BINARY",
    "SUCCESSES",
    "outside",
    "finite_numbers",
    "positive",
    "nonnegative",
    "unit_open",
    "angles",
    "counts",
    "binary",
    "successes",
    "FINITE_TEXT",
    "REAL_TEXT",
    "POSITIVE_TEXT",
    "NONNEGATIVE_TEXT",
    "UNIT_OPEN_TEXT",
    "ANGLES_TEXT",
    "COUNTS_TEXT",
    "BINARY_TEXT",
    "SUCCESSES_TEXT",
]

#: A check of the response: returns a description of what is wrong, or ``None``.
SupportCheck = Callable[[np.ndarray, "np.ndarray | None"], "str | None"]

#: How an unknown distribution's responses are checked: any finite number.
FINITE_TEXT = "finite numbers"
REAL_TEXT = "finite real numbers"
POSITIVE_TEXT = "positive numbers"
NONNEGATIVE_TEXT = "non-negative numbers (zeros and positive values)"
UNIT_OPEN_TEXT = "strictly between 0 and 1"
UNIT_CLOSED_TEXT = "between 0 and 1, both included"
ANGLES_TEXT = "angles in radians between -pi and pi"
COUNTS_TEXT = "non-negative integer counts"
BINARY_TEXT = "binary (0/1, True/False, or a two-level category)"
SUCCESSES_TEXT = "integer successes between 0 and the number of trials"


def outside(y: np.ndarray, bad: np.ndarray) -> str | None:
    """How many values of ``y`` are ``bad``, with examples and their rows; ``None`` if none."""
    if not bad.any():
        return None
    rows = np.flatnonzero(bad)
    values = describe_values(np.unique(y[bad]))
    return f"got {len(rows)} value(s) outside it, e.g. {values} (rows {describe_values(rows)})."


def finite_numbers(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    """Any finite number: the check of a family whose distribution bayesmm does not know."""
    return outside(y, ~np.isfinite(y))


def positive(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return outside(y, ~(np.isfinite(y) & (y > 0)))


def nonnegative(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return outside(y, ~(np.isfinite(y) & (y >= 0)))


def unit_open(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return outside(y, ~((y > 0) & (y < 1)))


def unit_closed(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return outside(y, ~((y >= 0) & (y <= 1)))


def angles(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    problem = outside(y, ~((y >= -np.pi) & (y <= np.pi)))
    if problem is None:
        return None
    return problem + " Wrap angles into [-pi, pi], e.g. np.angle(np.exp(1j * y))."


def counts(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    """Non-negative integers: counts, and the codes of a response with categories."""
    return outside(y, ~(np.isfinite(y) & (y >= 0) & (np.mod(y, 1) == 0)))


def binary(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    return outside(y, ~np.isin(y, (0, 1)))


def successes(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    """Integer successes between 0 and ``trials``, themselves positive integers."""
    if trials is None:
        return "got a single column; write the response as p(successes, trials)."
    bad_trials = outside(trials, ~(np.isfinite(trials) & (trials > 0) & (np.mod(trials, 1) == 0)))
    if bad_trials is not None:
        return "trials must be positive integers; " + bad_trials
    return outside(y, ~(np.isfinite(y) & (y >= 0) & (y <= trials) & (np.mod(y, 1) == 0)))


@dataclass(frozen=True)
class Support:
    """A family's support: the check of a response and the words that describe it.

    Parameters
    ----------
    check : callable
        ``check(y, trials)`` returns what is wrong with the response ``y`` (naming the values
        and rows), or ``None``.
    text : str
        The support in words, for error messages: ``"positive numbers"``.

    Examples
    --------
    >>> import numpy as np
    >>> POSITIVE(np.array([1.0, -2.0]), None)
    'got 1 value(s) outside it, e.g. [-2.0] (rows [1]).'
    >>> POSITIVE.text
    'positive numbers'
    """

    check: SupportCheck
    text: str

    def __call__(self, y: np.ndarray, trials: np.ndarray | None) -> str | None:
        return self.check(y, trials)


#: Any finite number: the support of a distribution bayesmm does not know.
FINITE = Support(finite_numbers, FINITE_TEXT)
REAL = Support(finite_numbers, REAL_TEXT)
POSITIVE = Support(positive, POSITIVE_TEXT)
NONNEGATIVE = Support(nonnegative, NONNEGATIVE_TEXT)
UNIT_OPEN = Support(unit_open, UNIT_OPEN_TEXT)
UNIT_CLOSED = Support(unit_closed, UNIT_CLOSED_TEXT)
ANGLES = Support(angles, ANGLES_TEXT)
COUNTS = Support(counts, COUNTS_TEXT)
BINARY = Support(binary, BINARY_TEXT)
SUCCESSES = Support(successes, SUCCESSES_TEXT)
