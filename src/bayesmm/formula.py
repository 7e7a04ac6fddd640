"""Formulas: parsing lme4-style formulas with formulae, with errors that quote the formula."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ._errors import FormulaError

__all__ = [
    "Formula",
    "MvFormula",
    "as_formula",
    "is_multivariate",
    "parse_formula",
    "BarBlock",
    "bar_blocks",
    "CallText",
    "find_calls",
]

#: ``mvbind(y1, y2) ~ ...``: several responses with the same right-hand side.
_MVBIND = re.compile(r"^\s*mvbind\s*\((.*)\)\s*$", re.DOTALL)

#: ``mi(x)``: a predictor whose missing values are imputed from a model of their own.
_MI = re.compile(r"\bmi\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\)")


@dataclass(frozen=True, init=False)
class Formula:
    """A model formula, with optional formulas for the family's auxiliary parameters.

    Parameters
    ----------
    main : str
        The formula of the response, in lme4 syntax.
    *additional : str
        Distributional formulas, one per auxiliary parameter, e.g. ``"sigma ~ x"``: the
        parameter varies with the terms on the right, through its own link (see
        ``docs/formulas.md``).

    Examples
    --------
    >>> Formula("y ~ x + (1|g)")
    Formula('y ~ x + (1|g)')
    >>> Formula("y ~ x", "sigma ~ x").additional
    ('sigma ~ x',)
    """

    main: str
    additional: tuple[str, ...]

    def __init__(self, main: str | Formula, *additional: str) -> None:
        if isinstance(main, Formula):  # Formula(Formula("y ~ x", "sigma ~ z")) keeps both
            additional = (*main.additional, *additional)
        object.__setattr__(self, "main", _check_formula_string(main))
        if _MVBIND.match(self.main.split("~", 1)[0]):
            raise FormulaError(
                f"{self.main!r} has several responses: write it as "
                f"bmm.MvFormula({self.main!r}, ...), or pass the string to bmm.Model."
            )
        object.__setattr__(self, "additional", tuple(_check_additional(f) for f in additional))
        calls = len(re.findall(r"\bmi\(", self.terms_of(self.main)))
        if calls > len(_MI.findall(self.terms_of(self.main))):
            raise FormulaError(
                f"mi() takes one column name, e.g. 'y ~ mi(x) + z'; {self.main!r} gives it "
                "something else (transform the column before, in the data)."
            )
        params = [self.param_of(f) for f in self.additional]
        repeated = sorted({p for p in params if params.count(p) > 1})
        if repeated:
            raise FormulaError(
                f"Each auxiliary parameter takes one formula; got several for {repeated}."
            )

    @staticmethod
    def param_of(formula: str) -> str:
        """The parameter a distributional formula models, e.g. ``"sigma"``."""
        return formula.split("~", 1)[0].strip()

    @staticmethod
    def terms_of(formula: str) -> str:
        """The right-hand side of a formula."""
        return formula.split("~", 1)[1].strip()

    @property
    def missing(self) -> tuple[str, ...]:
        """The columns the main formula imputes, ``mi(x)``, in order."""
        return tuple(dict.fromkeys(_MI.findall(self.terms_of(self.main))))

    @property
    def distributional(self) -> dict[str, str]:
        """Each modelled auxiliary parameter and the right-hand side of its formula (the
        formulas of imputed columns, ``x ~ z`` for ``mi(x)``, are not among them)."""
        imputed = set(self.missing)
        return {
            self.param_of(f): self.terms_of(f)
            for f in self.additional
            if self.param_of(f) not in imputed
        }

    @property
    def imputation(self) -> dict[str, str]:
        """Each imputed column and the right-hand side of its model, ``{"x": "z"}`` for
        ``Formula("y ~ mi(x)", "x ~ z")``.

        Raises
        ------
        FormulaError
            If an ``mi()`` column has no model, or is the response.
        """
        models = {self.param_of(f): self.terms_of(f) for f in self.additional}
        response = self.main.split("~", 1)[0].strip()

        for column in self.missing:
            if column == response:
                raise FormulaError(
                    f"mi({column}) imputes a predictor, and {column!r} is the response of "
                    f"{self.main!r}; missing responses are dropped (dropna=True), not imputed."
                )
            if column in models and re.search(rf"\b{re.escape(column)}\b", models[column]):
                raise FormulaError(
                    f"The model of the imputed column {column!r}, '{column} ~ {models[column]}', "
                    f"uses {column!r} itself; model it with the other columns."
                )
            if column not in models:
                raise FormulaError(
                    f"mi({column}) needs a model of {column!r} to impute it from: add "
                    f"'{column} ~ ...' to the Formula, e.g. "
                    f"bmm.Formula({self.main!r}, '{column} ~ 1')."
                )
        return {column: models[column] for column in self.missing}

    @property
    def response(self) -> str:
        """The left-hand side of the main formula, as written."""
        return self.main.split("~", 1)[0].strip()

    def __add__(self, other: Formula | MvFormula) -> MvFormula:
        """``Formula("y1 ~ x") + Formula("y2 ~ z")``: a multivariate formula."""
        if not isinstance(other, Formula | MvFormula):
            return NotImplemented
        return MvFormula(self, other)

    def __str__(self) -> str:
        return ", ".join((self.main, *self.additional))

    def __repr__(self) -> str:
        return f"Formula({', '.join(repr(f) for f in (self.main, *self.additional))})"


@dataclass(frozen=True, init=False)
class MvFormula:
    """The formulas of a multivariate model: one :class:`Formula` per response, each with
    its own distributional formulas.

    Parameters
    ----------
    *formulas : Formula, MvFormula or str
        Two or more formulas with different responses; or one ``"mvbind(y1, y2) ~ rhs"``
        string, followed by distributional formulas, which gives each response the same
        right-hand side and distributional formulas. ``Formula(...) + Formula(...)`` makes
        one too.

    Raises
    ------
    FormulaError
        For fewer than two responses, a response given twice, or an ``mvbind()`` whose
        responses are not plain column names.

    Examples
    --------
    >>> MvFormula("mvbind(y1, y2) ~ x + (1|g)").responses
    ('y1', 'y2')
    >>> (Formula("y1 ~ x") + Formula("y2 ~ z", "sigma ~ w")).formulas[1]
    Formula('y2 ~ z', 'sigma ~ w')
    """

    formulas: tuple[Formula, ...]

    def __init__(self, *formulas: Formula | MvFormula | str) -> None:
        if formulas and isinstance(formulas[0], str) and _is_mvbind(formulas[0]):
            found = _mvbind(formulas[0], formulas[1:])
        else:
            found = []
            for formula in formulas:
                if isinstance(formula, MvFormula):
                    found += formula.formulas
                elif isinstance(formula, str) and _is_mvbind(formula):
                    found += _mvbind(formula, ())
                else:
                    found.append(formula if isinstance(formula, Formula) else Formula(formula))
        responses = [f.response for f in found]
        if len(found) < 2:
            raise FormulaError(
                f"A multivariate formula needs two or more responses; got {responses}. "
                "Use bmm.Formula for one response."
            )
        repeated = sorted({r for r in responses if responses.count(r) > 1})
        if repeated:
            raise FormulaError(f"Each response takes one formula; got several for {repeated}.")
        object.__setattr__(self, "formulas", tuple(found))

    @property
    def responses(self) -> tuple[str, ...]:
        """The responses, in order."""
        return tuple(f.response for f in self.formulas)

    def by_response(self) -> dict[str, Formula]:
        """Each response's formula."""
        return dict(zip(self.responses, self.formulas, strict=True))

    def __add__(self, other: Formula | MvFormula) -> MvFormula:
        if not isinstance(other, Formula | MvFormula):
            return NotImplemented
        return MvFormula(self, other)

    def __str__(self) -> str:
        return " + ".join(f"({f})" for f in self.formulas)

    def __repr__(self) -> str:
        return " + ".join(repr(f) for f in self.formulas)


def _is_mvbind(formula: str) -> bool:
    return "~" in formula and _MVBIND.match(formula.split("~", 1)[0]) is not None


def _mvbind(formula: str, additional: tuple[Any, ...]) -> list[Formula]:
    """``mvbind(y1, y2) ~ rhs``: one formula per response, each with ``additional``."""
    lhs, rhs = formula.split("~", 1)
    match = _MVBIND.match(lhs)
    assert match is not None
    names = [name.strip() for name in match.group(1).split(",")]
    bad = [name for name in names if not name.isidentifier()]
    if bad or not match.group(1).strip():
        raise FormulaError(
            f"mvbind() takes plain column names, e.g. 'mvbind(y1, y2) ~ x'; {formula!r} "
            f"gives it {bad or [match.group(1)]} (transform the columns before, in the data)."
        )
    if len(names) < 2:
        raise FormulaError(
            f"mvbind() binds two or more responses; {formula!r} gives it {names}. Use "
            f"bmm.Formula('{names[0]} ~{rhs}') for one response."
        )
    if any(isinstance(f, Formula | MvFormula) for f in additional):
        raise FormulaError(
            "After an mvbind() formula come distributional formulas such as 'sigma ~ x', "
            "which each response gets; add other responses' Formulas with '+'."
        )
    return [Formula(f"{name} ~{rhs}", *additional) for name in names]


