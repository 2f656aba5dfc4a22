"""Propensity score: a logistic regression of ``treated`` on the covariates (statsmodels).

.. math::

    e(x) = P(T = 1 \\mid x) = \\operatorname{expit}(x^\\top\\beta), \\qquad
    \\text{distance} = \\operatorname{logit} e(x) = x^\\top\\beta \\ \\text{(default) or } e(x).

Categorical covariates enter as dummies against their first sorted level (a stable reference),
``squares`` add :math:`x^2`, ``splines`` replace the linear term of a covariate by a natural
cubic regression spline (patsy
``cr(x, df, constraints="center")``).

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

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
import statsmodels.api as sm

from leadeval.config import MatchingConfig
from leadeval.errors import MatchingError
from leadeval.matching._frame import TREAT


@dataclass(frozen=True)
class PropensityResult:
    """A fitted propensity model.

    Attributes
    ----------
    formula : the patsy formula of the score model
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


def _q(name: str) -> str:
    return f'Q("{name}")'


def score_formula(spec: MatchingConfig, frame: pd.DataFrame) -> str:
    """The patsy formula for the score model (right-hand side) of ``spec``."""
    terms = [
        _q(c) for c in spec.covariates if c not in spec.splines
    ]  # a spline has its own linear part
    for c in spec.categorical:
        ref = sorted(frame[c].astype(str).unique())[0]
        terms.append(f'C({_q(c)}, Treatment(reference="{ref}"))')
    terms += [f"I({_q(c)} ** 2)" for c in spec.squares]
    terms += [f'cr({_q(c)}, df={df}, constraints="center")' for c, df in spec.splines.items()]
    if not terms:
        raise MatchingError(
            "the propensity model has no covariates: list them under matching.covariates "
            "(numeric) or matching.categorical"
        )
    return f"{TREAT} ~ " + " + ".join(terms)


def _separation_check(frame: pd.DataFrame, spec: MatchingConfig) -> None:
    """Name covariates (or levels) that alone separate treated from controls."""
    t = frame[TREAT].to_numpy() == 1
    problems = []
    for c in dict.fromkeys([*spec.covariates, *spec.squares, *spec.splines]):
        x = frame[c].to_numpy(dtype=float)
        lo1, hi1, lo0, hi0 = x[t].min(), x[t].max(), x[~t].min(), x[~t].max()
        if hi1 < lo0 or hi0 < lo1:
            problems.append(
                f"{c!r} separates the groups completely (treated {lo1:g}..{hi1:g}, "
                f"controls {lo0:g}..{hi0:g})"
            )
    for c in spec.categorical:
        tab = pd.crosstab(frame[c].astype(str), frame[TREAT])
        for col in (0, 1):
            if col not in tab.columns:
                tab[col] = 0
        only = tab[(tab[0] == 0) | (tab[1] == 0)]
        if len(only):
            desc = ", ".join(
                f"{lvl} ({'only treated' if r[0] == 0 else 'only controls'}, n={r[0] + r[1]})"
                for lvl, r in only.iterrows()
            )
            problems.append(f"{c!r} has levels seen in one group only: {desc}")
    if problems:
        raise MatchingError(
            "perfect separation in the propensity model: "
            + "; ".join(problems)
            + ". Drop or coarsen these covariates, or match exactly on them (matching.exact)"
        )


def fit_propensity(frame: pd.DataFrame, spec: MatchingConfig) -> PropensityResult:
    """Fit the logistic propensity model of ``spec`` on ``frame``.

    Parameters
    ----------
    frame : DataFrame with ``treated`` (0/1) and the spec's covariates (no missing values)
    spec : :class:`~leadeval.config.MatchingConfig`

    Returns
    -------
    PropensityResult

    Raises
    ------
    MatchingError
        on perfect separation (naming the covariate or level) or when the scores do not overlap.
    """
    _separation_check(frame, spec)
    formula = score_formula(spec, frame)
    try:
        y, X = patsy.dmatrices(formula, frame, return_type="dataframe")
    except patsy.PatsyError as err:
        raise MatchingError(f"cannot build the propensity model {formula!r}: {err}") from None
    rank = np.linalg.matrix_rank(X.to_numpy())
    if rank < X.shape[1]:
        raise MatchingError(
            f"the propensity model's covariates are collinear (rank {rank} < {X.shape[1]} terms: "
            f"{list(X.columns)}); drop a redundant covariate"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.Logit(y.iloc[:, 0], X).fit(method="newton", maxiter=100, disp=False)
        except (np.linalg.LinAlgError, ValueError) as err:
            raise MatchingError(f"the propensity model could not be fitted: {err}") from None
    sep = [w for w in caught if "separation" in str(w.message).lower()]
    lp = np.asarray(X.to_numpy() @ res.params.to_numpy(), dtype=float)
    t = frame[TREAT].to_numpy() == 1
    separated = lp[t].min() > lp[~t].max() or lp[~t].min() > lp[t].max()
    if sep or separated or np.abs(lp).max() > 30:
        worst = res.params.drop("Intercept", errors="ignore").abs().idxmax()
        raise MatchingError(
            "perfect separation in the propensity model: some units are predicted treated or "
            f"control with certainty; the largest coefficient is on {worst}. Drop or coarsen it, "
            "or match exactly on it (matching.exact)"
        )
    score = 1 / (1 + np.exp(-lp))
    ci = res.conf_int()
    coefs = pd.DataFrame(
        {
            "term": list(X.columns),
            "estimate": res.params.to_numpy(),
            "std_error": res.bse.to_numpy(),
            "conf_low": ci.iloc[:, 0].to_numpy(),
            "conf_high": ci.iloc[:, 1].to_numpy(),
            "p_value": res.pvalues.to_numpy(),
        }
    )
    coefs["term"] = (
        coefs["term"]
        .str.replace(r'C\(Q\("([^"]+)"\), Treatment\(reference="[^"]*"\)\)', r"\1", regex=True)
        .str.replace(r'Q\("([^"]+)"\)', r"\1", regex=True)
    )
    converged = bool(res.mle_retvals.get("converged", True))
    return PropensityResult(formula, coefs, score, lp, int(len(frame)), converged)
