"""The records of a design, passive and frozen: what the design step makes and every later
stage reads (priors, the backend, prediction, files). The code that builds them lives in the
other modules of :mod:`bayesmm.design`; each record writes itself to JSON-ready values where
a file needs it (``to_dict``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._names import correlation_name, correlation_prior_name
from ..priors import ResponseStats
from .autocorrelation import NewSeries, SeriesRows
from .new_rows import NewDesign, NewGroup, NewImputation
from .weights import mean_sd

if TYPE_CHECKING:  # the state encodes new rows; a Design only holds it
    from .state import DesignState

__all__ = [
    "CENSORING_CODES",
    "Censoring",
    "GPBasis",
    "Imputation",
    "NewImputation",
    "Truncation",
    "KnownSD",
    "Offset",
    "Response",
    "CommonTerm",
    "GroupTerm",
    "GroupBlock",
    "Design",
    "Distributional",
    "NewGroup",
    "NewDesign",
    "column_levels",
]

#: Status words and their codes (brms's: -1 left, 0 none, 1 right, 2 interval).
CENSORING_CODES: Mapping[str, int] = {"none": 0, "left": -1, "right": 1, "interval": 2}


@dataclass(frozen=True)
class Censoring:
    """The censoring of each row of a response.

    Attributes
    ----------
    status : numpy.ndarray
        One code per row (``int8``): 0 observed, -1 left, 1 right, 2 interval censored.
    upper : numpy.ndarray
        The upper bound of interval-censored rows; the response itself in the other rows.
    """

    status: np.ndarray
    upper: np.ndarray

    def counts(self) -> dict[str, int]:
        """Rows of each status, by word, those with none left out."""
        found = {word: int(np.sum(self.status == code)) for word, code in CENSORING_CODES.items()}
        return {word: n for word, n in found.items() if n}


@dataclass(frozen=True)
class Truncation:
    """The bounds of a truncated response, ``trunc(y, lb=..., ub=...)``.

    Attributes
    ----------
    lower, upper : float, str or None
        Each bound as written: a number, the name of a column holding one per row, or
        ``None`` for no bound on that side.
    low, high : numpy.ndarray
        Each row's bounds (``-inf`` and ``inf`` where there is none); empty for the
        bounds as written alone (a design state's), see
        :func:`bayesmm.design.truncation.truncation_rows`.
    """

    lower: float | str | None
    upper: float | str | None
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns that hold bounds."""
        return tuple(b for b in (self.lower, self.upper) if isinstance(b, str))

    def describe(self) -> str:
        """The bounds in words, e.g. ``"lower bound 0, upper bound the column 'hi'"``."""
        words = []
        for side, bound in (("lower", self.lower), ("upper", self.upper)):
            if isinstance(bound, str):
                words.append(f"{side} bound the column {bound!r}")
            elif bound is not None:
                words.append(f"{side} bound {bound + 0.0:g}")  # + 0.0: never "-0"
        return ", ".join(words)


@dataclass(frozen=True)
class KnownSD:
    """The known standard errors of a response, ``se(yi, sei)`` (see
    :mod:`bayesmm.design.known_sd`).

    Attributes
    ----------
    column : str
        The column of the standard errors, ``sei``.
    sigma : bool
        Whether a residual sd is estimated besides them (``se(yi, sei, sigma=True)``).
    values : numpy.ndarray
        Each row's standard error; empty for the call as written alone (a design state's).
    """

    column: str
    sigma: bool = False
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def replaced(self) -> tuple[str, ...]:
        """The family's parameters the known spread takes the place of: no residual sigma
        is sampled, unless ``sigma``."""
        return () if self.sigma else ("sigma",)


@dataclass(frozen=True)
class GPBasis:
    """The basis of an ``hsgp()`` term (see :mod:`bayesmm.design.gps`).

    ``omega2`` holds the squared frequency of each of its ``m ** D`` columns (of one block:
    a ``by`` term repeats them per level in ``levels``); the kernel's spectral density there
    weights the columns' coefficients.
    """

    kernel: str
    m: int
    c: float
    half_range: tuple[float, ...]
    omega2: tuple[float, ...]
    levels: tuple[str, ...] = ()

    @property
    def dims(self) -> int:
        return len(self.half_range)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "kernel": self.kernel,
            "m": self.m,
            "c": self.c,
            "half_range": list(self.half_range),
            "omega2": list(self.omega2),
            "levels": list(self.levels),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> GPBasis:
        """The inverse of :meth:`to_dict`."""
        return cls(
            str(record["kernel"]),
            int(record["m"]),
            float(record["c"]),
            tuple(float(v) for v in record["half_range"]),
            tuple(float(v) for v in record["omega2"]),
            tuple(str(v) for v in record["levels"]),
        )


@dataclass(frozen=True)
class Offset:
    """The formula's offset terms and their sum on the training rows.

    Attributes
    ----------
    terms : tuple of str
        The terms as formulae names them, e.g. ``("offset(np.log(size))",)``.
    values : numpy.ndarray
        Their sum, one number per row.
    """

    terms: tuple[str, ...]
    values: np.ndarray


@dataclass(frozen=True)
class Response:
    """The encoded response.

    Attributes
    ----------
    name : str
        The response as written in the formula, e.g. ``"Reaction"`` or ``"p(incidence, size)"``.
    values : numpy.ndarray
        The response (successes for binomial responses), as floats.
    trials : numpy.ndarray or None
        Numbers of trials of a binomial response.
    event : str or None
        For binary responses, the event whose probability is modelled, e.g. ``"y == 'y'"``.
    censoring : Censoring or None
        For ``censored(...)`` responses, each row's status and upper bound
        (:mod:`bayesmm.design.censoring`).
    truncation : Truncation or None
        For ``trunc(...)`` responses, the bounds and each row's values of them
        (:mod:`bayesmm.design.truncation`).
    levels : tuple or None
        For the ordinal families (``cumulative``, ``sratio``): the categories in order;
        ``values`` then holds their codes ``0 .. K - 1``.
    """

    name: str
    values: np.ndarray
    trials: np.ndarray | None = None
    event: str | None = None
    levels: tuple[Any, ...] | None = None
    censoring: Censoring | None = None
    truncation: Truncation | None = None
    #: For ``se(y, sei)`` responses, each row's known standard error.
    known_sd: KnownSD | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of this response (:data:`bayesmm.design.kinds.TERM_KINDS`)."""
        present = (("censored", self.censoring), ("trunc", self.truncation))
        return tuple(name for name, part in (*present, ("se", self.known_sd)) if part is not None)

    def stats(
        self,
        scale: Callable[[np.ndarray], np.ndarray] | None = None,
        weights: np.ndarray | None = None,
    ) -> ResponseStats:
        """Mean and standard deviation (of the proportion, for binomial responses), of
        ``scale(y)`` when given (a family's ``prior_scale``); weighted by the observation
        ``weights`` when given (see :func:`bayesmm.design.weights.mean_sd`)."""
        y = self.values
        if y.ndim == 2:  # a multinomial's counts: the reference category's share
            y = y[:, 0]
        if self.trials is not None:
            y = np.divide(y, self.trials, out=np.zeros(len(y)), where=self.trials > 0)
        if scale is not None:
            y = scale(y)
        mean, sd = mean_sd(np.asarray(y, dtype=float), weights)
        return ResponseStats(mean=float(mean), sd=float(sd))


@dataclass(frozen=True)
class CommonTerm:
    """A common (population-level) term: a slice of columns of the common matrix.

    ``levels`` are the coordinate labels of a term with several columns (e.g. the non-reference
    levels of a factor); ``None`` for single-column terms.
    """

    name: str
    columns: tuple[str, ...]
    start: int
    stop: int
    levels: tuple[str, ...] | None = None
    #: For a monotonic effect ``mo(x)``: the labels of the upper value of each of its ``D``
    #: steps (its column holds the codes ``0 .. D``); ``None`` for other terms.
    steps: tuple[str, ...] | None = None
    #: For a smooth ``s(x)``: the ``(start, stop)`` column offsets, within the term, of
    #: each block of penalised columns (one per ``by`` level), whose coefficients share a
    #: prior sd; the other columns are linear trends. ``None`` for other terms.
    penalised: tuple[tuple[int, int], ...] | None = None
    #: For an approximate GP ``hsgp(x)``: its basis; ``None`` for other terms.
    gp: GPBasis | None = None
    #: For ``mi(x)``: the column ``x``, whose missing values are imputed; else ``None``.
    imputed: str | None = None
    #: For a term of a kind registered with :func:`bayesmm.design.kinds.register_term_kind`
    #: (read from the formula text): the kind's name; else ``None``.
    custom_kind: str | None = None
    #: That kind's options as written in the call, e.g. ``{"s": 2.0}`` (JSON values).
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """The term's kind (:data:`bayesmm.design.kinds.TERM_KINDS`): ``"s"``, ``"hsgp"``,
        ``"mo"``, ``"mi"``, a registered kind's name, or ``None`` for a plain column."""
        if self.custom_kind is not None:
            return self.custom_kind
        if self.penalised is not None:
            return "s"
        if self.gp is not None:
            return "hsgp"
        if self.steps is not None:
            return "mo"
        if self.imputed is not None:
            return "mi"
        return None

    @property
    def fixed_columns(self) -> tuple[int, ...]:
        """A smooth's unpenalised columns (its linear trends), as offsets within the term."""
        blocks = self.penalised or ()
        return tuple(
            j
            for j in range(self.stop - self.start)
            if not any(start <= j < stop for start, stop in blocks)
        )

    @property
    def is_intercept(self) -> bool:
        # By its column: a distributional formula's intercept is named "sigma_Intercept".
        return self.columns == ("Intercept",)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "name": self.name,
            "columns": list(self.columns),
            "start": self.start,
            "stop": self.stop,
            "levels": None if self.levels is None else list(self.levels),
            **({} if self.steps is None else {"steps": list(self.steps)}),
            **({} if self.penalised is None else {"penalised": [list(b) for b in self.penalised]}),
            **({} if self.gp is None else {"gp": self.gp.to_dict()}),
            **({} if self.imputed is None else {"imputed": self.imputed}),
            **({} if self.custom_kind is None else {"kind": self.custom_kind}),
            **({"options": dict(self.options)} if self.options else {}),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> CommonTerm:
        """The inverse of :meth:`to_dict`."""
        levels, steps, penalised = record["levels"], record.get("steps"), record.get("penalised")
        return cls(
            record["name"],
            tuple(record["columns"]),
            int(record["start"]),
            int(record["stop"]),
            None if levels is None else tuple(levels),
            None if steps is None else tuple(str(s) for s in steps),
            None if penalised is None else tuple((int(a), int(b)) for a, b in penalised),
            GPBasis.from_dict(record["gp"]) if record.get("gp") else None,
            record.get("imputed"),
            record.get("kind"),
            dict(record.get("options") or {}),
        )


@dataclass(frozen=True)
class GroupTerm:
    """A group-specific term ``expr | factor``, stored as a level index per row.

    Attributes
    ----------
    name : str
        E.g. ``"1|Subject"`` or ``"Days|Subject"``.
    expr : str
        The varying expression, ``"1"`` for intercepts.
    factor : str
        The grouping factor, e.g. ``"Subject"`` or ``"g1:g2"``.
    levels : tuple of str
        The observed levels of the factor, in order; position ``i`` is index ``i``.
    index : numpy.ndarray
        The level index of each row (``int32``).
    values : numpy.ndarray or None
        The predictor columns, shape ``(n, k)``; ``None`` for intercepts.
    columns : tuple of str
        Labels of the predictor columns.
    """

    name: str
    expr: str
    factor: str
    levels: tuple[str, ...]
    index: np.ndarray
    values: np.ndarray | None
    columns: tuple[str, ...]

    @property
    def is_intercept(self) -> bool:
        return self.values is None

    @property
    def expr_levels(self) -> tuple[str, ...] | None:
        """Coordinate labels of the columns when there are several."""
        return column_levels(self.expr, self.columns) if len(self.columns) > 1 else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: what the term is, without its per-row index and values."""
        return {
            "name": self.name,
            "expr": self.expr,
            "factor": self.factor,
            "levels": list(self.levels),
            "columns": list(self.columns),
        }

    @classmethod
    def from_dict(
        cls, record: Mapping[str, Any], index: np.ndarray, values: np.ndarray | None
    ) -> GroupTerm:
        """The inverse of :meth:`to_dict`, on the rows whose level ``index`` and predictor
        ``values`` are given (none, for a model saved without its training rows)."""
        return cls(
            record["name"],
            record["expr"],
            record["factor"],
            tuple(record["levels"]),
            index.astype(np.int32),
            values,
            tuple(record["columns"]),
        )


@dataclass(frozen=True)
class GroupBlock:
    """Group terms of one factor whose effects are correlated, e.g. ``(1 + Days | Subject)``.

    Their effects on each level follow one multivariate normal distribution, with a
    correlation matrix over all their columns (an LKJ prior, named :attr:`prior_name`).
    """

    factor: str
    terms: tuple[str, ...]
    prefix: str = ""  # the distributional parameter's, e.g. "sigma_" (see Distributional)

    @property
    def prior_name(self) -> str:
        """The key of the correlation matrix's prior, e.g. ``"Subject_corr"``."""
        return correlation_prior_name(self.prefix, self.factor)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {"factor": self.factor, "terms": list(self.terms), "prefix": self.prefix}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> GroupBlock:
        """The inverse of :meth:`to_dict`."""
        return cls(record["factor"], tuple(record["terms"]), record.get("prefix", ""))


def column_levels(term: str, columns: Sequence[str]) -> tuple[str, ...]:
    """Turn formulae's labels ``term[level]`` into the bare levels for coordinates."""
    prefix = term + "["
    if all(c.startswith(prefix) and c.endswith("]") for c in columns):
        return tuple(c[len(prefix) : -1] for c in columns)
    return tuple(columns)


@dataclass(frozen=True)
class Distributional:
    """An auxiliary parameter modelled by a formula of its own, e.g. ``sigma ~ x``.

    ``design`` encodes the formula's right-hand side on the same rows as the main design;
    its terms are named with the parameter as prefix (``sigma_Intercept``, ``sigma_x``,
    ``sigma_1|g``), so that they never clash with the main formula's. ``link`` names the link
    between the parameter and its linear predictor.
    """

    param: str
    formula: str
    link: str
    design: Design

    @property
    def prefix(self) -> str:
        return f"{self.param}_"


@dataclass(frozen=True)
class Imputation:
    """The model of an ``mi(x)`` column, ``x ~ z`` (gaussian, identity link): its design on
    every row (its terms named ``x_...``; the response holds a placeholder where ``x`` is
    missing) and the rows where ``x`` is missing, whose values are parameters."""

    column: str
    formula: str
    design: Design
    missing: np.ndarray

    @property
    def prefix(self) -> str:
        return f"{self.column}_"


@dataclass(frozen=True)
class Design:
    """Everything the model is built from, derived from the formula and the data.

    Attributes
    ----------
    formula : str
        The formula.
    response : Response
        The encoded response.
    common : numpy.ndarray
        The common design matrix, shape ``(n, p)``, including the intercept column if any.
    common_terms : tuple of CommonTerm
        The common terms, in formula order.
    group_terms : tuple of GroupTerm
        The group-specific terms, in formula order.
    blocks : tuple of GroupBlock
        The group terms with correlated effects (``(1 + x | g)``); the others are independent.
    n_dropped : int
        Rows removed because of missing values.
    state : DesignState or None
        What is needed to encode new data the same way.
    """

    formula: str
    response: Response
    common: np.ndarray
    common_terms: tuple[CommonTerm, ...]
    group_terms: tuple[GroupTerm, ...]
    n_dropped: int = 0
    state: DesignState | None = field(default=None, repr=False, compare=False)
    blocks: tuple[GroupBlock, ...] = ()
    distributional: tuple[Distributional, ...] = ()
    offset: Offset | None = None
    #: Observation weights (see :mod:`bayesmm.design.weights`) and the column of the training
    #: rows that has them.
    weights: np.ndarray | None = None
    weights_column: str | None = None
    #: The models of the ``mi()`` columns, in the order of their terms.
    imputed: tuple[Imputation, ...] = ()
    #: The rows' series of an ``ar()``/``cosy()`` term (:mod:`~bayesmm.design.autocorrelation`).
    series: SeriesRows | None = None

    @property
    def n_obs(self) -> int:
        return int(self.response.values.shape[0])

    @property
    def has_intercept(self) -> bool:
        return any(t.is_intercept for t in self.common_terms)

    def rows(self) -> NewDesign:
        """The training rows in the form :meth:`DesignState.encode` gives for new data."""
        groups = tuple(NewGroup(t.index.astype(np.int64), t.values, ()) for t in self.group_terms)
        return NewDesign(
            self.n_obs,
            self.common,
            groups,
            self.response.trials,
            tuple(d.design.rows() for d in self.distributional),
            offset=None if self.offset is None else self.offset.values,
            truncation=self.response.truncation,
            imputed=tuple(
                NewImputation(
                    next(t.start for t in self.common_terms if t.imputed == imp.column),
                    imp.missing,
                    imp.design.rows(),
                    np.arange(int(imp.missing.sum())),
                )
                for imp in self.imputed
            ),
            series=None if self.series is None else NewSeries.of_training(self.series),
        )

    def block_columns(self, block: GroupBlock) -> tuple[str, ...]:
        """A label for each column of a correlated block, e.g. ``("1|Subject", "Days|Subject")``.

        A term with several columns labels each as ``expr[level]|factor``.
        """
        labels = []
        for name in block.terms:
            term = next(t for t in self.group_terms if t.name == name)
            if term.expr_levels is None:
                labels.append(term.name)
            else:
                expr = term.name[: -len(term.factor) - 1]  # with a distributional prefix
                labels += [f"{expr}[{level}]|{term.factor}" for level in term.expr_levels]
        return tuple(labels)

    def correlation_names(self, block: GroupBlock) -> tuple[tuple[int, int, str], ...]:
        """``(i, j, name)`` of each correlation of a block, ``i < j``, in reading order.

        The name joins the two columns' labels: ``"1|Subject:Days|Subject_corr"``.
        """
        labels = self.block_columns(block)
        return tuple(
            (i, j, correlation_name(labels[i], labels[j]))
            for i in range(len(labels))
            for j in range(i + 1, len(labels))
        )

    def block_of(self, term: str) -> GroupBlock | None:
        """The correlated block that holds ``term``, if any."""
        return next((b for b in self.blocks if term in b.terms), None)

    def column_sd(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Standard deviation of each common column (``ddof=1``), weighted by the
        observation ``weights`` when given (see :func:`bayesmm.design.weights.mean_sd`)."""
        return np.asarray(mean_sd(self.common, weights)[1], dtype=float)
