"""Equity of access and subgroup effects (leadeval.equity).

References: hand computation of referral rates, relative rate indices and their Katz log and
Wilson intervals; the closed forms a saturated model must reproduce (modified Poisson with only
group dummies = the crude RRI with the Katz SE; logistic = the cross-product odds ratio); and the
Seattle sample's report tables (every count of people is 0, at least k, or suppressed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadeval.config import EquityConfig
from leadeval.equity import (
    access_rates,
    adjusted_access,
    age_band,
    equity_of_access,
    relative_rate_index,
    subgroup_effects,
    subgroup_levels,
)
from leadeval.report.equity_section import access_table
from leadeval.report.suppression import SUPPRESSED

ROOT = Path(__file__).resolve().parents[1]
Z = 1.959963984540054


def two_groups(r_a=30, n_a=100, r_b=20, n_b=200) -> pd.DataFrame:
    """Group a: r_a of n_a referred; group b (the larger, so the default reference): r_b of n_b."""
    ref = [1] * r_a + [0] * (n_a - r_a) + [1] * r_b + [0] * (n_b - r_b)
    grp = ["a"] * n_a + ["b"] * n_b
    return pd.DataFrame({"referred": ref, "race_ethnicity": grp, "treated": ref})


def test_rri_and_ci_match_hand_computation():
    """Hand computation: RRI = (30/100)/(20/200) = 3; SE(log RRI) = sqrt(1/30 - 1/100 + 1/20 -
    1/200) = 0.261406; CI = 3 exp(-/+ 1.96 SE) = 1.7973 to 5.0076. Wilson interval of 30/100:
    (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n) = 0.2189 to 0.3958."""
    t = access_rates(two_groups(), ["race_ethnicity"]).to_frame().set_index("level")
    a = t.loc["a"]
    se = np.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 200)
    assert se == pytest.approx(0.2614065, abs=1e-6)
    assert a["rri"] == pytest.approx(3.0)
    assert a["rri_low"] == pytest.approx(3 * np.exp(-Z * se)) and a["rri_low"] == pytest.approx(1.7973, abs=1e-4)
    assert a["rri_high"] == pytest.approx(3 * np.exp(Z * se)) and a["rri_high"] == pytest.approx(5.0076, abs=1e-4)
    p, n = 0.3, 100
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    assert a["rate_low"] == pytest.approx(centre - half) and a["rate_low"] == pytest.approx(0.2189, abs=1e-4)
    assert a["rate_high"] == pytest.approx(centre + half)
    b = t.loc["b"]
    assert a["reference"] == "b" and b["rri"] == 1.0 and np.isnan(b["rri_low"])
    assert (a["eligible"], a["referred"], b["eligible"], b["referred"]) == (100, 30, 200, 20)


def test_relative_rate_index_function_and_zero_referrals():
    """Hand: 0 referrals give RRI 0 and no interval (the log interval is undefined)."""
    rri, lo, hi = relative_rate_index(np.array([0.0, 10.0]), np.array([50.0, 50.0]), 10.0, 100.0)
    assert rri.tolist() == [0.0, 2.0] and np.isnan(lo[0]) and np.isnan(hi[0])
    se = np.sqrt(1 / 10 - 1 / 50 + 1 / 10 - 1 / 100)
    assert lo[1] == pytest.approx(2 * np.exp(-Z * se)) and hi[1] == pytest.approx(2 * np.exp(Z * se))


def test_saturated_adjusted_models_reproduce_the_closed_forms():
    """With no history terms, the modified Poisson RRI is the crude 3.0 with the Katz interval
    (HC0 sandwich of a saturated log-linear model), and the logistic OR is the cross-product
    (30/70)/(20/180) = 3.857 with Woolf's interval sqrt(1/30 + 1/70 + 1/20 + 1/180)."""
    adj, missing = adjusted_access(two_groups(), ["race_ethnicity"], {}, adjust_for=[])
    a = adj.set_index("level").loc["a"]
    se = np.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 200)
    assert a["adj_rri"] == pytest.approx(3.0, rel=1e-6)
    assert a["adj_rri_low"] == pytest.approx(3 * np.exp(-Z * se), rel=1e-5)
    assert a["adj_rri_high"] == pytest.approx(3 * np.exp(Z * se), rel=1e-5)
    or_ = (30 / 70) / (20 / 180)
    woolf = np.sqrt(1 / 30 + 1 / 70 + 1 / 20 + 1 / 180)
    assert a["adj_or"] == pytest.approx(or_, rel=1e-6)
    assert a["adj_or_low"] == pytest.approx(or_ * np.exp(-Z * woolf), rel=1e-5)
    assert missing == []


