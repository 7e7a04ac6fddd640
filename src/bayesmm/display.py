"""``print(model)`` and a notebook's display of a model and of a fitted model: each formula,
the family and its links, the data terms (offsets, weights, censoring), the priors of every
formula, and a fitted model's posterior; and the plot of draws from the priors.

Every function takes explicit arguments (a formula, a family, a design, priors), never a
``Model``. One structured summary (:func:`model_summary`) feeds both the text and the HTML,
so that the two never disagree."""

from __future__ import annotations

import html
import itertools
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .design import TERM_KINDS, Design
from .families import Family
from .formula import Formula
from .links import Link
from .priors import Prior, PriorSet

__all__ = [
    "ModelSummary",
    "model_summary",
    "model_text",
    "model_html",
    "fitted_text",
    "fitted_html",
    "plot_prior_draws",
    "DISPLAY_PIECES",
]

#: The width of the right-aligned labels of the text summary.
_LABEL_WIDTH = 14
_PRIOR_SECTIONS = (
    # ... and the priors of terms of registered kinds, by their kind's name (_prior_sections).
    ("Common-level effects", ("intercept", "common", "monotonic", "smooth", "gp")),
    ("Group-level effects", ("group",)),
    ("Correlations of group-level effects", ("correlation",)),
    ("Auxiliary parameters", ("auxiliary", "imputation", "autocorrelation")),
)


@dataclass(frozen=True)
class _Field:
    """One labelled entry of the summary; a value of several lines (the formulas) is a
    tuple of lines."""

    label: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _PriorSection:
    """The priors of one kind of term, as ``(term, prior)`` pairs of text."""

    title: str
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Target:
    """The priors of one linear predictor: the main formula's or a distributional one's."""

    name: str
    sections: tuple[_PriorSection, ...]


@dataclass(frozen=True)
class ModelSummary:
    """What a model is, as text pieces: labelled fields, then the priors of each target."""

    fields: tuple[_Field, ...]
    targets: tuple[_Target, ...]


def model_summary(
    formula: Formula, family: Family, link: Link, design: Design, priors: PriorSet
) -> ModelSummary:
    """What a model is, as text pieces shared by ``print(model)`` and its HTML display."""
    name = family.name
    if design.response.event is not None:
        name += f" (modelling the probability that {design.response.event})"
    observations = str(design.n_obs)
    if design.n_dropped:
        observations += f" ({design.n_dropped} incomplete rows removed)"
    # A multinomial logit's copies of the formula (one per category) are not formulas of
    # auxiliary parameters: they show as targets only.
    aux = [d for d in design.distributional if d.param in family.aux_params]
    links = [f"{family.parent} = {link.name}"]
    links += [f"{d.param} = {d.link}" for d in aux]
    levels = design.response.levels
    categories = family.describe_categories(levels)
    predictors = family.predictor_names(levels)
    fields = [
        _Field("Formula", (str(formula.main), *(str(d.formula) for d in aux))),
        _Field("Family", (name,)),
        *(_Field(label, (text,)) for label, text in categories),
        _Field("Link", (", ".join(links),)),
        _Field("Observations", (observations,)),
        *_data_terms(design),
    ]
    targets = [
        _Target(
            str(predictors[0]) if predictors else family.parent,
            _prior_sections(priors, None),
        )
    ]
    targets += [
        _Target(part.param, _prior_sections(priors, part.param)) for part in design.distributional
    ]
    targets += [  # the models of mi() columns
        _Target(f"{i.column} (imputed)", _prior_sections(priors, i.column)) for i in design.imputed
    ]
    return ModelSummary(tuple(fields), tuple(targets))


