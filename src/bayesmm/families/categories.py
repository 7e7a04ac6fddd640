"""``Categories``: how a family of a response with categories (ordinal models, the
multinomial logit) turns its linear predictor into the probability of each category.

The probabilities are written once, for numpy and for pytensor; the readings of observed
categories and of predictive draws of categories are here too, and
:class:`CategoryQuestions`, what the rest of bayesmm asks a :class:`~bayesmm.Family` about
its categories, so that nothing outside :mod:`bayesmm.families` branches on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from .._errors import DataError, FamilyError
from .._validation import choice_message

__all__ = ["Categories", "CategoryQuestions", "CATEGORY_MODELS", "threshold_labels"]


def threshold_labels(levels: Sequence[Any]) -> tuple[str, ...]:
    """The labels of the thresholds between consecutive categories: ``("1|2", "2|3", ...)``."""
    return tuple(f"{a}|{b}" for a, b in pairwise(levels))


#: The models of a response with categories that :class:`Categories` knows.
CATEGORY_MODELS = ("cumulative", "sratio", "cratio", "acat", "categorical")


@dataclass(frozen=True)
class Categories:
    """How a family for a response with ``K`` categories turns its linear predictor into the
    probability of each category.

    Parameters
    ----------
    model : {"cumulative", "sratio", "cratio", "acat", "categorical"}
        ``"cumulative"``: ``P(y <= k) = F(threshold_k - eta)``; ``"sratio"`` (stopping
        ratio): ``P(y = k | y >= k) = F(threshold_k - eta)``, for ``k = 1 .. K - 1``, with
        ``F`` the inverse link; ``"cratio"`` (continuation ratio):
        ``P(y > k | y >= k) = F(eta - threshold_k)``; ``"acat"`` (adjacent categories):
        ``P(y = k + 1) / P(y = k) = q_k / (1 - q_k)`` with ``q_k = F(eta - threshold_k)``,
        which the logit link makes ``exp(eta - threshold_k)`` (brms's conventions for all
        three). ``"categorical"`` (multinomial logit): each category but the
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
        (all but the multinomial logit)."""
        return self.model != "categorical"

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
        if self.model == "acat":
            # P(y = k) is proportional to prod_{j < k} q_j * prod_{j >= k} (1 - q_j); divided
            # by prod_j (1 - q_j), to exp(S_k), S_k the sum over j < k of the log odds of
            # q_j (S_1 = 0). Normalised with the largest of them taken out.
            q = cdf(-z)
            scores = xp.cumsum(xp.log(q) - xp.log1p(-q), axis=-1)  # S_2 .. S_K
            top = xp.maximum(scores.max(axis=-1, keepdims=True), 0.0)
            first, rest = xp.exp(-top), xp.exp(scores - top)
            total = first + rest.sum(axis=-1, keepdims=True)
            return xp.concatenate([first / total, rest / total], axis=-1)
        # sratio stops at k with P(y = k | y >= k) = F(threshold_k - eta); cratio goes on
        # past k with P(y > k | y >= k) = F(eta - threshold_k).
        stop = cdf(z) if self.model == "sratio" else 1 - cdf(-z)
        # P(y > k) = prod_{j <= k} (1 - stop_j), summed on the log scale.
        beyond = xp.exp(xp.cumsum(xp.log1p(-stop), axis=-1))
        return xp.concatenate(
            [stop[..., :1], stop[..., 1:] * beyond[..., :-1], beyond[..., -1:]], axis=-1
        )

    def to_dict(self) -> dict[str, Any]:
        """Every field (text, booleans and whole numbers), for a file."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Categories:
        """The inverse of :meth:`to_dict`; fields added since a file was written take their
        defaults."""
        return cls(**record)

    def indicators(self, codes: np.ndarray, n_levels: int, stat: str, family: str) -> np.ndarray:
        """Predictive draws of category codes ``(draws, rows)`` as indicators
        ``(draws, rows, K)``, whose mean is each category's share of the draws: the estimate
        of each category's predictive probability. (A mean of the codes themselves would
        depend on how the categories are numbered; brms's ``predict`` gives these shares.)

        Raises
        ------
        DataError
            If ``stat`` is not ``"mean"``: a median of 0/1 indicators says nothing.
        """
        if stat != "mean":
            raise DataError(
                f"stat must be 'mean' for kind='response' with family {family!r}: the "
                "estimate is the share of each category among the predictive draws (a median "
                f"of the draws of one category is 0 or 1); got {stat!r}. Use "
                "kind='response_params' for the median of each category's probability."
            )
        return (codes[..., None] == np.arange(n_levels)).astype(float)

    def codes(self, y: Any, levels: Sequence[Any], response: str) -> np.ndarray:
        """Observed categories as their codes ``0 .. K-1``, matched as they are, else by
        their text (``"2"`` for ``2``), as the levels of predictors are.

        Raises
        ------
        DataError
            If a value is not one of the response's categories.
        """
        values = np.asarray(y, dtype=object).reshape(-1)
        known = pd.Index(list(levels), dtype=object)
        codes = known.get_indexer(values)
        missing = codes < 0
        if missing.any():
            as_text = pd.Index([str(v) for v in levels])
            codes[missing] = as_text.get_indexer([str(v) for v in values[missing]])
        if (codes < 0).any():
            bad = pd.unique(values[codes < 0])[:5].tolist()
            raise DataError(
                f"y must hold categories of the response {response!r}, one of "
                f"{list(levels)}; got {bad} ({int((codes < 0).sum())} value(s))."
            )
        return codes

    def describe(self, levels: Sequence[Any]) -> list[tuple[str, str]]:
        """``(label, text)`` lines for ``print(model)``: the categories and, for an ordinal
        model, its thresholds."""
        codes = f"(codes 0-{len(levels) - 1})"
        listed = ", ".join(map(str, levels))
        reference = f"{levels[0]} is the reference, each other category has its linear predictor"
        if self.counts:
            return [("Categories", f"{listed} (a column of counts each); {reference}")]
        if not self.ordinal:
            return [("Categories", f"{listed} {codes}; {reference}")]
        return [
            ("Categories", f"{' < '.join(map(str, levels))} {codes}"),
            (
                "Thresholds",
                f"{', '.join(threshold_labels(levels))}, in place of the intercept; factors "
                "keep their coding against a reference level",
            ),
        ]


