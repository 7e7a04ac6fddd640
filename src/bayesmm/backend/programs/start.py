"""The JAX route's inputs: the model's data containers as arguments, and PyMC's initial
point as a function of them, computed without C."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import clone_replace

try:  # newer pytensor moved the graph walkers here (the old place warns)
    from pytensor.graph.traversal import graph_inputs
except ImportError:  # pragma: no cover - older pytensor
    from pytensor.graph.basic import graph_inputs  # type: ignore[no-redef]

__all__ = ["data_arguments", "initial_point_function", "initial_points", "inlined"]


def data_arguments(model: pm.Model) -> tuple[list[Any], dict[Any, Any]]:
    """Inputs standing for the model's data containers, and the replacements for its graphs.

    Each container becomes an input of static shape (JAX needs static shapes, and the
    structure key tells shapes apart).
    """
    inputs = []
    replace: dict[Any, Any] = {}
    for variable in model.data_vars:
        value = np.asarray(variable.get_value())
        stand_in = pt.tensor(name=variable.name, dtype=value.dtype, shape=value.shape)
        inputs.append(stand_in)
        replace[variable] = stand_in
    return inputs, replace


def initial_point_function(model: pm.Model) -> Callable[..., dict[str, np.ndarray]]:
    """PyMC's initial point (each variable's support point, transformed) as a function of
    the model's data, compiled once per structure: ``model.initial_point()`` compiles one
    per call, and a function of the model's own containers would read its data only."""
    from pymc.initial_point import make_initial_point_expression
    from pymc.pytensorf import compile as compile_function
    from pymc.pytensorf import replace_rng_nodes
    from pytensor.compile.mode import Mode

    expressions = make_initial_point_expression(
        free_rvs=model.free_RVs,
        rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=model.rvs_to_initial_values,
        jitter_rvs=set(),
        default_strategy="support_point",
        return_transformed=True,
    )
    inputs, _ = data_arguments(model)
    # The expressions may hold copies of the data containers: match them by name.
    by_name = {variable.name: variable for variable in inputs}
    expressions = replace_rng_nodes(expressions)
    replace: dict[Any, Any] = {
        variable: by_name[variable.name]
        for variable in graph_inputs(expressions)
        if isinstance(variable, SharedVariable) and variable.name in by_name
    }
    outputs = inlined(clone_replace(expressions, replace=replace))
    # Python's implementations, not C (nor C inside an OpFromGraph, hence the inlining): the
    # first C function of a process reads PyTensor's whole compile cache (about 3 s of a first
    # fit, measured once with cProfile), and nothing else on this route needs C.
    mode = Mode(linker="py", optimizer="fast_compile")
    function = compile_function(inputs=inputs, outputs=outputs, mode=mode, on_unused_input="ignore")
    names = [v.name for v in model.value_vars]

    def start(*data: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(names, function(*data), strict=True))

    return start


def inlined(outputs: list[Any]) -> list[Any]:
    """``outputs`` with every ``OpFromGraph`` replaced by its inner graph (which it would
    otherwise compile with the default, C, mode when first evaluated)."""
    from pytensor.compile.builders import OpFromGraph

    try:
        from pytensor.graph.traversal import ancestors
    except ImportError:  # pytensor before 2.32
        from pytensor.graph.basic import ancestors  # type: ignore[no-redef]
    from pytensor.tensor.rewriting.ofg import inline_ofg_node

    while True:
        node = next(
            (
                v.owner
                for v in ancestors(outputs)
                if v.owner is not None and isinstance(v.owner.op, OpFromGraph)
            ),
            None,
        )
        if node is None:
            return outputs
        inner = inline_ofg_node(node)
        outputs = clone_replace(outputs, replace=dict(zip(node.outputs, inner, strict=True)))


def initial_points(
    point: dict[str, np.ndarray], program: Any, chains: int, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """PyMC's start ("jitter+adapt_diag"): the initial point plus Uniform(-1, 1), per chain."""
    return tuple(
        np.asarray(point[n])[None] + rng.uniform(-1, 1, (chains, *s))
        for n, s in zip(program.names, program.shapes, strict=True)
    )
