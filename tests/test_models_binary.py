"""Binary outcomes against R (tests/reference/models/models_reference.R): glm + sandwich::vcovCL,
brglm2 (Firth), geepack::geeglm; plus Firth's closed form for a 2x2 table, planted effects and
separation / error handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_helpers import Matched, data, reference

from leadeval.errors import ConvergenceWarning, ModelError
from leadeval.models import firth_logistic, fit_gee_prepost, fit_logistic


@pytest.fixture(scope="module")
def rossi():
    return data("rossi")


@pytest.fixture(scope="module")
def prepost_wide():
    pp = data("prepost")
    wide = pp.pivot(index="id", columns="post", values="y").rename(
        columns={0: "y_pre", 1: "y_post"}
    )
    return wide.join(pp.groupby("id")[["treated", "w", "age"]].first()).reset_index()


def test_logistic_matches_r_glm(rossi):
    """R: glm(arrest ~ fin + age + prio, family = binomial): coefficients 1e-6; SEs 1e-4 (R
    reports the information of its last IRLS step, which differs in the 6th decimal)."""
    ref = reference()["logistic"]
    fit = fit_logistic(rossi, "arrest", "fin", ["age", "prio"], weights=None, cluster=None)
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se"], atol=1e-4)
    assert fit.variance.startswith("model-based")


def test_weighted_logistic_cluster_robust_matches_vcovcl(rossi):
    """R: glm(..., weights = w) with sandwich::vcovCL(fit, cluster = ~pair, type = 'HC1'): the
    CR1 convention G/(G-1)(n-1)/(n-k). vcovCL's 'HC0' keeps G/(G-1) (cadjust = TRUE), so it
    differs by exactly (n-1)/(n-k)."""
    ref = reference()["logistic_weighted"]
    fit = fit_logistic(rossi, "arrest", "fin", ["age", "prio"], weights="w", cluster="pair")
    np.testing.assert_allclose(fit.table["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["se_cl_hc1"], atol=1e-6)
    n, k = len(rossi), 4
    hc0 = np.asarray(ref["se_cl_hc0"]) * np.sqrt((n - 1) / (n - k))
    np.testing.assert_allclose(fit.table["std_error"], hc0, rtol=1e-6)
    assert "CR1" in fit.variance and fit.to_frame()["events"].iloc[0] == rossi["arrest"].sum()


def test_firth_matches_brglm2():
    """R: brglm2::brglmFit(type = 'AS_mean') (Firth 1993) on a separated data set (x >= 2 always
    has the event), unweighted and weighted, and on Rossi; also the independent R optim()
    maximum of the penalised likelihood. Coefficients and SEs 1e-6."""
    ref = reference()
    sep = data("firth_separated")
    X = np.column_stack([np.ones(len(sep)), sep["x"], sep["z"]])
    y = sep["y"].to_numpy(float)
    fit = firth_logistic(X, y)
    np.testing.assert_allclose(fit.params, ref["firth_brglm2"]["coef"], atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), ref["firth_brglm2"]["se"], atol=1e-6)
    np.testing.assert_allclose(fit.params, ref["firth"]["coef"], atol=1e-5)  # BFGS precision
    assert fit.loglik_penalised == pytest.approx(ref["firth"]["loglik_pen"], abs=1e-9)
    rw = ref["firth_brglm2_weighted"]
    fit = firth_logistic(X, y, np.asarray(rw["w"]))
    np.testing.assert_allclose(fit.params, rw["coef"], atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), rw["se"], atol=1e-6)
    rossi = data("rossi")
    fit = fit_logistic(
        rossi, "arrest", "fin", ["age", "prio"], weights=None, cluster=None, firth=True
    )
    np.testing.assert_allclose(fit.table["estimate"], ref["firth_rossi"]["coef"], atol=1e-6)
    np.testing.assert_allclose(fit.table["std_error"], ref["firth_rossi"]["se"], atol=1e-6)
    assert fit.model == "firth_logistic"


def test_firth_closed_form_two_by_two():
    """Firth's estimate for one binary covariate is the log odds ratio with 1/2 added to every
    cell (Firth 1993; Heinze & Schemper 2002), finite even with an empty cell."""
    a, b, c, d = 12, 0, 7, 9  # treated: 12 events, 0 non-events; control: 7 / 9
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    x = np.r_[np.ones(a + b), np.zeros(c + d)]
    fit = firth_logistic(np.column_stack([np.ones_like(x), x]), y)
    assert fit.params[1] == pytest.approx(
        np.log((a + 0.5) * (d + 0.5) / ((b + 0.5) * (c + 0.5))), abs=1e-8
    )


def test_separation_falls_back_to_firth_with_warning():
    """No events in the treated group: ML diverges; firth='auto' warns and gives finite Firth
    estimates; firth=False raises a ModelError saying what to do."""
    rng = np.random.default_rng(5)
    d = pd.DataFrame({"treated": np.repeat([1, 0], 60), "age": rng.uniform(18, 60, 120)})
    d["y"] = np.where(d["treated"] == 1, 0, (rng.uniform(size=120) < 0.4).astype(int))
    with pytest.warns(ConvergenceWarning, match="logistic \\(y\\).*Firth"):
        fit = fit_logistic(d, "y", covariates=["age"])
    assert fit.model == "firth_logistic" and np.isfinite(fit.table["std_error"]).all()
    assert fit.term("treated")["ratio"] < 0.2
    with pytest.raises(ModelError, match="separation"):
        fit_logistic(d, "y", firth=False)


def test_logistic_input_errors_and_missing_outcomes(rossi):
    """Missing outcomes (incomplete windows) are dropped and noted; non-binary outcomes, constant
    outcomes, partly missing clusters and non-frames are clear errors."""
    d = rossi.assign(arrest=rossi["arrest"].astype(float))
    d.loc[:9, "arrest"] = np.nan
    fit = fit_logistic(d, "arrest", "fin")
    assert fit.n == len(rossi) - 10 and "10 rows with missing 'arrest'" in fit.notes[0]
    with pytest.raises(ModelError, match="must be 0/1"):
        fit_logistic(rossi, "prio", "fin")
    with pytest.raises(ModelError, match="is 0 for every row"):
        fit_logistic(rossi.assign(arrest=0), "arrest", "fin")
    d = rossi.assign(pair=rossi["pair"].astype(float))
    d.loc[5, "pair"] = np.nan
    with pytest.raises(ModelError, match=r"cluster column 'pair' is missing for 1 row"):
        fit_logistic(d, "arrest", "fin", cluster="pair")
    with pytest.raises(ModelError, match="expected a pandas DataFrame"):
        fit_logistic([1, 2], "arrest")


def test_gee_prepost_matches_geepack(prepost_wide):
    """R: geeglm(y ~ treated * post, id = id, weights = w, family = binomial, corstr =
    'exchangeable' | 'independence'): coefficients 1e-6, robust SEs 1e-6."""
    ref = reference()
    for corstr, key in (("exchangeable", "gee_exch"), ("independence", "gee_indep")):
        fit = fit_gee_prepost(prepost_wide, "y_pre", "y_post", weights="w", id="id", corstr=corstr)
        assert list(fit.table["term"]) == ["(Intercept)", "treated", "post", "treated:post"]
        np.testing.assert_allclose(fit.table["estimate"], ref[key]["coef"], atol=1e-6)
        np.testing.assert_allclose(fit.table["std_error"], ref[key]["se"], atol=1e-6)


def test_gee_prepost_with_covariate_matches_geepack(prepost_wide):
    """R: geeglm(y ~ treated * post + age, id = id, family = binomial, corstr = 'exchangeable'):
    non-saturated, so the working correlation matters; ours uses geepack's moment estimators
    (no df correction): alpha 1e-6, coefficients 1e-6, SEs 1e-6."""
    ref = reference()["gee_exch_unw"]
    fit = fit_gee_prepost(
        prepost_wide, "y_pre", "y_post", covariates=["age"], weights=None, id="id"
    )
    est = fit.table.set_index("term").loc[["(Intercept)", "treated", "post", "age", "treated:post"]]
    np.testing.assert_allclose(est["estimate"], ref["coef"], atol=1e-6)
    np.testing.assert_allclose(est["std_error"], ref["se"], atol=1e-6)
    assert fit.details["working_correlation"] == pytest.approx(ref["alpha"], abs=1e-6)


def test_gee_prepost_planted_interaction_recovered():
    """Planted effect: marginal pre/post probabilities with a treated x post odds ratio of 0.40
    (the Seattle headline), weights constant within person, from a MatchedSample-like object; the
    95% CI covers log(0.40). (Fixed seed; coverage over seeds is in benchmarks/models_coverage.py.)"""
    rng = np.random.default_rng(8)
    n = 3000
    treated = rng.integers(0, 2, n)
    logit = {(0, 0): 0.2, (0, 1): 0.1, (1, 0): 0.4}
    logit[(1, 1)] = logit[(1, 0)] + logit[(0, 1)] - logit[(0, 0)] + np.log(0.40)
    lp_pre = np.where(treated == 1, logit[(1, 0)], logit[(0, 0)])
    lp_post = np.where(treated == 1, logit[(1, 1)], logit[(0, 1)])
    # correlated pre/post through a shared uniform (Gaussian copula-free: same draw shifted)
    u = rng.uniform(size=n)
    v = np.where(rng.uniform(size=n) < 0.5, u, rng.uniform(size=n))
    d = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "pre": (u < 1 / (1 + np.exp(-lp_pre))).astype(int),
            "post": (v < 1 / (1 + np.exp(-lp_post))).astype(int),
            "weights": np.where(treated == 1, 1.0, rng.uniform(0.5, 1.5, n)),
        }
    )
    fit = fit_gee_prepost(Matched(d), "pre", "post")
    row = fit.term("treated:post")
    assert row["conf_low"] < np.log(0.40) < row["conf_high"]
    assert fit.details["effect_term"] == "treated:post"


def test_gee_prepost_errors(prepost_wide):
    """Duplicated persons and an unknown working correlation are clear errors."""
    dup = pd.concat([prepost_wide, prepost_wide.iloc[:1]])
    with pytest.raises(ModelError, match="'id' is duplicated"):
        fit_gee_prepost(dup, "y_pre", "y_post", id="id", weights=None)
    with pytest.raises(ModelError, match="corstr must be one of"):
        fit_gee_prepost(prepost_wide, "y_pre", "y_post", id="id", weights=None, corstr="unstructured")


def test_gee_prepost_weighted_with_covariate_vs_geepack(prepost_wide):
    """R: geeglm(y ~ treated * post + age, id = id, weights = w, family = binomial, corstr =
    'independence' | 'exchangeable'). Independence: exact (1e-8). Exchangeable with weights that
    vary between persons in a non-saturated model: known difference, geepack's moment estimator
    of the correlation uses the weights differently (alpha 0.149 vs our 0.142), which moves the
    coefficients by < 5e-5 and robust SEs by < 1e-6; tested at 1e-4 / 1e-5 for that reason."""
    ref = reference()
    order = ["(Intercept)", "treated", "post", "age", "treated:post"]
    for corstr, key, tol_b, tol_se in (
        ("independence", "gee_indep_w_age", 1e-8, 1e-8),
        ("exchangeable", "gee_exch_w_age", 1e-4, 1e-5),
    ):
        fit = fit_gee_prepost(
            prepost_wide, "y_pre", "y_post", covariates=["age"], weights="w", id="id", corstr=corstr
        )
        est = fit.table.set_index("term").loc[order]
        np.testing.assert_allclose(est["estimate"], ref[key]["coef"], atol=tol_b)
        np.testing.assert_allclose(est["std_error"], ref[key]["se"], atol=tol_se)


def test_firth_profile_intervals_match_r():
    """R (models_reference.R): profile penalised-likelihood 95% CIs and penalised LR p-values
    (logistf's defaults) computed by optim over the other coefficients + uniroot, on the
    separated data; fit_logistic(firth=True) reports them (1e-6)."""
    ref = reference()["firth"]
    sep = data("firth_separated").assign(treated=lambda d: d["x"])
    fit = fit_logistic(
        sep, "y", treatment="x", covariates=["z"], weights=None, cluster=None, firth=True
    )
    np.testing.assert_allclose(fit.table["conf_low"], ref["ci_low"], atol=1e-6)
    np.testing.assert_allclose(fit.table["conf_high"], ref["ci_high"], atol=1e-6)
    np.testing.assert_allclose(fit.table["p_value"], ref["p_value"], atol=1e-6)
    row = fit.term("x")
    assert row["ratio_low"] == pytest.approx(np.exp(ref["ci_low"][1]), rel=1e-6)
