"""Simulation study of leadeval.models' main estimators: bias and 95% CI coverage over seeds.

Run by hand (not in CI): ``.venv/bin/python benchmarks/models_coverage.py [reps]``.
Each scenario plants a known effect with numpy (seeded per replicate) and checks how often the
95% CI covers it; the target is 93-97% for 200+ replicates (Monte Carlo SE ~1.5%). The jail-days
scenarios (issue 13) compare the Poisson and NB2 CR1 intervals with the pair bootstrap
(``fit_count(..., interval="bootstrap")``) for the rate ratio and the annual difference of a
heavy-tailed count. ``models_coverage.py [reps] [names,...]`` runs a subset and writes
``models_coverage.csv``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from leadeval.models import (
    fit_count,
    fit_count_did,
    fit_cox,
    fit_gee_prepost,
    fit_logistic,
    fit_within_person_rate,
)

warnings.simplefilter("ignore")


def cox(rng):
    """1:1 pairs, HR 0.6, uniform censoring, cluster-robust by pair."""
    pairs = 300
    treated = np.tile([1, 0], pairs)
    t = rng.exponential(1 / (0.002 * np.exp(np.log(0.6) * treated)))
    c = rng.uniform(200, 730, 2 * pairs)
    d = pd.DataFrame(
        {
            "treated": treated,
            "subclass": np.repeat(np.arange(pairs), 2),
            "days": np.ceil(np.minimum(t, c)),
            "event": (t <= c).astype(int),
        }
    )
    return fit_cox(d, "days", "event").term("treated"), np.log(0.6)


def logistic(rng):
    """Pairs exactly matched on x; conditional OR 0.4 given x; cluster-robust CR1 by pair."""
    pairs = 300
    x = np.repeat(rng.normal(size=pairs), 2)
    treated = np.tile([1, 0], pairs)
    p = 1 / (1 + np.exp(-(-0.3 + np.log(0.4) * treated + 0.8 * x)))
    d = pd.DataFrame(
        {
            "treated": treated,
            "x": x,
            "subclass": np.repeat(np.arange(pairs), 2),
            "weights": 1.0,
            "y": (rng.uniform(size=2 * pairs) < p).astype(int),
        }
    )
    return fit_logistic(d, "y", covariates=["x"]).term("treated"), np.log(0.4)


def gee_prepost(rng):
    """Marginal cell probabilities with a treated x post OR of 0.40; correlated pre/post."""
    n = 600
    treated = rng.integers(0, 2, n)
    lg = {(0, 0): 0.2, (0, 1): 0.1, (1, 0): 0.4}
    lg[(1, 1)] = lg[(1, 0)] + lg[(0, 1)] - lg[(0, 0)] + np.log(0.40)
    lp_pre = np.where(treated == 1, lg[(1, 0)], lg[(0, 0)])
    lp_post = np.where(treated == 1, lg[(1, 1)], lg[(0, 1)])
    u = rng.uniform(size=n)
    v = np.where(rng.uniform(size=n) < 0.5, u, rng.uniform(size=n))
    d = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "pre": (u < 1 / (1 + np.exp(-lp_pre))).astype(int),
            "post": (v < 1 / (1 + np.exp(-lp_post))).astype(int),
            "weights": np.where(treated == 1, 1.0, rng.uniform(0.5, 1.5, n)),
        }
    )
    return fit_gee_prepost(d, "pre", "post").term("treated:post"), np.log(0.40)


def negbin(rng):
    """NB2 counts (theta 1.5) with exposure 90-365 days, rate ratio 0.7."""
    n = 500
    tr = rng.integers(0, 2, n)
    e = rng.integers(90, 366, n)
    mu = e / 365 * 2.0 * np.exp(np.log(0.7) * tr)
    y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu))
    d = pd.DataFrame({"treated": tr, "days": e, "y": y})
    return fit_count(d, "y", "days", family="negbin").term("treated"), np.log(0.7)


def count_did(rng):
    """Pre/post Poisson-gamma counts, ratio of rate ratios 0.55, cluster by person."""
    n = 600
    treated = np.tile([1, 0], n // 2)
    frail = rng.gamma(2.0, 0.5, n)
    e_pre, e_post = rng.integers(200, 366, n), rng.integers(150, 366, n)
    d = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "e_pre": e_pre,
            "e_post": e_post,
            "b_pre": rng.poisson(3.0 * frail * e_pre / 365),
            "b_post": rng.poisson(np.where(treated == 1, 1.65, 3.0) * frail * e_post / 365),
        }
    )
    return fit_count_did(d, "b_pre", "b_post", "e_pre", "e_post").term("treated:post"), np.log(0.55)


def within_person(rng):
    """Person-months, rate halves after first contact, gamma frailty."""
    n = 150
    months = np.r_[-12:0, 1:13]
    p = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), len(months)),
            "month_offset": np.tile(months, n),
            "days_observed": 30,
        }
    )
    frail = np.repeat(rng.gamma(2.0, 0.5, n), len(months))
    p["arrests"] = rng.poisson(0.2 * frail * np.where(p["month_offset"] > 0, 0.5, 1.0))
    return fit_within_person_rate(p).term("post"), np.log(0.5)


JAIL_PAIRS = 300
JAIL_RR = 0.6
# length of stay: geometric, mean 10 days, with 5% long stays of mean 100 days: E[LOS] = 14.5
JAIL_MEAN_LOS = 0.95 * 10 + 0.05 * 100
JAIL_BOOKINGS = 1.5  # bookings per person-year without the program (gamma frailty, mean 1)
JAIL_DIFF = JAIL_BOOKINGS * JAIL_MEAN_LOS * (JAIL_RR - 1)  # jail days per person-year


def _jail_days(rng):
    """Matched pairs; jail days = sum of heavy-tailed stays over Poisson-gamma bookings
    (frailty shape 0.5), bookings and so jail days x 0.6 under the program; 365 days each."""
    n = 2 * JAIL_PAIRS
    treated = np.tile([1, 0], JAIL_PAIRS)
    frail = rng.gamma(0.5, 2.0, n)
    k = rng.poisson(JAIL_BOOKINGS * frail * np.where(treated == 1, JAIL_RR, 1.0))
    long = rng.uniform(size=k.sum()) < 0.05
    los = np.where(long, rng.geometric(0.01, k.sum()), rng.geometric(0.1, k.sum()))
    days = np.bincount(np.repeat(np.arange(n), k), weights=los, minlength=n)
    return pd.DataFrame(
        {
            "treated": treated,
            "subclass": np.repeat(np.arange(JAIL_PAIRS), 2),
            "weights": 1.0,
            "jail_days": days,
            "days": 365,
        }
    )


_JAIL_FITS: dict = {}  # the rr and diff scenarios of one estimator share each replicate's fit


def _jail(family, interval, what):
    def scenario(rng):
        kw = {"n_boot": 99, "seed": 1} if interval == "bootstrap" else {}
        d = _jail_days(rng)
        key = (family, interval, d["jail_days"].to_numpy().tobytes())
        if key not in _JAIL_FITS:
            _JAIL_FITS[key] = fit_count(
                d, "jail_days", "days", family=family, interval=interval, **kw
            )
        fit = _JAIL_FITS[key]
        if what == "rr":
            return fit.term("treated"), np.log(JAIL_RR)
        return fit.details["annual_rates"].iloc[0].rename({"difference": "estimate"}), JAIL_DIFF

    scenario.__doc__ = f"jail days, {family}, {interval} interval, {what}"
    return scenario


SCENARIOS = {
    "cox_hr": cox,
    "logistic_or": logistic,
    "gee_prepost_or": gee_prepost,
    "negbin_rr": negbin,
    "count_did_rrr": count_did,
    "within_person_rr": within_person,
    "jail_days_rr_poisson_cr1": _jail("poisson", "wald", "rr"),
    "jail_days_rr_negbin_cr1": _jail("negbin", "wald", "rr"),
    "jail_days_rr_negbin_pair_bootstrap": _jail("negbin", "bootstrap", "rr"),
    "jail_days_diff_poisson_cr1": _jail("poisson", "wald", "diff"),
    "jail_days_diff_negbin_cr1": _jail("negbin", "wald", "diff"),
    "jail_days_diff_negbin_pair_bootstrap": _jail("negbin", "bootstrap", "diff"),
}


def main(reps: int = 200, only: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for name, fn in SCENARIOS.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        est, cover, se = [], [], []
        for seed in range(reps):
            row, truth = fn(np.random.default_rng([2024, seed]))
            est.append(row["estimate"])
            se.append(row["std_error"])
            cover.append(row["conf_low"] < truth < row["conf_high"])
        est = np.asarray(est)
        rows.append(
            {
                "estimator": name,
                "truth": truth,
                "mean_estimate": est.mean(),
                "bias": est.mean() - truth,
                "empirical_sd": est.std(ddof=1),
                "mean_se": np.mean(se),
                "coverage_95": np.mean(cover),
                "reps": reps,
                "seconds": time.perf_counter() - start,
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1), flush=True)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    # models_coverage.py [reps] [scenario,scenario,...]; writes models_coverage.csv
    only = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    out = main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, only)
    print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    out.to_csv(Path(__file__).with_suffix(".csv"), index=False, float_format="%.6g")
