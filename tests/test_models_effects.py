"""Absolute effects (g-computation risk difference, RMST difference).

References, named per test: (a) an unadjusted risk difference equals the coefficient of a linear
probability model, statsmodels WLS with ``cov_type="cluster"`` (CR1, the same small-sample factor),
an estimator written independently of ours; (b) with covariates, statsmodels' own GLM (Binomial,
``freq_weights``, ``cov_type="cluster"``) and a by-hand *numerical* delta method (central finite
differences of the g-computation mean), independent of our analytic gradient; (c) on a synthetic
sample with a planted effect (known potential outcomes), the interval covers the truth; (d) the
RMST of an unweighted Kaplan-Meier curve equals lifelines' ``restricted_mean_survival_time`` and
the bootstrap SE is close to lifelines' analytic variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time
from scipy.special import expit

from leadeval.errors import ModelError
from leadeval.models.effects import risk_difference, rmst_difference


def pairs(n_pairs=300, seed=3, effect=-0.8):
    rng = np.random.default_rng(seed)
    n = 2 * n_pairs
    df = pd.DataFrame(
        {
            "subclass": np.repeat(np.arange(n_pairs), 2),
            "treated": np.tile([1, 0], n_pairs),
        }
    )
    pair_frailty = np.repeat(rng.normal(0, 0.7, n_pairs), 2)
    df["age"] = rng.normal(35, 9, n)
    df["prior"] = rng.poisson(2, n)
    lp = -0.5 + 0.03 * (df["age"] - 35) + 0.25 * df["prior"] + pair_frailty
    df["y1"] = (rng.random(n) < expit(lp + effect)).astype(int)
    df["y0"] = (rng.random(n) < expit(lp)).astype(int)
    df["y"] = np.where(df["treated"] == 1, df["y1"], df["y0"])
    df["weights"] = 1.0
    return df


def test_unadjusted_risk_difference_equals_linear_probability_model():
    """Reference: statsmodels WLS of y on treated, cluster-robust by pair (CR1)."""
    df = pairs()
    df.loc[df.index[:40], "weights"] = 2.0  # unequal weights
    eff = risk_difference(df, "y", weights="weights")
    X = sm.add_constant(df[["treated"]].astype(float))
    ols = sm.WLS(df["y"], X, weights=df["weights"]).fit(
        cov_type="cluster", cov_kwds={"groups": df["subclass"]}
    )
    rd = eff.term("risk_difference")
    assert rd["estimate"] == pytest.approx(ols.params["treated"], abs=1e-10)
    assert rd["std_error"] == pytest.approx(ols.bse["treated"], rel=1e-6)
    w = df["weights"]
    t = df["treated"] == 1
    assert eff.risk_treated == pytest.approx(np.average(df.loc[t, "y"], weights=w[t]))
    assert eff.risk_control == pytest.approx(np.average(df.loc[~t, "y"], weights=w[~t]))


def test_adjusted_risk_difference_matches_statsmodels_glm_and_numerical_delta_method():
    """Reference: statsmodels GLM (Binomial, cov_type='cluster' by pair) and central finite
    differences of the averaged predictions over the treated (as marginaleffects'
    ``avg_comparisons(fit, variables='treated', vcov=~subclass, newdata=subset(treated==1))``)."""
    df = pairs()
    eff = risk_difference(df, "y", weights="weights", covariates=["age", "prior"])
    X = sm.add_constant(df[["treated", "age", "prior"]].astype(float))
    glm = sm.GLM(df["y"], X, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": df["subclass"]}
    )
    beta, V = glm.params.to_numpy(), glm.cov_params().to_numpy()
    Xt = X[df["treated"] == 1].to_numpy()

    def rd(b):
        x1, x0 = Xt.copy(), Xt.copy()
        x1[:, 1], x0[:, 1] = 1, 0
        return expit(x1 @ b).mean() - expit(x0 @ b).mean()

    h = 1e-6
    grad = np.array([(rd(beta + h * e) - rd(beta - h * e)) / (2 * h) for e in np.eye(len(beta))])
    r = eff.term("risk_difference")
    assert r["estimate"] == pytest.approx(rd(beta), abs=1e-8)
    # statsmodels' GLM cluster factor is G/(G-1)*(n-1)/(n-k), the same CR1 as ours
    assert r["std_error"] == pytest.approx(np.sqrt(grad @ V @ grad), rel=1e-4)
    assert r["conf_low"] < r["estimate"] < r["conf_high"]
    rr = eff.term("risk_ratio")
    assert rr["estimate"] == pytest.approx(eff.risk_treated / eff.risk_control)


def test_interval_covers_a_planted_effect():
    """Reference: the sample's own potential outcomes (planted effect, known truth): across 40
    seeded samples the 95% interval covers the treated units' mean(Y1) - mean(Y0) in most."""
    covered = 0
    for seed in range(40):
        df = pairs(n_pairs=250, seed=seed)
        t = df[df["treated"] == 1]
        truth = t["y1"].mean() - t["y0"].mean()
        r = risk_difference(df, "y", weights="weights", covariates=["age", "prior"]).term("risk_difference")
        covered += r["conf_low"] < truth < r["conf_high"]
    assert covered >= 34  # 95% nominal: P(fewer than 34 of 40 | 0.95) < 1%


