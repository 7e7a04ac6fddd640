"""How ADVI's optimiser settles (no sampling here): the step size is held for the first half
of the steps, then falls geometrically to a tenth, and the parameters are averaged over the
second half."""

from __future__ import annotations

import numpy as np
import pytensor

from bayesmm.backend.samplers.approximate import _Settling


class _Approx:
    def __init__(self) -> None:
        self.params = [pytensor.shared(np.zeros(2))]


def test_the_step_size_falls_to_a_tenth_over_the_second_half_and_the_average_is_kept():
    steps, settling, approx = 100, _Settling(100, 0.01), _Approx()
    rates = []
    for i in range(steps):
        approx.params[0].set_value(np.array([i, 2.0 * i]))
        settling(approx, None, i)
        rates.append(float(settling.rate.get_value()))
    assert rates[:50] == [0.01] * 50
    np.testing.assert_allclose(rates[50], 0.01)
    np.testing.assert_allclose(rates[-1], 0.01 * 0.1 ** (49 / 50))
    assert np.all(np.diff(rates[50:]) < 0)
    settling.apply(approx)
    # The average of the iterates 50..99.
    np.testing.assert_allclose(approx.params[0].get_value(), [74.5, 149.0])


def test_an_interrupted_fit_keeps_its_last_iterate():
    settling, approx = _Settling(100, 0.01), _Approx()
    approx.params[0].set_value(np.array([3.0, 4.0]))
    for i in range(10):
        settling(approx, None, i)
    settling.apply(approx)
    np.testing.assert_allclose(approx.params[0].get_value(), [3.0, 4.0])
