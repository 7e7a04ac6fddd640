"""The design stage: formula and data in, the encoded response, common matrix and group
index vectors out, with the state that encodes new rows the same way.

formulae parses the formula and encodes the response and the common terms; the grouping
factors are encoded here as one integer level index per row, so no dense ``n x levels``
matrix is ever built. The records are in :mod:`bayesmm.design.types`; :func:`build_design`
makes them, :class:`DesignState` encodes new rows, and :mod:`bayesmm.design.file` writes and
reads them for a model file.

>>> import bayesmm as bmm
>>> from bayesmm.design import build_design
>>> from bayesmm.families import get_family
>>> design = build_design("Reaction ~ Days + (1 | Subject)", bmm.load_data("sleepstudy"),
...                       get_family("gaussian"))
>>> design.n_obs, [t.name for t in design.group_terms]
(180, ['1|Subject'])
"""

from __future__ import annotations

from .build import DroppedRowsWarning, build_design, formula_design
from .columns import ColumnSummary
from .file import design_from_dict, design_to_dict
from .kinds import (
    STAGES,
    TERM_KINDS,
    TermKind,
    read_kind_calls,
    register_term_kind,
    registered_kinds,
    unregister_term_kind,
)
from .response import threshold_labels
from .state import DesignState
from .types import (
    Censoring,
    CommonTerm,
    Design,
    Distributional,
    GroupBlock,
    GroupTerm,
    NewDesign,
    NewGroup,
    NewImputation,
    Offset,
    Response,
    Truncation,
)

__all__ = [
    "Design",
    "DesignState",
    "ColumnSummary",
    "Distributional",
    "NewDesign",
    "NewGroup",
    "NewImputation",
    "Response",
    "Censoring",
    "Truncation",
    "Offset",
    "CommonTerm",
    "GroupTerm",
    "GroupBlock",
    "DroppedRowsWarning",
    "build_design",
    "formula_design",
    "design_to_dict",
    "design_from_dict",
    "threshold_labels",
    "STAGES",
    "TERM_KINDS",
    "TermKind",
    "read_kind_calls",
    "register_term_kind",
    "registered_kinds",
    "unregister_term_kind",
]
