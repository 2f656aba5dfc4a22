"""Marginal (absolute) effects after matching or weighting: the mean or risk under each arm,
their difference and ratio, with standard errors that respect the design; RMST for survival.

:func:`estimate_effect` is the one entry point; :func:`risk_difference` and
:func:`rmst_difference` are thin, backward-compatible cases of it.

Estimators
----------
*Outcome model* (``method="gcomp"``, the default; without covariates it is the weighted
difference in means): a weighted GLM with the canonical link of the outcome's kind (identity for
``continuous``, logit for ``binary``, log for ``count``, with ``log(exposure)`` as offset), of
``y`` on the treatment and, optionally, the covariates and their interactions with the treatment
(``interaction=True``, MatchIt's recommendation). Every unit of the target (the treated for the ATT,
everyone for the ATE, the controls for the ATC) is predicted with treatment set to 1 and to 0:

.. math:: \\hat\\mu_a = \\sum_{i \\in \\text{target}} w_i\\, m(x_i(a)^\\top\\hat\\beta) /
          \\sum_{i \\in \\text{target}} w_i

(per unit of exposure for a count with an exposure, times ``per``). The difference
:math:`\\hat\\mu_1 - \\hat\\mu_0` and ratio :math:`\\hat\\mu_1/\\hat\\mu_0` (interval from the log
scale) get delta-method SEs from the model's sandwich, exactly as
``marginaleffects::avg_comparisons(fit, variables = "treat", vcov = ~subclass, newdata =
subset(treat == 1), wts = "weights")``, the procedure MatchIt's vignette recommends.

*AIPW* (``method="aipw"``, IPTW only): outcome models fitted unweighted in each arm
(:math:`m_a`), augmented by the weighted residuals of arm *a*,

.. math:: \\hat\\mu_a = \\frac{\\sum_i g_i m_a(x_i) + 1[T_i = a]\\, r_i (y_i - m_a(x_i))}{\\sum_i g_i},

with :math:`g_i` the target indicator (1, :math:`T_i` or :math:`1-T_i`) and :math:`r_i` the IPTW
weight for that estimand; doubly robust (consistent if either model is right).

Variance
--------
* ``"cluster"`` (weights treated as known): the outcome model's sandwich, clustered by pair /
  subclass (``cluster=``; several columns give multiway clustering as ``sandwich::vcovCL(fit,
  cluster = ~subclass + id)``, the inclusion-exclusion sum with a G/(G-1) factor per term). With a
  matched sample the small-sample factor is CR1 (vcovCL ``type = "HC1"``: also (n-1)/(n-k)); for
  IPTW it is the design-based sandwich of ``survey::svyglm`` (G/(G-1) only), the documented robust
  alternative that ignores the estimation of the weights (usually conservative for the ATE).
* ``"mestimation"`` (IPTW, the default when the propensity model is known): the logistic
  propensity score equations :math:`z_i(T_i - e_i)` are stacked with the outcome model's and the
  arm means' estimating equations, and :math:`V = A^{-1} B A^{-\\top}` with :math:`A` the Jacobian
  of the summed equations (central differences) and :math:`B` the (clustered) outer product, times
  G/(G-1). So the SE accounts for the estimated weights (Lunceford & Davidian 2004). Trimmed
  weights are not a smooth function of the score and are refused here.
* Matching with replacement (a MatchedSample): the sample is expanded to one row per pair member
  (``MatchIt::get_matches``) and clustered by pair *and* person (two-way), as MatchIt advises.

Why our own code: statsmodels fits the GLMs, but neither it nor any maintained Python library
stacks a propensity model with g-computation/AIPW equations or gives multiway clustered delta
methods; the few lines of sandwich algebra below are checked against R (sandwich, survey,
numDeriv) in tests/test_models_estimate_effect.py.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> df = pd.DataFrame({"treated": np.repeat([1, 0], 200), "pair": np.tile(np.arange(200), 2)})
>>> df["days"] = rng.poisson(np.where(df["treated"] == 1, 8.0, 12.0))
>>> eff = estimate_effect(df, "days", kind="continuous", cluster="pair")
>>> round(eff.difference, 2) == round(eff.treated - eff.control, 2)
True
>>> list(eff.to_frame().columns[:6])
['term', 'estimate', 'std_error', 'conf_low', 'conf_high', 'p_value']
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from leadeval._sm import sm
from leadeval.errors import ModelError
from leadeval.formulas import design
from leadeval.models._data import (
    DEFAULT_WEIGHTS,
    as_frame,
    binary,
    design_matrix,
    numeric,
    require_columns,
    weights_column,
)

__all__ = [
    "AbsoluteEffect",
    "EffectEstimate",
    "RmstDifference",
    "estimate_effect",
    "risk_difference",
    "rmst_difference",
]

EFFECT_COLUMNS = ("term", "estimate", "std_error", "conf_low", "conf_high", "p_value")
KINDS = ("binary", "count", "continuous", "survival")
_PREFIX = {"binary": "risk", "count": "mean", "continuous": "mean", "survival": "rmst"}


def _wald(est: float, se: float, z: float, null: float = 0.0) -> tuple[float, float, float]:
    lo, hi = est - z * se, est + z * se
    p = float(2 * stats.norm.sf(abs((est - null) / se))) if se > 0 else np.nan
    return lo, hi, p


# ---- the result ----------------------------------------------------------------------------
@dataclass(frozen=True)
class EffectEstimate:
    """Mean (risk, RMST) under each arm, their difference and ratio.

    Attributes
    ----------
    outcome, kind : str
        The outcome column and ``binary``/``count``/``continuous``/``survival``.
    table : pandas.DataFrame
        ``term, estimate, std_error, conf_low, conf_high, p_value`` for ``<p>_treated``,
        ``<p>_control``, ``<p>_difference``, ``<p>_ratio`` with ``<p>`` = ``risk`` (binary),
        ``mean`` (count, continuous) or ``rmst`` (survival); the ratio's interval comes from the
        log scale and its p-value tests ratio = 1.
    n, n_treated, n_control : int
        Units used (rows of the analysis sample; persons).
    events : int or None
        Events (binary, survival) or the total count (count); None for continuous.
    estimand, method, variance : str
        ATT/ATE/ATC; ``difference``/``gcomp``/``aipw``/``km``; how the SEs were computed.
    per : float
        Counts with an exposure: the means are per ``per`` units of exposure.
    tau : float or None
        Survival: the RMST horizon.
    """

    outcome: str
    kind: str
    table: pd.DataFrame
    n: int
    n_treated: int
    n_control: int
    events: int | None
    estimand: str
    method: str
    variance: str
    conf_level: float
    per: float = 1.0
    tau: float | None = None
    notes: tuple[str, ...] = ()
    details: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def prefix(self) -> str:
        return _PREFIX[self.kind]

    def _value(self, what: str) -> float:
        return float(self.table.set_index("term").loc[f"{self.prefix}_{what}", "estimate"])

    treated = property(lambda self: self._value("treated"), doc="Mean (risk) with the program.")
    control = property(lambda self: self._value("control"), doc="Mean (risk) without it.")
    difference = property(lambda self: self._value("difference"), doc="treated - control.")
    ratio = property(lambda self: self._value("ratio"), doc="treated / control.")
    risk_treated = treated
    risk_control = control

    def term(self, name: str) -> pd.Series:
        """One row of :meth:`to_frame` by term."""
        frame = self.to_frame().set_index("term")
        if name not in frame.index:
            raise ModelError(f"effect: no term '{name}'; terms are {list(frame.index)}")
        return frame.loc[name]

    @property
    def clear(self) -> bool:
        """True when the difference's interval excludes 0."""
        r = self.term(f"{self.prefix}_difference")
        return bool(r["conf_low"] > 0 or r["conf_high"] < 0)

    def per_100(self) -> dict[str, float]:
        """Binary outcomes: the difference as people per 100 participants (``treated``,
        ``control``, ``averted`` = fewer with the outcome under the program, and its interval)."""
        if self.kind != "binary":
            raise ModelError(f"per_100 is for binary outcomes; {self.outcome} is {self.kind}")
        r = self.term("risk_difference")
        return {
            "treated": 100 * self.treated,
            "control": 100 * self.control,
            "averted": -100 * self.difference,
            "averted_low": -100 * float(r["conf_high"]),
            "averted_high": -100 * float(r["conf_low"]),
        }

    def to_frame(self) -> pd.DataFrame:
        """Tidy table (shared vocabulary) plus ``outcome, n, n_treated, n_control, events,
        estimand`` (and ``tau`` for survival)."""
        out = self.table.copy()
        out["outcome"] = self.outcome
        if self.tau is not None:
            out["tau"] = self.tau
        out["n"] = self.n
        out["n_treated"] = self.n_treated
        out["n_control"] = self.n_control
        out["events"] = self.events if self.events is not None else pd.NA
        out["estimand"] = self.estimand
        return out

    def summary(self) -> str:
        head = f"{self.kind} effect on {self.outcome} ({self.estimand}, {self.method}; n = {self.n})"
        body = self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        return "\n".join([head, f"standard errors: {self.variance}", body,
                          *(f"note: {n}" for n in self.notes)])


