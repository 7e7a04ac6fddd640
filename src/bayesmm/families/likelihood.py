"""``Likelihood``: the response distribution of a family, by its PyMC name."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import FamilyError
from .._validation import did_you_mean
from ..links import saved_path
from ..persist.importpath import PathPolicy, resolve_path
from .known import KNOWN_LIKELIHOODS

__all__ = ["Likelihood", "KNOWN"]

#: Written in a file for a function that a known PyMC distribution supplies (see
#: :mod:`bayesmm.families.known`); loading takes it from the table again.
KNOWN = "known"


@dataclass(frozen=True, init=False)
class Likelihood:
    """The response distribution.

    Parameters
    ----------
    name : str
        The PyMC distribution, e.g. ``"Normal"``.
    params : tuple of str, optional
        The family's parameters, parent first, e.g. ``("mu", "sigma")``. If omitted, the
        parameters of the PyMC distribution, for those bayesmm knows (``Normal``,
        ``Bernoulli``, ``Binomial``, ``Poisson``, ... see ``docs/families.md``); a numpy
        sampler and log density, and for ``Binomial`` the trials keyword, then come with them.
    parent : str, optional
        The parameter modelled by the linear predictor; must be one of ``params``. Default:
        the distribution's usual one (``mu``, ``p``), else the first of ``params``.
    to_dist : callable, optional
        Maps the family's parameters to the PyMC distribution's keyword arguments, using only
        arithmetic so that it works on numpy arrays and pytensor tensors. Default: identity.
    logit_kwarg : str, optional
        The distribution's keyword that takes the parent on the logit scale (e.g. ``"logit_p"``);
        used with the logit link, which is then never inverted, for numerical stability.
    trials_kwarg : str, optional
        The distribution's keyword for the number of trials (e.g. ``"n"``).
    draw : callable, optional
        ``draw(values, rng)`` draws responses with numpy, for posterior predictive draws
        without PyMC. ``values`` maps each family parameter (and ``"trials"`` for binomial
        families) to an array; the arrays broadcast together. Without it, a family can be
        fitted and give ``kind="response_params"`` predictions, but not ``kind="response"``.
    logpdf : callable, optional
        ``logpdf(y, values)``: the log density (or mass) of responses ``y`` with numpy, for
        the log predictive density of new data without PyMC. ``values`` is as for ``draw``.

    Raises
    ------
    FamilyError
        If ``params`` is omitted for a distribution bayesmm does not know, is not a tuple of
        distinct names, or does not hold ``parent``.

    Examples
    --------
    >>> Likelihood("Bernoulli", parent="p").params
    ('p',)
    >>> Likelihood("StudentT", parent="mu").params
    ('mu', 'nu', 'sigma')
    """

    name: str
    params: tuple[str, ...]
    parent: str
    to_dist: Callable[[dict[str, Any]], dict[str, Any]] | None
    logit_kwarg: str | None
    trials_kwarg: str | None
    draw: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None
    logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] | None

    def __init__(
        self,
        name: str,
        params: Sequence[str] | None = None,
        parent: str | None = None,
        to_dist: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        logit_kwarg: str | None = None,
        trials_kwarg: str | None = None,
        draw: Callable[[dict[str, np.ndarray], np.random.Generator], np.ndarray] | None = None,
        logpdf: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise FamilyError(
                f"Likelihood name must be the name of a PyMC distribution, e.g. 'Bernoulli'; "
                f"got {name!r}."
            )
        known = KNOWN_LIKELIHOODS.get(name)
        if params is None:
            if known is None:
                raise FamilyError(
                    f"Likelihood {name!r}: params must be given, parent first (e.g. "
                    "params=('mu', 'sigma')), for a distribution whose parameters bayesmm does "
                    f"not know; it knows those of {sorted(KNOWN_LIKELIHOODS)}; got params=None."
                    + did_you_mean(name, KNOWN_LIKELIHOODS)
                )
            if parent is not None and parent not in known.params:
                raise FamilyError(
                    f"Likelihood {name!r}: parent must be one of the parameters of PyMC's "
                    f"{name}, {list(known.params)}; got {parent!r}. For another "
                    "parameterisation pass params=(...) and to_dist."
                    + did_you_mean(str(parent), known.params)
                )
            trials_kwarg = trials_kwarg if trials_kwarg is not None else known.trials_kwarg
            if to_dist is None:
                draw = draw if draw is not None else known.draw
                logpdf = logpdf if logpdf is not None else known.logpdf
            params = known.params
        if (
            isinstance(params, str)
            or not isinstance(params, Sequence)
            or not params
            or not all(isinstance(p, str) and p for p in params)
            or len(set(params)) != len(params)
        ):
            raise FamilyError(
                f"Likelihood {name!r}: params must be a tuple of distinct parameter names, "
                f"parent first, e.g. ('mu', 'sigma'); got {params!r}."
            )
        if parent is None:
            usual = known.parent if known is not None else None
            parent = usual if usual in params else params[0]
        elif parent not in params:
            raise FamilyError(
                f"Likelihood {name!r}: parent must be one of its params {list(params)}; got "
                f"{parent!r}." + did_you_mean(str(parent), params)
            )
        assert parent is not None  # for the type checker
        for arg, given in (("to_dist", to_dist), ("draw", draw), ("logpdf", logpdf)):
            if given is not None and not callable(given):
                raise FamilyError(
                    f"Likelihood {name!r}: {arg} must be a callable or None; got {given!r}."
                )
        values: dict[str, Any] = {
            "name": name,
            "params": (parent, *(p for p in params if p != parent)),
            "parent": parent,
            "to_dist": to_dist,
            "logit_kwarg": logit_kwarg,
            "trials_kwarg": trials_kwarg,
            "draw": draw,
            "logpdf": logpdf,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def dist_kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """The PyMC distribution's keyword arguments for the family's parameter values."""
        return self.to_dist(values) if self.to_dist is not None else dict(values)

    def to_dict(self, family: str) -> dict[str, Any]:
        """JSON-ready values; functions by import path, or :data:`KNOWN` where the known
        PyMC distribution supplies them.

        Raises
        ------
        FamilyError
            If a function cannot be named by an import path; the message names ``family``.
        """
        known = KNOWN_LIKELIHOODS.get(self.name)

        def path(value: Any, where: str, default: Any = None) -> str | None:
            if value is None:
                return None
            if default is not None and value is default:
                return KNOWN
            return saved_path(value, family, f"its likelihood's {where}")

        return {
            "name": self.name,
            "params": list(self.params),
            "parent": self.parent,
            "to_dist": path(self.to_dist, "to_dist"),
            "logit_kwarg": self.logit_kwarg,
            "trials_kwarg": self.trials_kwarg,
            "draw": path(self.draw, "draw", known and known.draw),
            "logpdf": path(self.logpdf, "logpdf", known and known.logpdf),
        }

    @classmethod
    def from_dict(
        cls,
        record: Mapping[str, Any],
        policy: PathPolicy | None = None,
        where: str = "the likelihood record",
        own: Mapping[str, Collection[str]] | None = None,
    ) -> Likelihood:
        """The inverse of :meth:`to_dict`, the functions resolved under ``policy``;
        ``where`` names the record in errors, and ``own`` holds the paths that a record with
        a built-in family's name may name, by ``"likelihood.<field>"`` (see
        :func:`bayesmm.families.paths.own_paths`).

        Raises
        ------
        LookupError
            If a function's module cannot be imported or does not hold it, or the policy
            does not allow it (:class:`~bayesmm.persist.importpath.UntrustedPathError`).
        """
        name = record["name"]
        known = KNOWN_LIKELIHOODS.get(name)

        def function(key: str, default: Any = None) -> Any:
            owned = None if own is None else own.get(f"likelihood.{key}", ())
            return resolve_known(
                record[key],
                default,
                name,
                policy,
                f"{where}, in its likelihood's {key!r} field,",
                owned,
            )

        return cls(
            name,
            tuple(record["params"]),
            record["parent"],
            to_dist=function("to_dist"),
            logit_kwarg=record["logit_kwarg"],
            trials_kwarg=record["trials_kwarg"],
            draw=function("draw", known and known.draw),
            logpdf=function("logpdf", known and known.logpdf),
        )


def resolve_known(
    value: str | None,
    default: Any,
    distribution: str,
    policy: PathPolicy | None = None,
    where: str = "the file",
    own: Collection[str] | None = None,
) -> Any:
    """A function recorded by :meth:`Likelihood.to_dict`: ``None``, the known distribution's
    own (:data:`KNOWN`), or the function at an import path (``where`` and ``own`` as for
    :func:`~bayesmm.persist.importpath.resolve_path`).

    Raises
    ------
    LookupError
        If the path cannot be resolved, or no function of the distribution is known.
    """
    if value is None:
        return None
    if value == KNOWN:
        if default is None:
            raise LookupError(f"no function of PyMC's {distribution} is known")
        return default
    return resolve_path(value, policy, where, own)
