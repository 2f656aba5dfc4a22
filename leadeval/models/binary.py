"""Binary outcomes: weighted logistic regression with cluster-robust SEs (with a Firth fallback
under separation) and the Seattle pre/post logistic GEE."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from leadeval._sm import sm
from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models._data import (
    DEFAULT_WEIGHTS,
    as_frame,
    binary,
    design_matrix,
    drop_zero_weights,
    require_columns,
    resolve_clusters,
    resolve_weights,
    weights_column,
)
from leadeval.models.firth import FirthFit, firth_logistic, profile_intervals
from leadeval.models.results import ModelResult, coef_table


def cluster_vcov(X, scores_w, bread, clusters, n_params) -> np.ndarray:
    r"""CR1 cluster-robust sandwich, the convention of R's ``sandwich::vcovCL(type = "HC1")``
    and Stata: :math:`\frac{G}{G-1}\frac{n-1}{n-k} B \left(\sum_g s_g s_g^\top\right) B` with
    :math:`s_g` the summed score contributions of cluster g and B the inverse information."""
    G = int(clusters.max()) + 1
    S = np.zeros((G, X.shape[1]))
    np.add.at(S, clusters, scores_w)
    n = X.shape[0]
    adj = G / (G - 1) * (n - 1) / (n - n_params) if G > 1 else 1.0
    return adj * bread @ (S.T @ S) @ bread


VARIANCES = ("auto", "model", "HC0", "HC1", "HC3", "CR0", "CR1")


def hc_vcov(X, scores_w, bread, kind: str, hat=None) -> np.ndarray:
    r"""Heteroskedasticity-consistent sandwich of R's ``sandwich::vcovHC(fit, type = kind)``:
    :math:`B (\sum_i \omega_i s_i s_i^\top) B` with :math:`\omega_i = 1` (HC0),
    :math:`n/(n-k)` (HC1) or :math:`(1 - h_i)^{-2}` (HC3, h the GLM hat values)."""
    n, k = X.shape
    if kind == "HC3":
        scores_w = scores_w / (1 - hat)[:, None]
    V = bread @ (scores_w.T @ scores_w) @ bread
    return V * (n / (n - k)) if kind == "HC1" else V


def _separated(y: np.ndarray, X: np.ndarray, beta: np.ndarray) -> bool:
    """(Quasi-)complete separation: some fitted probabilities sit at 0 or 1 and all of those
    predict their outcome perfectly (the ML estimate is running off to infinity). Extreme but
    wrong predictions (an outlier) are not separation."""
    p = expit(X @ beta)
    extreme = (p < 1e-8) | (p > 1 - 1e-8)
    return bool(extreme.any() and np.all(y[extreme] == np.round(p[extreme])))


def fit_logistic(
    data: Any,
    outcome: str,
    treatment: str | None = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    firth: bool | str = "auto",
    conf_level: float = 0.95,
    variance: str = "auto",
    ci: str = "wald",
) -> ModelResult:
    r"""Weighted logistic regression of a 0/1 outcome, odds ratios with cluster-robust SEs.

    Solves the weighted score equations :math:`\sum_i w_i x_i (y_i - p_i) = 0` (statsmodels GLM,
    ``var_weights``). Variance: with a cluster column (matched pairs) the CR1 sandwich (R:
    ``sandwich::vcovCL(fit, cluster = ~subclass, type = "HC1")``: factor G/(G-1)·(n-1)/(n-k));
    with weights but no clusters each row is its own cluster (same CR1 factor); otherwise the
    model-based inverse information. Rows with a missing outcome (an incomplete window) are
    dropped and counted in ``notes``. ``variance`` overrides this choice: ``"model"``, ``"HC0"``,
    ``"HC1"``, ``"HC3"`` (R's ``sandwich::vcovHC(fit, type = ...)``; HC3 inflates each score by
    :math:`1/(1-h_i)`, h the hat values, and suits small samples), ``"CR1"`` or ``"CR0"``
    (clustered by ``cluster``, with and without the small-sample factor). ``ci="profile"`` gives
    profile-likelihood intervals and likelihood-ratio p-values (as ``MASS::confint(glm)``, solved
    exactly), the better interval when events are few; ``std_error`` stays the chosen variance's.
    Fit statistics (log-likelihood, deviance, null deviance, AIC, BIC, likelihood-ratio test)
    are in ``fit_stats``.

    Separation (a covariate pattern predicting the outcome perfectly, e.g. no events in one
    group) makes the ML estimate infinite; with ``firth="auto"`` the fit falls back to Firth's
    penalised likelihood (:func:`leadeval.models.firth.firth_logistic`; Wald ``std_error``,
    profile penalised-likelihood intervals and p-values as logistf) with a
    :class:`~leadeval.errors.ConvergenceWarning`. ``firth=True`` always uses Firth;
    ``False`` raises :class:`~leadeval.errors.ModelError` on separation.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> fit = fit_logistic(load_rossi(), "arrest", treatment="fin", covariates=["age", "prio"])
    >>> round(float(fit.term("fin")["ratio"]), 3)
    0.667
    """
    model = "logistic"
    if variance not in VARIANCES:
        raise ModelError(f"{model}: variance must be one of {list(VARIANCES)}; got {variance!r}")
    if ci not in ("wald", "profile"):
        raise ModelError(f"{model}: ci must be 'wald' or 'profile'; got {ci!r}")
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [outcome], model)
    notes = list(zero_notes)
    missing = frame[outcome].isna()
    if missing.any():
        notes.append(
            f"{int(missing.sum())} rows with missing '{outcome}' (incomplete window) dropped"
        )
        frame = frame.loc[~missing]
    y = binary(frame, outcome, model)
    if y.min() == y.max():
        raise ModelError(f"{model}: '{outcome}' is {int(y[0])} for every row; nothing to model")
    terms = ([treatment] if treatment else []) + [c for c in covariates if c != treatment]
    X, names = design_matrix(frame, terms, model, intercept=True)
    w = resolve_weights(frame, weights, model)
    clusters = resolve_clusters(frame, cluster, model)
    if clusters is None and w is not None:
        clusters = np.arange(len(frame))
    w_arr = np.ones(len(y)) if w is None else w
    use_firth = firth is True
    beta = None
    if not use_firth:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            glm = sm.GLM(y, X, family=sm.families.Binomial(), var_weights=w_arr)
            try:
                res = glm.fit(maxiter=100, tol=1e-12)
                beta = np.asarray(res.params)
                flagged = any(issubclass(c.category, PerfectSeparationWarning) for c in caught)
                ok = (
                    bool(res.converged)
                    and np.all(np.isfinite(beta))
                    and not flagged
                    and not _separated(y, X, beta)
                )
            except PerfectSeparationError:  # raised instead of warned by some statsmodels versions
                ok = False
        if not ok:
            if firth is False:
                raise ModelError(
                    f"{model} ({outcome}): the fit does not converge: (quasi-)separation, e.g. no "
                    "events in one group. Use firth=True or 'auto', or drop the covariate"
                )
            msg = (
                f"{model} ({outcome}): separation or non-convergence in maximum likelihood; "
                "fell back to Firth's penalised likelihood (finite, shrunken estimates)"
            )
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
            notes.append(msg)
            use_firth = True
    if use_firth:
        ff = firth_logistic(X, y, w_arr)
        if not ff.converged:
            msg = f"{model} ({outcome}): Firth fit did not converge in {ff.iterations} iterations"
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
            notes.append(msg)
        beta, V = ff.params, ff.cov
        variance = (
            "Firth penalised likelihood: Wald std_error from the inverse information; intervals "
            "and p-values by profile penalised likelihood (logistf's defaults)"
        )
    else:
        p = expit(X @ beta)
        info = (X * (w_arr * p * (1 - p))[:, None]).T @ X
        bread = np.linalg.inv(info)
        scores = X * (w_arr * (y - p))[:, None]
        kind = variance
        if kind == "auto":
            kind = "model" if clusters is None else "CR1"
        if kind in ("CR0", "CR1"):
            if clusters is None or cluster not in frame.columns:
                clusters = np.arange(len(frame))
            by = cluster if cluster in frame.columns and not frame[cluster].isna().all() else "row"
            V = cluster_vcov(X, scores, bread, clusters, X.shape[1])
            if kind == "CR0":
                G = int(clusters.max()) + 1
                V = V / (G / (G - 1) * (len(y) - 1) / (len(y) - X.shape[1]))
                variance_label = f"cluster-robust by {by} (CR0 = vcovCL HC0, no small-sample factor)"
            else:
                variance_label = f"cluster-robust by {by} (CR1 = vcovCL HC1: G/(G-1)*(n-1)/(n-k))"
        elif kind == "model":
            V = bread
            variance_label = "model-based (inverse information)"
        else:
            sw = np.sqrt(w_arr * p * (1 - p))
            hat = np.einsum("ij,jk,ik->i", X * sw[:, None], bread, X * sw[:, None])
            V = hc_vcov(X, scores, bread, kind, hat)
            variance_label = f"heteroskedasticity-consistent sandwich ({kind} = vcovHC type {kind})"
        variance = variance_label
    se = np.sqrt(np.diag(V))
    table = coef_table(names, beta, se, conf_level)
    fit_stats = {}
    if not use_firth:
        fit_stats = _glm_stats(y, X, beta, w_arr)
        if ci == "profile":
            ml = FirthFit(beta, np.linalg.inv(info), fit_stats["loglik"], 0, True)
            low, high, pval = profile_intervals(X, y, ml, w_arr, conf_level, penalty=False)
            table["conf_low"], table["conf_high"], table["p_value"] = low, high, pval
            ratio = table["ratio"].notna()
            table.loc[ratio, "ratio_low"] = np.exp(low[ratio.to_numpy()])
            table.loc[ratio, "ratio_high"] = np.exp(high[ratio.to_numpy()])
            variance += "; profile-likelihood intervals and LR p-values"
    if use_firth:
        low, high, pval = profile_intervals(X, y, ff, w_arr, conf_level)
        table["conf_low"], table["conf_high"], table["p_value"] = low, high, pval
        ratio = table["ratio"].notna()
        table.loc[ratio, "ratio_low"] = np.exp(low[ratio.to_numpy()])
        table.loc[ratio, "ratio_high"] = np.exp(high[ratio.to_numpy()])
    return ModelResult(
        model="firth_logistic" if use_firth else model,
        outcome=outcome,
        table=table,
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=len(y),
        events=int(y.sum()),
        ratio_name="odds ratio",
        variance=variance,
        details={"weighted": w is not None},
        notes=tuple(notes),
        e_value_kind="or",
        outcome_rare=bool(y.mean() < 0.15),
        fit_stats=fit_stats,
    )


def _glm_stats(y, X, beta, w) -> dict[str, float]:
    """Binomial GLM fit statistics as R's ``logLik``, ``deviance``, ``AIC`` and ``BIC`` give them
    (BIC with n = rows of non-zero weight), plus the LR test against the intercept-only model."""
    eta = X @ beta
    ll = float(np.sum(w * (y * eta - np.logaddexp(0, eta))))
    ybar = np.sum(w * y) / np.sum(w)
    ll0 = float(np.sum(w * (y * np.log(ybar) + (1 - y) * np.log1p(-ybar))))
    k = X.shape[1]
    lr = 2 * (ll - ll0)
    return {
        "loglik": ll,
        "loglik_null": ll0,
        "deviance": -2 * ll,
        "null_deviance": -2 * ll0,
        "df_model": k,
        "aic": -2 * ll + 2 * k,
        "bic": -2 * ll + k * np.log(len(y)),
        "lr_test": lr,
        "lr_p": float(stats.chi2.sf(lr, k - 1)) if k > 1 else np.nan,
    }


def _gee(y, X, names, groups, w, family, corstr, model, outcome, time=None):
    """One GEE fit with geepack's estimators (:func:`leadeval.models.gee.gee_core`):
    ``(beta, robust vcov, working correlation, notes)``."""
    from leadeval.models.gee import gee_core

    res, alpha, _, _, notes = gee_core(y, X, groups, w, family, corstr, model, outcome, time)
    return np.asarray(res.params), np.asarray(res.cov_robust), alpha, notes


def fit_gee_prepost(
    data: Any,
    pre: str,
    post: str,
    treatment: str = "treated",
    covariates: Sequence[str] = (),
    weights: str | None = DEFAULT_WEIGHTS,
    id: str = "person_id",
    corstr: str = "exchangeable",
    any_event: bool = False,
    conf_level: float = 0.95,
) -> ModelResult:
    r"""The Seattle recidivism design (Collins, Lonczak & Clifasefi 2017): logistic GEE on
    person x period (pre, post) with the group x period interaction, propensity weights and
    robust (sandwich) SEs clustered by person.

    .. math:: \mathrm{logit}\,P(Y_{it} = 1) = \beta_0 + \beta_1\,\mathrm{treated}_i
              + \beta_2\,\mathrm{post}_t + \beta_3\,\mathrm{treated}_i\,\mathrm{post}_t + \gamma^\top z_i

    :math:`\exp(\beta_3)` (term ``"treated:post"``) is the reported effect: the ratio of the
    post/pre odds ratios of LEAD vs comparison. Weights are per person, repeated on both rows;
    scale and working correlation use geepack's moment estimators (no df correction), so
    estimates match ``geepack::geeglm(y ~ treated * post, id = id, weights = w,
    family = binomial, corstr = ...)``.

    Parameters
    ----------
    pre, post : str
        0/1 outcome columns for the pre and post windows (e.g. ``any_arrest_pre_365d`` and
        ``arrest_post_365d``). With ``any_event=True`` counts are turned into any (> 0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"person_id": range(200), "treated": np.repeat([0, 1], 100),
    ...                   "pre": rng.integers(0, 2, 200), "post": rng.integers(0, 2, 200)})
    >>> int(fit_gee_prepost(d, "pre", "post").term("treated:post")["n"])
    400
    """
    model = "gee_prepost"
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [pre, post, treatment, id] + list(covariates), model)
    notes = list(zero_notes)
    keep = frame[[pre, post]].notna().all(axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} persons with a missing pre or post outcome dropped")
        frame = frame.loc[keep]
    if frame[id].duplicated().any():
        raise ModelError(
            f"{model}: '{id}' is duplicated; give one row per person (person-level data)"
        )
    frame = frame.sort_values(id, kind="stable")
    y_pre = frame[pre].astype(float).to_numpy()
    y_post = frame[post].astype(float).to_numpy()
    if any_event:
        y_pre, y_post = (y_pre > 0).astype(float), (y_post > 0).astype(float)
    w = resolve_weights(frame, weights, model)
    long = pd.concat(
        [frame.assign(_y=y_pre, post=0.0), frame.assign(_y=y_post, post=1.0)], ignore_index=True
    )
    long = long.sort_values([id, "post"], kind="stable").reset_index(drop=True)
    y = binary(long, "_y", model)
    if y.min() == y.max():
        raise ModelError(f"{model}: the outcome is {int(y[0])} in every person-period")
    long["treated:post"] = binary(long, treatment, model) * long["post"]
    X, names = design_matrix(long, [treatment, "post", "treated:post", *covariates], model, True)
    names = [n if n != "treated:post" else f"{treatment}:post" for n in names]
    groups = pd.factorize(long[id], sort=True)[0]
    w_long = None if w is None else resolve_weights(long, weights_column(frame, weights, model), model)
    beta, V, alpha, more = _gee(
        y, X, names, groups, w_long, sm.families.Binomial(), corstr, model, f"{pre}/{post}"
    )
    se = np.sqrt(np.diag(V))
    return ModelResult(
        model=model,
        outcome=f"{pre} -> {post}",
        table=coef_table(names, beta, se, conf_level),
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=len(y),
        events=int(y.sum()),
        ratio_name="odds ratio",
        variance=f"robust sandwich clustered by {id} (GEE, {corstr} working correlation)",
        details={
            "effect_term": f"{treatment}:post",
            "working_correlation": alpha,
            "persons": int(len(frame)),
        },
        notes=tuple(notes + more),
        e_value_kind="or",
        outcome_rare=bool(y.mean() < 0.15),
    )
