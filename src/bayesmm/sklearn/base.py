"""What the regressor and the classifier share: data handling, fitting and sampling, and
the compiled samplers their clones reuse."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .._errors import DataError, FormulaError, PriorError
from .._validation import choice_message
from ..formula import parse_formula
from ..model import Model
from ..predict import INTERVAL_METHODS, PredictOptions, interval

if TYPE_CHECKING:
    from ..backend.programs import CompiledCache
    from ..fitted import FittedModel

__all__ = [
    "BayesianMixedModel",
    "DEFAULT_RESPONSE",
    "compiled_cache",
    "clear_compiled_cache",
]

#: The response column's name when the formula does not give one.
DEFAULT_RESPONSE = "y"


def compiled_cache() -> CompiledCache:
    """The compiled samplers the estimators share in this process: the backend's shared
    cache (:func:`bayesmm.backend.compiled.shared_cache`).

    Cross-validation and grid search fit clones of an estimator, so the compiled samplers
    cannot live on the estimators. ``compiled_cache().hits`` and ``.misses`` count the fits
    that reused one and the fits that compiled one.
    """
    from ..backend.programs import shared_cache

    return shared_cache()


def clear_compiled_cache() -> None:
    """Drop the compiled samplers that the estimators share (frees their memory)."""
    compiled_cache().clear()


class BayesianMixedModel(BaseEstimator):
    """What the regressor and the classifier share: data handling, fitting, sampling."""

    # Set by the subclasses.
    _binary = False

    def _family(self) -> str:
        raise NotImplementedError

    # --- data ------------------------------------------------------------------------------

    def _group_names(self, columns: Sequence[str], from_array: bool) -> list[str]:
        groups = self.group_columns
        if groups is None:
            return []
        groups = [groups] if isinstance(groups, str | int) else list(groups)
        names = []
        for group in groups:
            if isinstance(group, int | np.integer) and not isinstance(group, bool):
                if not 0 <= group < len(columns):
                    raise DataError(
                        f"group_columns has the position {group}, but X has {len(columns)} columns."
                    )
                names.append(columns[int(group)])
            elif isinstance(group, str) and group in columns:
                names.append(group)
            else:
                hint = " (X is an array: name its columns 'x0', 'x1', ... or give positions)"
                raise DataError(
                    f"group_columns names {group!r}, which is not a column of X; its columns "
                    f"are {list(columns)}." + (hint if from_array else "")
                )
        return names

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """X as a DataFrame whose columns the formula names (``x0``, ``x1``, ... for arrays)."""
        # As scikit-learn: only a DataFrame whose column names are all strings has feature
        # names; any other X is an array, with columns x0, x1, ...
        named = isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns)
        if named and (reset or hasattr(self, "feature_names_in_")):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError(
                    "Found array with 0 sample(s) (shape=(0, "
                    f"{X.shape[1]})) while a minimum of 1 is required."
                )
            return X.reset_index(drop=True)
        has_groups = bool(self.group_columns is not None and self.group_columns != [])
        array = validate_data(
            self,
            X,
            reset=reset,
            # Group columns may hold labels; the other columns are checked below.
            dtype=None if has_groups else "numeric",
            ensure_all_finite=not has_groups,
        )
        names = (
            [str(c) for c in self.feature_names_in_]
            if hasattr(self, "feature_names_in_")
            else [f"x{j}" for j in range(array.shape[1])]
        )
        frame = pd.DataFrame(array, columns=names)
        if has_groups:
            groups = set(self._group_names(names, from_array=True))
            for name in names:
                if name not in groups:
                    frame[name] = check_array(
                        frame[[name]].to_numpy(), dtype="numeric", input_name=f"X column {name}"
                    )[:, 0]
                else:
                    frame[name] = _group_labels(frame[name], name)
        return frame

    def _response_name(self) -> str:
        if self.formula is None:
            return DEFAULT_RESPONSE
        if not isinstance(self.formula, str):
            raise FormulaError(
                f"formula must be a string such as 'y ~ x + (1|g)' or '~ x + (1|g)'; got "
                f"{type(self.formula).__name__}."
            )
        lhs = self.formula.split("~", 1)[0].strip() if "~" in self.formula else None
        if lhs is None:
            raise FormulaError(
                f"formula {self.formula!r} has no '~'; write '~ x + (1|g)' (the response is "
                "the y passed to fit) or 'y ~ x + (1|g)'."
            )
        if not lhs:
            return DEFAULT_RESPONSE
        name = lhs[1:-1] if lhs.startswith("`") and lhs.endswith("`") else lhs
        if not re.fullmatch(r"[^\s~+*/:|()\[\]`]+|`[^`]+`", lhs):
            raise FormulaError(
                f"The left-hand side of formula {self.formula!r} must name the response (the "
                f"y passed to fit), e.g. 'y'; got {lhs!r}. Transform y before fitting instead."
            )
        return name

    def _formula(self, frame: pd.DataFrame, response: str, from_array: bool) -> str:
        groups = self._group_names(list(frame.columns), from_array)
        if self.formula is not None:
            if groups:
                raise FormulaError(
                    "group_columns builds the default formula; with a formula, write the group "
                    f"terms in it, e.g. '(1|{groups[0]})'; got formula={self.formula!r} and "
                    f"group_columns={self.group_columns!r}."
                )
            rhs = self.formula.split("~", 1)[1]
            return f"{_quote(response)} ~ {rhs.strip()}"
        common = [_quote(c) for c in frame.columns if c not in groups and c != response]
        terms = [*(common or ["1"]), *(f"(1|{_quote(g)})" for g in groups)]
        return f"{_quote(response)} ~ " + " + ".join(terms)

    # --- fitting ---------------------------------------------------------------------------

    def _priors(self) -> dict[Any, Any] | None:
        if self.priors is not None and not isinstance(self.priors, Mapping):
            raise PriorError(
                f"priors must be a dict mapping term names to Prior objects; got "
                f"{type(self.priors).__name__}."
            )
        priors = dict(self.priors) if self.priors is not None else None
        if self.prior_scale is None:
            return priors
        if self.automatic_priors != "mle":
            raise PriorError(
                f"prior_scale={self.prior_scale!r} sets the scale of the common terms on the "
                "partial-correlation scale, which needs automatic_priors='mle'; got "
                f"automatic_priors={self.automatic_priors!r}."
            )
        return {"common": self.prior_scale, **(priors or {})}

    def _target(self, y: np.ndarray) -> np.ndarray:
        """Check y and encode it for the model; set by the subclasses."""
        raise NotImplementedError

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "fitted_")

    def _fit(self, X: Any, y: Any) -> None:
        # A failed refit must not leave the last fit's attributes next to this one's.
        for name in ("model_", "idata_", "fitted_", "formula_", "classes_"):
            self.__dict__.pop(name, None)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        frame = self._frame(X, reset=True)
        from_array = not hasattr(self, "feature_names_in_")
        y = self._target(column_or_1d(y, warn=True))
        if frame.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to fit; got "
                f"n_samples = {frame.shape[0]} (1 sample)."
            )
        response = self._response_name()
        if response in frame.columns:
            raise DataError(
                f"X has a column named {response!r}, the name of the response; rename the "
                "column, or name the response otherwise on the formula's left-hand side."
            )
        check_consistent_length(frame, y)
        formula = self._formula(frame, response, from_array)
        _check_complete(frame, formula)
        frame[response] = y
        self.model_ = Model(
            formula,
            frame,
            family=self._family(),
            priors=self._priors(),
            link=self.link,
            categorical=self.categorical,
            automatic_priors=self.automatic_priors,
        )
        cache = None
        if self.inference_method == "nutpie":
            from ..backend.programs import CompiledCache

            # reuse_compiled=False: a cache of this fit alone, so nutpie compiles afresh.
            cache = compiled_cache() if self.reuse_compiled else CompiledCache(max_size=1)
        self.idata_ = self.model_.fit(
            draws=self.draws,
            tune=self.tune,
            chains=self.chains,
            inference_method=self.inference_method,
            random_seed=self.random_seed,
            progressbar=self.progressbar,
            log_likelihood=False,
            cache=cache,
        )
        self.fitted_ = self.model_.fitted(self.idata_)
        self.formula_ = self.model_.formula.main

    # --- predicting ------------------------------------------------------------------------

    def _options(self, random_state: int | None = None, **extra: Any) -> PredictOptions:
        """The prediction options of this estimator's parameters (and ``extra``)."""
        return PredictOptions(
            sample_new_groups=self.sample_new_groups,
            random_seed=self.random_seed if random_state is None else random_state,
            **extra,
        )

    def _draws(self, X: Any, kind: str, random_state: int | None = None) -> np.ndarray:
        """Posterior draws for the rows of X, shape ``(draws, rows)``."""
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        fitted: FittedModel = self.fitted_
        return fitted.draws(frame, kind, options=self._options(random_state))

    def predict_interval(self, X: Any, prob: float = 0.9, method: str = "eti") -> np.ndarray:
        """A ``prob`` posterior predictive interval for each row of X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The rows to predict for.
        prob : float, default 0.9
            The probability the interval holds; in (0, 1).
        method : {"eti", "hdi"}, default "eti"
            Equal-tailed (quantiles ``(1 - prob) / 2`` and ``(1 + prob) / 2``) or
            highest-density intervals.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            The lower and upper bounds, on the response's scale (0/1 for the classifier).
        """
        if method not in INTERVAL_METHODS:
            raise DataError(choice_message("method", method, INTERVAL_METHODS))
        return interval(self._draws(X, "response"), prob, method)

    def sample_y(self, X: Any, n_samples: int = 1, random_state: int | None = None) -> np.ndarray:
        """Draws from the posterior predictive distribution of each row of X.

        Like ``GaussianProcessRegressor.sample_y``: one column per draw.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples_X, n_features)
            The rows to draw for.
        n_samples : int, default 1
            Draws per row, from evenly spaced posterior draws; at most ``draws * chains``.
        random_state : int, optional
            Seed of the draws; the estimator's ``random_seed`` if omitted.

        Returns
        -------
        ndarray of shape (n_samples_X, n_samples)
        """
        check_is_fitted(self)
        total = self.fitted_.posterior_draws.n_samples
        if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
            raise DataError(f"n_samples must be an integer; got {n_samples!r}.")
        if not 1 <= n_samples <= total:
            raise DataError(
                f"n_samples must be between 1 and the {total} posterior draws; got {n_samples}."
            )
        frame = self._frame(X, reset=False)
        options = self._options(random_state, n_samples=int(n_samples))
        values = self.fitted_.draws(frame, "response", options=options)
        return self._labels(values.T)

    def _labels(self, values: np.ndarray) -> np.ndarray:
        return values

    def log_likelihood(self, X: Any, y: Any) -> np.ndarray:
        """Pointwise log-likelihood of the targets ``y`` of the rows of X, per posterior draw.

        Returns
        -------
        ndarray of shape (draws, n_samples)
            Its ``logsumexp`` over draws minus ``log(draws)`` is each row's log predictive
            density (see :func:`bayesmm.sklearn.log_predictive_density`).
        """
        check_is_fitted(self)
        frame = self._frame(X, reset=False)
        return self.fitted_.log_likelihood(frame, self._encode_y(y), options=self._options())

    def _encode_y(self, y: Any) -> np.ndarray:
        return np.asarray(column_or_1d(y), dtype=float)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # With a random_seed, fits and predictions are reproducible to the last bit.
        tags.non_deterministic = self.random_seed is None
        return tags


def _check_complete(X: pd.DataFrame, formula: str) -> None:
    """Missing values in the columns the formula uses, with what to do about them in
    scikit-learn (the model's own message suggests ``dropna``, which the estimators lack;
    new rows are checked by the design when predicting)."""
    used = set(parse_formula(formula).var_names)
    missing = X[[c for c in X.columns if c in used]].isna().sum()
    missing = missing[missing > 0]
    if len(missing):
        counts = {str(k): int(v) for k, v in missing.items()}
        raise DataError(
            f"X has missing values: {counts} (column: rows). Put an imputer such as "
            "sklearn.impute.SimpleImputer in front of the estimator in a Pipeline, or drop "
            "the rows."
        )


def _group_labels(values: pd.Series, name: str) -> pd.Series:
    """A grouping column of a numpy X as text labels; 3 and 3.0 are the same group."""
    missing = pd.isna(values)
    if missing.any():
        raise ValueError(
            f"Input X contains NaN in the group column {name!r} ({int(missing.sum())} rows)."
        )

    def label(value: Any) -> str:
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value)

    return values.map(label)


def _quote(name: str) -> str:
    """A column name as formulae reads it: backquoted unless it is an identifier."""
    return name if name.isidentifier() else f"`{name}`"
