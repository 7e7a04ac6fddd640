"""The linear predictor of any rows, on the stacked posterior draws, with the policies for
group levels not seen at fit time (brms's names: ``uncertainty``, ``gaussian``,
``old_levels``, ``population``).

The linear predictor is ``X @ beta`` plus the offset plus ``b[index] * x`` for each group
term: numpy on the draws, no graph compiled.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import DataError
from .._validation import describe_values
from ..design import NewDesign, NewGroup, NewImputation
from .draws import GroupDraws, ImputedDraws, PosteriorDraws
from .options import POLICIES, PredictOptions

__all__ = ["linear_predictor", "new_level_effects"]


def _per_level(
    draw: Callable[[np.random.Generator, int], np.ndarray],
    levels: Sequence[Any],
    rng: np.random.Generator,
    key: str,
    level_seed: int | None,
    axis: int,
) -> np.ndarray:
    """``draw(generator, count)`` for ``levels`` (their axis ``axis``): all from ``rng``,
    or, with a ``level_seed``, each level from its own stream keyed by the seed, ``key``
    and its label, so that it is drawn the same in every call."""
    if level_seed is None:
        return draw(rng, len(levels))
    parts = [
        draw(np.random.default_rng([level_seed, zlib.crc32(f"{key}/{level}".encode())]), 1)
        for level in levels
    ]
    return np.concatenate(parts, axis=axis)


def new_level_effects(
    group: GroupDraws,
    levels: Sequence[Any],
    policy: str,
    choices: dict[str, np.ndarray],
    rng: np.random.Generator,
    blocks: Mapping[str, np.ndarray],
    level_seed: int | None = None,
) -> np.ndarray:
    """Effects of the unseen ``levels``, shape ``(S, len(levels), columns)``, under
    ``policy``.

    ``choices`` carries what the terms of one factor (or block) share between calls.
    """
    n, n_levels, k = group.effects.shape
    n_new = len(levels)
    if policy == "population":
        return np.zeros((n, n_new, k))
    if policy == "gaussian":
        if group.sigma is None or group.mu is None:
            raise DataError(
                f"sample_new_groups='gaussian' draws new levels of {group.name!r} from its "
                "population distribution, which needs a Normal prior with a hyperprior on "
                "sigma; this term has another prior. Use 'uncertainty' or 'old_levels'."
            )
        if group.block is None:
            z = _per_level(
                lambda g, m: g.standard_normal((n, m, k)),
                levels,
                rng,
                f"{group.name}/gaussian",
                level_seed,
                axis=1,
            )
        else:
            # One draw per new level for the whole block, correlated through its Cholesky
            # factor; each of its terms takes its own columns.
            key = f"{group.block}/gaussian"
            if key not in choices:
                chol = blocks[group.block]
                normal = _per_level(
                    lambda g, m: g.standard_normal((n, m, chol.shape[1])),
                    levels,
                    rng,
                    key,
                    level_seed,
                    axis=1,
                )
                choices[key] = np.einsum("sij,snj->sni", chol, normal)
            z = choices[key][:, :, group.start : group.start + k]
        return group.mu[:, None, :] + group.sigma[:, None, :] * z
    # Borrowed levels are shared by every term of the factor, so a new subject's intercept
    # and slope come from the same fitted subject.
    key = f"{group.factor}/{policy}"
    if key not in choices:
        uncertain = policy == "uncertainty"
        choices[key] = _per_level(
            lambda g, m: g.integers(0, n_levels, size=(n, m) if uncertain else (m,)),
            levels,
            rng,
            key,
            level_seed,
            axis=1 if uncertain else 0,
        )
    chosen = choices[key]
    if policy == "uncertainty":
        return np.take_along_axis(group.effects, chosen[:, :, None], axis=1)
    return group.effects[:, chosen, :]


def _impute(
    eta: np.ndarray,
    draws: PosteriorDraws,
    new: NewDesign,
    model: ImputedDraws,
    rows: NewImputation,
    options: PredictOptions,
    rng: np.random.Generator,
    policy: str | None,
    choices: dict[str, np.ndarray] | None,
) -> None:
    """Add to ``eta``, in place, the ``mi()`` term's effect of the values its rows lack,
    where the common matrix took a placeholder: the posterior's imputed values for the
    training rows, draws from the column's model for new rows."""
    missing = np.flatnonzero(rows.missing)
    if not missing.size:
        return
    if rows.fitted is not None:
        values = model.missing[:, rows.fitted]
    else:
        assert rows.rows is not None  # encoded whenever a row lacks the column
        mean = linear_predictor(model.model, rows.rows, options, policy=policy, choices=choices)
        values = mean[:, missing] + model.sigma * rng.standard_normal((len(mean), missing.size))
    placeholder = new.common[missing, rows.column]
    eta[:, missing] += draws.common[:, [rows.column]] * (values - placeholder)