def test_history_explains_a_crude_difference():
    """Group a has more prior arrests and referral depends only on arrests: the crude RRI is far
    from 1, the adjusted one is near 1 (the difference follows eligibility, not group)."""
    rng = np.random.default_rng(4)
    n = 6000
    grp = np.where(rng.random(n) < 0.4, "a", "b")
    arrests = rng.poisson(np.where(grp == "a", 4.0, 1.0))
    p = 1 / (1 + np.exp(-(-3 + 0.9 * np.log1p(arrests))))
    u = pd.DataFrame({"treated": (rng.random(n) < p).astype(int), "race_ethnicity": grp,
                      "arrests_pre_365d": arrests, "age_at_index": 30.0,
                      "index_date": pd.Timestamp("2013-01-01")})
    res = equity_of_access(u, EquityConfig(by=["race_ethnicity"], adjust_for=["arrests_pre_365d"],
                                           over_time="none"))
    row = res.to_frame().set_index("level").loc["a"]
    assert row["rri_low"] > 1.3
    assert row["adj_rri_low"] < 1 < row["adj_rri_high"]
    assert row["adj_or_low"] < 1 < row["adj_or_high"]


def test_bad_reference_level_is_a_clear_error():
    from leadeval.errors import ModelError

    with pytest.raises(ModelError, match=r"equity.reference.race_ethnicity: 'zzz' is not a level"):
        access_rates(two_groups(), ["race_ethnicity"], {"race_ethnicity": "zzz"})


def test_age_bands():
    s = age_band(pd.Series([18.0, 24.99, 25.0, 54.9, 55.0, 80.0, np.nan, 16.0]), [18, 25, 35, 45, 55])
    assert s.tolist() == ["18-24", "18-24", "25-34", "45-54", "55+", "55+", "unknown", "unknown"]


def test_over_time_rri_is_within_period():
    """Hand: in 2012 a 10/20 vs b 10/100 -> RRI 5; in 2013 a 5/20 vs b 20/100 -> 1.25."""
    rows = []
    for year, ra, rb in ((2012, 10, 10), (2013, 5, 20)):
        f = two_groups(ra, 20, rb, 100).assign(index_date=pd.Timestamp(f"{year}-05-01"))
        rows.append(f)
    u = pd.concat(rows, ignore_index=True).assign(age_at_index=30.0)
    res = equity_of_access(u, EquityConfig(by=["race_ethnicity"], adjust_for=[], over_time="year"))
    t = res.over_time.to_frame().set_index(["period", "level"])
    assert t.loc[("2012", "a"), "rri"] == pytest.approx(5.0)
    assert t.loc[("2013", "a"), "rri"] == pytest.approx(1.25)


def _published(results: dict, k: int = 11):
    """The equity tables' cells declared and protected as the report does it (disclosure step +
    audit); returns the Disclosure and the ``show``/``num`` interface the section builders use."""
    from types import SimpleNamespace

    from leadeval.report import cells as C
    from leadeval.report.disclosure import DisclosureProblem, protect

    p = DisclosureProblem()
    C._equity(p, SimpleNamespace(get=results.get))
    d = protect(p, k)
    return d, SimpleNamespace(show=d.show, num=d.value, k=k)


def _audit_covers(d, k: int = 11) -> None:
    f = d.audit.intervals
    small = f[f["primary"]]
    assert d.audit.passed and len(small)
    assert ((small["lower"] <= 1) & (small["upper"] >= k - 1)).all()


