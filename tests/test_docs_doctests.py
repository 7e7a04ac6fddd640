"""Every docstring example of the package runs as a doctest (STYLE.md §9).

Examples that would fit a model with NUTS, or need a file, say ``# doctest: +SKIP``; the
docs pages' code is run by tests/test_docs_code.py and the notebooks by
tests/test_docs_notebooks.py.
"""

import doctest
import importlib
import pkgutil

import pytest

import bayesmm

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(bayesmm.__path__, prefix="bayesmm.")
    if not name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstrings_run(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
