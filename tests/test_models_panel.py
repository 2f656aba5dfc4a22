"""Within-subject panel models against R (tests/reference/models/models_reference.R):
Poisson with person fixed effects (glm + factor(person_id), sandwich::vcovCL) and
geepack::geeglm on person-months; plus planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_helpers import data, reference

from leadeval.errors import ModelError
from leadeval.models import fit_panel_gee, fit_within_person_rate


@pytest.fixture(scope="module")
def panel():
    return data("panel")


def test_within_person_rate_matches_r_fixed_effects(panel):
    """R: glm(arrests ~ post + cumulative_contacts + factor(person_id) + offset(log(days/365)),
    poisson) excluding the index month: the conditional Poisson slopes equal the dummy-variable
    fit (1e-8); model-based SEs 1e-6; robust SEs equal vcovCL(type = 'HC0') times our CR1
    factor (n-1)/(n-k) (1e-6)."""
    ref = reference()["within_person"]
    fit = fit_within_person_rate(panel, contacts="cumulative_contacts")
    assert fit.n == ref["n"]
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-8)
    np.testing.assert_allclose(fit.details["model_based_std_error"], ref["se"], atol=1e-6)
    n, k = fit.n, 2
    np.testing.assert_allclose(
        fit.table["std_error"], np.asarray(ref["se_cl_hc0"]) * np.sqrt((n - 1) / (n - k)), atol=1e-6
    )
    assert list(fit.table["term"]) == ["post", "cumulative_contacts"]
    # planted in make_data.py: post log RR -0.6, per-contact -0.03
    assert fit.term("post")["conf_low"] < -0.6 < fit.term("post")["conf_high"]
    c = fit.term("cumulative_contacts")
    assert c["conf_low"] < -0.03 < c["conf_high"]


def test_panel_gee_matches_geepack(panel):
    """R: geeglm(sheltered ~ relevel(factor(month_offset), '-1') + contacts, id = person_id,
    family = binomial, corstr = 'exchangeable') on months -1..18: coefficients 1e-5, SEs 1e-5,
    working correlation 1e-6."""
    ref = reference()["panel_gee"]
    fit = fit_panel_gee(panel, "sheltered", contacts="contacts")
    assert fit.table["term"].iloc[1] == "month=0" and fit.table["term"].iloc[-1] == "contacts"
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-5)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-5)
    assert fit.details["working_correlation"] == pytest.approx(ref["alpha"], abs=1e-6)


def test_panel_gee_followup_indicator_and_errors(panel):
    """One follow-up indicator instead of month dummies; a baseline month outside the panel and
    a panel that is all-before the index are clear errors."""
    fit = fit_panel_gee(panel, "sheltered", by_month=False)
    assert list(fit.table["term"]) == ["(Intercept)", "followup"]
    assert fit.term("followup")["ratio"] > 1  # planted: sheltering rises after referral
    with pytest.raises(ModelError, match="no rows in the baseline month"):
        fit_panel_gee(panel, "sheltered", baseline_month=-30, months=None)
    with pytest.raises(ModelError, match="all rows are before"):
        fit_within_person_rate(panel[panel["month_offset"] < 0])


def test_within_person_rate_planted_effect():
    """Planted effect: 400 persons x 24 months, rate halves after first contact (RR 0.5) with a
    gamma frailty; the 95% CI covers log(0.5)."""
    rng = np.random.default_rng(4)
    n = 400
    months = np.r_[-12:0, 1:13]
    p = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), len(months)),
            "month_offset": np.tile(months, n),
            "days_observed": 30,
        }
    )
    frail = np.repeat(rng.gamma(2.0, 0.5, n), len(months))
    p["arrests"] = rng.poisson(0.2 * frail * np.where(p["month_offset"] > 0, 0.5, 1.0))
    row = fit_within_person_rate(p).term("post")
    assert row["conf_low"] < np.log(0.5) < row["conf_high"]


def test_within_person_time_varying_covariates_planted():
    """Planted effect (Clifasefi et al. 2017 design): months sheltered have 17% fewer arrests
    (RR 0.83) and employed months 33% fewer (RR 0.67), within person; persons who are sheltered
    more often also have a higher baseline rate (confounding that the person effects remove).
    The 95% CIs cover log(0.83) and log(0.67); a collinear covariate is a clear error."""
    rng = np.random.default_rng(12)
    n, months = 600, np.r_[-12:0, 1:19]
    p = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), len(months)),
            "month_offset": np.tile(months, n),
            "days_observed": 30,
        }
    )
    propensity = np.repeat(rng.uniform(0.1, 0.9, n), len(months))
    p["sheltered"] = (rng.uniform(size=len(p)) < propensity).astype(int)
    p["employed"] = (rng.uniform(size=len(p)) < 0.3).astype(int)
    base = 0.15 * np.exp(1.5 * propensity) * np.repeat(rng.gamma(2.0, 0.5, n), len(months))
    p["arrests"] = rng.poisson(base * 0.83 ** p["sheltered"] * 0.67 ** p["employed"])
    fit = fit_within_person_rate(p, covariates=["sheltered", "employed"])
    for term, rr in (("sheltered", 0.83), ("employed", 0.67)):
        row = fit.term(term)
        assert row["conf_low"] < np.log(rr) < row["conf_high"]
    with pytest.raises(ModelError, match="collinear"):
        fit_within_person_rate(
            p.assign(post2=(p["month_offset"] > 0).astype(int)), covariates=["post2"]
        )
