"""Per-person costs, weighted pre/post changes, DiD savings and the cluster bootstrap.

References: hand arithmetic on tiny fixtures (worked out in each test), and for the bootstrap an
independent slow implementation (a Python loop over replicates resampling pairs with pandas).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadeval.costs import client_year_costs, cost_savings, person_costs, unit_cost_table
from leadeval.errors import CostError, CostWarning

CPI = pd.Series({2019: 100.0})
UC = {
    "booking": {"measure": "bookings", "amount": 500, "price_year": 2019, "category": "jail"},
    "jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2019, "category": "jail"},
    "prosecution": {
        "measure": "charges_superior",
        "amount": 1000,
        "price_year": 2019,
        "category": "legal",
    },
    "defense": {
        "measure": "charges_superior",
        "amount": 800,
        "price_year": 2019,
        "category": "legal",
    },
}


def uc():
    return unit_cost_table(UC, dollar_year=2019, cpi=CPI)


def persons():
    return pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "treated": [1, 1, 0, 0],
            "weights": [1.0, 1.0, 2.0, 0.5],
            "subclass": [1, 2, 1, 2],
            "followup_days": [200, 400, 365, 1000],
            "bookings_pre_365d": [2, 1, 1, 3],
            "bookings_post_365d": [1, 0, 1, 4],
            "jail_days_pre_365d": [10, 20, 10, 30],
            "jail_days_post_365d": [0, 10, 12, 40],
            "charges_superior_pre_365d": [1, 0, 0, 1],
            "charges_superior_post_365d": [0, 0, 1, 1],
        }
    )


def test_person_costs_by_window_and_category():
    """Person a pre: jail = 2 x 500 + 10 x 100 = 2000; legal = 1 x (1000 + 800) = 1800.
    Post: jail = 500, legal 0. Person c post: jail 500 + 1200 = 1700, legal 1800."""
    pc = person_costs(persons(), uc(), scale="window")
    d = pc.data.set_index("person_id")
    assert pc.categories == ("jail", "legal")
    assert d.loc["a", "cost_pre_jail"] == 2000 and d.loc["a", "cost_pre_legal"] == 1800
    assert d.loc["a", "cost_pre_total"] == 3800
    assert d.loc["a", "cost_post_jail"] == 500 and d.loc["a", "cost_post_total"] == 500
    assert d.loc["c", "cost_post_jail"] == 1700 and d.loc["c", "cost_post_legal"] == 1800
    long = pc.to_frame()
    assert set(long.columns) == {"person_id", "treated", "period", "category", "cost"}
    assert (
        long.query("person_id == 'a' and period == 'pre' and category == 'legal'")["cost"].item()
        == 1800
    )


def test_person_costs_annualised_by_observed_time():
    """scale='year': a's post window is observed 200 of 365 days -> years = 200 / 365.25, so the
    post jail cost 500 becomes 500 * 365.25 / 200 = 913.125; d is observed the full 365 days ->
    its pre total (3 x 500 + 30 x 100 + 1800 = 6300) becomes 6300 * 365.25 / 365."""
    d = person_costs(persons(), uc(), scale="year").data.set_index("person_id")
    assert d.loc["a", "years_post"] == pytest.approx(200 / 365.25)
    assert d.loc["a", "cost_post_jail"] == pytest.approx(913.125)
    assert d.loc["d", "cost_pre_total"] == pytest.approx(6300 * 365.25 / 365)
    # whole follow-up: d observed 1000 days
    p = persons().rename(columns=lambda c: c.replace("post_365d", "post_all"))
    d2 = person_costs(p, uc(), post_window="all").data.set_index("person_id")
    assert d2.loc["d", "years_post"] == pytest.approx(1000 / 365.25)


def test_person_costs_errors():
    p = persons().drop(columns="jail_days_post_365d")
    with pytest.raises(CostError, match=r"lacks column\(s\) \['jail_days_post_365d'\]"):
        person_costs(p, uc())
    p = persons()
    p.loc[2, "bookings_pre_365d"] = np.nan
    with pytest.raises(CostError, match=r"bookings_pre_365d for person_id \['c'\]"):
        person_costs(p, uc())
    p = persons()
    p.loc[0, "followup_days"] = 0
    with pytest.raises(CostError, match="no observed post time"):
        person_costs(p, uc())
    p = pd.concat([persons(), persons().iloc[:1]])
    with pytest.raises(CostError, match="duplicated"):
        person_costs(p, uc())


def test_window_scale_warns_on_incomplete_windows():
    p = persons().assign(window_complete_post_365d=[False, True, True, True])
    with pytest.warns(CostWarning, match="1 person"):
        person_costs(p, uc(), scale="window")


def test_did_by_hand_weighted():
    """Window totals, jail days only ($100/day), weights a=1, b=1, c=2, d=0.5:
    LEAD pre (10 + 20)/2 = 15, post (0 + 10)/2 = 5, change -10.
    Comparison pre (2*10 + 0.5*30)/2.5 = 14, post (2*12 + 0.5*40)/2.5 = 17.6, change +3.6.
    DiD = 3.6 - (-10) = 13.6 days = $1,360 saved per participant."""
    jail = {"jail_day": UC["jail_day"]}
    s = cost_savings(
        persons(), unit_cost_table(jail, 2019, CPI), scale="window", replicates=200, seed=3, weights="weights")
    f = s.to_frame().set_index(["term", "category"])["estimate"]
    assert f["pre_lead", "jail"] == pytest.approx(1500)
    assert f["post_lead", "jail"] == pytest.approx(500)
    assert f["change_lead", "jail"] == pytest.approx(-1000)
    assert f["pre_comparison", "jail"] == pytest.approx(1400)
    assert f["post_comparison", "jail"] == pytest.approx(1760)
    assert f["change_comparison", "jail"] == pytest.approx(360)
    assert f["savings", "jail"] == pytest.approx(1360)
    assert f["savings", "total"] == pytest.approx(1360)
    assert s.savings == pytest.approx(1360)
    counts = s.counts_frame().set_index(["term", "measure"])["estimate"]
    assert counts["savings", "jail_days"] == pytest.approx(13.6)


def test_did_by_category_and_total():
    """All four unit costs, window totals. Legal (1800 per superior charge):
    LEAD pre (1 + 0)/2 = 0.5 -> 900, post 0 -> change -900.
    Comparison pre (2*0 + 0.5*1)/2.5 = 0.2 -> 360, post (2*1 + 0.5*1)/2.5 = 1 -> 1800, change +1440.
    Legal savings 1440 + 900 = 2340. Jail adds bookings ($500): LEAD pre 1.5, post 0.5 (change -1);
    comparison pre (2 + 1.5)/2.5 = 1.4, post (2 + 2)/2.5 = 1.6 (change +0.2): 1.2 x 500 = 600,
    plus jail days 1360 -> jail savings 1960; total 4300."""
    s = cost_savings(persons(), uc(), scale="window", replicates=200, seed=3, weights="weights")
    f = s.to_frame().set_index(["term", "category"])["estimate"]
    assert f["savings", "legal"] == pytest.approx(2340)
    assert f["savings", "jail"] == pytest.approx(1960)
    assert f["savings", "total"] == pytest.approx(4300)
    assert f["change_lead", "legal"] == pytest.approx(-900)
    assert f["change_comparison", "legal"] == pytest.approx(1440)


def test_did_per_year_is_a_ratio_of_weighted_sums():
    """scale='year': rate = sum w x / sum w years. LEAD post jail days: (0 + 10) /
    (200/365.25 + 365/365.25) = 10 * 365.25 / 565; pre: 30 / (2 * 365/365.25)."""
    jail = unit_cost_table({"jail_day": UC["jail_day"]}, 2019, CPI)
    s = cost_savings(persons(), jail, replicates=100, seed=1, weights="weights")
    c = s.counts_frame().set_index(["term", "measure"])["estimate"]
    assert c["post_lead", "jail_days"] == pytest.approx(10 * 365.25 / 565)
    assert c["pre_lead", "jail_days"] == pytest.approx(30 * 365.25 / 730)
    # comparison post: (2*12 + 0.5*40) / (2*365 + 0.5*365) * 365.25
    assert c["post_comparison", "jail_days"] == pytest.approx(44 * 365.25 / (2.5 * 365))


def _slow_bootstrap(df, price, seed, B):
    """Independent reference: loop over replicates, resample pairs, weighted means with pandas.
    Uses the same stream of cluster draws as the vectorised code (rng.integers, one chunk)."""
    rng = np.random.default_rng(seed)
    clusters = np.array(sorted(df["subclass"].astype(str).unique()))
    g = len(clusters)
    idx = rng.integers(0, g, size=(B, g))
    out = []
    for b in range(B):
        parts = [df[df["subclass"].astype(str) == clusters[j]] for j in idx[b]]
        r = pd.concat(parts)
        res = {}
        for t in (0, 1):
            x = r[r.treated == t]
            w = x["weights"]
            pre = (w * x["jail_days_pre_365d"]).sum() / w.sum()
            post = (w * x["jail_days_post_365d"]).sum() / w.sum()
            res[t] = post - pre
        out.append((res[0] - res[1]) * price)
    return np.array(out)


def _random_matched(n_pairs, seed):
    rng = np.random.default_rng(seed)
    n = 2 * n_pairs
    return pd.DataFrame(
        {
            "person_id": [f"p{i:04d}" for i in range(n)],
            "treated": np.tile([1, 0], n_pairs),
            "subclass": np.repeat(np.arange(n_pairs), 2),
            "weights": rng.uniform(0.5, 2, n),
            "followup_days": 400,
            "jail_days_pre_365d": rng.poisson(20, n),
            "jail_days_post_365d": rng.poisson(15, n),
        }
    )


def test_vectorised_bootstrap_matches_loop_reference():
    df = _random_matched(15, seed=7)
    jail = unit_cost_table({"jail_day": UC["jail_day"]}, 2019, CPI)
    s = cost_savings(df, jail, scale="window", replicates=60, seed=11, weights="weights")
    ref = _slow_bootstrap(df, 100.0, seed=11, B=60)
    np.testing.assert_allclose(s.savings_replicates()["total"].to_numpy(), ref, rtol=1e-10)


def test_bootstrap_seeded_and_row_order_free():
    df = _random_matched(40, seed=2)
    jail = unit_cost_table({"jail_day": UC["jail_day"]}, 2019, CPI)
    a = cost_savings(df, jail, replicates=300, seed=5, weights="weights").to_frame()
    b = cost_savings(df.sample(frac=1, random_state=1), jail, replicates=300, seed=5, weights="weights").to_frame()
    pd.testing.assert_frame_equal(a, b)
    c = cost_savings(df, jail, replicates=300, seed=6, weights="weights").to_frame()
    assert not np.allclose(a["conf_low"], c["conf_low"])
    row = a.set_index(["term", "category"]).loc[("savings", "total")]
    assert row.conf_low < row.estimate < row.conf_high
    assert row.std_error > 0 and 0 <= row.p_value <= 1


def test_bootstrap_se_matches_analytic_pair_se():
    """With weights 1 and pairs, the DiD is the mean over pairs of d_j = (comparison change -
    LEAD change); the pair bootstrap SE approaches sd(d)/sqrt(G) * sqrt((G-1)/G)."""
    df = _random_matched(400, seed=9).assign(weights=1.0)
    jail = unit_cost_table({"jail_day": UC["jail_day"]}, 2019, CPI)
    s = cost_savings(df, jail, scale="window", replicates=2000, seed=1, weights="weights")
    ch = (df["jail_days_post_365d"] - df["jail_days_pre_365d"]).to_numpy() * 100.0
    d = ch[1::2] - ch[0::2]
    g = len(d)
    se_ref = d.std(ddof=0) / np.sqrt(g)
    se = s.to_frame().set_index(["term", "category"]).loc[("savings", "total"), "std_error"]
    assert se == pytest.approx(se_ref, rel=0.08)
    assert s.savings == pytest.approx(d.mean())


def test_missing_subclass_means_person_clusters_and_weights_default_to_one():
    df = persons().drop(columns=["subclass", "weights"])
    with pytest.warns(CostWarning, match="drew no LEAD or no comparison"):
        s = cost_savings(df, uc(), scale="window", replicates=100, seed=0)
    assert s.n_clusters == 4 and s.n_lead == 2 and s.n_comparison == 2


def test_savings_errors():
    with pytest.raises(CostError, match="'treated' column"):
        cost_savings(persons().drop(columns="treated"), uc(), replicates=100, weights="weights")
    p = persons().assign(weights=[1, -1, 1, 1])
    with pytest.raises(CostError, match=r"negative weight\(s\), e.g. person_id \['b'\]"):
        cost_savings(p, uc(), replicates=100, weights="weights")
    p = persons().assign(treated=1)
    with pytest.raises(CostError, match="need LEAD"):
        cost_savings(p, uc(), replicates=100, weights="weights")
    with pytest.raises(CostError, match="expected a pandas DataFrame"):
        cost_savings([1, 2], uc())


def test_client_year_costs_santa_fe_arithmetic():
    """Santa Fe: program + system $7,541 per client-year vs $9,099 system-as-usual: savings $1,558
    (17.1%). Fixture: one dollar per unit, follow-up 730.5 days (2 years) so the post rate is
    count / 2; LEAD post system 3,941/yr + program 300/month (3,600/yr) = 7,541; comparison post
    9,099/yr."""
    df = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "treated": [1, 1, 0, 0],
            "subclass": [1, 2, 1, 2],
            "followup_days": 730.5,
            "dollars_pre_365d": [5000, 5000, 5000, 5000],
            "dollars_post_all": [2 * 3941 - 100, 2 * 3941 + 100, 2 * 9099 - 50, 2 * 9099 + 50],
        }
    )
    one = unit_cost_table(
        {"system": {"measure": "dollars", "amount": 1, "price_year": 2019}}, 2019, CPI
    )
    s = cost_savings(df, one, post_window="all", replicates=200, seed=2)
    cy = client_year_costs(s, 300.0, baseline="comparison")
    assert cy["lead_system"] == pytest.approx(3941)
    assert cy["lead_total"] == pytest.approx(7541)
    assert cy["system_as_usual"] == pytest.approx(9099)
    assert cy["savings"] == pytest.approx(1558)
    assert cy["percent_savings"] == pytest.approx(100 * 1558 / 9099)
    assert round(cy["percent_savings"]) == 17
    # DiD baseline: equal pre costs, so the counterfactual is LEAD pre + comparison change
    cd = client_year_costs(s, 300.0)
    pre = 5000 * 365.25 / 365
    assert cd["system_as_usual"] == pytest.approx(pre + (9099 - pre))
    with pytest.raises(CostError, match="scale='year'"):
        client_year_costs(cost_savings(persons(), uc(), scale="window", replicates=100, weights="weights"), 300.0)


def test_site_config_supplies_windows_scale_replicates_and_seed(tmp_path):
    """A SiteConfig gives the cost section's defaults and, without costs.seed, the site seed."""
    from leadeval.config import parse_config

    (tmp_path / "cpi.csv").write_text("year,cpi\n2019,100\n")
    cfg = parse_config(
        {
            "site": "x",
            "data_end_date": "2020-01-01",
            "seed": 7,
            "extracts": {"roster": {"path": "r.csv"}},
            "costs": {
                "dollar_year": 2019,
                "scale": "window",
                "bootstrap_replicates": 100,
                "cpi_path": "cpi.csv",
                "unit_costs": UC,
            },
        },
        base_dir=tmp_path,
    )
    a = cost_savings(persons(), cfg, weights="weights")
    assert a.seed == 7 and a.boot_rates.shape[0] == 100 and a.scale == "window"
    b = cost_savings(persons(), cfg.costs, seed=7, weights="weights")
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert a.savings == pytest.approx(4300)


