"""Designs on the person-month panel: within-subject descriptions and the comparison-group
contrast.

- Clifasefi, Lonczak & Collins (2017): repeated-measures logistic GEE of a monthly 0/1 outcome
  (sheltered, permanent housing, employed, legitimate income) on month vs the baseline month and
  on case-manager contacts (:func:`fit_panel_gee`). A *description* of change, not an effect:
  people referred while homeless become housed over time anyway (regression to the mean,
  secular change).
- :func:`fit_panel_contrast`: LEAD vs the matched comparison over the same months (group x
  month GEE), the effect where a comparison group exists.
- Longmont (city review, ~2020): within-person rate ratio of arrests after vs before first contact
  and the per-contact dose-response, from a conditional (person fixed-effects) Poisson model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadeval._sm import sm
from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models._data import as_frame, binary, check_rank, numeric, require_columns
from leadeval.models.binary import _gee, cluster_vcov
from leadeval.models.results import ModelResult, coef_table


def fit_panel_gee(
    panel: Any,
    outcome: str,
    month: str = "month_offset",
    baseline_month: int = -1,
    months: tuple[int, int] | None = (-1, 18),
    contacts: str | None = None,
    covariates: Sequence[str] = (),
    by_month: bool = True,
    id: str = "person_id",
    corstr: str = "exchangeable",
    conf_level: float = 0.95,
) -> ModelResult:
    r"""Repeated-measures logistic GEE on person-months (Clifasefi et al. 2017 design).

    .. math:: \mathrm{logit}\,P(Y_{im}=1) = \beta_0 + \sum_{m \ne b} \beta_m 1[\text{month} = m]
              + \gamma\,c_{im}

    with b the baseline month (default -1, the month before referral), :math:`c_{im}` an optional
    contacts column (e.g. ``contacts`` in the month, so :math:`\exp\gamma` is the odds ratio per
    case-manager contact), robust SEs clustered by person and an exchangeable working
    correlation (geepack's moment estimators). Terms are ``month=m`` (odds vs baseline) and the
    contacts column. ``covariates`` adds other numeric (time-varying) columns. ``by_month=False``
    replaces the month dummies by one ``followup`` indicator (any month after baseline vs
    baseline).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> p = pd.DataFrame({"person_id": np.repeat(range(150), 4), "month_offset": np.tile([-1, 1, 2, 3], 150)})
    >>> p["sheltered"] = (rng.uniform(size=600) < np.where(p.month_offset < 0, 0.3, 0.5)).astype(int)
    >>> fit = fit_panel_gee(p, "sheltered", months=None)
    >>> [t for t in fit.table.term]
    ['(Intercept)', 'month=1', 'month=2', 'month=3']
    """
    model = "panel_gee"
    frame = as_frame(panel, model)
    extra = ([contacts] if contacts else []) + [c for c in covariates if c != contacts]
    require_columns(frame, [outcome, month, id] + extra, model)
    frame = frame.dropna(subset=[outcome])
    if months is not None:
        frame = frame[(frame[month] >= months[0]) & (frame[month] <= months[1])]
    m = numeric(frame, month, model).astype(int)
    if not (m == baseline_month).any():
        raise ModelError(
            f"{model}: no rows in the baseline month {month} = {baseline_month}; choose a month "
            "that is in the panel (the panel range is design.panel_months)"
        )
    frame = frame.assign(_m=m).sort_values([id, "_m"], kind="stable")
    y = binary(frame, outcome, model)
    m = frame["_m"].to_numpy()
    if by_month:
        levels = sorted(set(m.tolist()) - {baseline_month})
        X = np.column_stack([np.ones(len(m))] + [(m == lv).astype(float) for lv in levels])
        names = ["(Intercept)"] + [f"month={lv}" for lv in levels]
    else:
        X = np.column_stack([np.ones(len(m)), (m > baseline_month).astype(float)])
        names = ["(Intercept)", "followup"]
    for c in extra:
        X = np.column_stack([X, numeric(frame, c, model)])
        names.append(c)
    check_rank(X, names, model)
    empty = [n for n, col in zip(names[1:], X[:, 1:].T, strict=True) if col.sum() == 0]
    if empty:
        raise ModelError(f"{model}: no rows for {empty}; restrict `months` to months in the panel")
    groups = pd.factorize(frame[id], sort=True)[0]
    beta, V, alpha, notes = _gee(
        y, X, names, groups, None, sm.families.Binomial(), corstr, model, outcome, time=m
    )
    return ModelResult(
        model=model,
        outcome=outcome,
        table=coef_table(names, beta, np.sqrt(np.diag(V)), conf_level),
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=len(y),
        events=int(y.sum()),
        ratio_name="odds ratio",
        variance=f"robust sandwich clustered by {id} (GEE, {corstr})",
        details={
            "working_correlation": alpha,
            "persons": int(frame[id].nunique()),
            "baseline_month": baseline_month,
        },
        notes=tuple(notes),
        e_value_kind="or",
        outcome_rare=bool(y.mean() < 0.15),
    )


def _conditional_poisson(y, X, offset, groups, max_iter=100):
    """Poisson with a fixed effect per group via the conditional (multinomial) likelihood:
    identical slopes to a Poisson GLM with group dummies, without estimating the dummies."""
    G = groups.max() + 1
    beta = np.zeros(X.shape[1])
    ll_old = -np.inf
    converged = False
    for _ in range(max_iter):
        eta = X @ beta + offset
        eta = (
            eta
            - np.bincount(groups, weights=eta, minlength=G)[groups] / np.bincount(groups)[groups]
        )
        e = np.exp(eta)
        tot = np.bincount(groups, weights=e, minlength=G)
        ny = np.bincount(groups, weights=y, minlength=G)
        pi = e / tot[groups]
        xbar = np.column_stack(
            [np.bincount(groups, weights=pi * X[:, j], minlength=G) for j in range(X.shape[1])]
        )
        xc = X - xbar[groups]
        score = xc.T @ (y - ny[groups] * pi)
        info = (xc * (ny[groups] * pi)[:, None]).T @ xc
        ll = float(np.sum(y * np.log(np.where(pi > 0, pi, 1))))
        step = np.linalg.solve(info, score)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10 and abs(ll - ll_old) < 1e-10:
            converged = True
            break
        ll_old = ll
    scores = xc * (y - ny[groups] * pi)[:, None]
    return beta, info, scores, converged


def fit_within_person_rate(
    panel: Any,
    outcome: str = "arrests",
    exposure: str = "days_observed",
    month: str = "month_offset",
    contacts: str | None = None,
    covariates: Sequence[str] = (),
    id: str = "person_id",
    exclude_index_month: bool = True,
    per: float = 365.0,
    conf_level: float = 0.95,
) -> ModelResult:
    r"""Within-person rate ratio before vs after the index date (Longmont design, index = first
    case-manager contact) and, with ``contacts``, the per-contact dose-response.

    Conditional Poisson (person fixed effects) on person-months:

    .. math:: \log E[Y_{im}] = \alpha_i + \log(e_{im}/\mathrm{per}) + \beta\,1[m > 0]
              + \gamma\,c_{im}

    The person effects :math:`\alpha_i` absorb everything stable about a person, so
    :math:`\exp\beta` compares each person with themself. Robust (CR1) SEs by person protect
    against overdispersion and serial correlation. ``contacts`` is a time-varying count (e.g.
    ``cumulative_contacts``; :math:`\exp\gamma` is the rate ratio per contact). ``covariates``
    adds other time-varying 0/1 or numeric columns, e.g. ``sheltered`` and ``employed`` for the
    Clifasefi et al. (2017) finding that housing and employment months had fewer arrests. The index month
    mixes pre and post days and is dropped by default. Persons with no events carry no
    information and drop out of the conditional likelihood.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> p = pd.DataFrame({"person_id": np.repeat(range(300), 24),
    ...                   "month_offset": np.tile(np.r_[-12:0, 1:13], 300), "days_observed": 30})
    >>> p["arrests"] = rng.poisson(np.where(p.month_offset > 0, 0.05, 0.1) * rng.gamma(2, 0.5, 300).repeat(24))
    >>> bool(0.35 < fit_within_person_rate(p).term("post")["ratio"] < 0.7)
    True
    """
    model = "within_person_rate"
    frame = as_frame(panel, model)
    extra = ([contacts] if contacts else []) + [c for c in covariates if c != contacts]
    require_columns(frame, [outcome, exposure, month, id] + extra, model)
    m = numeric(frame, month, model)
    if exclude_index_month:
        frame, m = frame.loc[m != 0], m[m != 0]
    e = numeric(frame, exposure, model)
    keep = e > 0
    frame, m, e = frame.loc[keep], m[keep], e[keep]
    y = numeric(frame, outcome, model)
    post = (m > 0).astype(float)
    if post.min() == post.max():
        raise ModelError(
            f"{model}: all rows are {'after' if post[0] else 'before'} the index month; need both"
        )
    X, names = [post], ["post"]
    for c in extra:
        X.append(numeric(frame, c, model))
        names.append(c)
    X = np.column_stack(X)
    check_rank(X, names, model)
    groups = pd.factorize(frame[id], sort=True)[0]
    ny = np.bincount(groups, weights=y)
    informative = ny[groups] > 0
    if not informative.any():
        raise ModelError(f"{model}: no '{outcome}' events at all; nothing to estimate")
    g2 = pd.factorize(groups[informative])[0]
    beta, info, scores, converged = _conditional_poisson(
        y[informative], X[informative], np.log(e[informative] / per), g2
    )
    notes = []
    if not converged or not np.all(np.isfinite(beta)):
        msg = f"{model} ({outcome}): conditional Poisson did not converge"
        if not np.all(np.isfinite(beta)):
            raise ModelError(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        notes.append(msg)
    bread = np.linalg.inv(info)
    V = cluster_vcov(X[informative], scores, bread, g2, X.shape[1])
    return ModelResult(
        model=model,
        outcome=outcome,
        table=coef_table(names, beta, np.sqrt(np.diag(V)), conf_level, ratio_terms=names),
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=int(informative.sum()),
        events=int(y.sum()),
        ratio_name="rate ratio",
        variance=f"cluster-robust by {id} (CR1), conditional Poisson (person fixed effects)",
        details={
            "persons": int(g2.max() + 1),
            "persons_without_events": int((ny == 0).sum()),
            "model_based_std_error": pd.Series(np.sqrt(np.diag(bread)), index=names),
        },
        notes=tuple(notes),
        e_value_kind="rate",
    )


def fit_panel_contrast(
    panel: Any,
    outcome: str,
    matched: Any = None,
    group: str = "treated",
    month: str = "month_offset",
    baseline_month: int = -1,
    months: tuple[int, int] | None = (-1, 18),
    contrast_month: int = 12,
    weights: str | None = "weights",
    id: str = "person_id",
    corstr: str = "exchangeable",
    conf_level: float = 0.95,
) -> ModelResult:
    r"""LEAD vs the matched comparison over the same months: group x month logistic GEE on the
    person-month panel of both arms, weighted by the matching weights, robust SEs by person.

    .. math:: \mathrm{logit}\,P(Y_{im}=1) = \beta_0 + \sum_{m \ne b} \alpha_m 1[m]
              + \gamma\,G_i + \sum_{m \ne b} \delta_m\,G_i 1[m]

    Terms: ``month=m`` (comparison arm's change vs the baseline month b), ``treated`` (the arms'
    log odds ratio in the baseline month, ~0 after matching on it), ``treated:month=m`` (the
    difference in change, a difference in differences), and the derived contrasts
    ``treated@month=m`` = :math:`\gamma + \delta_m`, the log odds ratio between the matched arms
    in month m with its delta-method SE. The headline (``details["effect_term"]``) is
    ``treated@month={contrast_month}``: both arms were selected at an eligible event and matched
    on the pre-period, so regression to the mean and secular change move them alike and this
    contrast, unlike the within-person odds ratio of :func:`fit_panel_gee`, is an effect.

    ``matched`` (a MatchedSample or a person-level frame with ``id``, ``group`` and ``weights``)
    restricts the panel to the matched persons and supplies their weights; persons with weight 0
    are left out. Without it the panel's own ``group`` column is used, unweighted.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(4)
    >>> n = 400
    >>> p = pd.DataFrame({"person_id": np.repeat(range(n), 4), "month_offset": np.tile([-1, 1, 6, 12], n),
    ...                   "treated": np.repeat(np.arange(n) % 2, 4)})
    >>> p["sheltered"] = (rng.uniform(size=4 * n) < np.where(p.month_offset < 0, 0.2, 0.4)).astype(int)
    >>> fit = fit_panel_contrast(p, "sheltered", months=None)
    >>> fit.details["effect_term"]
    'treated@month=12'
    """
    model = "panel_contrast"
    frame = as_frame(panel, model)
    require_columns(frame, [outcome, month, id], model)
    notes: list[str] = []
    if matched is not None:
        persons = getattr(matched, "data", matched)
        require_columns(persons, [id, group], model)
        cols = [id, group] + ([weights] if weights and weights in persons.columns else [])
        persons = persons[cols].drop_duplicates(id)
        if len(cols) == 3:
            dropped = int((persons[weights] <= 0).sum())
            persons = persons[persons[weights] > 0]
            if dropped:
                notes.append(f"{dropped} persons with zero weight left out")
        frame = frame.drop(columns=[c for c in cols[1:] if c in frame.columns]).merge(
            persons, on=id, how="inner"
        )
        if frame.empty:
            raise ModelError(f"{model}: no panel rows for the matched persons; check '{id}'")
    require_columns(frame, [group], model)
    frame = frame.dropna(subset=[outcome])
    if months is not None:
        frame = frame[(frame[month] >= months[0]) & (frame[month] <= months[1])]
    frame = frame.assign(_m=numeric(frame, month, model).astype(int)).sort_values(
        [id, "_m"], kind="stable"
    )
    m = frame["_m"].to_numpy()
    g = binary(frame, group, model)
    if g.min() == g.max():
        raise ModelError(
            f"{model}: '{group}' is {int(g[0])} in every panel row; the contrast needs both arms "
            "(a within-person design has no comparison group: use fit_panel_gee, a description)"
        )
    levels = sorted(set(m.tolist()) - {baseline_month})
    if not (m == baseline_month).any() or contrast_month not in levels:
        raise ModelError(
            f"{model}: the panel needs the baseline month {baseline_month} and the contrast month "
            f"{contrast_month}; months present: {sorted(set(m.tolist()))[:30]}"
        )
    y = binary(frame, outcome, model)
    D = np.column_stack([(m == lv).astype(float) for lv in levels])
    X = np.column_stack([np.ones(len(m)), D, g, D * g[:, None]])
    names = (
        ["(Intercept)"]
        + [f"month={lv}" for lv in levels]
        + [group]
        + [f"{group}:month={lv}" for lv in levels]
    )
    check_rank(X, names, model)
    w = numeric(frame, weights, model) if weights and weights in frame.columns else None
    groups = pd.factorize(frame[id], sort=True)[0]
    beta, V, alpha, more = _gee(
        y, X, names, groups, w, sm.families.Binomial(), corstr, model, outcome, time=m
    )
    # between-arm contrasts by month: gamma (+ delta_m)
    k = len(levels)
    L = np.zeros((k + 1, len(names)))
    L[:, 1 + k] = 1.0
    L[1:, 2 + k :] = np.eye(k)
    c_names = [f"{group}@month={baseline_month}"] + [f"{group}@month={lv}" for lv in levels]
    est = np.r_[beta, L @ beta]
    full_V = np.block([[V, V @ L.T], [L @ V, L @ V @ L.T]])
    all_names = names + c_names
    persons_n = frame.groupby(group)[id].nunique()
    return ModelResult(
        model=model,
        outcome=outcome,
        table=coef_table(all_names, est, np.sqrt(np.diag(full_V)), conf_level),
        vcov=pd.DataFrame(full_V, index=all_names, columns=all_names),
        n=len(y),
        events=int(y.sum()),
        ratio_name="odds ratio",
        variance=f"robust sandwich clustered by {id} (GEE, {corstr})"
        + (", matching weights" if w is not None else ""),
        details={
            "effect_term": f"{group}@month={contrast_month}",
            "baseline_month": baseline_month,
            "working_correlation": alpha,
        },
        notes=tuple(notes + more),
        e_value_kind="or",
        outcome_rare=bool(y.mean() < 0.15),
        fit_stats={
            "persons": int(groups.max() + 1),
            "persons_treated": int(persons_n.get(1, 0)),
            "persons_comparison": int(persons_n.get(0, 0)),
            "working_correlation": alpha,
        },
    )
