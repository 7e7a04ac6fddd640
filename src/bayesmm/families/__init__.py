"""Response families: the ``Family`` and ``Likelihood`` records, the registry of built-in
families, their supports, numpy densities and categories.

Every branch that depends on the family lives in this package; the rest of bayesmm asks the
family (``family.parameters``, ``family.point_draws``, ``family.check_response``, ...).

>>> from bayesmm.families import get_family
>>> get_family("poisson").link
'log'
"""

from __future__ import annotations

from ..priors import ResponseStats
from .builtin import BUILTIN_FAMILIES
from .categories import CATEGORY_MODELS, Categories
from .family import FAMILIES, Family, get_family, register_family
from .likelihood import Likelihood
from .support import Support
from .table import family_table
from .truncated import TRUNCATABLE

__all__ = [
    "Likelihood",
    "Family",
    "Categories",
    "CATEGORY_MODELS",
    "Support",
    "ResponseStats",
    "FAMILIES",
    "BUILTIN_FAMILIES",
    "get_family",
    "register_family",
    "family_table",
    "TRUNCATABLE",
]

for _family in BUILTIN_FAMILIES:
    register_family(_family)
del _family
