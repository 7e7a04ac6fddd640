"""Many fits of one structure as one compiled program (the vectorised route of ``fit_many``).

Models of one structure and shapes, with other data, share a compiled JAX program; here their
chains run in it side by side (``backend.nuts.over_fits``), and each fit's raw draws are made
what ``fit()`` returns (``backend.pymc.tidy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np

from ..graph.built import BuiltModel
from ..programs.compiled import structure_key
from ..samplers.registry import AUTO, choose_sampler, translate_options
from ..samplers.run import default_chains, log_likelihood_default, tidy

__all__ = ["accelerator", "vector_key", "sample_many"]


def accelerator() -> bool:
    """Whether JAX is installed and runs on an accelerator (a GPU or TPU)."""
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        return False
    from ..programs.jax import configure

    return bool(configure().default_backend() != "cpu")


def vector_key(built: BuiltModel, fit_kwargs: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """What must be equal for fits to run as one program: the route (NumPyro, chosen or
    picked by ``"auto"``), the structure, the data's shapes and the sampler's settings;
    ``None`` for a fit that runs on another route."""
    method = fit_kwargs.get("inference_method", AUTO)
    if method == AUTO:
        method = choose_sampler(len(built.observed))
    if method != "numpyro":
        return None
    model = built.model
    shapes = tuple(np.shape(v.get_value()) for v in model.data_vars)
    settings = {k: v for k, v in fit_kwargs.items() if k not in ("progressbar",)}
    return ("numpyro", structure_key(model), shapes, repr(sorted(settings.items())))


def sample_many(
    builts: list[BuiltModel],
    random_seeds: list[int],
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int | None = None,
    inference_method: str = AUTO,
    log_likelihood: bool | None = None,
    progressbar: bool = False,
    **nuts: Any,
) -> list[az.InferenceData]:
    """Sample models of one :func:`vector_key` in one program; what ``fit()`` returns for
    each (with the same seed, the same keys and starting points)."""
    from ..programs.jax import sample_numpyro_many

    chains = chains or default_chains()
    stored = log_likelihood_default(log_likelihood, len(builts[0].observed), draws, chains)
    raw = sample_numpyro_many(
        [b.model for b in builts],
        draws=draws,
        tune=tune,
        chains=chains,
        random_seeds=random_seeds,
        log_likelihood=stored,
        **translate_options("numpyro", nuts),
    )
    return [tidy(b, r, "numpyro", stored) for b, r in zip(builts, raw, strict=True)]
