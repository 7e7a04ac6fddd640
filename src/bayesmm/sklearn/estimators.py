"""``BayesianRegressor`` and ``BayesianClassifier``: mixed models as scikit-learn estimators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .._errors import DataError, FamilyError
from .._validation import choice_message
from ..families import get_family
from ..predict import POINT_STATS
from .base import BayesianMixedModel

__all__ = ["BayesianRegressor", "BayesianClassifier", "CLASSIFIER_LINKS"]

#: The links of a binary response that keep the probability in [0, 1].
CLASSIFIER_LINKS = ("logit", "probit", "cloglog")


class BayesianRegressor(RegressorMixin, BayesianMixedModel):
    """A Bayesian (generalised) linear mixed model as a scikit-learn regressor.

    ``fit(X, y)`` builds a :class:`bayesmm.Model` from the formula (or an additive model in
    every column of X) and samples its posterior with NUTS; ``predict`` gives the posterior
    mean of each row's expected response. On top of what a point-estimate regressor gives, it
    has :meth:`predict_interval`, :meth:`sample_y` and :meth:`log_likelihood`, which the
    scorers of :mod:`bayesmm.sklearn` use. See ``docs/sklearn.md``.

    Parameters
    ----------
    formula : str, optional
        An lme4-style formula in the columns of X: ``"~ Days + (Days | Subject)"``, or with
        the response named, ``"Reaction ~ Days + (Days | Subject)"`` (y is then put in a
        column of that name). For a numpy X the columns are ``x0``, ``x1``, .... By default,
        an additive model in every column, with a ``(1|g)`` term for each of
        ``group_columns``.
    family : str, default "gaussian"
        A family of :data:`bayesmm.FAMILIES` other than ``"bernoulli"`` (use
        :class:`BayesianClassifier`) and ``"binomial"`` (whose response is a pair).
    priors : dict, optional
        Priors replacing the defaults, as in :class:`bayesmm.Model`.
    prior_scale : str or float, optional
        With ``automatic_priors="mle"``: the scale of every common term's prior on the
        partial-correlation scale, ``"narrow"``, ``"medium"``, ``"wide"``, ``"superwide"`` or
        a number in (0, 1]; the parameter to tune with ``GridSearchCV``.
    automatic_priors : {"default", "mle"}, default "default"
        How the default priors are scaled (see ``docs/priors.md``).
    link : str, optional
        The link of the family's mean; the family's default if omitted.
    group_columns : str, int or list, optional
        Columns of X (names, or positions) that are grouping factors: each becomes a
        ``(1|g)`` term of the default formula and is not a common predictor.
    categorical : str or list of str, optional
        Columns to treat as categorical whatever their dtype.
    draws, tune : int, default 1000
        Posterior draws kept, and tuning draws discarded, per chain.
    chains : int, default 4
        Chains; nutpie runs them in parallel threads.
    inference_method : {"nutpie", "pymc", "numpyro", "blackjax"}, default "nutpie"
        The NUTS implementation. With nutpie, refits of the same structure (cross-validation
        folds, grid-search candidates) reuse the compiled sampler.
    random_seed : int, optional
        Seed of the sampler and of the predictive draws; with it, fits and predictions are
        reproducible.
    sample_new_groups : bool or str, default "gaussian"
        Group levels of X not seen in fit (common in cross-validation) get effects drawn from
        the fitted population distribution; ``False`` raises an error instead. See
        ``docs/prediction.md`` for the other policies.
    predict_stat : {"mean", "median"}, default "mean"
        ``predict`` gives the posterior mean of the expected response, or the median of the
        posterior predictive distribution.
    reuse_compiled : bool, default True
        Reuse compiled samplers across fits of the same structure (nutpie only).
    progressbar : bool, default False
        Show the sampler's progress.

    Attributes
    ----------
    model_ : bayesmm.Model
        The model fitted.
    idata_ : arviz.InferenceData
        Its posterior.
    fitted_ : bayesmm.fitted.FittedModel
        Predictions and summaries from the posterior.
    formula_ : str
        The formula fitted.
    n_features_in_ : int
        Columns of X.
    feature_names_in_ : ndarray of str
        Column names of X, when X is a DataFrame with string column names.

    Examples
    --------
    >>> from bayesmm.sklearn import BayesianRegressor
    >>> data = bmm.load_data("sleepstudy")  # doctest: +SKIP
    >>> reg = BayesianRegressor("~ Days + (Days | Subject)", random_seed=0)  # doctest: +SKIP
    >>> reg.fit(data[["Days", "Subject"]], data["Reaction"])  # doctest: +SKIP
    >>> reg.predict_interval(data[["Days", "Subject"]][:2], prob=0.9)  # doctest: +SKIP
    """

    def __init__(
        self,
        formula: str | None = None,
        family: str = "gaussian",
        priors: Mapping[Any, Any] | None = None,
        prior_scale: str | float | None = None,
        automatic_priors: str = "default",
        link: str | None = None,
        group_columns: str | int | Sequence[str | int] | None = None,
        categorical: str | Sequence[str] | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        inference_method: str = "nutpie",
        random_seed: int | None = None,
        sample_new_groups: bool | str = "gaussian",
        predict_stat: str = "mean",
        reuse_compiled: bool = True,
        progressbar: bool = False,
    ) -> None:
        self.formula = formula
        self.family = family
        self.priors = priors
        self.prior_scale = prior_scale
        self.automatic_priors = automatic_priors
        self.link = link
        self.group_columns = group_columns
        self.categorical = categorical
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.inference_method = inference_method
        self.random_seed = random_seed
        self.sample_new_groups = sample_new_groups
        self.predict_stat = predict_stat
        self.reuse_compiled = reuse_compiled
        self.progressbar = progressbar

    def _family(self) -> str:
        family = get_family(self.family)
        if family.binary:
            raise FamilyError(
                f"BayesianRegressor takes a family with one number per response; got "
                f"family={family.name!r}. Use BayesianClassifier for a binary response."
            )
        if family.trials:
            raise FamilyError(
                f"BayesianRegressor takes a family with one number per response; got "
                f"family={family.name!r}, whose response is a pair p(successes, trials). Use "
                "bayesmm.Model for it, or BayesianClassifier on one row per trial."
            )
        return family.name

    def fit(self, X: Any, y: Any) -> BayesianRegressor:
        """Sample the posterior of the model of y given X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Numbers in the family's support.

        Returns
        -------
        self
        """
        self._fit(X, y)
        return self

    def _target(self, y: np.ndarray) -> np.ndarray:
        return check_array(y, ensure_2d=False, dtype="numeric", input_name="y")

    def predict(self, X: Any) -> np.ndarray:
        """The posterior mean of each row's expected response (or the predictive median).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        if self.predict_stat not in POINT_STATS:
            raise DataError(choice_message("predict_stat", self.predict_stat, POINT_STATS))
        if self.predict_stat == "mean":
            return self._draws(X, "response_params").mean(axis=0)
        return np.median(self._draws(X, "response"), axis=0)


