"""The vectorised fits equal the statsmodels fits they replace (reference: statsmodels' GEE and
GLM, run in the test on the same data; R geepack agreement is tested in test_models_panel and
test_models_options)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from leadeval.equity import _glm_hc0
from leadeval.models.gee import _exchangeable_fit

FAMILIES = {"binomial": sm.families.Binomial, "poisson": sm.families.Poisson,
            "gaussian": sm.families.Gaussian}


def _panel(seed: int, family: str, shuffle: bool):
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 8, 300)  # unequal cluster sizes, singletons included
    g = np.repeat(np.arange(300), k)
    if shuffle:  # clusters not contiguous
        g = g[rng.permutation(len(g))]
    n = len(g)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    lp = X @ [-0.5, 0.3, 0.4] + 0.6 * rng.normal(size=300)[g]
    y = {"binomial": (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(float),
         "poisson": rng.poisson(np.exp(lp)).astype(float),
         "gaussian": lp + rng.normal(size=n)}[family]
    return y, X, g, rng.uniform(0.2, 3, 300)[g]


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("corstr", ["exchangeable", "independence"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gee_equals_statsmodels(family, corstr, weighted):
    """Estimates, robust and naive covariance and the working correlation equal statsmodels'
    GEE(..., ddof_scale=0) to 1e-10, weighted or not, with clusters in any row order."""
    y, X, g, w = _panel(3, family, shuffle=weighted)
    w = w if weighted else None
    struct = {"exchangeable": sm.cov_struct.Exchangeable,
              "independence": sm.cov_struct.Independence}[corstr]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.GEE(y, X, groups=g, family=FAMILIES[family](), cov_struct=struct,
                     weights=w).fit(maxiter=200, cov_type="robust", ddof_scale=0)
    fit, alpha = _exchangeable_fit(y, X, g, w, FAMILIES[family](), corstr)
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.cov_robust, ref.cov_robust, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fit.cov_naive, np.asarray(ref.cov_naive) / ref.scale, rtol=1e-9)
    ref_alpha = 0.0 if corstr == "independence" else float(np.atleast_1d(struct.dep_params)[0])
    assert alpha == pytest.approx(ref_alpha, abs=1e-12)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_glm_hc0_equals_statsmodels(family):
    """Modified Poisson and logistic with HC0: estimates, SEs, intervals and p-values equal
    statsmodels' GLM(...).fit(cov_type='HC0') to 1e-9."""
    rng = np.random.default_rng(5)
    n = 5000
    x = pd.DataFrame({"const": 1.0, "a": rng.integers(0, 2, n).astype(float),
                      "h": np.log1p(rng.poisson(2, n))})
    y = (rng.random(n) < 0.05 * np.exp(0.5 * x["a"] + 0.4 * x["h"])).to_numpy(float)
    fam = FAMILIES[family]()
    ref = sm.GLM(y, x, family=fam).fit(cov_type="HC0")
    fit = _glm_hc0(y, x, fam)
    pd.testing.assert_series_equal(fit.params, ref.params, rtol=1e-9)
    pd.testing.assert_series_equal(fit.bse, ref.bse, rtol=1e-9)
    pd.testing.assert_series_equal(fit.pvalues, ref.pvalues, rtol=1e-8)
    np.testing.assert_allclose(fit.conf_int(0.1).to_numpy(), ref.conf_int(0.1).to_numpy(),
                               rtol=1e-9)
