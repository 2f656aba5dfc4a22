"""Formulas (formulaic) in the propensity score and the outcome models, the count default and its
warning, balance on transformed terms, one dummy naming scheme, and the API traps of issue 13.

References: statsmodels' own formula API (patsy, an independent formula implementation) for the
coefficients; the logistic score equations for the exact balance of the covariates in the score
(planted selection on log(1 + x) for what it hides); statsmodels GLM for ``fit_count`` without an
offset.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from pydantic import ValidationError

import leadeval as le
import leadeval.matching as lm
from leadeval.config import MatchingConfig, ModelsConfig, load_config
from leadeval.errors import (
    ConfigError,
    LeadevalWarning,
    MatchingError,
    ModelError,
    SpecificationWarning,
)
from leadeval.formulas import clean_name, design


def _people(n=3000, seed=3):
    """Referral depends on log(1 + prior arrests) and its product with age (planted)."""
    rng = np.random.default_rng(seed)
    frailty = rng.gamma(1.2, 1 / 1.2, n)
    arrests = rng.poisson(2.0 * frailty)
    age = rng.normal(38, 10, n).round()
    race = rng.choice(["black", "hispan", "white"], n, p=[0.3, 0.2, 0.5])
    lin = -1.2 + 1.6 * np.log1p(arrests) - 0.4 * np.log1p(arrests) * (age - 38) / 10
    lin = lin - 1.5 + 0.3 * (race == "black")
    treated = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    return pd.DataFrame(
        {"pid": [f"p{i:05d}" for i in range(n)], "lead": treated, "arrests_pre_365d": arrests,
         "age_at_index": age, "race": race}
    )


def test_score_terms_equal_statsmodels_formula_fit():
    """log1p, a chosen reference level and an interaction give statsmodels' (patsy) estimates."""
    df = _people().rename(columns={"pid": "person_id", "lead": "treated"})
    spec = MatchingConfig(
        covariates=["age_at_index", "arrests_pre_365d"],
        categorical=["race"],
        reference={"race": "white"},
        log1p=["arrests_pre_365d"],
        formula="log1p(arrests_pre_365d):age_at_index",
    )
    ps = lm.fit_propensity(df.sort_values("person_id").reset_index(drop=True), spec)
    ref = smf.logit(
        "treated ~ age_at_index + C(race, Treatment('white')) + np.log1p(arrests_pre_365d)"
        " + np.log1p(arrests_pre_365d):age_at_index",
        df.sort_values("person_id").reset_index(drop=True),
    ).fit(disp=False)
    got = ps.coefficients.set_index("term")["estimate"]
    assert list(got.index) == [
        "Intercept", "age_at_index", "race[black]", "race[hispan]", "log1p(arrests_pre_365d)",
        "log1p(arrests_pre_365d):age_at_index",
    ]
    want = ref.params.rename(
        lambda n: n.replace("C(race, Treatment('white'))[T.", "race[").replace("np.", "")
    )
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=1e-7)


