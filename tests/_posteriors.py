"""Random posteriors shaped as a fit's, for tests of prediction that need no sampler."""

from __future__ import annotations

import numpy as np
import xarray as xr

import bayesmm as bmm


def random_posterior(
    model: bmm.Model, chains: int = 2, draws: int = 40, seed: int = 5
) -> xr.Dataset:
    """Random draws of every variable prediction reads, shaped as a fit's posterior."""
    rng = np.random.default_rng(seed)
    design = model.design
    variables = {}

    def add(name: str, *shape: int, positive: bool = False) -> None:
        values = rng.normal(size=(chains, draws, *shape))
        dims = ("chain", "draw", *(f"{name}_dim_{i}" for i in range(len(shape))))
        variables[name] = (dims, np.abs(values) if positive else values)

    for term in design.common_terms:
        add(term.name, term.stop - term.start)
    for term in design.group_terms:
        add(term.name, len(term.levels), len(term.columns))
        add(f"{term.name}_sigma", len(term.columns), positive=True)
    for block in design.blocks:
        for _, _, name in design.correlation_names(block):
            variables[name] = (("chain", "draw"), rng.uniform(-0.3, 0.3, (chains, draws)))
    for name in model.family.aux_params:
        add(name, positive=True)
    return xr.Dataset(variables)