def model_text(summary: ModelSummary) -> str:
    """``print(model)``: the summary as aligned text."""
    lines = []
    for field in summary.fields:
        first, *rest = field.lines
        lines.append(f"{field.label:>{_LABEL_WIDTH}}: {first}")
        lines.extend(" " * (_LABEL_WIDTH + 2) + line for line in rest)
    lines.append(f"{'Priors':>{_LABEL_WIDTH}}:")
    for target in summary.targets:
        lines.append(f"    target = {target.name}")
        for section in target.sections:
            lines.append(f"        {section.title}")
            lines.extend(f"            {name} ~ {prior}" for name, prior in section.rows)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def model_html(summary: ModelSummary) -> str:
    """A notebook's display of a model: the summary as two compact tables."""
    rows = [
        _html_row(f.label, "<br>".join(_code(line) for line in f.lines)) for f in summary.fields
    ]
    priors = []
    for target in summary.targets:
        priors.append(f'<tr><th colspan="2" {_LEFT}>target = {_code(target.name)}</th></tr>')
        for section in target.sections:
            priors.append(f'<tr><td colspan="2" {_LEFT}><em>{_esc(section.title)}</em></td></tr>')
            priors.extend(
                f"<tr><td {_LEFT}>{_code(name)}</td><td {_LEFT}>{_code(prior)}</td></tr>"
                for name, prior in section.rows
            )
    return (
        '<div class="bayesmm-model">'
        f"<strong>bayesmm.Model</strong>{_html_table(rows)}"
        f"<strong>Priors</strong>{_html_table(priors)}</div>"
    )


def _offset_field(design: Design) -> list[_Field]:
    if design.offset is None:
        return []
    return [_Field("Offset", (f"{' + '.join(design.offset.terms)} (coefficient 1)",))]


def _censoring_field(design: Design) -> list[_Field]:
    censoring = design.response.censoring
    if censoring is None:
        return []
    return [_Field("Censoring", (", ".join(f"{n} {w}" for w, n in censoring.counts().items()),))]


def _truncation_field(design: Design) -> list[_Field]:
    truncation = design.state.truncation if design.state is not None else None
    return [] if truncation is None else [_Field("Truncation", (truncation.describe(),))]


def _known_sd_field(design: Design) -> list[_Field]:
    known = design.state.known_sd if design.state is not None else None
    if known is None:
        return []
    extra = ", plus a residual sigma" if known.sigma else " (no residual sigma)"
    return [_Field("Known SDs", (f"{known.column}{extra}",))]


def _series_field(design: Design) -> list[_Field]:
    series = design.state.series if design.state is not None else None
    if series is None:
        return []
    line = f"{series.term.call}: {len(series.labels)} series, {int(series.length.sum())} rows"
    return [_Field("Residuals", (line,))]


#: The display stage's table of kinds (:data:`bayesmm.design.kinds.TERM_KINDS`): each kind's
#: lines in ``print(model)``, ``piece(design) -> [field, ...]``; a registered kind's own
#: ``describe(options)`` gives one line per term of it (:func:`_kind_terms`).
DISPLAY_PIECES: dict[str, Callable[[Design], list[_Field]]] = {
    "offset": _offset_field,
    "censored": _censoring_field,
    "trunc": _truncation_field,
    "se": _known_sd_field,
    "ar": _series_field,
    "cosy": _series_field,
}


def _kind_terms(design: Design) -> list[_Field]:
    """A line for each term of a registered kind, by its record's ``describe``."""
    lines = []
    for term in design.common_terms:
        kind = TERM_KINDS.get(term.kind or "")
        if kind is not None and kind.describe is not None and kind.name not in DISPLAY_PIECES:
            lines.append(f"{term.name}: {kind.describe(dict(term.options))}")
    return [_Field("Terms", tuple(lines))] if lines else []


def _data_terms(design: Design) -> list[_Field]:
    """What enters the likelihood as data: offsets, weights, censoring and truncation; and
    the terms of registered kinds."""
    fields = DISPLAY_PIECES["offset"](design)
    if design.weights_column is not None:
        fields.append(_Field("Weights", (str(design.weights_column),)))
    for kind in ("censored", "trunc", "se", "ar"):  # the response's kinds (ar: cosy too)
        fields += DISPLAY_PIECES[kind](design)
    return fields + _kind_terms(design)