def test_published_access_table_protects_every_small_count():
    """Reference: the disclosure rule (docs/report.md). On a table with a small group every count
    of people is 0, >= k or '*'; the small group's rate and index are withheld with it; the
    audit's LP attack over the published table cannot narrow any small count below [1, 10]."""
    u = pd.concat([two_groups(30, 100, 20, 200),
                   pd.DataFrame({"referred": [1] * 3 + [0] * 40, "race_ethnicity": "c",
                                 "treated": [1] * 3 + [0] * 40})], ignore_index=True)
    u = u.assign(age_at_index=30.0, index_date=pd.Timestamp("2013-01-01"))
    res = equity_of_access(u, EquityConfig(by=["race_ethnicity"], adjust_for=[], over_time="none"))
    d, b = _published({"equity": res})
    shown = access_table(res, b)
    counts = shown[["referred", "not_referred", "eligible"]]
    for v in counts.to_numpy().ravel():
        assert v == SUPPRESSED or int(v) == 0 or int(v) >= 11
    c = shown.set_index("level")
    assert c.loc["c", "referred"] == SUPPRESSED and c.loc["c", "rri"] == SUPPRESSED
    hidden = counts == SUPPRESSED
    assert not (hidden.sum(axis=1) == 1).any() and not (hidden.sum(axis=0) == 1).any()
    _audit_covers(d)


def test_subgroup_levels_follow_the_pairs_participant():
    """Pair restriction: a comparison person takes the level of its pair's participant (the pool
    has no referral type)."""
    d = pd.DataFrame({"treated": [1, 0, 1, 0], "subclass": [1, 1, 2, 2],
                      "referral_type": ["arrest_diversion", None, "social_contact", None]})
    levels, how = subgroup_levels(d, "referral_type")
    assert how == "pairs"
    assert levels.tolist() == ["arrest_diversion", "arrest_diversion", "social_contact",
                               "social_contact"]


def test_subgroup_effect_equals_the_crude_pair_odds_ratio_and_risk_difference():
    """Hand computation on unit-weight pairs: in subgroup x, treated 20/100 events vs control
    40/100 -> OR (20/80)/(40/60) = 0.375, risk difference -0.20; subgroup y has no effect
    (30/100 vs 30/100 -> OR 1). The interaction test rejects a difference this large."""
    rows = []
    pair = 0
    for lv, et, ec in (("x", 20, 40), ("y", 30, 30)):
        for i in range(100):
            pair += 1
            rows.append({"treated": 1, "subclass": pair, "g": lv, "y": int(i < et), "weights": 1.0})
            rows.append({"treated": 0, "subclass": pair, "g": lv, "y": int(i < ec), "weights": 1.0})
    d = pd.DataFrame(rows)
    res = subgroup_effects(d, ["y"], ["g"], weights="weights")
    t = res.table.set_index("level")
    assert t.loc["x", "ratio"] == pytest.approx(0.375, rel=1e-6)
    assert t.loc["x", "risk_difference"] == pytest.approx(-0.20, abs=1e-9)
    assert t.loc["y", "ratio"] == pytest.approx(1.0, rel=1e-6)
    assert res.interactions["interaction_p"].iloc[0] < 0.05
    assert t["estimated"].all()


def test_published_subgroup_table_protects_small_cells():
    """Reference: the disclosure rule. Every event / no-event count is 0, >= k or '*'; no column
    of a block has exactly one hidden cell; estimates are hidden with their counts; the audit
    (which knows that 1:1 pairs make a level's arms equal in size) cannot narrow a small count."""
    from leadeval.report.equity_section import subgroup_table

    rows, pair = [], 0
    for lv, n, et, ec in (("x", 100, 20, 40), ("y", 100, 30, 30), ("z", 15, 3, 12)):
        for i in range(n):
            pair += 1
            rows.append({"treated": 1, "subclass": pair, "g": lv, "y": int(i < et), "weights": 1.0})
            rows.append({"treated": 0, "subclass": pair, "g": lv, "y": int(i < ec), "weights": 1.0})
    res = subgroup_effects(pd.DataFrame(rows), ["y"], ["g"], weights="weights", min_events=1)
    d, b = _published({"heterogeneity": res})
    t = subgroup_table(res, b, lambda s: s).set_index("level")
    cells = ["events_lead", "no_event_lead", "events_comparison", "no_event_comparison"]
    for v in t[cells].to_numpy().ravel():
        assert v == SUPPRESSED or int(v) == 0 or int(v) >= 11
    hidden = t[cells] == SUPPRESSED
    assert not (hidden.sum(axis=0) == 1).any()
    assert t.loc["z", "OR"] == SUPPRESSED and t.loc["y", "OR"] != SUPPRESSED
    _audit_covers(d)
