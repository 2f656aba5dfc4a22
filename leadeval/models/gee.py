"""A general GEE entry point with geepack's estimators (exchangeable, independence, AR(1)).

statsmodels' ``GEE`` does the fitting. Its AR(1) estimator is not geepack's (a lag-1 moment
ratio or a weighted least-squares fit, and it ignores weights), so :class:`GeepackAR1` replaces
the update of the correlation with geepack's second estimating equation (Yan & Fine 2004): with
standardised Pearson residuals :math:`z_{ij} = r_{ij}/\\sqrt\\phi` and
:math:`\\rho_{jk} = \\alpha^{|t_j - t_k|}` over *all* pairs j < k within a cluster,

.. math:: \\sum_i \\sum_{j<k} w_{ij} w_{ik}\\,|t_j - t_k|\\,\\alpha^{|t_j-t_k|-1}
          (z_{ij} z_{ik} - \\alpha^{|t_j-t_k|}) = 0,
          \\qquad \\phi = \\frac{\\sum w\\,r^2}{\\sum w},

solved for :math:`\\alpha` at every GEE iteration (vectorised over the pairs). The fixed point is
geepack's, so estimates and SEs match ``geeglm(..., corstr = "ar1", waves = time)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.optimize import brentq
from statsmodels.genmod.cov_struct import Autoregressive

from leadeval.errors import ModelError
from leadeval.models._data import (
    as_frame,
    design_matrix,
    drop_zero_weights,
    numeric,
    require_columns,
)
from leadeval.models.results import ModelResult, coef_table

FAMILIES = {
    "binomial": (sm.families.Binomial, "odds ratio", "or"),
    "poisson": (sm.families.Poisson, "rate ratio", "rate"),
    "gaussian": (sm.families.Gaussian, "", "rr"),
}
CORSTRS = ("exchangeable", "independence", "ar1")


class GeepackAR1(Autoregressive):
    """AR(1) working correlation estimated as geepack does (module docstring)."""

    def __init__(self):
        super().__init__(grid=False)

    def _pairs_index(self):
        m = self.model
        sizes = np.array([len(e) for e in m.endog_li])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        rows_a, rows_b = [], []
        for size in np.unique(sizes):  # one vectorised block per cluster size, not per person
            if size < 2:
                continue
            j1, j2 = np.triu_indices(size, 1)
            off = offsets[sizes == size]
            rows_a.append((off[:, None] + j1[None, :]).ravel())
            rows_b.append((off[:, None] + j2[None, :]).ravel())
        a = np.concatenate(rows_a) if rows_a else np.zeros(0, int)
        b = np.concatenate(rows_b) if rows_b else np.zeros(0, int)
        t = np.concatenate([ti[:, 0] for ti in m.time_li]).astype(float)
        return a, b, np.abs(t[a] - t[b])

    def update(self, params):
        m = self.model
        if not hasattr(self, "_pairs"):
            self._pairs = self._pairs_index()
        ia, ib, dist = self._pairs
        mu = np.concatenate([c[0] for c in m.cached_means])
        y = np.concatenate(m.endog_li)
        w = np.ones(len(y)) if m.weights is None else np.concatenate(m.weights_li)
        r = (y - mu) / np.sqrt(m.family.variance(mu))
        phi = np.sum(w * r**2) / np.sum(w)
        keep = dist > 0
        z, d, wp = (r[ia] * r[ib] / phi)[keep], dist[keep], (w[ia] * w[ib])[keep]
        if not len(z):
            self.dep_params = 0.0
            return

        def score(a):
            return float(np.sum(wp * d * a ** (d - 1) * (z - a**d)))

        lo, hi = -0.999999, 0.999999
        if score(lo) * score(hi) > 0:  # no sign change: the boundary it heads to
            self.dep_params = hi if score(0.0) > 0 else lo
        else:
            self.dep_params = brentq(score, lo, hi, xtol=1e-14)


def gee_core(y, X, groups, w, family, corstr, model, outcome, time=None):
    """Fit one GEE with geepack's moment estimators; returns the statsmodels result, the
    working correlation, geepack's scale and the naive (model-based) covariance, and notes."""
    import warnings

    from leadeval.errors import ConvergenceWarning

    if corstr not in CORSTRS:
        raise ModelError(f"{model}: corstr must be one of {list(CORSTRS)}; got {corstr!r}")
    struct = {
        "exchangeable": sm.cov_struct.Exchangeable,
        "independence": sm.cov_struct.Independence,
        "ar1": GeepackAR1,
    }[corstr]()
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gee = sm.GEE(y, X, groups=groups, time=time, family=family, cov_struct=struct, weights=w)
        # ddof_scale = 0 matches geepack's moment estimators of the scale and correlation
        res = gee.fit(maxiter=200, cov_type="robust", ddof_scale=0)
    beta = np.asarray(res.params)
    nonconv = [c for c in caught if "converge" in str(c.message).lower()]
    if nonconv or not np.all(np.isfinite(beta)) or not np.all(np.isfinite(res.bse)):
        msg = (
            f"{model} ({outcome}): GEE did not converge "
            f"({nonconv[0].message if nonconv else 'non-finite estimates'})"
        )
        if not np.all(np.isfinite(beta)):
            raise ModelError(
                msg + "; check for separation (an outcome that never or always occurs)"
            )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        notes.append(msg)
    alpha = 0.0 if corstr == "independence" else float(np.atleast_1d(struct.dep_params)[0])
    mu = np.asarray(res.fittedvalues)
    ww = np.ones(len(y)) if w is None else w
    phi = float(np.sum(ww * (y - mu) ** 2 / family.variance(mu)) / np.sum(ww))
    naive = np.asarray(res.cov_naive) / float(res.scale) * phi
    return res, alpha, phi, naive, notes


