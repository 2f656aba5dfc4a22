"""leadeval.costs against committed R output (tests/reference/costs/*.R made the CSVs):
weighted pre/post means and DiD savings (base R weighted.mean / ratio of sums) and the
fixed + variable program cost fit with its projected intervals (lm, predict(interval=...))."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadeval.costs import cost_savings, program_cost_curve, unit_cost_table

REF = Path(__file__).parent / "reference" / "costs"


@pytest.mark.parametrize("scale", ["window", "year"])
def test_weighted_did_matches_r(scale):
    """R: weighted_did.R (weighted.mean per group and period; per person-year = sum(w c) /
    sum(w years), years = min(365, followup_days) / 365.25 after, 365 / 365.25 before)."""
    data = pd.read_csv(REF / "weighted_did_data.csv", dtype={"person_id": str})
    ref = pd.read_csv(REF / "weighted_did_estimates.csv").query("scale == @scale")
    uc = unit_cost_table(
        {
            "booking": {"measure": "bookings", "amount": 450, "price_year": 2019},
            "jail_day": {"measure": "jail_days", "amount": 130, "price_year": 2019},
        },
        2019,
        pd.Series({2019: 100.0}),
    )
    s = cost_savings(data, uc, scale=scale, replicates=100, seed=1, weights="weights")
    got = s.to_frame().query("category == 'total'").set_index("term")["estimate"]
    np.testing.assert_allclose(
        got.loc[ref["term"]].to_numpy(), ref["estimate"].to_numpy(), rtol=1e-10
    )


def test_cost_curve_fit_and_projection_match_r():
    """R: cost_curve_fit.R (lm(spending ~ n); predict(..., interval='confidence'/'prediction') / n)."""
    d = pd.read_csv(REF / "cost_curve_data.csv")
    months = pd.date_range("2014-01-01", periods=len(d), freq="MS")
    ledger = pd.DataFrame(
        {"month": months.strftime("%Y-%m"), "amount": d["spending"].astype(float)}
    )
    enrolled = pd.Series(d["enrolled"].to_numpy(float), index=months)
    fit = program_cost_curve(ledger, enrolment=enrolled, dollar_year="nominal").fit()
    ref_fit = pd.read_csv(REF / "cost_curve_fit.csv")
    got = fit.to_frame()
    for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
        np.testing.assert_allclose(got[col], ref_fit[col], rtol=1e-8, err_msg=col)
    ref_p = pd.read_csv(REF / "cost_curve_projection.csv")
    proj = fit.project(ref_p["enrolment"].to_numpy())
    for col in ("estimate", "conf_low", "conf_high", "pred_low", "pred_high"):
        np.testing.assert_allclose(proj[col], ref_p[col], rtol=1e-10, err_msg=col)
