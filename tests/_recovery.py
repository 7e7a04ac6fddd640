"""The check the recovery tests share: posterior intervals against the values simulated."""

from collections.abc import Mapping

import numpy as np


def interval_misses(posterior, truth: Mapping[str, float], label: object = None) -> list:
    """The variables whose central 90% interval misses its true value.

    Every central 99% interval must cover: that is asserted here, naming the variable. Each
    caller states how many 90% misses its number of checks allows (binomial arithmetic).
    """
    misses = []
    for name, value in truth.items():
        draws = np.asarray(posterior[name]).ravel()
        low, high = np.quantile(draws, [0.005, 0.995])
        assert low < value < high, (label, name, value, low, high)
        low, high = np.quantile(draws, [0.05, 0.95])
        if not low < value < high:
            misses.append(name if label is None else (label, name))
    return misses
