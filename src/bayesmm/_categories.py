"""``Categories``: how a family of a response with categories (ordinal models, the
multinomial logit) turns its linear predictor into the probability of each category.

:mod:`bayesmm.families` re-exports it; the probabilities are written once, for numpy and
for pytensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import FamilyError
from ._validation import choice_message

__all__ = ["Categories", "CATEGORY_MODELS"]

#: The models of a response with categories that :class:`Categories` knows.
CATEGORY_MODELS = ("cumulative", "sratio", "categorical")


@dataclass(frozen=True)
class Categories:
    """How a family for a response with ``K`` categories turns its linear predictor into the
    probability of each category.

    Parameters
    ----------
    model : {"cumulative", "sratio", "categorical"}
        ``"cumulative"``: ``P(y <= k) = F(threshold_k - eta)``; ``"sratio"`` (stopping
        ratio): ``P(y = k | y >= k) = F(threshold_k - eta)``, for ``k = 1 .. K - 1``, with
        ``F`` the inverse link. ``"categorical"`` (multinomial logit): each category but the
        first (the reference) has a linear predictor ``eta_k`` of its own, and
        ``P(y = k)`` is proportional to ``exp(eta_k)``, with ``eta_1 = 0``.
    ordered : bool, default True
        Whether the ``K - 1`` thresholds are sampled in increasing order (ordinal models).
    min_levels : int, default 3
        The fewest categories the response may have (two categories are a bernoulli model).
    counts : bool, default False
        Whether each row holds a count of every category (``c(a, b, c) ~ x``, multinomial)
        rather than one category.

    Examples
    --------
    >>> Categories("cumulative").ordinal
    True
    """

    model: str
    ordered: bool = True
    min_levels: int = 3
    counts: bool = False

    def __post_init__(self) -> None:
        if self.model not in CATEGORY_MODELS:
            raise FamilyError(choice_message("Categories model", self.model, CATEGORY_MODELS))

    @property
    def ordinal(self) -> bool:
        """Whether the categories are ordered, with thresholds in place of the intercept
        (``"cumulative"`` and ``"sratio"``; not the multinomial logit)."""
        return self.model in ("cumulative", "sratio")

    def predictor_names(self, levels: Sequence[Any]) -> tuple[str, ...]:
        """The name of each linear predictor: one for an ordinal model (the family's parent's);
        for the multinomial logit, ``mu<level>`` for each category but the reference (as
        brms), e.g. ``("mub", "muc")``. Each names the prefix of its terms' names."""
        if self.ordinal:
            return ()
        return tuple(f"mu{level}" for level in levels[1:])

    @property
    def threshold(self) -> str:
        """The name of the auxiliary parameter holding the ``K - 1`` thresholds."""
        return "threshold"

    def probabilities(self, z: Any, cdf: Callable[[Any], Any], xp: Any) -> Any:
        """The probability of each category, shape ``(..., K)``, from ``z = threshold - eta``
        of shape ``(..., K - 1)``.

        ``cdf`` is the link's inverse and ``xp`` the array module (numpy, or pytensor's
        tensor module when the backend builds the model): the formulas are written once.
        """
        if self.model == "categorical":
            # z holds eta_2 .. eta_K; the reference category's is 0. Softmax, stabilised.
            full = xp.concatenate([xp.zeros_like(z[..., :1]), z], axis=-1)
            e = xp.exp(full - full.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        if self.model == "cumulative":
            below = cdf(z)  # P(y <= k), k = 1 .. K - 1
            return xp.concatenate(
                [below[..., :1], below[..., 1:] - below[..., :-1], 1 - below[..., -1:]], axis=-1
            )
        stop = cdf(z)  # sratio: P(y = k | y >= k)
        # P(y > k) = prod_{j <= k} (1 - stop_j), summed on the log scale.
        beyond = xp.exp(xp.cumsum(xp.log1p(-stop), axis=-1))
        return xp.concatenate(
            [stop[..., :1], stop[..., 1:] * beyond[..., :-1], beyond[..., -1:]], axis=-1
        )
