"""The backend: the only code that imports pymc, pytensor, nutpie and JAX. Four packages,
bottom to top:

- :mod:`~bayesmm.backend.graph`: the PyMC model of a design, its priors and its family,
  with one piece per special kind of term in ``graph.terms``;
- :mod:`~bayesmm.backend.programs`, beside the graph: compiled programs and their caches
  (nutpie's per structure, the JAX route's in memory and on disk);
- :mod:`~bayesmm.backend.samplers`: the table of samplers (one record per engine and
  approximation) and the run of one on a built model;
- :mod:`~bayesmm.backend.batch`: many fits as one vectorised program, for ``fit_many``.

The names below load their module on first use, so that importing this package loads none
of the heavy libraries. The module paths of the flat backend before these packages (say
``bayesmm.backend.jax``) still import, with a :class:`~bayesmm.BayesmmDeprecationWarning`
naming the new one (CHANGELOG.md).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

from .._errors import BayesmmDeprecationWarning
from .exports import lazy_names

_WHERE = {
    "build_model": ".graph.assemble",
    "BuiltModel": ".graph.built",
    "prior_predictive": ".graph.prior_draws",
    "CompiledCache": ".programs.compiled",
    "shared_cache": ".programs.compiled",
    "clear_programs": ".programs.jax",
    "SAMPLERS": ".samplers.registry",
    "Sampler": ".samplers.registry",
    "AUTO_JAX_MAX_ROWS": ".samplers.registry",
    "register_sampler": ".samplers.registry",
    "unregister_sampler": ".samplers.registry",
    "sample": ".samplers.run",
}
__all__ = sorted(_WHERE)

#: The module paths of the flat backend, and the modules (first match wins) their names
#: moved to.
MOVED: dict[str, tuple[str, ...]] = {
    "pymc": (
        "samplers.run",
        "samplers.registry",
        "graph.assemble",
        "graph.built",
        "graph.predictors",
        "graph.prior_draws",
    ),
    "variables": ("graph.variables",),
    "distributions": ("graph.distributions",),
    "cdfs": ("graph.cdfs",),
    "likelihoods": ("graph.likelihoods",),
    "predictors": ("graph.predictors",),
    "blocks": ("graph.blocks",),
    "built": ("graph.built",),
    "prior_draws": ("graph.prior_draws",),
    "sufficient": ("graph.sufficient", "samplers.choice"),
    "collapsed": ("graph.collapsed",),
    "shrinkage": ("graph.terms.shrinkage",),
    "imputation": ("graph.terms.imputation",),
    "jax": ("programs.jax",),
    "nuts": ("programs.nuts",),
    "start": ("programs.start",),
    "exported": ("programs.exported",),
    "jax_ops": ("programs.jax_ops",),
    "compiled": ("programs.compiled",),
    "engines": ("samplers.engines",),
    "approximate": ("samplers.approximate",),
    "pathfinder": ("samplers.pathfinder",),
    "convergence": ("samplers.convergence",),
}


class _Moved(types.ModuleType):
    """An old module path: its names are read from the modules they moved to."""

    def __init__(self, name: str, targets: Sequence[str]) -> None:
        super().__init__(name)
        self.__targets = tuple(targets)

    def __getattr__(self, name: str) -> Any:
        for target in self.__targets:
            module = importlib.import_module(target)
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


class _MovedFinder:
    """Finds the old module paths of :data:`MOVED`, warning once per import (a meta path
    finder and its loader, by their protocol: ``importlib.abc`` costs an import)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        prefix, _, old = fullname.rpartition(".")
        if prefix != __name__ or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        old = spec.name.rpartition(".")[2]
        targets = [f"{__name__}.{t}" for t in MOVED[old]]
        warnings.warn(
            f"{spec.name} moved to {targets[0]} (the backend is now four packages: "
            f"graph, programs, samplers, batch); import it from there.",
            BayesmmDeprecationWarning,
            stacklevel=2,
        )
        return _Moved(spec.name, targets)

    def exec_module(self, module: types.ModuleType) -> None:
        pass


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedFinder())

_lazy, __dir__ = lazy_names(__name__, _WHERE)


def __getattr__(name: str) -> Any:
    if name in MOVED:  # bayesmm.backend.jax and the like, as attributes
        return importlib.import_module(f"{__name__}.{name}")
    return _lazy(name)
