"""``estimate_effect``: marginal effects after matching and IPTW.

References, named per test:
(a) R on leadeval's own matched/weighted Lalonde samples (tests/reference/effects/make_data.py
    writes them; make_reference.R computes, R 4.2, sandwich, survey, numDeriv; marginaleffects is
    not in Debian so the delta method is written out as ``avg_comparisons`` computes it):
    ``lm(re78 ~ treated, weights = weights)`` + ``sandwich::vcovCL(cluster = ~subclass,
    type = "HC1")`` (1:1 and 2:1 without replacement; ``~subclass + person_id`` on the
    ``get_matches`` rows with replacement), ``lm(re78 ~ treated + covs)``, ``lm(re78 ~ treated *
    (covs))`` with predictions on the treated at treated = 1/0; IPTW ATT: ``survey::svyglm(re78 ~
    treated, svydesign(ids = ~1, weights = ~w))`` and the stacked propensity + arm-mean (and AIPW)
    estimating equations with ``numDeriv::jacobian``, sandwich A^-1 B A^-T times n/(n-1).
(b) planted effects on synthetic samples with known potential outcomes (tests named so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import leadeval as le
from leadeval.errors import ModelError
from leadeval.models import estimate_effect

REF = Path(__file__).parent / "reference" / "effects"
sys.path.insert(0, str(REF))
import make_data  # noqa: E402

COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
R = pd.read_csv(REF / "effects_reference.csv")


@pytest.fixture(scope="module")
def samples():
    return {name: make_data.matched(name) for name in make_data.CASES}


def _check(eff, case, rel=1e-4):
    ref = R[R["case"] == case].set_index("term")
    assert len(ref) >= 2, case
    got = eff.table.set_index("term")
    if "treated" in ref.index:  # the regression coefficient is the mean difference
        ref = pd.concat([ref.drop("treated"), ref.loc[["treated"]].rename({"treated": "mean_difference"})])
        ref = ref[~ref.index.duplicated()]
    for term, row in ref.iterrows():
        assert got.loc[term, "estimate"] == pytest.approx(row["estimate"], rel=rel), (case, term)
        assert got.loc[term, "std_error"] == pytest.approx(row["std_error"], rel=rel), (case, term)


@pytest.mark.parametrize("name", ["nn1", "nn2", "nn1_replace"])
def test_matched_lalonde_att_equals_r(samples, name):
    """Reference (a): vcovCL by pair (two-way pair x person with replacement), unadjusted,
    additive covariate adjustment and g-computation with treat x covariate interactions."""
    ms = samples[name]
    _check(estimate_effect(ms, "re78", kind="continuous"), f"{name}_unadjusted")
    _check(
        estimate_effect(ms, "re78", kind="continuous", covariates=COVS, interaction=False),
        f"{name}_additive",
    )
    eff = estimate_effect(ms, "re78", kind="continuous", covariates=COVS)
    _check(eff, f"{name}_gcomp")
    assert eff.estimand == "ATT" and eff.method == "gcomp"
    assert eff.n_treated == 185 and "CR1" in eff.variance
    if name == "nn1_replace":
        assert "subclass and person_id" in eff.variance
        assert eff.n_control == ms.data["treated"].eq(0).sum()  # persons, not pair rows


def test_iptw_att_mestimation_robust_and_aipw_equal_r(samples):
    """Reference (a), IPTW ATT: stacked M-estimation (numDeriv), survey::svyglm, and AIPW."""
    ms = samples["iptw_att"]
    m = estimate_effect(ms, "re78", kind="continuous")
    assert m.variance.startswith("M-estimation")
    _check(m, "iptw_att_mest")
    rob = estimate_effect(ms, "re78", kind="continuous", variance="cluster")
    assert "svyglm" in rob.variance
    _check(rob, "iptw_att_robust")
    aipw = estimate_effect(ms, "re78", kind="continuous", covariates=COVS, method="aipw")
    _check(aipw, "iptw_att_aipw")
    # the PropensityResult and the full frame give the same answer as the MatchedSample
    same = estimate_effect(ms.all_units, "re78", kind="continuous", weights="weights",
                           propensity=ms.propensity)
    assert same.table.equals(m.table)


# ---- planted effects (reference (b)) -------------------------------------------------------
def _site(seed=0, n=3000, effect=True):
    """Confounded selection on x1 and log1p(x2); outcomes with a planted effect. Returns the
    frame and the conditional truths E[Y(1) - Y(0) | x] per unit for each outcome."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(0, 1, n), rng.poisson(2, n)
    t = (rng.random(n) < expit(-1.5 + 0.5 * x1 + 0.6 * np.log1p(x2))).astype(int)
    b = 1.0 if effect else 0.0
    expo = rng.integers(100, 366, n).astype(float)
    rate0 = np.exp(-5 + 0.3 * x1 + 0.2 * x2)
    rate1 = rate0 * np.exp(b * np.log(0.6))
    p0, p1 = expit(-0.5 + 0.4 * x1 + 0.3 * x2), expit(-0.5 + 0.4 * x1 + 0.3 * x2 - 0.7 * b)
    y0 = 3 + x1 + 0.5 * x2
    df = pd.DataFrame({
        "person_id": [f"p{i:05d}" for i in range(n)], "treated": t, "x1": x1, "x2": x2,
        "lx2": np.log1p(x2), "expo": expo,
        "arrests": rng.poisson(np.where(t == 1, rate1, rate0) * expo),
        "arrest": (rng.random(n) < np.where(t == 1, p1, p0)).astype(int),
        "cost": y0 - 2 * b * t + rng.normal(0, 2, n),
    })
    truth = {"arrests": 365 * (rate1 - rate0), "arrest": p1 - p0, "cost": np.full(n, -2 * b)}
    return df, truth


