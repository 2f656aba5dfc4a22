"""Benchmark: the adjusted access models of the equity stage at scale.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_equity.py                    # 1M people (state/5 pool)
    .venv/bin/python benchmarks/bench_equity.py --people 200000    # a county

Times, side by side in one run on the same synthetic eligible universe (4 group variables, the
default 5 history counts as log1p, referral depending on group and history):
``leadeval`` (:func:`leadeval.equity.adjusted_access`: the modified Poisson and logistic HC0
models of each variable fitted on the distinct (level, history, referred) cells with frequency
weights) and the reference, what the stage did before: ``statsmodels`` ``GLM(...).fit(
cov_type="HC0")`` on every person, both families, for every variable. Prints wall and CPU
seconds, the peak memory each adds (RSS sampled every 20 ms), the ratio and the largest relative
difference of the published ratios and interval limits (same estimator: rounding only).
Target (issue 15): the state's equity stage (5M people) in <= 30 s and <= 3 GB.

``--stage`` times the whole :func:`leadeval.equity.equity_of_access` (rates, adjusted models,
over-time table: group levels as Categorical codes, periods from year and quarter numbers)
against the text path it replaced (every person's group levels and period as Python strings,
:func:`eligible_universe` + :func:`access_rates` + ``to_period(...).astype(str)`` + the same
adjusted models), and checks the tables are identical. Target: equity <= 20 s and <= 2 GB added
at a state's 5M people::

    .venv/bin/python benchmarks/bench_equity.py --stage --people 5000000
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm

from leadeval.config import EquityConfig
from leadeval.equity import (
    access_rates,
    adjusted_access,
    age_band,
    eligible_universe,
    equity_of_access,
    history_terms,
)

BY = ["race_ethnicity", "sex", "age_band", "area"]


def universe(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["black", "white", "latinx", "asian", "native", "unknown"], n,
                      p=[0.3, 0.45, 0.12, 0.06, 0.03, 0.04])
    frailty = rng.gamma(1.2, 1 / 1.2, n)
    a365 = rng.poisson(1.2 * frailty)
    u = pd.DataFrame({
        "race_ethnicity": race,
        "sex": rng.choice(["male", "female", "unknown"], n, p=[0.72, 0.27, 0.01]),
        "age_band": age_band(pd.Series(rng.normal(38, 11, n)), [18, 25, 35, 45, 55]),
        "area": rng.choice([f"area_{i}" for i in range(8)], n),
        "arrests_pre_365d": a365,
        "arrests_pre_730d": a365 + rng.poisson(1.0 * frailty),
        "bookings_pre_730d": rng.poisson(1.5 * frailty),
        "felony_arrests_pre_730d": rng.poisson(0.4 * frailty),
        "prison_pre_730d": (rng.random(n) < 0.05).astype(int),
    })
    lp = -6.0 + 0.5 * np.log1p(a365) + 0.3 * (race == "black") + 0.2 * u["prison_pre_730d"]
    u["referred"] = (rng.random(n) < np.exp(lp)).astype(int)
    return u


def reference(u: pd.DataFrame, adjust_for: list[str]) -> pd.DataFrame:
    """The person-level fits: one statsmodels GLM per variable and family, HC0."""
    hist, _ = history_terms(u, adjust_for)
    rows = []
    for var in BY:
        counts = u[var].value_counts()
        ref = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0]
        d = pd.get_dummies(u[var], dtype=float).drop(columns=ref)
        x = pd.concat([d[sorted(d.columns)], hist], axis=1)
        x.insert(0, "const", 1.0)
        for name, fam in (("rri", sm.families.Poisson()), ("or", sm.families.Binomial())):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.GLM(u["referred"].to_numpy(float), x, family=fam).fit(cov_type="HC0")
            ci = fit.conf_int()
            for lv in d.columns:
                rows.append({"variable": var, "level": lv, "family": name,
                             "ratio": np.exp(fit.params[lv]), "low": np.exp(ci.loc[lv, 0]),
                             "high": np.exp(ci.loc[lv, 1])})
    return pd.DataFrame(rows)


def persons(n: int, seed: int = 1) -> pd.DataFrame:
    """A cohort's person table for the stage: :func:`universe` with text levels (some missing),
    ages and index dates instead of bands and ``referred``."""
    rng = np.random.default_rng(seed + 1)
    u = universe(n, seed).drop(columns="age_band")
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    for c in ("race_ethnicity", "sex", "area"):
        u[c] = pd.array(np.where(rng.random(n) < 0.01, None, u[c].to_numpy(object)), dtype=text)
    u["treated"] = u.pop("referred")
    u["age_at_index"] = rng.normal(38, 11, n)
    u["index_date"] = pd.to_datetime("2011-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), "D")
    return u


def text_stage(p: pd.DataFrame, cfg: EquityConfig) -> list[pd.DataFrame]:
    """The stage before the coded groups: a string per person and group, and per period."""
    u = eligible_universe(p, cfg)
    rates = access_rates(u, cfg.by, cfg.reference).to_frame()
    adjusted = adjusted_access(u, cfg.by, cfg.reference, cfg.adjust_for)[0]
    u = u.assign(period=pd.to_datetime(u["index_date"]).dt.to_period("Y").astype(str))
    over = access_rates(u, cfg.by, cfg.reference, period="period").to_frame()
    return [rates, adjusted, over]


def stage(n: int, repeat: int) -> None:
    p, cfg = persons(n), EquityConfig(over_time="year")

    def ours():
        r = equity_of_access(p, cfg)
        return [r.rates.to_frame(), r.adjusted, r.over_time.to_frame()]

    best: dict[str, tuple] = {}
    for _ in range(repeat):  # A/B/A/B
        for name, fn in (("leadeval", ours), ("text path", lambda: text_stage(p, cfg))):
            res = timed(fn)
            if name not in best or res[2] < best[name][2]:
                best[name] = res
    same = all(a.equals(b) for a, b in zip(best["leadeval"][0], best["text path"][0], strict=True))
    print(f"equity_of_access, {n:,} people, load average {os.getloadavg()[0]:.1f}")
    for name, (_, w, c, gb) in best.items():
        print(f"  {name:12s} wall {w:7.2f} s  CPU {c:7.2f} s  peak +{gb:.2f} GB")
    (_, w0, c0, _), (_, w1, c1, _) = best["leadeval"], best["text path"]
    print(f"  ratio text path / leadeval: wall {w1 / w0:.1f}x, CPU {c1 / c0:.1f}x; tables "
          + ("identical" if same else "DIFFER"))


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(fn):
    """(result, wall s, CPU s, peak GB added)."""
    base, peak, going = rss(), [rss()], [True]

    def sample():
        while going[0]:
            peak[0] = max(peak[0], rss())
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    w, c = time.perf_counter() - w, time.process_time() - c
    going[0] = False
    t.join()
    return out, w, c, (peak[0] - base) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs of each; best kept")
    ap.add_argument("--stage", action="store_true", help="the whole equity_of_access (see above)")
    args = ap.parse_args()
    if args.stage:
        return stage(args.people, args.repeat)
    u = universe(args.people)
    adjust_for = EquityConfig().adjust_for
    best: dict[str, tuple] = {}
    for _ in range(args.repeat):  # A/B/A/B: both see the same load
        for name, fn in (("leadeval", lambda: adjusted_access(u, BY, {}, adjust_for)[0]),
                         ("statsmodels", lambda: reference(u, adjust_for))):
            res = timed(fn)
            if name not in best or res[2] < best[name][2]:
                best[name] = res
    ours, ref = best["leadeval"][0], best["statsmodels"][0]
    rel = 0.0
    for r in ref.itertuples():
        row = ours[(ours["variable"] == r.variable) & (ours["level"] == r.level)].iloc[0]
        for col, want in (("", r.ratio), ("_low", r.low), ("_high", r.high)):
            rel = max(rel, abs(row[f"adj_{r.family}{col}"] / want - 1))
    print(f"{args.people:,} people, 4 variables x 2 families, load average {os.getloadavg()[0]:.1f}")
    for name, (_, w, c, gb) in best.items():
        print(f"  {name:12s} wall {w:7.2f} s  CPU {c:7.2f} s  peak +{gb:.2f} GB")
    (_, w0, c0, _), (_, w1, c1, _) = best["leadeval"], best["statsmodels"]
    print(f"  ratio statsmodels / leadeval: wall {w1 / w0:.1f}x, CPU {c1 / c0:.1f}x")
    print(f"  largest relative difference of the ratios and limits: {rel:.2e}")


if __name__ == "__main__":
    main()
