"""Functions for the custom-family tests, at module level so that a saved file can name them.

``tests/test_families_custom.py`` builds a logit link from these and saves models with it;
loading finds them again by their import paths (``_custom_links:logit`` and so on).
"""

from __future__ import annotations

import numpy as np
from scipy import special


def logit(mu: np.ndarray) -> np.ndarray:
    return special.logit(mu)


def expit(eta: np.ndarray) -> np.ndarray:
    return special.expit(eta)


def expit_backend(eta):  # pytensor tensors in, a tensor out
    import pytensor.tensor as pt

    return pt.sigmoid(eta)


def is_binary(y: np.ndarray, trials: np.ndarray | None) -> str | None:
    bad = ~np.isin(y, (0, 1))
    return f"got {int(bad.sum())} value(s) other than 0 and 1." if bad.any() else None
