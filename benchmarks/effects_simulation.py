"""Simulation study of :func:`leadeval.estimate_effect`: bias, 95% CI coverage and false
positives over synthetic sites with known truth.

Run by hand (not in CI): ``.venv/bin/python benchmarks/effects_simulation.py [sites]`` (default
200 sites with a planted effect and 200 null sites); writes ``benchmarks/effects_simulation.csv``.
About 2 s per site pair (786 s for 200 + 200 on the shared 2-core machine, under load).

Each site (numpy, seeded per site): 1,200 people, prior arrests ``x2 ~ Poisson(2)`` and age-like
``x1 ~ N(0, 1)``; selection into the program ``logit P(T) = -2.2 + 0.4 x1 + 0.6 log1p(x2)``
(about 15% treated, so that 1:1 matching without replacement finds close controls); outcomes given ``x`` (``u`` a gamma frailty with mean 1):

* jail days ``Y(a) ~ Poisson(u exp(1 + 0.3 x1 + 0.25 x2 + a log 0.7))`` (a mean difference),
* any re-arrest ``logit P(Y(a)) = -0.6 + 0.4 x1 + 0.3 x2 + a log 0.6``,
* days to re-arrest ``~ Exp(0.002 exp(0.3 x1 + 0.2 x2 + a log 0.7))``, censored at U(200, 730);
  the RMST at 365 days.

The truth is the conditional expectation of Y(1) - Y(0) averaged over the target (the treated
for matching, ATT; everyone for IPTW, ATE; the RMST over the treated); null sites plant no effect
(truth 0) and count how often the 95% interval excludes 0. The propensity model is the true one
(``x1``, ``log1p(x2)``); the outcome model of g-computation and AIPW uses ``x1, x2`` (correct for
the continuous and binary outcome models' linear predictor).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

import leadeval as le

warnings.simplefilter("ignore")
N = 1200
TAU = 365.0
HERE = Path(__file__).parent


def site(seed: int, null: bool) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0, 1, N)
    x2 = rng.poisson(2, N)
    t = (rng.random(N) < expit(-2.2 + 0.4 * x1 + 0.6 * np.log1p(x2))).astype(int)
    eff = 0.0 if null else 1.0
    u = rng.gamma(2.0, 0.5, N)
    mu0 = np.exp(1 + 0.3 * x1 + 0.25 * x2)
    mu1 = mu0 * np.exp(eff * np.log(0.7))
    days = rng.poisson(u * np.where(t == 1, mu1, mu0))
    p0 = expit(-0.6 + 0.4 * x1 + 0.3 * x2)
    p1 = expit(-0.6 + 0.4 * x1 + 0.3 * x2 + eff * np.log(0.6))
    arrest = (rng.random(N) < np.where(t == 1, p1, p0)).astype(int)
    r0 = 0.002 * np.exp(0.3 * x1 + 0.2 * x2)
    r1 = r0 * np.exp(eff * np.log(0.7))
    ev = rng.exponential(1 / np.where(t == 1, r1, r0))
    cens = rng.uniform(200, 730, N)
    df = pd.DataFrame({
        "person_id": [f"p{i:05d}" for i in range(N)], "treated": t, "x1": x1, "x2": x2,
        "lx2": np.log1p(x2), "jail_days": days, "arrest": arrest,
        "time": np.ceil(np.minimum(ev, cens)), "event": (ev <= cens).astype(int),
    })

    def rmst(r):
        return (1 - np.exp(-r * TAU)) / r

    att, ate = t == 1, np.ones(N, bool)
    truth = {
        ("jail_days", "ATT"): float((mu1 - mu0)[att].mean()),
        ("jail_days", "ATE"): float((mu1 - mu0)[ate].mean()),
        ("arrest", "ATT"): float((p1 - p0)[att].mean()),
        ("arrest", "ATE"): float((p1 - p0)[ate].mean()),
        ("time", "ATT"): float((rmst(r1) - rmst(r0))[att].mean()),
    }
    return df, truth


ESTIMATORS = {  # name -> (design, outcome kwargs)
    "matching, unadjusted": ("nn", {}),
    "matching, g-computation": ("nn", {"covariates": ["x1", "x2"]}),
    "matching with replacement, two-way clustered": ("nn_replace", {}),
    "IPTW, M-estimation": ("iptw", {}),
    "IPTW, robust (svyglm)": ("iptw", {"variance": "cluster"}),
    "IPTW, AIPW": ("iptw", {"covariates": ["x1", "x2"], "method": "aipw"}),
}


def run_site(seed: int, null: bool) -> list[dict]:
    df, truth = site(seed, null)
    spec = {"covariates": ["x1", "lx2"]}
    designs = {
        "nn": le.match(df, spec, warn=False),
        "nn_replace": le.match(df, {**spec, "replace": True}, warn=False),
        "iptw": le.match(df, {**spec, "method": "iptw", "estimand": "ATE"}, warn=False),
    }
    rows = []
    for outcome, kind in (("jail_days", "continuous"), ("arrest", "binary")):
        for name, (design, kw) in ESTIMATORS.items():
            eff = le.estimate_effect(designs[design], outcome, kind=kind, **kw)
            rows.append(_row(seed, null, name, outcome, eff, truth[(outcome, eff.estimand)]))
    eff = le.estimate_effect(designs["nn"], "time", kind="survival", event="event", tau=TAU,
                             replicates=200, seed=seed)
    rows.append(_row(seed, null, "matching, RMST (pair bootstrap)", "time", eff,
                     truth[("time", "ATT")]))
    return rows


def _row(seed, null, name, outcome, eff, truth) -> dict:
    r = eff.term(f"{eff.prefix}_difference")
    return {
        "seed": seed, "null": null, "estimator": name, "outcome": outcome,
        "estimand": eff.estimand, "truth": 0.0 if null else truth,
        "estimate": float(r["estimate"]), "std_error": float(r["std_error"]),
        "conf_low": float(r["conf_low"]), "conf_high": float(r["conf_high"]),
    }


def main(sites: int = 200) -> pd.DataFrame:
    start = time.perf_counter()
    rows = []
    for s in range(sites):
        rows += run_site(s, null=False)
        rows += run_site(100_000 + s, null=True)
    raw = pd.DataFrame(rows)
    raw["covered"] = (raw["conf_low"] <= raw["truth"]) & (raw["truth"] <= raw["conf_high"])
    raw["error"] = raw["estimate"] - raw["truth"]
    summary = (
        raw.groupby(["estimator", "outcome", "null"], sort=False)
        .agg(sites=("seed", "size"), truth=("truth", "mean"), bias=("error", "mean"),
             rel_bias=("error", lambda e: np.nan), emp_se=("estimate", "std"),
             mean_se=("std_error", "mean"), coverage=("covered", "mean"))
        .reset_index()
    )
    summary["rel_bias"] = np.where(summary["null"], np.nan, summary["bias"] / summary["truth"])
    summary["false_positive_rate"] = np.where(summary["null"], 1 - summary["coverage"], np.nan)
    summary.to_csv(HERE / "effects_simulation.csv", index=False, float_format="%.4g")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.round(4).to_string(index=False))
    print(f"{sites} effect + {sites} null sites of {N} people in {time.perf_counter() - start:.0f} s")
    return summary


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