def _prior_sections(priors: PriorSet, param: str | None) -> tuple[_PriorSection, ...]:
    """The priors of the main formula (``param=None``) or of one distributional formula."""
    sections = []
    for title, kinds in _PRIOR_SECTIONS:
        if title == "Common-level effects":
            kinds = (*kinds, *(k for k in TERM_KINDS if k not in kinds))
        terms = [t for t in priors.of_kind(*kinds) if t.param == param]
        if terms:
            rows = tuple((t.name, _prior_text(t.prior)) for t in terms)
            sections.append(_PriorSection(title, rows))
    return tuple(sections)


def _prior_text(prior: Prior | float) -> str:
    return repr(prior) if isinstance(prior, Prior) else repr(float(prior))


# --- HTML pieces, shared with FittedModel's display ------------------------------------------

_LEFT = 'style="text-align:left"'


def _esc(value: object) -> str:
    """Text for HTML: column names and levels are the user's, and may hold ``<`` or ``&``."""
    return html.escape(str(value))


def _code(value: object) -> str:
    return f"<code>{_esc(value)}</code>"


def _html_row(label: str, cell: str) -> str:
    """A labelled row; ``cell`` is HTML already escaped."""
    return f'<tr><th style="text-align:right">{_esc(label)}</th><td {_LEFT}>{cell}</td></tr>'


def _html_table(rows: Sequence[str], head: str = "") -> str:
    return f"<table>{head}{''.join(rows)}</table>"


# --- FittedModel ----------------------------------------------------------------------------

#: At most this many draws enter the posterior table (the display must stay instant).
_MAX_DRAWS = 2000
#: Rows of the posterior table; a larger model's further terms are counted, not shown.
_MAX_ROWS = 50


def plot_prior_draws(idata: Any, names: Sequence[str], **kwargs: Any) -> Any:
    """``Model.plot_priors``: the ``prior`` group of ``idata`` plotted by
    ``arviz.plot_posterior``, one panel per parameter of ``names`` (and per level of a
    multi-column term); ``kwargs`` (``hdi_prob``, ``figsize``, ``ax``, ...) go to it."""
    import arviz as az  # on first use: importing bayesmm loads neither arviz nor matplotlib

    return az.plot_posterior(idata, group="prior", var_names=list(names), **kwargs)


def fitted_text(formula: str, family: Family, link: Link, posterior: xr.Dataset) -> str:
    """``repr(fitted)``: the formula, family, link and the posterior's chains and draws."""
    sizes = posterior.sizes
    return (
        f"FittedModel({formula!r}, family={family.name!r}, link={link.name!r}, "
        f"chains={sizes['chain']}, draws={sizes['draw']})"
    )


def fitted_html(
    design: Design,
    family: Family,
    link: Link,
    posterior: xr.Dataset,
    sample_stats: xr.Dataset | None,
    fixed: Mapping[str, float],
    attrs: Mapping[str, Any],
) -> str:
    """A notebook's display of a fitted model: its formulas, family, links and sampler, and a
    table of the posterior of its common terms and auxiliary parameters.

    Whatever is missing from the posterior is left out: a display must never fail.
    """
    aux = [p for p in design.distributional if p.param in family.aux_params]
    modelled = {part.param for part in design.distributional}
    names = [t.name for t in design.common_terms]
    for part in design.distributional:
        names += [t.name for t in part.design.common_terms]
    names += [a for a in family.aux_params if a not in modelled]
    links = [f"{family.parent} = {link.name}", *(f"{part.param} = {part.link}" for part in aux)]
    fields = [("Family", family.name), ("Link", ", ".join(links))]
    if attrs.get("inference_method"):
        fields.append(("Sampler", str(attrs["inference_method"])))
    formulas = [str(design.formula), *(str(part.formula) for part in aux)]
    chains, draws = posterior.sizes.get("chain", 0), posterior.sizes.get("draw", 0)
    rows = [_html_row("Formula", "<br>".join(_code(f) for f in formulas))]
    rows += [_html_row(label, _esc(text)) for label, text in fields]
    rows.append(_html_row("Draws", f"{chains} chains &times; {draws} draws"))
    if sample_stats is not None and "diverging" in sample_stats:
        divergent = int(np.asarray(sample_stats["diverging"].values).sum())
        rows.append(_html_row("Divergences", str(divergent)))
    parts = ['<div class="bayesmm-fitted">', "<strong>bayesmm.FittedModel</strong>"]
    parts.append(_html_table(rows))
    table = _posterior_table(posterior, names, fixed)
    if table:
        parts.append(f"<strong>Posterior</strong>{table}")
    parts.append("</div>")
    return "".join(parts)