def test_bad_terms_name_the_term_and_the_key(tmp_path):
    with pytest.raises(ValidationError, match=r"a \+ \(b"):
        MatchingConfig(covariates=["x"], formula="a + (b")
    with pytest.raises(ValidationError, match="log1p and splines"):
        MatchingConfig(covariates=["x"], log1p=["x"], splines={"x": 3})
    with pytest.raises(ValidationError, match="not categorical"):
        MatchingConfig(covariates=["x"], reference={"x": "a"})
    cfg = (tmp_path / "site.yaml")
    cfg.write_text(
        "site: t\ndata_end_date: 2020-01-01\nextracts: {roster: {path: r.csv}}\n"
        "matching: {covariates: [x], balance: {addl: ['log1p(x']}}\n"
        "models: {covariates: ['age:']}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert "matching.balance.addl" in text and "log1p(x" in text
    assert "models.covariates" in text and "age:" in text
    df = _people()
    with pytest.raises(MatchingError, match="nope_column"):
        lm.match(df, {"covariates": ["age_at_index"], "formula": "log1p(nope_column)"},
                 id="pid", treatment="lead", warn=False)
    with pytest.raises(MatchingError, match="matching.log1p"):
        lm.match(df.assign(age_at_index=df.age_at_index - 50), {"log1p": ["age_at_index"]},
                 id="pid", treatment="lead", warn=False)
    with pytest.raises(ModelError, match="nope_column"):
        le.fit_logistic(df, "lead", treatment=None, covariates=["log1p(nope_column)"])


def test_linear_count_warns_and_log1p_does_not():
    df = _people()
    with pytest.warns(SpecificationWarning, match=r"\['arrests_pre_365d'\] enter linearly"):
        lm.match(df, {"covariates": ["age_at_index", "arrests_pre_365d"], "caliper": 0.2},
                 id="pid", treatment="lead")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecificationWarning)
        lm.match(df, {"covariates": ["age_at_index", "arrests_pre_365d"], "caliper": 0.2,
                      "log1p": ["arrests_pre_365d"]}, id="pid", treatment="lead", warn=False)
        lm.match(df, {"covariates": ["age_at_index", "arrests_pre_365d"], "caliper": 0.2,
                      "log1p": ["arrests_pre_365d"]}, id="pid", treatment="lead")


def test_linear_score_looks_balanced_on_raw_count_but_not_on_its_products():
    """Planted truth: referral depends on log(1 + arrests) and its product with age. After 1:1
    matching on a score with arrests entered linearly, the raw count looks balanced (|SMD| 0.02,
    variance ratio 0.96) while the product term (cobalt's ``addl`` / ``int = TRUE``) has a
    variance ratio of about 0.77, outside 0.8-1.25; the correctly specified score brings it
    to about 1.05. (Fixed seed; the same picture on other seeds.)"""
    df = _people(6000)
    extra = {"addl": ["log1p(arrests_pre_365d)", "log1p(arrests_pre_365d):age_at_index"],
             "interactions": True, "squares": True}
    spec = {"covariates": ["age_at_index", "arrests_pre_365d"], "caliper": 0.2, "balance": extra}
    lin = lm.match(df, spec, id="pid", treatment="lead", warn=False).balance().to_frame()
    lin = lin.set_index("variable")
    assert abs(lin.loc["arrests_pre_365d", "smd_after"]) < 0.05
    assert 0.9 < lin.loc["arrests_pre_365d", "var_ratio_after"] < 1.1
    assert lin.loc["log1p(arrests_pre_365d):age_at_index", "var_ratio_after"] < 0.8
    assert lin.loc["age_at_index:arrests_pre_365d", "var_ratio_after"] < 0.8
    assert {"arrests_pre_365d ** 2", "age_at_index ** 2"} <= set(lin.index)
    good = lm.match(df, {**spec, "log1p": ["arrests_pre_365d"],
                         "formula": "log1p(arrests_pre_365d):age_at_index"},
                    id="pid", treatment="lead", warn=False).balance().to_frame()
    good = good.set_index("variable").loc["log1p(arrests_pre_365d):age_at_index"]
    assert abs(good["smd_after"]) < 0.05 and 0.9 < good["var_ratio_after"] < 1.1


def test_one_dummy_name_everywhere():
    """race[level] in the score, balance, Table 1 and the outcome models."""
    df = _people()
    m = lm.match(df, {"covariates": ["age_at_index"], "categorical": ["race"],
                      "log1p": ["arrests_pre_365d"], "caliper": 0.2}, id="pid", treatment="lead",
                 warn=False)
    assert {"race[hispan]", "race[white]"} <= set(m.propensity.coefficients["term"])
    assert {"race[black]", "race[hispan]", "race[white]"} <= set(m.balance().table["variable"])
    fit = le.fit_logistic(m, "lead", treatment=None, covariates=["race", "age_at_index"])
    assert {"race[hispan]", "race[white]"} <= set(fit.to_frame()["term"])
    fit = le.fit_logistic(m, "lead", treatment=None,
                          covariates=["C(race, contr.treatment('white'))"])
    assert {"race[black]", "race[hispan]"} <= set(fit.to_frame()["term"])
    assert clean_name("C(race, contr.treatment('white'))[T.hispan]:age") == "race[hispan]:age"
    assert design(df, ["C(`race`)"], intercept=True)[1] == ["Intercept", "race[hispan]", "race[white]"]


def test_outcome_model_formula_terms_equal_statsmodels():
    """fit_logistic with formula covariates = statsmodels GLM(binomial) with the same formula."""
    df = _people()
    fit = le.fit_logistic(df, "lead", treatment=None, weights=None, cluster=None,
                          covariates=["log1p(arrests_pre_365d)", "age_at_index",
                                      "C(race, contr.treatment('white'))"])
    ref = smf.logit("lead ~ np.log1p(arrests_pre_365d) + age_at_index"
                    " + C(race, Treatment('white'))", df).fit(disp=False)
    got = fit.to_frame().set_index("term")
    names = {"Intercept": "(Intercept)", "np.log1p(arrests_pre_365d)": "log1p(arrests_pre_365d)"}
    want = pd.DataFrame({"estimate": ref.params, "std_error": ref.bse}).rename(
        lambda n: names.get(n, n.replace("C(race, Treatment('white'))[T.", "race["))
    )
    np.testing.assert_allclose(got["estimate"], want.loc[got.index, "estimate"], rtol=1e-6)
    np.testing.assert_allclose(got["std_error"], want.loc[got.index, "std_error"], rtol=1e-5)


def test_weights_only_explicit():
    """A user column called 'weights' is not used unless named; match() weights are."""
    df = _people()
    df["y"] = (np.random.default_rng(1).random(len(df)) < 0.3).astype(int)
    df["weights"] = np.random.default_rng(2).uniform(0.5, 2, len(df))
    with pytest.warns(LeadevalWarning, match="not used as weights"):
        implicit = le.fit_logistic(df, "y", treatment="lead")
    none = le.fit_logistic(df, "y", treatment="lead", weights=None)
    assert implicit.term("lead")["estimate"] == none.term("lead")["estimate"]
    assert implicit.variance == none.variance
    explicit = le.fit_logistic(df, "y", treatment="lead", weights="weights")
    assert explicit.term("lead")["estimate"] != none.term("lead")["estimate"]
    m = lm.match(df.drop(columns="weights"), {"covariates": ["age_at_index"],
                 "log1p": ["arrests_pre_365d"], "caliper": 0.2}, id="pid", treatment="lead",
                 warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeadevalWarning)
        by_default = le.fit_logistic(m.data, "y", treatment="lead")
    assert by_default.to_frame().equals(
        le.fit_logistic(m.data, "y", treatment="lead", weights="weights").to_frame()
    )


def test_match_with_own_id_and_treatment_names():
    df = _people()
    spec = {"covariates": ["age_at_index"], "log1p": ["arrests_pre_365d"], "caliper": 0.2}
    m = lm.match(df, spec, id="pid", treatment="lead", warn=False)
    assert {"pid", "lead", "weights", "subclass"} <= set(m.data.columns)
    assert "person_id" not in m.data.columns and "pid" in m.unmatched.columns
    same = lm.match(df.rename(columns={"pid": "person_id", "lead": "treated"}), spec, warn=False)
    assert same.pairs.equals(m.pairs)
    with pytest.raises(MatchingError, match="'patient' .* not found"):
        lm.match(df, spec, id="patient", treatment="lead")


def test_fit_count_without_exposure_is_a_glm_without_offset():
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"treated": np.repeat([0, 1], 400), "x": rng.normal(size=800)})
    d["calls"] = rng.poisson(np.exp(0.2 + 0.3 * d.x - 0.4 * d.treated))
    fit = le.fit_count(d, "calls", covariates=["x"])
    ref = smf.poisson("calls ~ treated + x", d).fit(disp=False)
    np.testing.assert_allclose(fit.to_frame()["estimate"], ref.params.to_numpy(), rtol=1e-6)
    assert ModelsConfig(covariates=["log1p(x)", "a:b"]).covariates == ["log1p(x)", "a:b"]
