"""The pieces every part of the PyMC graph is made of.

The data containers (``Containers``), the names of the model's dimensions, the pytensor
operations of the inverse links, and random variables made from ``Prior``\\ s.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..._errors import PriorError
from ..._names import CATEGORY_DIM, DATA_PREFIX, OBS_DIM, common_dim, expr_dim, factor_dim
from ..._validation import did_you_mean
from ...design import GroupTerm
from ...priors import Prior, PriorSet

__all__ = [
    "OBS_DIM",
    "CATEGORY_DIM",
    "DATA_PREFIX",
    "PYTENSOR_OPS",
    "Containers",
    "common_dim",
    "factor_dim",
    "expr_dim",
    "term_dims",
    "distribution",
    "random_variable",
    "hyper_dims",
    "as_prior",
]


#: pytensor versions of the operations that inverse links use.
PYTENSOR_OPS = SimpleNamespace(
    exp=pt.exp,
    log=pt.log,
    sqrt=pt.sqrt,
    expit=pt.sigmoid,
    normal_cdf=lambda x: 0.5 * (1 + pt.erf(x / np.sqrt(2.0))),
    arctan=pt.arctan,
)


class Containers:
    """The data of a model, packed into two named containers.

    The data, and every number scaled from them (prior parameters, column means), enter the
    graph through containers rather than as constants, so that a compiled sampler can be
    reused on other data of the same structure (see :mod:`bayesmm.backend.compiled`). There
    are two, because nutpie's compile time grows by most of a second with each container:

    - ``@params``: every number of the priors, and the column means, as one vector;
    - ``@rows``: every per-row value, one column each: common predictors, group-term values,
      group-level indexes, binomial trials and the response (whole numbers are exact in
      float64 up to 2**53, and are cast back in the graph).

    Both are made, empty, at their first use and filled by :meth:`fill` once the whole graph
    is built. Their names start with :data:`DATA_PREFIX`, which keeps them apart from the
    terms, whose names come from column names.
    """

    def __init__(self, n_obs: int, batch_size: int | None = None) -> None:
        self.n_obs = n_obs
        #: With a batch size, the graph reads a random minibatch of that many rows (drawn
        #: anew at each evaluation, for minibatch ADVI) instead of all the rows.
        self.batch_size = batch_size
        self._batch: Any = None
        self._response: Any = None
        self._parts: dict[str, list[np.ndarray]] = {}
        self._sizes: dict[str, int] = {}
        self._containers: dict[str, Any] = {}
        self._indexes: dict[str, Any] = {}

    def _add(self, name: str, part: np.ndarray, width: int) -> tuple[Any, int]:
        if name not in self._containers:
            empty, dims = np.zeros(0), None
            if name == "rows":
                empty, dims = np.zeros((self.n_obs, 0)), (OBS_DIM, f"{DATA_PREFIX}rows_column")
            self._containers[name] = pm.Data(f"{DATA_PREFIX}{name}", empty, dims=dims)
            self._parts[name], self._sizes[name] = [], 0
        start = self._sizes[name]
        self._parts[name].append(part)
        self._sizes[name] += width
        return self._containers[name], start

    def param(self, value: Any) -> Any:
        """A prior parameter (or any number or array not per row)."""
        value = np.asarray(value, dtype=float)
        vector, start = self._add("params", value.ravel(), value.size)
        if value.ndim == 0:
            return vector[start]
        return vector[start : start + value.size].reshape(value.shape)

    def param_ints(self, values: np.ndarray) -> Any:
        """Whole numbers not per row (level indices, say), as int64."""
        return pt.cast(self.param(np.asarray(values, dtype=float)), "int64")

    def rows(self, values: np.ndarray) -> Any:
        """Per-row floats, shape ``(n_obs, k)``."""
        values = np.asarray(values, dtype=float).reshape(self.n_obs, -1)
        matrix, start = self._add("rows", values, values.shape[1])
        if self.batch_size is not None:
            matrix = self._batched()[0]
        return matrix[:, start : start + values.shape[1]]

    def _batched(self) -> tuple[Any, Any]:
        """The minibatch of the rows and of the response, made at the first use: one random
        index for every per-row value. The response is a container of its own, because
        PyMC takes only a minibatch itself (not a slice of one) as observed data."""
        if self._batch is None:
            if "rows" not in self._containers:
                self._add("rows", np.zeros((self.n_obs, 0)), 0)
            response = pm.Data(f"{DATA_PREFIX}response", np.zeros(self.n_obs))
            self._response = response
            self._batch = pm.Minibatch(
                self._containers["rows"], response, batch_size=self.batch_size
            )
        return self._batch

    def response(self, values: np.ndarray) -> Any:
        """The response as observed data: a column of the rows, or its minibatch."""
        if self.batch_size is None:
            return self.rows(values)[:, 0]
        batch = self._batched()[1]
        self._response.set_value(np.asarray(values, dtype=float).reshape(self.n_obs))
        return batch

    def row_count(self) -> Any:
        """The number of rows the graph reads (symbolic: see the class's note)."""
        if self.batch_size is not None:
            return self.batch_size
        return pm.modelcontext(None).dim_lengths[OBS_DIM]

    def row_ints(self, values: np.ndarray) -> Any:
        """A per-row column of whole numbers, shape ``(n_obs,)``, as int32."""
        return pt.cast(self.rows(values)[:, 0], "int32")

    def factor_index(self, factor: str, codes: np.ndarray) -> Any:
        """The level index of the grouping factor ``factor`` on every row, from its ``codes``:
        one column of the rows, shared by every term (and every formula) of that factor."""
        if factor not in self._indexes:
            self._indexes[factor] = self.row_ints(codes)
        return self._indexes[factor]

    def fill(self) -> None:
        """Give each container its values, now that the graph is built."""
        for name, container in self._containers.items():
            value = np.concatenate(self._parts[name], axis=0 if name == "params" else 1)
            if self.batch_size is not None:
                # A minibatch takes whole rows: row-major, or each take gathers from
                # every column's far-apart memory (4 ms, not 0.1 ms, at a million rows).
                value = np.ascontiguousarray(value)
            container.set_value(value)


def term_dims(term: GroupTerm) -> tuple[str, ...]:
    dims: tuple[str, ...] = (factor_dim(term.factor),)
    if len(term.columns) > 1:
        dims = (*dims, expr_dim(term.expr))
    return dims


def distribution(prior: Prior, where: str) -> Any:
    dist = getattr(pm, prior.name, None)
    if not (isinstance(dist, type) and issubclass(dist, pm.Distribution)):
        names = [
            n
            for n in dir(pm)
            if isinstance(getattr(pm, n), type) and issubclass(getattr(pm, n), pm.Distribution)
        ]
        raise PriorError(
            f"The prior of {where!r} names the distribution {prior.name!r}, which PyMC does not "
            "have." + did_you_mean(prior.name, names)
        )
    return dist


def random_variable(name: str, prior: Prior, dims: tuple[str, ...] | None, data: Containers) -> Any:
    """Create ``name ~ prior``; parameters that are Priors become ``name_param`` variables.

    Hyperparameters of a vector-valued term get the term's last dimension when their own
    default values are vectors, and are scalars otherwise.
    """
    dist = prior.dist if prior.dist is not None else distribution(prior, name)
    kwargs = {}
    for param, value in prior.params.items():
        if isinstance(value, Prior):
            sub_dims = hyper_dims(value, dims)
            kwargs[param] = random_variable(f"{name}_{param}", value, sub_dims, data)
        elif isinstance(value, str):
            kwargs[param] = value
        elif prior.dist is not None:
            # A user's own distribution function gets plain numbers, as documented.
            kwargs[param] = np.asarray(value, dtype=float)
        else:
            kwargs[param] = data.param(value)
    try:
        return dist(name, dims=dims, **kwargs)
    except (TypeError, ValueError) as err:
        raise PriorError(f"The prior {prior!r} of {name!r} is invalid: {err}") from None


def hyper_dims(prior: Prior, dims: tuple[str, ...] | None) -> tuple[str, ...] | None:
    vector = any(np.ndim(v) > 0 for v in prior.params.values() if not isinstance(v, Prior))
    if vector and dims:
        return (dims[-1],)
    return None


def as_prior(priors: PriorSet, name: str) -> Prior:
    prior = priors[name]
    if not isinstance(prior, Prior):
        raise PriorError(f"The prior of {name!r} must be a Prior; got {prior!r}.")
    return prior


#: The potential that raises a powered model's prior to its power (``PriorSet.power``).
PRIOR_POWER = "__prior_power__"


def powered_prior(model: pm.Model, design: Any, power: float | None, data: Containers) -> None:
    """With a ``power``, add ``(power - 1) * log p(theta)`` to the model's log density, for
    the priors of its population-level parameters and hyperparameters: every free variable
    but the group effects given their sds (a group term's, its ``_offset``, a smooth's or a
    GP's coefficients) and imputed values. The power is data (a prior parameter), so models
    powered differently share one compiled program. Its Jacobian is not powered: the
    density of the parameters is, as power-scaling defines it (Kallioinen et al. 2023)."""
    if power is None:
        return
    designs = [design, *(d.design for d in design.distributional)]
    designs += [i.design for i in design.imputed]
    effects = {t.name for d in designs for t in d.group_terms}
    effects |= {t.name for d in designs for t in d.common_terms if t.kind in ("s", "hsgp")}
    powered = [
        rv
        for rv in model.free_RVs
        if rv.name not in effects and not rv.name.endswith(("_offset", "_missing"))
    ]
    log_density = pt.sum([pm.logp(rv, rv).sum() for rv in powered])
    pm.Potential(PRIOR_POWER, (data.param(power) - 1.0) * log_density)