#: Backward-compatible names: binary and survival cases of :class:`EffectEstimate`.
AbsoluteEffect = EffectEstimate
RmstDifference = EffectEstimate


# ---- GLM pieces (canonical links: score = w x (y - mu), Hessian = X' diag(w mu') X) ---------
def _mean(kind: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse link and its derivative."""
    if kind == "binary":
        p = expit(eta)
        return p, p * (1 - p)
    if kind == "count":
        mu = np.exp(eta)
        return mu, mu
    return eta, np.ones_like(eta)


_FAMILY = {"binary": sm.families.Binomial, "count": sm.families.Poisson,
           "continuous": sm.families.Gaussian}


def _fit_glm(X, y, w, offset, kind, outcome) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.GLM(y, X, family=_FAMILY[kind](), var_weights=w, offset=offset).fit(
                maxiter=100, tol=1e-12
            )
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ModelError(f"effect ({outcome}): the outcome model cannot be fitted: {err}") from None
    beta = np.asarray(res.params, dtype=float)
    eta = X @ beta
    if not (res.converged and np.isfinite(beta).all()) or (kind == "binary" and np.abs(eta).max() > 30):
        raise ModelError(
            f"effect ({outcome}): the {kind} outcome model does not converge (separation: e.g. no "
            "events in one arm or a covariate level); drop covariates or use covariates=None"
        )
    return beta


def _meat(S: np.ndarray, clusters: Sequence[np.ndarray]) -> np.ndarray:
    """Clustered outer product of the score rows ``S``, multiway by inclusion-exclusion with a
    G/(G-1) factor per term (``sandwich::meatCL`` with ``cadjust = TRUE``, times n)."""
    out = np.zeros((S.shape[1], S.shape[1]))
    dims = list(range(len(clusters)))
    for r in range(1, len(dims) + 1):
        for sub in combinations(dims, r):
            if r == 1:
                codes = clusters[sub[0]]
            else:
                codes = pd.factorize(
                    pd.Series(list(zip(*(clusters[j] for j in sub), strict=True)))
                )[0]
            G = int(codes.max()) + 1
            sums = np.zeros((G, S.shape[1]))
            np.add.at(sums, codes, S)
            out += (-1) ** (r + 1) * G / (G - 1) * (sums.T @ sums)
    return out


# ---- input ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Design:
    frame: pd.DataFrame  # analysis rows (outcome observed, weight > 0)
    w: np.ndarray
    t: np.ndarray
    clusters: list[np.ndarray]
    cluster_label: str
    hc1: bool  # CR1 (matching) or G/(G-1) only (weighting)
    propensity: Any  # (Z_all, gamma, rows of frame in Z_all, t_all, arm scale) or None
    notes: tuple[str, ...]


def _is_matched_sample(obj: Any) -> bool:
    return hasattr(obj, "all_units") and hasattr(obj, "spec") and hasattr(obj, "data")


def _expand_pairs(ms: Any) -> pd.DataFrame:
    """Matching with replacement: one row per pair member (``MatchIt::get_matches``): the treated
    unit with weight 1 and each of its k controls with weight 1/k, ``subclass`` = the pair."""
    units = ms.all_units.set_index("person_id", drop=False)
    pairs = ms.pairs
    tids = pairs["treated_id"].to_numpy()
    sub, _ = pd.factorize(tids, sort=True)
    k = pd.Series(tids).map(pd.Series(tids).value_counts()).to_numpy(float)
    first = ~pd.Series(tids).duplicated().to_numpy()
    treated = units.loc[tids[first]].assign(subclass=sub[first], weights=1.0)
    controls = units.loc[pairs["control_id"].to_numpy()].assign(subclass=sub, weights=1 / k)
    return pd.concat([treated, controls], ignore_index=True)


def _propensity_design(source: Any, frame: pd.DataFrame):
    """Propensity design matrix over every unit the score was fitted on, from a MatchedSample
    (its ``all_units``) or a PropensityResult with ``frame`` holding those units."""
    if _is_matched_sample(source):
        units, ps = source.all_units, source.propensity
        if ps is None:
            raise ModelError(
                "effect: the matched sample has no fitted propensity model (a distance column "
                "was given); use variance='cluster'"
            )
    else:
        units, ps = frame, source
        if not hasattr(ps, "formula") or not hasattr(ps, "linear_predictor"):
            raise ModelError(
                "effect: propensity must be a MatchedSample or a PropensityResult "
                f"(leadeval.matching.fit_propensity); got {type(source).__name__}"
            )
        if len(units) != ps.n:
            raise ModelError(
                f"effect: the propensity model was fitted on {ps.n} units but the data have "
                f"{len(units)} rows; pass the frame it was fitted on (every unit, sorted by "
                "person_id), or the MatchedSample"
            )
    Z, _ = design(units, [ps.formula.split("~", 1)[1].strip()], intercept=True)
    gamma = ps.coefficients["estimate"].to_numpy(float)
    if Z.shape[1] != len(gamma) or not np.allclose(Z @ gamma, ps.linear_predictor, atol=1e-6):
        raise ModelError(
            "effect: the propensity model does not reproduce its scores on these data; pass the "
            "frame it was fitted on (every unit, sorted by person_id) or the MatchedSample"
        )
    return units, Z, gamma


def _iptw(e: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        return np.where(t == 1, 1.0, e / (1 - e))
    if estimand == "ATC":
        return np.where(t == 1, (1 - e) / e, 1.0)
    return np.where(t == 1, 1 / e, 1 / (1 - e))


# ---- the estimator -------------------------------------------------------------------------
def estimate_effect(
    data: Any,
    outcome: str,
    *,
    kind: Literal["binary", "count", "continuous", "survival"] | None = None,
    treatment: str = "treated",
    weights: str | None = None,
    cluster: str | Sequence[str] | None = None,
    covariates: Sequence[str] | None = None,
    interaction: bool = True,
    estimand: Literal["ATT", "ATE", "ATC"] | None = None,
    method: Literal["gcomp", "aipw"] = "gcomp",
    propensity: Any = None,
    variance: Literal["cluster", "mestimation"] | None = None,
    exposure: str | None = None,
    per: float = 1.0,
    event: str | None = None,
    tau: float | None = None,
    replicates: int = 500,
    seed: int = 0,
    conf_level: float = 0.95,
) -> EffectEstimate:
    """Marginal effect of ``treatment`` on ``outcome`` after matching, weighting or both.

    Parameters
    ----------
    data : DataFrame or MatchedSample
        The analysis sample. A :class:`~leadeval.matching.MatchedSample` brings its own weights,
        pairs (``subclass``; two-way pair x person clustering after matching with replacement),
        estimand and, for IPTW, its propensity model (M-estimation by default).
    outcome : str
        The outcome column (the duration for ``kind="survival"``); rows where it is missing
        (an incomplete window) are left out and counted in ``notes``.
    kind : {"binary", "count", "continuous", "survival"}, optional
        Inferred when omitted: ``survival`` when ``event`` is given, ``binary`` for 0/1,
        ``count`` for non-negative integers, else ``continuous``.
    weights : str, optional
        Weights column, only when named: a column called ``weights`` is *not* used implicitly.
    cluster : str or list of str, optional
        Cluster column(s) for the sandwich (pairs); several give multiway clustering.
    covariates : list of str, optional
        Outcome-model covariates (g-computation / AIPW); ``interaction`` adds treatment x covariate.
    estimand : {"ATT", "ATE", "ATC"}
        The target population of the averaged predictions (default: the sample's, else ATT).
    method : {"gcomp", "aipw"}
        ``aipw`` needs a propensity model.
    propensity : MatchedSample or PropensityResult, optional
        The fitted propensity model behind IPTW weights, for M-estimation (and AIPW).
    variance : {"cluster", "mestimation"}, optional
        See the module docstring; default ``mestimation`` when a propensity model is known.
    exposure, per : str, float
        Counts: exposure column (log offset); the means are then rates per ``per`` units.
    event, tau, replicates, seed : survival only
        Event column (0/1), RMST horizon, and the cluster bootstrap's draws and seed.

    Returns
    -------
    EffectEstimate
    """
    ms = data if _is_matched_sample(data) else None
    frame = as_frame(data, "effect")
    notes: list[str] = []
    replace = False
    if ms is not None:
        spec = ms.spec
        weights = "weights" if weights is None else weights
        estimand = estimand or spec.estimand
        replace = spec.method == "nearest" and spec.replace
        if spec.method == "iptw" and propensity is None:
            propensity = ms
        if cluster is None and spec.method != "iptw":
            cluster = ["subclass", "person_id"] if replace else "subclass"
        if replace:
            frame = _expand_pairs(ms)
        if spec.method == "iptw":  # every unit: the propensity equations need them all
            frame = ms.all_units
    elif weights is None and "weights" in frame.columns:
        notes.append("a column named 'weights' is in the data but was not used; pass weights=")
    estimand = estimand or "ATT"
    if estimand not in ("ATT", "ATE", "ATC"):
        raise ModelError(f"effect: estimand must be 'ATT', 'ATE' or 'ATC'; got {estimand!r}")
    if method not in ("gcomp", "aipw"):
        raise ModelError(f"effect: method must be 'gcomp' or 'aipw'; got {method!r}")
    covariates = [c for c in (covariates or ()) if c != treatment]
    clusters_cols = [cluster] if isinstance(cluster, str) else list(cluster or ())
    need = [outcome, treatment, *covariates, *clusters_cols]
    need += [c for c in (weights, exposure, event) if c is not None]
    require_columns(frame, need, "effect")
    if kind is None:
        kind = _infer_kind(frame[outcome], event)
    if kind not in KINDS:
        raise ModelError(f"effect: kind must be one of {list(KINDS)}; got {kind!r}")
    if kind == "survival" and (event is None or tau is None):
        raise ModelError("effect: kind='survival' needs event= (0/1 column) and tau= (horizon)")
    if variance not in (None, "cluster", "mestimation"):
        raise ModelError(f"effect: variance must be 'cluster' or 'mestimation'; got {variance!r}")
    if variance is None:
        variance = "mestimation" if propensity is not None and kind != "survival" else "cluster"
    if variance == "mestimation" and propensity is None:
        raise ModelError(
            "effect: variance='mestimation' needs the propensity model: pass propensity= (a "
            "MatchedSample or PropensityResult)"
        )
    if method == "aipw" and propensity is None:
        raise ModelError("effect: method='aipw' needs the propensity model (propensity=)")

    # rows: every unit for the propensity equations; the analysis rows are those with an
    # observed outcome and a positive weight
    t_all = numeric(frame, treatment, "effect")
    if not np.isin(t_all, (0, 1)).all():
        bad = sorted(set(np.unique(t_all[~np.isin(t_all, (0, 1))]).tolist()))[:5]
        raise ModelError(f"effect: treatment '{treatment}' must be 0/1; found values such as {bad}")
    w_all = np.ones(len(frame)) if weights is None else numeric(frame, weights, "effect")
    if (w_all < 0).any():
        raise ModelError(f"effect: weights '{weights}' has negative values; weights must be >= 0")
    observed = frame[outcome].notna().to_numpy()
    if kind == "survival":
        observed &= frame[event].notna().to_numpy()
    if (~observed).any():
        notes.append(f"{int((~observed).sum())} rows with missing '{outcome}' (incomplete window) left out")
    use = observed & (w_all > 0)
    sub = frame.loc[use]
    t = t_all[use]
    if t.min() == t.max():
        raise ModelError(
            f"effect: treatment '{treatment}' takes one value ({int(t[0])}) in the analysis rows; "
            "both arms are needed"
        )
    w = w_all[use]
    clusters = []
    for c in clusters_cols:
        col = sub[c]
        if col.isna().any():
            raise ModelError(
                f"effect: cluster column '{c}' is missing for {int(col.isna().sum())} rows "
                "(IPTW or matching with replacement have no pairs: pass the MatchedSample, or "
                "cluster=None)"
            )
        clusters.append(pd.factorize(col.astype(str), sort=True)[0])
    label = " and ".join(clusters_cols) if clusters_cols else "unit"
    if kind == "survival":
        return _rmst(sub, outcome, event, float(tau), t, w, clusters, estimand, replicates, seed,
                     conf_level, notes)

    y = numeric(sub, outcome, "effect")
    if kind == "binary":
        y = binary(sub, outcome, "effect")
    elif kind == "count" and (y < 0).any():
        raise ModelError(f"effect: count outcome '{outcome}' has negative values")
    offset = None
    if exposure is not None:
        if kind != "count":
            raise ModelError("effect: exposure= is for kind='count'")
        ex = numeric(sub, exposure, "effect")
        if (ex <= 0).any():
            raise ModelError(
                f"effect: exposure '{exposure}' is 0 or negative for {int((ex <= 0).sum())} "
                "analysis rows; drop them (no time at risk) or floor the exposure"
            )
        offset = np.log(ex)
    if method == "aipw" and offset is not None:
        raise ModelError("effect: method='aipw' with an exposure is not supported; use gcomp")
    C = (
        design_matrix(sub, covariates, "effect", intercept=False)[0]
        if covariates
        else np.zeros((len(sub), 0))
    )
    inter = interaction and C.shape[1] > 0

    def X_of(a: np.ndarray) -> np.ndarray:
        parts = [np.ones((len(a), 1)), a[:, None], C]
        if inter:
            parts.append(C * a[:, None])
        return np.hstack(parts)

    X = X_of(t)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ModelError("effect: the outcome model's covariates are collinear; drop one")
    target = {"ATT": t == 1, "ATE": np.ones(len(t), bool), "ATC": t == 0}[estimand]
    ctx = dict(X=X, X1=X_of(np.ones(len(t))), X0=X_of(np.zeros(len(t))), y=y, t=t,
               offset=offset, kind=kind, target=target, outcome=outcome)
    if variance == "mestimation" or method == "aipw":
        units, Z, gamma = _propensity_design(propensity, frame)
        rows = np.flatnonzero(use)
        e_rows = expit(Z[rows] @ gamma)
        base = _iptw(e_rows, t, estimand)
        if method == "gcomp":
            scale = np.empty(len(t))  # the weights' constant per arm (stabilisation)
            for a in (0, 1):
                ratio = w[t == a] / base[t == a]
                if not np.allclose(ratio, ratio.mean(), rtol=1e-6):
                    raise ModelError(
                        f"effect: the weights '{weights}' are not the {estimand} IPTW weights of "
                        "this propensity model (trimmed?); M-estimation needs untrimmed weights: "
                        "use variance='cluster' (the robust alternative)"
                    )
                scale = np.where(t == a, ratio.mean(), scale)
        else:
            scale = np.ones(len(t))
        est, V, what = _stacked(ctx, Z, gamma, rows, numeric(units, treatment, "effect"), scale,
                                estimand, method, clusters, len(units))
        how = (
            f"M-estimation: propensity score equations stacked with the {what} equations "
            f"(sandwich with a numerical Jacobian, clustered by {label}, G/(G-1))"
        )
        if variance == "cluster":  # AIPW always needs the stack; say so
            notes.append("AIPW standard errors always come from the stacked M-estimation")
    else:
        weighting = propensity is not None or (ms is not None and ms.spec.method == "iptw")
        est, V = _delta(ctx, w, clusters, hc1=not weighting)
        if not weighting:
            how = f"delta method on the outcome model's sandwich, cluster-robust by {label} (CR1)"
        else:
            how = (
                "delta method on the outcome model's design-based sandwich (as survey::svyglm; "
                "weights treated as known)"
            )
    scale_per = per if exposure is not None else 1.0
    table = _contrast_table(kind, est * scale_per, V * scale_per**2, conf_level)
    first = ~sub["person_id"].duplicated().to_numpy() if replace else np.ones(len(sub), bool)
    return EffectEstimate(
        outcome=outcome,
        kind=kind,
        table=table,
        n=int(first.sum()),
        n_treated=int((first & (t == 1)).sum()),
        n_control=int((first & (t == 0)).sum()),
        events=None if kind == "continuous" else int(round(float(y[first].sum()))),
        estimand=estimand,
        method=method if covariates or method == "aipw" else "difference",
        variance=how,
        conf_level=conf_level,
        per=scale_per,
        notes=tuple(notes),
    )


def _infer_kind(col: pd.Series, event: str | None) -> str:
    if event is not None:
        return "survival"
    y = pd.to_numeric(col, errors="coerce").dropna().to_numpy(float)
    if len(y) and np.isin(y, (0, 1)).all():
        return "binary"
    if len(y) and (y >= 0).all() and np.allclose(y, np.round(y)):
        return "count"
    return "continuous"


def _delta(ctx: dict, w: np.ndarray, clusters: list[np.ndarray], hc1: bool):
    """Arm means by g-computation and their covariance by the delta method on the GLM sandwich."""
    X, y, kind, offset, target = ctx["X"], ctx["y"], ctx["kind"], ctx["offset"], ctx["target"]
    beta = _fit_glm(X, y, w, offset, kind, ctx["outcome"])
    eta = X @ beta + (0 if offset is None else offset)
    mu, dmu = _mean(kind, eta)
    H = (X * (w * dmu)[:, None]).T @ X
    Hinv = np.linalg.inv(H)
    S = X * (w * (y - mu))[:, None]
    cl = clusters or [np.arange(len(y))]
    Vb = Hinv @ _meat(S, cl) @ Hinv
    n, k = X.shape
    if hc1:
        Vb *= (n - 1) / (n - k)
    wt = w[target] / w[target].sum()
    means, grads = [], []
    for Xa in (ctx["X1"][target], ctx["X0"][target]):
        m, dm = _mean(kind, Xa @ beta)
        means.append(wt @ m)
        grads.append((wt * dm) @ Xa)
    Gm = np.vstack(grads)
    return np.array(means), Gm @ Vb @ Gm.T


def _stacked(ctx, Z, gamma, rows, t_all, scale, estimand, method, clusters, n_all):
    """IPTW: propensity + outcome model + arm means, one M-estimator; returns the arm means,
    their covariance block and a description."""
    X, X1, X0, y, t, kind, target = (ctx[k] for k in ("X", "X1", "X0", "y", "t", "kind", "target"))
    offset = ctx["offset"]
    off = 0 if offset is None else offset
    p, k = Z.shape[1], X.shape[1]
    g = target.astype(float)

    def weights_of(gam):
        e = expit(Z[rows] @ gam)
        return e, _iptw(e, t, estimand) * scale

    w = weights_of(gamma)[1]
    if method == "aipw":
        beta = _fit_glm(X, y, np.ones(len(y)), offset, kind, ctx["outcome"])
        what = "arm-specific outcome model and AIPW"
    elif X.shape[1] > 2:
        beta = _fit_glm(X, y, w, offset, kind, ctx["outcome"])
        what = "weighted outcome model and g-computation"
    else:
        beta = _fit_glm(X, y, w, offset, kind, ctx["outcome"])
        what = "weighted arm means"

    def arm_terms(gam, b):
        e, w = weights_of(gam)
        m1, _ = _mean(kind, X1 @ b)
        m0, _ = _mean(kind, X0 @ b)
        if method == "aipw":
            r = _iptw(e, t, estimand)
            a1 = g * m1 + (t == 1) * r * (y - m1)
            a0 = g * m0 + (t == 0) * r * (y - m0)
            if estimand == "ATT":
                a1 = (t == 1) * y
            if estimand == "ATC":
                a0 = (t == 0) * y
            return a1, a0, g, w
        return g * w * m1, g * w * m0, g * w, w

    def psi(theta):
        gam, b, mus = theta[:p], theta[p:p + k], theta[p + k:]
        out = np.zeros((n_all, p + k + 2))
        out[:, :p] = Z * (t_all - expit(Z @ gam))[:, None]
        mu, _ = _mean(kind, X @ b + off)
        a1, a0, den, w = arm_terms(gam, b)
        ww = np.ones(len(y)) if method == "aipw" else w
        out[rows, p:p + k] = X * (ww * (y - mu))[:, None]
        out[rows, p + k] = a1 - den * mus[0]
        out[rows, p + k + 1] = a0 - den * mus[1]
        return out

    a1, a0, den, _ = arm_terms(gamma, beta)
    mus = np.array([a1.sum() / den.sum(), a0.sum() / den.sum()])
    theta = np.concatenate([gamma, beta, mus])
    q = len(theta)
    A = np.empty((q, q))
    for j in range(q):
        h = 1e-6 * max(1.0, abs(theta[j]))
        d = np.zeros(q)
        d[j] = h
        A[:, j] = (psi(theta + d).sum(0) - psi(theta - d).sum(0)) / (2 * h)
    Psi = psi(theta)
    if clusters:  # analysis-row clusters; units outside the analysis are their own cluster
        full = []
        for c in clusters:
            codes = np.full(n_all, -1)
            codes[rows] = c
            extra = codes < 0
            codes[extra] = c.max() + 1 + np.arange(extra.sum())
            full.append(codes)
    else:
        full = [np.arange(n_all)]
    Ainv = np.linalg.inv(A)
    V = Ainv @ _meat(Psi, full) @ Ainv.T
    return mus, V[-2:, -2:], what


def _contrast_table(kind: str, mus: np.ndarray, V: np.ndarray, conf_level: float) -> pd.DataFrame:
    """Arm means, difference and ratio (log-scale delta method) from the means' covariance."""
    pre = _PREFIX[kind]
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    m1, m0 = float(mus[0]), float(mus[1])
    se1, se0 = np.sqrt(np.diag(V))
    gd = np.array([1.0, -1.0])
    se_d = float(np.sqrt(gd @ V @ gd))
    rows = [
        (f"{pre}_treated", m1, se1, m1 - z * se1, m1 + z * se1, np.nan),
        (f"{pre}_control", m0, se0, m0 - z * se0, m0 + z * se0, np.nan),
        (f"{pre}_difference", m1 - m0, se_d, *_wald(m1 - m0, se_d, z)),
    ]
    if m1 > 0 and m0 > 0:
        gl = np.array([1 / m1, -1 / m0])
        se_l = float(np.sqrt(gl @ V @ gl))
        lo, hi, p = _wald(np.log(m1 / m0), se_l, z)
        rows.append((f"{pre}_ratio", m1 / m0, se_l * m1 / m0, float(np.exp(lo)), float(np.exp(hi)), p))
    else:
        rows.append((f"{pre}_ratio", np.nan, np.nan, np.nan, np.nan, np.nan))
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


# ---- restricted mean survival time ---------------------------------------------------------
def _km_area_of(time: np.ndarray, event: np.ndarray, tau: float) -> Callable[[np.ndarray], float]:
    """Area under a weighted Kaplan-Meier curve from 0 to ``tau``, as a function of the weights:
    the times are sorted and their distinct values found once, since a bootstrap reweights the
    same rows hundreds of times."""
    order = np.argsort(time, kind="stable")
    d = event[order]
    ut, inv = np.unique(time[order], return_inverse=True)
    keep = ut < tau
    widths = np.diff(np.concatenate([[0.0], ut[keep], [tau]]))

    def area(w: np.ndarray) -> float:
        ww = w[order]
        deaths = np.bincount(inv, weights=ww * d, minlength=len(ut))
        leaving = np.bincount(inv, weights=ww, minlength=len(ut))
        at_risk = leaving[::-1].cumsum()[::-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.cumprod(np.where(at_risk > 0, 1 - deaths / at_risk, 1.0))
        surv = np.concatenate([[1.0], s[keep]])
        return float(np.sum(surv * widths))

    return area


def _rmst(sub, duration, event, tau, a, w, clusters, estimand, replicates, seed, conf_level,
          notes) -> EffectEstimate:
    """RMST under each arm from weighted Kaplan-Meier curves; a cluster (pair) bootstrap for the
    SEs (clusters resampled whole; the first cluster column when there are several)."""
    if not (tau > 0 and np.isfinite(tau)):
        raise ModelError(f"effect: tau must be a positive number of days; got {tau}")
    t = numeric(sub, duration, "effect")
    d = binary(sub, event, "effect")
    codes = clusters[0] if clusters else np.arange(len(sub))

    arms = [(a == arm, _km_area_of(t[a == arm], d[a == arm], tau)) for arm in (1, 0)]

    def both(mult: np.ndarray) -> tuple[float, float]:
        ww = w * mult
        return tuple(area(ww[rows]) for rows, area in arms)

    r1, r0 = both(np.ones(len(sub)))
    rng = np.random.default_rng(seed)
    G = int(codes.max()) + 1
    reps = np.empty((replicates, 2))
    for b in range(replicates):
        counts = np.bincount(rng.integers(0, G, G), minlength=G)
        reps[b] = both(counts[codes].astype(float))
    table = _contrast_table("survival", np.array([r1, r0]), np.cov(reps.T, ddof=1), conf_level)
    return EffectEstimate(
        outcome=duration, kind="survival", table=table, n=len(sub),
        n_treated=int((a == 1).sum()), n_control=int((a == 0).sum()), events=int(d.sum()),
        estimand=estimand, method="km",
        variance=f"cluster bootstrap ({replicates} draws, seed {seed}; weights held fixed)",
        conf_level=conf_level, tau=tau, notes=tuple(notes),
        details={"replicates": replicates, "seed": seed},
    )


# ---- backward-compatible cases -------------------------------------------------------------
def risk_difference(
    data: Any,
    outcome: str,
    treatment: str = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    estimand: Literal["ATT", "ATE"] = "ATT",
    conf_level: float = 0.95,
) -> EffectEstimate:
    """Binary case of :func:`estimate_effect` with an additive logistic model (no interaction);
    ``weights`` defaults to the matching weights of a frame from :func:`leadeval.match`, ``cluster``
    to ``subclass`` when that column exists."""
    if estimand not in ("ATT", "ATE"):
        raise ModelError(f"risk_difference: estimand must be 'ATT' or 'ATE'; got {estimand!r}")
    frame = as_frame(data, "risk_difference")
    weights = weights_column(frame, weights, "risk_difference")
    if cluster == "subclass" and (cluster not in frame.columns or frame[cluster].isna().all()):
        cluster = None
    return estimate_effect(
        frame, outcome, kind="binary", treatment=treatment, weights=weights, cluster=cluster,
        covariates=covariates, interaction=False, estimand=estimand, conf_level=conf_level,
    )


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
) -> EffectEstimate:
    """Survival case of :func:`estimate_effect`: the RMST difference up to ``tau`` (days) from
    weighted Kaplan-Meier curves, with a cluster (pair) bootstrap; an alternative summary to the
    hazard ratio when hazards are not proportional."""
    frame = as_frame(data, "rmst_difference")
    weights = weights_column(frame, weights, "rmst_difference")
    if cluster is not None and (cluster not in frame.columns or frame[cluster].isna().any()):
        cluster = None
    return estimate_effect(
        frame, duration, kind="survival", event=event, tau=tau, treatment=treatment,
        weights=weights, cluster=cluster, replicates=replicates, seed=seed, conf_level=conf_level,
    )
