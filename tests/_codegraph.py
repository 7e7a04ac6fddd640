"""Static reading of ``src/bayesmm``: its import graph (imports inside functions too), the
private names one module takes from another, and the sizes of modules and functions.

Used by ``tests/test_bayesmm_architecture.py``; run it as a script to print what it finds.
"""

from __future__ import annotations

import ast
import re
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "bayesmm"
PACKAGE = "bayesmm"


def module_name(path: Path, src: Path = SRC) -> str:
    """``bayesmm.design.build`` for ``src/bayesmm/design/build.py``."""
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def modules(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package, by its dotted name."""
    return {module_name(p, src): p for p in sorted(src.rglob("*.py"))}


@dataclass(frozen=True)
class Import:
    """One ``import`` statement of a module of the package, resolved to absolute names."""

    importer: str
    module: str  # the module imported from (absolute)
    names: tuple[str, ...]  # the names taken from it (empty for ``import x``)
    line: int
    type_checking: bool  # under ``if TYPE_CHECKING:``


def _is_package(name: str, known: dict[str, Path]) -> bool:
    return name in known and known[name].name == "__init__.py"


def _resolve(importer: str, level: int, module: str | None, known: dict[str, Path]) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    if not _is_package(importer, known):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside |= {id(n) for n in ast.walk(child)}
    return inside


def imports(known: dict[str, Path] | None = None) -> Iterator[Import]:
    """Every import of every module, at module level or inside functions."""
    known = modules() if known is None else known
    for name, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        guarded = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Import(name, alias.name, (), node.lineno, id(node) in guarded)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, node.level, node.module, known)
                taken = tuple(a.name for a in node.names)
                yield Import(name, target, taken, node.lineno, id(node) in guarded)


def internal_edges(known: dict[str, Path] | None = None) -> set[tuple[str, str]]:
    """``(importer, imported)`` pairs between modules of the package.

    ``from pkg import name`` counts as an import of ``pkg.name`` where that is a module,
    and of ``pkg`` (its ``__init__``) otherwise. Imports under ``TYPE_CHECKING`` are left
    out: they never run.
    """
    known = modules() if known is None else known
    edges: set[tuple[str, str]] = set()
    for item in imports(known):
        if item.type_checking or not item.module.startswith(PACKAGE):
            continue
        targets = [f"{item.module}.{n}" for n in item.names if f"{item.module}.{n}" in known]
        if len(targets) < len(item.names) or not item.names:
            targets.append(item.module)
        for target in targets:
            if target in known and target != item.importer:
                edges.add((item.importer, target))
    return edges


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def private_imports(known: dict[str, Path] | None = None) -> list[str]:
    """``importer: from module import _name`` for each private name taken across modules.

    A module's own package ``__init__`` re-exporting from its private modules is fine; what
    is refused is a leading-underscore *name* taken from another module.
    """
    known = modules() if known is None else known
    found = []
    for item in imports(known):
        if not item.module.startswith(PACKAGE):
            continue
        for name in item.names:
            dunder = name.startswith("__") and name.endswith("__")
            if name.startswith("_") and not dunder and f"{item.module}.{name}" not in known:
                found.append(f"{item.importer}:{item.line}: from {item.module} import {name}")
    return found


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's own docstring (0 when it has none)."""
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's length from its ``def`` to its last line, its docstring left out.

    Comments, blank lines and nested functions count: they are read with the function.
    Decorators do not (``node.lineno`` is the ``def``'s line).
    """
    return (node.end_lineno or node.lineno) - node.lineno + 1 - _docstring_lines(node)


def long_functions(limit: int, known: dict[str, Path] | None = None) -> list[str]:
    """``module.function: N lines`` for each function of over ``limit`` lines
    (``function_lines``)."""
    known = modules() if known is None else known
    found = []
    for name, path in known.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = function_lines(node)
                if n > limit:
                    found.append(f"{name}.{node.name}: {n} lines")
    return found


#: The formatter's skip comment, however it is spaced.
FORMAT_SKIP = re.compile(r"\bfmt:\s*skip\b")


def format_skips(paths: list[Path]) -> list[str]:
    """``path:line`` for each formatter-skip comment (``fmt`` then ``: skip`` or ``:skip``,
    read as comments by ``tokenize``, so a string that spells it is not one)."""
    found = []
    for path in paths:
        with path.open("rb") as handle:
            for token in tokenize.tokenize(handle.readline):
                if token.type != tokenize.COMMENT:
                    continue
                if FORMAT_SKIP.search(token.string):
                    found.append(f"{path}:{token.start[0]}")
    return found


def long_modules(limit: int, known: dict[str, Path] | None = None) -> list[str]:
    """``module: N lines`` for each module of over ``limit`` lines."""
    known = modules() if known is None else known
    sizes = {name: len(path.read_text().splitlines()) for name, path in known.items()}
    return [f"{name}: {n} lines" for name, n in sizes.items() if n > limit]


#: The attributes of a ``Family`` that say whether and how it has categories: only
#: ``bayesmm.families`` reads them; the rest of bayesmm asks the family's methods.
CATEGORY_ATTRIBUTES = frozenset({"categories", "has_categories", "counts_categories"})


def _names_annotated_family(scope: ast.AST) -> set[str]:
    """The names a function's parameters, or its annotated assignments, declare ``Family``."""
    annotated: list[tuple[str, ast.expr]] = []
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        args = scope.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        annotated += [(a.arg, a.annotation) for a in every if a is not None and a.annotation]
    for node in ast.walk(scope):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            annotated.append((node.target.id, node.annotation))
    return {
        name
        for name, annotation in annotated
        if any(isinstance(n, ast.Name) and n.id == "Family" for n in ast.walk(annotation))
        or "Family" in ast.unparse(annotation).replace("'", " ").replace('"', " ").split()
    }


def _is_family(node: ast.expr, annotated: set[str]) -> bool:
    """Whether an expression is a family: a name or attribute called ``family``, or a name
    annotated ``Family``."""
    if isinstance(node, ast.Name):
        return node.id == "family" or node.id in annotated
    return isinstance(node, ast.Attribute) and node.attr == "family"


def category_reads(source: str) -> list[str]:
    """``line: code`` for each read of a family's category attributes in ``source``: an
    attribute of :data:`CATEGORY_ATTRIBUTES` whose base is a family (see :func:`_is_family`),
    or ``getattr(family, "categories", ...)``. pandas' ``.cat.categories`` and encoders'
    ``.categories`` have other bases, and pass."""
    tree = ast.parse(source)
    scopes = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
    ]
    found: dict[tuple[int, int], str] = {}
    for scope in scopes:
        annotated = _names_annotated_family(scope)
        for node in ast.walk(scope):
            if isinstance(node, ast.Attribute) and node.attr in CATEGORY_ATTRIBUTES:
                base = node.value
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in CATEGORY_ATTRIBUTES
            ):
                base = node.args[0]
            else:
                continue
            if _is_family(base, annotated):
                found[(node.lineno, node.col_offset)] = f"{node.lineno}: {ast.unparse(node)}"
    return [found[key] for key in sorted(found)]


def category_reads_outside_families(known: dict[str, Path] | None = None) -> list[str]:
    """``module:line: code`` for each read of a family's category attributes outside
    ``bayesmm.families``."""
    known = modules() if known is None else known
    inside = f"{PACKAGE}.families"
    return [
        f"{name}:{read}"
        for name, path in known.items()
        if name != inside and not name.startswith(inside + ".")
        for read in category_reads(path.read_text())
    ]


if __name__ == "__main__":
    edges = internal_edges()
    print("cycles:")
    for component in cycles(edges):
        print("  ", component)
    print("private imports:")
    for line in private_imports():
        print("  ", line)
    print("long functions:")
    for line in long_functions(80):
        print("  ", line)
    print("long modules:")
    for line in long_modules(600):
        print("  ", line)
    print("reads of a family's categories outside bayesmm.families:")
    for line in category_reads_outside_families():
        print("  ", line)
