"""Propensity score: a logistic regression of ``treated`` on the covariates (statsmodels).

.. math::

    e(x) = P(T = 1 \\mid x) = \\operatorname{expit}(x^\\top\\beta), \\qquad
    \\text{distance} = \\operatorname{logit} e(x) = x^\\top\\beta \\ \\text{(default) or } e(x).

Categorical covariates enter as dummies ``var[level]`` against ``reference`` (default their first
sorted level, a stable reference), ``log1p`` replaces the linear term of a count by
:math:`\\log(1 + x)`, ``squares`` add :math:`x^2`, ``splines`` replace the linear term of a
covariate by a natural cubic regression spline (formulaic ``cr(x, df, constraints="center")``),
``formula`` adds any formulaic terms (see :mod:`leadeval.formulas`). The design is built once by
formulaic as a numpy array and fitted by a vectorised Newton loop (:func:`_logit_newton`):
about 2 s for a million rows and ten covariates, a third of it the design (benchmarks/bench_propensity.py).

Example
-------
>>> import numpy as np, pandas as pd
>>> from leadeval.config import MatchingConfig
>>> rng = np.random.default_rng(1)
>>> df = pd.DataFrame({"person_id": range(200), "age": rng.normal(35, 8, 200)})
>>> df["treated"] = (rng.random(200) < 1 / (1 + np.exp(-(df.age - 35) / 8))).astype(int)
>>> ps = fit_propensity(df, MatchingConfig(covariates=["age"]))
>>> ps.coefficients["term"].tolist()
['Intercept', 'age']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from leadeval.config import MatchingConfig
from leadeval.errors import MatchingError
from leadeval.formulas import FormulaTermError, categorical, design, quote, warn_linear_counts
from leadeval.matching._frame import TREAT, text_levels


@dataclass(frozen=True)
class PropensityResult:
    """A fitted propensity model.

    Attributes
    ----------
    formula : the (formulaic) formula of the score model
    coefficients : DataFrame ``term, estimate, std_error, conf_low, conf_high, p_value``
    score : fitted probabilities e(x), aligned with the matching frame (sorted by person_id)
    linear_predictor : logit e(x)
    n : number of units the model was fitted on
    converged : whether the optimiser converged
    """

    formula: str
    coefficients: pd.DataFrame
    score: np.ndarray
    linear_predictor: np.ndarray
    n: int
    converged: bool

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (model scale, with the odds ratio columns)."""
        out = self.coefficients.copy()
        out["ratio"] = np.exp(out["estimate"])
        out["ratio_low"] = np.exp(out["conf_low"])
        out["ratio_high"] = np.exp(out["conf_high"])
        out["n"] = self.n
        return out


def score_terms(spec: MatchingConfig, frame: pd.DataFrame) -> list[str]:
    """The formulaic terms of the score model of ``spec`` (right-hand side, no intercept)."""
    replaced = set(spec.splines) | set(spec.log1p)  # a spline or log1p replaces the linear term
    terms = [quote(c) for c in spec.covariates if c not in replaced]
    for c in spec.categorical:
        ref = spec.reference.get(c, sorted(frame[c].astype(str).unique())[0])
        terms.append(categorical(c, ref))
    terms += [f"log1p({quote(c)})" for c in spec.log1p]
    terms += [f"{{{quote(c)} ** 2}}" for c in spec.squares]
    terms += [f'cr({quote(c)}, df={df}, constraints="center")' for c, df in spec.splines.items()]
    if spec.formula:
        terms.append(spec.formula)
    if not terms:
        raise MatchingError(
            "the propensity model has no covariates: list them under matching.covariates "
            "(numeric) or matching.categorical"
        )
    return terms


def score_formula(spec: MatchingConfig, frame: pd.DataFrame) -> str:
    """The formulaic formula of the score model of ``spec``."""
    return f"{TREAT} ~ " + " + ".join(score_terms(spec, frame))


#: rows per block of the Newton passes: a block of the design (8,192 x ~15 float64, ~1 MB) and
#: its weighted copy stay in cache, which halves a million-row fit against whole-array products
_BLOCK = 1 << 13


