"""Compiled programs and their caches, beside the graph: the nutpie samplers kept per model
structure (``compiled``), and the JAX route's programs (``jax``): NumPyro's NUTS
(``nuts``), its starting points (``start``), the programs stored on disk (``exported``) and
the PyTensor operations JAX needs translated (``jax_ops``).

They take a built ``pm.Model`` and never import the graph or the samplers. The names below
load their module on first use.
"""

from __future__ import annotations

from ..exports import lazy_names

_WHERE = {
    "CompiledCache": ".compiled",
    "shared_cache": ".compiled",
    "structure_key": ".compiled",
    "clear_programs": ".jax",
    "cache_dir": ".jax",
    "log_density": ".jax",
    "log_density_function": ".jax",
    "sample_numpyro": ".jax",
    "sample_numpyro_many": ".jax",
    "ProgramCache": ".jax",
    "PROGRAMS": ".jax",
    "CACHE_ENV": ".jax",
    "MAX_STORED": ".exported",
    "cannot_translate": ".jax_ops",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
