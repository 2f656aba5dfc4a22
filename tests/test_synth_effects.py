"""Planted effects are recovered from a large synthetic sample, and the confounding is real.

Reference: the published effect sizes in STUDIES.md (Collins et al. 2017 and 2019, Clifasefi et
al. 2017, Santa Fe 2018, Longmont 2020) that the profiles plant; each test estimates them directly
from the truth table's potential outcomes (a simple ratio of means or odds), or, for the
confounding test, by inverse-probability weighting on the extracts with statsmodels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from leadeval.synth import generate_site


def odds(p):
    return p / (1 - p)


def realised_or(t, col):
    y0, y1 = t[f"{col}_y0"].dropna(), t[f"{col}_y1"].dropna()
    return odds(y1.mean()) / odds(y0.mean())


@pytest.fixture(scope="module")
def seattle():
    return generate_site("seattle", n_participants=4000, n_pool=16000, seed=2024)


def test_seattle_arrest_odds_ratios(seattle):
    """6-month arrest OR 0.40 and long-term arrest OR 0.42 (Collins et al. 2017): exact in the
    expected probabilities, within sampling error in the realised potential outcomes."""
    t = seattle.truth
    c = t["window_complete_post_182d"]
    exp182 = odds(t.loc[c, "p_arrest_post_182d_y1"].mean()) / odds(t.loc[c, "p_arrest_post_182d_y0"].mean())
    expall = odds(t["p_arrest_post_all_y1"].mean()) / odds(t["p_arrest_post_all_y0"].mean())
    assert exp182 == pytest.approx(0.40, rel=1e-3)
    assert expall == pytest.approx(0.42, rel=1e-3)
    assert realised_or(t, "arrest_post_182d") == pytest.approx(0.40, abs=0.05)
    assert realised_or(t, "arrest_post_all") == pytest.approx(0.42, abs=0.08)


def test_seattle_charges_prison_bookings(seattle):
    """Felony charge OR 0.61, prison OR about 0.13, 1.4 fewer bookings per person-year
    (Collins et al. 2017, 2019)."""
    t = seattle.truth
    assert realised_or(t, "felony_charge_post_all") == pytest.approx(0.61, abs=0.07)
    assert 0.07 < realised_or(t, "prison_post_all") < 0.22
    years = t["days_post_all"].sum() / 365.0
    diff = (t["bookings_post_all_y0"].sum() - t["bookings_post_all_y1"].sum()) / years
    assert diff == pytest.approx(1.4, abs=0.12)


def test_seattle_housing_vs_baseline_month(seattle):
    """Within-person odds of being sheltered (about 2) and in permanent housing (1.89) in months
    1-18 vs the month before referral (Clifasefi et al. 2017), from the Y(1) months."""
    t = seattle.truth
    months = t["months_observed_post_18m"].sum()
    for kind, target in (("sheltered", 2.0), ("permanent", 1.89)):
        base = t[f"{kind}_baseline"].mean()
        post = t[f"{kind}_months_post_18m_y1"].sum() / months
        assert odds(post) / odds(base) == pytest.approx(target, rel=0.12), kind
    # without LEAD the within-person contrast is smaller (only regression to the mean remains)
    post0 = t["permanent_months_post_18m_y0"].sum() / months
    assert odds(post0) / odds(t["permanent_baseline"].mean()) < 1.5


def _pool_and_lead_frame(site):
    """Person-level covariates and 182-day arrest outcome computed from the extracts only."""
    ex = site.extracts
    ros = ex["roster"].copy()
    end = pd.Timestamp(site.data_end_date)
    ros["t0"] = ros["referral_date"]
    ros["fend"] = ros["death_date"].fillna(end).clip(upper=end)
    ar = ex["arrests"].merge(ros[["person_id", "t0"]], on="person_id")
    delta = (ar["arrest_date"] - ar["t0"]).dt.days
    pre = ar[(delta >= -365) & (delta <= -1)].groupby("person_id").size()
    post = ar[(delta >= 1) & (delta <= 182)].groupby("person_id").size()
    ros["arrests_pre_365d"] = ros["person_id"].map(pre).fillna(0)
    ros["arrest_post_182d"] = (ros["person_id"].map(post).fillna(0) > 0).astype(float)
    ros.loc[ros["t0"] + pd.Timedelta(days=182) > ros["fend"], "arrest_post_182d"] = np.nan
    ho = ex["housing"].merge(ros[["person_id", "t0"]], on="person_id")
    m1 = ho["t0"].dt.to_period("M").dt.to_timestamp() - pd.offsets.MonthBegin(1)
    cover = (ho["start_date"] <= m1) & (ho["end_date"].isna() | (ho["end_date"] >= m1))
    unsh = ho[cover & (ho["status"] == "unsheltered")]["person_id"].unique()
    ros["unsheltered_m1"] = ros["person_id"].isin(unsh).astype(float)
    ros["age"] = (ros["t0"] - ros["birth_date"]).dt.days / 365.25
    ros["treated"] = (ros["group"] == "lead").astype(int)
    return ros


def test_confounding_is_real_and_weighting_on_pre_period_covariates_removes_it(seattle):
    """Participants differ from the pool before referral; the naive 6-month arrest contrast is
    biased; an ATT inverse-probability weighting on the pre-period covariates of the referral
    model (statsmodels logistic) recovers the participants' mean Y(0) from the pool."""
    df = _pool_and_lead_frame(seattle)
    lead, pool = df[df["treated"] == 1], df[df["treated"] == 0]
    assert lead["arrests_pre_365d"].mean() > 1.5 * pool["arrests_pre_365d"].mean()
    assert lead["unsheltered_m1"].mean() > pool["unsheltered_m1"].mean() + 0.1
    t = seattle.truth
    truth_y0 = t["arrest_post_182d_y0"].mean()
    naive_pool = pool["arrest_post_182d"].mean()
    assert abs(naive_pool - truth_y0) > 0.08  # naive comparison badly biased
    X = pd.get_dummies(df["area"], prefix="area", drop_first=True, dtype=float)
    X["log_arrests"] = np.log1p(df["arrests_pre_365d"])
    X["unsheltered_m1"] = df["unsheltered_m1"]
    X["age"] = df["age"]
    X = sm.add_constant(X)
    ps = sm.Logit(df["treated"], X).fit(disp=0).predict(X)
    w = ps / (1 - ps)
    ok = (df["treated"] == 0) & df["arrest_post_182d"].notna()
    weighted_pool = np.average(df.loc[ok, "arrest_post_182d"], weights=w[ok])
    assert weighted_pool == pytest.approx(truth_y0, abs=0.025)
    naive_or = odds(lead["arrest_post_182d"].mean()) / odds(naive_pool)
    assert abs(np.log(naive_or) - np.log(realised_or(t, "arrest_post_182d"))) > 0.3


