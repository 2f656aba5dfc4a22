"""Model options of issue 13 against R: stratified Cox, Wei-Lin-Weissfeld and PWP recurrent-event
models on survival's bladder data, geepack's AR(1) GEE on the Ohio wheeze and respiratory data,
HC0/HC3 sandwiches, profile-likelihood intervals, KM log-log intervals, fit statistics.

Reference: tests/reference/models/options_reference.R -> options_reference.json (R 4.2.2,
survival 3.5.3, geepack 1.3.9, MASS 7.3-58.2, sandwich 3.0.2); the data are R's public data
sets, written to CSV by that script.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest
from models_helpers import REF_DIR, data

from leadeval.errors import ModelError
from leadeval.models import fit_count, fit_cox, fit_km, fit_logistic, fit_recurrent_cox
from leadeval.models.gee import fit_gee

COX_STATS = {"loglik": 1e-6, "score_test": 1e-6, "concordance": 1e-6, "concordance_se": 1e-6}


@cache
def ref() -> dict:
    return json.loads((REF_DIR / "options_reference.json").read_text())


def _check_cox(fit, r, tol=1e-6):
    assert list(fit.table["term"]) == r["names"]
    np.testing.assert_allclose(fit.table["estimate"], r["coef"], atol=tol)
    np.testing.assert_allclose(fit.table["std_error"], r["se"], atol=tol)
    if r.get("naive_se"):
        np.testing.assert_allclose(fit.details["naive_std_error"], r["naive_se"], atol=tol)
    assert fit.fit_stats["loglik"] == pytest.approx(r["loglik"][1], abs=tol)
    assert fit.fit_stats["loglik_null"] == pytest.approx(r["loglik"][0], abs=tol)
    assert fit.fit_stats["score_test"] == pytest.approx(r["score"], abs=tol)
    assert fit.fit_stats["concordance"] == pytest.approx(r["concordance"], abs=tol)
    assert fit.fit_stats["concordance_se"] == pytest.approx(r["concordance_se"], abs=tol)
    assert fit.n == r["n"] and fit.events == r["nevent"]


def test_wlw_on_bladder_matches_r():
    """R: coxph(Surv(stop, event) ~ rx + number + size + strata(enum) + cluster(id), data =
    bladder). Once on the WLW layout itself (fit_cox with strata and cluster) and once built by
    fit_recurrent_cox(method="wlw", max_events=4) from the counting-process bladder2: the same
    340 rows, coefficients, robust and naive SEs, log-likelihoods, score test, concordance and
    its clustered SE to 1e-6."""
    r = ref()["wlw"]
    direct = fit_cox(
        data("bladder"),
        "stop",
        "event",
        "rx",
        ["number", "size"],
        weights=None,
        cluster="id",
        strata="enum",
    )
    _check_cox(direct, r)
    built = fit_recurrent_cox(
        data("bladder2"),
        id="id",
        treatment="rx",
        covariates=["number", "size"],
        method="wlw",
        max_events=4,
    )
    _check_cox(built, r)
    assert built.fit_stats["persons"] == 85 and built.fit_stats["strata"] == 4


def test_pwp_and_andersen_gill_on_bladder2_match_r():
    """R: coxph(Surv(start, stop, event) ~ rx + number + size + strata(enum) + cluster(id), data =
    bladder2) (PWP total time; our strata are 1 + prior events, which is bladder2's enum) and the
    same without strata (Andersen-Gill)."""
    b2 = data("bladder2")
    for method, key in (("pwp", "pwp"), ("ag", "ag_bladder")):
        fit = fit_recurrent_cox(
            b2, id="id", treatment="rx", covariates=["number", "size"], method=method
        )
        _check_cox(fit, ref()[key])
        assert fit.fit_stats["persons"] == 85


def test_pair_stratified_cox_matches_r():
    """R: coxph(Surv(week, arrest) ~ fin + age + prio + strata(pair), data = rossi): the
    pair-stratified Cox after matching (model-based variance), and the unstratified fit's BIC
    (R: BIC(fit), n = events) and AIC."""
    rossi = data("rossi")
    fit = fit_cox(
        rossi, "week", "arrest", "fin", ["age", "prio"], weights=None, cluster=None, strata="pair"
    )
    _check_cox(fit, ref()["cox_pair_strata"])
    assert any("no proportional-hazards test" in n for n in fit.notes)
    plain = fit_cox(rossi, "week", "arrest", "fin", ["age", "prio"], weights=None, cluster=None)
    r = ref()["cox_plain_small"]
    _check_cox(plain, r)
    assert plain.fit_stats["aic"] == pytest.approx(-2 * r["loglik"][1] + 6, abs=1e-6)
    assert plain.fit_stats["bic"] == pytest.approx(-2 * r["loglik"][1] + 3 * np.log(114), abs=1e-6)
    frame = plain.fit_statistics()
    assert list(frame.columns) == ["model", "outcome", "statistic", "value"]
    assert "concordance_se" in set(frame["statistic"])


def test_strata_and_method_errors():
    """A missing stratum and an unknown recurrent method are clear errors."""
    rossi = data("rossi").astype({"pair": float})
    rossi.loc[3, "pair"] = np.nan
    with pytest.raises(ModelError, match="strata column"):
        fit_cox(rossi, "week", "arrest", "fin", weights=None, cluster=None, strata="pair")
    with pytest.raises(ModelError, match="method must be one of"):
        fit_recurrent_cox(data("bladder2"), id="id", treatment="rx", method="gap")


@pytest.mark.parametrize("corstr", ["ar1", "exchangeable", "independence"])
def test_gee_ohio_matches_geepack(corstr):
    """R: geeglm(resp ~ age + smoke, id = id, data = ohio, family = binomial, corstr = corstr)
    (ar1 with waves = age, which is geepack's default order here). Coefficients, robust and
    naive SEs, working correlation and scale to 1e-4 (geepack stops at its own tolerance,
    ~1e-5 from the fixed point for AR(1))."""
    r = ref()[f"gee_ohio_{corstr}"]
    fit = fit_gee(
        data("ohio"),
        "resp",
        ["age", "smoke"],
        id="id",
        corstr=corstr,
        time="age" if corstr == "ar1" else None,
    )
    np.testing.assert_allclose(fit.table["estimate"], r["coef"], atol=1e-4)
    np.testing.assert_allclose(fit.table["std_error"], r["se"], atol=1e-4)
    np.testing.assert_allclose(fit.details["naive_std_error"], r["naive_se"], atol=1e-4)
    assert fit.fit_stats["working_correlation"] == pytest.approx(r["alpha"] or 0.0, abs=1e-4)
    assert fit.fit_stats["scale"] == pytest.approx(r["scale"], abs=1e-4)
    assert fit.fit_stats["clusters"] == 537


def test_gee_ar1_categorical_weighted_and_poisson_match_geepack():
    """R: geeglm(outcome ~ treat + factor(center) + sex + age + baseline, id = pid, data =
    respiratory, family = binomial, corstr = 'ar1'), the same with weights = 0.5 + (pid %% 4) / 3,
    and geeglm(outcome ~ treat + age, family = poisson, corstr = 'ar1'). Categorical covariates
    enter as dummies against their first level (treat=P vs A, center=2, sex=M), as R's factors."""
    rs = data("respiratory").astype({"center": str})
    rs["w"] = 0.5 + (rs["pid"] % 4) / 3
    covs = ["treat", "center", "sex", "age", "baseline"]
    for key, kw in (("gee_resp_ar1", {}), ("gee_resp_ar1_w", {"weights": "w"})):
        r = ref()[key]
        fit = fit_gee(rs, "outcome", covs, id="pid", corstr="ar1", time="visit", **kw)
        assert [t.replace("[", "").replace("]", "") for t in fit.table["term"]] == r["names"]
        np.testing.assert_allclose(fit.table["estimate"], r["coef"], atol=1e-4)
        np.testing.assert_allclose(fit.table["std_error"], r["se"], atol=1e-5)
        np.testing.assert_allclose(fit.details["naive_std_error"], r["naive_se"], atol=1e-5)
        assert fit.fit_stats["working_correlation"] == pytest.approx(r["alpha"], abs=1e-4)
    r = ref()["gee_resp_ar1_pois"]
    fit = fit_gee(
        rs, "outcome", ["treat", "age"], id="pid", family="poisson", corstr="ar1", time="visit"
    )
    np.testing.assert_allclose(fit.table["estimate"], r["coef"], atol=1e-4)
    np.testing.assert_allclose(fit.table["std_error"], r["se"], atol=1e-5)
    assert fit.ratio_name == "rate ratio"


def test_gee_errors():
    """Unknown family or correlation, and a non-binary outcome for binomial, are clear errors."""
    o = data("ohio")
    with pytest.raises(ModelError, match="family must be one of"):
        fit_gee(o, "resp", ["age"], id="id", family="gamma")
    with pytest.raises(ModelError, match="corstr must be one of"):
        fit_gee(o, "resp", ["age"], id="id", corstr="toeplitz")
    with pytest.raises(ModelError, match="must be 0/1"):
        fit_gee(o.assign(resp=o["resp"] * 2), "resp", ["age"], id="id")


def test_logistic_hc_sandwiches_profile_ci_and_fit_stats_match_r():
    """R: fit <- glm(arrest ~ fin + age + prio, data = rossi, family = binomial);
    sandwich::vcovHC(fit, type = 'HC0' | 'HC1' | 'HC3') (1e-5: R's glm stops at epsilon 1e-8);
    MASS confint(fit) profile intervals (1e-4: MASS interpolates a spline through profile points,
    we solve the profile exactly); logLik, deviance, null deviance, AIC, BIC (1e-8). Weighted
    (weights = w): vcovHC HC0 / HC3."""
    rossi = data("rossi")
    r = ref()["logistic_options"]
    for kind in ("HC0", "HC1", "HC3"):
        fit = fit_logistic(
            rossi, "arrest", "fin", ["age", "prio"], weights=None, cluster=None, variance=kind
        )
        np.testing.assert_allclose(fit.table["std_error"], r[f"se_{kind.lower()}"], atol=1e-5)
        assert kind in fit.variance
    fit = fit_logistic(
        rossi, "arrest", "fin", ["age", "prio"], weights=None, cluster=None, ci="profile"
    )
    np.testing.assert_allclose(fit.table["conf_low"], r["profile_low"], atol=1e-4)
    np.testing.assert_allclose(fit.table["conf_high"], r["profile_high"], atol=1e-4)
    np.testing.assert_allclose(fit.table["ratio_low"][1:], np.exp(r["profile_low"][1:]), rtol=1e-4)
    for key in ("loglik", "deviance", "null_deviance", "aic", "bic"):
        assert fit.fit_stats[key] == pytest.approx(r[key], abs=1e-8)
    rw = ref()["logistic_weighted_hc3"]
    for kind in ("HC0", "HC3"):
        fit = fit_logistic(
            rossi, "arrest", "fin", ["age", "prio"], weights="w", cluster=None, variance=kind
        )
        np.testing.assert_allclose(fit.table["std_error"], rw[f"se_{kind.lower()}"], atol=1e-5)
    with pytest.raises(ModelError, match="variance must be one of"):
        fit_logistic(rossi, "arrest", "fin", weights=None, variance="HC2")


def test_km_log_log_intervals_match_r():
    """R: summary(survfit(Surv(week, arrest) ~ fin, data = rossi, conf.type = 'log-log'), times =
    c(5, 10, 20, 30, 40, 52)), unweighted and with weights = w, cluster = pair (robust IJ
    variance): limits to 1e-10, and 1 at S = 1 as R."""
    rossi = data("rossi")
    for key, kw in (
        ("km_loglog", {"weights": None, "cluster": None}),
        ("km_loglog_weighted", {"weights": "w", "cluster": "pair"}),
    ):
        r = ref()[key]
        km = fit_km(rossi, "week", "arrest", group="fin", conf_type="log-log", **kw)
        at = km.at([5, 10, 20, 30, 40, 52])
        np.testing.assert_allclose(at["estimate"], r["surv"], atol=1e-10)
        np.testing.assert_allclose(at["conf_low"], r["lower"], atol=1e-10)
        np.testing.assert_allclose(at["conf_high"], r["upper"], atol=1e-10)
    with pytest.raises(ModelError, match="conf_type must be"):
        fit_km(rossi, "week", "arrest", group="fin", conf_type="arcsin")
    assert isinstance(at, pd.DataFrame)


def test_count_fit_statistics_match_r():
    """R: glm(y ~ treated + pre + offset(log(exposure / 365)), data = counts, family = poisson)
    and MASS::glm.nb(same): logLik, AIC, BIC (theta counted as a parameter) to 1e-6."""
    r = ref()["count_stats"]
    cn = data("counts")
    for family in ("poisson", "negbin"):
        fit = fit_count(
            cn, "y", "exposure", covariates=["pre"], family=family, weights=None, cluster=None
        )
        for key in ("loglik", "aic", "bic"):
            assert fit.fit_stats[key] == pytest.approx(r[family][key], abs=1e-6)


def _two_arm_panel(seed, lead_shift):
    """Person-months -1..12 of 300 LEAD and 300 comparison people selected alike while
    unsheltered (month -1 share 0.2), both drifting to 0.45 by regression to the mean; LEAD's
    log odds shifted by ``lead_shift`` after month 0 (the planted effect)."""
    rng = np.random.default_rng(seed)
    n, months = 600, np.array([-1, 1, 3, 6, 9, 12])
    treated = np.arange(n) % 2
    frailty = rng.normal(0, 1, n)
    base = np.where(months < 0, -1.4, -0.2)[None, :] + frailty[:, None]
    eta = base + lead_shift * treated[:, None] * (months > 0)[None, :]
    y = (rng.uniform(size=eta.shape) < 1 / (1 + np.exp(-eta))).astype(int)
    panel = pd.DataFrame(
        {
            "person_id": np.repeat(np.arange(n), len(months)),
            "month_offset": np.tile(months, n),
            "sheltered": y.ravel(),
        }
    )
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "weights": np.where(treated == 1, 1.0, rng.uniform(0.5, 1.5, n)),
        }
    )
    return panel, persons


