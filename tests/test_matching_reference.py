"""leadeval.matching against R's MatchIt on the Lalonde data (public, ships with MatchIt).

Reference: tests/reference/matching/make_reference.R (R 4.2.2, MatchIt 4.5.1; the exact versions
and the R call of each case are in cases.json). Nearest-neighbour pairs there are MatchIt's
algorithm with the 4.5.1 integer-abs bug fixed (= MatchIt >= 4.5.4), verified in the script to
reproduce matchit() 4.5.1 exactly when the bug is emulated. Weights come from MatchIt's
weights.matrix()/weights.subclass(), balance from MatchIt's bal1var() (checked against
summary.matchit()).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leadeval.matching as lm
from leadeval.config import MatchingConfig

REF = Path(__file__).parent / "reference" / "matching"
META = json.loads((REF / "cases.json").read_text())["cases"]
BASE = {
    "covariates": ["age", "educ", "married", "nodegree", "re74", "re75"],
    "categorical": ["race"],
}
RACE = {"race[black]": "raceblack", "race[hispan]": "racehispan", "race[white]": "racewhite"}
STAT_COLS = [
    f"{s}_{w}"
    for w in ("before", "after")
    for s in ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max")
]

NN_CASES = {
    "nn1_logit": {},
    "nn1_ps": {"distance": "ps"},
    "nn2_logit": {"ratio": 2},
    "nn1_replace_logit": {"replace": True},
    "nn2_replace_logit": {"replace": True, "ratio": 2},
    "nn1_smallest_logit": {"order": "smallest"},
    "nn1_discard_both_logit": {"discard": "both"},
    "nn1_caliper02_logit": {"caliper": 0.2},
    "nn1_caliper01_ps": {"caliper": 0.1, "distance": "ps"},
    "nn2_caliper02_logit": {"caliper": 0.2, "ratio": 2},
    "nn1_caliper02_replace_logit": {"caliper": 0.2, "replace": True},
}


@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    d = pd.read_csv(REF / "lalonde.csv").rename(columns={"treat": "treated"})
    dist = pd.read_csv(REF / "distance.csv")
    d = d.merge(dist.rename(columns={"ps": "r_ps", "logit": "r_logit"}), on="person_id")
    # shuffled on purpose: results must not depend on row order
    return d.sample(frac=1, random_state=7).reset_index(drop=True)


def _pairs(m) -> set:
    return set(map(tuple, m.pairs[["treated_id", "control_id", "round"]].to_numpy()))


def _ref_pairs(name) -> set:
    return set(map(tuple, pd.read_csv(REF / f"{name}_pairs.csv").to_numpy()))


def _balance_diff(ours: lm.Balance, name: str, drop_distance: bool = False) -> float:
    ref = pd.read_csv(REF / f"{name}_balance.csv").set_index("variable")
    if drop_distance:
        ref = ref.drop("distance")
    got = ours.to_frame().assign(variable=lambda t: t["variable"].replace(RACE))
    got = got.set_index("variable").loc[ref.index, STAT_COLS]
    assert (got.isna() == ref[STAT_COLS].isna()).all().all()
    diff = np.abs(got.to_numpy() - ref[STAT_COLS].to_numpy())
    # means are in the variables' units (earnings in dollars): compare them relative to size;
    # SMD, variance ratio and eCDF statistics absolutely
    is_mean = np.array([c.startswith("mean_") for c in STAT_COLS])
    diff[:, is_mean] /= np.maximum(1.0, np.abs(ref[STAT_COLS].to_numpy()[:, is_mean]))
    return float(np.nanmax(diff))


def _weights(m, name) -> tuple[np.ndarray, np.ndarray]:
    ref = pd.read_csv(REF / f"{name}_weights.csv")
    w = m.all_units.set_index("person_id")["weights"].reindex(ref["person_id"]).to_numpy()
    return w, ref["weights"].to_numpy()


def test_propensity_coefficients_equal_glm(lalonde):
    """statsmodels Logit = R glm(binomial) coefficients (ps_coefficients.csv) to 1e-6."""
    spec = MatchingConfig(**BASE)
    ps = lm.fit_propensity(lalonde.sort_values("person_id").reset_index(drop=True), spec)
    ref = pd.read_csv(REF / "ps_coefficients.csv")
    ref["term"] = ref["term"].replace(
        {"(Intercept)": "Intercept", "racehispan": "race[hispan]", "racewhite": "race[white]"}
    )
    got = ps.coefficients.set_index("term").loc[ref["term"]]
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], rtol=1e-4)
    d = pd.read_csv(REF / "distance.csv")
    np.testing.assert_allclose(np.sort(ps.linear_predictor), np.sort(d["logit"]), atol=1e-6)


@pytest.mark.parametrize("name", list(NN_CASES))
def test_nearest_on_r_distance_reproduces_matchit(lalonde, name):
    """On MatchIt's own distance: same pairs and unmatched, weights and all balance stats to 1e-6."""
    opts = NN_CASES[name]
    col = "r_ps" if opts.get("distance") == "ps" else "r_logit"
    m = lm.match(lalonde, {**BASE, **opts, "distance_column": col}, warn=False)
    meta = META[name]
    assert _pairs(m) == _ref_pairs(name)
    assert int((m.data.treated == 1).sum()) == meta["n_treated_matched"]
    assert int((m.data.treated == 0).sum()) == meta["n_control_matched"]
    w, ref_w = _weights(m, name)
    np.testing.assert_allclose(w, ref_w, atol=1e-9)
    unmatched = set(m.unmatched.loc[m.unmatched.reason != "discarded_common_support", "person_id"])
    ref_unmatched = meta["unmatched_treated"]
    assert unmatched == set([ref_unmatched] if isinstance(ref_unmatched, str) else ref_unmatched)
    discarded = set(m.unmatched.loc[m.unmatched.reason == "discarded_common_support", "person_id"])
    treated_ids = set(lalonde.loc[lalonde.treated == 1, "person_id"])
    assert discarded == set(meta["discarded"]) & treated_ids
    if meta["caliper_width"] != {}:
        assert m.caliper_width == pytest.approx(meta["caliper_width"], rel=1e-12)
    assert _balance_diff(m.balance(), name) < 1e-6
    sizes = m.balance().sample_sizes.set_index("group")
    assert sizes.loc["control", "ess_after"] == pytest.approx(meta["ess_control"], rel=1e-9)


