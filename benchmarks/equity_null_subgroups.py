"""Null calibration of the equity analyses over repeated synthetic sites (not run in CI).

For each seed, a Seattle-profile site with *no* planted subgroup effect and *no* planted referral
disparity (the generator's defaults) goes through cohort -> 1:1 nearest matching -> subgroup
effects (:func:`leadeval.equity.subgroup_effects`, matched within subgroup) and access
(:func:`leadeval.equity.equity_of_access`). Under the null, the interaction tests should reject at
about the nominal 5%, and the adjusted referral odds ratios of the race/ethnicity and sex groups
should exclude 1 about 5% of the time (race and sex play no part in the generator's referral).

    .venv/bin/python benchmarks/equity_null_subgroups.py --seeds 40 --participants 300 --pool 2000

Prints the rejection rates with a binomial 95% interval, and writes the p-values to
``benchmarks/equity_null_subgroups.csv`` unless ``--no-csv``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

import leadeval as le
from leadeval.config import DesignConfig, EquityConfig, MatchingConfig
from leadeval.equity import equity_of_access, subgroup_effects, subgroup_samples
from leadeval.extracts import Extracts
from leadeval.synth import generate_site

OUTCOMES = ["arrest_post_182d", "arrest_post_365d"]
SUBGROUPS = ["race_ethnicity", "sex", "area", "referral_type"]


def one_seed(seed: int, n_participants: int, n_pool: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    site = generate_site("seattle", n_participants=n_participants, n_pool=n_pool, seed=seed)
    frames = {}
    for name, frame in site.extracts.items():
        frame = frame.copy()
        if "month" in frame.columns:
            frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
        frames[name] = frame
    ex = Extracts.from_frames(frames, data_end_date=site.data_end_date)
    cohort = le.build_cohort(ex, DesignConfig(pre_windows=[365, 730], post_windows=[182, 365]))
    persons = cohort.persons.assign(log_arrests_pre_365d=np.log1p(cohort.persons["arrests_pre_365d"]))
    spec = MatchingConfig(
        covariates=["log_arrests_pre_365d", "age_at_index", "months_unsheltered_pre_365d"],
        categorical=["area"], caliper=0.2,
    )
    matched = le.match(persons, spec, warn=False)
    samples = subgroup_samples(persons, matched, spec, SUBGROUPS)
    het = subgroup_effects(matched.data, OUTCOMES, SUBGROUPS, samples=samples)
    inter = het.interactions.assign(seed=seed)
    acc = equity_of_access(persons, EquityConfig(by=["race_ethnicity", "sex"], over_time="none"))
    adj = acc.adjusted[acc.adjusted["level"] != acc.adjusted["reference"]].assign(seed=seed)
    return inter, adj


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--participants", type=int, default=300)
    ap.add_argument("--pool", type=int, default=2000)
    ap.add_argument("--no-csv", action="store_true")
    args = ap.parse_args()
    inters, adjs = [], []
    t0 = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        i, a = one_seed(seed, args.participants, args.pool)
        inters.append(i)
        adjs.append(a)
        print(f"seed {seed}: {time.perf_counter() - t0:.0f}s", flush=True)
    inter = pd.concat(inters, ignore_index=True)
    adj = pd.concat(adjs, ignore_index=True)
    p = inter["interaction_p"].dropna()
    rej = int((p < 0.05).sum())
    lo, hi = proportion_confint(rej, len(p), method="wilson")
    print(f"\nInteraction tests (no subgroup effect planted): {rej}/{len(p)} with p < 0.05 = "
          f"{rej / len(p):.3f} (95% CI {lo:.3f}-{hi:.3f}); nominal 0.05")
    by_var = inter.assign(reject=inter["interaction_p"] < 0.05).groupby("variable")["reject"]
    print(by_var.agg(["mean", "size"]).round(3).to_string())
    excl = (adj["adj_or_low"] > 1) | (adj["adj_or_high"] < 1)
    ok = adj["adj_or_low"].notna()
    e, n = int(excl[ok].sum()), int(ok.sum())
    lo, hi = proportion_confint(e, n, method="wilson")
    print(f"\nAdjusted referral odds ratios (no disparity planted) excluding 1: {e}/{n} = "
          f"{e / n:.3f} (95% CI {lo:.3f}-{hi:.3f}); nominal 0.05")
    print(f"total {time.perf_counter() - t0:.0f}s")
    if not args.no_csv:
        out = Path(__file__).with_suffix(".csv")
        inter.to_csv(out, index=False, lineterminator="\n")
        adj.to_csv(out.with_name("equity_null_access.csv"), index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