@pytest.mark.parametrize("kind,outcome,extra", [
    ("continuous", "cost", {}),
    ("binary", "arrest", {}),
    ("count", "arrests", {"exposure": "expo", "per": 365.0}),
])
def test_planted_effects_are_recovered_by_every_design(kind, outcome, extra):
    """Reference (b): planted effect on a confounded synthetic site; the conditional truth
    averaged over the target is inside each 95% interval (matching ATT 1:1 and with
    replacement, IPTW ATE by M-estimation, AIPW), while the crude difference is biased."""
    df, truth = _site()
    spec = {"covariates": ["x1", "lx2"]}
    nn = le.match(df, spec, warn=False)
    rep = le.match(df, {**spec, "replace": True, "ratio": 2}, warn=False)
    ipw = le.match(df, {**spec, "method": "iptw", "estimand": "ATE"}, warn=False)
    att = truth[outcome][df["treated"] == 1].mean()
    ate = truth[outcome].mean()
    cov = ["x1", "x2"]
    fits = [
        (estimate_effect(nn, outcome, kind=kind, covariates=cov, **extra), att),
        (estimate_effect(rep, outcome, kind=kind, **extra), att),
        (estimate_effect(ipw, outcome, kind=kind, **extra), ate),
        (estimate_effect(ipw, outcome, kind=kind, covariates=cov, **extra), ate),
    ]
    if kind != "count":
        fits.append((estimate_effect(ipw, outcome, kind=kind, covariates=cov, method="aipw"), ate))
    for eff, true in fits:
        r = eff.term(f"{eff.prefix}_difference")
        assert r["conf_low"] < true < r["conf_high"], (eff.variance, true, r.to_dict())
        assert r["conf_high"] < 0  # a planted reduction, clearly detected
    crude = estimate_effect(df, outcome, kind=kind, **extra).term(f"{fits[0][0].prefix}_difference")
    assert not crude["conf_low"] < att < crude["conf_high"]  # confounding is real here


def test_rmst_difference_recovers_a_planted_effect_after_matching():
    """Reference (b): exponential event times with a planted hazard ratio; the true RMST
    difference at tau over the treated, (1 - exp(-r tau)) / r averaged, is inside the interval."""
    df, _ = _site(seed=3, n=2000)
    rng = np.random.default_rng(4)
    r0 = 0.003 * np.exp(0.3 * df["x1"] + 0.2 * df["x2"])
    r1 = r0 * 0.6
    ev = rng.exponential(1 / np.where(df["treated"] == 1, r1, r0))
    cens = rng.uniform(200, 730, len(df))
    df = df.assign(days=np.ceil(np.minimum(ev, cens)), event=(ev <= cens).astype(int))
    nn = le.match(df, {"covariates": ["x1", "lx2"]}, warn=False)
    tau = 365.0
    t = df["treated"] == 1
    true = (((1 - np.exp(-r1 * tau)) / r1) - ((1 - np.exp(-r0 * tau)) / r0))[t].mean()
    eff = estimate_effect(nn, "days", event="event", tau=tau, replicates=200)
    assert eff.kind == "survival" and eff.tau == tau
    r = eff.term("rmst_difference")
    assert r["conf_low"] < true < r["conf_high"] and r["conf_low"] > 0
    assert "tau" in eff.to_frame().columns