@pytest.mark.parametrize("name", list(NN_CASES))
def test_nearest_on_own_score_reproduces_matchit(lalonde, name):
    """With leadeval's own propensity fit: the same pairs, except where MatchIt faced a tie that is
    exact in real arithmetic (left and right control equidistant, decided by rounding noise), and
    covariate SMDs equal to 1e-6."""
    m = lm.match(lalonde, {**BASE, **NN_CASES[name]}, warn=False)
    ours, ref = _pairs(m), _ref_pairs(name)
    dist = m.all_units.set_index("person_id")["distance"]
    for t in {p[0] for p in ours ^ ref}:
        mine = {p[1] for p in ours if p[0] == t}
        theirs = {p[1] for p in ref if p[0] == t}
        gaps = sorted(abs(dist[c] - dist[t]) for c in mine ^ theirs)
        assert gaps[-1] - gaps[0] < 1e-8, f"{name}: treated {t} differs without a tie"
    assert len({p[0] for p in ours ^ ref}) <= 2
    assert int((m.data.treated == 1).sum()) == META[name]["n_treated_matched"]
    if not ours ^ ref:
        w, ref_w = _weights(m, name)
        np.testing.assert_allclose(w, ref_w, atol=1e-9)
        ref_b = pd.read_csv(REF / f"{name}_balance.csv").set_index("variable").drop("distance")
        got = m.balance().to_frame().assign(variable=lambda t: t["variable"].replace(RACE))
        got = got.set_index("variable").loc[ref_b.index]
        for col in ("smd_before", "smd_after"):
            np.testing.assert_allclose(got[col], ref_b[col], atol=1e-6)


def test_matchit_451_difference_is_recorded():
    """The reference records how many treated rows 4.5.1 pairs differently (its integer-abs bug):
    the caliper cases must differ (calipers ignored in 4.5.1), proving the bug was avoided."""
    assert META["nn1_caliper02_logit"]["treated_rows_differing_from_matchit_451"] > 0
    assert META["nn1_caliper02_logit"]["n_treated_matched"] < 185


@pytest.mark.parametrize(
    ("name", "opts"),
    [
        ("exact_race_married_nodegree", {"method": "exact", "covariates": ["married", "nodegree"]}),
        (
            "exact_ate",
            {"method": "exact", "covariates": ["married", "nodegree"], "estimand": "ATE"},
        ),
        (
            "cem_cutpoints",
            {
                "method": "cem",
                "cutpoints": {
                    "age": [20, 25, 30, 35],
                    "educ": [9, 12],
                    "re74": [0.5, 5000],
                    "re75": [0.5, 5000],
                },
            },
        ),
        ("cem_sturges", {"method": "cem"}),
    ],
)
def test_exact_and_cem_weights_and_balance(lalonde, name, opts):
    """matchit(method = "exact"/"cem") weights (weights.subclass) and balance on all covariates."""
    m = lm.match(lalonde, {**BASE, **opts}, warn=False)
    w, ref_w = _weights(m, name)
    np.testing.assert_allclose(w, ref_w, atol=1e-9)
    assert int((w > 0).sum()) == int((ref_w > 0).sum())
    b = lm.compute_balance(
        m.all_units,
        BASE["covariates"],
        m.all_units["weights"].to_numpy(),
        ["race"],
        estimand=m.spec.estimand,
        warn=False,
    )
    assert _balance_diff(b, name, drop_distance=True) < 1e-6


@pytest.mark.parametrize(("name", "estimand"), [("iptw_att", "ATT"), ("iptw_ate", "ATE")])
def test_iptw_weights_and_balance(lalonde, name, estimand):
    """IPTW weights from glm's fitted scores (R formulas in cases.json) and bal1var balance."""
    m = lm.match(
        lalonde, {**BASE, "method": "iptw", "estimand": estimand, "stabilize": False}, warn=False
    )
    w, ref_w = _weights(m, name)
    np.testing.assert_allclose(w, ref_w, rtol=1e-6)
    # the distance row's eCDF mean counts distinct scores, which differ in the last bit between
    # R and statsmodels for a few identical-covariate units, so it is compared for its SMD only
    assert _balance_diff(m.balance(), name, drop_distance=True) < 1e-6
    ref = pd.read_csv(REF / f"{name}_balance.csv").set_index("variable")
    got = m.balance().to_frame().set_index("variable")
    for col in ("smd_before", "smd_after"):
        assert got.loc["distance", col] == pytest.approx(ref.loc["distance", col], abs=1e-6)
    assert m.data["subclass"].isna().all()
