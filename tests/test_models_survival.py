"""Survival models against R's survival package (reference: tests/reference/models/
models_reference.R, on lifelines' Rossi recidivism data and R's NCCTG lung data), plus planted
effects and error handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_helpers import Matched, data, reference

from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models import (
    RESULT_COLUMNS,
    cumulative_incidence,
    fit_cox,
    fit_km,
    fit_recurrent_cox,
    logrank_test,
)

COVS = ["age", "race", "wexp", "mar", "paro", "prio"]
TERMS = ["fin", *COVS]


@pytest.fixture(scope="module")
def rossi():
    return data("rossi")


def test_cox_efron_matches_r(rossi):
    """R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, ties = 'efron');
    coefficients 1e-6, SEs 1e-6, log-likelihoods, concordance 1e-4, cox.zph chi-squares 1e-5."""
    ref = reference()["cox_plain"]
    fit = fit_cox(
        rossi, "week", "arrest", treatment="fin", covariates=COVS, weights=None, cluster=None
    )
    assert list(fit.table["term"]) == ref["names"]
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-6)
    assert fit.details["loglik"] == pytest.approx(ref["loglik"][1], abs=1e-6)
    assert fit.details["loglik_null"] == pytest.approx(ref["loglik"][0], abs=1e-6)
    assert fit.details["concordance"] == pytest.approx(ref["concordance"], abs=1e-4)
    ph = fit.details["ph_test"]
    assert list(ph.index) == ref["zph_names"]
    np.testing.assert_allclose(ph["chisq"], ref["zph_chisq"], atol=1e-5)
    np.testing.assert_allclose(ph["p_value"], ref["zph_p"], atol=1e-6)
    assert fit.n == ref["n"] and fit.events == ref["nevent"]


def test_cox_robust_and_weighted_cluster_match_r(rossi):
    """R: coxph(..., robust = TRUE) and coxph(..., weights = w, cluster = pair): our sandwich uses
    Efron-consistent score residuals, so robust SEs agree to 1e-6 (lifelines' would be 1-4% off)."""
    ref = reference()
    fit = fit_cox(rossi, "week", "arrest", "fin", COVS, weights=None, cluster=None, robust=True)
    np.testing.assert_allclose(fit.table["std_error"], ref["cox_robust"]["se"], atol=1e-6)
    fit = fit_cox(rossi, "week", "arrest", "fin", COVS, weights="w", cluster="pair")
    r = ref["cox_weighted_cluster"]
    np.testing.assert_allclose(fit.table["estimate"], r["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], r["se"], atol=1e-6)
    np.testing.assert_allclose(fit.details["naive_std_error"], r["naive_se"], atol=1e-6)
    np.testing.assert_allclose(fit.details["ph_test"]["chisq"], r["zph_chisq"], atol=1e-5)
    assert "pair" in fit.variance


def test_cox_breslow_matches_r(rossi):
    """R: coxph(..., ties = 'breslow')."""
    ref = reference()["cox_breslow"]
    fit = fit_cox(rossi, "week", "arrest", "fin", COVS, weights=None, cluster=None, ties="breslow")
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-6)


def test_cox_result_vocabulary_and_matched_input(rossi):
    """Result columns of DESIGN.md section 4; a MatchedSample-like object with default
    weights/subclass columns gives the same fit as naming them."""
    frame = rossi.rename(columns={"fin": "treated", "w": "weights", "pair": "subclass"})
    fit = fit_cox(Matched(frame), "week", "arrest", covariates=["age", "prio"])
    named = fit_cox(rossi, "week", "arrest", "fin", ["age", "prio"], weights="w", cluster="pair")
    out = fit.to_frame()
    assert list(out.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    np.testing.assert_allclose(out["std_error"], named.table["std_error"], rtol=1e-12)
    row = fit.term("treated")
    assert row["ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert row["ratio_low"] < row["ratio"] < row["ratio_high"]
    assert row["e_value"] > 1 and "hazard ratio" in fit.summary()


def test_cox_invariant_to_row_order(rossi):
    """Same inputs in another row order -> identical estimates and robust SEs."""
    a = fit_cox(rossi, "week", "arrest", "fin", COVS, weights="w", cluster="pair")
    b = fit_cox(
        rossi.sample(frac=1, random_state=3),
        "week",
        "arrest",
        "fin",
        COVS,
        weights="w",
        cluster="pair",
    )
    np.testing.assert_allclose(a.table["estimate"], b.table["estimate"], atol=1e-10)
    np.testing.assert_allclose(a.table["std_error"], b.table["std_error"], atol=1e-10)


def test_cox_planted_hazard_ratio_recovered():
    """Planted effect: exponential times with HR 0.6 for treated in 1:1 pairs (cluster by pair),
    uniform censoring; the 95% CI covers log(0.6). (No shared frailty: with one, the Cox HR is a
    marginal HR attenuated towards 1, a different estimand.)"""
    rng = np.random.default_rng(11)
    pairs = 1500
    frail = 1.0
    treated = np.tile([1, 0], pairs)
    t = rng.exponential(1 / (0.002 * frail * np.exp(np.log(0.6) * treated)))
    c = rng.uniform(200, 730, 2 * pairs)
    d = pd.DataFrame(
        {
            "treated": treated,
            "subclass": np.repeat(np.arange(pairs), 2),
            "days": np.ceil(np.minimum(t, c)),
            "event": (t <= c).astype(int),
        }
    )
    fit = fit_cox(d, "days", "event")
    row = fit.term("treated")
    assert row["conf_low"] < np.log(0.6) < row["conf_high"]


def test_cox_errors(rossi):
    """Clear errors: zero events in a group, collinear covariates, negative durations, missing
    columns, bad event codes."""
    d = rossi.copy()
    d.loc[d["fin"] == 1, "arrest"] = 0
    with pytest.raises(ModelError, match="no 'arrest' events where fin = 1"):
        fit_cox(d, "week", "arrest", "fin")
    d = rossi.assign(age2=rossi["age"] * 2)
    with pytest.raises(ModelError, match="collinear.*age2"):
        fit_cox(d, "week", "arrest", "fin", ["age", "age2"])
    d = rossi.copy()
    d.loc[3, "week"] = -1
    with pytest.raises(ModelError, match=r"'week' is negative in rows \[3\]"):
        fit_cox(d, "week", "arrest", "fin")
    with pytest.raises(ModelError, match=r"column\(s\) \['nope'\] not found"):
        fit_cox(rossi, "week", "arrest", "fin", ["nope"])
    with pytest.raises(ModelError, match="must be 0/1"):
        fit_cox(rossi.assign(arrest=rossi["arrest"] * 2), "week", "arrest", "fin")
    with pytest.raises(ModelError, match="weights 'w' has negative"):
        fit_cox(rossi.assign(w=-rossi["w"]), "week", "arrest", "fin", weights="w")


def test_cox_monotone_likelihood_warns(rossi):
    """A covariate level with no events makes the partial likelihood monotone: a
    ConvergenceWarning naming the model, never a silent NaN or a silent huge estimate."""
    d = rossi.assign(flag=0)
    d.loc[d.index[:40], "flag"] = 1
    d.loc[d["flag"] == 1, "arrest"] = 0
    with pytest.warns(ConvergenceWarning, match="cox"):
        fit = fit_cox(d, "week", "arrest", "fin", ["flag"])
    assert np.isfinite(fit.table["estimate"]).all() and fit.notes


def test_km_matches_r(rossi):
    """R: summary(survfit(Surv(week, arrest) ~ fin, conf.type = 'log'), times = ...), unweighted;
    weighted with robust = FALSE (weighted Greenwood); weighted with R's default robust (IJ)
    variance; and weighted with cluster = pair: survival, SE, CI and n.risk to 1e-8."""
    cases = (
        ("km", None, None, "auto"),
        ("km_weighted", "w", None, "greenwood"),
        ("km_weighted_robust", "w", None, "auto"),
        ("km_weighted_cluster", "w", "pair", "auto"),
    )
    for key, weights, cluster, variance in cases:
        ref = reference()[key]
        km = fit_km(
            rossi,
            "week",
            "arrest",
            group="fin",
            weights=weights,
            cluster=cluster,
            variance=variance,
        )
        at = km.at([5, 10, 20, 30, 40, 52]).sort_values(["group", "time"])
        np.testing.assert_allclose(at["estimate"], ref["surv"], atol=1e-8)
        np.testing.assert_allclose(at["std_error"], ref["std_err"], atol=1e-8)
        np.testing.assert_allclose(at["conf_low"], ref["lower"], atol=1e-8)
        np.testing.assert_allclose(at["conf_high"], ref["upper"], atol=1e-8)
        np.testing.assert_allclose(at["n_risk"], ref["n_risk"], atol=1e-8)
    assert km.weighted


def test_km_median_matches_r():
    """R: survfit(Surv(time, status) ~ sex, data = lung): medians and their 95% limits."""
    ref = reference()["km_lung"]
    km = fit_km(data("lung"), "time", "status", group="sex")
    med = km.details["medians"]
    np.testing.assert_allclose(med["median"], ref["median"])
    np.testing.assert_allclose(med["conf_low"], ref["median_lower"])
    np.testing.assert_allclose(med["conf_high"], ref["median_upper"])
    at = km.at([100, 200, 365, 500]).sort_values(["group", "time"])
    np.testing.assert_allclose(at["estimate"], ref["surv"], atol=1e-8)
    np.testing.assert_allclose(at["at_risk"], ref["n_risk"])


def test_logrank_matches_r(rossi):
    """R: survdiff(Surv(week, arrest) ~ fin) and on lung by sex; weighted: the Cox score test,
    coxph(Surv(week, arrest) ~ fin, weights = w, ties = 'breslow')$score."""
    ref = reference()
    lr = logrank_test(rossi, "week", "arrest", "fin", weights=None)
    assert lr.statistic == pytest.approx(ref["logrank"]["chisq"], abs=1e-8)
    np.testing.assert_allclose(lr.details["table"]["observed"], ref["logrank"]["obs"])
    np.testing.assert_allclose(lr.details["table"]["expected"], ref["logrank"]["exp"], atol=1e-8)
    wl = logrank_test(rossi, "week", "arrest", "fin", weights="w")
    assert wl.statistic == pytest.approx(ref["logrank_weighted"]["score"], abs=1e-8)
    assert logrank_test(data("lung"), "time", "status", "sex").statistic == pytest.approx(
        ref["logrank_lung"]["chisq"], abs=1e-8
    )
    with pytest.raises(ModelError, match="single level"):
        logrank_test(rossi.assign(fin=1), "week", "arrest", "fin")


def test_andersen_gill_matches_r():
    """R: coxph(Surv(start, stop, event) ~ treated + age, cluster = id, ties = 'efron') on the
    committed synthetic recurrent-arrest data: coefficients, naive and robust SEs to 1e-6."""
    ref = reference()["andersen_gill"]
    fit = fit_recurrent_cox(data("recurrent"), id="id", covariates=["age"])
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-6)
    np.testing.assert_allclose(fit.details["naive_std_error"], ref["naive_se"], atol=1e-6)
    assert fit.events == ref["nevent"]
    # the planted log rate ratio -0.4 (make_data.py) is inside the 95% CI
    row = fit.term("treated")
    assert row["conf_low"] < -0.4 < row["conf_high"]
    bad = data("recurrent")
    bad.loc[0, "start"] = bad.loc[0, "stop"]
    with pytest.raises(ModelError, match="intervals are"):
        fit_recurrent_cox(bad, id="id")


def test_aalen_johansen_matches_r():
    """R: survfit(Surv(time, factor(event)) ~ treated) multi-state (Aalen-Johansen): cumulative
    incidence and its infinitesimal-jackknife SE at 90/182/365/600 days to 1e-8."""
    ref = reference()["aalen_johansen"]
    ci = cumulative_incidence(data("compete"), "time", "event", group="treated")
    at = ci.at([90, 182, 365, 600])
    pstate = np.array(ref["pstate"])
    se = np.array(ref["std_err"])
    for j, state in enumerate(["arrest", "prison", "death"], start=1):
        mine = at[at["state"] == state].sort_values(["group", "time"])
        np.testing.assert_allclose(mine["estimate"], pstate[:, j], atol=1e-8)
        np.testing.assert_allclose(mine["std_error"], se[:, j], atol=1e-8)


def test_zero_weight_rows_are_dropped(rossi):
    """Rows with weight 0 (unmatched units) are dropped and noted: the fit equals the fit on the
    positive-weight rows (they would otherwise count in Efron's tie fractions and in n)."""
    d = rossi.copy()
    d.loc[d.index[::7], "w"] = 0.0
    fit = fit_cox(d, "week", "arrest", "fin", ["age", "prio"], weights="w", cluster="pair")
    sub = fit_cox(
        d[d["w"] > 0], "week", "arrest", "fin", ["age", "prio"], weights="w", cluster="pair"
    )
    np.testing.assert_allclose(fit.table["estimate"], sub.table["estimate"], atol=1e-12)
    assert fit.n == sub.n == int((d["w"] > 0).sum())
    assert any("zero weight" in n for n in fit.notes)
    km = fit_km(d, "week", "arrest", group="fin", weights="w")
    assert km.curves.groupby("group")["at_risk"].max().sum() == fit.n


def test_aalen_johansen_weighted_clustered_matches_r():
    """R: survfit(Surv(time, ev) ~ treated, weights = w) (multi-state), w = 0.5 + ((row - 1) mod
    5) / 4: estimates and IJ SEs 1e-8. Pair-clustered SEs (pair = (row - 1) div 2 + 1) against
    R's IJ residuals, resid(fit, type = 'pstate') * w summed by pair within stratum (survfit's
    own `cluster =` is not applied to multi-state curves in survival 3.5.3)."""
    ref = reference()["aalen_johansen_weighted"]
    d = data("compete")
    row = np.arange(len(d))
    d["w"] = 0.5 + (row % 5) / 4
    d["pair"] = row // 2 + 1
    pstate = np.array(ref["pstate"])
    for cluster, key in ((None, "std_err"), ("pair", "std_err_pair")):
        ci = cumulative_incidence(d, "time", "event", weights="w", cluster=cluster)
        at = ci.at([90, 182, 365, 600])
        se = np.array(ref[key])
        for j, state in enumerate(["arrest", "prison", "death"], start=1):
            mine = at[at["state"] == state].sort_values(["group", "time"])
            np.testing.assert_allclose(mine["estimate"], pstate[:, j], atol=1e-8)
            np.testing.assert_allclose(mine["std_error"], se[:, j], atol=1e-8)


def test_ij_variance_blocks_equal_dense():
    """The blockwise infinitesimal-jackknife sum equals the dense computation for any block size
    (clusters are never split across blocks)."""
    from leadeval.models.survival import _ij_variance

    rng = np.random.default_rng(0)
    D = rng.normal(size=(50, 7))
    clusters = rng.integers(0, 13, 50)
    dense = pd.DataFrame(D).groupby(clusters).sum().pow(2).sum().to_numpy()
    for chunk in (1, 3, 10, 1000):
        np.testing.assert_allclose(_ij_variance(lambda idx: D[idx], 50, clusters, chunk), dense)
    np.testing.assert_allclose(_ij_variance(lambda idx: D[idx], 50, None, 4), (D**2).sum(axis=0))
