"""The family's parameters of any rows, and posterior predictive draws of the response.

The family turns the linear predictors into its parameters (``Family.parameters``,
``Family.combine_predictors``); here the formulas' linear predictors are put together and the
family's numpy sampler draws responses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._errors import DataError, FamilyError
from .._validation import describe_values
from ..design import Design, NewDesign, Truncation
from ..families import Family
from ..families.truncated import is_discrete, log_mass, truncated_draws
from ..links import Link, get_link
from .draws import PosteriorDraws
from .linear import linear_predictor
from .options import PredictOptions
from .series import latent_shift, series_params, series_response_draws

__all__ = [
    "response_params",
    "linear_predictors",
    "family_params",
    "response_draws",
    "truncated_log_likelihood",
    "predictive_draws",
]


def response_params(
    draws: PosteriorDraws, eta: np.ndarray, family: Family, link: Link
) -> dict[str, np.ndarray]:
    """The family's parameters: the parent ``(S, rows)`` and auxiliaries ``(S, 1)``.

    A family of categories has the probability of each category as parent, ``(S, rows, K)``,
    and its thresholds ``(S, K - 1)`` (see ``Family.parameters``).
    """
    return family.parameters(eta, draws.aux, link)


def linear_predictors(
    draws: PosteriorDraws,
    new: NewDesign,
    design: Design,
    parent: str,
    options: PredictOptions | None = None,
    *,
    policy: str | None,
    choices: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """The linear predictor of each formula for the rows of ``new``, ``(S, rows)``: the main
    formula's under ``parent``'s name, each distributional formula's under its parameter's
    (a multinomial logit's under each category's predictor name).

    ``policy`` is the resolved new-group policy; every formula sees a new group as the same
    one, and draws from one random stream (``options.seeded()``). ``choices`` shares the
    new groups with other calls (a multivariate model's other responses).
    """
    options = (options if options is not None else PredictOptions()).seeded()
    choices = {} if choices is None else choices

    def eta(part_draws: PosteriorDraws, rows: NewDesign) -> np.ndarray:
        return linear_predictor(part_draws, rows, options, policy=policy, choices=choices)

    etas = {parent: eta(draws, new)}
    for part, part_draws, rows in zip(
        design.distributional, draws.distributional, new.distributional, strict=True
    ):
        etas[part.param] = eta(part_draws, rows)
    return etas


def family_params(
    draws: PosteriorDraws,
    new: NewDesign,
    design: Design,
    family: Family,
    link: Link,
    options: PredictOptions | None = None,
    *,
    policy: str | None,
    need_spread: bool = True,
    observed: np.ndarray | None = None,
    choices: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Every parameter of the family for the rows of ``new``: the parent and the parameters
    with distributional formulas ``(S, rows)``, the other auxiliaries ``(S, 1)``;
    ``need_spread=False`` for the parent alone (an ``se()`` response's rows may then lack
    their standard errors); ``observed``: the rows' responses, for a log-likelihood (an
    ``ar()`` row is then given the rows before it in its series); ``choices``: new groups
    shared with other calls (see :func:`linear_predictors`)."""
    etas = linear_predictors(
        draws, new, design, family.parent, options, policy=policy, choices=choices
    )
    main = etas.pop(family.parent)
    series = design.state.series if design.state is not None else None
    if series is not None and series.term.latent:  # ar() of a family without a residual sd
        assert draws.series is not None
        rng = (options if options is not None else PredictOptions()).seeded().rng()
        main = main + latent_shift(draws.series, series, new.series, np.shape(main), rng)
    parts = {
        part.param: get_link(part.link).linkinv(etas[part.param]) for part in design.distributional
    }
    # The multinomial logit: the parts are the other categories' linear predictors.
    combined = family.combine_predictors(main, parts)
    if combined is not None:
        return combined
    values = response_params(draws, main, family, link)
    values.update(parts)
    kinds = design.state.response_kinds if design.state is not None else ()
    for kind in (k for k in kinds if k in PARAM_PIECES):  # se(): the rows' known spread; ar()
        values = PARAM_PIECES[kind](design, new, values, need_spread, draws, observed)
    return values


def known_spread(
    design: Design,
    new: NewDesign,
    values: dict[str, np.ndarray],
    need: bool,
    draws: PosteriorDraws | None = None,
    observed: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The spread of an ``se(y, sei)`` response on the rows of ``new``: their standard
    errors, or with ``sigma=True`` ``sqrt(sigma^2 + sei^2)``. Rows without the column give
    the mean alone, unless the spread is ``need``-ed.

    Raises
    ------
    DataError
        If the spread is needed and the rows lack the column of standard errors.
    """
    assert design.state is not None and design.state.known_sd is not None
    known, name = design.state.known_sd, design.state.response_name
    if new.known_sd is None:
        if need:
            raise DataError(
                f"kind='response', the log-likelihood and parameters() of se({name}, "
                f"{known.column}) need each row's standard error: data must have the column "
                f"{known.column!r}, with a value in each row. kind='response_params' does not."
            )
        return values
    se = new.known_sd[None, :]
    spread = np.sqrt(values["sigma"] ** 2 + se**2) if known.sigma else se
    return {**values, "sigma": np.broadcast_to(spread, np.shape(values["mu"])).copy()}


def series_spread(
    design: Design,
    new: NewDesign,
    values: dict[str, np.ndarray],
    need: bool,
    draws: PosteriorDraws | None = None,
    observed: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The mean and sd of each row of a response with correlated residuals (``ar()``,
    ``cosy()``) given the training rows: see :mod:`bayesmm.predict.series`."""
    assert design.state is not None and design.state.series is not None
    assert draws is not None and draws.series is not None
    if design.state.series.term.latent:  # on the linear predictor (family_params)
        return values
    fitted = new.series is not None and new.series.fitted is not None
    y = np.asarray(design.response.values, dtype=float) if fitted else None
    state, series = design.state.series, new.series
    mu, sigma = values["mu"], values["sigma"]
    mean, sd, nu = series_params(draws.series, state, series, mu, sigma, y, observed)
    return {**values, "mu": mean, "sigma": sd, **({} if nu is None else {"nu": nu})}


#: The prediction stage's table of response kinds (:data:`bayesmm.design.kinds.TERM_KINDS`):
#: each one's change to the family's parameters on new rows, ``piece(design, new, values,
#: need, draws, observed) -> values`` (``need``: the response's spread is needed, not its mean
#: alone; ``observed``: the rows' responses, for a log-likelihood).
PARAM_PIECES: dict[str, Callable[..., dict[str, np.ndarray]]] = {
    "se": known_spread,
    "ar": series_spread,
    "cosy": series_spread,
}


def predictive_draws(
    family: Family,
    params: Mapping[str, np.ndarray],
    new: NewDesign,
    rng: np.random.Generator,
    truncated: Truncation | None,
    draws: PosteriorDraws,
    design: Design,
) -> np.ndarray:
    """:func:`response_draws`, joint over each series' new rows where the residuals are
    correlated (``ar()``, ``cosy()``: :func:`~bayesmm.predict.series.series_response_draws`)."""
    series = new.series
    latent = draws.series is not None and draws.series.latent is not None
    if series is None or series.fitted is not None or draws.series is None or latent:
        return response_draws(family, params, new, rng, truncated)
    assert design.state is not None and design.state.series is not None
    mean, sigma = params["mu"], draws.aux["sigma"]
    return series_response_draws(draws.series, design.state.series, series, mean, sigma, rng)


def _bounds(
    family: Family, truncated: Truncation | None, rows: Truncation | None
) -> Truncation | None:
    """The bounds of the rows of a truncated response; a DataError if the rows lack them,
    or if they are fractions for a count family."""
    if truncated is None:
        return None
    if rows is None:
        raise DataError(
            "Predictive draws (kind='response') and the log-likelihood of a truncated response "
            f"need each row's bounds: data must have the column(s) {list(truncated.columns)} "
            f"({truncated.describe()})."
        )
    bounds = np.concatenate([rows.low, rows.high])
    bounds = bounds[np.isfinite(bounds)]
    fractions = bounds[np.mod(bounds, 1) != 0]
    if is_discrete(family.name) and fractions.size:
        raise DataError(
            "The bounds of a truncated count response must be whole numbers (both are "
            f"included); got {describe_values(np.unique(fractions))}."
        )
    return rows


def response_draws(
    family: Family,
    params: Mapping[str, np.ndarray],
    new: NewDesign,
    rng: np.random.Generator,
    truncated: Truncation | None = None,
) -> np.ndarray:
    """One posterior predictive draw of the response per parameter draw on the rows of
    ``new``, shape ``(S, rows)``, with their numbers of trials where the family has them.

    For a ``truncated`` response (its bounds as written), each draw lies within the rows'
    bounds (:attr:`NewDesign.truncation`).
    """
    trials = new.trials
    rows = _bounds(family, truncated, new.truncation)
    if rows is not None:
        return truncated_draws(family.name, dict(params), rows.low, rows.high, rng)
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
    if family.is_categorical():
        return out  # category codes, one per (draw, row)
    shape = np.broadcast_shapes(*(np.shape(v) for v in values.values()))
    # A writable array: a broadcast view would be read-only in the user's hands.
    return out if out.shape == shape else np.broadcast_to(out, shape).copy()


def truncated_log_likelihood(
    family: Family,
    params: Mapping[str, np.ndarray],
    y: np.ndarray,
    log_density: np.ndarray,
    truncated: Truncation,
    bounds: Truncation | None,
) -> np.ndarray:
    """The log-likelihood of responses ``y`` of a truncated response: the family's
    ``log_density`` less the log probability of the rows' bounds; ``-inf`` outside them."""
    rows = _bounds(family, truncated, bounds)
    assert rows is not None
    mass = log_mass(family.name, dict(params), rows.low, rows.high)
    inside = (y >= rows.low) & (y <= rows.high)
    return np.where(inside, log_density - mass, -np.inf)


def category_counts(family: Family, levels: Any, y: Any, n_rows: int) -> np.ndarray:
    """``y`` of a multinomial family: a count of each category per row, checked."""
    levels = levels or ()
    values = np.asarray(y, dtype=float)
    if values.shape != (n_rows, len(levels)):
        raise DataError(
            f"y must hold a count of each of the {len(levels)} categories {list(levels)} "
            f"per row of data, shape ({n_rows}, {len(levels)}); got shape {values.shape}."
        )
    for j, level in enumerate(levels):
        family.check_response(values[:, j], None, f"y[:, {j}] ({level})")
    return values