def test_seattle_program_cost_curve(seattle):
    """Program cost per enrolled participant-month: $899 on average, $532 in month 29."""
    pc = seattle.program_cost
    ev = pc[pc["in_evaluation"]]
    assert ev["spending"].sum() / ev["enrolled"].sum() == pytest.approx(899.0, abs=0.01)
    assert pc.loc[pc["program_month"] == 29, "cost_per_participant_month"].item() == pytest.approx(532.0, abs=0.01)


def test_santa_fe_six_month_only_and_ems():
    """Santa Fe: arrests reduced in the first 6 months only (OR 0.55 planted), EMS calls down 13%,
    shorter detention (STUDIES.md, Santa Fe 2018)."""
    t = generate_site("santa_fe", n_participants=3000, n_pool=6000, seed=7).truth
    assert realised_or(t, "arrest_post_182d") == pytest.approx(0.55, abs=0.07)
    later0 = (t["arrests_post_all_y0"] - t["arrests_post_182d_y0"].where(t["window_complete_post_182d"])).sum()
    later1 = (t["arrests_post_all_y1"] - t["arrests_post_182d_y1"].where(t["window_complete_post_182d"])).sum()
    assert later1 / later0 == pytest.approx(1.0, abs=0.03)
    assert t["ems_calls_post_all_y1"].sum() / t["ems_calls_post_all_y0"].sum() == pytest.approx(0.87, abs=0.02)
    jail_ratio = t["jail_days_post_all_y1"].sum() / t["jail_days_post_all_y0"].sum()
    assert jail_ratio < 0.85