def _posterior_table(
    posterior: xr.Dataset, names: Sequence[str], fixed: Mapping[str, float]
) -> str:
    stats = ("mean", "sd", "5%", "95%")
    rhat = _rhat_function()
    header = "".join(f"<th>{s}</th>" for s in (*stats, *(("R-hat",) if rhat else ())))
    rows: list[str] = []
    hidden = 0
    for name in names:
        if name in fixed:
            cells = f'<td colspan="{len(stats) + bool(rhat)}" {_LEFT}>fixed at {fixed[name]:g}</td>'
            rows.append(f"<tr><td {_LEFT}>{_code(name)}</td>{cells}</tr>")
            continue
        for label, values in _variable_draws(posterior, name):
            if len(rows) >= _MAX_ROWS:
                hidden += 1
                continue
            flat = values.reshape(-1)
            q5, q95 = np.quantile(flat, [0.05, 0.95])
            numbers = [flat.mean(), flat.std(ddof=1) if flat.size > 1 else np.nan, q5, q95]
            if rhat is not None:
                numbers.append(rhat(values))
            cells = "".join(f'<td style="text-align:right">{v:.4g}</td>' for v in numbers)
            rows.append(f"<tr><td {_LEFT}>{_code(label)}</td>{cells}</tr>")
    if not rows:
        return ""
    if hidden:
        rows.append(f'<tr><td colspan="6" {_LEFT}>... and {hidden} more</td></tr>')
    return _html_table(rows, head=f"<tr><th></th>{header}</tr>")


def _variable_draws(posterior: xr.Dataset, name: str) -> list[tuple[str, np.ndarray]]:
    """Each element of a posterior variable: its label and its ``(chain, draw)`` values,
    thinned to at most ``_MAX_DRAWS`` draws in all."""
    if name not in posterior:
        return []
    var = posterior[name]
    if "chain" not in var.dims or "draw" not in var.dims:
        return []
    var = var.transpose("chain", "draw", ...)
    step = max(1, -(-var.shape[0] * var.shape[1] // _MAX_DRAWS))
    values = np.asarray(var.values[:, ::step], dtype=float)
    if values.size == 0:
        return []
    extra = var.dims[2:]
    if not extra:
        return [(name, values)]
    coords = [var[d].values if d in var.coords else np.arange(var.sizes[d]) for d in extra]
    flat = values.reshape(*values.shape[:2], -1)
    labels = [f"{name}[{', '.join(str(c) for c in combo)}]" for combo in itertools.product(*coords)]
    return [(label, flat[:, :, j]) for j, label in enumerate(labels)]


def _rhat_function() -> Callable[[np.ndarray], float] | None:
    """ArviZ's R-hat where ArviZ is loaded already (any fit loads it); importing it only for
    a display would take seconds."""
    az = sys.modules.get("arviz")
    if az is None:
        return None

    def rhat(values: np.ndarray) -> float:
        if values.shape[0] < 2:
            return float("nan")
        # Too few draws, or constant ones, give NaN (or an error in some ArviZ versions).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return float(az.rhat(values))
            except Exception:
                return float("nan")

    return rhat