def test_savings_by_payer():
    """Prosecution and defense paid by different payers: legal savings 2340 split 1000:800."""
    spec = {**UC, "defense": {**UC["defense"], "payer": "public_defense"}}
    s = cost_savings(persons(), unit_cost_table(spec, 2019, CPI), scale="window", replicates=100, weights="weights")
    f = s.to_frame(by="payer").set_index(["term", "payer"])["estimate"]
    assert f["savings", "public_defense"] == pytest.approx(2340 * 800 / 1800)
    assert f["savings", "taxpayers"] == pytest.approx(1960 + 2340 * 1000 / 1800)
    assert f["savings", "total"] == pytest.approx(4300)


def test_did_is_linear_in_prices_and_blind_to_a_common_shift():
    """Invariants of the DiD: doubling every price doubles every savings replicate; adding the
    same number of jail days to everyone's post window changes no savings (both groups move)."""
    df = _random_matched(25, seed=4)
    df = df.assign(**{c: 0 for c in _zero_cols(df)})
    base = cost_savings(df, uc(), scale="window", replicates=200, seed=8, weights="weights")
    double = {k: {**v, "amount": 2 * v["amount"]} for k, v in UC.items()}
    twice = cost_savings(
        df, unit_cost_table(double, 2019, CPI), scale="window", replicates=200, seed=8, weights="weights")
    np.testing.assert_allclose(twice.savings_replicates(), 2 * base.savings_replicates())
    shifted = df.assign(jail_days_post_365d=df["jail_days_post_365d"] + 7)
    sh = cost_savings(shifted, uc(), scale="window", replicates=200, seed=8, weights="weights")
    np.testing.assert_allclose(sh.savings_replicates()["total"], base.savings_replicates()["total"])


