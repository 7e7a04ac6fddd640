"""bayesmm: Bayesian mixed models written as formulas.

>>> import bayesmm as bmm
>>> model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
>>> idata = model.fit(random_seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from ._errors import (
    BackendError,
    BayesmmError,
    BayesmmWarning,
    DataError,
    FamilyError,
    FormulaError,
    NotFittedError,
    PriorError,
)
from .datasets import load_data
from .families import FAMILIES, Family, Likelihood, get_family, register_family
from .formula import Formula
from .io import ModelFileError, load
from .links import LINKS, Link
from .model import Model
from .priors import Prior

try:
    __version__ = version("bayesmm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

logging.getLogger("bayesmm").addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:
    # `bmm.sklearn` without importing scikit-learn (and pymc) on `import bayesmm`.
    if name == "sklearn":
        import importlib

        return importlib.import_module(".sklearn", __name__)
    raise AttributeError(f"module 'bayesmm' has no attribute {name!r}")


__all__ = [
    "Model",
    "Formula",
    "Prior",
    "Family",
    "Likelihood",
    "Link",
    "FAMILIES",
    "LINKS",
    "get_family",
    "register_family",
    "load_data",
    "load",
    "BayesmmError",
    "FormulaError",
    "DataError",
    "PriorError",
    "FamilyError",
    "BackendError",
    "NotFittedError",
    "ModelFileError",
    "BayesmmWarning",
    "__version__",
]
