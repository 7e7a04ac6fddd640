"""The state formulae learns from training data, written to JSON and set back.

formulae keeps what it learned in its term objects: the levels, reference level and contrast
matrix of each categorical component, and the parameters of stateful transforms such as
``center(x)`` (the mean), ``scale(x)`` (mean and standard deviation), ``bs(x, df=4)`` (the
knots) and ``poly(x, 2)`` (the orthogonalisation). :func:`dump_state` records exactly that, as
JSON values. :func:`apply_state` writes it onto term objects that formulae built for the same
formula from other data (see ``design.file.design_from_dict``), so that they encode new data as
the originals did.

Only data attributes are set, on objects formulae made itself: nothing in a file can name a
class or a function to run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..persist.values import decode_value, encode_value

__all__ = ["StateMismatchError", "apply_state", "dump_state", "term_calls"]

_COMPONENT_FIELDS = ("kind", "levels", "reference", "spans_intercept")


class StateMismatchError(ValueError):
    """The stored state does not fit the terms formulae built for the formula."""


def _components(term: Any) -> list[Any]:
    # A Call (the response's p(s, n)) stands for itself; terms list their components.
    if hasattr(term, "components"):
        return list(term.components)
    return [term] if hasattr(term, "call") or hasattr(term, "levels") else []


def lazy_calls(node: Any) -> Iterator[Any]:
    """Every deferred call in a component's call tree, depth first, outermost first."""
    if node is None:
        return
    if hasattr(node, "stateful_transform"):
        yield node
    for arg in getattr(node, "args", ()) or ():
        yield from lazy_calls(arg)
    for arg in (getattr(node, "kwargs", None) or {}).values():
        yield from lazy_calls(arg)


def uses(call: Any, callee: str) -> bool:
    """Whether a component's call tree calls ``callee``."""
    return any(str(c.callee) == callee for c in lazy_calls(call))


def term_calls(description: Any, callee: str, interaction: str, group: str) -> list[Any]:
    """The calls of the common terms of ``description`` that use ``callee()`` (the term's
    outermost call). Such a call in an interaction or a group term is a ``FormulaError``:
    ``interaction`` or ``group`` formatted with the ``term``'s name."""
    from .._errors import FormulaError

    found = []
    for term in description.common_terms:
        components = list(getattr(term, "components", []) or [])
        calls = [c for c in components if uses(getattr(c, "call", None), callee)]
        if not calls:
            continue
        if len(components) > 1:
            raise FormulaError(interaction.format(term=str(term.name)))
        found.append(calls[0].call)
    for term in description.group_terms:
        for component in getattr(term.expr, "components", []) or []:
            if uses(getattr(component, "call", None), callee):
                raise FormulaError(group.format(term=str(term.name)))
    return found


def _dump_component(component: Any, where: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": str(component.name),
        "class": type(component).__name__,
    }
    for name in _COMPONENT_FIELDS:
        record[name] = encode_value(getattr(component, name, None), f"{where}.{name}")
    contrast = getattr(component, "contrast_matrix", None)
    record["contrast"] = (
        None
        if contrast is None
        else {
            "matrix": encode_value(np.asarray(contrast.matrix), f"{where} contrast"),
            "labels": encode_value(list(contrast.labels), f"{where} contrast labels"),
        }
    )
    calls = []
    for call in lazy_calls(getattr(component, "call", None)):
        transform = call.stateful_transform
        calls.append(
            {
                "callee": str(call.callee),
                "transform": None
                if transform is None
                else {
                    "class": type(transform).__name__,
                    "state": {
                        key: encode_value(value, f"{where}: state {key!r} of {call.callee}()")
                        for key, value in vars(transform).items()
                    },
                },
            }
        )
    record["calls"] = calls
    return record


def dump_state(terms: Sequence[Any]) -> list[dict[str, Any]]:
    """The learned state of formulae terms, in order, as JSON-ready records.

    Raises
    ------
    bayesmm._jsonvalues.UnsupportedValueError
        If a transform keeps state this format cannot hold.
    """
    records = []
    for term in terms:
        name = str(getattr(term, "name", term))
        records.append(
            {
                "term": name,
                "kind": encode_value(getattr(term, "kind", None), f"term {name!r} kind"),
                "components": [
                    _dump_component(c, f"term {name!r}, {c.name!r}") for c in _components(term)
                ],
            }
        )
    return records


def _expect(what: str, stored: Any, built: Any) -> None:
    if stored != built:
        raise StateMismatchError(f"{what}: stored {stored!r}, but the formula gives {built!r}")


def _apply_component(component: Any, record: dict[str, Any]) -> None:
    where = f"component {record['name']!r}"
    _expect(f"{where} name", record["name"], str(component.name))
    _expect(f"{where} class", record["class"], type(component).__name__)
    for name in _COMPONENT_FIELDS:
        setattr(component, name, decode_value(record[name]))
    contrast = record["contrast"]
    if contrast is not None:
        from formulae.categorical import ContrastMatrix

        labels = decode_value(contrast["labels"])
        component.contrast_matrix = ContrastMatrix(decode_value(contrast["matrix"]), labels)
    else:
        component.contrast_matrix = None
    calls = list(lazy_calls(getattr(component, "call", None)))
    _expect(
        f"{where} calls",
        [c["callee"] for c in record["calls"]],
        [str(c.callee) for c in calls],
    )
    for call, stored in zip(calls, record["calls"], strict=True):
        transform = stored["transform"]
        if transform is None:
            continue
        built = call.stateful_transform
        _expect(f"{where} transform", transform["class"], type(built).__name__)
        for key, value in transform["state"].items():
            setattr(built, key, decode_value(value))


def apply_state(terms: Sequence[Any], records: Sequence[dict[str, Any]]) -> None:
    """Set stored state (from :func:`dump_state`) onto terms built for the same formula.

    Raises
    ------
    StateMismatchError
        If the terms differ from the stored ones in name, class, or calls.
    """
    _expect("terms", [r["term"] for r in records], [str(getattr(t, "name", t)) for t in terms])
    for term, record in zip(terms, records, strict=True):
        if hasattr(term, "kind") and record["kind"] is not None:
            term.kind = decode_value(record["kind"])
        components = _components(term)
        _expect(
            f"term {record['term']!r} components",
            [c["name"] for c in record["components"]],
            [str(c.name) for c in components],
        )
        for component, stored in zip(components, record["components"], strict=True):
            _apply_component(component, stored)