def test_per_100_and_clear():
    df = pairs(effect=-1.2)
    eff = risk_difference(df, "y", weights="weights")
    p = eff.per_100()
    assert p["averted"] == pytest.approx(p["control"] - p["treated"])
    assert p["averted_low"] < p["averted"] < p["averted_high"]
    assert eff.clear
    null = risk_difference(pairs(effect=0.0, seed=11), "y", weights="weights")
    r = null.term("risk_difference")
    assert null.clear == (r["conf_low"] > 0 or r["conf_high"] < 0)
    assert list(eff.to_frame().columns[:6]) == [
        "term", "estimate", "std_error", "conf_low", "conf_high", "p_value"
    ]


def test_missing_outcome_rows_are_left_out_and_errors():
    df = pairs()
    df.loc[df.index[:10], "y"] = np.nan
    eff = risk_difference(df, "y", weights="weights")
    assert eff.n == len(df) - 10
    with pytest.raises(ModelError, match="estimand"):
        risk_difference(df, "y", weights="weights", estimand="ATC")
    with pytest.raises(ModelError, match="nope"):
        risk_difference(df, "nope", weights="weights")


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # lifelines' quad
def test_rmst_matches_lifelines():
    """Reference: lifelines' KaplanMeierFitter + restricted_mean_survival_time (point estimate
    and its analytic variance) on an unweighted two-arm sample."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"treated": np.tile([1, 0], n // 2), "subclass": np.repeat(np.arange(n // 2), 2)})
    rate = np.where(df["treated"] == 1, 1 / 500, 1 / 300)
    ev_time = rng.exponential(1 / rate)
    cens = rng.uniform(100, 900, n)
    df["days"] = np.round(np.minimum(ev_time, cens)) + 1
    df["event"] = (ev_time <= cens).astype(int)
    tau = 365.0
    res = rmst_difference(df, "days", "event", tau, replicates=400, seed=2, cluster=None)
    refs = {}
    for a in (1, 0):
        g = df[df["treated"] == a]
        km = KaplanMeierFitter().fit(g["days"], g["event"])
        refs[a] = restricted_mean_survival_time(km, t=tau, return_variance=True)
    tab = res.table.set_index("term")
    assert tab.loc["rmst_treated", "estimate"] == pytest.approx(refs[1][0], rel=1e-6)
    assert tab.loc["rmst_control", "estimate"] == pytest.approx(refs[0][0], rel=1e-6)
    # SE: with no censoring before tau the RMST is the mean of min(T, tau), whose variance
    # lifelines returns per person; the pair bootstrap must agree with var/n
    late = df.assign(days=np.minimum(ev_time, 2000).round() + 1, event=1)
    res2 = rmst_difference(late, "days", "event", tau, replicates=600, seed=4, cluster=None)
    v = []
    for a in (1, 0):
        g = late[late["treated"] == a]
        km = KaplanMeierFitter().fit(g["days"], g["event"])
        v.append(restricted_mean_survival_time(km, t=tau, return_variance=True)[1] / len(g))
    se = res2.table.set_index("term").loc["rmst_difference", "std_error"]
    assert se == pytest.approx(np.sqrt(sum(v)), rel=0.1)
    assert res.difference > 0  # lower hazard under treatment: longer event-free time
