"""bayesmm: Bayesian mixed models written as formulas.

>>> import bayesmm as bmm
>>> model = bmm.Model("Reaction ~ Days + (Days | Subject)", bmm.load_data("sleepstudy"))
>>> idata = model.fit(random_seed=1)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from . import interpret
from ._errors import (
    BackendError,
    BayesmmDeprecationWarning,
    BayesmmError,
    BayesmmWarning,
    DataError,
    FamilyError,
    FormulaError,
    HSGPWarning,
    ModelFileError,
    NotFittedError,
    PriorError,
    SamplingWarning,
)
from ._version import __version__
from .datasets import load_data
from .design.kinds import TermKind, register_term_kind, unregister_term_kind
from .families import FAMILIES, Family, Likelihood, get_family, register_family
from .formula import Formula, MvFormula
from .io import load
from .links import LINKS, Link
from .many import FitFailure, ManyFits, fit_many
from .model import Model
from .priors import Prior
from .workflow import average_predictions, compare, kfold, reloo

logging.getLogger("bayesmm").addHandler(logging.NullHandler())


def __getattr__(name: str) -> object:
    # `bmm.sklearn` without importing scikit-learn (and pymc) on `import bayesmm`.
    if name == "sklearn":
        import importlib

        return importlib.import_module(".sklearn", __name__)
    raise AttributeError(f"module 'bayesmm' has no attribute {name!r}")


__all__ = [
    "Model",
    "fit_many",
    "ManyFits",
    "FitFailure",
    "kfold",
    "reloo",
    "compare",
    "average_predictions",
    "Formula",
    "MvFormula",
    "Prior",
    "Family",
    "Likelihood",
    "Link",
    "FAMILIES",
    "LINKS",
    "get_family",
    "register_family",
    "TermKind",
    "register_term_kind",
    "unregister_term_kind",
    "load_data",
    "load",
    "interpret",
    "BayesmmError",
    "FormulaError",
    "DataError",
    "PriorError",
    "FamilyError",
    "BackendError",
    "NotFittedError",
    "ModelFileError",
    "BayesmmWarning",
    "HSGPWarning",
    "SamplingWarning",
    "BayesmmDeprecationWarning",
    "__version__",
]
