"""Absolute effects: predicted risk under each arm by g-computation, their difference and ratio,
and the restricted-mean-survival-time (RMST) difference.

For a binary outcome, a weighted logistic model :math:`\\mathrm{logit}\\,p = X\\beta` is fitted on
the matched or weighted sample (:func:`leadeval.models.fit_logistic`: matching weights, CR1
cluster-robust variance by pair/subclass). Every unit of the target population (the treated for
the ATT, everyone for the ATE) is then predicted twice, with ``treated`` set to 1 and to 0:

.. math:: \\hat r_a = \\frac{\\sum_i w_i\\, \\mathrm{expit}(x_i(a)^\\top \\hat\\beta)}{\\sum_i w_i}

The risk difference :math:`\\hat r_1 - \\hat r_0` and the risk ratio get delta-method standard
errors from the gradient :math:`\\partial \\hat r_a / \\partial \\beta = \\sum_i w_i p_i(a)(1-p_i(a))
x_i(a) / \\sum_i w_i` and the model's sandwich (as ``marginaleffects::avg_comparisons(fit,
variables = "treat", vcov = ~subclass, newdata = subset(treat == 1), wts = "weights")``, the
procedure MatchIt's vignette recommends). Without covariates the risk under each arm is the
weighted share of each group.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> df = pd.DataFrame({"treated": np.repeat([1, 0], 200), "subclass": np.tile(np.arange(200), 2)})
>>> df["y"] = (rng.random(400) < np.where(df["treated"] == 1, 0.3, 0.5)).astype(int)
>>> eff = risk_difference(df, "y")
>>> round(eff.risk_treated - eff.risk_control, 3) == round(eff.difference, 3)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from leadeval.errors import ModelError
from leadeval.models._data import (
    DEFAULT_WEIGHTS,
    as_frame,
    binary,
    design_matrix,
    require_columns,
    weights_column,
)
from leadeval.models.binary import fit_logistic

__all__ = ["AbsoluteEffect", "RmstDifference", "risk_difference", "rmst_difference"]

EFFECT_COLUMNS = ("term", "estimate", "std_error", "conf_low", "conf_high", "p_value")


def _wald(est: float, se: float, z: float, null: float = 0.0) -> tuple[float, float, float]:
    lo, hi = est - z * se, est + z * se
    p = float(2 * stats.norm.sf(abs((est - null) / se))) if se > 0 else np.nan
    return lo, hi, p


@dataclass(frozen=True)
class AbsoluteEffect:
    """Predicted risk under each arm and their contrasts (g-computation).

    Attributes
    ----------
    outcome : str
    risk_treated, risk_control : float
        Average predicted risk in the target population with and without the program.
    difference, ratio : float
        ``risk_treated - risk_control`` and ``risk_treated / risk_control``.
    table : pandas.DataFrame
        ``term, estimate, std_error, conf_low, conf_high, p_value`` for ``risk_treated``,
        ``risk_control``, ``risk_difference``, ``risk_ratio`` (the ratio's interval from the log
        scale; its p-value tests ratio = 1).
    n, events : int
        Rows and events used.
    estimand : str
        ``"ATT"`` (averaged over the treated) or ``"ATE"``.
    variance, notes
        How the model's variance was computed, and the model's notes.
    """

    outcome: str
    table: pd.DataFrame
    n: int
    events: int
    estimand: str
    variance: str
    conf_level: float
    notes: tuple[str, ...] = ()

    def _value(self, term: str) -> float:
        return float(self.table.set_index("term").loc[term, "estimate"])

    @property
    def risk_treated(self) -> float:
        return self._value("risk_treated")

    @property
    def risk_control(self) -> float:
        return self._value("risk_control")

    @property
    def difference(self) -> float:
        return self._value("risk_difference")

    @property
    def ratio(self) -> float:
        return self._value("risk_ratio")

    def term(self, name: str) -> pd.Series:
        """One row of :meth:`to_frame` by term."""
        frame = self.to_frame().set_index("term")
        if name not in frame.index:
            raise ModelError(f"absolute effect: no term '{name}'; terms are {list(frame.index)}")
        return frame.loc[name]

    @property
    def clear(self) -> bool:
        """True when the risk difference's interval excludes 0."""
        r = self.term("risk_difference")
        return bool(r["conf_low"] > 0 or r["conf_high"] < 0)

    def per_100(self) -> dict[str, float]:
        """The difference as people per 100 participants: ``treated``, ``control``, ``averted``
        (positive = fewer with the outcome under the program) and its interval."""
        r = self.term("risk_difference")
        return {
            "treated": 100 * self.risk_treated,
            "control": 100 * self.risk_control,
            "averted": -100 * self.difference,
            "averted_low": -100 * float(r["conf_high"]),
            "averted_high": -100 * float(r["conf_low"]),
        }

    def to_frame(self) -> pd.DataFrame:
        """Tidy table (shared vocabulary) plus ``outcome, n, events, estimand``."""
        out = self.table.copy()
        out["outcome"] = self.outcome
        out["n"] = self.n
        out["events"] = self.events
        out["estimand"] = self.estimand
        return out