class CategoryQuestions:
    """What the rest of bayesmm asks a family about the categories of its response.

    A base of :class:`~bayesmm.Family` (which holds ``categories``, a :class:`Categories` or
    ``None``): the design, the backend, prediction, fitted models and the server call these
    methods, never reading ``categories`` themselves, so every branch on a family of
    categories stays in :mod:`bayesmm.families`.

    Examples
    --------
    >>> from bayesmm.families import get_family
    >>> get_family("cumulative").is_ordinal(), get_family("gaussian").is_categorical()
    (True, False)
    """

    name: str
    categories: Categories | None

    def is_categorical(self) -> bool:
        """Whether the family predicts a probability for each category of the response
        (ordinal, categorical and multinomial families): ``(draws, rows, K)`` arrays."""
        return self.categories is not None

    def is_ordinal(self) -> bool:
        """Whether the categories are ordered, with thresholds in place of the intercept."""
        return self.categories is not None and self.categories.ordinal

    def has_category_predictors(self) -> bool:
        """Whether each category but the reference has a linear predictor of its own (the
        multinomial logit: categorical and multinomial)."""
        return self.categories is not None and not self.categories.ordinal

    def counts_each_category(self) -> bool:
        """Whether each row holds a count of every category (multinomial)."""
        return self.categories is not None and self.categories.counts

    def min_categories(self) -> int:
        """The fewest categories the response may have; 0 for a family without categories."""
        return 0 if self.categories is None else self.categories.min_levels

    def threshold_param(self) -> str | None:
        """The auxiliary parameter holding an ordinal family's ``K - 1`` thresholds; ``None``
        for other families."""
        categories = self.categories
        return categories.threshold if categories is not None and categories.ordinal else None

    def ordered_thresholds(self) -> bool:
        """Whether an ordinal family's thresholds are sampled in increasing order."""
        categories = self.categories
        return categories is not None and categories.ordinal and categories.ordered

    def category_probabilities(self, z: Any, cdf: Callable[[Any], Any], xp: Any) -> Any:
        """The probability of each category (see :meth:`Categories.probabilities`), written
        once for numpy and pytensor (``xp``).

        Raises
        ------
        FamilyError
            If the family has no categories.
        """
        if self.categories is None:
            raise FamilyError(f"Family {self.name!r} has no categories to give probabilities of.")
        return self.categories.probabilities(z, cdf, xp)

    def category_labels(self, levels: Sequence[Any] | None) -> tuple[str, ...] | None:
        """The categories as text, which label a prediction's columns; ``None`` for a family
        without categories."""
        if self.categories is None or levels is None:
            return None
        return tuple(str(level) for level in levels)

    def point_draws(
        self, values: np.ndarray, levels: Sequence[Any] | None, kind: str, stat: str
    ) -> np.ndarray:
        """The draws whose ``stat`` is the point estimate: as they are, except the predictive
        draws of a family of one category per row, whose codes become indicators
        ``(draws, rows, K)`` (see :meth:`Categories.indicators`).

        Raises
        ------
        DataError
            If ``stat`` is not ``"mean"`` for such draws.
        """
        if self.categories is None or kind != "response" or levels is None or values.ndim != 2:
            return values
        return self.categories.indicators(values, len(levels), stat, self.name)

    def describe_categories(self, levels: Sequence[Any] | None) -> list[tuple[str, str]]:
        """``(label, text)`` lines describing the categories for ``print(model)``; none for
        a family without categories."""
        if self.categories is None or levels is None:
            return []
        return self.categories.describe(levels)

    def predictor_names(self, levels: Sequence[Any] | None) -> tuple[str, ...]:
        """The names of a multinomial logit's linear predictors, one per category but the
        reference (``mub``, ``muc``); none for other families."""
        if self.categories is None or levels is None:
            return ()
        return self.categories.predictor_names(levels)

    def observed_codes(self, y: Any, levels: Sequence[Any] | None, response: str) -> Any:
        """Observed responses as the family reads them: the codes of a response with
        categories (see :meth:`Categories.codes`), other responses as they are."""
        if self.categories is None or levels is None:
            return y
        return self.categories.codes(y, levels, response)
