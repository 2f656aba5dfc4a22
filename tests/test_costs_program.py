"""Program cost curves: participant-months from the roster, cost per participant-month from the
ledger, running average, month below a level, fixed + variable cost fit and projection.

References: hand arithmetic on tiny fixtures (in each test); the OLS fit against numpy's
least squares and the closed-form OLS prediction interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from leadeval.costs import enrolment_by_month, program_cost_curve
from leadeval.errors import CostError


def ledger():
    return pd.DataFrame(
        {
            "month": ["2013-01", "2013-01", "2013-02", "2013-03"],
            "category": ["staff", "rent", "staff", "staff"],
            "amount": [2500.0, 500.0, 2000.0, 1500.0],
        }
    )


def roster():
    return pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d", "p"],
            "group": ["lead", "lead", "lead", "lead", "pool"],
            "enrollment_date": [
                "2013-01-15",
                "2013-02-01",
                "2013-03-10",
                "2013-03-05",
                "2013-01-01",
            ],
            "exit_date": [None, "2013-02-20", None, "2013-03-09", None],
        }
    )


def test_participant_months_any_day_and_fraction():
    """any_day: Jan a; Feb a, b; Mar a, c, d -> 1, 2, 3 (the pool member never counts).
    fraction: Jan a 17/31 (15th..31st); Feb a 28/28 + b 20/28; Mar a 1 + c 22/31 + d 5/31."""
    months = pd.date_range("2013-01-01", "2013-03-01", freq="MS")
    anyd = enrolment_by_month(roster(), months)
    assert anyd.tolist() == [1.0, 2.0, 3.0]
    frac = enrolment_by_month(roster(), months, count="fraction")
    np.testing.assert_allclose(frac.to_numpy(), [17 / 31, 1 + 20 / 28, 1 + 22 / 31 + 5 / 31])


def test_enrolment_ends_at_death_or_data_end():
    r = pd.DataFrame(
        {"person_id": ["a"], "enrollment_date": ["2013-01-10"], "death_date": ["2013-02-14"]}
    )
    months = pd.date_range("2013-01-01", "2013-04-01", freq="MS")
    assert enrolment_by_month(r, months).tolist() == [1, 1, 0, 0]
    r2 = r.drop(columns="death_date")
    e = enrolment_by_month(
        r2, months, count="fraction", data_end_date=pd.Timestamp("2013-03-15").date()
    )
    np.testing.assert_allclose(e.to_numpy(), [22 / 31, 1, 15 / 31, 0])


def test_cost_per_participant_month_and_running_average():
    """Spending 3000, 2000, 1500; participant-months 1, 2, 3 -> 3000, 1000, 500 per
    participant-month; running average 3000/1, 5000/3, 6500/6."""
    c = program_cost_curve(ledger(), roster(), dollar_year="nominal")
    t = c.table
    assert t["program_month"].tolist() == [1, 2, 3]
    assert t["spending"].tolist() == [3000.0, 2000.0, 1500.0]
    assert t["cost_per_participant_month"].tolist() == [3000.0, 1000.0, 500.0]
    np.testing.assert_allclose(t["running_average"], [3000, 5000 / 3, 6500 / 6])
    assert c.average == pytest.approx(6500 / 6)
    assert c.month_below(1200) == 2
    assert c.month_below(1200, which="running") == 3
    assert c.month_below(100) is None


def test_start_up_months_enter_the_running_average_only():
    """A December start-up month of 1000 with nobody enrolled: its cost per participant-month is
    undefined; the running average in January is (1000 + 3000) / 1."""
    led = pd.concat(
        [
            pd.DataFrame({"month": ["2012-12"], "category": ["startup"], "amount": [1000.0]}),
            ledger(),
        ]
    )
    t = program_cost_curve(led, roster(), dollar_year="nominal").table
    assert np.isnan(t.loc[0, "cost_per_participant_month"]) and np.isnan(
        t.loc[0, "running_average"]
    )
    assert t.loc[1, "running_average"] == 4000.0
    # a gap month in the ledger is a month of zero spending, not a missing month
    gap = ledger()[ledger()["month"] != "2013-02"]
    spending = program_cost_curve(gap, roster(), dollar_year="nominal").table["spending"]
    assert spending.tolist() == [3000.0, 0.0, 1500.0]


def test_ledger_in_constant_dollars():
    """2012 spending restated in 2013 dollars by CPI 2013/2012 = 110/100."""
    led = pd.DataFrame(
        {"month": ["2012-12", "2013-01"], "category": "staff", "amount": [1000.0, 1000.0]}
    )
    cpi = pd.Series({2012: 100.0, 2013: 110.0})
    r = pd.DataFrame({"person_id": ["a"], "enrollment_date": ["2012-12-01"]})
    t = program_cost_curve(led, r, dollar_year=2013, cpi=cpi).table
    assert t["spending"].tolist() == pytest.approx([1100.0, 1000.0])


def test_enrolment_given_directly():
    e = pd.Series([2.0, 4.0, 5.0], index=pd.to_datetime(["2013-01-01", "2013-02-01", "2013-03-01"]))
    t = program_cost_curve(ledger(), enrolment=e, dollar_year="nominal").table
    assert t["cost_per_participant_month"].tolist() == [1500.0, 500.0, 300.0]


def _synthetic_curve(fixed, variable, n, noise, seed):
    rng = np.random.default_rng(seed)
    months = pd.date_range("2012-01-01", periods=len(n), freq="MS")
    spend = fixed + variable * n + rng.normal(0, noise, len(n))
    led = pd.DataFrame({"month": months.strftime("%Y-%m"), "category": "all", "amount": spend})
    return led, pd.Series(n.astype(float), index=months)


def test_fit_and_projection_against_ols_by_hand():
    """S_t = F + v n_t + e; reference: numpy least squares and the textbook OLS intervals
    (mean: se = s sqrt(x0' (X'X)^-1 x0); prediction adds s^2), divided by n."""
    n = np.arange(5, 65, 2)
    led, e = _synthetic_curve(20000, 350, n, 800, seed=1)
    fit = program_cost_curve(led, enrolment=e, dollar_year="nominal").fit()
    x = np.column_stack([np.ones_like(n), n]).astype(float)
    y = led["amount"].to_numpy()
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert fit.fixed == pytest.approx(beta[0]) and fit.variable == pytest.approx(beta[1])
    resid = y - x @ beta
    s2 = resid @ resid / (len(n) - 2)
    x0 = np.array([1.0, 200.0])
    se_mean = np.sqrt(s2 * x0 @ np.linalg.inv(x.T @ x) @ x0)
    q = stats.t.ppf(0.975, len(n) - 2)
    p = fit.project(200).iloc[0]
    mean = x0 @ beta
    assert p["estimate"] == pytest.approx(mean / 200)
    assert p["conf_low"] == pytest.approx((mean - q * se_mean) / 200)
    assert p["pred_high"] == pytest.approx((mean + q * np.sqrt(s2 + se_mean**2)) / 200)
    assert fit.to_frame()["term"].tolist() == ["fixed_per_month", "variable_per_participant_month"]


def test_exact_fixed_plus_variable_curve_is_recovered():
    """Spending exactly 10000 + 300 n: per participant-month 10000/n + 300 at every n."""
    n = np.array([10, 20, 40, 50, 80, 100])
    led, e = _synthetic_curve(10000, 300, n, 0.0, seed=0)
    curve = program_cost_curve(led, enrolment=e, dollar_year="nominal")
    np.testing.assert_allclose(curve.table["cost_per_participant_month"], 10000 / n + 300)
    proj = curve.fit().project([200, 400])
    np.testing.assert_allclose(proj["estimate"], [350.0, 325.0])


def test_program_errors():
    bad = ledger().assign(month=["Jan 13", "2013-01", "2013-02", "2013-03"])
    with pytest.raises(CostError, match="not in YYYY-MM form"):
        program_cost_curve(bad, roster(), dollar_year="nominal")
    with pytest.raises(CostError, match="no column 'amount'"):
        program_cost_curve(ledger().drop(columns="amount"), roster(), dollar_year="nominal")
    with pytest.raises(CostError, match="give the roster"):
        program_cost_curve(ledger(), dollar_year="nominal")
    with pytest.raises(CostError, match="at least 3 months"):
        program_cost_curve(ledger().iloc[:2], roster(), dollar_year="nominal").fit()
    with pytest.raises(CostError, match="no column 'first_contact_date'"):
        program_cost_curve(ledger(), roster(), start="first_contact_date", dollar_year="nominal")


def test_curve_from_extracts_uses_canonical_tables_and_data_end():
    """Extracts: ledger months are first-of-month dates, open enrolments end at the data end
    (2013-02-14: fraction of February 14/28)."""
    import leadeval as le

    ro = (
        roster()
        .drop(columns="exit_date")
        .iloc[:1]
        .assign(referral_date="2013-01-15", birth_year=1980)
    )
    led = ledger()[ledger()["month"] != "2013-03"]
    ex = le.Extracts.from_frames({"roster": ro, "program_ledger": led}, data_end_date="2013-02-14")
    t = program_cost_curve(ex, ex, count="fraction", dollar_year="nominal").table
    np.testing.assert_allclose(t["participant_months"], [17 / 31, 14 / 28])
    assert t["spending"].tolist() == [3000.0, 2000.0]


def test_dollar_year_is_required_and_mixing_dollars_raises():
    """Nominal and constant dollars never mix silently: a curve needs a dollar year (or an
    explicit 'nominal', or a config to take it from), and combining a nominal or other-year curve
    with constant-dollar savings raises."""
    from leadeval.config import CostsConfig
    from leadeval.costs import program_cost_per_month

    with pytest.raises(CostError, match="say which dollars"):
        program_cost_curve(ledger(), roster())
    cfg = CostsConfig(dollar_year=2022)
    curve = program_cost_curve(ledger(), roster(), costs=cfg)
    assert curve.dollar_year == 2022
    nominal = program_cost_curve(ledger(), roster(), dollar_year="nominal")
    assert nominal.dollar_year is None
    assert curve.average > nominal.average  # the ledger's years are before 2022
    assert program_cost_per_month(curve, 2022) == pytest.approx(curve.average)
    with pytest.raises(CostError, match="nominal dollars but the savings are in 2022"):
        program_cost_per_month(nominal, 2022)
    with pytest.raises(CostError, match="2022 dollars but the savings are in 2019"):
        program_cost_per_month(curve, 2019)
