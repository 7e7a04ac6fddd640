"""JAX versions of the pytensor operations that pytensor can only send to JAX through
TensorFlow Probability, which bayesmm does not depend on.

``erfcx`` (the scaled complementary error function) is in the normal distribution's log CDF
and survival function, so a truncated or censored gaussian response needs it. It is written
here from ``jax.scipy.special``: ``exp(x^2) erfc(x)`` for ``x < 0`` (no cancellation there),
``2 exp(x^2 + log_ndtr(-sqrt(2) x))`` for ``0 <= x < 50``, where ``log_ndtr`` keeps its
precision far in the tail, and the asymptotic series beyond, where ``x^2`` would swamp it.
``tests/test_design_truncation.py`` checks it and its gradient against scipy.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["cannot_translate", "register_jax_ops"]

_FAR = 50.0  # where erfcx switches to its asymptotic series


def _erfcx(x: Any) -> Any:
    import jax.numpy as jnp
    from jax.scipy.special import erfc, log_ndtr

    negative, far = x < 0, x >= _FAR
    # Each branch gets a safe input where it is not taken, so that none can put NaN in the
    # gradient of another.
    low = jnp.where(negative, x, 0.0)
    mid = jnp.where(negative | far, 1.0, x)
    high = jnp.where(far, x, _FAR)
    below = jnp.exp(low * low) * erfc(low)
    middle = 2.0 * jnp.exp(mid * mid + log_ndtr(-jnp.sqrt(2.0) * mid))
    # 1 / (x sqrt(pi)) (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6)): the next term is below 1e-13.
    u = 1.0 / (2.0 * high * high)
    beyond = (1.0 - u * (1.0 - 3.0 * u * (1.0 - 5.0 * u))) / (high * jnp.sqrt(jnp.pi))
    return jnp.where(negative, below, jnp.where(far, beyond, middle))


@functools.cache
def register_jax_ops() -> None:
    """Register the operations with pytensor's JAX dispatcher, once per process (registering
    twice would do no harm: the same function replaces itself)."""
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.scalar.math import Erfcx

    @jax_funcify.register(Erfcx)
    def _funcify_erfcx(op: Any, **kwargs: Any) -> Any:
        return _erfcx


def cannot_translate(err: Exception) -> bool:
    """Whether ``err`` says JAX lacks an operation (pytensor's NotImplementedError) or a
    gradient (JAX's ValueError) of the model's graph; any other error is the model's own."""
    return isinstance(err, NotImplementedError) or "gradient" in str(err).lower()
