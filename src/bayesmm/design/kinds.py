"""Kinds of model part: a name, and one piece per stage that needs it.

A kind of term is written as a call in a formula (``s(x)``, ``mo(x)``, ``mi(x)``); a kind of
group factor or of response is a way of writing those (``(1|g)``, ``censored(y, status)``).
Each stage keeps the pieces of the kinds it handles in a table of its own, keyed by the
kind's name:

- design, this module's :data:`TERM_KINDS`: how the call is read and encoded, and how its
  term is written to a file;
- scaling, :data:`bayesmm.scaling.default.PRIOR_PIECES`: the default priors;
- graph, ``bayesmm.backend.graph.terms.GRAPH_PIECES`` (and the likelihood's
  ``RESPONSE_PIECES``): its variables in the PyMC model;
- predict, :data:`bayesmm.predict.draws.DRAW_PIECES`: what prediction reads from the
  posterior;
- serve, :data:`bayesmm.serve.schemas.SCHEMA_PIECES`: its field in the request schema;
- display, :data:`bayesmm.display.DISPLAY_PIECES`: its lines in ``print(model)``.

A record declares the stages that have a piece of it (:attr:`TermKind.stages`), and a test
checks that each of them does. A stage a kind does not declare treats its terms as plain
ones: a plain slope with its prior, columns that formulae encodes again on new rows.

Kinds of one's own (:func:`register_term_kind`) are read from the formula's text before
formulae parses it, as ``bar_blocks`` reads ``||``: ``scaled(x, s=2)`` becomes the term
``scaled(x)``, whose options (``s=2``) the design keeps on the term. Such a record carries
its own pieces (its ``prior`` for scaling, ``describe`` for display) and is itself what
formulae calls for ``scaled(x)``. A file names it by import path (:attr:`TermKind.path`), and
loads it only under the trust rules of custom families (docs/io.md).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._errors import FormulaError
from .._validation import did_you_mean
from ..formula import find_calls
from .autocorrelation import read_series
from .group_calls import read_group_calls
from .known_sd import read_known_sd

if TYPE_CHECKING:
    from ..priors import Prior
    from .types import Design

__all__ = [
    "STAGES",
    "PARTS",
    "TermKind",
    "TERM_KINDS",
    "register_term_kind",
    "unregister_term_kind",
    "registered_kinds",
    "read_kind_calls",
    "formulae_text",
    "with_kinds",
]

#: The stages a kind may have a piece in, in the order a model goes through them.
STAGES = ("design", "scaling", "graph", "predict", "serve", "display")
#: What a kind is a kind of.
PARTS = ("column", "group", "response")


def _identity(x: Any) -> Any:
    return x


@dataclass(frozen=True)
class TermKind:
    """A kind of model part and the stages that have a piece of it.

    Parameters
    ----------
    name : str
        The call's name in a formula, e.g. ``"s"`` or ``"scaled"``.
    part : {"column", "group", "response"}, default "column"
        What it is a kind of.
    stages : tuple of str, default ("design",)
        The stages (:data:`STAGES`) with a piece of this kind.
    summary : str
        One line for the docs' table of kinds.
    options : mapping, default {}
        A registered kind's keyword options and their defaults (numbers), written in its
        call: ``scaled(x, s=2)``.
    function : callable, optional
        What formulae evaluates for a registered kind's ``name(x)``; ``x`` itself if omitted.
    prior : callable, optional
        A registered kind's scaling piece: ``prior(options, scale)`` is the default prior of
        its slope, ``scale`` the one a plain slope of that column would get (its sd).
    describe : callable, optional
        A registered kind's display piece: ``describe(options)``, one line for
        ``print(model)``.
    path : str, optional
        ``"module:name"``, where a registered kind's record can be imported from: the name a
        saved file holds.
    """

    name: str
    part: str = "column"
    stages: tuple[str, ...] = ("design",)
    summary: str = ""
    options: Mapping[str, float] = field(default_factory=dict)
    function: Callable[[Any], Any] | None = None
    prior: Callable[[Mapping[str, float], float], Prior] | None = None
    describe: Callable[[Mapping[str, float]], str] | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        where = f"TermKind {self.name!r}"
        if not self.name.isidentifier():
            raise FormulaError(f"{where}: name must be a Python identifier; got {self.name!r}.")
        if self.part not in PARTS:
            raise FormulaError(f"{where}: part must be one of {PARTS}; got {self.part!r}.")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown or "design" not in self.stages:
            raise FormulaError(
                f"{where}: stages must include 'design' and be among {STAGES}; got {self.stages!r}."
            )

    def __call__(self, x: Any) -> Any:
        """What formulae evaluates for ``name(x)``: ``function(x)``, or ``x``."""
        return (self.function or _identity)(x)

    @property
    def builtin(self) -> bool:
        """Whether bayesmm defines this kind (its pieces are in the stages' tables)."""
        return _BUILTIN.get(self.name) is self

    def own_piece(self, stage: str) -> Any:
        """A registered kind's own piece for ``stage``: its record for design, ``prior`` for
        scaling, ``describe`` for display; ``None`` otherwise."""
        return {"design": self, "scaling": self.prior, "display": self.describe}.get(stage)


_COLUMN_KINDS = (
    TermKind("s", stages=("design", "scaling", "graph"), summary="penalised smooth"),
    TermKind("hsgp", stages=("design", "scaling", "graph"), summary="approximate GP"),
    TermKind("mo", stages=("design", "scaling", "graph", "predict"), summary="monotonic effect"),
    TermKind(
        "mi",
        stages=("design", "graph", "serve"),
        summary="a predictor with missing values, imputed from its own model",
    ),
    TermKind("bs", summary="B-spline basis (formulae's), refused outside its knots"),
    TermKind("offset", stages=("design", "display"), summary="a term with coefficient 1"),
)
_OTHER_KINDS = (
    TermKind("factor", part="group", summary="a grouping factor, (terms | factor)"),
    TermKind(
        "censored",
        part="response",
        stages=("design", "display"),
        summary="censored(y, status[, upper]): left, right or interval censoring",
    ),
    TermKind(
        "trunc",
        part="response",
        stages=("design", "display"),
        summary="trunc(y, lb=, ub=): a truncated response",
    ),
    TermKind(
        "ar",
        part="response",
        stages=("design", "graph", "predict", "serve", "display"),
        summary="ar(time=t, gr=g, p=1): autoregressive residuals within series",
    ),
    TermKind(
        "cosy",
        part="response",
        stages=("design", "graph", "predict", "serve", "display"),
        summary="cosy(time=t, gr=g): equally correlated residuals within series",
    ),
    TermKind(
        "se",
        part="response",
        stages=("design", "graph", "predict", "serve", "display"),
        summary="se(yi, sei[, sigma=True]): a gaussian response with known standard errors",
    ),
)
_BUILTIN: dict[str, TermKind] = {k.name: k for k in (*_COLUMN_KINDS, *_OTHER_KINDS)}

#: Every kind by name: bayesmm's own, and those registered with :func:`register_term_kind`.
TERM_KINDS: dict[str, TermKind] = dict(_BUILTIN)


def register_term_kind(kind: TermKind) -> TermKind:
    """Make ``kind`` a call formulas can write (and return it).

    Raises
    ------
    FormulaError
        If its name is a built-in kind's, or another kind is registered under it.
    """
    if not isinstance(kind, TermKind):
        raise FormulaError(f"register_term_kind takes a TermKind; got {type(kind).__name__}.")
    if kind.name in _BUILTIN:
        raise FormulaError(f"{kind.name!r} is a built-in kind of term and cannot be replaced.")
    known = TERM_KINDS.get(kind.name)
    if known is not None and known != kind:
        raise FormulaError(
            f"Another kind of term is registered as {kind.name!r}; unregister it first "
            "(unregister_term_kind)."
        )
    if kind.part != "column":
        raise FormulaError(f"A registered kind is a kind of column; got part={kind.part!r}.")
    TERM_KINDS[kind.name] = kind
    return kind


def unregister_term_kind(name: str) -> None:
    """Forget the registered kind ``name`` (bayesmm's own cannot be)."""
    if name in _BUILTIN:
        raise FormulaError(f"{name!r} is a built-in kind of term and cannot be unregistered.")
    TERM_KINDS.pop(name, None)


def registered_kinds() -> dict[str, TermKind]:
    """The kinds registered with :func:`register_term_kind`, by name."""
    return {name: kind for name, kind in TERM_KINDS.items() if name not in _BUILTIN}


def _option(kind: TermKind, node: ast.keyword, call: str) -> tuple[str, float]:
    """One ``name=number`` option of a call, checked."""
    if node.arg not in kind.options:
        hint = did_you_mean(str(node.arg), list(kind.options))
        raise FormulaError(
            f"{call} has the option {node.arg}=, which {kind.name}() does not take; its options "
            f"are {sorted(kind.options)}.{hint}"
        )
    try:
        value = ast.literal_eval(node.value)
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormulaError(f"{call}: {node.arg}= must be a number; got {ast.unparse(node.value)}.")
    return str(node.arg), float(value)


def read_kind_calls(formula: str) -> tuple[str, dict[str, dict[str, float]]]:
    """``formula`` with each call of a registered kind written as its term (its options
    removed: ``scaled(x, s=2)`` becomes ``scaled(x)``), and each term's options (defaults
    filled in) by the term's text without spaces.

    Raises
    ------
    FormulaError
        For a call without exactly one column expression, an option the kind does not take,
        an option that is not a number, or one term written twice with different options.
    """
    kinds = registered_kinds()
    calls = find_calls(formula, list(kinds))
    found: dict[str, dict[str, float]] = {}
    pieces, at = [], 0
    for call in calls:
        kind, written = kinds[call.name], formula[call.start : call.stop]
        try:
            node = ast.parse(f"f({call.arguments})", mode="eval").body
        except SyntaxError:
            raise FormulaError(f"Could not read {written!r} in formula {formula!r}.") from None
        assert isinstance(node, ast.Call)
        if len(node.args) != 1:
            raise FormulaError(
                f"{written} in formula {formula!r} takes one column expression, then its "
                f"options by name ({', '.join(f'{k}=' for k in kind.options)}); got "
                f"{len(node.args)} expressions."
            )
        options = {**kind.options, **dict(_option(kind, k, written) for k in node.keywords)}
        term = f"{call.name}({ast.unparse(node.args[0])})"
        key = term.replace(" ", "")
        if found.get(key, options) != options:
            raise FormulaError(f"formula {formula!r} writes {term} twice with different options.")
        found[key] = options
        pieces += [formula[at : call.start], term]
        at = call.stop
    return "".join([*pieces, formula[at:]]), found


def formulae_text(formula: str) -> str:
    """``formula`` as formulae reads it: an ``se()`` response as its column, and the calls of
    registered kinds without their options, no residual structure (``ar()``), and each
    ``gr(g, ...)`` written ``g``."""
    return read_group_calls(read_kind_calls(read_series(read_known_sd(formula)[0])[0])[0])[0]


def with_kinds(
    design: Design, found: Mapping[str, Mapping[str, float]], prefix: str = ""
) -> Design:
    """``design`` with each term of a registered kind marked with it and its options (the
    terms of a distributional formula are named with a ``prefix``, ``sigma_``)."""
    if not found:
        return design
    terms = []
    for term in design.common_terms:
        text = term.name.removeprefix(prefix).replace(" ", "")
        options = found.get(text)
        if options is not None:
            term = replace(term, custom_kind=text.split("(", 1)[0], options=dict(options))
        terms.append(term)
    return replace(design, common_terms=tuple(terms))
