"""Hints name arguments that exist: every ``use f(..., arg=...)``-style call written in a
string of ``src/`` (messages, docstrings) passes keywords that ``f`` takes. The strings are
read from the syntax tree (f-strings with their placeholders), not grepped from the code."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import bayesmm as bmm
from bayesmm import interpret
from bayesmm.fitted import FittedModel
from bayesmm.predict.options import OPTION_NAMES

SOURCE = Path(bmm.__file__).parent

#: A call written in text, ``name(arguments)`` or ``a.b.name(arguments)``, no nested calls.
CALL = re.compile(r"(?<![\w.])((?:\w+\.)*\w+)\(([^()]*)\)")
#: A keyword of such a call.
KEYWORD = re.compile(r"(?:^|,)\s*([A-Za-z_]\w*)\s*=(?!=)")

#: What the text calls an object by: ``model.fit``, ``fitted.predict``, ``bmm.load``, ...
OWNERS: dict[str, Any] = {
    "bmm": bmm,
    "bayesmm": bmm,
    "interpret": interpret,
    "model": bmm.Model,
    "Model": bmm.Model,
    "fitted": FittedModel,
    "FittedModel": FittedModel,
}
#: Where a bare name is looked for, in order.
BARE = (interpret, bmm, bmm.Model, FittedModel)


def _texts(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every string of a module, an f-string's placeholders written as ``<value>``."""
    inside = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "<value>" for v in node.values]
            yield node.lineno, "".join(str(p) for p in parts)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside
        ):
            yield node.lineno, node.value


def _resolve(name: str) -> Callable[..., Any] | None:
    *owner, last = name.split(".")
    places = [OWNERS[owner[-1]]] if owner and owner[-1] in OWNERS else [] if owner else BARE
    for place in places:
        found = getattr(place, last, None)
        if callable(found):
            return found
    return None


def _accepts(function: Callable[..., Any]) -> set[str] | None:
    """The keywords ``function`` takes; ``None`` when it takes any."""
    parameters = inspect.signature(function).parameters.values()
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
    extra = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    if not extra:
        return names
    if extra[0].name == "options":  # the prediction options (PredictOptions)
        return names | set(OPTION_NAMES)
    return None


def _hints() -> list[tuple[str, str, str]]:
    """``(where, call, keyword)`` of every keyword of a call to a public function in text."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for line, text in _texts(ast.parse(path.read_text())):
            for match in CALL.finditer(text):
                keywords = KEYWORD.findall(match.group(2))
                function = _resolve(match.group(1)) if keywords else None
                if function is None:
                    continue
                where = f"{path.relative_to(SOURCE)}:{line}"
                found += [(where, match.group(0), k) for k in keywords]
    return found


HINTS = _hints()


def test_the_hints_are_found():
    # The mo() hint of slopes names comparisons' contrast argument.
    assert any(call.startswith("comparisons(") and k == "contrast" for _, call, k in HINTS)


@pytest.mark.parametrize(("where", "call", "keyword"), HINTS)
def test_every_hint_names_an_argument_its_function_takes(where, call, keyword):
    function = _resolve(CALL.match(call).group(1))
    accepted = _accepts(function)
    assert accepted is None or keyword in accepted, (
        f"{where}: {call!r} passes {keyword}=, which {function.__qualname__} does not take"
    )
