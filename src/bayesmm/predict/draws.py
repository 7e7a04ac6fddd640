"""Posterior draws stacked into plain arrays, once per fitted model.

The ``posterior`` group of a fit becomes a :class:`PosteriorDraws`: common slopes ``(S, p)``,
each group term's effects ``(S, levels, columns)`` with its population's mean and sd, the
auxiliary parameters ``(S, 1)`` and the Cholesky factors of each correlated block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from .._errors import DataError
from .._names import monotonic_name, mu_name, sigma_name
from ..design import CommonTerm, Design, GroupBlock
from .series import SeriesDraws, series_draws

__all__ = [
    "DRAW_PIECES",
    "GroupDraws",
    "ImputedDraws",
    "PosteriorDraws",
    "correlation_cholesky",
    "extract_draws",
]


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
class ImputedDraws:
    """Posterior draws of the model of an ``mi()`` column: its terms' (``model``), its
    residual sd ``sigma`` ``(S, 1)``, and its training rows' imputed values ``missing``
    ``(S, rows without it)``."""

    model: PosteriorDraws
    sigma: np.ndarray
    missing: np.ndarray

    def thinned(self, keep: np.ndarray, n_samples: int) -> ImputedDraws:
        return ImputedDraws(self.model.thinned(n_samples), self.sigma[keep], self.missing[keep])


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
    #: For each monotonic effect ``mo(x)``, by its column in ``common`` (which holds its
    #: ``b``): ``D * cumsum(zeta)`` with a 0 first, shape ``(S, D + 1)``; the effect of
    #: code ``c`` is ``b * steps[:, c]``.
    monotonic: dict[int, np.ndarray] = field(default_factory=dict)
    #: The models of the ``mi()`` columns, in the design's order.
    imputed: tuple[ImputedDraws, ...] = ()
    #: The residual structure's draws (``ar()``, ``cosy()``); ``None`` without one.
    series: SeriesDraws | None = None

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
        monotonic = {column: steps[keep] for column, steps in self.monotonic.items()}
        imputed = tuple(i.thinned(keep, n_samples) for i in self.imputed)
        series = None if self.series is None else self.series.thinned(keep)
        return PosteriorDraws(
            1, len(keep), self.common[keep], groups, aux, blocks, parts, monotonic, imputed, series
        )

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
    aux = _sampled_aux(design, aux)
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
            sigma = np.broadcast_to(_stacked(posterior, sigma_name(term.name), n), (n, k))
            mean = mu_name(term.name)
            mu = (
                np.broadcast_to(_stacked(posterior, mean, n), (n, k))
                if mean in posterior
                else np.zeros((n, k))
            )
        block = design.block_of(term.name)
        start = 0
        if block is not None:
            before = block.terms[: block.terms.index(term.name)]
            start = sum(len(t.columns) for t in design.group_terms if t.name in before)
        label = None if block is None else block.prior_name
        groups.append(GroupDraws(term.name, term.factor, effects, mu, sigma, label, start))
    blocks = {b.prior_name: correlation_cholesky(posterior, design, b, n) for b in design.blocks}
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
    monotonic = {
        t.start: DRAW_PIECES[t.kind](posterior, t, n)
        for t in design.common_terms
        if t.kind in DRAW_PIECES
    }
    imputed = tuple(
        ImputedDraws(
            extract_draws(posterior, i.design, (), {}, normal_groups),
            _stacked(posterior, sigma_name(i.column), n),
            _stacked(posterior, f"{i.column}_missing", n)
            if f"{i.column}_missing" in posterior
            else np.zeros((n, 0)),
        )
        for i in design.imputed
    )
    series = series_draws(posterior, design.state.series if design.state else None, n)
    return PosteriorDraws(
        chains, draws, common, tuple(groups), values, blocks, parts, monotonic, imputed, series
    )


def _sampled_aux(design: Design, aux: Sequence[str]) -> list[str]:
    """The family's auxiliary parameters the posterior holds: not those modelled by formulas
    of their own, nor those a known spread takes the place of (``se()``)."""
    modelled = {part.param for part in design.distributional}
    known = design.state.known_sd if design.state is not None else None
    modelled.update(known.replaced if known is not None else ())
    return [a for a in aux if a not in modelled]


def _monotonic_steps(posterior: xr.Dataset, term: CommonTerm, n: int) -> np.ndarray:
    """``D * cumsum(zeta)`` of a monotonic effect, with a 0 first: ``(n, D + 1)``."""
    assert term.steps is not None
    steps = len(term.steps)
    if steps == 1:  # two values: no simplex, the effect is linear
        return np.broadcast_to(np.array([0.0, 1.0]), (n, 2))
    zeta = _stacked(posterior, monotonic_name(term.name), n, steps)
    return np.concatenate([np.zeros((n, 1)), np.cumsum(zeta, axis=1) * steps], axis=1)


#: The prediction stage's table of kinds (:data:`bayesmm.design.kinds.TERM_KINDS`): what a
#: kind's term reads from the posterior in place of its coefficients alone, ``piece(posterior,
#: term, n) -> (n, values)`` at each of its codes. Other kinds' columns are encoded again on
#: new rows by the design's state, and multiply their coefficients as plain slopes.
DRAW_PIECES: dict[str, Callable[[xr.Dataset, CommonTerm, int], np.ndarray]] = {
    "mo": _monotonic_steps,
}


def correlation_cholesky(
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
