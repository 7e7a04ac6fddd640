"""``print(model)``: each formula, the family and its links, the data terms (offsets,
weights, censoring) and the priors of every formula, as text."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .design import Design, threshold_labels
from .families import Family
from .priors import Prior, PriorSet

if TYPE_CHECKING:  # model imports this module
    from .model import Model


def _describe(model: Model) -> str:
    design = model.design
    family = model.family.name
    if design.response.event is not None:
        family += f" (modelling the probability that {design.response.event})"
    family += _categories_text(design.response.levels, model.family)
    observations = str(design.n_obs)
    if design.n_dropped:
        observations += f" ({design.n_dropped} incomplete rows removed)"
    # A multinomial logit's copies of the formula (one per category) are not formulas of
    # auxiliary parameters: they show as targets only.
    aux = [d for d in design.distributional if d.param in model.family.aux_params]
    links = [f"{model.family.parent} = {model.link.name}"]
    links += [f"{d.param} = {d.link}" for d in aux]
    categories = model.family.categories
    predictors = (
        categories.predictor_names(design.response.levels)
        if categories is not None and design.response.levels is not None
        else ()
    )
    lines = [
        f"       Formula: {model.formula.main}",
        *(f"                {d.formula}" for d in aux),
        f"        Family: {family}",
        f"          Link: {', '.join(links)}",
        f"  Observations: {observations}",
        *_data_terms(design),
        "        Priors:",
        f"    target = {predictors[0] if predictors else model.family.parent}",
    ]
    lines += _prior_sections(model.priors, None)
    for part in design.distributional:
        lines.append(f"    target = {part.param}")
        lines += _prior_sections(model.priors, part.param)
    return "\n".join(lines).rstrip() + "\n"


def _categories_text(levels: tuple[Any, ...] | None, family: Family) -> str:
    """For a family of categories: its categories and, for an ordinal one, its thresholds."""
    if levels is None or family.categories is None:
        return ""
    if family.categories.counts:
        return (
            f"\n    Categories: {', '.join(map(str, levels))} (a column of counts each); "
            f"{levels[0]} is the reference, each other category has its linear predictor"
        )
    if not family.categories.ordinal:
        return (
            f"\n    Categories: {', '.join(map(str, levels))} (codes 0-{len(levels) - 1}); "
            f"{levels[0]} is the reference, each other category has its linear predictor"
        )
    return (
        f"\n    Categories: {' < '.join(map(str, levels))} (codes 0-{len(levels) - 1})"
        f"\n    Thresholds: {', '.join(threshold_labels(levels))}, in place of the "
        "intercept; factors keep their coding against a reference level"
    )


def _data_terms(design: Design) -> list[str]:
    """Lines of the summary for what enters the likelihood as data: offsets, weights and
    censoring."""
    lines = []
    if design.offset is not None:
        lines.append(f"        Offset: {' + '.join(design.offset.terms)} (coefficient 1)")
    if design.weights_column is not None:
        lines.append(f"       Weights: {design.weights_column}")
    censoring = design.response.censoring
    if censoring is not None:
        counts = ", ".join(f"{n} {word}" for word, n in censoring.counts().items())
        lines.append(f"     Censoring: {counts}")
    return lines


def _prior_sections(priors: PriorSet, param: str | None) -> list[str]:
    """The priors of the main formula (``param=None``) or of one distributional formula."""
    sections = [
        ("Common-level effects", ("intercept", "common")),
        ("Group-level effects", ("group",)),
        ("Correlations of group-level effects", ("correlation",)),
        ("Auxiliary parameters", ("auxiliary",)),
    ]
    lines = []
    for title, kinds in sections:
        terms = [t for t in priors.of_kind(*kinds) if t.param == param]
        if not terms:
            continue
        lines.append(f"        {title}")
        lines.extend(f"            {t.name} ~ {_prior_text(t.prior)}" for t in terms)
        lines.append("")
    return lines


def _prior_text(prior: Prior | float) -> str:
    return repr(prior) if isinstance(prior, Prior) else repr(float(prior))
