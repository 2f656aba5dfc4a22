"""Calibration of planted effects: from a published marginal effect to per-person parameters.

All functions are pure and vectorised over participants.

Odds-ratio targets
------------------
Person i has baseline probability :math:`p_{0i}` of an event in a window (from its Y(0) hazard).
A common conditional odds ratio :math:`c` maps it to
:math:`p_{1i} = c\\,o_{0i} / (1 + c\\,o_{0i})`, :math:`o_{0i} = p_{0i}/(1-p_{0i})`. Because odds ratios
are not collapsible, :math:`c` is solved so the *marginal* odds ratio among participants,
:math:`\\mathrm{odds}(\\bar p_1)/\\mathrm{odds}(\\bar p_0)`, equals the target. The treated hazard on
the window is then :math:`-\\log(1-p_{1i})` spread over its days.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import optimize, special, stats

_EPS = 1e-12


def or_transform(p0: np.ndarray, c: float) -> np.ndarray:
    """Apply a conditional odds ratio ``c`` to probabilities ``p0``.

    >>> round(float(or_transform(np.array([0.5]), 0.4)[0]), 6)
    0.285714
    """
    p0 = np.clip(p0, _EPS, 1 - _EPS)
    o1 = c * p0 / (1 - p0)
    return o1 / (1 + o1)


def marginal_odds_ratio(p1: np.ndarray, p0: np.ndarray) -> float:
    """odds(mean p1) / odds(mean p0)."""
    m1 = float(np.clip(np.mean(p1), _EPS, 1 - _EPS))
    m0 = float(np.clip(np.mean(p0), _EPS, 1 - _EPS))
    return (m1 / (1 - m1)) / (m0 / (1 - m0))


def solve_ratio(
    target: float, achieved: Callable[[float], float], lo: float = 1e-6, hi: float = 1e3
) -> float:
    """Find x in [lo, hi] with achieved(x) == target (achieved increasing in x), on the log scale.
    Returns the bound when the target is out of reach."""
    def f(log_x: float) -> float:
        return np.log(achieved(np.exp(log_x))) - np.log(target)

    a, b = np.log(lo), np.log(hi)
    fa, fb = f(a), f(b)
    if fa >= 0:
        return lo
    if fb <= 0:
        return hi
    return float(np.exp(optimize.brentq(f, a, b, xtol=1e-12, rtol=1e-12)))


def calibrate_odds_ratio(
    p0: np.ndarray, target: float, realise: Callable[[np.ndarray], np.ndarray] | None = None
) -> tuple[float, np.ndarray]:
    """Conditional odds ratio ``c`` whose realised probabilities reach a marginal OR ``target``.

    ``realise(p1)`` maps the transformed probabilities to what is actually achievable (e.g. after
    clipping a hazard at zero); identity by default. Returns ``(c, realised p1)``.

    >>> p0 = np.linspace(0.1, 0.9, 9)
    >>> c, p1 = calibrate_odds_ratio(p0, 0.4)
    >>> round(marginal_odds_ratio(p1, p0), 6)
    0.4
    """
    realise = realise or (lambda p: p)

    def achieved(c: float) -> float:
        return marginal_odds_ratio(realise(or_transform(p0, c)), p0)

    c = solve_ratio(target, achieved)
    return c, realise(or_transform(p0, c))


def neg_log1m(p: np.ndarray) -> np.ndarray:
    """-log(1 - p): the cumulative hazard giving probability p of at least one event."""
    return -np.log1p(-np.clip(p, 0, 1 - _EPS))


def arrest_multipliers(
    lam: np.ndarray,
    followup: np.ndarray,
    felony_share: float,
    felony_charge_prob: float,
    arrest_or_182: float | None,
    arrest_or_all: float | None,
    felony_charge_or_all: float | None,
    rr_first: float,
    rr_after: float,
) -> dict[str, np.ndarray | float | None]:
    """Per-participant hazard multipliers of the felony and non-felony arrest processes in the
    two post segments (days 1-182, day 183 to follow-up end).

    Order: (a) the felony charge target fixes a constant felony multiplier; (b) the 182-day any-
    arrest target fixes the non-felony multiplier in segment 1 (the remaining hazard, clipped at
    0); (c) the whole-follow-up target fixes segment 2 likewise. Without a felony target, both
    processes share the multipliers. ``lam`` is the daily Y(0) arrest rate, ``followup`` days.
    """
    lam = np.asarray(lam, float)
    F = np.asarray(followup, float)
    n = lam.size
    lf, ln = lam * felony_share, lam * (1 - felony_share)
    d1 = np.minimum(F, 182.0)
    d2 = np.maximum(F - 182.0, 0.0)
    out: dict[str, np.ndarray | float | None] = {}
    fixed_felony = felony_charge_or_all is not None
    if fixed_felony:
        p0f = 1 - np.exp(-felony_charge_prob * lf * F)
        c_f, p1f = calibrate_odds_ratio(p0f, felony_charge_or_all)
        mf = np.where(p0f > _EPS, neg_log1m(p1f) / np.maximum(neg_log1m(p0f), _EPS), c_f)
        mf1 = mf2 = mf
        out["c_felony_charge"] = c_f
    else:
        out["c_felony_charge"] = None

    # segment 1
    if arrest_or_182 is not None:
        complete = F >= 182
        p0 = 1 - np.exp(-lam * d1)
        felony_cum = mf1 * lf * d1 if fixed_felony else 0.0

        def realise1(p1: np.ndarray) -> np.ndarray:
            cum = neg_log1m(p1)
            if fixed_felony:
                cum = np.maximum(cum - felony_cum, 0.0) + felony_cum
            return 1 - np.exp(-cum)

        sel = complete if complete.any() else np.ones(n, bool)
        c1, _ = calibrate_odds_ratio(p0[sel], arrest_or_182, realise=_masked(realise1, sel))
        cum1 = neg_log1m(realise1(or_transform(p0, c1)))
        if fixed_felony:
            mn1 = np.where(d1 > 0, (cum1 - felony_cum) / np.maximum(ln * d1, _EPS), 1.0)
        else:
            mf1 = mn1 = np.where(d1 > 0, cum1 / np.maximum(lam * d1, _EPS), 1.0)
        out["c_arrest_182"] = c1
    else:
        mn1 = np.full(n, rr_first)
        if not fixed_felony:
            mf1 = mn1
        out["c_arrest_182"] = None
    cum_seg1 = mf1 * lf * d1 + mn1 * ln * d1

    # segment 2
    if arrest_or_all is not None:
        p0 = 1 - np.exp(-lam * F)
        felony2 = mf2 * lf * d2 if fixed_felony else 0.0

        def realise2(p1: np.ndarray, idx: np.ndarray | slice = slice(None)) -> np.ndarray:
            rest = neg_log1m(p1) - cum_seg1[idx] - (felony2[idx] if fixed_felony else 0.0)
            rest = np.where(d2[idx] > 0, np.maximum(rest, 0.0), 0.0)
            return 1 - np.exp(-(cum_seg1[idx] + (felony2[idx] if fixed_felony else 0.0) + rest))

        c2, _ = calibrate_odds_ratio(p0, arrest_or_all, realise=realise2)
        cum_all = neg_log1m(realise2(or_transform(p0, c2)))
        rest = cum_all - cum_seg1 - (felony2 if fixed_felony else 0.0)
        if fixed_felony:
            mn2 = np.where(d2 > 0, rest / np.maximum(ln * d2, _EPS), mn1)
        else:
            mf2 = mn2 = np.where(d2 > 0, rest / np.maximum(lam * d2, _EPS), mn1)
        out["c_arrest_all"] = c2
    else:
        mn2 = np.full(n, rr_after)
        if not fixed_felony:
            mf2 = mn2
        out["c_arrest_all"] = None
    out.update(
        felony_1=np.broadcast_to(mf1, n).copy(),
        felony_2=np.broadcast_to(mf2, n).copy(),
        other_1=np.broadcast_to(mn1, n).copy(),
        other_2=np.broadcast_to(mn2, n).copy(),
    )
    return out


def _masked(fn: Callable[[np.ndarray], np.ndarray], sel: np.ndarray) -> Callable:
    """Apply a full-length realise function to a subset of persons."""

    def inner(p1_sub: np.ndarray) -> np.ndarray:
        full = np.full(sel.size, 0.5)
        full[sel] = p1_sub
        return fn(full)[sel]

    return inner


def prison_ratio(
    base_cum0: np.ndarray, base_cum1: np.ndarray, target: float, common: np.ndarray | float = 0.0
) -> float:
    """Ratio k of the post-index prison probability so that, with per-person expected prison
    admissions ``common + base_cum0`` (Y(0)) and ``common + k * base_cum1`` (Y(1)), the marginal
    OR of any prison admission equals ``target`` (``common``: admissions both arms share)."""
    p0 = 1 - np.exp(-(common + base_cum0))

    def achieved(k: float) -> float:
        return marginal_odds_ratio(1 - np.exp(-(common + k * base_cum1)), p0)

    return solve_ratio(target, achieved, lo=1e-8, hi=1e3)


def latent_shift(
    location: np.ndarray, scale: np.ndarray, threshold: float, baseline: np.ndarray, target: float
) -> float:
    """Shift d of a normal latent so that P(location + d + noise >= threshold) averaged over
    person-months has odds ``target`` times the odds of the baseline proportion ``baseline``
    (0/1 per person). ``location`` and ``scale`` are person-month arrays."""
    m0 = float(np.clip(np.mean(baseline), 1e-6, 1 - 1e-6))
    o0 = m0 / (1 - m0)

    def f(d: float) -> float:
        m1 = float(np.mean(stats.norm.sf((threshold - location - d) / scale)))
        m1 = min(max(m1, 1e-9), 1 - 1e-9)
        return np.log(m1 / (1 - m1) / o0) - np.log(target)

    return float(optimize.brentq(f, -15.0, 15.0, xtol=1e-10))


def logit_to_latent(log_or: float, noise_sd: float) -> float:
    """Approximate latent (probit-type) shift equal to a conditional log odds ratio: a logistic
    is close to a normal with sd 1.7 (Amemiya's factor)."""
    return float(log_or / 1.7 * noise_sd)


def program_cost_structure(
    enrolled: np.ndarray,
    avg_cost: float,
    late_cost: float,
    late_month: int,
    eval_months: int,
    variable_cost: float,
) -> tuple[float, float]:
    """Fixed monthly cost F and total start-up cost S so that, with enrolled participant-months
    ``enrolled[k-1]`` in program month k, spending_k = F + v * enrolled_k (+ start-up), and

    * cost per participant-month in month ``late_month`` = (F + v N) / N = ``late_cost``,
    * average over months 1..eval_months = sum(spending) / sum(N) = ``avg_cost``.
    """
    n_late = float(enrolled[late_month - 1])
    if n_late <= 0:
        raise ValueError("no participant enrolled in the late cost month")
    fixed = (late_cost - variable_cost) * n_late
    total_n = float(enrolled[:eval_months].sum())
    startup = avg_cost * total_n - fixed * eval_months - variable_cost * total_n
    return fixed, max(startup, 0.0)


def expit(x: np.ndarray) -> np.ndarray:
    return special.expit(x)
