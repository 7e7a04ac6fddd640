"""``hypothesis``: the posterior probability of statements about the parameters.

``hypothesis(fitted, "Days > 5")`` evaluates each side of the statement on every posterior
draw and reports, as brms's ``hypothesis`` does, the posterior of ``left - right`` (its
mean and a ``prob`` interval), the probability that the inequality holds, and its evidence
ratio ``p / (1 - p)``. Expressions may combine variables with numbers (``"Intercept + 3 *
Days > 280"``); names holding ``|`` or ``:`` are written in backticks (```1|Subject_sigma`
< 40``), an element of a variable with a dimension as ``name[level]``. The statements may
also be about the rows of a table that :func:`predictions`, :func:`comparisons` or
:func:`slopes` returned with ``return_draws=True``: the rows are ``b1``, ``b2``, ...

Expressions are parsed, never evaluated as Python: only names, numbers, ``+ - * / **``,
parentheses and the functions ``exp``, ``log``, ``sqrt`` and ``abs`` are allowed.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._errors import BayesmmWarning, DataError
from .._validation import did_you_mean
from ..fitted import FittedModel
from ..predict import interval
from ..priors import Prior
from ..priors.scipy_table import prior_draws, scipy_prior
from .grid import as_fitted

__all__ = ["hypothesis", "FUNCTIONS", "PRIOR_DRAWS"]

#: The functions an expression may call.
FUNCTIONS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
_OPERATORS = ("<=", ">=", "<", ">", "=")
_BINARY: Mapping[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


def _split(statement: str) -> tuple[str, str, str]:
    """``left``, the operator, and ``right`` of a statement (outside backticks and the
    brackets of ``name[level]``); ``==`` is ``=``."""
    hidden = re.sub(r"`[^`]*`|\[[^\]]*\]", lambda m: "_" * len(m.group()), statement)
    for op in ("==", *_OPERATORS):
        at = hidden.find(op)
        if at >= 0:
            left, right = statement[:at].strip(), statement[at + len(op) :].strip()
            return left, "=" if op == "==" else op, right
    raise DataError(
        f"hypothesis {statement!r} must compare two expressions with one of "
        f"{list(_OPERATORS)}, e.g. 'Days > 5' or 'Intercept + 3 * Days > 280'."
    )


class _Evaluator:
    """Evaluates a parsed expression on the draws of the variables it names."""

    def __init__(self, variables: Callable[[str], np.ndarray], statement: str) -> None:
        self.variables = variables
        self.statement = statement

    def __call__(self, text: str) -> np.ndarray:
        names: dict[str, str] = {}

        def placeholder(name: str) -> str:
            key = f"__name{len(names)}"
            names[key] = name
            return key

        source = re.sub(
            r"`([^`]*)`(\[[^\]]+\])?", lambda m: placeholder(m.group(1) + (m.group(2) or "")), text
        )
        # name[level]: an element of a variable with a dimension.
        source = re.sub(r"([A-Za-z_][\w.]*\[[^\]]+\])", lambda m: placeholder(m.group(1)), source)
        try:
            tree = ast.parse(source, mode="eval")
        except SyntaxError:
            raise DataError(
                f"hypothesis {self.statement!r}: {text!r} is not an expression of names, "
                "numbers and + - * / **; write names with | or : in backticks."
            ) from None
        return np.asarray(self._eval(tree.body, names), dtype=float)

    def _eval(self, node: ast.AST, names: Mapping[str, str]) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return self.variables(names.get(node.id, node.id))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](
                self._eval(node.left, names), self._eval(node.right, names)
            )
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self._eval(node.operand, names)
            return -value if isinstance(node.op, ast.USub) else value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS
            and len(node.args) == 1
            and not node.keywords
        ):
            return FUNCTIONS[node.func.id](self._eval(node.args[0], names))
        raise DataError(
            f"hypothesis {self.statement!r}: {ast.unparse(node)!r} is not allowed; expressions "
            f"may use names, numbers, + - * / ** and the functions {sorted(FUNCTIONS)}."
        )


def _posterior_variables(fitted: FittedModel) -> Callable[[str], np.ndarray]:
    posterior = fitted.idata["posterior"] if fitted.idata is not None else None
    assert posterior is not None

    def variable(name: str) -> np.ndarray:
        match = re.fullmatch(r"(.+)\[(.+)\]", name)
        base, level = (match.group(1), match.group(2)) if match else (name, None)
        if base not in posterior:
            known = [str(v) for v in posterior.data_vars]
            raise DataError(
                f"hypothesis names {name!r}, which is not a variable of the posterior; its "
                f"variables are {known[:30]}."
                + did_you_mean(base, known)
                + " Write names with | or : in backticks."
            )
        values = posterior[base].stack(sample=("chain", "draw")).transpose("sample", ...)
        extra = [d for d in values.dims if d != "sample"]
        if level is None:
            if extra:
                raise DataError(
                    f"hypothesis names {name!r}, which has the dimension(s) {extra}: name one "
                    f"element, e.g. {base}[{values[extra[0]].values[0]}]."
                )
            return values.to_numpy()
        if len(extra) != 1:
            raise DataError(f"hypothesis names {name!r}, but {base!r} has dimensions {extra}.")
        labels = [str(v) for v in values[extra[0]].values]
        if level not in labels:
            raise DataError(
                f"hypothesis names {name!r}: {level!r} is not among the levels of {base!r}, "
                f"{labels[:20]}." + did_you_mean(level, labels)
            )
        return values.to_numpy()[:, labels.index(level)]

    return variable


def _row_variables(draws: np.ndarray) -> Callable[[str], np.ndarray]:
    def variable(name: str) -> np.ndarray:
        match = re.fullmatch(r"b(\d+)", name)
        if not match or not 1 <= int(match.group(1)) <= draws.shape[1]:
            raise DataError(
                f"hypothesis names {name!r}; the rows of the table are b1 to b{draws.shape[1]}."
            )
        return draws[:, int(match.group(1)) - 1]

    return variable


#: Draws of the priors for the prior density of a statement about several parameters.
PRIOR_DRAWS = 20_000


def _centred(fitted: FittedModel) -> bool:
    """Whether the model's ``Intercept`` is sampled on centred predictors (its prior is
    then that of the centred intercept, not of the one reported)."""
    design, spec = fitted.design, fitted.spec
    slopes = any(not t.is_intercept for t in design.common_terms)
    center = True if spec is None else bool(spec.options.get("center_predictors", True))
    return design.has_intercept and slopes and center


def _prior_of(fitted: FittedModel, name: str) -> tuple[Any, str | None]:
    """The prior of the posterior variable ``name`` (an element of a vector term takes the
    term's), or ``None`` and why there is none."""
    base = re.sub(r"\[[^\]]*\]$", "", name)
    if fitted.spec is None:
        return None, "the model's priors are not known (a FittedModel without its spec)"
    if base == "Intercept" and _centred(fitted):
        return None, "the prior of the Intercept is on the centred predictors (drawn instead)"
    priors = fitted.spec.prior_dict()
    prior = priors.get(base)
    group = priors.get(base.removesuffix("_sigma"))
    if prior is None and base.endswith("_sigma") and isinstance(group, Prior):
        prior = group.params.get("sigma")  # a group term's sd
    if not isinstance(prior, Prior):
        return None, f"{name!r} has no prior of its own"
    return prior, None


def _savage_dickey(
    fitted: FittedModel | None, statement: str, left: str, right: str, difference: np.ndarray
) -> float:
    """The posterior density of ``left - right`` at 0 over its prior density (see
    :func:`hypothesis`); NaN with a warning where there is no proper prior density."""

    def nan(why: str) -> float:
        warnings.warn(f"hypothesis {statement!r}: no evidence ratio, {why}.", BayesmmWarning, 3)
        return float("nan")

    if fitted is None:
        return nan("the rows of a table have no prior")
    rng = np.random.default_rng(0)
    found: dict[str, np.ndarray] = {}

    def draws(name: str) -> np.ndarray:
        if name in found:  # one draw of each parameter per prior draw, however often named
            return found[name]
        if name == "Intercept" and _centred(fitted):
            return found.setdefault(name, _intercept_draws(fitted, draws))
        prior, why = _prior_of(fitted, name)
        values = None if prior is None else prior_draws(prior, PRIOR_DRAWS, rng)
        if values is None:
            raise _NoPrior(why or f"the prior of {name!r} is improper or has no scipy density")
        return found.setdefault(name, values)

    try:
        single = _single_name(left, right)
        density = None if single is None else scipy_prior(_prior_of(fitted, single[0])[0])
        if single is not None and density is not None:  # one parameter: its prior's density
            prior_at = float(density.pdf(single[1]))
        else:
            evaluate = _Evaluator(draws, statement)
            prior_difference = evaluate(left) - evaluate(right)
            prior_at = _density_at_zero(prior_difference, "its prior draws")
        if not prior_at > 0:
            raise _NoPrior("the prior density at the point is 0")
        return _density_at_zero(difference, "its posterior draws") / prior_at
    except _NoPrior as err:
        return nan(str(err))


def _intercept_draws(fitted: FittedModel, draws: Callable[[str], np.ndarray]) -> np.ndarray:
    """The prior draws of the reported ``Intercept`` of a model with centred predictors:
    ``b0 = b0_c - mean(x) . beta``, ``b0_c`` from the ``Intercept``'s prior and each slope
    from its own (the same draws as the statement's other mentions of the slope)."""
    design = fitted.design
    if design.n_obs == 0:
        raise _NoPrior(
            "the prior of the Intercept is on the centred predictors, whose means "
            "a model saved without its training rows does not have"
        )
    prior, _ = _prior_of_term(fitted, "Intercept")
    centred = None if prior is None else prior_draws(prior, PRIOR_DRAWS, np.random.default_rng(1))
    if centred is None:
        raise _NoPrior("the prior of the Intercept is improper or has no scipy density")
    means = design.common.mean(axis=0)
    total = centred
    for term in (t for t in design.common_terms if not t.is_intercept):
        if term.kind is not None:
            raise _NoPrior(
                f"the prior of the Intercept is on the centred predictors, and {term.name!r} is "
                "not a plain slope"
            )
        names = [term.name] if term.levels is None else [f"{term.name}[{v}]" for v in term.levels]
        for j, element in zip(range(term.start, term.stop), names, strict=True):
            total = total - means[j] * draws(element)
    return total


def _prior_of_term(fitted: FittedModel, name: str) -> tuple[Any, str | None]:
    """The prior a term's name keys (for the Intercept: the centred intercept's)."""
    assert fitted.spec is not None
    prior = fitted.spec.prior_dict().get(name)
    return (prior, None) if isinstance(prior, Prior) else (None, f"{name!r} has no prior")


def _density_at_zero(draws: np.ndarray, what: str) -> float:
    """A Gaussian KDE's density of ``draws`` at 0; draws all alike have none."""
    from scipy import stats

    if not np.all(np.isfinite(draws)) or np.ptp(draws) == 0:
        raise _NoPrior(f"{what} are all alike or not finite, and have no density")
    return float(stats.gaussian_kde(draws)(0.0)[0])


class _NoPrior(Exception):
    """A statement names a parameter without a proper prior density."""


def _single_name(left: str, right: str) -> tuple[str, float] | None:
    """``(name, number)`` for a statement of one parameter against a number."""
    for one, other in ((left, right), (right, left)):
        name = one.strip().strip("`")
        try:
            number = float(other)
        except ValueError:
            continue
        if re.fullmatch(r"[^\s+\-*/()]+(\[[^\]]+\])?", name):
            return name, number
    return None


def hypothesis(
    model: Any,
    hypotheses: str | Sequence[str],
    idata: Any = None,
    *,
    prob: float = 0.9,
    method: str = "eti",
    response: str | None = None,
) -> pd.DataFrame:
    """Posterior probabilities of statements about the parameters (or a table's rows).

    Parameters
    ----------
    model
        A ``FittedModel``; or a ``Model`` with its InferenceData as ``idata``; or the
        ``(table, draws)`` pair of :func:`predictions`, :func:`comparisons` or
        :func:`slopes` with ``return_draws=True``, whose rows are ``b1``, ``b2``, ...
    hypotheses : str or list of str
        Statements such as ``"Days > 5"``, ``"Intercept + 3 * Days > 280"``,
        ``"`1|Subject_sigma` < 40"``, ``"b2 - b1 > 0"``.
    prob : float, default 0.9
        The probability of the interval of ``left - right``.
    method : {"eti", "hdi"}, default "eti"
        Equal-tailed (brms's) or highest-density interval.
    response : str, optional
        For a multivariate model, the response whose parameters the statements name, as a
        model of that response alone names them (``"x > 0"`` for ``y1_x``; required). Its
        priors are not read, so a point hypothesis has no evidence ratio (NaN, with a
        warning).

    Returns
    -------
    pandas.DataFrame
        One row per statement: ``hypothesis``, ``estimate`` (the posterior mean of
        ``left - right``), ``lower``, ``upper``, ``probability`` (that the inequality holds;
        NaN for ``=``) and ``evidence_ratio``: ``p / (1 - p)`` for an inequality; for a
        point hypothesis (``=``), the posterior density of ``left - right`` at 0 over its prior
        density there, the Bayes factor of the point hypothesis (Savage–Dickey; as brms's).
        The prior density is the prior's own where the statement is one parameter against a
        number, and otherwise from :data:`PRIOR_DRAWS` draws of the priors, with the
        posterior's density estimator (a Gaussian KDE); NaN, with a warning saying why, where
        a parameter has no proper prior of its own.

    Raises
    ------
    DataError
        For a statement that does not parse, or names what the posterior does not have.
    """
    statements = [hypotheses] if isinstance(hypotheses, str) else hypotheses
    if (
        not isinstance(statements, list | tuple)
        or not statements
        or not all(isinstance(s, str) for s in statements)
    ):
        raise DataError(
            "hypotheses must be a statement or a list of them, e.g. 'Days > 5' or "
            f"['Days > 5', 'Intercept > 250']; got {type(hypotheses).__name__} {hypotheses!r}."
        )
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], np.ndarray):
        draws = np.asarray(model[1])
        variables = _row_variables(draws.reshape(draws.shape[0], -1))
    else:
        variables = _posterior_variables(as_fitted(model, idata, response))
    rows = []
    for statement in statements:
        left, op, right = _split(statement)
        evaluate = _Evaluator(variables, statement)
        difference = evaluate(left) - evaluate(right)
        if difference.ndim == 0:
            raise DataError(
                f"hypothesis {statement!r} names no variable: it is about numbers alone."
            )
        if difference.ndim != 1:
            difference = difference.reshape(difference.shape[0], -1)[:, 0]
        bounds = interval(difference[:, None], prob, method)[0]
        if op == "=":
            p = float("nan")
            fitted = None if isinstance(model, tuple) else as_fitted(model, idata, response)
            ratio = _savage_dickey(fitted, statement, left, right, difference)
        else:
            holds = difference > 0 if op in (">", ">=") else difference < 0
            p = float(holds.mean())
            ratio = float("inf") if p == 1 else p / (1 - p)
        rows.append(
            {
                "hypothesis": statement,
                "estimate": float(difference.mean()),
                "lower": float(bounds[0]),
                "upper": float(bounds[1]),
                "probability": p,
                "evidence_ratio": ratio,
            }
        )
    return pd.DataFrame(rows)