def as_formula(formula: str | Formula | MvFormula) -> Formula | MvFormula:
    """``formula`` as a :class:`Formula`, or an :class:`MvFormula` for ``mvbind()``."""
    if isinstance(formula, Formula | MvFormula):
        return formula
    if isinstance(formula, str) and _is_mvbind(formula):
        return MvFormula(formula)
    return Formula(formula)


def is_multivariate(formula: Any) -> bool:
    """Whether ``formula`` (a string, ``Formula`` or ``MvFormula``) has several responses."""
    return isinstance(formula, str | MvFormula) and isinstance(as_formula(formula), MvFormula)


def _check_additional(formula: Any) -> str:
    text = _check_formula_string(formula)
    param = Formula.param_of(text)
    if not param.isidentifier():
        raise FormulaError(
            f"A distributional formula must name an auxiliary parameter before '~', e.g. "
            f"'sigma ~ x'; got {text!r}."
        )
    if not Formula.terms_of(text):
        raise FormulaError(f"formula {text!r} has no terms after '~'; use '{param} ~ 1'.")
    return text


def _check_formula_string(formula: Any) -> str:
    if isinstance(formula, Formula):
        return formula.main
    if not isinstance(formula, str):
        raise FormulaError(
            f"formula must be a string such as 'y ~ x + (1|g)'; got {type(formula).__name__}."
        )
    if not formula.strip():
        raise FormulaError("formula must not be empty; got ''. Write it as 'y ~ x + (1|g)'.")
    if "~" not in formula:
        raise FormulaError(
            f"formula {formula!r} has no '~'. Write the response on the left: 'y ~ x + (1|g)'."
        )
    lhs = formula.split("~", 1)[0]
    if not lhs.strip():
        raise FormulaError(
            f"formula {formula!r} has no response before '~'. Write it as 'y ~ x + (1|g)'."
        )
    _check_bars(formula)
    return formula


def _check_bars(formula: str) -> None:
    """Group-specific terms must be parenthesised; formulae silently drops a bare ``| g``."""
    depth = 0
    for position, char in enumerate(formula):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FormulaError(_pointer(formula, position, "unmatched ')'"))
        elif char == "|" and depth == 0:
            raise FormulaError(
                _pointer(
                    formula,
                    position,
                    "'|' outside parentheses; write group-specific terms as '(x | g)'",
                )
            )
    if depth > 0:
        raise FormulaError(_pointer(formula, formula.rfind("("), "unmatched '('"))


