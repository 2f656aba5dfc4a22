"""Timing of the cost stage's resampling (run by hand: `.venv/bin/python benchmarks/bench_costs.py`).

Targets (issue 6): 2,000 cluster-bootstrap replicates on 5,000 matched people, and 10,000 Monte
Carlo draws, each in a few seconds on a laptop. Also times the panel bootstrap (cumulative savings
over 24 months) and a program cost curve on a 50,000-person roster.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from leadeval.costs import (
    cost_savings,
    cumulative_savings,
    monte_carlo,
    program_cost_curve,
    unit_cost_table,
)

MEASURES = (
    "bookings",
    "jail_days",
    "prison_days",
    "charges_superior",
    "charges_district",
    "ems_calls",
)


def unit_costs():
    cpi = pd.Series({2019: 100.0})
    spec = {
        m: {"measure": m, "amount": a, "price_year": 2019, "low": 0.5 * a, "high": 1.5 * a}
        for m, a in zip(MEASURES, (450, 130, 110, 2500, 900, 800), strict=True)
    }
    return unit_cost_table(spec, 2019, cpi)


def matched(n_people: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pairs = n_people // 2
    df = {
        "person_id": [f"p{i:07d}" for i in range(2 * pairs)],
        "treated": np.tile([1, 0], pairs),
        "subclass": np.repeat(np.arange(pairs), 2),
        "weights": np.ones(2 * pairs),
        "followup_days": rng.integers(200, 900, 2 * pairs),
    }
    for m in MEASURES:
        df[f"{m}_pre_365d"] = rng.poisson(3, 2 * pairs)
        df[f"{m}_post_365d"] = rng.poisson(2.5, 2 * pairs)
    return pd.DataFrame(df)


def panel(df: pd.DataFrame, months: int = 24, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    off = np.arange(-12, months + 1)
    n = len(df)
    return pd.DataFrame(
        {
            "person_id": np.repeat(df["person_id"].to_numpy(), len(off)),
            "month_offset": np.tile(off, n),
            "jail_days": rng.poisson(1.0, n * len(off)),
            "ems_calls": rng.poisson(0.2, n * len(off)),
            "days_observed": 30.4375,
        }
    )


def timed(label: str, fn, repeat: int = 3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    print(f"{label:<62s} {best:7.3f} s (best of {repeat})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=5000)
    ap.add_argument("--replicates", type=int, default=2000)
    ap.add_argument("--draws", type=int, default=10000)
    a = ap.parse_args()
    uc = unit_costs()
    df = matched(a.people)
    s = timed(
        f"cost_savings: {a.replicates} pair-bootstrap replicates, {len(df)} people, {len(MEASURES)} measures",
        lambda: cost_savings(df, uc, replicates=a.replicates, seed=1),
    )
    timed(
        f"cost_savings, no subclass ({len(df)} person clusters)",
        lambda: cost_savings(df.drop(columns="subclass"), uc, replicates=a.replicates, seed=1),
    )
    timed(
        f"monte_carlo: {a.draws} draws",
        lambda: monte_carlo(s, (700.0, 500.0, 900.0), draws=a.draws, seed=1),
    )
    pnl = panel(df)
    timed(
        f"cumulative_savings: {a.replicates} replicates, {len(pnl)} person-months",
        lambda: cumulative_savings(pnl, df, uc, replicates=a.replicates, seed=1),
    )
    rng = np.random.default_rng(3)
    n = 50_000
    start = pd.Timestamp("2011-10-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    roster = pd.DataFrame(
        {
            "person_id": [f"r{i}" for i in range(n)],
            "enrollment_date": start,
            "exit_date": start + pd.to_timedelta(rng.integers(30, 900, n), unit="D"),
        }
    )
    months = pd.date_range("2011-10-01", "2016-06-01", freq="MS")
    ledger = pd.DataFrame({"month": months.strftime("%Y-%m"), "amount": 1e5})
    timed(
        f"program_cost_curve (fraction): {n} participants, {len(months)} months",
        lambda: program_cost_curve(ledger, roster, count="fraction", dollar_year="nominal"),
    )


if __name__ == "__main__":
    main()
