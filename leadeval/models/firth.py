"""Firth's penalised-likelihood logistic regression (Firth 1993; Heinze & Schemper 2002).

statsmodels has no Firth fit. Maximises :math:`\\ell(\\beta) + \\tfrac12 \\log|I(\\beta)|` with
:math:`I = X^\\top W X`, :math:`W = \\mathrm{diag}(w_i p_i (1 - p_i))`, by Newton steps on the
modified score :math:`U^*(\\beta) = X^\\top\\{w \\circ (y - p) + h \\circ (1/2 - p)\\}`, where
:math:`h` is the diagonal of the hat matrix :math:`W^{1/2} X I^{-1} X^\\top W^{1/2}`, with step
halving on the penalised log-likelihood (logistf's algorithm). Estimates are finite under
separation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


@dataclass(frozen=True)
class FirthFit:
    params: np.ndarray
    cov: np.ndarray
    loglik_penalised: float
    iterations: int
    converged: bool


def _penalised(X, y, w, beta, penalty=True):
    eta = X @ beta
    p = expit(eta)
    info = (X * (w * p * (1 - p))[:, None]).T @ X
    ll = np.sum(w * (y * eta - np.logaddexp(0, eta)))
    if not penalty:
        return ll, p, info
    sign, logdet = np.linalg.slogdet(info)
    return ll + 0.5 * logdet if sign > 0 else -np.inf, p, info


def firth_logistic(X, y, w=None, max_iter=100, tol=1e-10) -> FirthFit:
    """Fit Firth logistic regression; ``X`` includes the intercept column.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(8), [0, 0, 0, 0, 1, 1, 1, 1]])
    >>> y = np.array([0, 0, 0, 1, 1, 1, 1, 1.0])  # x = 1 always has the event: separation
    >>> fit = firth_logistic(X, y)
    >>> bool(round(fit.params[1], 4) == round(np.log(4.5 * 3.5 / (0.5 * 1.5)), 4))
    True
    """
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    beta = np.zeros(X.shape[1])
    pl, p, info = _penalised(X, y, w, beta)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported after the loop)
        inv = np.linalg.inv(info)
        sw = np.sqrt(w * p * (1 - p))
        Z = X * sw[:, None]
        h = np.einsum("ij,jk,ik->i", Z, inv, Z)
        score = X.T @ (w * (y - p) + h * (0.5 - p))
        step = inv @ score
        step_max = np.max(np.abs(step))
        if step_max > 5:  # logistf's maxstep
            step *= 5 / step_max
        for _ in range(30):
            new_pl, new_p, new_info = _penalised(X, y, w, beta + step)
            if new_pl >= pl - 1e-12:
                break
            step /= 2
        beta = beta + step
        change = new_pl - pl
        pl, p, info = new_pl, new_p, new_info
        if np.max(np.abs(step)) < 1e-9 and abs(change) < tol * max(1.0, abs(pl)):
            converged = True
            break
    return FirthFit(beta, np.linalg.inv(info), float(pl), it, converged)


def _profile(X, y, w, j, bj, start, max_iter=100, penalty=True):
    """max over beta_{-j} of the (penalised) log-likelihood with beta_j fixed at bj (logistf's
    profile: the penalty keeps the full-model information)."""
    beta = start.copy()
    beta[j] = bj
    free = np.arange(X.shape[1]) != j
    pl, p, info = _penalised(X, y, w, beta, penalty)
    for _ in range(max_iter):
        score = X.T @ (w * (y - p))
        if penalty:
            sw = np.sqrt(w * p * (1 - p))
            Z = X * sw[:, None]
            h = np.einsum("ij,jk,ik->i", Z, np.linalg.inv(info), Z)
            score = score + X.T @ (h * (0.5 - p))
        step = np.zeros_like(beta)
        step[free] = np.linalg.solve(info[np.ix_(free, free)], score[free])
        step_max = np.max(np.abs(step))
        if step_max > 5:
            step *= 5 / step_max
        for _ in range(30):
            new_pl, new_p, new_info = _penalised(X, y, w, beta + step, penalty)
            if new_pl >= pl - 1e-12:
                break
            step /= 2
        beta = beta + step
        change = new_pl - pl
        pl, p, info = new_pl, new_p, new_info
        if np.max(np.abs(step)) < 1e-9 and abs(change) < 1e-12 * max(1.0, abs(pl)):
            break
    return pl, beta


def profile_intervals(X, y, fit: FirthFit, w=None, conf_level=0.95, penalty=True):
    """Profile penalised-likelihood confidence intervals and penalised likelihood-ratio p-values
    for every coefficient (Heinze & Schemper 2002; logistf's defaults): the limits solve
    :math:`2\\{\\ell^*(\\hat\\beta) - \\ell^*_{prof}(\\beta_j)\\} = \\chi^2_{1, conf}`.

    ``penalty=False`` profiles the ordinary log-likelihood instead (``fit`` then holds the ML
    estimate and its log-likelihood): the profile-likelihood intervals of ``MASS::confint(glm)``,
    solved exactly rather than from MASS's spline through a grid of profile points.

    Returns arrays ``(low, high, p_value)``.
    """
    from scipy import optimize, stats

    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    crit = stats.chi2.ppf(conf_level, 1)
    se = np.sqrt(np.diag(fit.cov))
    low, high, pval = [], [], []
    for j in range(X.shape[1]):

        def dev(bj, j=j):
            prof = _profile(X, y, w, j, bj, fit.params, penalty=penalty)[0]
            return 2 * (fit.loglik_penalised - prof) - crit

        limits = []
        for sign in (-1, 1):
            step = max(se[j], 0.1)
            b = fit.params[j] + sign * step
            for _ in range(60):
                if dev(b) > 0:
                    break
                step *= 2
                b = fit.params[j] + sign * step
            lo, hi = sorted((fit.params[j], b))
            limits.append(optimize.brentq(dev, lo, hi, xtol=1e-10) if dev(b) > 0 else np.inf * sign)
        low.append(limits[0])
        high.append(limits[1])
        lr = 2 * (fit.loglik_penalised - _profile(X, y, w, j, 0.0, fit.params, penalty=penalty)[0])
        pval.append(float(stats.chi2.sf(max(lr, 0.0), 1)))
    return np.array(low), np.array(high), np.array(pval)
