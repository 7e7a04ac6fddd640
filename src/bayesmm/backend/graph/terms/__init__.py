"""The graph's piece of each kind of term (:data:`bayesmm.design.kinds.TERM_KINDS`), one
module per kind, in one table, :data:`GRAPH_PIECES`.

A piece takes the design, the term and the :class:`~bayesmm.backend.graph.context.GraphContext`
and returns what it added (an :class:`~bayesmm.backend.graph.context.Added`). Its role says
where the linear predictor takes its value:

- ``"slopes"``: the coefficients of the term's columns of the common matrix, which are
  centred with the other slopes (``s()``, ``hsgp()``);
- ``"values"``: a coefficient and the values it multiplies, made in the graph (``mi()``);
- ``"part"``: a :class:`~bayesmm.backend.graph.context.Part` of its own, indexed by codes as a
  group term is (``mo()``).

A kind without a piece is a plain slope with its prior: a registered kind needs a piece
only where its coefficients are not that (docs/architecture.md, "Adding a kind of term").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ....design import CommonTerm, Design
from ..context import Added, GraphContext
from .hsgp import gp_coefficients
from .imputation import imputed_coefficient
from .penalised import smooth_coefficients
from .steps import monotonic_part

__all__ = ["GraphPiece", "GRAPH_PIECES", "ROLES", "graph_piece", "role_of", "term_piece"]

#: The roles of a piece, in the order the linear predictor builds the terms of each.
ROLES = ("slopes", "values", "part")


@dataclass(frozen=True)
class GraphPiece:
    """A kind's piece of the graph: ``build(design, term, ctx) -> Added`` and its role."""

    build: Callable[[Design, CommonTerm, GraphContext], Added]
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}; got {self.role!r}.")


#: The graph's table of kinds: each kind of term whose coefficients are not a plain slope's.
GRAPH_PIECES: dict[str, GraphPiece] = {
    "s": GraphPiece(smooth_coefficients, "slopes"),
    "hsgp": GraphPiece(gp_coefficients, "slopes"),
    "mi": GraphPiece(imputed_coefficient, "values"),
    "mo": GraphPiece(monotonic_part, "part"),
}


def graph_piece(term: CommonTerm) -> GraphPiece | None:
    """The piece of ``term``'s kind, or ``None`` for a plain slope."""
    return None if term.kind is None else GRAPH_PIECES.get(term.kind)


def term_piece(design: Design, term: CommonTerm, ctx: GraphContext) -> Added:
    """What ``term``'s kind adds to the graph (its kind must have a piece)."""
    piece = graph_piece(term)
    assert piece is not None, term.name
    return piece.build(design, term, ctx)


def role_of(term: CommonTerm) -> str:
    """``term``'s role (:data:`ROLES`), ``"slopes"`` for a plain slope."""
    piece = graph_piece(term)
    return "slopes" if piece is None else piece.role
