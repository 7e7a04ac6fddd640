"""The prediction options: one record for what every prediction takes besides its rows.

``PredictOptions`` holds ``include_group_specific``, ``sample_new_groups``, ``random_seed``
and ``n_samples``, declared here once. The public methods take them as keywords
(``fitted.interval(new, sample_new_groups="gaussian")``) and read them with
:meth:`PredictOptions.from_kwargs`, which names any keyword it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import DataError
from .._validation import check_seed, choice_message, did_you_mean

if TYPE_CHECKING:
    from .draws import PosteriorDraws

__all__ = [
    "KINDS",
    "POLICIES",
    "PredictOptions",
    "OPTION_NAMES",
    "resolve_policy",
    "check_kind",
]

#: What can be predicted: the family's parameters, or new responses.
KINDS = ("response_params", "response")

#: Policies for group levels not seen at fit time (brms's names).
POLICIES = ("uncertainty", "gaussian", "old_levels", "population")


def resolve_policy(sample_new_groups: bool | str) -> str | None:
    """``False`` -> ``None`` (unseen levels are an error), ``True`` -> ``"uncertainty"``."""
    if sample_new_groups is False:
        return None
    if sample_new_groups is True:
        return "uncertainty"
    if not isinstance(sample_new_groups, str) or sample_new_groups not in POLICIES:
        raise DataError(
            choice_message("sample_new_groups", sample_new_groups, [*POLICIES, "True", "False"])
        )
    return str(sample_new_groups)


def check_kind(kind: str) -> str:
    """``kind`` if it is one of :data:`KINDS`.

    Raises
    ------
    DataError
        Naming the valid kinds.
    """
    if kind not in KINDS:
        raise DataError(choice_message("kind", kind, KINDS))
    return kind


@dataclass(frozen=True)
class PredictOptions:
    """What a prediction takes besides its rows and ``kind``.

    Parameters
    ----------
    include_group_specific : bool, default True
        Include the group-specific effects; ``False`` predicts with the common effects alone
        (the population level).
    sample_new_groups : bool, str or None, default None
        The policy for group levels not seen at fit time: ``False`` (an error), ``True`` or
        ``"uncertainty"``, ``"gaussian"``, ``"old_levels"``, ``"population"`` (see
        ``docs/prediction.md``); ``None`` uses the model's own default.
    random_seed : int, numpy.random.Generator or None
        For the draws of responses and of new groups.
    n_samples : int, optional
        Use that many evenly spaced posterior draws instead of all of them.
    level_seed : int, optional
        Draw each unseen group level from its own stream, keyed by this seed, the factor and
        the level's label, so that a level gets the same draws in every call whatever other
        rows come with it (chunked predictions use it); ``None`` draws them all from
        ``random_seed``.

    Raises
    ------
    DataError
        If an option has the wrong type or value.

    Examples
    --------
    >>> PredictOptions.from_kwargs(sample_new_groups="gaussian").sample_new_groups
    'gaussian'
    """

    include_group_specific: bool = True
    sample_new_groups: bool | str | None = None
    random_seed: int | np.random.Generator | None = None
    n_samples: int | None = None
    level_seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.include_group_specific, bool | np.bool_):
            raise DataError(
                "include_group_specific must be True or False; got "
                f"{self.include_group_specific!r}."
            )
        if self.sample_new_groups is not None:
            resolve_policy(self.sample_new_groups)
        check_seed(self.random_seed, also=("generator",))
        n = self.n_samples
        if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer)):
            raise DataError(f"n_samples must be an integer; got {n!r}.")
        key = self.level_seed
        if key is not None and (
            isinstance(key, bool) or not isinstance(key, int | np.integer) or key < 0
        ):
            raise DataError(f"level_seed must be a non-negative integer or None; got {key!r}.")

    @classmethod
    def from_kwargs(cls, options: PredictOptions | None = None, **kwargs: Any) -> PredictOptions:
        """The options given as keywords, over ``options`` (or the defaults).

        Raises
        ------
        DataError
            For a keyword that is not an option, naming the options; or a wrong value.
        """
        unknown = [k for k in kwargs if k not in OPTION_NAMES]
        if unknown:
            raise DataError(
                f"unknown prediction option(s) {unknown}; the options are "
                f"{list(OPTION_NAMES)}." + did_you_mean(unknown[0], OPTION_NAMES)
            )
        return replace(options or cls(), **kwargs)

    def policy(self, default: bool | str) -> str | None:
        """The new-group policy: this one's, or ``default`` (the model's) when not given."""
        given = self.sample_new_groups
        return resolve_policy(default if given is None else given)

    def rng(self) -> np.random.Generator:
        """A generator from ``random_seed`` (the same one, when it is a Generator)."""
        return np.random.default_rng(self.random_seed)

    def draws_from(self, draws: PosteriorDraws) -> PosteriorDraws:
        """The posterior draws a prediction uses: all of ``draws``, or ``n_samples`` of them
        evenly spaced."""
        return draws if self.n_samples is None else draws.thinned(self.n_samples)

    def seeded(self) -> PredictOptions:
        """These options with ``random_seed`` made a Generator, so that every step of one
        prediction (new groups, then responses) draws from one stream."""
        if isinstance(self.random_seed, np.random.Generator):
            return self
        return replace(self, random_seed=self.rng())

    def as_dict(self) -> Mapping[str, Any]:
        """The options as keywords."""
        return {name: getattr(self, name) for name in OPTION_NAMES}


#: The names of the prediction options, in order.
OPTION_NAMES = tuple(f.name for f in fields(PredictOptions))
