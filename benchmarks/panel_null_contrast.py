"""Null synthetic sites: the within-person monthly odds ratio vs the matched group x month contrast.

Run by hand (not in CI): ``.venv/bin/python benchmarks/panel_null_contrast.py [sites]``
(default 40). Each site is ``leadeval.synth.generate_site("seattle", ...)`` with no housing
effect at all (``sheltered_or``/``permanent_or`` None, no per-contact effect): participants are
referred when they are unsheltered (the generator's selection on homelessness in month -1), so
their odds of being sheltered rise after referral by regression to the mean alone. The cohort
is matched 1:1 (caliper 0.2) on the generator's selection covariates and both estimators are
fitted on ``sheltered``, months -1..12:

- within-person: :func:`leadeval.models.fit_panel_gee` on participants, term ``month=12``;
- contrast: :func:`leadeval.models.fit_panel_contrast`, term ``treated@month=12`` (the matched
  arms' odds ratio in month 12), weighted, robust by person.

The truth is OR 1 (log OR 0) for the program effect. Printed and written to
``benchmarks/panel_null_contrast.csv``: per estimator the share of sites whose 95% CI excludes 1
("significant"; target ~5% for an effect estimator), the CI coverage of 1, and the mean log OR.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import leadeval as le
from leadeval.config import DesignConfig, MatchingConfig
from leadeval.extracts import Extracts
from leadeval.models import fit_panel_contrast, fit_panel_gee
from leadeval.synth import generate_site

warnings.simplefilter("ignore")
NULL = {"sheltered_or": None, "permanent_or": None, "housed_or_per_contact": 1.0}
OUT = Path(__file__).with_suffix(".csv")


def one_site(seed: int) -> list[dict]:
    site = generate_site("seattle", n_participants=300, n_pool=3000, seed=seed, effects=NULL)
    frames = {}
    for name, frame in site.extracts.items():
        frame = frame.copy()
        if "month" in frame.columns:
            frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
        frames[name] = frame
    extracts = Extracts.from_frames(frames, data_end_date=site.data_end_date)
    cohort = le.build_cohort(extracts, DesignConfig(pre_windows=[365], post_windows=[182, 365]))
    persons = cohort.persons.assign(
        log_arrests_pre_365d=np.log1p(cohort.persons["arrests_pre_365d"])
    )
    spec = MatchingConfig(
        covariates=["log_arrests_pre_365d", "age_at_index", "months_unsheltered_pre_365d"],
        categorical=["area"],
        caliper=0.2,
    )
    matched = le.match(persons, spec)
    panel = cohort.panel
    rows = []
    within = fit_panel_gee(panel[panel["treated"] == 1], "sheltered", months=(-1, 12))
    contrast = fit_panel_contrast(panel, "sheltered", matched, months=(-1, 12))
    for name, fit, term in (
        ("within_person month=12", within, "month=12"),
        ("matched contrast treated@month=12", contrast, "treated@month=12"),
    ):
        r = fit.term(term)
        rows.append(
            {
                "seed": seed,
                "estimator": name,
                "estimate": float(r["estimate"]),
                "conf_low": float(r["conf_low"]),
                "conf_high": float(r["conf_high"]),
                "p_value": float(r["p_value"]),
            }
        )
    return rows


def main(sites: int) -> None:
    t0 = time.perf_counter()
    rows = []
    for seed in range(1, sites + 1):
        rows.extend(one_site(1000 + seed))
        print(f"site {seed}/{sites} ({time.perf_counter() - t0:.0f} s)", flush=True)
    per_site = pd.DataFrame(rows)
    per_site["covers_null"] = (per_site["conf_low"] < 0) & (per_site["conf_high"] > 0)
    summary = per_site.groupby("estimator", sort=False).agg(
        sites=("seed", "size"),
        mean_log_or=("estimate", "mean"),
        coverage_of_null=("covers_null", "mean"),
    )
    summary["significant_share"] = 1 - summary["coverage_of_null"]
    summary["mc_se"] = np.sqrt(summary["coverage_of_null"] * (1 - summary["coverage_of_null"]) / sites)
    print(summary.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"total {time.perf_counter() - t0:.0f} s")
    per_site.to_csv(OUT, index=False, float_format="%.6g")
    summary.to_csv(OUT.with_name(OUT.stem + "_summary.csv"), float_format="%.6g")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
