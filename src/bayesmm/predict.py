"""Predictions from posterior draws, with numpy only.

Nothing here compiles a graph: the linear predictor of any rows is ``X @ beta`` plus
``b[index] * x`` for each group term, computed on the stacked posterior draws, then passed
through the link's inverse. Posterior predictive draws come from the family's numpy
``draw`` function. The summaries at the end (point, interval, density, quantiles) work on any
``(draws, rows)`` array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Integral
from typing import Any

import numpy as np
import xarray as xr

from ._errors import DataError, FamilyError
from ._validation import choice_message, describe_values
from .design import Design, GroupBlock, NewDesign
from .families import Family
from .links import Link, get_link

__all__ = [
    "KINDS",
    "POLICIES",
    "GroupDraws",
    "PosteriorDraws",
    "resolve_policy",
    "extract_draws",
    "linear_predictor",
    "response_params",
    "family_params",
    "response_draws",
    "point_estimate",
    "interval",
    "density",
    "quantiles",
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
    if sample_new_groups not in POLICIES:
        raise DataError(
            choice_message("sample_new_groups", sample_new_groups, [*POLICIES, "True", "False"])
        )
    return str(sample_new_groups)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise DataError(choice_message("kind", kind, KINDS))
    return kind


@dataclass(frozen=True)
class GroupDraws:
    """Posterior draws of one group term.

    Attributes
    ----------
    effects : numpy.ndarray
        Shape ``(S, levels, columns)``.
    mu, sigma : numpy.ndarray or None
        Shape ``(S, columns)``: the mean and sd of the population distribution of the effects,
        when their prior is ``Normal(mu, sigma)`` with a hyperprior on ``sigma``.
    block : str or None
        The correlated block the term belongs to (its key in ``PosteriorDraws.blocks``).
    start : int
        The position of the term's first column among the block's columns.
    """

    name: str
    factor: str
    effects: np.ndarray
    mu: np.ndarray | None
    sigma: np.ndarray | None
    block: str | None = None
    start: int = 0


@dataclass(frozen=True)
class PosteriorDraws:
    """Posterior draws stacked over chains, as plain arrays.

    ``common`` has shape ``(S, p)`` in the columns' order of the common matrix; ``aux`` maps
    each auxiliary parameter to shape ``(S, 1)``; ``blocks`` maps each block of correlated
    group terms to the Cholesky factors of its correlation matrix, shape ``(S, k, k)``.
    """

    chains: int
    draws: int
    common: np.ndarray
    groups: tuple[GroupDraws, ...]
    aux: dict[str, np.ndarray]
    blocks: dict[str, np.ndarray] = field(default_factory=dict)
    #: The draws of each distributional formula's terms, in the design's order.
    distributional: tuple[PosteriorDraws, ...] = ()

    def thinned(self, n_samples: int) -> PosteriorDraws:
        """``n_samples`` evenly spaced draws of the stacked chains (as one chain)."""
        total = self.n_samples
        if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
            raise DataError(f"n_samples must be an integer; got {n_samples!r}.")
        if not 1 <= n_samples <= total:
            raise DataError(
                f"n_samples must be between 1 and the {total} posterior draws; got {n_samples}."
            )
        if n_samples == total:
            return self
        keep = np.round(np.linspace(0, total - 1, int(n_samples))).astype(np.int64)

        def pick(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[keep]

        groups = tuple(
            replace(g, effects=g.effects[keep], mu=pick(g.mu), sigma=pick(g.sigma))
            for g in self.groups
        )
        aux = {name: values[keep] for name, values in self.aux.items()}
        blocks = {name: chol[keep] for name, chol in self.blocks.items()}
        parts = tuple(part.thinned(n_samples) for part in self.distributional)
        return PosteriorDraws(1, len(keep), self.common[keep], groups, aux, blocks, parts)

    @property
    def n_samples(self) -> int:
        return self.chains * self.draws


def _stacked(posterior: xr.Dataset, name: str, n: int, size: int | None = None) -> np.ndarray:
    """Draws of ``name`` as ``(n, size)``; a DataError if the variable has another size."""
    values = posterior[name].transpose("chain", "draw", ...).to_numpy().reshape(n, -1)
    if size is not None and values.shape[1] != size:
        raise DataError(
            f"The posterior's {name!r} has {values.shape[1]} value(s) per draw, but this model "
            f"has {size}. Pass the InferenceData that this model's fit() returned."
        )
    return values


def extract_draws(
    posterior: xr.Dataset,
    design: Design,
    aux: Sequence[str],
    fixed: Mapping[str, float],
    normal_groups: Sequence[str],
) -> PosteriorDraws:
    """Stack the posterior into the arrays prediction needs.

    Parameters
    ----------
    posterior : xarray.Dataset
        The ``posterior`` group of a fit.
    design : Design
        The design the model was fitted on.
    aux : sequence of str
        The family's auxiliary parameters.
    fixed : mapping
        Auxiliary parameters fixed to a number rather than sampled.
    normal_groups : sequence of str
        The group terms whose prior is ``Normal(mu, sigma)``, for the ``"gaussian"`` policy.
    """
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    n = chains * draws
    modelled = {part.param for part in design.distributional}
    aux = [a for a in aux if a not in modelled]
    missing = [
        name
        for name in [t.name for t in design.common_terms]
        + [t.name for t in design.group_terms]
        + [a for a in aux if a not in fixed]
        if name not in posterior
    ]
    if missing:
        raise DataError(
            f"The posterior does not have the variable(s) {missing} of this model; got "
            f"{list(posterior.data_vars)[:20]}. Pass the InferenceData that fit() returned."
        )
    if design.common_terms:
        common = np.concatenate(
            [_stacked(posterior, t.name, n, t.stop - t.start) for t in design.common_terms], 1
        )
    else:
        common = np.zeros((n, 0))
    groups = []
    for term in design.group_terms:
        k = len(term.columns)
        size = len(term.levels) * k
        effects = _stacked(posterior, term.name, n, size).reshape(n, len(term.levels), k)
        mu = sigma = None
        if term.name in normal_groups:
            sigma = np.broadcast_to(_stacked(posterior, f"{term.name}_sigma", n), (n, k))
            mu_name = f"{term.name}_mu"
            mu = (
                np.broadcast_to(_stacked(posterior, mu_name, n), (n, k))
                if mu_name in posterior
                else np.zeros((n, k))
            )
        block = design.block_of(term.name)
        start = 0
        if block is not None:
            before = block.terms[: block.terms.index(term.name)]
            start = sum(len(t.columns) for t in design.group_terms if t.name in before)
        label = None if block is None else block.prior_name
        groups.append(GroupDraws(term.name, term.factor, effects, mu, sigma, label, start))
    blocks = {b.prior_name: _correlation_cholesky(posterior, design, b, n) for b in design.blocks}
    values = {
        name: (
            np.full((n, 1), float(fixed[name])) if name in fixed else _stacked(posterior, name, n)
        )
        for name in aux
    }
    parts = tuple(
        extract_draws(posterior, part.design, (), {}, normal_groups)
        for part in design.distributional
    )
    return PosteriorDraws(chains, draws, common, tuple(groups), values, blocks, parts)


def _correlation_cholesky(
    posterior: xr.Dataset, design: Design, block: GroupBlock, n: int
) -> np.ndarray:
    """The Cholesky factor of a block's correlation matrix for each draw, ``(n, k, k)``."""
    k = len(design.block_columns(block))
    corr = np.broadcast_to(np.eye(k), (n, k, k)).copy()
    for i, j, name in design.correlation_names(block):
        if name not in posterior:
            raise DataError(
                f"The posterior does not have the correlation {name!r} of this model. Pass "
                "the InferenceData that fit() returned."
            )
        corr[:, i, j] = corr[:, j, i] = _stacked(posterior, name, n, 1)[:, 0]
    return np.linalg.cholesky(corr)


