"""Count models against R (tests/reference/models/models_reference.R): glm(poisson) with a log
exposure offset, MASS::glm.nb, sandwich::vcovHC; plus planted DiD effects and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_helpers import Matched, data, reference

from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models import fit_count, fit_count_did


@pytest.fixture(scope="module")
def counts():
    return data("counts")


def test_poisson_offset_matches_r(counts):
    """R: glm(y ~ treated + pre + offset(log(exposure / 365)), family = poisson): coefficients
    1e-6, SEs 1e-5 (R's vcov is from its last IRLS step); robust by row = vcovHC('HC0') times
    n/(n-k) (our CR1 with one row per cluster)."""
    ref = reference()["poisson"]
    fit = fit_count(counts, "y", "exposure", covariates=["pre"], weights=None, cluster=None)
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-5)
    d = counts.assign(row=np.arange(len(counts)))
    rob = fit_count(d, "y", "exposure", covariates=["pre"], weights=None, cluster="row")
    n, k = len(d), 3
    np.testing.assert_allclose(
        rob.table["std_error"], np.asarray(ref["se_hc0"]) * np.sqrt(n / (n - k)), rtol=1e-5
    )


def test_negbin_offset_matches_glm_nb(counts):
    """R: MASS::glm.nb(y ~ treated + pre + offset(log(exposure / 365))): coefficients 1e-6, SEs
    1e-6, theta 1e-5 and its SE 1e-4 (numerical second derivative)."""
    ref = reference()["negbin"]
    fit = fit_count(
        counts, "y", "exposure", covariates=["pre"], family="negbin", weights=None, cluster=None
    )
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-6)
    assert fit.details["theta"] == pytest.approx(ref["theta"], abs=1e-5)
    assert fit.details["theta_std_error"] == pytest.approx(ref["se_theta"], abs=1e-4)
    assert fit.ratio_name == "rate ratio" and fit.model == "count_negbin"


def test_standardised_annual_rates_consistent(counts):
    """The g-computation rates are the mean predicted yearly rates with treated set to 1 / 0;
    with no covariates they are exp(b0 + b1) and exp(b0)."""
    fit = fit_count(counts, "y", "exposure", weights=None, cluster=None)
    b0, b1 = fit.params["(Intercept)"], fit.params["treated"]
    rates = fit.details["annual_rates"].iloc[0]
    assert rates["rate_treated"] == pytest.approx(np.exp(b0 + b1))
    assert rates["rate_control"] == pytest.approx(np.exp(b0))
    assert rates["conf_low"] < rates["difference"] < rates["conf_high"]


def test_count_did_planted_effects_recovered():
    """Planted effect: pre/post NB counts for 1:1 pairs with a ratio of rate ratios of 0.55 and
    unequal exposure; the 95% CIs cover log(0.55) and the true annualised DiD of the rates
    (treated 3.0 -> 1.65 vs comparison 3.0 -> 3.0 bookings per year: -1.35)."""
    rng = np.random.default_rng(21)
    n = 4000
    treated = np.tile([1, 0], n // 2)
    frail = rng.gamma(2.0, 0.5, n)
    e_pre = rng.integers(200, 366, n)
    e_post = rng.integers(150, 366, n)
    r_pre = 3.0 * frail
    r_post = np.where(treated == 1, 3.0 * 0.55, 3.0) * frail
    d = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "subclass": np.repeat(np.arange(n // 2), 2),
            "weights": 1.0,
            "e_pre": e_pre,
            "e_post": e_post,
            "b_pre": rng.poisson(r_pre * e_pre / 365),
            "b_post": rng.poisson(r_post * e_post / 365),
        }
    )
    fit = fit_count_did(Matched(d), "b_pre", "b_post", "e_pre", "e_post", cluster="subclass")
    row = fit.term("treated:post")
    assert row["conf_low"] < np.log(0.55) < row["conf_high"]
    did = fit.details["did"].iloc[0]
    assert did["conf_low"] < -1.35 < did["conf_high"]
    assert "subclass" in fit.variance


def test_count_errors_and_warnings(counts):
    """Zero events in a group, negative or fractional counts are errors; zero-exposure rows (no
    time at risk, even with an event) are left out and counted, never a refused model;
    underdispersed counts in a negative binomial model warn that theta runs to infinity."""
    with pytest.raises(ModelError, match="no 'y' events where treated = \\[1\\]"):
        fit_count(
            counts.assign(y=np.where(counts["treated"] == 1, 0, counts["y"])), "y", "exposure"
        )
    bad = counts.copy()
    bad.loc[[0, 1], ["y", "exposure"]] = [[2, 0], [0, 0]]  # in custody for the whole window
    fit = fit_count(bad, "y", "exposure")
    assert fit.n == len(bad) - 2
    assert fit.fit_stats["excluded_zero_exposure"] == 2
    assert fit.fit_stats["excluded_zero_exposure_events"] == 1
    assert "2 rows with zero 'exposure' left out" in fit.notes[0]
    assert "1 of them had 'y' > 0" in fit.notes[0]
    with pytest.raises(ModelError, match="non-negative whole-number"):
        fit_count(counts.assign(y=counts["y"] + 0.5), "y", "exposure")
    with pytest.raises(ModelError, match="family must be one of"):
        fit_count(counts, "y", "exposure", family="zip")
    rng = np.random.default_rng(1)
    pois = pd.DataFrame(
        {"treated": np.repeat([0, 1], 300), "days": 365, "y": rng.binomial(4, 0.5, 600)}
    )  # underdispersed
    with pytest.warns(ConvergenceWarning, match="theta -> infinity"):
        fit_count(pois, "y", "days", family="negbin")


def test_standardised_rates_over_treated_with_covariates(counts):
    """With covariates the rates are standardised over the treated rows (ATT) by default: the
    mean of exp(x'b) with treated set to 1 / 0 over treated rows; 'all' uses every row."""
    fit = fit_count(counts, "y", "exposure", covariates=["pre"], weights=None, cluster=None)
    b = fit.params
    tr = counts[counts["treated"] == 1]
    r1 = np.exp(b["(Intercept)"] + b["treated"] + b["pre"] * tr["pre"]).mean()
    r0 = np.exp(b["(Intercept)"] + b["pre"] * tr["pre"]).mean()
    rates = fit.details["annual_rates"].iloc[0]
    assert rates["rate_treated"] == pytest.approx(r1) and rates["rate_control"] == pytest.approx(r0)
    every = fit_count(
        counts, "y", "exposure", covariates=["pre"], weights=None, cluster=None, standardise="all"
    )
    r1_all = np.exp(b["(Intercept)"] + b["treated"] + b["pre"] * counts["pre"]).mean()
    assert every.details["annual_rates"]["rate_treated"].iloc[0] == pytest.approx(r1_all)
    with pytest.raises(ModelError, match="standardise must be"):
        fit_count(counts, "y", "exposure", standardise="control")


def test_pair_bootstrap_interval(counts):
    """interval='bootstrap': percentile limits of a cluster bootstrap (reference: a direct
    numpy resampling of the rows with the ratio of the groups' rates, which is the Poisson MLE
    of an unadjusted rate ratio); seeded, so the same seed gives the same interval."""
    kw = {"family": "poisson", "weights": None, "cluster": None, "interval": "bootstrap"}
    fit = fit_count(counts, "y", "exposure", n_boot=100, seed=7, **kw)
    again = fit_count(counts, "y", "exposure", n_boot=100, seed=7, **kw)
    pd.testing.assert_frame_equal(fit.table, again.table)
    rng = np.random.default_rng(7)
    y, e, t = (counts[c].to_numpy(float) for c in ("y", "exposure", "treated"))
    logs = []
    for _ in range(100):
        m = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        logs.append(np.log((m * y * t).sum() / (m * e * t).sum())
                    - np.log((m * y * (1 - t)).sum() / (m * e * (1 - t)).sum()))
    row = fit.term("treated")
    assert row["conf_low"] == pytest.approx(np.quantile(logs, 0.025), abs=1e-8)
    assert row["conf_high"] == pytest.approx(np.quantile(logs, 0.975), abs=1e-8)
    assert row["std_error"] == pytest.approx(np.std(logs, ddof=1), abs=1e-8)
    rates = fit.details["annual_rates"].iloc[0]
    assert rates["conf_low"] < rates["difference"] < rates["conf_high"]
    assert "bootstrap" in fit.variance
    with pytest.raises(ModelError, match="interval must be"):
        fit_count(counts, "y", "exposure", interval="jackknife")