def risk_difference(
    data: Any,
    outcome: str,
    treatment: str = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    estimand: Literal["ATT", "ATE"] = "ATT",
    conf_level: float = 0.95,
) -> AbsoluteEffect:
    """Marginal risk under each arm, risk difference and risk ratio by g-computation.

    Parameters
    ----------
    data : DataFrame or MatchedSample
        The matched or weighted sample (a ``treated`` 0/1 column, ``weights``, ``subclass``).
    outcome : str
        A 0/1 column; rows where it is missing (incomplete window) are left out.
    covariates : sequence of str
        Optional outcome-model covariates (doubly robust adjustment after matching).
    weights, cluster : str or None
        Matching/IPTW weights and the cluster for the sandwich (pairs); as in
        :func:`leadeval.models.fit_logistic`.
    estimand : {"ATT", "ATE"}
        Average the predictions over the treated (default, as after ATT matching) or everyone.

    Returns
    -------
    AbsoluteEffect
    """
    if estimand not in ("ATT", "ATE"):
        raise ModelError(f"risk_difference: estimand must be 'ATT' or 'ATE'; got {estimand!r}")
    frame = as_frame(data, "risk_difference")
    require_columns(frame, [outcome, treatment], "risk_difference")
    weights = weights_column(frame, weights, "risk_difference")
    if weights is not None:
        frame = frame[pd.to_numeric(frame[weights], errors="coerce") > 0]
    frame = frame[frame[outcome].notna()]
    fit = fit_logistic(
        frame,
        outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        firth=False,
        conf_level=conf_level,
    )
    y = binary(frame, outcome, "risk_difference")
    terms = [treatment] + [c for c in covariates if c != treatment]
    X, names = design_matrix(frame, terms, "risk_difference", intercept=True)
    if names != list(fit.vcov.index):
        raise ModelError("risk_difference: design matrix does not line up with the fitted model")
    beta = fit.params.loc[names].to_numpy(float)
    V = fit.vcov.loc[names, names].to_numpy(float)
    w = (
        pd.to_numeric(frame[weights], errors="coerce").to_numpy(float)
        if weights is not None
        else np.ones(len(frame))
    )
    target = (X[:, 1] == 1) if estimand == "ATT" else np.ones(len(frame), dtype=bool)
    wt = w[target] / w[target].sum()
    j = names.index(treatment)
    risks, grads = [], []
    for a in (1.0, 0.0):
        Xa = X[target].copy()
        Xa[:, j] = a
        p = expit(Xa @ beta)
        risks.append(float(wt @ p))
        grads.append((wt * p * (1 - p)) @ Xa)
    r1, r0 = risks
    g1, g0 = grads
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    rows = []
    for term, est, g in (("risk_treated", r1, g1), ("risk_control", r0, g0)):
        se = float(np.sqrt(g @ V @ g))
        rows.append((term, est, se, est - z * se, est + z * se, np.nan))
    gd = g1 - g0
    se_d = float(np.sqrt(gd @ V @ gd))
    rows.append(("risk_difference", r1 - r0, se_d, *_wald(r1 - r0, se_d, z)))
    gl = g1 / r1 - g0 / r0  # gradient of log(r1 / r0)
    se_l = float(np.sqrt(gl @ V @ gl))
    lr = float(np.log(r1 / r0))
    lo, hi, p = _wald(lr, se_l, z)
    rows.append(("risk_ratio", r1 / r0, se_l * r1 / r0, float(np.exp(lo)), float(np.exp(hi)), p))
    table = pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))
    return AbsoluteEffect(
        outcome=outcome,
        table=table,
        n=int(len(y)),
        events=int(y.sum()),
        estimand=estimand,
        variance=f"delta method on the logistic model's {fit.variance}",
        conf_level=conf_level,
        notes=fit.notes,
    )