def test_panel_contrast_recovers_the_planted_effect_and_not_the_drift():
    """Planted truth (numpy, above): with no program effect the within-person month-12 odds
    ratio is far above 1 (regression to the mean), while the matched contrast treated@month=12
    covers 1; with a planted log OR 0.7 the contrast covers 0.7 (on the conditional scale of the
    generator, which the GEE's marginal contrast attenuates, so its CI is checked against 0 and
    a ratio above 1)."""
    from leadeval.models import fit_panel_contrast, fit_panel_gee

    panel, persons = _two_arm_panel(3, 0.0)
    lead = panel.merge(persons).query("treated == 1")
    within = fit_panel_gee(lead, "sheltered", months=None).term("month=12")
    assert within["ratio_low"] > 1  # "significant" with no effect at all
    fit = fit_panel_contrast(panel, "sheltered", persons, months=None)
    r = fit.term(fit.details["effect_term"])
    assert r["ratio_low"] < 1 < r["ratio_high"]
    assert fit.fit_stats["persons_treated"] == 300 and fit.fit_stats["persons_comparison"] == 300
    assert "matching weights" in fit.variance
    panel, persons = _two_arm_panel(4, 0.7)
    fit = fit_panel_contrast(panel, "sheltered", persons, months=None)
    r = fit.term("treated@month=12")
    assert r["ratio_low"] > 1 and r["conf_low"] < 0.7
    # between-arm contrast = treated + treated:month=12, by the delta method
    b = fit.params
    assert b["treated@month=12"] == pytest.approx(b["treated"] + b["treated:month=12"])
    assert fit.vcov.loc["treated@month=12", "treated@month=12"] == pytest.approx(
        fit.vcov.loc["treated", "treated"]
        + 2 * fit.vcov.loc["treated", "treated:month=12"]
        + fit.vcov.loc["treated:month=12", "treated:month=12"]
    )
    with pytest.raises(ModelError, match="needs both arms"):
        fit_panel_contrast(lead, "sheltered", months=None)
