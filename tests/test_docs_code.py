"""Every ```python block of every page in docs/*.md runs, so the docs' code cannot go stale.

Each page is a tutorial, so its blocks run in order in one namespace (later blocks use
earlier names), one test per page, in a temporary working directory (files the examples
write land there). NUTS is replaced by the stub sampler (``stub_sampler`` in conftest.py:
prior draws shaped like a posterior, at most 100 a chain), so the whole file runs in
seconds. This checks that the code runs and that the APIs it calls exist; the posterior
numbers the docs show are checked by the slow tests named next to them.

Markers, HTML comments the reader does not see, on the lines right before a fence:

- ``<!-- skip-test: reason -->``: the block is not run (keep these rare; say why);
- ``<!-- raises: FormulaError -->``: the block must raise exactly that error;
- ``<!-- warns: DroppedRowsWarning -->``: the block may emit that warning (it is an error
  elsewhere, as everywhere under ``filterwarnings = error``).

Names in ``raises``/``warns`` are bayesmm's error and warning classes, or builtins.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import xarray as xr

import bayesmm as bmm
from conftest import samplers_running

matplotlib.use("Agg")

import matplotlib.pyplot as plt

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*).*$")
STUB_DRAWS = 100
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>[\w-]+)(?::\s*(?P<arg>.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced ```python block: its code, where it starts, and the markers above it."""

    page: str
    line: int
    code: str
    markers: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a page, dedented (a block may sit in a list item)."""
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, indent, lang = i, match["indent"], match["lang"]
        i += 1
        body = []
        while i < len(lines) and not re.match(rf"^{indent}```\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"{path.name}:{start + 1}: a code fence that is never closed")
        i += 1
        if lang != "python":
            continue
        markers = {}
        above = start - 1
        while above >= 0 and (marker := MARKER.match(lines[above])):
            markers[marker["kind"]] = marker["arg"] or ""
            above -= 1
        code = textwrap.dedent("\n".join(body))
        blocks.append(Block(path.name, start + 1, code, markers))
    return blocks


def _subclasses(cls: type) -> list[type]:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _subclasses(direct)]


def _category(name: str) -> type[BaseException]:
    """The exception or warning class a marker names: bayesmm's own, else a builtin."""
    ours = _subclasses(bmm.BayesmmError) + _subclasses(bmm.BayesmmWarning)
    found = {cls.__name__: cls for cls in ours}.get(name) or getattr(builtins, name, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise LookupError(f"marker names {name!r}, not an exception or warning class")
    return found


def run_block(block: Block, namespace: dict) -> None:
    """Run one block in ``namespace``, honouring its ``raises`` and ``warns`` markers."""
    code = compile(block.code, block.where, "exec")
    with warnings.catch_warnings():
        # Prior draws stand in for the posterior, so LOO's importance weights are poor.
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        if "warns" in block.markers:
            warnings.filterwarnings("ignore", category=_category(block.markers["warns"]))
        if "raises" not in block.markers:
            exec(code, namespace)
            return
        expected = _category(block.markers["raises"])
        with pytest.raises(expected) as info:
            exec(code, namespace)
        assert type(info.value) is expected, (
            f"{block.where} raised {type(info.value).__name__}, marked {expected.__name__}"
        )


def _stub_with_stats(stub):
    """The stub sampler, with at most ``STUB_DRAWS`` draws a chain and the ``sample_stats``
    the docs read (no divergences, and an energy)."""

    def draws(model, settings, **options):
        # The code is checked, not the numbers: 100 draws a chain keep the pages fast.
        fewer = dataclasses.replace(settings, draws=min(settings.draws, STUB_DRAWS))
        idata = stub(model, fewer, **options)
        posterior = idata.posterior
        shape = (posterior.sizes["chain"], posterior.sizes["draw"])
        stats = xr.Dataset(
            {
                "diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
                # Noise, so that az.bfmi has an energy to read.
                "energy": (("chain", "draw"), np.random.default_rng(0).normal(size=shape)),
            },
            coords={"chain": posterior["chain"], "draw": posterior["draw"]},
        )
        idata.add_groups(sample_stats=stats)
        return idata

    return draws


def test_the_docs_have_python_blocks_to_run():
    assert sum(len(python_blocks(page)) for page in PAGES) > 40


@pytest.mark.parametrize("page", PAGES, ids=[page.stem for page in PAGES])
def test_the_python_blocks_of_a_docs_page_run(
    page, stub_sampler, tmp_path, monkeypatch, family_registry
):
    # A page may register a family: family_registry restores the registry afterwards.
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    with samplers_running(lambda name: _stub_with_stats(stub_sampler)):
        _run_page(page, namespace)


def _run_page(page: Path, namespace: dict) -> None:
    """Run the page's Python blocks in order, in one namespace."""
    try:
        for block in python_blocks(page):
            if "skip-test" in block.markers:
                assert block.markers["skip-test"], f"{block.where}: skip-test needs a reason"
                continue
            try:
                run_block(block, namespace)
            except Exception as err:
                raise AssertionError(f"{block.where} failed:\n{block.code}") from err
    finally:
        plt.close("all")
