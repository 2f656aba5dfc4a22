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

import pandas as pd
import pytest

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
