"""Reuse of compiled samplers across models of the same structure.

Compiling a model for nutpie takes seconds; sampling a small model takes a fraction of that.
Cross-validation folds and grid-search candidates fit the same formula to different rows, so
their PyMC graphs are the same up to the values of their data containers (the data, the
prior parameters scaled from them, the column means) and their number of rows. A
:class:`CompiledCache` keeps the compiled sampler of each structure and, for another model of
that structure, swaps the new values in (``CompiledPyMCModel.with_data``) instead of
compiling again. Draws are the same as from a fresh compile with the same seed.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymc as pm
from pymc.model.transform.optimization import freeze_dims_and_data
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.tensor.random.type import RandomType

try:  # newer pytensor moved the graph walkers here (the old place warns)
    from pytensor.graph import traversal as _graph
except ImportError:  # pragma: no cover - older pytensor
    from pytensor.graph import basic as _graph  # type: ignore[no-redef]

__all__ = ["CompiledCache", "structure_key"]

#: The dimension of per-row values (kept equal to ``backend.pymc.OBS_DIM``).
_ROWS = "__obs__"


@dataclass
class _Entry:
    model: pm.Model
    compiled: Any
    lock: threading.Lock


class CompiledCache:
    """Compiled nutpie samplers, keyed by the structure of the model they sample.

    Pass one to ``Model.fit(..., inference_method="nutpie", cache=cache)``; the scikit-learn
    estimators share one per process (``bayesmm.sklearn.clear_compiled_cache`` empties it).

    Parameters
    ----------
    max_size : int, default 8
        Structures kept; the least recently used is dropped first. Each entry holds the
        compiled functions and one copy of its model's data.

    Attributes
    ----------
    hits, misses : int
        Fits that reused a compiled sampler, and fits that compiled one.
    """

    def __init__(self, max_size: int = 8) -> None:
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise ValueError(f"max_size must be an integer >= 1; got {max_size!r}.")
        self.max_size = max_size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (
            f"CompiledCache(max_size={self.max_size}, entries={len(self)}, "
            f"hits={self.hits}, misses={self.misses})"
        )

    def clear(self) -> None:
        """Drop every compiled sampler."""
        with self._lock:
            self._entries.clear()

    @contextmanager
    def use(self, model: pm.Model) -> Iterator[Any]:
        """The compiled nutpie model for ``model``: reused when its structure was seen.

        Held for the duration of the ``with`` block (sampling), so that two threads never
        sample one compiled model with different data at once.
        """
        import nutpie

        key = structure_key(model)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if entry is None:
            # Freeze every dimension but the rows: shapes the sampler can rely on compile
            # faster (the key holds those lengths), and the rows are what changes.
            frozen = freeze_dims_and_data(
                model, dims=[d for d in model.coords if d != _ROWS], data=[]
            )
            entry = _Entry(frozen, nutpie.compile_pymc_model(frozen), threading.Lock())
            with self._lock:
                self.misses += 1
                self._entries[key] = entry
                while len(self._entries) > self.max_size:
                    self._entries.popitem(last=False)
            with entry.lock:
                yield entry.compiled
            return
        values = shared_values(model)
        with entry.lock:
            # The initial points come from the compiled model's own PyMC model: give it the
            # new values too, so that a reused sampler starts where a fresh one would.
            _set_shared_values(entry.model, values)
            updates = {k: v for k, v in values.items() if k in entry.compiled.shared_data}
            yield entry.compiled.with_data(**updates)


def shared_values(model: pm.Model) -> dict[str, np.ndarray]:
    """The values of a model's data containers and of its dimension lengths, by name."""
    values = {v.name: v.get_value() for v in model.data_vars}
    for name, length in model.dim_lengths.items():
        if isinstance(length, SharedVariable):
            values[name] = np.asarray(length.get_value())
    return values


def _set_shared_values(model: pm.Model, values: dict[str, np.ndarray]) -> None:
    for variable in model.data_vars:
        variable.set_value(values[variable.name])
    for name, length in model.dim_lengths.items():
        if isinstance(length, SharedVariable):
            length.set_value(values[name])


def structure_key(model: pm.Model) -> str:
    """A digest of everything in a model's graph but the values of its shared data.

    Two models with the same key compile to the same functions: the same operations on the
    same inputs, constants of the same values, data of the same shapes except the number of
    rows, and the same lengths of every dimension except the rows.
    """
    outputs = [*model.free_RVs, *model.observed_RVs, *model.deterministics]
    refs: dict[Variable, int] = {}
    parts: list[Any] = []

    def ref(variable: Variable) -> int:
        if variable not in refs:
            parts.append(_leaf(variable))
            refs[variable] = len(refs)
        return refs[variable]

    for node in _graph.io_toposort(list(_graph.graph_inputs(outputs)), outputs):
        inputs = tuple(ref(v) for v in node.inputs)
        parts.append(
            (
                type(node.op).__qualname__,
                str(node.op),
                inputs,
                tuple(str(o.type) for o in node.outputs),
            )
        )
        for output in node.outputs:
            refs[output] = len(refs)
    parts.append(tuple((v.name, ref(v)) for v in outputs))
    dims = model.named_vars_to_dims
    for variable in model.data_vars:
        shape = np.shape(variable.get_value())
        var_dims = dims.get(variable.name, ())
        parts.append(
            (
                variable.name,
                tuple(-1 if d == _ROWS else n for d, n in zip(var_dims, shape, strict=False)),
                shape[len(var_dims) :],
            )
        )
    for name, length in model.dim_lengths.items():
        if name != _ROWS:
            parts.append(
                (name, int(length.eval()) if isinstance(length, Variable) else int(length))
            )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _leaf(variable: Variable) -> tuple[Any, ...]:
    if isinstance(variable, Constant):
        data = variable.data
        if isinstance(data, np.ndarray) and data.dtype != object:
            digest = hashlib.sha256(np.ascontiguousarray(data).tobytes()).hexdigest()
            return ("constant", str(variable.type), data.shape, digest)
        return ("constant", str(variable.type), repr(data))
    if isinstance(variable.type, RandomType):
        return ("rng",)
    return ("input", type(variable).__name__, variable.name, str(variable.type))
