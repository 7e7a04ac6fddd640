"""Exception and warning types raised by bayesmm, and the dependencies' warnings it silences.

Every error a user can trigger is one of these, so callers can catch our
errors precisely while still catching the builtin they subclass.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

# Two warnings of our dependencies that a bayesmm user cannot act on, silenced by their
# message when bayesmm is imported (this module is the first of bayesmm's to load;
# docs/fitting.md says how to see them again). arviz and pytensor load later, on first use;
# the filters stay in place until then (tests/test_bayesmm_imports.py):
# - arviz 0.23 announces its 1.0 refactor once a day, on import;
# - a pip-installed pytensor finds no BLAS to link its C code with. bayesmm samples with
#   NumPyro (JAX) or nutpie (numba), which bring their own; only the inference_method="pymc"
#   route is slower for it.
SILENCED = (
    (r"\s*ArviZ is undergoing a major refactor", FutureWarning),
    ("PyTensor could not link to a BLAS installation", UserWarning),
)
for _message, _category in SILENCED:
    warnings.filterwarnings("ignore", message=_message, category=_category)

__all__ = [
    "BayesmmError",
    "FormulaError",
    "DataError",
    "PriorError",
    "FamilyError",
    "BackendError",
    "NotFittedError",
    "ModelFileError",
    "ModelFileNotFoundError",
    "BayesmmWarning",
    "BayesmmDeprecationWarning",
    "SamplingWarning",
    "warn_user",
]


class BayesmmError(Exception):
    """Base class of every error raised by bayesmm."""


class FormulaError(BayesmmError, ValueError):
    """The formula cannot be parsed or does not fit the data."""


class DataError(BayesmmError, ValueError):
    """The data are of the wrong type, incomplete, or outside the family's support."""


class PriorError(BayesmmError, ValueError):
    """A prior is malformed or names something the model does not have."""


class FamilyError(BayesmmError, ValueError):
    """An unknown family or link, or a link the family does not allow."""


class BackendError(BayesmmError, RuntimeError):
    """The sampling backend is missing or failed."""


class NotFittedError(BayesmmError, ValueError, AttributeError):
    """An operation needs a fitted model."""


class ModelFileError(BayesmmError, ValueError):
    """A model file is missing, unreadable, not ours, or from a newer bayesmm."""


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """There is no model file at the path given."""


class BayesmmWarning(UserWarning):
    """Warnings issued by bayesmm."""


class HSGPWarning(BayesmmWarning):
    """An ``hsgp()`` term's ``m`` or ``c`` is too small for its estimated lengthscale."""


class BayesmmDeprecationWarning(BayesmmWarning, FutureWarning):
    """A use of bayesmm that still works but will not in a later version.

    A ``FutureWarning``, so that users see it by default (Python hides ``DeprecationWarning``
    outside ``__main__``).
    """


class SamplingWarning(BayesmmWarning):
    """A NUTS fit is beyond the convergence thresholds (divergences, R-hat, bulk ESS), or its
    chains did not move at all."""


_PACKAGE = str(Path(__file__).resolve().parent)


def warn_user(message: str, category: type[Warning]) -> None:
    """Warn with the stack level of the first frame outside bayesmm: the user's line, however
    deep in bayesmm the warning is raised."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level + 1)