# ---- restricted mean survival time ---------------------------------------------------------
def _km_area(time: np.ndarray, event: np.ndarray, w: np.ndarray, tau: float) -> float:
    """Area under a weighted Kaplan-Meier curve from 0 to ``tau``."""
    order = np.argsort(time, kind="stable")
    t, d, ww = time[order], event[order], w[order]
    ut, inv = np.unique(t, return_inverse=True)
    deaths = np.bincount(inv, weights=ww * d, minlength=len(ut))
    leaving = np.bincount(inv, weights=ww, minlength=len(ut))
    at_risk = leaving[::-1].cumsum()[::-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.cumprod(np.where(at_risk > 0, 1 - deaths / at_risk, 1.0))
    keep = ut < tau
    knots = np.concatenate([[0.0], ut[keep], [tau]])
    surv = np.concatenate([[1.0], s[keep]])
    return float(np.sum(surv * np.diff(knots)))


@dataclass(frozen=True)
class RmstDifference:
    """Restricted mean event-free time up to ``tau`` under each arm and the difference.

    ``table``: ``term, estimate, std_error, conf_low, conf_high, p_value`` for ``rmst_treated``,
    ``rmst_control`` and ``rmst_difference`` (days; positive = longer without the event under the
    program); SEs from a cluster (pair) bootstrap with ``replicates`` draws.
    """

    duration: str
    tau: float
    table: pd.DataFrame
    n: int
    replicates: int
    seed: int
    conf_level: float

    @property
    def difference(self) -> float:
        return float(self.table.set_index("term").loc["rmst_difference", "estimate"])

    def to_frame(self) -> pd.DataFrame:
        out = self.table.copy()
        out["outcome"] = self.duration
        out["tau"] = self.tau
        out["n"] = self.n
        return out


def rmst_difference(
    data: Any,
    duration: str,
    event: str,
    tau: float,
    treatment: str = "treated",
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    replicates: int = 500,
    seed: int = 0,
    conf_level: float = 0.95,
) -> RmstDifference:
    """RMST difference up to ``tau`` from weighted Kaplan-Meier curves, with a cluster bootstrap.

    The alternative summary to a hazard ratio when hazards are not proportional: the mean time
    without the event over the first ``tau`` days, under the program minus under the comparison.
    Clusters (matched pairs) are resampled whole, so the interval respects the matching.
    """
    frame = as_frame(data, "rmst_difference")
    require_columns(frame, [duration, event, treatment], "rmst_difference")
    frame = frame[frame[duration].notna() & frame[event].notna()]
    weights = weights_column(frame, weights, "rmst_difference")
    t = pd.to_numeric(frame[duration], errors="coerce").to_numpy(float)
    d = pd.to_numeric(frame[event], errors="coerce").to_numpy(float)
    a = pd.to_numeric(frame[treatment], errors="coerce").to_numpy(float)
    w = (
        pd.to_numeric(frame[weights], errors="coerce").to_numpy(float)
        if weights is not None
        else np.ones(len(frame))
    )
    if not (tau > 0 and np.isfinite(tau)):
        raise ModelError(f"rmst_difference: tau must be a positive number of days; got {tau}")
    if cluster is not None and cluster in frame.columns and frame[cluster].notna().all():
        codes, _ = pd.factorize(frame[cluster].astype(str), sort=True)
    else:
        codes = np.arange(len(frame))

    def both(mult: np.ndarray) -> tuple[float, float]:
        ww = w * mult
        t1, t0 = a == 1, a == 0
        return (
            _km_area(t[t1], d[t1], ww[t1], tau),
            _km_area(t[t0], d[t0], ww[t0], tau),
        )

    r1, r0 = both(np.ones(len(frame)))
    rng = np.random.default_rng(seed)
    G = int(codes.max()) + 1
    reps = np.empty((replicates, 2))
    for b in range(replicates):
        counts = np.bincount(rng.integers(0, G, G), minlength=G)
        reps[b] = both(counts[codes].astype(float))
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    se1, se0 = reps.std(axis=0, ddof=1)
    se_d = float((reps[:, 0] - reps[:, 1]).std(ddof=1))
    rows = [
        ("rmst_treated", r1, se1, r1 - z * se1, r1 + z * se1, np.nan),
        ("rmst_control", r0, se0, r0 - z * se0, r0 + z * se0, np.nan),
        ("rmst_difference", r1 - r0, se_d, *_wald(r1 - r0, se_d, z)),
    ]
    return RmstDifference(
        duration=duration,
        tau=float(tau),
        table=pd.DataFrame(rows, columns=list(EFFECT_COLUMNS)),
        n=len(frame),
        replicates=replicates,
        seed=seed,
        conf_level=conf_level,
    )
