"""Multivariate models: several responses, each with its own formula, family and link, and
their residuals correlated (``rescor``). ``facade`` holds :class:`MvModel`, which
``bayesmm.Model`` returns for a multivariate formula; the stages' pieces live in
``design.multivariate``, ``scaling.per_response``, ``backend.graph.assemble`` and
``predict.multiresponse``."""

from __future__ import annotations

from .facade import MvModel

__all__ = ["MvModel"]
