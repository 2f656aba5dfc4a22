"""Discounting, net benefit, benefit-cost ratio, break-even month, triangular draws and the Monte
Carlo chance that benefits exceed costs.

References: hand arithmetic (in each test); scipy.stats.triang for the triangular inverse CDF.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from leadeval.config import CostsConfig, ProgramCostInput
from leadeval.costs import (
    benefit_cost,
    cost_savings,
    discount_factors,
    monte_carlo,
    present_value,
    triangular_draws,
    unit_cost_table,
)
from leadeval.errors import CostError

CPI = pd.Series({2019: 100.0, 2020: 102.0})


def test_discount_factors_and_present_value_by_hand():
    """End-of-month payments: v_m = 1.03^(-m/12); one year out v_12 = 1/1.03."""
    v = discount_factors(12, 0.03)
    assert v[-1] == pytest.approx(1 / 1.03)
    assert v[0] == pytest.approx(1.03 ** (-1 / 12))
    assert present_value(100.0, 0.0, 12) == 1200.0
    # two months of 100 at 12%: 100 / 1.12^(1/12) + 100 / 1.12^(2/12)
    assert present_value([100.0, 100.0], 0.12) == pytest.approx(
        100 / 1.12 ** (1 / 12) + 100 / 1.12 ** (2 / 12)
    )
    with pytest.raises(CostError, match="discount rate"):
        discount_factors(3, 1.5)


def test_benefit_cost_break_even_with_front_loaded_cost():
    """Benefit 150/month for 12 months; program cost 600 paid in month 1. Undiscounted:
    PV benefits 1800, costs 600, net 1200, BCR 3; cumulative benefits reach 600 in month 4."""
    bc = benefit_cost(150.0, [600.0], horizon_months=12, program_months=1, discount_rate=0.0)
    assert bc.benefits_pv == 1800 and bc.costs_pv == 600
    assert bc.net_benefit == 1200 and bc.bcr == 3.0
    assert bc.break_even_month == 4
    f = bc.to_frame().set_index("term")["estimate"]
    assert f["break_even_month"] == 4
    assert bc.monthly["cumulative_net"].iloc[2] == -150  # month 3: 450 - 600


def test_benefit_cost_discounted_and_never_breaking_even():
    """Benefit 100/month, cost 120/month for 12 months at 3%: net = -20 * sum(v_m)."""
    bc = benefit_cost(100.0, 120.0, horizon_months=12, discount_rate=0.03)
    a = sum(1.03 ** (-m / 12) for m in range(1, 13))
    assert bc.net_benefit == pytest.approx(-20 * a)
    assert bc.bcr == pytest.approx(100 / 120)
    assert bc.break_even_month is None


def test_benefit_cost_from_savings_result():
    """A savings result of 1200/year -> 100/month of benefits."""
    df = _matched_pairs(20, effect=12.0, seed=1)
    s = cost_savings(df, _uc(), post_window=365, replicates=100, seed=1)
    bc = benefit_cost(s, 50.0, horizon_months=12, discount_rate=0.0)
    assert bc.benefits_pv == pytest.approx(s.savings)


def test_triangular_inverse_cdf_matches_scipy():
    """scipy.stats.triang(c=(mode-low)/(high-low), loc=low, scale=high-low).ppf is the reference;
    by hand: low 0, mode 1, high 3, u = 0.25 -> sqrt(0.25*3*1); u = 0.5 -> 3 - sqrt(0.5*3*2)."""
    u = np.linspace(0, 1, 101)
    ref = stats.triang(c=1 / 3, loc=0, scale=3).ppf(u)
    np.testing.assert_allclose(triangular_draws(0.0, 1.0, 3.0, u), ref, atol=1e-12)
    assert triangular_draws(0.0, 1.0, 3.0, np.array([0.25]))[0] == pytest.approx(np.sqrt(0.75))
    assert triangular_draws(0.0, 1.0, 3.0, np.array([0.5]))[0] == pytest.approx(3 - np.sqrt(3))
    assert triangular_draws(5.0, 5.0, 5.0, u).tolist() == [5.0] * 101
    np.testing.assert_allclose(triangular_draws(2.0, 2.0, 4.0, u), stats.triang(0, 2, 2).ppf(u))


def _uc(low=None, high=None):
    rng = {} if low is None else {"low": low, "high": high}
    return unit_cost_table(
        {"jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2019, **rng}}, 2019, CPI
    )


def _matched_pairs(n_pairs, effect, seed):
    rng = np.random.default_rng(seed)
    n = 2 * n_pairs
    treated = np.tile([1, 0], n_pairs)
    pre = rng.poisson(20, n)
    post = rng.poisson(20, n) - np.where(treated == 1, effect, 0)
    return pd.DataFrame(
        {
            "person_id": [f"p{i:04d}" for i in range(n)],
            "treated": treated,
            "subclass": np.repeat(np.arange(n_pairs), 2),
            "followup_days": 365,
            "jail_days_pre_365d": pre,
            "jail_days_post_365d": np.maximum(post, 0),
        }
    )


def test_monte_carlo_with_fixed_prices_draws_bootstrap_replicates():
    """Fixed unit and program costs: every draw's annual benefit is one bootstrap replicate of the
    savings, so P(net > 0) approaches the share of replicates with savings > 12 x program cost."""
    s = cost_savings(_matched_pairs(60, effect=3.0, seed=3), _uc(), replicates=500, seed=2)
    mc = monte_carlo(s, 25.0, horizon_months=12, discount_rate=0.0, draws=20000, seed=4)
    reps = s.savings_replicates()["total"].to_numpy()
    assert np.isin(np.round(mc.draws["benefits_pv"], 6), np.round(reps, 6)).all()
    assert (mc.draws["costs_pv"] == 300.0).all()
    assert mc.prob_positive == pytest.approx(np.mean(reps > 300.0), abs=0.015)
    f = mc.to_frame().set_index("term")
    assert f.loc["prob_benefits_exceed_costs", "estimate"] == mc.prob_positive
    assert f.loc["net_benefit", "conf_low"] < f.loc["net_benefit", "conf_high"]


def test_monte_carlo_draws_costs_from_ranges_and_is_seeded():
    """Uniform jail-day cost 50..150 (mean 100) and program cost (amount 30, 20..40) in 2020
    dollars restated to 2019 by 100/102; mean benefit = mean(price) x mean(effect) (independent
    draws)."""
    s = cost_savings(_matched_pairs(60, effect=3.0, seed=3), _uc(50, 150), replicates=400, seed=2)
    pc = ProgramCostInput(amount=30.0, price_year=2020, low=20.0, high=40.0)
    cfg = CostsConfig(
        monte_carlo_draws=20000, range_distribution="uniform", seed=9, discount_rate=0.0
    )
    mc = monte_carlo(s, pc, costs=cfg, cpi=CPI)
    eff = s.effect_replicates()[:, 0].mean()
    assert mc.draws["benefits_pv"].mean() == pytest.approx(100 * eff, rel=0.03)
    costs = mc.draws["costs_pv"]
    assert costs.min() >= 12 * 20 * 100 / 102 - 1e-9 and costs.max() <= 12 * 40 * 100 / 102 + 1e-9
    assert costs.mean() == pytest.approx(12 * 30 * 100 / 102, rel=0.01)
    again = monte_carlo(s, pc, costs=cfg, cpi=CPI)
    pd.testing.assert_frame_equal(mc.draws, again.draws)


def test_monte_carlo_errors():
    s = cost_savings(_matched_pairs(10, 1.0, 1), _uc(), scale="window", replicates=100)
    with pytest.raises(CostError, match="scale='year'"):
        monte_carlo(s, 10.0)
    s = cost_savings(_matched_pairs(10, 1.0, 1), _uc(), replicates=100)
    with pytest.raises(CostError, match=r"\(amount, low, high\)"):
        monte_carlo(s, (10.0, 20.0, 30.0))
    with pytest.raises(CostError, match="distribution must be"):
        monte_carlo(s, 10.0, distribution="normal", draws=100)
