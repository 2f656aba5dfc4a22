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

Exchangeable and independence fits run :func:`_exchangeable_fit`, our own copy of statsmodels'
iteration vectorised over clusters: statsmodels solves each cluster in a Python loop at every
iteration (about 8 s per monthly outcome on a 22,000-row person-month panel, minutes on a
county's); the copy takes the same steps with the closed-form inverse of the exchangeable matrix
and gives the same numbers to about 1e-13 (tests/test_fast_fits.py). AR(1), and any fit that copy
cannot finish, stay on statsmodels.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from statsmodels.genmod.cov_struct import Autoregressive

from leadeval._sm import sm
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


@dataclass(frozen=True)
class _Fit:
    """What callers read of a GEE fit (the fields of statsmodels' GEEResults they use)."""

    params: np.ndarray
    cov_robust: np.ndarray
    cov_naive: np.ndarray
    fittedvalues: np.ndarray
    scale: float = 1.0

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_robust))


def _glm_start(y, X, w, family, maxiter=100, tol=1e-12):
    """The GLM fit with frequency weights ``w`` that statsmodels starts the GEE iteration from,
    by IRLS on the normal equations (statsmodels' GLM spends its time in SVDs); None when it does
    not converge (the caller then asks statsmodels)."""
    link = family.link
    mu = family.starting_mu(y)
    eta = link(mu)
    beta = None
    for _ in range(maxiter):
        d = link.inverse_deriv(eta)
        W = w * d**2 / family.variance(mu)
        z = eta + (y - mu) / d
        XW = X * W[:, None]
        try:
            new = np.linalg.solve(XW.T @ X, XW.T @ z)
        except np.linalg.LinAlgError:
            return None
        if not np.all(np.isfinite(new)):
            return None
        if beta is not None and np.max(np.abs(new - beta)) < tol * (1 + np.max(np.abs(new))):
            return new
        beta = new
        eta = X @ beta
        mu = link.inverse(eta)
    return None


def _exchangeable_fit(y, X, groups, w, family, corstr, maxiter=200, ctol=1e-6):
    """statsmodels' GEE iteration (``GEE.fit(cov_type="robust", ddof_scale=0)``) for the
    exchangeable and independence structures, vectorised over clusters (statsmodels loops over
    them in Python: seconds per fit on a person-month panel). Same start (the GLM fit with
    ``freq_weights``), the same Fisher-scoring steps, stopping rule, correlation update
    (including statsmodels' use of ``weights[i]`` as cluster i's weight) and sandwich, with the
    closed-form inverse :math:`R^{-1} = \\frac{1}{1-a}(I - \\frac{a}{1 + (k-1)a}\\mathbf{1}\\mathbf{1}^\\top)`;
    so the estimates equal statsmodels' to rounding. Returns None when statsmodels should fit
    instead (no convergence, a singular step), so its warnings are the ones users see."""
    from scipy import sparse

    n = len(y)
    codes, g = np.unique(groups, return_inverse=True)
    G = len(codes)
    S = sparse.csr_matrix((np.ones(n), (g, np.arange(n))), shape=(G, n))
    k = np.bincount(g, minlength=G).astype(float)
    ww = np.ones(n) if w is None else np.asarray(w, float)
    link = family.link
    exch = corstr == "exchangeable"
    f = ww[:G] if w is not None else np.ones(G)  # statsmodels' Exchangeable.update reads weights[i]
    npr = 0.5 * k * (k - 1)
    beta = _glm_start(y, X, ww, family)
    if beta is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            beta = np.asarray(sm.GLM(y, X, family=family, freq_weights=w).fit().params, float)

    def parts(beta, a):
        lpr = X @ beta
        mu = link.inverse(lpr)
        sd = np.sqrt(family.variance(mu))
        E = X * (link.inverse_deriv(lpr) / sd)[:, None]  # dmat / sd
        U = E * ww[:, None]
        r = (y - mu) * ww / sd
        c = a / (1.0 - a) / (1.0 + a * (k - 1)) if exch else np.zeros(G)
        return mu, sd, E, U, r, c, 1.0 / (1.0 - a)

    def assoc(mu, sd):
        if not exch:
            return 0.0
        z = (y - mu) / sd
        ssr = S @ (z * z)
        scale = np.sum(f * ssr) / np.sum(f * k)
        resid_pairs = np.sum(f * ((S @ z) ** 2 - ssr) / 2) / scale
        return float(resid_pairs / np.sum(f * npr))

    a = 0.0
    converged = False
    for it in range(maxiter):
        mu, sd, E, U, r, c, inv = parts(beta, a)
        Es = S @ E
        bmat = inv * (E.T @ U) - Es.T @ (c[:, None] * (S @ U))
        score = inv * (E.T @ r) - Es.T @ (c * (S @ r))
        try:
            step = np.linalg.solve(bmat, score)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.sqrt(np.sum(score**2)) < ctol and it > 0:  # after one correlation update
            converged = True
            break
        mu = link.inverse(X @ beta)
        a = assoc(mu, np.sqrt(family.variance(mu)))
    if not converged or not np.all(np.isfinite(beta)):
        return None
    mu, sd, E, U, r, c, inv = parts(beta, a)
    Es = S @ E
    bmat = inv * (E.T @ U) - Es.T @ (c[:, None] * (S @ U))
    s = inv * (S @ (E * r[:, None])) - c[:, None] * Es * (S @ r)[:, None]
    bmati = np.linalg.inv(bmat)
    robust = bmati @ (s.T @ s) @ bmati
    return _Fit(beta, robust, bmati, mu), a


def gee_core(y, X, groups, w, family, corstr, model, outcome, time=None):
    """Fit one GEE with geepack's moment estimators; returns the fit (statsmodels' result, or
    :func:`_exchangeable_fit`'s, equal to it), the working correlation, geepack's scale and the
    naive (model-based) covariance, and notes."""
    from leadeval.errors import ConvergenceWarning

    if corstr not in CORSTRS:
        raise ModelError(f"{model}: corstr must be one of {list(CORSTRS)}; got {corstr!r}")
    fast = _exchangeable_fit(y, X, groups, w, family, corstr) if corstr != "ar1" else None
    if fast is not None and np.all(np.isfinite(fast[0].bse)):
        res, alpha = fast
        mu = res.fittedvalues
        ww = np.ones(len(y)) if w is None else w
        phi = float(np.sum(ww * (y - mu) ** 2 / family.variance(mu)) / np.sum(ww))
        return res, alpha, phi, res.cov_naive * phi, []
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
