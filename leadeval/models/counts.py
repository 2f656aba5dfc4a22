"""Counts and rates with at-risk exposure: Poisson and negative binomial (NB2) with a log
exposure offset, the pre/post difference-in-differences (ratio of rate ratios) and annualised
differences ("1.4 fewer bookings per year")."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from leadeval._sm import sm
from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models._data import (
    DEFAULT_WEIGHTS,
    as_frame,
    design_matrix,
    drop_zero_weights,
    numeric,
    require_columns,
    resolve_clusters,
    resolve_weights,
    weights_column,
)
from leadeval.models.binary import cluster_vcov
from leadeval.models.results import ModelResult, coef_table

FAMILIES = ("poisson", "negbin")


def _nb_loglik(y, mu, theta, w):
    return float(
        np.sum(
            w
            * (
                special.gammaln(y + theta)
                - special.gammaln(theta)
                - special.gammaln(y + 1)
                + theta * np.log(theta / (theta + mu))
                + y * np.log(mu / (theta + mu))
            )
        )
    )


def _glm(y, X, offset, w, family):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=family, offset=offset, var_weights=w).fit(maxiter=200, tol=1e-12)
    return res


def _fit_glm_count(y, X, offset, w, family, model, outcome):
    """Poisson GLM, or NB2 with theta by (weighted) maximum likelihood profiled over a GLM fit at
    each theta, which is what ``MASS::glm.nb`` converges to."""
    if family == "poisson":
        res = _glm(y, X, offset, w, sm.families.Poisson())
        return res, None, None
    if family != "negbin":
        raise ModelError(f"{model}: family must be one of {FAMILIES}; got {family!r}")

    def negll(log_theta):
        theta = np.exp(log_theta)
        r = _glm(y, X, offset, w, sm.families.NegativeBinomial(alpha=1 / theta))
        return -_nb_loglik(y, np.asarray(r.fittedvalues), theta, w)

    opt = optimize.minimize_scalar(
        negll, bounds=(np.log(1e-4), np.log(1e5)), method="bounded", options={"xatol": 1e-10}
    )
    theta = float(np.exp(opt.x))
    if theta >= 1e4:
        msg = f"{model} ({outcome}): no overdispersion (theta -> infinity); the Poisson model fits as well"
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    res = _glm(y, X, offset, w, sm.families.NegativeBinomial(alpha=1 / theta))
    # SE of theta from the observed information of the profile (numerical second derivative)
    h = 1e-4 * max(theta, 1.0)
    f = [-_nb_loglik(y, np.asarray(res.fittedvalues), t, w) for t in (theta - h, theta, theta + h)]
    d2 = (f[0] - 2 * f[1] + f[2]) / h**2
    return res, theta, float(1 / np.sqrt(d2)) if d2 > 0 else np.nan


def _exposure(frame, exposure, model):
    e = numeric(frame, exposure, model)
    if (e < 0).any():
        raise ModelError(f"{model}: exposure '{exposure}' is negative in {int((e < 0).sum())} rows")
    return e


def fit_count(
    data: Any,
    outcome: str,
    exposure: str | None = None,
    treatment: str | None = "treated",
    covariates: Sequence[str] = (),
    family: str = "poisson",
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    per: float = 365.0,
    standardise: str = "treated",
    conf_level: float = 0.95,
    interval: str = "wald",
    n_boot: int = 999,
    seed: int = 0,
) -> ModelResult:
    r"""Rate ratio of a count outcome per unit of at-risk exposure.

    .. math:: \log E[Y_i] = \log(e_i / \mathrm{per}) + x_i^\top \beta

    (without ``exposure`` there is no offset: :math:`e_i/\mathrm{per} = 1`, a ratio of mean
    counts per person) with Poisson or NB2 (:math:`\mathrm{Var}\,Y = \mu + \mu^2/\theta`) errors; ``exposure`` in
    days and ``per = 365`` make :math:`\exp(\beta_0)` a rate per person-year. NB2's
    :math:`\theta` is the weighted ML estimate (as ``MASS::glm.nb``). SEs: model-based without
    weights or clusters (matching R's ``glm`` / ``glm.nb``), CR1 cluster-robust otherwise (see
    :func:`leadeval.models.binary.fit_logistic`). Rows with zero exposure (no time at risk, e.g.
    in custody for the whole window) carry no information on a rate and are left out, counted in
    ``notes`` and ``fit_stats["excluded_zero_exposure"]`` (``..._events``: how many of them had
    an event, an infinite rate); the model is never refused for them.

    ``details["annual_rates"]`` standardises (g-computation) over the treated rows (the ATT
    population a matched sample targets; ``standardise="all"`` for the whole sample): the
    weighted mean predicted rate per ``per`` days with treatment set to 1 and to 0, their
    difference, and a delta-method CI (conditional on the covariates). Without covariates these
    are simply the two groups' model rates.

    ``interval="bootstrap"`` replaces the Wald intervals (of the terms and of the annual rate
    difference) by percentile intervals of a cluster (pair) bootstrap: ``n_boot`` resamples of
    whole clusters (matched pairs; rows without a cluster column), the model refitted on each
    (NB2 at the full-sample theta), ``std_error`` the bootstrap SD and p-values Wald with it.
    For heavy-tailed counts such as jail days the CR1 interval undercovers with a few hundred
    pairs (``benchmarks/models_coverage.py``); the bootstrap does not rely on the sandwich's
    large-sample normality. Seeded: the same ``seed`` gives the same interval.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"treated": np.repeat([0, 1], 500), "days": 365})
    >>> d["bookings"] = rng.poisson(np.where(d.treated == 1, 2.0, 3.0))
    >>> fit = fit_count(d, "bookings", "days")
    >>> bool(0.6 < fit.term("treated")["ratio"] < 0.73)
    True
    """
    model = f"count_{family}"
    if interval not in ("wald", "bootstrap"):
        raise ModelError(f"{model}: interval must be 'wald' or 'bootstrap'; got {interval!r}")
    frame = as_frame(data, model)
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [outcome] + ([exposure] if exposure else []), model)
    notes = list(zero_notes)
    if exposure is None:  # no offset: a ratio of mean counts (rates per person)
        frame = frame.assign(_one_unit=float(per))
        exposure = "_one_unit"
    e = _exposure(frame, exposure, model)
    y_all = numeric(frame, outcome, model)
    zero = e == 0
    excluded = {"excluded_zero_exposure": int(zero.sum()), "excluded_zero_exposure_events": 0}
    if zero.any():
        # no time at risk (e.g. in custody for the whole window): no information on a rate, and
        # an event there would be an infinite rate; left out and counted, never a refused model
        with_events = int((zero & (y_all > 0)).sum())
        excluded["excluded_zero_exposure_events"] = with_events
        notes.append(
            f"{int(zero.sum())} rows with zero '{exposure}' left out (no time at risk, e.g. in "
            "custody for the whole window)"
            + (f"; {with_events} of them had '{outcome}' > 0" if with_events else "")
        )
        frame = frame.loc[~zero]
    y = numeric(frame, outcome, model)
    if (y < 0).any() or not np.allclose(y, np.round(y)):
        raise ModelError(f"{model}: '{outcome}' must be a non-negative whole-number count")
    offset = np.log(_exposure(frame, exposure, model) / per)
    terms = ([treatment] if treatment else []) + [c for c in covariates if c != treatment]
    X, names = design_matrix(frame, terms, model, intercept=True)
    if treatment:
        by_group = pd.Series(y).groupby(frame[treatment].to_numpy()).sum()
        if (by_group == 0).any():
            raise ModelError(
                f"{model}: no '{outcome}' events where {treatment} = {list(by_group.index[by_group == 0])}; "
                "the rate ratio is 0 and its log is not estimable. Report the counts and exposure instead"
            )
    w = resolve_weights(frame, weights, model)
    clusters = resolve_clusters(frame, cluster, model)
    if clusters is None and w is not None:
        clusters = np.arange(len(frame))
    w_arr = np.ones(len(y)) if w is None else w
    res, theta, se_theta = _fit_glm_count(y, X, offset, w_arr, family, model, outcome)
    beta = np.asarray(res.params)
    if not res.converged or not np.all(np.isfinite(beta)):
        msg = f"{model} ({outcome}): IRLS did not converge"
        if not np.all(np.isfinite(beta)):
            raise ModelError(msg + " (non-finite estimates)")
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        notes.append(msg)
    mu = np.asarray(res.fittedvalues)
    var_fn = mu if theta is None else mu + mu**2 / theta
    info = (X * (w_arr * mu**2 / var_fn)[:, None]).T @ X
    bread = np.linalg.inv(info)
    if clusters is not None:
        scores = X * (w_arr * (y - mu) * mu / var_fn)[:, None]
        V = cluster_vcov(X, scores, bread, clusters, X.shape[1])
        by = cluster if cluster in frame.columns and not frame[cluster].isna().all() else "row"
        variance = f"cluster-robust by {by} (CR1)"
    else:
        V = bread
        variance = "model-based (inverse information)"
    details: dict[str, Any] = {"family": family, "per_days": per}
    if theta is not None:
        details["theta"] = theta
        details["theta_std_error"] = se_theta
    if treatment:
        if standardise not in ("treated", "all"):
            raise ModelError(
                f"{model}: standardise must be 'treated' or 'all'; got {standardise!r}"
            )
        details["annual_rates"] = _standardised_rates(
            X, names, treatment, beta, V, w_arr, conf_level, standardise
        )
    se = np.sqrt(np.diag(V))
    table = coef_table(names, beta, se, conf_level)
    if interval == "bootstrap":
        boot_clusters = np.arange(len(y)) if clusters is None else clusters
        table, rates = _bootstrap(
            y,
            X,
            offset,
            w_arr,
            family,
            theta,
            boot_clusters,
            names,
            treatment,
            beta,
            conf_level,
            standardise,
            n_boot,
            seed,
            table,
        )
        if treatment:
            details["annual_rates"] = rates
        variance += f"; intervals: cluster bootstrap percentile ({n_boot} resamples, seed {seed})"
    return ModelResult(
        model=model,
        outcome=outcome,
        table=table,
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=len(y),
        events=int(y.sum()),
        ratio_name="rate ratio",
        variance=variance,
        details=details,
        notes=tuple(notes),
        e_value_kind="rate",
        fit_stats={**_count_stats(y, mu, theta, w_arr, X.shape[1]), **excluded},
    )


def _bootstrap(
    y,
    X,
    offset,
    w,
    family,
    theta,
    clusters,
    names,
    treatment,
    beta,
    conf_level,
    standardise,
    n_boot,
    seed,
    table,
):
    """Cluster bootstrap of the coefficients and the standardised annual rate difference: one
    refit per resample (a loop over resamples, not persons), percentile intervals."""
    rng = np.random.default_rng(seed)
    G = int(clusters.max()) + 1
    fam = sm.families.Poisson() if theta is None else sm.families.NegativeBinomial(alpha=1 / theta)
    betas, diffs = [], []
    for _ in range(n_boot):
        mult = np.bincount(rng.integers(0, G, G), minlength=G)[clusters].astype(float)
        keep = mult > 0
        Xb = X[keep]
        arm = Xb[:, names.index(treatment)] == 1 if treatment else None
        if np.linalg.matrix_rank(Xb) < X.shape[1] or (
            treatment and min(y[keep][arm].sum(), y[keep][~arm].sum()) == 0
        ):
            continue  # a resample without one arm's events: not estimable, skipped (counted)
        b = np.asarray(_glm(y[keep], Xb, offset[keep], (w * mult)[keep], fam).params)
        betas.append(b)
        if treatment:
            r = _standardised_rates(
                Xb,
                names,
                treatment,
                b,
                np.zeros((len(b), len(b))),
                (w * mult)[keep],
                conf_level,
                standardise,
            )
            diffs.append(float(r["difference"].iloc[0]))
    B = np.asarray(betas)
    a = (1 - conf_level) / 2
    lo, hi = np.quantile(B, [a, 1 - a], axis=0)
    se = B.std(axis=0, ddof=1)
    out = coef_table(names, beta, se, conf_level)
    out["conf_low"], out["conf_high"] = lo, hi
    ratio = out["ratio"].notna().to_numpy()
    out.loc[ratio, "ratio_low"] = np.exp(lo[ratio])
    out.loc[ratio, "ratio_high"] = np.exp(hi[ratio])
    rates = None
    if treatment:
        Vz = np.zeros((len(beta), len(beta)))
        rates = _standardised_rates(X, names, treatment, beta, Vz, w, conf_level, standardise)
        d = np.asarray(diffs)
        rates["std_error"] = float(d.std(ddof=1))
        rates["conf_low"], rates["conf_high"] = np.quantile(d, [a, 1 - a])
        rates["bootstrap_resamples"] = len(d)
        rates = rates.drop(columns=["se_rate_treated", "se_rate_control"])
    return out, rates


def _count_stats(y, mu, theta, w, k) -> dict[str, float]:
    """Log-likelihood, AIC and BIC as R's ``logLik`` / ``AIC`` / ``BIC`` of ``glm(family =
    poisson)`` and ``MASS::glm.nb`` (theta counts as a parameter) give them."""
    if theta is None:
        ll = float(np.sum(w * stats.poisson.logpmf(y, mu)))
    else:
        ll = float(_nb_loglik(y, mu, theta, w))
        k += 1
    out = {"loglik": ll, "df_model": k, "aic": -2 * ll + 2 * k, "bic": -2 * ll + k * np.log(len(y))}
    if theta is not None:
        out["theta"] = float(theta)
    return out


def _standardised_rates(X, names, treatment, beta, V, w, conf_level, standardise="treated"):
    j = names.index(treatment)
    if standardise == "treated":  # the ATT population of a matched or ATT-weighted sample
        keep = X[:, j] == 1
        X, w = X[keep], w[keep]
    X1, X0 = X.copy(), X.copy()
    X1[:, j], X0[:, j] = 1.0, 0.0
    r1, r0 = np.exp(X1 @ beta), np.exp(X0 @ beta)
    wn = w / w.sum()
    m1, m0 = wn @ r1, wn @ r0
    g1, g0 = (wn * r1) @ X1, (wn * r0) @ X0  # gradients of the mean rates
    gd = g1 - g0
    se = float(np.sqrt(gd @ V @ gd))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    diff = m1 - m0
    return pd.DataFrame(
        [
            {
                "rate_treated": m1,
                "rate_control": m0,
                "difference": diff,
                "std_error": se,
                "conf_low": diff - z * se,
                "conf_high": diff + z * se,
                "se_rate_treated": float(np.sqrt(g1 @ V @ g1)),
                "se_rate_control": float(np.sqrt(g0 @ V @ g0)),
            }
        ]
    )


def fit_count_did(
    data: Any,
    pre: str,
    post: str,
    pre_exposure: str,
    post_exposure: str,
    treatment: str = "treated",
    family: str = "poisson",
    weights: str | None = DEFAULT_WEIGHTS,
    id: str = "person_id",
    cluster: str | None = None,
    per: float = 365.0,
    conf_level: float = 0.95,
) -> ModelResult:
    r"""Pre/post difference-in-differences for counts (Seattle 2019, Santa Fe designs).

    Stacks each person's pre and post windows, :math:`\log E[Y_{it}] = \log(e_{it}/\mathrm{per})
    + \beta_0 + \beta_1\,\mathrm{treated}_i + \beta_2\,\mathrm{post}_t + \beta_3\,\mathrm{treated}_i
    \mathrm{post}_t`, weighted, with CR1 SEs clustered by person (or ``cluster``, e.g. matched
    pair). :math:`\exp(\beta_3)` (``"treated:post"``) is the ratio of rate ratios.
    ``details["did"]`` gives the annualised difference-in-differences of the rates per ``per``
    days, :math:`(r_{T,post} - r_{T,pre}) - (r_{C,post} - r_{C,pre})`, with a delta-method CI:
    e.g. -1.4 means 1.4 fewer bookings per person-year in LEAD relative to the comparison trend.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"person_id": range(400), "treated": np.repeat([0, 1], 200),
    ...                   "e_pre": 365, "e_post": 365})
    >>> d["b_pre"] = rng.poisson(3, 400)
    >>> d["b_post"] = rng.poisson(np.where(d.treated == 1, 1.5, 3))
    >>> fit = fit_count_did(d, "b_pre", "b_post", "e_pre", "e_post")
    >>> bool(-2.2 < fit.details["did"]["difference"].iloc[0] < -0.8)
    True
    """
    model = f"count_did_{family}"
    frame = as_frame(data, model)
    weights = weights_column(frame, weights, model)  # the long frame below is not match()'s
    frame, zero_notes = drop_zero_weights(frame, weights, model)
    require_columns(frame, [pre, post, pre_exposure, post_exposure, treatment, id], model)
    if frame[id].duplicated().any():
        raise ModelError(f"{model}: '{id}' is duplicated; give one row per person")
    a = frame.assign(_y=frame[pre], _e=frame[pre_exposure], post=0.0)
    b = frame.assign(_y=frame[post], _e=frame[post_exposure], post=1.0)
    long = pd.concat([a, b], ignore_index=True).sort_values([id, "post"], kind="stable")
    long["treated:post"] = numeric(long, treatment, model) * long["post"]
    long = long.reset_index(drop=True)
    clus = cluster or id
    fit = fit_count(
        long,
        "_y",
        "_e",
        treatment=treatment,
        covariates=["post", "treated:post"],
        family=family,
        weights=weights,
        cluster=clus,
        per=per,
        conf_level=conf_level,
    )
    names = list(fit.vcov.index)
    beta = fit.params.to_numpy()
    V = fit.vcov.to_numpy()
    # cell rates exp(b0 + b1 T + b2 P + b3 T P) per `per` days and the DiD of the rates
    cells = np.array([[1, 0, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=float)
    order = [names.index(t) for t in ("(Intercept)", treatment, "post", "treated:post")]
    L = np.zeros((4, len(names)))
    L[:, order] = cells
    rates = np.exp(L @ beta)
    # rows: C pre, C post, T pre, T post -> (T post - T pre) - (C post - C pre)
    contrast = np.array([1.0, -1.0, -1.0, 1.0])
    diff = float(contrast @ rates)
    grad = (contrast * rates) @ L
    se = float(np.sqrt(grad @ V @ grad))
    z = stats.norm.ppf(0.5 + conf_level / 2)
    did = pd.DataFrame(
        [
            {
                "rate_control_pre": rates[0],
                "rate_control_post": rates[1],
                "rate_treated_pre": rates[2],
                "rate_treated_post": rates[3],
                "difference": diff,
                "std_error": se,
                "conf_low": diff - z * se,
                "conf_high": diff + z * se,
            }
        ]
    )
    table = fit.table.copy()
    table["term"] = table["term"].replace({"treated:post": f"{treatment}:post"})
    names = [n if n != "treated:post" else f"{treatment}:post" for n in names]
    return ModelResult(
        model=model,
        outcome=f"{pre} -> {post}",
        table=table,
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=fit.n,
        events=fit.events,
        ratio_name="rate ratio",
        variance=fit.variance.replace("_y", pre),
        details={
            **{k: v for k, v in fit.details.items() if k != "annual_rates"},
            "did": did,
            "effect_term": f"{treatment}:post",
        },
        notes=tuple(zero_notes) + fit.notes,
        e_value_kind="rate",
    )
