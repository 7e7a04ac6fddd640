"""``FitGroups``: the groups of a fit, as an InferenceData or as the groups a file held.

A loaded model has its groups as xarray Datasets and makes the ``arviz.InferenceData`` only
when asked for it, so that predicting from a file never imports ArviZ.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import xarray as xr

from .._errors import NotFittedError

if TYPE_CHECKING:
    import arviz as az

__all__ = ["FitGroups"]


class FitGroups:
    """The groups of a fit: an InferenceData, or a mapping of group names to Datasets.

    Parameters
    ----------
    idata : arviz.InferenceData or mapping of str to xarray.Dataset
        What ``Model.fit`` returned, or the groups read from a file.
    attrs : mapping, optional
        The attributes of the InferenceData made from a mapping of groups.

    Raises
    ------
    NotFittedError
        If there is no ``posterior`` group.
    """

    def __init__(
        self,
        idata: az.InferenceData | Mapping[str, xr.Dataset],
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._groups: dict[str, xr.Dataset] | None = None
        self._idata: az.InferenceData | None = None
        names: list[str] = []
        # An InferenceData (itself a Mapping of groups), or the groups read from a file.
        if callable(getattr(idata, "groups", None)):
            self._idata = idata  # type: ignore[assignment]
            names = list(idata.groups())  # type: ignore[union-attr]
        elif isinstance(idata, Mapping):
            self._groups = dict(idata)
            names = list(self._groups)
        if "posterior" not in names:
            raise NotFittedError(
                "idata must be the arviz.InferenceData that Model.fit() returned, with a "
                f"posterior group; got {type(idata).__name__}."
            )
        self._attrs = dict(attrs or {})

    @property
    def idata(self) -> az.InferenceData:
        """The InferenceData (made on first use from groups read from a file)."""
        if self._idata is None:
            import arviz as az

            assert self._groups is not None
            idata = az.InferenceData(**self._groups)  # type: ignore[arg-type]
            idata.attrs = dict(self._attrs)
            self._idata = idata
        return self._idata

    def names(self) -> list[str]:
        """The groups' names, without making the InferenceData."""
        return list(self._groups) if self._groups is not None else list(self.idata.groups())

    def group(self, name: str) -> xr.Dataset:
        """One group, without making the InferenceData."""
        return self._groups[name] if self._groups is not None else self.idata[name]

    def get(self, name: str) -> xr.Dataset | None:
        """One group, or ``None`` if the fit has none of that name (``sample_stats`` of a
        model saved with ``posterior_only=True``)."""
        return self.group(name) if name in self.names() else None

    @property
    def attrs(self) -> dict[str, Any]:
        """The fit's attributes (sampler, versions, ...), without making the InferenceData."""
        return dict(getattr(self._idata, "attrs", None) or self._attrs)