def _group_effects(
    draws: PosteriorDraws,
    new: NewDesign,
    options: PredictOptions,
    rng: np.random.Generator,
    policy: str | None,
    choices: dict[str, np.ndarray],
) -> list[np.ndarray]:
    """Each group term's effects ``(S, levels, columns)``: the fitted levels', then the
    unseen levels' drawn or borrowed under ``policy``.

    Raises
    ------
    DataError
        If a grouping factor has levels not seen at fit time and ``policy`` is ``None``.
    """
    effects = []
    for group, rows in zip(draws.groups, new.groups, strict=True):
        if not rows.new_levels:
            effects.append(group.effects)
            continue
        if policy is None:
            raise DataError(
                f"The grouping factor {group.factor!r} has level(s) "
                f"{describe_values(rows.new_levels)} that were not seen at fit time. Pass "
                f"sample_new_groups= one of {list(POLICIES)} (True means 'uncertainty') to "
                "predict them; see docs/prediction.md."
            )
        extra = new_level_effects(
            group, rows.new_levels, policy, choices, rng, draws.blocks, options.level_seed
        )
        effects.append(np.concatenate([group.effects, extra], axis=1))
    return effects


#: About how many values of the linear predictor take the group terms at a time (1 MiB of
#: them): a block of draws stays in the processor's cache while every term is added to it.
BLOCK_VALUES = 2**17


def _add_group_terms(
    eta: np.ndarray, effects: Sequence[np.ndarray], groups: Sequence[NewGroup]
) -> None:
    """Add ``b[index] * x`` of each group term to ``eta``, in place, a block of draws at a
    time: each value takes the same operations, in the same order, as without blocks."""
    n_draws, n_rows = eta.shape
    size = max(1, BLOCK_VALUES // max(n_rows, 1))
    if any(rows.values is not None and rows.values.shape[1] > 1 for rows in groups):
        size = n_draws  # a term of several columns is summed by einsum, on all draws at once
    # One (block, rows) temporary for every term (of the effects' dtype, in which the product
    # with the predictor is rounded, as it always was): this is the hot loop of serving.
    scratch: dict[np.dtype, np.ndarray] = {}
    for start in range(0, n_draws, size):
        block = eta[start : start + size]
        for term_effects, rows in zip(effects, groups, strict=True):
            drawn = term_effects[start : start + size]
            if rows.values is not None and rows.values.shape[1] > 1:
                block += np.einsum("snk,nk->sn", drawn[:, rows.index, :], rows.values)
                continue
            if drawn.dtype not in scratch:
                scratch[drawn.dtype] = np.empty((min(size, n_draws), n_rows), drawn.dtype)
            part = scratch[drawn.dtype][: len(block)]
            # Indices are level codes, always in range: "clip" takes them without a buffer.
            np.take(drawn[:, :, 0], rows.index, axis=1, out=part, mode="clip")
            if rows.values is not None:
                part *= rows.values[:, 0]
            block += part


def linear_predictor(
    draws: PosteriorDraws,
    new: NewDesign,
    options: PredictOptions | None = None,
    *,
    policy: str | None,
    choices: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The linear predictor of the rows of ``new`` for every draw, shape ``(S, rows)``.

    ``policy`` is the resolved new-group policy (``None``: unseen levels are an error).
    ``choices`` carries the fitted levels borrowed for unseen ones (and the draws of
    correlated blocks) between calls, so that every formula of a model sees a new group
    as the same one.

    Raises
    ------
    DataError
        If a grouping factor has levels not seen at fit time and ``policy`` is ``None``.
    """
    options = options if options is not None else PredictOptions()
    rng = options.rng()
    eta = draws.common @ new.common.T  # (S, 0) @ (0, rows) is zeros when p = 0
    for column, steps in draws.monotonic.items():
        # The product above took mo(x) as b * code; its effect is b * steps[code].
        codes = new.common[:, column].astype(np.int64)
        eta += draws.common[:, [column]] * (steps[:, codes] - codes)
    if new.offset is not None:  # coefficient 1, with or without the group effects
        eta += new.offset
    for model, imputation in zip(draws.imputed, new.imputed, strict=True):
        _impute(eta, draws, new, model, imputation, options, rng, policy, choices)
    if not options.include_group_specific:
        return eta
    choices = choices if choices is not None else {}
    effects = _group_effects(draws, new, options, rng, policy, choices)
    _add_group_terms(eta, effects, new.groups)
    return eta