def _weighted_pass(
    X: np.ndarray, y: np.ndarray | None, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:math:`X^\\top W X` and :math:`X^\\top (y - p)` at ``beta`` (the gradient only when ``y``
    is given), accumulated over row blocks with BLAS matrix products."""
    k = X.shape[1]
    info, grad = np.zeros((k, k)), np.zeros(k)
    for s in range(0, len(X), _BLOCK):
        xb = X[s : s + _BLOCK]
        p = 1 / (1 + np.exp(-(xb @ beta)))
        info += xb.T @ (xb * (p * (1 - p))[:, None])
        if y is not None:
            grad += xb.T @ (y[s : s + _BLOCK] - p)
    return info, grad


def _logit_newton(
    X: np.ndarray, y: np.ndarray, maxiter: int = 100, tol: float = 1e-9, intercept: bool = False
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Logistic ML by Newton-Raphson: :math:`\\beta \\leftarrow \\beta + (X^\\top W X)^{-1}
    X^\\top (y - p)`, :math:`W = p(1-p)`; returns the estimate, the inverse information and
    whether the step converged. Our own loop (about 15 lines) rather than ``statsmodels.Logit``,
    which spends most of a million-row fit on a QR rank check and a slow Hessian; the estimates
    equal R's ``glm(binomial)`` (tests/test_matching_reference.py). Each iteration is one pass
    over the rows in cache-sized blocks (:func:`_weighted_pass`). With ``intercept`` (the first
    column is the constant) the loop starts from the intercept-only fit, as R's ``glm`` starts
    from the observed rate, which saves about two iterations of the start from zero."""
    X = np.ascontiguousarray(X, dtype=float)
    beta = np.zeros(X.shape[1])
    ybar = float(np.mean(y)) if len(y) else 0.5
    if intercept and 0 < ybar < 1:
        beta[0] = np.log(ybar / (1 - ybar))
    converged = False
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(maxiter):
            info, grad = _weighted_pass(X, y, beta)
            try:
                step = np.linalg.solve(info, grad)
            except np.linalg.LinAlgError:
                break
            beta = beta + step
            if not np.all(np.isfinite(beta)):
                break
            if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
                converged = True
                break
        info, _ = _weighted_pass(X, None, beta)
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.full_like(info, np.nan)
    return beta, cov, converged


def _separation_check(frame: pd.DataFrame, spec: MatchingConfig) -> None:
    """Name covariates (or levels) that alone separate treated from controls."""
    t = frame[TREAT].to_numpy() == 1
    problems = []
    for c in dict.fromkeys([*spec.covariates, *spec.log1p, *spec.squares, *spec.splines]):
        x = frame[c].to_numpy(dtype=float)
        lo1, hi1, lo0, hi0 = x[t].min(), x[t].max(), x[~t].min(), x[~t].max()
        if hi1 < lo0 or hi0 < lo1:
            problems.append(
                f"{c!r} separates the groups completely (treated {lo1:g}..{hi1:g}, "
                f"controls {lo0:g}..{hi0:g})"
            )
    for c in spec.categorical:
        codes, levels = text_levels(frame[c])  # counts per level (as text) and group
        n0 = np.bincount(codes[~t], minlength=len(levels))
        n1 = np.bincount(codes[t], minlength=len(levels))
        only = (n0 == 0) | (n1 == 0)
        if only.any():
            desc = ", ".join(
                f"{lvl} ({'only treated' if a == 0 else 'only controls'}, n={a + b})"
                for lvl, a, b in zip(levels[only], n0[only], n1[only], strict=True)
            )
            problems.append(f"{c!r} has levels seen in one group only: {desc}")
    if problems:
        raise MatchingError(
            "perfect separation in the propensity model: "
            + "; ".join(problems)
            + ". Drop or coarsen these covariates, or match exactly on them (matching.exact)"
        )


def fit_propensity(
    frame: pd.DataFrame, spec: MatchingConfig, warn: bool = True
) -> PropensityResult:
    """Fit the logistic propensity model of ``spec`` on ``frame``.

    Parameters
    ----------
    frame : DataFrame with ``treated`` (0/1) and the spec's covariates (no missing values)
    spec : :class:`~leadeval.config.MatchingConfig`
    warn : warn (:class:`~leadeval.errors.SpecificationWarning`) when a count covariate enters
        linearly

    Returns
    -------
    PropensityResult

    Raises
    ------
    MatchingError
        on perfect separation (naming the covariate or level) or when the scores do not overlap.
    """
    _separation_check(frame, spec)
    neg = [c for c in spec.log1p if (frame[c].to_numpy(dtype=float) < 0).any()]
    if neg:
        raise MatchingError(
            f"matching.log1p: {neg} have negative values, where log(1 + x) is undefined below -1 "
            "and meaningless for a count; list them under covariates or splines instead"
        )
    if warn:
        warn_linear_counts(
            frame, [c for c in spec.covariates if c not in {*spec.log1p, *spec.splines}],
            "matching.covariates",
        )
    terms = score_terms(spec, frame)
    formula = f"{TREAT} ~ " + " + ".join(terms)
    try:
        X, names = design(frame, terms, intercept=True)
    except FormulaTermError as err:
        raise MatchingError(f"matching (score model {formula!r}): {err}") from None
    # max |x| per column without an |X| copy of the design (a state's millions of rows)
    scale = np.maximum(np.maximum(X.max(axis=0), -X.min(axis=0)), 1e-300)
    # rank from the small Gram matrix of the column-scaled design, not a QR of X
    gram = sum(X[s : s + _BLOCK].T @ X[s : s + _BLOCK] for s in range(0, len(X), _BLOCK))
    gram = gram / np.outer(scale, scale)
    ev = np.linalg.eigvalsh(gram)
    rank = int((ev > 1e-10 * ev.max()).sum())
    if rank < X.shape[1]:
        raise MatchingError(
            f"the propensity model's covariates are collinear (rank {rank} < {X.shape[1]} terms: "
            f"{names}); drop a redundant covariate"
        )
    y = frame[TREAT].to_numpy(dtype=float)
    params, cov, converged = _logit_newton(X, y, intercept=names[0] == "Intercept")
    lp = X @ params
    t = y == 1
    separated = lp[t].min() > lp[~t].max() or lp[~t].min() > lp[t].max()
    if not np.all(np.isfinite(params)) or separated or np.abs(lp).max() > 30:
        finite = np.where(np.isfinite(params), params, np.inf)
        worst = pd.Series(finite, index=names).drop("Intercept", errors="ignore").abs().idxmax()
        raise MatchingError(
            "perfect separation in the propensity model: some units are predicted treated or "
            f"control with certainty; the largest coefficient is on {worst}. Drop or coarsen it, "
            "or match exactly on it (matching.exact)"
        )
    score = 1 / (1 + np.exp(-lp))
    se = np.sqrt(np.diag(cov))
    z = stats.norm.ppf(0.975)
    coefs = pd.DataFrame(
        {
            "term": names,
            "estimate": params,
            "std_error": se,
            "conf_low": params - z * se,
            "conf_high": params + z * se,
            "p_value": 2 * stats.norm.sf(np.abs(params / se)),
        }
    )
    return PropensityResult(formula, coefs, score, lp, int(len(frame)), converged)
