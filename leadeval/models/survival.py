"""Time to event: Kaplan-Meier, log-rank, Cox proportional hazards, Andersen-Gill recurrent
events, Aalen-Johansen cumulative incidence.

All functions take a DataFrame or a ``MatchedSample`` (anything with ``.data``). Matching weights
(``weights``) and pairs (``subclass``) are used when present; see :mod:`leadeval.models._data`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models import _cox
from leadeval.models._data import (
    DEFAULT_WEIGHTS,
    as_frame,
    design_matrix,
    drop_zero_weights,
    numeric,
    require_columns,
    resolve_clusters,
    resolve_weights,
)
from leadeval.models.results import CurveResult, ModelResult, TestResult, coef_table


def _time_event(frame, duration, event, model, start=None):
    require_columns(frame, [duration, event] + ([start] if start else []), model)
    stop = numeric(frame, duration, model)
    ev = numeric(frame, event, model)
    if not np.isin(ev, (0, 1)).all():
        raise ModelError(f"{model}: event column '{event}' must be 0/1 (1 = event, 0 = censored)")
    if (stop < 0).any():
        rows = list(frame.index[stop < 0][:5])
        raise ModelError(
            f"{model}: '{duration}' is negative in rows {rows}; durations must be >= 0"
        )
    if start:
        st = numeric(frame, start, model)
        if (st >= stop).any():
            rows = list(frame.index[st >= stop][:5])
            raise ModelError(
                f"{model}: '{start}' >= '{duration}' in rows {rows}; intervals are (start, stop]"
            )
    else:
        st = np.full(len(stop), -np.inf)
    return st, stop, ev.astype(int)


def _groups(frame: pd.DataFrame, group: str | None, model: str) -> pd.Series:
    if group is None:
        return pd.Series("all", index=frame.index)
    require_columns(frame, [group], model)
    if frame[group].isna().any():
        raise ModelError(f"{model}: group column '{group}' has missing values")
    return frame[group]


# ----------------------------------------------------------------------------- Kaplan-Meier
def _ij_variance(influence, n: int, clusters=None, chunk_rows: int = 2048) -> np.ndarray:
    """Infinitesimal-jackknife variance sum_g (sum_{i in g} D_i(t))^2 over clusters g (rows when
    ``clusters`` is None). ``influence(idx)`` returns the weighted influence D (len(idx) x times)
    of those rows; blocks of whole clusters keep memory at O(chunk_rows x times)."""
    return _ij_variances(lambda idx: [influence(idx)], n, clusters, chunk_rows)[0]


def _ij_variances(influences, n: int, clusters=None, chunk_rows: int = 2048) -> list[np.ndarray]:
    """:func:`_ij_variance` of several influence functions at once: ``influences(idx)`` returns
    a list of them for the same rows (which can share their common terms)."""
    codes = np.arange(n) if clusters is None else pd.factorize(clusters)[0]
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    cut = np.minimum(np.searchsorted(starts, np.arange(0, n, chunk_rows)), len(starts) - 1)
    bounds = np.unique(np.r_[starts[cut], n])
    totals: list = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        local = starts[(starts >= a) & (starts < b)] - a
        for k, inf in enumerate(influences(order[a:b])):
            summed = np.add.reduceat(inf, local, axis=0)
            if k == len(totals):
                totals.append(0.0)
            totals[k] = totals[k] + (summed**2).sum(axis=0)
    return [np.asarray(t) for t in totals]


def _km_one(time, event, w, z, robust=False, clusters=None, conf_type="log"):
    """Weighted KM at every distinct time with a log-scale (R's default ``conf.type = "log"``),
    log-log or plain interval.

    Variance of log S: Greenwood with weighted counts (R's ``robust = FALSE``) or the
    infinitesimal jackknife (R's default with weights, ``robust = TRUE``), optionally summing
    the influence within clusters (R's ``cluster =``).
    """
    ut, inv = np.unique(time, return_inverse=True)
    m = len(ut)
    n_event = np.bincount(inv, weights=w * event, minlength=m)
    n_leave = np.bincount(inv, weights=w, minlength=m)
    persons_leave = np.bincount(inv, minlength=m)
    n_risk = np.cumsum(n_leave[::-1])[::-1]
    at_risk = np.cumsum(persons_leave[::-1])[::-1]
    surv = np.cumprod(1 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        if robust:
            # influence of row i on log S(t): sum over s <= t of
            # -(dN_i(s) Y(s) - Y_i(s) dN(s)) / (Y(s) (Y(s) - dN(s)))
            def influence(idx):
                atrisk = inv[idx, None] >= np.arange(m)[None, :]
                dNi = (inv[idx, None] == np.arange(m)[None, :]) & (event[idx, None] > 0)
                term = -(dNi * n_risk - atrisk * n_event) / (n_risk * (n_risk - n_event))
                return w[idx, None] * np.cumsum(np.where(np.isfinite(term), term, 0.0), axis=1)

            se_log = np.sqrt(_ij_variance(influence, len(time), clusters))
        else:
            gw = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
            se_log = np.sqrt(np.cumsum(gw))
        if conf_type == "log":
            low = surv * np.exp(-z * se_log)
            high = np.minimum(1.0, surv * np.exp(z * se_log))
        elif conf_type == "log-log":  # R: exp(-exp(log(-log S) -/+ z se / log S)); 1 at S = 1
            shift = z * se_log / np.log(surv)
            low = np.where(surv < 1, np.exp(-np.exp(np.log(-np.log(surv)) - shift)), 1.0)
            high = np.where(surv < 1, np.exp(-np.exp(np.log(-np.log(surv)) + shift)), 1.0)
        else:  # plain: S -/+ z se(S), clipped to [0, 1]
            low = np.maximum(0.0, surv - z * surv * se_log)
            high = np.minimum(1.0, surv + z * surv * se_log)
    with np.errstate(invalid="ignore"):  # 0 * inf once the curve reaches 0: NaN, as in R
        std_error = np.where(surv > 0, surv * se_log, np.nan)
    return pd.DataFrame(
        {
            "time": ut,
            "n_risk": n_risk,
            "n_event": n_event,
            "at_risk": at_risk,
            "estimate": surv,
            "std_error": std_error,
            "conf_low": np.where(surv > 0, low, np.nan),
            "conf_high": np.where(surv > 0, high, np.nan),
        }
    )


def _first_below_half(time: np.ndarray, values: np.ndarray) -> float:
    """R's median rule: the first time the curve is <= 0.5; if it sits exactly at 0.5, the mean
    of that time and the next time the curve drops."""
    tol = 1e-12
    hit = np.flatnonzero(values <= 0.5 + tol)
    if not len(hit):
        return np.nan
    i = hit[0]
    if abs(values[i] - 0.5) <= tol:
        later = np.flatnonzero(values < 0.5 - tol)
        return (time[i] + time[later[0]]) / 2 if len(later) else time[i]
    return float(time[i])


def fit_km(
    data: Any,
    duration: str = "days_to_arrest",
    event: str = "arrested",
    group: str | None = "treated",
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    variance: str = "auto",
    conf_level: float = 0.95,
    conf_type: str = "log",
) -> CurveResult:
    r"""Kaplan-Meier survival curves by group, weighted by matching or IPTW weights.

    .. math:: \hat S(t) = \prod_{t_j \le t} (1 - d_j / n_j), \quad
              \widehat{\mathrm{Var}}\{\log \hat S(t)\} = \sum_{t_j \le t} \frac{d_j}{n_j (n_j - d_j)}

    with weighted event counts :math:`d_j` and risk sets :math:`n_j` (Greenwood). With weights
    other than 1 (``variance="auto"``) the variance is R's default for weighted curves, the
    infinitesimal jackknife :math:`\sum_g (\sum_{i \in g} w_i\,\partial \log \hat S / \partial w_i)^2`,
    clustered by ``cluster`` (matched pairs) when that column is present, else by row;
    ``variance="greenwood"`` or ``"robust"`` forces one. The interval is
    :math:`\hat S \exp(\pm z\,\mathrm{se})` (R's default ``conf.type = "log"``);
    ``conf_type="log-log"`` gives :math:`\exp\{-\exp(\log(-\log \hat S) \mp z\,\mathrm{se} /
    \log \hat S)\}`, which stays inside (0, 1) (Kalbfleisch & Prentice; Stata's and SAS's default),
    ``"plain"`` :math:`\hat S \pm z\,\hat S\,\mathrm{se}` clipped to [0, 1]. ``at_risk``
    counts persons (unweighted), for the at-risk table under a plot. Medians (with R's rule for a
    curve flat at 0.5) and their intervals are in ``details["medians"]``.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> km = fit_km(load_rossi(), "week", "arrest", group="fin")
    >>> round(float(km.at([52]).query("group == 1")["estimate"].iloc[0]), 3)
    0.778
    """
    model = "kaplan_meier"
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    _, time, ev = _time_event(frame, duration, event, model)
    w = resolve_weights(frame, weights, model)
    w = np.ones(len(frame)) if w is None else w
    if variance not in ("auto", "greenwood", "robust"):
        raise ModelError(
            f"{model}: variance must be 'auto', 'greenwood' or 'robust'; got {variance!r}"
        )
    if conf_type not in ("log", "log-log", "plain"):
        raise ModelError(
            f"{model}: conf_type must be 'log', 'log-log' or 'plain'; got {conf_type!r}"
        )
    robust = variance == "robust" or (variance == "auto" and not np.all(w == 1))
    clusters = resolve_clusters(frame, cluster, model) if robust else None
    g = _groups(frame, group, model)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    parts, medians = [], []
    for level in sorted(g.unique()):
        m = (g == level).to_numpy()
        cl = None if clusters is None else clusters[m]
        c = _km_one(time[m], ev[m], w[m], z, robust, cl, conf_type)
        c.insert(0, "group", level)
        parts.append(c)
        medians.append(
            {
                "group": level,
                "median": _first_below_half(c["time"].to_numpy(), c["estimate"].to_numpy()),
                "conf_low": _first_below_half(
                    c["time"].to_numpy(), c["conf_low"].fillna(0).to_numpy()
                ),
                "conf_high": _first_below_half(
                    c["time"].to_numpy(), c["conf_high"].fillna(0).to_numpy()
                ),
            }
        )
    return CurveResult(
        kind="survival",
        curves=pd.concat(parts, ignore_index=True),
        group=group,
        conf_level=conf_level,
        weighted=weights is not None and not np.all(w == 1),
        details={
            "medians": pd.DataFrame(medians),
            "duration": duration,
            "event": event,
            "conf_type": conf_type,
            "variance": (
                "infinitesimal jackknife"
                + (f" clustered by {cluster}" if clusters is not None else "")
            )
            if robust
            else "Greenwood",
            "notes": tuple(zero_notes),
        },
    )


# ----------------------------------------------------------------------------- log-rank
def logrank_test(
    data: Any,
    duration: str = "days_to_arrest",
    event: str = "arrested",
    group: str = "treated",
    weights: str | None = DEFAULT_WEIGHTS,
) -> TestResult:
    r"""Log-rank test of equal survival across groups (k groups, k - 1 df).

    Unweighted, it is R's ``survdiff``: observed minus expected events with the hypergeometric
    variance :math:`V_{jl} = \sum_t d_t \frac{n_t - d_t}{n_t - 1} \frac{n_{jt}}{n_t}
    (\delta_{jl} - \frac{n_{lt}}{n_t})`. With weights it is the Cox score test of the group
    dummies at :math:`\beta = 0` with Breslow ties (R: ``coxph(..., weights = w, ties =
    "breslow")$score``): weighted counts, no hypergeometric factor.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> round(logrank_test(load_rossi(), "week", "arrest", group="fin").statistic, 3)
    3.838
    """
    model = "logrank_test"
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    _, time, ev = _time_event(frame, duration, event, model)
    w = resolve_weights(frame, weights, model)
    weighted = w is not None
    w = np.ones(len(frame)) if w is None else w
    g = _groups(frame, group, model)
    levels = sorted(g.unique())
    if len(levels) < 2:
        raise ModelError(f"{model}: '{group}' has a single level {levels}; need two or more groups")
    gi = pd.Categorical(g, categories=levels).codes
    ut, inv = np.unique(time, return_inverse=True)
    k = len(levels)
    leave = np.zeros((len(ut), k))
    np.add.at(leave, (inv, gi), w)
    dj = np.zeros((len(ut), k))
    np.add.at(dj, (inv, gi), w * ev)
    nj = np.cumsum(leave[::-1], axis=0)[::-1]
    n = nj.sum(axis=1)
    d = dj.sum(axis=1)
    keep = d > 0
    nj, dj, n, d = nj[keep], dj[keep], n[keep], d[keep]
    expected = (d / n)[:, None] * nj
    factor = np.ones_like(d) if weighted else np.where(n > 1, (n - d) / np.maximum(n - 1, 1), 1.0)
    p = nj / n[:, None]
    V = np.einsum("t,tj,jl->jl", d * factor, p, np.eye(k)) - np.einsum(
        "t,tj,tl->jl", d * factor, p, p
    )
    oe = dj.sum(axis=0) - expected.sum(axis=0)
    stat = float(oe[1:] @ np.linalg.solve(V[1:, 1:], oe[1:]))
    df = k - 1
    table = pd.DataFrame(
        {"group": levels, "observed": dj.sum(axis=0), "expected": expected.sum(axis=0)}
    )
    return TestResult(
        name="weighted log-rank (Cox score test)" if weighted else "log-rank",
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        details={"table": table, "notes": tuple(zero_notes)},
    )


# ----------------------------------------------------------------------------- Cox
def _cox_fit(
    frame: pd.DataFrame,
    model: str,
    outcome: str,
    start_arr,
    stop,
    ev,
    X,
    names,
    w,
    clusters,
    ties,
    conf_level,
    cluster_label,
    ph_test: bool,
    extra_notes=(),
    strata=None,
    fit_stats=None,
):
    if ev.sum() == 0:
        raise ModelError(f"{model}: no events in '{outcome}'; a hazard ratio cannot be estimated")
    efron = ties == "efron"
    Xc = X - X.mean(axis=0)
    w_arr = np.ones(len(stop)) if w is None else w
    notes = list(extra_notes)
    if strata is not None:
        start_arr, stop = _cox.stratify_times(start_arr, stop, strata)
        if ph_test:
            ph_test = False
            notes.append("no proportional-hazards test for a stratified fit")
    beta, pc, converged, iters, loglik0 = _cox.newton(start_arr, stop, ev, Xc, w_arr, efron)
    if not np.all(np.isfinite(beta)):
        raise ModelError(f"{model}: the fit produced non-finite coefficients; check for separation")
    if not converged or np.max(np.abs(beta)) > 15:
        msg = (
            f"{model} ({outcome}): Newton-Raphson did not converge in {iters} iterations"
            if not converged
            else f"{model} ({outcome}): a coefficient is {np.max(np.abs(beta)):.1f} on the log scale, "
            "a sign of monotone likelihood (a group or covariate level with no events)"
        )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        notes.append(msg)
    V = np.linalg.inv(pc.info)
    variance = "model-based (inverse information)"
    naive_se = np.sqrt(np.diag(V))
    if clusters is not None:
        res = _cox.score_residuals(start_arr, stop, ev, Xc, beta, pc)
        D = (w_arr[:, None] * res) @ V
        Dg = np.zeros((clusters.max() + 1, D.shape[1]))
        np.add.at(Dg, clusters, D)
        V = Dg.T @ Dg
        variance = f"robust sandwich clustered by {cluster_label} (R coxph cluster(); no small-sample factor)"
    details: dict[str, Any] = {
        "loglik": pc.loglik,
        "loglik_null": loglik0,
        "ties": ties,
        "iterations": iters,
        "naive_std_error": pd.Series(naive_se, index=names),
    }
    conc, conc_se = _cox.concordance(start_arr, stop, ev, Xc @ beta, w_arr, clusters)
    details["concordance"] = conc
    pc0 = _cox.cox_pieces(start_arr, stop, ev, Xc, w_arr, np.zeros(len(beta)), efron)
    score = float(pc0.score @ np.linalg.lstsq(pc0.info, pc0.score, rcond=None)[0])
    wald = float(beta @ np.linalg.lstsq(V, beta, rcond=None)[0])
    k = len(beta)
    stats_: dict[str, float] = {
        "loglik": pc.loglik,
        "loglik_null": loglik0,
        "df_model": k,
        "aic": -2 * pc.loglik + 2 * k,
        "bic": -2 * pc.loglik + k * np.log(ev.sum()),  # R: nobs(coxph) = events
        "lr_test": 2 * (pc.loglik - loglik0),
        "lr_p": float(stats.chi2.sf(2 * (pc.loglik - loglik0), k)),
        "score_test": score,
        "score_p": float(stats.chi2.sf(score, k)),
        "wald_test": wald,
        "wald_p": float(stats.chi2.sf(wald, k)),
        "concordance": conc,
        "concordance_se": conc_se,
    }
    if clusters is not None:
        stats_["clusters"] = int(len(np.unique(clusters)))
    if strata is not None:
        stats_["strata"] = int(len(np.unique(strata)))
    stats_.update(fit_stats or {})
    if ph_test:
        terms, chisq, dfs = _cox.zph_test(start_arr, stop, ev, Xc, w_arr, beta, efron, names)
        details["ph_test"] = pd.DataFrame(
            {"chisq": chisq, "df": dfs, "p_value": stats.chi2.sf(chisq, dfs)}, index=terms
        )
        gp = details["ph_test"].loc["GLOBAL", "p_value"]
        if gp < 0.05:
            notes.append(
                f"proportional-hazards test (scaled Schoenfeld, global) p = {gp:.3g}: the hazard ratio "
                "is an average over follow-up; look at KM curves and ph_test"
            )
    se = np.sqrt(np.diag(V))
    return ModelResult(
        model=model,
        outcome=outcome,
        table=coef_table(names, beta, se, conf_level),
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=int(len(stop)),
        events=int(ev.sum()),
        ratio_name="hazard ratio",
        variance=variance,
        details=details,
        notes=tuple(notes),
        e_value_kind="hr",
        outcome_rare=bool(ev.mean() < 0.15),
        fit_stats=stats_,
    )


def _strata_codes(frame: pd.DataFrame, strata, model: str) -> np.ndarray | None:
    """Integer codes of the strata column(s) (R's ``strata(a, b)``), ``None`` for no strata."""
    if strata is None:
        return None
    cols = [strata] if isinstance(strata, str) else list(strata)
    require_columns(frame, cols, model)
    bad = frame[cols].isna().any(axis=1)
    if bad.any():
        rows = list(frame.index[bad.to_numpy()][:5])
        raise ModelError(
            f"{model}: strata column(s) {cols} missing in {int(bad.sum())} row(s) (rows {rows}); "
            "give every row a stratum"
        )
    key = frame[cols].astype(str).agg("\x1f".join, axis=1) if len(cols) > 1 else frame[cols[0]]
    return pd.factorize(key.astype(str), sort=True)[0]


def _check_group_events(frame, treatment, ev, model, outcome):
    if treatment is None:
        return
    t = frame[treatment]
    if t.nunique() < 2:
        raise ModelError(f"{model}: '{treatment}' has one level only; nothing to compare")
    for level, n_ev in pd.Series(ev, index=frame.index).groupby(t.to_numpy()).sum().items():
        if n_ev == 0:
            raise ModelError(
                f"{model}: no '{outcome}' events where {treatment} = {level}; the hazard ratio is not "
                "estimable (its MLE is 0 or infinite). Report Kaplan-Meier curves and event counts "
                "instead, or lengthen follow-up"
            )


def fit_cox(
    data: Any,
    duration: str = "days_to_arrest",
    event: str = "arrested",
    treatment: str | None = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    ties: str = "efron",
    robust: bool | None = None,
    conf_level: float = 0.95,
    ph_test: bool = True,
    strata: str | Sequence[str] | None = None,
) -> ModelResult:
    r"""Cox proportional hazards for time to first event, weighted, with cluster-robust SEs.

    Maximises the (weighted) partial likelihood with Efron's tie handling by Newton-Raphson,
    exactly as R's ``coxph``. With a cluster (matched pair ``subclass``, or person) the variance
    is the robust sandwich :math:`D^\top D` where :math:`D` sums the weighted dfbeta residuals
    :math:`w_i\,r_i\,\mathcal I^{-1}` within clusters (Lin & Wei 1989; R's ``cluster()``, no
    small-sample factor). With weights but no cluster column each row is its own cluster
    (``robust = TRUE``). The scaled Schoenfeld test of proportional hazards (R's ``cox.zph``,
    KM time scale) is in ``details["ph_test"]`` and a note is added when its global p < 0.05.

    ``strata`` gives each stratum its own baseline hazard (R's ``+ strata(s)``): risk sets hold
    only rows of the event's stratum. ``strata="subclass"`` is the pair-stratified Cox after
    matching, which compares each treated person only with their own matches. Fit statistics
    (log-likelihoods, AIC/BIC, likelihood-ratio, score (log-rank) and Wald tests, concordance and
    its SE as R's ``coxph`` reports them) are in ``fit_stats``.

    Parameters
    ----------
    data : DataFrame or MatchedSample
    duration, event : str
        Follow-up time and 0/1 event indicator.
    treatment : str or None
        The exposure (first term); ``None`` to fit covariates only.
    covariates : sequence of str
        Adjustment covariates; strings become dummies.
    weights, cluster : str or None
        Defaults are used when present (matched samples), skipped when absent.
    ties : {"efron", "breslow"}
    robust : bool, optional
        Force the sandwich by row (``True``) or the model-based variance (``False``).
    strata : str or sequence of str, optional
        Column(s) defining strata with separate baseline hazards.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> fit = fit_cox(load_rossi(), "week", "arrest", treatment="fin", covariates=["age", "prio"])
    >>> round(float(fit.term("fin")["ratio"]), 3)
    0.707
    >>> round(fit.fit_stats["concordance"], 3)
    0.63
    """
    model = "cox"
    if ties not in ("efron", "breslow"):
        raise ModelError(f"{model}: ties must be 'efron' or 'breslow'; got {ties!r}")
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    start_arr, stop, ev = _time_event(frame, duration, event, model)
    terms = ([treatment] if treatment else []) + [c for c in covariates if c != treatment]
    if not terms:
        raise ModelError(f"{model}: give a treatment column or covariates")
    X, names = design_matrix(frame, terms, model, intercept=False)
    _check_group_events(frame, treatment, ev, model, event)
    w = resolve_weights(frame, weights, model)
    clusters, label = resolve_clusters(frame, cluster, model), cluster
    if robust is False:
        clusters = None
    elif clusters is None and (robust or w is not None):
        clusters, label = np.arange(len(frame)), "row (robust = TRUE)"
    return _cox_fit(
        frame,
        model,
        event,
        start_arr,
        stop,
        ev,
        X,
        names,
        w,
        clusters,
        ties,
        conf_level,
        label,
        ph_test,
        extra_notes=zero_notes,
        strata=_strata_codes(frame, strata, model),
    )


RECURRENT_METHODS = ("ag", "pwp", "wlw")


def _wlw_rows(frame: pd.DataFrame, start: str, stop: str, event: str, id: str, k_max):
    """Counting-process rows -> Wei-Lin-Weissfeld rows: per person and k = 1..K, the time from
    the origin to the k-th event (event 1) or, after the last event, to the end of follow-up
    (event 0). Per-person columns are taken from the person's first row."""
    frame = frame.sort_values([id, stop], kind="stable")
    first = frame.groupby(id, sort=True).head(1).set_index(id)
    first = first.assign(_end=frame.groupby(id, sort=True)[stop].max())
    ev = frame.loc[frame[event] == 1, [id, stop]]
    ev = ev.assign(_k=ev.groupby(id).cumcount() + 1)
    k_max = int(ev["_k"].max()) if k_max is None else int(k_max)
    ev = ev[ev["_k"] <= k_max]
    grid = pd.DataFrame(
        {id: np.repeat(first.index.to_numpy(), k_max), "_k": np.tile(np.arange(1, k_max + 1), len(first))}
    )
    grid = grid.merge(ev.rename(columns={stop: "_t"}), on=[id, "_k"], how="left")
    out = first.drop(columns=[start, stop, event]).reindex(grid[id]).reset_index()
    out[stop] = np.where(grid["_t"].notna(), grid["_t"], first["_end"].reindex(grid[id]).to_numpy())
    out[event] = grid["_t"].notna().astype(int).to_numpy()
    out["_k"] = grid["_k"].to_numpy()
    return out.drop(columns=["_end"]), k_max


def fit_recurrent_cox(
    data: Any,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    id: str = "person_id",
    treatment: str | None = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = None,
    ties: str = "efron",
    conf_level: float = 0.95,
    method: str = "ag",
    max_events: int | None = None,
) -> ModelResult:
    r"""Cox models for recurrent re-arrests from counting-process rows (start, stop] per person,
    one row per gap between events, robust sandwich clustered by person (or by ``cluster``,
    e.g. matched pair, which nests persons).

    ``method``:

    - ``"ag"`` (Andersen-Gill): risk sets :math:`\{i: start_i < t \le stop_i\}`, one baseline
      hazard (R: ``coxph(Surv(start, stop, event) ~ x + cluster(id))``). The hazard ratio is a
      ratio of event rates, events within a person independent given covariates.
    - ``"pwp"`` (Prentice-Williams-Peterson, total time): the same rows stratified by event
      number, so the k-th event is compared only among persons at risk of a k-th event
      (R: ``+ strata(enum)``, enum = 1 + events before the row).
    - ``"wlw"`` (Wei-Lin-Weissfeld marginal model): for k = 1..K (``max_events``, default the
      largest count), the time from the origin to the k-th event, censored at the end of
      follow-up, stratified by k, every person in every stratum (R:
      ``coxph(Surv(stop, event) ~ x + strata(enum) + cluster(id))`` on the WLW layout, e.g.
      survival's ``bladder``). Covariates and weights are per person (first row).

    The robust SE protects inference against within-person dependence. ``fit_stats["persons"]``
    is the number of persons.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"person_id": [1, 1, 2, 3, 3, 4], "start": [0, 5, 0, 0, 3, 0],
    ...                   "stop": [5, 9, 7, 3, 8, 6], "event": [1, 0, 1, 1, 1, 0],
    ...                   "treated": [1, 1, 1, 0, 0, 0]})
    >>> fit_recurrent_cox(d).n
    6
    >>> fit_recurrent_cox(d, method="wlw").fit_stats["persons"]
    4
    """
    if method not in RECURRENT_METHODS:
        raise ModelError(
            f"recurrent_cox: method must be one of {list(RECURRENT_METHODS)}; got {method!r}"
        )
    model = {"ag": "andersen_gill", "pwp": "pwp_total_time", "wlw": "wei_lin_weissfeld"}[method]
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [id], model)
    start_arr, stop_arr, ev = _time_event(frame, stop, event, model, start=start)
    strata = None
    persons = int(frame[id].nunique())
    if method == "pwp":
        frame = frame.assign(_ev=ev, _stop=stop_arr).sort_values([id, "_stop"], kind="stable")
        prior = frame.groupby(id, sort=False)["_ev"].cumsum() - frame["_ev"]
        strata = pd.factorize(prior, sort=True)[0]
        start_arr, stop_arr, ev = _time_event(frame, stop, event, model, start=start)
    elif method == "wlw":
        frame, k = _wlw_rows(frame, start, stop, event, id, max_events)
        start_arr, stop_arr, ev = _time_event(frame, stop, event, model)
        strata = frame["_k"].to_numpy() - 1
        zero_notes = [*zero_notes, f"{k} event strata (WLW)"]
    terms = ([treatment] if treatment else []) + list(covariates)
    X, names = design_matrix(frame, terms, model, intercept=False)
    _check_group_events(frame, treatment, ev, model, event)
    w = resolve_weights(frame, weights, model)
    by = cluster or id
    clusters = resolve_clusters(frame, by, model)
    return _cox_fit(
        frame,
        model,
        event,
        start_arr,
        stop_arr,
        ev,
        X,
        names,
        w,
        clusters,
        ties,
        conf_level,
        by,
        ph_test=False,
        extra_notes=(f"{persons} persons", *zero_notes),
        strata=strata,
        fit_stats={"persons": persons},
    )


# ----------------------------------------------------------------------------- Aalen-Johansen
def cumulative_incidence(
    data: Any,
    duration: str = "days_to_first_event",
    event: str = "first_event",
    group: str | None = "treated",
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    states: dict[int, str] | None = None,
    conf_level: float = 0.95,
) -> CurveResult:
    r"""Cumulative incidence of competing events (Aalen-Johansen).

    .. math:: F_k(t) = \sum_{t_j \le t} \hat S(t_j^-)\,\frac{d_{kj}}{n_j}

    with :math:`\hat S` the all-cause Kaplan-Meier, weighted counts. ``event`` is 0 for censored
    and 1, 2, ... for the competing events (cohort: 1 arrest, 2 prison, 3 death). The standard
    error is the infinitesimal-jackknife (IJ) one that R's multi-state ``survfit`` reports,
    :math:`\mathrm{Var} F_k(t) = \sum_g (\sum_{i \in g} w_i\,\partial F_k(t)/\partial w_i)^2`
    over clusters g (matched pairs when ``cluster`` is present, else rows), with a plain Wald
    interval clipped to [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 2, 0, 1, 3, 0]})
    >>> ci = cumulative_incidence(d, "t", "e", group=None)
    >>> round(float(ci.at([6]).query("state == 'arrest'")["estimate"].iloc[0]), 4)
    0.3889
    """
    model = "cumulative_incidence"
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [duration, event], model)
    time = numeric(frame, duration, model)
    ev = numeric(frame, event, model).astype(int)
    if (ev < 0).any():
        raise ModelError(f"{model}: '{event}' must be 0 (censored) or a positive event code")
    names = states or {1: "arrest", 2: "prison", 3: "death"}
    codes = sorted(c for c in np.unique(ev) if c > 0)
    w = resolve_weights(frame, weights, model)
    w = np.ones(len(frame)) if w is None else w
    clusters = resolve_clusters(frame, cluster, model)
    g = _groups(frame, group, model)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    parts = []
    for level in sorted(g.unique()):
        m = (g == level).to_numpy()
        cl = None if clusters is None else clusters[m]
        parts.append(_aj_one(time[m], ev[m], w[m], codes, names, z, cl).assign(group=level))
    curves = pd.concat(parts, ignore_index=True)
    curves = curves[["group", "state"] + [c for c in curves.columns if c not in ("group", "state")]]
    return CurveResult(
        kind="cumulative_incidence",
        curves=curves,
        group=group,
        conf_level=conf_level,
        weighted=not np.all(w == 1),
        details={"states": dict(names)},
    )


def _aj_one(time, ev, w, codes, names, z, clusters=None):
    ut, inv = np.unique(time, return_inverse=True)
    m = len(ut)
    Y = np.cumsum(np.bincount(inv, weights=w, minlength=m)[::-1])[::-1]
    at_risk = np.cumsum(np.bincount(inv, minlength=m)[::-1])[::-1]
    dN = np.bincount(inv, weights=w * (ev > 0), minlength=m)
    S = np.cumprod(1 - dN / Y)
    S_left = np.concatenate([[1.0], S[:-1]])
    dks = [np.bincount(inv, weights=w * (ev == c), minlength=m) for c in codes]

    def influences(idx):
        # influence of rows idx on each F_c(t): through log S(t-) (the same for every c) and
        # through the c hazard
        atrisk = inv[idx, None] >= np.arange(m)[None, :]
        at_t = inv[idx, None] == np.arange(m)[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            dlogS = -((at_t & (ev[idx, None] > 0)) * Y - atrisk * dN) / (Y * (Y - dN))
        dlogS = np.where(np.isfinite(dlogS), dlogS, 0.0)
        dlogS_left = np.concatenate(
            [np.zeros((len(idx), 1)), np.cumsum(dlogS, axis=1)[:, :-1]], axis=1
        )
        through_s = S_left * dlogS_left
        out = []
        for c, dk in zip(codes, dks, strict=True):
            dNki = at_t & (ev[idx, None] == c)
            step = through_s * dk / Y + S_left * (dNki * Y - atrisk * dk) / Y**2
            out.append(w[idx, None] * np.cumsum(step, axis=1))
        return out

    ses = _ij_variances(influences, len(ev), clusters) if codes else []
    rows = []
    for c, dk, var in zip(codes, dks, ses, strict=True):
        F = np.cumsum(S_left * dk / Y)
        se = np.sqrt(var)
        rows.append(
            pd.DataFrame(
                {
                    "state": names.get(c, str(c)),
                    "time": ut,
                    "n_risk": Y,
                    "n_event": dk,
                    "at_risk": at_risk,
                    "estimate": F,
                    "std_error": se,
                    "conf_low": np.clip(F - z * se, 0, 1),
                    "conf_high": np.clip(F + z * se, 0, 1),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)
