"""Cumulative savings by follow-up month from the panel, and the four cost figures.

Reference: hand arithmetic on a tiny panel (in the test).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from leadeval.costs import (  # noqa: E402
    benefit_cost,
    cost_savings,
    cumulative_savings,
    monte_carlo,
    plot_cost_bars,
    plot_cumulative_savings,
    plot_net_benefit,
    plot_program_cost,
    program_cost_curve,
    unit_cost_table,
)
from leadeval.errors import CostError  # noqa: E402

CPI = pd.Series({2019: 100.0})
UC = {
    "jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2019, "category": "jail"},
    "ems_call": {"measure": "ems_calls", "amount": 50, "price_year": 2019, "category": "ems"},
    "booking": {"measure": "bookings", "amount": 500, "price_year": 2019, "category": "jail"},
}


def panel():
    """a (LEAD, w 1), b (comparison, w 2) in pair 1; c (LEAD, w 1) in pair 2 is followed 1 month."""
    rows = [
        # person, offset, jail_days, ems_calls, days_observed
        ("a", -2, 2, 0, 30.4375),
        ("a", -1, 2, 2, 30.4375),
        ("a", 0, 5, 0, 30.4375),
        ("a", 1, 0, 1, 30.4375),
        ("a", 2, 1, 0, 30.4375),
        ("b", -1, 1, 0, 30.4375),
        ("b", 1, 2, 0, 30.4375),
        ("b", 2, 3, 2, 30.4375),
        ("c", -1, 4, 0, 30.4375),
        ("c", 1, 0, 0, 30.4375),
        ("z", 1, 99, 99, 30.4375),  # not in the matched sample: dropped
    ]
    return pd.DataFrame(
        rows, columns=["person_id", "month_offset", "jail_days", "ems_calls", "days_observed"]
    )


def matched():
    return pd.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "treated": [1, 0, 1],
            "weights": [1.0, 2.0, 1.0],
            "subclass": [1, 1, 2],
        }
    )


def test_cumulative_savings_by_hand():
    """Cost per person-month ($100/jail day, $50/EMS call; bookings are not a panel column).
    LEAD pre: a 200, 300; c 400 -> (200 + 300 + 400)/3 = 300. Comparison pre: b 100.
    Month 1: LEAD (50 + 0)/2 = 25, comparison 200 -> s1 = (200-100) - (25-300) = 375.
    Month 2: LEAD a 100, comparison b 400 -> s2 = (400-100) - (100-300) = 500. Cumulative 375, 875.
    Month 0 (index month) is left out."""
    uc = unit_cost_table(UC, 2019, CPI)
    cs = cumulative_savings(panel(), matched(), uc, replicates=50, seed=1)
    t = cs.table
    assert cs.measures_used == ("ems_calls", "jail_days") and cs.measures_missing == ("bookings",)
    assert cs.baseline == {"lead": pytest.approx(300.0), "comparison": pytest.approx(100.0)}
    assert t["month"].tolist() == [1, 2]
    np.testing.assert_allclose(t["lead"], [25, 100])
    np.testing.assert_allclose(t["comparison"], [200, 400])
    np.testing.assert_allclose(t["savings"], [375, 500])
    np.testing.assert_allclose(t["cumulative"], [375, 875])
    assert t["n_lead"].tolist() == [2, 1] and t["n_comparison"].tolist() == [1, 1]


def test_partial_months_use_days_observed():
    """b's month 2 observed 15.21875 days (half a month): its cost 400 counts per half month ->
    comparison month-2 rate 800 per person-month."""
    p = panel()
    p.loc[(p.person_id == "b") & (p.month_offset == 2), "days_observed"] = 30.4375 / 2
    cs = cumulative_savings(p, matched(), unit_cost_table(UC, 2019, CPI), replicates=20)
    assert cs.table["comparison"].iloc[1] == pytest.approx(800.0)


def test_cumulative_savings_errors():
    uc = unit_cost_table({"booking": UC["booking"]}, 2019, CPI)
    with pytest.raises(CostError, match="none of the priced measures"):
        cumulative_savings(panel(), matched(), uc, replicates=20)
    with pytest.raises(CostError, match="month_offset"):
        cumulative_savings(panel().drop(columns="month_offset"), matched(), uc, replicates=20)


def test_plots_return_axes():
    rng = np.random.default_rng(0)
    n = 40
    df = pd.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(n)],
            "treated": np.tile([1, 0], n // 2),
            "subclass": np.repeat(np.arange(n // 2), 2),
            "followup_days": 365,
            "jail_days_pre_365d": rng.poisson(10, n),
            "jail_days_post_365d": rng.poisson(8, n),
            "ems_calls_pre_365d": rng.poisson(3, n),
            "ems_calls_post_365d": rng.poisson(3, n),
            "bookings_pre_365d": rng.poisson(2, n),
            "bookings_post_365d": rng.poisson(2, n),
        }
    )
    uc = unit_cost_table(UC, 2019, CPI)
    s = cost_savings(df, uc, replicates=100, seed=1)
    assert isinstance(plot_cost_bars(s), Axes)
    cs = cumulative_savings(panel(), matched(), uc, replicates=20)
    assert isinstance(plot_cumulative_savings(cs), Axes)
    led = pd.DataFrame(
        {"month": ["2013-01", "2013-02", "2013-03"], "amount": [100.0, 200.0, 300.0]}
    )
    e = pd.Series([1.0, 2.0, 4.0], index=pd.date_range("2013-01-01", periods=3, freq="MS"))
    assert isinstance(plot_program_cost(program_cost_curve(led, enrolment=e, dollar_year="nominal")), Axes)
    mc = monte_carlo(s, 20.0, draws=500, seed=1)
    ax = plot_net_benefit(mc)
    assert isinstance(ax, Axes) and "Chance benefits exceed costs" in ax.get_title()
    assert benefit_cost(s, 20.0).to_frame().shape[0] == 5
    import matplotlib.pyplot as plt

    plt.close("all")
