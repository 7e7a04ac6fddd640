"""``gr()``: options of a grouping factor, read from the formula's text.

A group term's factor may be written ``gr(g, id="p")``, brms's spelling, or ``(1 | p | g)``,
its shorthand. formulae parses ``gr()`` as a call it cannot evaluate, so the calls are read
here and each is replaced by its factor before formulae sees the text (as ``ar()`` and
``se()`` are). The options are what the model does with the factor's effects:

``id``
    Blocks of the factor that carry the same ``id`` in several responses of a multivariate
    model have correlated effects: one multivariate normal over their columns, with one LKJ
    prior keyed ``"<factor>_corr"``.

This module owns the call: a later option (a known covariance among the levels, sds by the
levels of another factor, heavy-tailed effects) is added to :data:`GROUP_OPTIONS` and read
here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .._errors import FormulaError
from ..formula import find_calls

__all__ = ["GroupCall", "read_group_calls", "GROUP_OPTIONS"]

#: The options of ``gr()`` bayesmm reads, and what each is.
GROUP_OPTIONS = {"id": "links the factor's effects across the responses of a multivariate model"}
#: brms's options bayesmm does not take yet.
_LATER = ("cov", "by", "dist", "cor")


@dataclass(frozen=True)
class GroupCall:
    """One group term whose factor was written with options.

    Attributes
    ----------
    factor : str
        The grouping column, as formulae then reads it.
    id : str
        The id that links the term's effects across responses.
    written : str
        The group term as written, for messages, e.g. ``(1 | gr(g, id = "p"))``.
    """

    factor: str
    id: str
    written: str


def read_group_calls(formula: str) -> tuple[str, tuple[GroupCall, ...]]:
    """``formula`` with each ``gr(g, ...)`` replaced by ``g`` and each ``(x | p | g)`` by
    ``(x | g)``, and the group terms that carried an ``id``.

    Raises
    ------
    FormulaError
        For ``gr()`` outside a group term, without a column name, with an option bayesmm does
        not read, an ``id`` that is not a name or a string, or one factor with an id written
        in two group terms of the formula.
    """
    text, written_calls = _without_gr_calls(formula)
    text, shorthand = _without_ids(text)
    found = (*written_calls, *shorthand)
    seen: dict[str, GroupCall] = {}
    for call in found:
        if call.factor in seen:
            raise FormulaError(
                f"formula {formula!r} links the factor {call.factor!r} in two group terms, "
                f"{seen[call.factor].written} and {call.written}; write its linked terms as "
                f"one, e.g. '(1 + x | gr({call.factor}, id=\"{call.id}\"))'."
            )
        seen[call.factor] = call
    return text, found


def _without_gr_calls(formula: str) -> tuple[str, tuple[GroupCall, ...]]:
    """The text with each ``gr()`` call replaced by its factor, and the calls with an id."""
    calls = find_calls(formula, ["gr"])
    pieces, found, position = [], [], 0
    for call in calls:
        written = formula[call.start : call.stop]
        factor, group_id = _read_call(formula, call.start, written, call.arguments)
        pieces += [formula[position : call.start], factor]
        position = call.stop
        if group_id is not None:
            found.append(GroupCall(factor, group_id, _enclosing_term(formula, call.start)))
    pieces.append(formula[position:])
    return "".join(pieces), tuple(found)


def _read_call(formula: str, start: int, written: str, arguments: str) -> tuple[str, str | None]:
    """The factor and the id of one ``gr()`` call."""
    before = formula[:start].rstrip()
    if not before.endswith("|"):
        raise FormulaError(
            f"{written} in formula {formula!r}: gr() names the factor of a group term, after "
            "its bar, e.g. '(1 | gr(g, id=\"p\"))'."
        )
    try:
        node = ast.parse(f"f({arguments})", mode="eval").body
    except SyntaxError:
        raise FormulaError(f"Could not read {written!r} in formula {formula!r}.") from None
    assert isinstance(node, ast.Call)
    if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
        raise FormulaError(
            f'{written}: gr() takes one grouping column by name first, e.g. gr(g, id="p").'
        )
    group_id = None
    for keyword in node.keywords:
        if keyword.arg in _LATER:
            raise FormulaError(
                f"{written}: gr(..., {keyword.arg}=) is not available yet; bayesmm reads "
                f"{sorted(GROUP_OPTIONS)} ({GROUP_OPTIONS['id']})."
            )
        if keyword.arg != "id":
            raise FormulaError(
                f"{written}: gr() has no option {keyword.arg!r}; it reads {sorted(GROUP_OPTIONS)}."
            )
        value = keyword.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value:
            group_id = value.value
        elif isinstance(value, ast.Name):
            group_id = value.id
        else:
            raise FormulaError(f'{written}: id= must be a name or a string, e.g. id="p".')
    return node.args[0].id, group_id


def _enclosing_term(formula: str, position: int) -> str:
    """The parenthesised group term around ``position``, as written."""
    start = formula.rfind("(", 0, position)
    depth, stop = 0, len(formula)
    for stop in range(start, len(formula)):
        depth += {"(": 1, ")": -1}.get(formula[stop], 0)
        if depth == 0:
            break
    return formula[start : stop + 1]


def _without_ids(formula: str) -> tuple[str, tuple[GroupCall, ...]]:
    """The text with each ``(x | p | g)`` written ``(x | g)``, and those terms."""
    out, found = formula, []
    for start, bars, stop in reversed(_bar_positions(formula)):
        if len(bars) != 2:
            continue
        written = formula[start : stop + 1]
        group_id = formula[bars[0] + 1 : bars[1]].strip()
        factor = formula[bars[1] + 1 : stop].strip()
        if not group_id.isidentifier() or not factor.isidentifier():
            raise FormulaError(
                f"{written} in formula {formula!r}: a linked group term is written "
                "'(terms | id | factor)', with a name for the id and a column for the factor."
            )
        out = out[: bars[0]] + out[bars[1] :]
        found.append(GroupCall(factor, group_id, written))
    return out, tuple(reversed(found))


def _bar_positions(formula: str) -> list[tuple[int, list[int], int]]:
    """Each parenthesised block with single bars at its own depth: its ``(``, the bars'
    positions and its ``)``. ``||`` is one bar (an independent block)."""
    blocks: list[tuple[int, list[int], int]] = []
    opened: list[tuple[int, list[int]]] = []
    position = 0
    while position < len(formula):
        char = formula[position]
        if char == "(":
            opened.append((position, []))
        elif char == ")" and opened:
            start, bars = opened.pop()
            if bars:
                blocks.append((start, bars, position))
        elif char == "|" and opened:
            opened[-1][1].append(position)
            if formula.startswith("||", position):
                position += 1
        position += 1
    return sorted(blocks)