class BayesianClassifier(ClassifierMixin, BayesianMixedModel):
    """A Bayesian logistic (or probit, cloglog) mixed model as a scikit-learn classifier.

    Binary targets of any two labels; ``classes_[1]`` is the event modelled.
    ``predict_proba`` gives the posterior mean of each row's probability of each class. See
    :class:`BayesianRegressor` for the parameters, which are the same but for ``family``
    (always bernoulli), ``link`` (``"logit"``, ``"probit"`` or ``"cloglog"``) and
    ``predict_stat``; and ``docs/sklearn.md``.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The labels, sorted; the model is of the probability of ``classes_[1]``.
    """

    def __init__(
        self,
        formula: str | None = None,
        priors: Mapping[Any, Any] | None = None,
        prior_scale: str | float | None = None,
        automatic_priors: str = "default",
        link: str | None = None,
        group_columns: str | int | Sequence[str | int] | None = None,
        categorical: str | Sequence[str] | None = None,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 4,
        inference_method: str = "nutpie",
        random_seed: int | None = None,
        sample_new_groups: bool | str = "gaussian",
        reuse_compiled: bool = True,
        progressbar: bool = False,
    ) -> None:
        self.formula = formula
        self.priors = priors
        self.prior_scale = prior_scale
        self.automatic_priors = automatic_priors
        self.link = link
        self.group_columns = group_columns
        self.categorical = categorical
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.inference_method = inference_method
        self.random_seed = random_seed
        self.sample_new_groups = sample_new_groups
        self.reuse_compiled = reuse_compiled
        self.progressbar = progressbar

    def _family(self) -> str:
        if self.link is not None and self.link not in CLASSIFIER_LINKS:
            raise FamilyError(choice_message("link", self.link, CLASSIFIER_LINKS))
        return "bernoulli"

    def fit(self, X: Any, y: Any) -> BayesianClassifier:
        """Sample the posterior of the probability of ``classes_[1]`` given X.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Two distinct labels.

        Returns
        -------
        self
        """
        self._fit(X, y)
        self.classes_ = self.__dict__.pop("_classes")
        return self

    def _target(self, y: np.ndarray) -> np.ndarray:
        if y.dtype.kind in "fc":  # NaN and inf first: type_of_target would cast them to int
            check_array(y, ensure_2d=False, input_name="y")
        check_classification_targets(y)
        target = type_of_target(y, input_name="y")
        if target not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {target!r}.")
        classes = np.unique(y)
        if len(classes) == 1:
            raise ValueError(
                f"BayesianClassifier needs samples of 2 classes; y has 1 class: {classes[0]!r}."
            )
        if len(classes) > 2:
            raise ValueError(
                "Only binary classification is supported. The type of the target is "
                f"multiclass: y has {len(classes)} classes; BayesianClassifier models two."
            )
        self._classes = classes
        return (y == classes[1]).astype(np.int64)

    def _encode_y(self, y: Any) -> np.ndarray:
        y = column_or_1d(y)
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise DataError(
                f"y has labels {sorted(set(np.asarray(y)[unknown].tolist()))[:5]} not among "
                f"the classes seen in fit, {self.classes_.tolist()}."
            )
        return (y == self.classes_[1]).astype(float)

    def _labels(self, values: np.ndarray) -> np.ndarray:
        return self.classes_[values.astype(np.int64)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior mean probability of each class for each row.

        Returns
        -------
        ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``.
        """
        p = self._draws(X, "response_params").mean(axis=0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class of each row (``classes_[0]`` on a tie)."""
        check_is_fitted(self)
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags
