"""Many fits as one vectorised program (``vectorised``): the fits of ``fit_many`` that share
a structure, sampled together by NumPyro on an accelerator. It calls the samplers and the
programs below it. The names below load their module on first use.
"""

from __future__ import annotations

from ..exports import lazy_names

_WHERE = {"accelerator": ".vectorised", "sample_many": ".vectorised", "vector_key": ".vectorised"}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
