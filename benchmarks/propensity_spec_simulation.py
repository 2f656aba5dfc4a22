"""Simulation study of the propensity specification (issue 13): prior-history counts entered
linearly (the old default) vs ``log1p`` (the new default) vs natural splines, over synthetic
sites from leadeval's own generator with known truth.

Run by hand (not in CI): ``.venv/bin/python benchmarks/propensity_spec_simulation.py [sites]
[workers]`` (default 200 sites, half with the Seattle profile's planted effects and half null,
2 worker processes); writes ``benchmarks/propensity_spec_simulation.csv`` (one row per site and
specification) and ``benchmarks/propensity_spec_simulation_summary.csv``. 840 s for 200 sites
on the shared 2-core machine under load (about 2 CPU-seconds a site); figures and reading in
``benchmarks/propensity_spec_simulation.md``. A specification whose score fails (perfect
separation of the splines score in 15 of 200 sites) is a row with its ``error``, counted in the
summary's ``failed``.

Each site: ``generate_site`` (Seattle profile, 300 participants, 3,000 pool members) ->
``Extracts.from_frames`` -> ``build_cohort`` (ten sites per call, ids prefixed by site: see
``_cohort``) -> ``match`` (the shipped Seattle matching
section: nearest neighbour 1:1 on the logit score, caliper 0.2, the same covariates) with one of
three score specifications -> ``fit_logistic`` (6-month arrest, CR1 by pair) and ``fit_cox``
(time to first arrest, robust by pair), as ``evaluate()`` runs them.

Selection (``Profile.sel_*``) is strengthened through the profile options, not by editing the
shipped profile: see ``SELECTION``. Referral then depends on log(1 + arrests in the 365 days
before) with coefficient 2.0 (shipped 0.9), so a linear count misses visibly.

Truth (ATT, over all participants; compare like with like):

* 6-month arrest OR: the marginal odds ratio among participants with a complete window,
  odds(mean p1) / odds(mean p0), from the truth table's expected probabilities
  ``p_arrest_post_182d_y0/_y1`` (what the generator calibrates to the target 0.40).
* Cox HR for time to first arrest: the truth table's ``hazard_ratio_*`` columns are *conditional*
  per-person hazard multipliers (they vary by person and by segment, days 1-182 and after),
  while the unadjusted Cox model after matching estimates a *marginal* hazard ratio. So the truth
  is the marginal ATT HR: the root of the population Cox score equation over the participants'
  two potential survival curves (Y(0) hazard ``lambda``, Y(1) hazard ``lambda x`` the segment
  multipliers), each participant at risk until their follow-up end, on the daily grid.

Null sites plant no effect (``Effects()``: every ratio 1), so both truths are exactly 1 there and
the false-positive rate is the share of 95% CIs excluding 1.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy.optimize import brentq

import leadeval as le
from leadeval.config import DesignConfig
from leadeval.extracts import Extracts
from leadeval.synth import Effects, generate_site
from leadeval.synth.profiles import PROFILES

HERE = Path(__file__).parent
BATCH = 10  # sites per build_cohort call
N_PARTICIPANTS, N_POOL = 300, 3000
# the shipped Seattle design's windows; only the outcome families the covariates and outcomes
# here read, and a one-month panel (the panel is not used), to keep the cohort step short
FAMILIES = ["arrests", "jail", "prison", "ems", "housing"]
DESIGN = DesignConfig(index_date="referral_date", pre_windows=[30, 182, 365, 730],
                      post_windows=[182], panel_months=(0, 0), outcomes=FAMILIES)
SELECTION = {"sel_prior_arrests": 2.0}  # shipped Seattle: 0.9
PROFILE = dataclasses.replace(PROFILES["seattle"], **SELECTION)
OUTCOME, DURATION, EVENT = "arrest_post_182d", "days_to_arrest", "arrested"
COUNTS = ["arrests_pre_365d", "arrests_pre_730d", "bookings_pre_730d", "jail_days_pre_730d",
          "ems_calls_pre_365d"]
BASE = {
    "method": "nearest",
    "covariates": ["age_at_index", "arrests_pre_365d", "arrests_pre_730d", "bookings_pre_730d",
                   "jail_days_pre_730d", "unsheltered_days_pre_30d",
                   "months_unsheltered_pre_182d", "ems_calls_pre_365d", "prison_pre_730d"],
    "categorical": ["area", "sex"],
    "caliper": 0.2,
    "ratio": 1,
    "balance": {"addl": [f"log1p({c})" for c in COUNTS]},
}
SPECS = {
    "linear": {},
    "log1p": {"log1p": COUNTS},
    "splines": {"splines": {c: 3 for c in COUNTS}},
}
BALANCE_ROWS = ["arrests_pre_365d", "log1p(arrests_pre_365d)", "jail_days_pre_730d",
                "log1p(jail_days_pre_730d)"]

COLUMNS = [
    "seed", "null", "spec", "n_treated_matched",
    *(f"{k}_{c}" for k in ("or", "hr") for c in ("truth", "log_estimate", "std_error", "low", "high")),
    *(f"{s}_{v}" for v in BALANCE_ROWS for s in ("smd", "var_ratio")),
    "error",
]


def _cohort(sites: dict[int, Any]):
    """One ``build_cohort`` over several independent sites, each person id prefixed by its site
    seed: the cohort is person by person, so this is each site's own cohort, built with one
    query compilation (which, not the data, dominates a small site's cohort time)."""
    frames = {}
    for name in ("roster", *FAMILIES):
        parts = []
        for seed, site in sites.items():
            frame = site.extracts[name]
            ids = {c: f"{seed}-" + frame[c].astype(str) for c in frame.columns if c.endswith("_id")}
            parts.append(frame.assign(**ids))
        frames[name] = pd.concat(parts, ignore_index=True)
    (end,) = {site.data_end_date for site in sites.values()}
    extracts = Extracts.from_frames(frames, data_end_date=end,
                                    backend=ibis.duckdb.connect(threads=1))
    persons = le.build_cohort(extracts, DESIGN).persons
    site_of = persons["person_id"].str.split("-", n=1).str[0].astype(int)
    return {seed: persons[site_of == seed].reset_index(drop=True) for seed in sites}


def true_or(truth: pd.DataFrame) -> float:
    """Marginal ATT odds ratio of any arrest in days 1-182 (complete windows), expected scale."""
    p0 = truth["p_arrest_post_182d_y0"].dropna().mean()
    p1 = truth["p_arrest_post_182d_y1"].dropna().mean()
    return float((p1 / (1 - p1)) / (p0 / (1 - p0)))


def true_marginal_hr(truth: pd.DataFrame, felony_share: float) -> float:
    """Marginal ATT hazard ratio of the first post-index arrest: the root b of the population
    Cox score :math:`\\sum_d D_1(d) - D(d) R_1(d) e^b / (R_1(d) e^b + R_0(d))` with
    :math:`R_a(d) = \\sum_i 1\\{F_i \\ge d\\} S_{ia}(d-1)`, :math:`D_a(d) = \\sum_i 1\\{F_i \\ge d\\}
    (S_{ia}(d-1) - S_{ia}(d))` over the participants' potential survival curves."""
    lam = truth["lambda_arrest_per_year"].to_numpy(float) / 365.0
    m1 = (felony_share * truth["hazard_ratio_felony_1"] + (1 - felony_share)
          * truth["hazard_ratio_other_1"]).to_numpy(float)
    m2 = (felony_share * truth["hazard_ratio_felony_2"] + (1 - felony_share)
          * truth["hazard_ratio_other_2"]).to_numpy(float)
    if np.allclose(m1, 1) and np.allclose(m2, 1):
        return 1.0
    F = truth["followup_days"].to_numpy(int)
    d = np.arange(0, F.max() + 1, dtype=float)
    H0 = lam[:, None] * d[None, :]
    H1 = lam[:, None] * (m1[:, None] * np.minimum(d, 182.0) + m2[:, None] * np.maximum(d - 182, 0))
    at = (F[:, None] >= d[None, 1:])
    R, D = [], []
    for H in (H0, H1):
        S = np.exp(-H)
        R.append((S[:, :-1] * at).sum(0))
        D.append(((S[:, :-1] - S[:, 1:]) * at).sum(0))
    (R0, R1), (D0, D1) = R, D

    def score(b: float) -> float:
        return float((D1 - (D0 + D1) * R1 * np.exp(b) / (R1 * np.exp(b) + R0)).sum())

    return float(np.exp(brentq(score, -5.0, 5.0)))


def _balance(matched) -> dict:
    tab = matched.balance().to_frame().set_index("variable")
    out = {}
    for v in BALANCE_ROWS:
        out[f"smd_{v}"] = float(tab.loc[v, "smd_after"])
        out[f"var_ratio_{v}"] = float(tab.loc[v, "var_ratio_after"])
    return out


def run_sites(jobs: list[tuple[int, bool]], n_participants: int = N_PARTICIPANTS,
              n_pool: int = N_POOL) -> list[dict]:
    """Rows (one per site and specification, ``COLUMNS``) of independent synthetic sites, given
    as ``(seed, null)``: estimates, 95% CIs, truths, balance after matching."""
    warnings.simplefilter("ignore")
    sites = {seed: generate_site(PROFILE, n_participants=n_participants, n_pool=n_pool,
                                 seed=seed, effects=Effects() if null else None)
             for seed, null in jobs}
    cohorts = _cohort(sites)
    rows = []
    for seed, null in jobs:
        truth = sites[seed].truth
        truth = {"or": 1.0 if null else true_or(truth),
                 "hr": 1.0 if null else true_marginal_hr(truth, PROFILE.felony_share)}
        rows += _site_rows(seed, null, cohorts[seed], truth)
    return rows


def _site_rows(seed: int, null: bool, persons: pd.DataFrame, truth: dict) -> list[dict]:
    rows = []
    for spec, extra in SPECS.items():
        row = {"seed": seed, "null": null, "spec": spec}
        try:
            matched = le.match(persons, {**BASE, **extra}, warn=False)
            fits = {"or": le.fit_logistic(matched, OUTCOME).term("treated"),
                    "hr": le.fit_cox(matched, DURATION, EVENT, ph_test=False).term("treated")}
        except le.LeadevalError as err:  # counted in the summary's `failed`, never dropped
            rows.append({c: row.get(c, np.nan) for c in COLUMNS} | {"error": str(err)})
            continue
        row["n_treated_matched"] = int((matched.data["treated"] == 1).sum())
        for k, r in fits.items():
            row |= {f"{k}_truth": truth[k], f"{k}_log_estimate": float(r["estimate"]),
                    f"{k}_std_error": float(r["std_error"]), f"{k}_low": float(r["ratio_low"]),
                    f"{k}_high": float(r["ratio_high"])}
        rows.append({c: (row | _balance(matched) | {"error": ""})[c] for c in COLUMNS})
    return rows


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """Per specification and site type: bias of the log ratio, empirical and mean SE, 95% CI
    coverage, false-positive rate (null sites), mean balance after matching."""
    ok = raw[raw["error"].fillna("") == ""].copy()
    for k in ("or", "hr"):
        ok[f"{k}_error"] = ok[f"{k}_log_estimate"] - np.log(ok[f"{k}_truth"])
        ok[f"{k}_covered"] = (ok[f"{k}_low"] <= ok[f"{k}_truth"]) & (
            ok[f"{k}_truth"] <= ok[f"{k}_high"])
        ok[f"{k}_excludes_1"] = (ok[f"{k}_low"] > 1) | (ok[f"{k}_high"] < 1)
    agg = {"sites": ("seed", "size")}
    for k in ("or", "hr"):
        agg |= {f"{k}_truth": (f"{k}_truth", "mean"), f"{k}_bias_log": (f"{k}_error", "mean"),
                f"{k}_emp_se": (f"{k}_log_estimate", "std"),
                f"{k}_mean_se": (f"{k}_std_error", "mean"),
                f"{k}_coverage": (f"{k}_covered", "mean"),
                f"{k}_reject_1": (f"{k}_excludes_1", "mean")}
    for c in [c for c in raw.columns if c.startswith(("smd_", "var_ratio_"))]:
        agg[f"mean_{c}"] = (c, "mean")
    out = ok.groupby(["null", "spec"], sort=False).agg(**agg).reset_index()
    errors = raw.groupby(["null", "spec"], sort=False)["error"].apply(
        lambda e: int((e.fillna("") != "").sum()))
    return out.merge(errors.rename("failed").reset_index(), on=["null", "spec"])


def main(sites: int = 200, workers: int = 2) -> pd.DataFrame:
    start = time.perf_counter()
    jobs = [(s, s % 2 == 1) for s in range(1, sites + 1)]
    batches = [jobs[i : i + BATCH] for i in range(0, len(jobs), BATCH)]
    with Pool(workers) as pool:
        parts = pool.map(run_sites, batches, chunksize=1)
    raw = pd.DataFrame([r for p in parts for r in p])
    raw.to_csv(HERE / "propensity_spec_simulation.csv", index=False, float_format="%.6g")
    summary = summarise(raw)
    summary.to_csv(HERE / "propensity_spec_simulation_summary.csv", index=False,
                   float_format="%.4g")
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        print(summary.round(3).T.to_string())
    print(f"{sites} sites ({N_PARTICIPANTS} + {N_POOL} people, {workers} workers) in "
          f"{time.perf_counter() - start:.0f} s")
    return summary


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
