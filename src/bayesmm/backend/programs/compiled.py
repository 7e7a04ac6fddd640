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
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr
from pymc.model.transform.optimization import freeze_dims_and_data
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.printing import debugprint
from pytensor.tensor.random.type import RandomType

from ..._names import OBS_DIM

try:  # newer pytensor moved the graph walkers here (the old place warns)
    from pytensor.graph import traversal as _graph
except ImportError:  # pragma: no cover - older pytensor
    from pytensor.graph import basic as _graph  # type: ignore[no-redef]

__all__ = ["CompiledCache", "structure_key", "shared_cache"]

#: The dimension of per-row values.
_ROWS = OBS_DIM


@dataclass
class _Entry:
    model: pm.Model | None
    compiled: Any
    lock: threading.Lock
    #: The pointwise log-likelihood of the entry's model, compiled on first use.
    log_likelihood: Any = None


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

    def log_likelihood(
        self, model: pm.Model, posterior: xr.Dataset, key: str | None = None
    ) -> xr.Dataset | None:
        """The pointwise log-likelihood of ``posterior`` under ``model``'s data, with the
        function compiled once per structure (``pm.compute_log_likelihood`` compiles one
        per call); ``None`` when the cache holds no sampler of ``model``'s structure."""
        key = structure_key(model) if key is None else key
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        with entry.lock:
            if entry.model is None:
                return None
            if entry.log_likelihood is None:
                entry.log_likelihood = PointwiseLogLikelihood(entry.model)
            return entry.log_likelihood(model, posterior)

    @contextmanager
    def use(self, model: pm.Model, key: str | None = None) -> Iterator[Any]:
        """The compiled nutpie model for ``model``: reused when its structure was seen.

        The entry is held for the duration of the ``with`` block (sampling): nutpie draws
        the initial points from the entry's own PyMC model, which holds the data of the fit
        in progress. Another thread with the same structure waits, also while the first
        compiles.
        """
        key = structure_key(model) if key is None else key
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = _Entry(None, None, threading.Lock())
                self._entries[key] = entry
                self.misses += 1
                while len(self._entries) > self.max_size:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
                self.hits += 1
        with entry.lock:
            if entry.compiled is None:  # new, or the thread that made it failed to compile
                try:
                    entry.model, entry.compiled = _compile(model)
                except BaseException:
                    with self._lock:
                        if self._entries.get(key) is entry:
                            del self._entries[key]
                    raise
                yield entry.compiled
                return
            assert entry.model is not None
            values = shared_values(model)
            # The initial points come from the entry's PyMC model: give it the new values
            # too, so that a reused sampler starts where a fresh one would.
            _set_shared_values(entry.model, values)
            updates = {k: v for k, v in values.items() if k in entry.compiled.shared_data}
            yield entry.compiled.with_data(**updates)


class PointwiseLogLikelihood:
    """The log-likelihood of each observation, compiled once for a model's structure and
    evaluated for any model of that structure (its data set into the compiled model's
    containers first)."""

    def __init__(self, model: pm.Model) -> None:
        from pymc.model.transform.conditioning import remove_value_transforms

        # The posterior holds constrained values: evaluate on them, untransformed.
        self.model = remove_value_transforms(model)
        observed = list(self.model.observed_RVs)
        self.names = tuple(rv.name for rv in observed)
        self.free = [rv.name for rv in self.model.free_RVs]
        self.function = self.model.compile_fn(
            inputs=self.model.value_vars,
            outs=self.model.logp(vars=observed, sum=False),
            on_unused_input="ignore",
        )

    def __call__(self, model: pm.Model, posterior: xr.Dataset) -> xr.Dataset:
        from pymc.backends.arviz import (
            apply_function_over_dataset,
            coords_and_dims_for_inferencedata,
        )

        _set_shared_values(self.model, shared_values(model))
        coords, dims = coords_and_dims_for_inferencedata(model)
        return apply_function_over_dataset(
            self.function,
            posterior[self.free],
            output_var_names=self.names,
            sample_dims=("chain", "draw"),
            dims=dims,
            coords=coords,
            progressbar=False,
        )


def _compile(model: pm.Model) -> tuple[pm.Model, Any]:
    """nutpie's compiled model, with the data left in their containers."""
    import nutpie

    # Freeze the named dimensions but the rows (the key holds their lengths): a sampler that
    # can rely on them compiles faster. The rows are what changes between fits.
    frozen = freeze_dims_and_data(model, dims=[d for d in model.coords if d != _ROWS], data=[])
    return frozen, nutpie.compile_pymc_model(frozen)


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
    """A digest of everything in a model but the values of its data.

    Two models with the same key compile to the same functions: the same operations on the
    same inputs (random variables, deterministics and observed values), constants of the
    same values, the same transforms and initial values, data of the same shapes except the
    number of rows, and the same lengths of every dimension except the rows.
    """
    observed = [model.rvs_to_values[rv] for rv in model.observed_RVs]
    outputs = [*model.free_RVs, *model.observed_RVs, *model.deterministics, *observed]
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
    # What the graph does not show: how each variable is transformed, and where it starts.
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        start = model.rvs_to_initial_values.get(rv)
        parts.append((rv.name, _plain(transform), _initial(start)))
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
        if name == _ROWS:
            continue
        if isinstance(length, SharedVariable):
            parts.append((name, int(length.get_value())))
        elif isinstance(length, Constant):
            parts.append((name, int(length.data)))
        else:  # read from a container's shape, which is in the key already
            parts.append((name, "from data"))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """A value as part of a key, the same in every process: no memory addresses (a
    transform's ``repr`` holds one), objects as their class and attributes."""
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    if isinstance(value, Constant):
        return repr(np.asarray(value.data).tolist())
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, Variable):
        # A graph of constants only (e.g. the indexes a transform keeps) is its printout;
        # any other graph is never shared, as for initial values.
        if all(isinstance(v, Constant) for v in _graph.graph_inputs([value])):
            return ("graph", debugprint(value, file="str", print_type=True))
        return ("graph", id(value))
    if isinstance(value, list | tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _plain(v)) for k, v in sorted(value.items()))
    kind = (type(value).__module__, type(value).__qualname__)
    if isinstance(value, FunctionType | BuiltinFunctionType | MethodType):
        return (*kind, getattr(value, "__module__", ""), getattr(value, "__qualname__", ""))
    return (*kind, _plain(getattr(value, "__dict__", {})))


def _initial(start: Any) -> Any:
    """An initial value as part of a key; one given as a graph is never shared."""
    if start is None or isinstance(start, str):
        return start
    if isinstance(start, Constant):
        return ("value", repr(np.asarray(start.data).tolist()))
    if isinstance(start, Variable):
        return ("graph", id(start))
    return ("value", repr(np.asarray(start).tolist()))


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


_shared: CompiledCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> CompiledCache:
    """The process's shared :class:`CompiledCache` (8 structures; made on first use).

    Fits that are given no cache of their own but should reuse compiled samplers use this
    one: the scikit-learn estimators, whose clones (in cross-validation and grid search)
    cannot share an attribute. It is bayesmm's one process-wide store of compiled nutpie
    samplers, bounded like any ``CompiledCache``; ``shared_cache().clear()`` frees it.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = CompiledCache()
        return _shared