# ---- bad input ----------------------------------------------------------------------------
def test_a_column_named_weights_is_not_used_unless_named():
    """The trap of issue 13: a user column called ``weights`` is never used implicitly."""
    df, _ = _site(n=600)
    df["weights"] = np.where(df["treated"] == 1, 1.0, 5.0) * (df["x1"] > 0) + 0.1
    plain = estimate_effect(df, "cost")
    assert any("weights" in n for n in plain.notes)
    unweighted = df.drop(columns="weights")
    assert plain.table.equals(estimate_effect(unweighted, "cost").table)
    named = estimate_effect(df, "cost", weights="weights")
    assert not named.table.equals(plain.table)


def test_kind_is_inferred_and_bad_input_gets_clear_errors():
    df, _ = _site(n=600)
    assert estimate_effect(df, "arrest").kind == "binary"
    assert estimate_effect(df, "arrests").kind == "count"
    assert estimate_effect(df, "cost").kind == "continuous"
    with pytest.raises(ModelError, match=r"\['nope'\] not found"):
        estimate_effect(df, "nope")
    with pytest.raises(ModelError, match="no pairs"):
        estimate_effect(df.assign(pair=np.where(df["x1"] > 1, np.nan, 1.0)), "cost", cluster="pair")
    with pytest.raises(ModelError, match="must be 0/1"):
        estimate_effect(df.assign(treated=df["treated"] * 2), "cost")
    with pytest.raises(ModelError, match="both arms"):
        estimate_effect(df.assign(treated=1), "cost")
    with pytest.raises(ModelError, match="estimand"):
        estimate_effect(df, "cost", estimand="ATX")
    with pytest.raises(ModelError, match="propensity"):
        estimate_effect(df, "cost", variance="mestimation")
    with pytest.raises(ModelError, match="propensity"):
        estimate_effect(df, "cost", method="aipw", covariates=["x1"])
    with pytest.raises(ModelError, match="tau"):
        estimate_effect(df, "expo", event="arrest")
    with pytest.raises(ModelError, match="exposure 'x1' is 0 or negative"):
        estimate_effect(df, "arrests", exposure="x1")
    with pytest.raises(ModelError, match="negative values"):
        estimate_effect(df, "cost", weights="x1")


def test_cluster_with_gaps_and_trimmed_weights_are_refused():
    df, _ = _site(n=800)
    ms = le.match(df, {"covariates": ["x1", "lx2"], "method": "iptw"}, warn=False)
    with pytest.raises(ModelError, match="missing for"):
        estimate_effect(ms.data, "cost", weights="weights", cluster="subclass")
    trimmed = le.match(df, {"covariates": ["x1", "lx2"], "method": "iptw", "trim": [1, 99]},
                       warn=False)
    with pytest.raises(ModelError, match="trimmed"):
        estimate_effect(trimmed, "cost")
    rob = estimate_effect(trimmed, "cost", variance="cluster")  # the robust alternative runs
    assert "svyglm" in rob.variance


def test_atc_by_m_estimation_from_a_propensity_result():
    """Reference (b): ATC weights T (1 - e)/e + (1 - T) built by hand from leadeval's propensity
    model; with the PropensityResult the M-estimation interval covers the planted effect averaged
    over the controls, for the weighted means and for AIPW."""
    df, truth = _site(seed=5)
    ms = le.match(df, {"covariates": ["x1", "lx2"], "method": "iptw", "estimand": "ATE"},
                  warn=False)
    units = ms.all_units
    e, t = ms.propensity.score, units["treated"].to_numpy()
    units = units.assign(w_atc=np.where(t == 1, (1 - e) / e, 1.0))
    true = truth["arrest"][pd.Index(df["person_id"]).get_indexer(units["person_id"])][t == 0].mean()
    for kw in ({}, {"method": "aipw", "covariates": ["x1", "x2"]}):
        eff = estimate_effect(units, "arrest", kind="binary", weights="w_atc", estimand="ATC",
                              propensity=ms.propensity, **kw)
        assert eff.variance.startswith("M-estimation") and eff.estimand == "ATC"
        r = eff.term("risk_difference")
        assert r["conf_low"] < true < r["conf_high"] < 0
    with pytest.raises(ModelError, match="not the ATT IPTW weights"):
        estimate_effect(units, "arrest", weights="w_atc", estimand="ATT", propensity=ms.propensity)