def _new_level_effects(
    group: GroupDraws,
    n_new: int,
    policy: str,
    choices: dict[str, np.ndarray],
    rng: np.random.Generator,
    blocks: Mapping[str, np.ndarray],
) -> np.ndarray:
    """Effects of unseen levels, shape ``(S, n_new, columns)``, under ``policy``.

    ``choices`` carries what the terms of one factor (or block) share between calls.
    """
    n, n_levels, k = group.effects.shape
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
            z = rng.standard_normal((n, n_new, k))
        else:
            # One draw per new level for the whole block, correlated through its Cholesky
            # factor; each of its terms takes its own columns.
            key = f"{group.block}/gaussian"
            if key not in choices:
                chol = blocks[group.block]
                choices[key] = np.einsum(
                    "sij,snj->sni", chol, rng.standard_normal((n, n_new, chol.shape[1]))
                )
            z = choices[key][:, :, group.start : group.start + k]
        return group.mu[:, None, :] + group.sigma[:, None, :] * z
    # Borrowed levels are shared by every term of the factor, so a new subject's intercept
    # and slope come from the same fitted subject.
    shape = (n, n_new) if policy == "uncertainty" else (n_new,)
    key = f"{group.factor}/{policy}"
    if key not in choices:
        choices[key] = rng.integers(0, n_levels, size=shape)
    chosen = choices[key]
    if policy == "uncertainty":
        return np.take_along_axis(group.effects, chosen[:, :, None], axis=1)
    return group.effects[:, chosen, :]


