"""The samplers: one :class:`Sampler` record per engine and approximation in one table,
:data:`SAMPLERS` (``table``), and how a fit runs one (``run``): ``"auto"``'s choice, the
likelihood it reads (the rows, or their exact summary: ``choice``), and the InferenceData it
returns, checked for convergence (``convergence``). The engines' runs are in ``engines``
(nutpie, PyMC, blackjax through PyMC), the approximations in ``approximate`` and
``pathfinder``; NumPyro's and Pathfinder's programs are in :mod:`bayesmm.backend.programs`.

Adding an engine is adding one record (:func:`register_sampler`; docs/fitting.md). The
table's names load with the package (it imports no engine); the rest on first use.
"""

from __future__ import annotations

from ..exports import lazy_names
from .registry import (
    APPROXIMATIONS,
    AUTO,
    AUTO_JAX_MAX_ROWS,
    COMMON_OPTIONS,
    SAMPLERS,
    RunSettings,
    Sampler,
    auto_routes,
    check_options,
    choose_sampler,
    register_sampler,
    require_method,
    sampler_arguments,
    sampler_options,
    translate_options,
    unregister_sampler,
)

_WHERE = {
    "sample": ".run",
    "tidy": ".run",
    "run_sampler": ".run",
    "default_chains": ".run",
    "log_likelihood_default": ".run",
    "LOG_LIKELIHOOD_MAX_VALUES": ".run",
    "summed_for": ".choice",
    "ANNOUNCE_ROWS": ".choice",
    "check_fit": ".convergence",
    "fit_check": ".convergence",
    "FitCheck": ".convergence",
}
__all__ = [
    "APPROXIMATIONS",
    "AUTO",
    "AUTO_JAX_MAX_ROWS",
    "COMMON_OPTIONS",
    "SAMPLERS",
    "RunSettings",
    "Sampler",
    "auto_routes",
    "check_options",
    "choose_sampler",
    "register_sampler",
    "require_method",
    "sampler_arguments",
    "sampler_options",
    "translate_options",
    "unregister_sampler",
    *sorted(_WHERE),
]
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