def fit_gee(
    data: Any,
    outcome: str,
    covariates: Sequence[str],
    id: str = "person_id",
    family: str = "binomial",
    corstr: str = "exchangeable",
    time: str | None = None,
    weights: str | None = None,
    conf_level: float = 0.95,
) -> ModelResult:
    r"""Generalized estimating equations for repeated measures, any design.

    .. math:: g(E[Y_{ij}]) = x_{ij}^\top\beta, \qquad
              \mathrm{Corr}(Y_{ij}, Y_{ik}) = R_{jk}(\alpha)

    with a logit (``family="binomial"``), log (``"poisson"``) or identity (``"gaussian"``) link;
    working correlation ``"exchangeable"``, ``"independence"`` or ``"ar1"``
    (:math:`\alpha^{|t_j - t_k|}` with t the ``time`` column, default the row order within the
    cluster). Robust (sandwich) SEs clustered by ``id``; the naive (model-based) SEs are in
    ``details["naive_std_error"]``, the scale and working correlation in ``fit_stats``.
    Estimates match ``geepack::geeglm(y ~ x, id = id, waves = time, weights = w, family,
    corstr)``. Categorical covariates (strings) become dummies. Weights are used only when
    named (``weights="weights"`` for matching weights, repeated on every row of a person).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"person_id": np.repeat(range(200), 4), "month": np.tile(range(4), 200),
    ...                   "arm": np.repeat(rng.choice(["lead", "pool"], 200), 4)})
    >>> d["y"] = (rng.uniform(size=800) < 0.3 + 0.05 * d.month).astype(int)
    >>> fit = fit_gee(d, "y", ["arm", "month"], corstr="ar1", time="month")
    >>> list(fit.table.term)
    ['(Intercept)', 'arm=pool', 'month']
    """
    model = "gee"
    if family not in FAMILIES:
        raise ModelError(f"{model}: family must be one of {list(FAMILIES)}; got {family!r}")
    frame = as_frame(data, model)
    frame, notes = drop_zero_weights(frame, weights, model) if weights else (frame, [])
    require_columns(frame, [outcome, id, *covariates] + ([time] if time else []), model)
    notes = list(notes)
    missing = frame[outcome].isna()
    if missing.any():
        notes.append(f"{int(missing.sum())} rows with missing '{outcome}' dropped")
        frame = frame.loc[~missing]
    if frame[id].isna().any():
        raise ModelError(f"{model}: cluster column '{id}' has missing values")
    order = [id] + ([time] if time else [])
    frame = frame.sort_values(order, kind="stable")
    y = numeric(frame, outcome, model)
    if family == "binomial" and not np.isin(y, (0.0, 1.0)).all():
        raise ModelError(f"{model}: outcome '{outcome}' must be 0/1 for family='binomial'")
    if family == "poisson" and (y < 0).any():
        raise ModelError(f"{model}: outcome '{outcome}' must be >= 0 for family='poisson'")
    X, names = design_matrix(frame, list(covariates), model, intercept=True)
    groups = pd.factorize(frame[id], sort=True)[0]
    t = numeric(frame, time, model) if time else frame.groupby(id, sort=False).cumcount().to_numpy()
    w = numeric(frame, weights, model) if weights else None
    fam, ratio_name, ev_kind = FAMILIES[family]
    res, alpha, phi, naive, more = gee_core(
        y, X, groups, w, fam(), corstr, model, outcome, time=t.astype(float)
    )
    V = np.asarray(res.cov_robust)
    table = coef_table(
        names,
        np.asarray(res.params),
        np.sqrt(np.diag(V)),
        conf_level,
        exponentiate=family != "gaussian",
    )
    return ModelResult(
        model=f"gee_{family}",
        outcome=outcome,
        table=table,
        vcov=pd.DataFrame(V, index=names, columns=names),
        n=len(y),
        events=int(y.sum()) if family == "binomial" else None,
        ratio_name=ratio_name,
        variance=f"robust sandwich clustered by {id} (GEE, {corstr} working correlation)",
        details={"naive_std_error": pd.Series(np.sqrt(np.diag(naive)), index=names)},
        notes=tuple(notes + more),
        e_value_kind=ev_kind,
        outcome_rare=bool(family == "binomial" and y.mean() < 0.15),
        fit_stats={
            "scale": phi,
            "working_correlation": alpha,
            "clusters": int(groups.max() + 1),
            "persons": int(groups.max() + 1),
        },
    )