def linear_predictor(
    draws: PosteriorDraws,
    new: NewDesign,
    *,
    policy: str | None,
    include_group_specific: bool = True,
    rng: np.random.Generator | None = None,
    choices: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The linear predictor of the rows of ``new`` for every draw, shape ``(S, rows)``.

    ``choices`` carries the fitted levels borrowed for unseen ones (and the draws of
    correlated blocks) between calls, so that every formula of a model sees a new group
    as the same one.

    Raises
    ------
    DataError
        If a grouping factor has levels not seen at fit time and ``policy`` is ``None``.
    """
    rng = rng if rng is not None else np.random.default_rng()
    eta = draws.common @ new.common.T  # (S, 0) @ (0, rows) is zeros when p = 0
    if new.offset is not None:  # coefficient 1, with or without the group effects
        eta += new.offset
    if not include_group_specific:
        return eta
    choices = choices if choices is not None else {}
    for group, rows in zip(draws.groups, new.groups, strict=True):
        effects = group.effects
        if rows.new_levels:
            if policy is None:
                raise DataError(
                    f"The grouping factor {group.factor!r} has level(s) "
                    f"{describe_values(rows.new_levels)} that were not seen at fit time. Pass "
                    f"sample_new_groups= one of {list(POLICIES)} (True means 'uncertainty') to "
                    "predict them; see docs/prediction.md."
                )
            extra = _new_level_effects(
                group, len(rows.new_levels), policy, choices, rng, draws.blocks
            )
            effects = np.concatenate([effects, extra], axis=1)
        # In place, one (draws, rows) temporary per term: this is the hot loop of serving.
        if rows.values is None:
            eta += np.take(effects[:, :, 0], rows.index, axis=1)
        elif rows.values.shape[1] == 1:
            contribution = np.take(effects[:, :, 0], rows.index, axis=1)
            contribution *= rows.values[:, 0]
            eta += contribution
        else:
            eta += np.einsum("snk,nk->sn", effects[:, rows.index, :], rows.values)
    return eta


def response_params(
    draws: PosteriorDraws, eta: np.ndarray, family: Family, link: Link
) -> dict[str, np.ndarray]:
    """The family's parameters: the parent ``(S, rows)`` and auxiliaries ``(S, 1)``.

    A family of categories has the probability of each category as parent, ``(S, rows, K)``,
    and its thresholds ``(S, K - 1)``.
    """
    if family.categories is not None:
        return _category_params(draws, eta, family, link)
    values = {family.parent: link.linkinv(eta)}
    values.update(draws.aux)
    return values


def family_params(
    draws: PosteriorDraws,
    new: NewDesign,
    design: Design,
    family: Family,
    link: Link,
    *,
    policy: str | None,
    include_group_specific: bool = True,
    rng: np.random.Generator | None = None,
) -> dict[str, np.ndarray]:
    """Every parameter of the family for the rows of ``new``: the parent and the parameters
    with distributional formulas ``(S, rows)``, the other auxiliaries ``(S, 1)``."""
    rng = rng if rng is not None else np.random.default_rng()
    choices: dict[str, np.ndarray] = {}

    def eta(part_draws: PosteriorDraws, rows: NewDesign) -> np.ndarray:
        return linear_predictor(
            part_draws,
            rows,
            policy=policy,
            include_group_specific=include_group_specific,
            rng=rng,
            choices=choices,
        )

    main = eta(draws, new)
    parts = {
        part.param: get_link(part.link).linkinv(eta(part_draws, rows))
        for part, part_draws, rows in zip(
            design.distributional, draws.distributional, new.distributional, strict=True
        )
    }
    categories = family.categories
    if categories is not None and not categories.ordinal:
        # The multinomial logit: the parts are the other categories' linear predictors.
        z = np.stack([main, *parts.values()], axis=-1)
        return {family.parent: categories.probabilities(z, lambda x: x, np)}
    values = response_params(draws, main, family, link)
    values.update(parts)
    return values


def _category_params(
    draws: PosteriorDraws, eta: np.ndarray, family: Family, link: Link
) -> dict[str, np.ndarray]:
    """The category probabilities of an ordinal family, from its thresholds and ``eta``."""
    categories = family.categories
    assert categories is not None
    values = dict(draws.aux)
    z = values[categories.threshold][:, None, :] - eta[:, :, None]
    values[family.parent] = categories.probabilities(z, link.linkinv, np)
    return values


def response_draws(
    family: Family,
    params: Mapping[str, np.ndarray],
    trials: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """One posterior predictive draw of the response per parameter draw, shape ``(S, rows)``."""
    draw = family.likelihood.draw
    if draw is None:
        raise FamilyError(
            f"Family {family.name!r} has no numpy draw function (Likelihood(draw=...)), so it "
            "cannot give kind='response' predictions; kind='response_params' works."
        )
    values = dict(params)
    if family.trials:
        if trials is None:
            raise DataError(
                f"kind='response' for family {family.name!r} needs the number of trials of each "
                "row: data must have the trials column of the response p(successes, trials)."
            )
        values["trials"] = trials[None, :]
    try:
        out = draw(values, rng)
    except ValueError as err:
        raise DataError(
            f"Could not draw responses of family {family.name!r}: {err}. Some draws of the "
            "parameters are outside the distribution's support, which a non-default link "
            "(e.g. identity for a positive parameter) allows."
        ) from None
    out = np.asarray(out, dtype=float)
    if family.categories is not None:
        return out  # category codes, one per (draw, row)
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    # A writable array: a broadcast view would be read-only in the user's hands.
    return out if out.shape == shape else np.broadcast_to(out, shape).copy()


# --- summaries of (draws, rows) arrays ------------------------------------------------------

POINT_STATS = ("mean", "median")
INTERVAL_METHODS = ("hdi", "eti")


def _check_prob(name: str, prob: Any) -> float:
    if isinstance(prob, bool) or not isinstance(prob, int | float) or not 0 < prob < 1:
        raise DataError(f"{name} must be a probability strictly between 0 and 1; got {prob!r}.")
    return float(prob)


def point_estimate(values: np.ndarray, stat: str = "mean") -> np.ndarray:
    """Mean or median over draws (axis 0)."""
    if stat not in POINT_STATS:
        raise DataError(choice_message("stat", stat, POINT_STATS))
    return values.mean(axis=0) if stat == "mean" else np.median(values, axis=0)


def interval(values: np.ndarray, prob: float = 0.9, method: str = "hdi") -> np.ndarray:
    """Lower and upper bounds of a ``prob`` interval over draws, shape ``(rows, 2)``.

    ``"hdi"`` is the highest-density interval (ArviZ's ``hdi``); ``"eti"`` is the
    equal-tailed interval between the ``(1 - prob) / 2`` and ``(1 + prob) / 2`` quantiles.
    """
    prob = _check_prob("prob", prob)
    if method not in INTERVAL_METHODS:
        raise DataError(choice_message("method", method, INTERVAL_METHODS))
    if method == "eti":
        return np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=0).T
    import arviz as az

    return np.asarray(az.hdi(values[None], hdi_prob=prob)).reshape(values.shape[1], 2)


def quantiles(values: np.ndarray, probs: Sequence[float]) -> np.ndarray:
    """Quantiles over draws, shape ``(rows, len(probs))``."""
    probs = [_check_prob("quantiles", p) for p in np.atleast_1d(probs).tolist()]
    return np.quantile(values, probs, axis=0).T


def density(values: np.ndarray, bins: int | Sequence[float] = 20) -> tuple[np.ndarray, np.ndarray]:
    """Histogram density of each row's draws.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(S, rows)``.
    bins : int or sequence of float
        The number of equal-width bins spanning each row's draws, or the bin edges shared by
        every row (draws outside them are left out, as in ``numpy.histogram``).

    Returns
    -------
    edges : numpy.ndarray
        Shape ``(rows, bins + 1)``.
    density : numpy.ndarray
        Shape ``(rows, bins)``; ``sum(density * diff(edges)) == 1`` for each row whose draws
        all fall inside the edges.
    """
    n, rows = values.shape
    if isinstance(bins, bool) or (
        np.ndim(bins) == 0 and (not isinstance(bins, Integral) or int(bins) < 1)
    ):
        raise DataError(f"bins must be a positive integer or a sequence of edges; got {bins!r}.")
    if np.ndim(bins) == 0:
        # Equal-width bins spanning each row's draws, computed as numpy.histogram does.
        k = int(bins)  # type: ignore[arg-type]
        low, high = values.min(axis=0), values.max(axis=0)
        # A row whose draws are all equal gets a unit-width range, as numpy.histogram gives;
        # wider for values so large that +-0.5 is lost to rounding.
        flat = high <= low
        half = np.where(flat, np.maximum(0.5, np.abs(low) * 1e-9), 0.0)
        low, high = low - half, high + half
        edges = np.linspace(low, high, k + 1, axis=1)
        index = ((values - low) / (high - low) * k).astype(np.int64)
        index[index == k] = k - 1
        columns = np.broadcast_to(np.arange(rows), values.shape)
        index[values < edges[columns, index]] -= 1
        index[(values >= edges[columns, index + 1]) & (index != k - 1)] += 1
        inside = np.ones_like(index, dtype=bool)
    else:
        shared = np.asarray(bins, dtype=float)
        if shared.ndim != 1 or shared.size < 2 or np.any(np.diff(shared) <= 0):
            raise DataError(
                "bins as edges must be an increasing sequence of at least two numbers; "
                f"got {bins!r}."
            )
        k = shared.size - 1
        edges = np.broadcast_to(shared, (rows, k + 1))
        index = np.searchsorted(shared, values, side="right") - 1
        index[values == shared[-1]] = k - 1  # the last bin is closed, as in numpy.histogram
        inside = (index >= 0) & (index < k)
    flat_index = (index + np.arange(rows)[None, :] * k)[inside]
    counts = np.bincount(flat_index, minlength=rows * k).reshape(rows, k)
    widths = np.diff(edges, axis=1)
    return np.array(edges), counts / (n * widths)