@dataclass(frozen=True)
class BarBlock:
    """One parenthesised group-specific block of a formula, e.g. ``(1 + Days | Subject)``.

    ``correlated`` is false for ``||`` blocks, whose effects are independent (as in lme4).
    """

    expr: str
    factor: str
    correlated: bool


def bar_blocks(formula: str) -> tuple[BarBlock, ...]:
    """The group-specific blocks of ``formula``, in order.

    formulae splits ``(1 + x | g)`` into the terms ``1|g`` and ``x|g`` and forgets that they
    were written together; lme4's semantics need the blocks, so they are read here.
    """
    blocks = []
    opened: list[int] = []
    bars: dict[int, int] = {}  # the position of a block's '(' -> the position of its bar
    position = 0
    while position < len(formula):
        char = formula[position]
        if char == "(":
            opened.append(position)
        elif char == ")" and opened:
            start = opened.pop()
            if start in bars:
                bar = bars[start]
                double = formula.startswith("||", bar)
                blocks.append(
                    BarBlock(
                        formula[start + 1 : bar].strip(),
                        formula[bar + (2 if double else 1) : position].strip(),
                        not double,
                    )
                )
        elif char == "|" and opened and opened[-1] not in bars:
            bars[opened[-1]] = position
            if formula.startswith("||", position):
                position += 1
        position += 1
    return tuple(blocks)


@dataclass(frozen=True)
class CallText:
    """A call found in a formula's text: ``text[start:stop]`` is ``name(arguments)``."""

    name: str
    start: int
    stop: int
    arguments: str


def find_calls(formula: str, names: Collection[str]) -> tuple[CallText, ...]:
    """The calls of the functions ``names`` in ``formula``, in order, outermost only.

    A call is a name not preceded by a letter, digit, ``_`` or ``.`` (so ``np.scaled(x)`` is
    not ``scaled``), then ``(``, its arguments and the matching ``)``. Used to read the calls
    formulae cannot evaluate (a kind of term's options, say) before formulae sees the text.

    Raises
    ------
    FormulaError
        If a call's parenthesis is never closed.
    """
    if not names:
        return ()
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")\s*\(")
    found: list[CallText] = []
    position = 0
    while match := pattern.search(formula, position):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(formula)):
            depth += {"(": 1, ")": -1}.get(formula[end], 0)
            if depth == 0:
                break
        if depth:
            raise FormulaError(
                _pointer(formula, match.start(), f"{match.group(1)}( is never closed")
            )
        found.append(CallText(match.group(1), match.start(), end + 1, formula[match.end() : end]))
        position = end + 1
    return tuple(found)


def _pointer(formula: str, position: int, what: str) -> str:
    return f"Invalid formula: {what}.\n    {formula}\n    {' ' * position}^"


def parse_formula(formula: str | Formula) -> Any:
    """Parse a formula into formulae's model description.

    Raises
    ------
    FormulaError
        If the formula is empty, has no response, or cannot be parsed; the message quotes it.
    """
    text = _check_formula_string(formula)
    import formulae as fm  # on first use, so that importing bayesmm stays light

    try:
        # `(x || g)` is lme4's block of independent effects: the same terms as `(x | g)`,
        # which is all formulae needs to know (bar_blocks records the difference).
        description = fm.model_description(text.replace("||", "|"))
    except Exception as err:  # formulae raises several parser and scanner types
        message = str(err).strip()
        match = re.search(r"parse '(.*)'", message)
        where = f" near {match.group(1)!r}" if match and match.group(1) else ""
        if match and not match.group(1):
            where = " (it ends too early)"
        raise FormulaError(f"Could not parse formula {text!r}{where}: {message}") from None
    if description.response is None:
        raise FormulaError(f"formula {text!r} has no response before '~'.")
    if not description.common_terms and not description.group_terms:
        raise FormulaError(f"formula {text!r} has no terms after '~'; use 'y ~ 1' for a mean.")
    return description