def test_longmont_rate_drop_after_first_contact():
    """Longmont: arrest rate halves after the first case-manager contact (the index date)."""
    site = generate_site("longmont", n_participants=3000, n_pool=300, seed=3)
    t = site.truth
    ratio = t["arrests_post_all_y1"].sum() / t["arrests_post_all_y0"].sum()
    assert ratio == pytest.approx(0.5, abs=0.04)
    ros = site.extracts["roster"].set_index("person_id")
    assert (t["index_date"].to_numpy() == ros.loc[t["person_id"], "first_contact_date"].to_numpy()).all()


def test_longmont_fewer_arrests_per_contact():
    """Longmont: 20% fewer arrests per case-manager contact in the same month. Poisson GLM
    (statsmodels) of each participant-month's arrests on its contacts, counted from the extracts,
    with the planted baseline hazard as offset: the contact coefficient estimates log(0.8)."""
    site = generate_site("longmont", n_participants=2000, n_pool=100, seed=5)
    ex, t = site.extracts, site.truth.set_index("person_id")
    ros = ex["roster"].set_index("person_id").loc[t.index].set_axis(t.index)
    rho, decay = 0.8, site.profile.contacts_decay
    fc_m = ros["first_contact_date"].dt.to_period("M")
    stop = ros["exit_date"].fillna(t["followup_end"]).clip(upper=t["followup_end"])
    rows = []
    for k in range(1, 25):  # months after the index (first-contact) month; a loop over months
        month = fc_m + k
        start = month.dt.to_timestamp()
        full = (month.dt.to_timestamp(how="end").dt.normalize() < t["followup_end"]) & (
            month <= stop.dt.to_period("M")
        )
        rate = t["contact_rate_per_month"] * np.exp(-decay * k)
        rows.append(pd.DataFrame({
            "person_id": t.index[full], "month": month[full].astype(str), "days": start[full].dt.days_in_month,
            "lam": t.loc[full, "lambda_arrest_per_year"] / 365.0, "expect": np.exp(-(1 - rho) * rate[full]),
        }))
    pm = pd.concat(rows, ignore_index=True)
    for name, col in (("arrests", "arrest_date"), ("contacts", "contact_date")):
        n = ex[name].assign(month=ex[name][col].dt.to_period("M").astype(str)).groupby(["person_id", "month"]).size()
        pm[name] = n.reindex(pd.MultiIndex.from_frame(pm[["person_id", "month"]])).fillna(0).to_numpy()
    offset = np.log(pm["lam"] * pm["days"] * 0.5 / pm["expect"])
    fit = sm.GLM(pm["arrests"], sm.add_constant(pm[["contacts"]]), family=sm.families.Poisson(),
                 offset=offset).fit()
    assert np.exp(fit.params["contacts"]) == pytest.approx(0.8, abs=0.04)
    assert fit.params["const"] == pytest.approx(0.0, abs=0.1)


def test_effects_are_configurable():
    """An overridden target is planted instead of the profile default (expected marginal OR from
    the truth's hazards, exact by calibration), and the realised OR follows it."""
    t = generate_site("seattle", 1500, 1500, seed=9, effects={"arrest_or_182": 0.7}).truth
    c = t["window_complete_post_182d"]
    expected = odds(t.loc[c, "p_arrest_post_182d_y1"].mean()) / odds(t.loc[c, "p_arrest_post_182d_y0"].mean())
    assert expected == pytest.approx(0.7, rel=1e-3)
    assert realised_or(t, "arrest_post_182d") == pytest.approx(0.7, abs=0.1)