def _zero_cols(df):
    """Count columns the random fixture lacks (bookings, superior charges), set to 0."""
    return [f"{m}_{p}_365d" for m in ("bookings", "charges_superior") for p in ("pre", "post")]


def test_did_restricted_to_complete_windows_by_hand():
    """complete_windows=True leaves out person a (incomplete 365-day window) and counts them.
    Window totals, jail days only ($100/day): LEAD is b alone, pre 20 post 10, change -10;
    comparison (weights c=2, d=0.5) change +3.6 as in the test above: DiD 13.6 days = $1,360.
    Without the option nobody is left out and the warning says why one might want it."""
    jail = unit_cost_table({"jail_day": UC["jail_day"]}, 2019, CPI)
    p = persons().assign(window_complete_post_365d=[False, True, True, True])
    s = cost_savings(p, jail, scale="window", replicates=200, seed=3, complete_windows=True, weights="weights")
    assert s.excluded_incomplete == 1 and s.n_lead == 1 and s.n_comparison == 2
    assert s.savings == pytest.approx(1360)
    with pytest.warns(CostWarning, match="incomplete"):
        full = cost_savings(p, jail, scale="window", replicates=200, seed=3, weights="weights")
    assert full.excluded_incomplete == 0 and full.n_lead == 2
    with pytest.raises(CostError, match="window_complete_post_365d"):
        cost_savings(persons(), jail, scale="window", replicates=200, complete_windows=True, weights="weights")
