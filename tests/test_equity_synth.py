"""Planted equity truths recovered (leadeval.synth.planted): a referral disparity at equal history
and a different effect in one subgroup, on a synthetic Seattle site with known truth.

References: the planted conditional odds ratio of referral (effects.json ``planted``) for the
disparity; the subgroup's marginal odds ratio computed from the truth table's potential outcomes
Y(1), Y(0) of the very participants analysed, for the subgroup effect; and no difference where
none is planted (the other race groups, sex; the race interaction)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leadeval as le
from leadeval.config import DesignConfig, EquityConfig, MatchingConfig
from leadeval.equity import equity_of_access, subgroup_effects, subgroup_samples
from leadeval.errors import ConfigError
from leadeval.extracts import Extracts
from leadeval.synth import generate_site

#: One xdist worker (``--dist loadgroup``) builds the planted site and its cohort.
pytestmark = pytest.mark.xdist_group("equity_synth")

PLANTED = {
    "referral_disparity": {"variable": "race_ethnicity", "level": "black", "odds_ratio": 2.0},
    "subgroup_effect": {"variable": "sex", "level": "female", "hazard_ratio": 2.5},
}
SPEC = MatchingConfig(
    covariates=["log_arrests_pre_365d", "age_at_index", "months_unsheltered_pre_365d"],
    categorical=["area"], caliper=0.2,
)


@pytest.fixture(scope="module")
def planted():
    site = generate_site("seattle", n_participants=1000, n_pool=6000, seed=11, planted=PLANTED)
    frames = {}
    for name, frame in site.extracts.items():
        frame = frame.copy()
        if "month" in frame.columns:
            frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
        frames[name] = frame
    ex = Extracts.from_frames(frames, data_end_date=site.data_end_date)
    cohort = le.build_cohort(ex, DesignConfig(pre_windows=[30, 365, 730], post_windows=[182, 365]))
    persons = cohort.persons.assign(
        log_arrests_pre_365d=np.log1p(cohort.persons["arrests_pre_365d"]),
        unsheltered_pre_30d=(cohort.persons["unsheltered_days_pre_30d"] > 0).astype(int),
    )
    return site, persons


def test_planted_truth_is_recorded(planted):
    site, _ = planted
    rec = site.effects["planted"]
    assert rec["referral_disparity"]["odds_ratio"] == 2.0
    assert rec["referral_disparity"]["log_odds_shift"] == pytest.approx(np.log(2.0))
    assert rec["subgroup_effect"]["hazard_ratio"] == 2.5
    roster = site.extracts["roster"].set_index("person_id")
    t = site.truth
    assert (t["planted_subgroup"] == (roster.loc[t["person_id"], "sex"] == "female").to_numpy()).all()


def test_default_generator_plants_nothing():
    """Off by default: no 'planted' record, no extra truth column (the shipped samples are
    byte-identical; data_samples/README.md regenerates them)."""
    site = generate_site("longmont", n_participants=30, n_pool=60, seed=3)
    assert "planted" not in site.effects and "planted_subgroup" not in site.truth


def test_bad_planted_truths_are_clear_errors():
    with pytest.raises(ConfigError, match="level 'martian' is not in the seattle profile"):
        generate_site("seattle", 20, 20, seed=1, planted={
            "referral_disparity": {"variable": "race_ethnicity", "level": "martian", "odds_ratio": 2}})
    with pytest.raises(ConfigError, match="unknown planted truth"):
        generate_site("seattle", 20, 20, seed=1, planted={"typo": {}})


def test_planted_referral_disparity_recovered_at_equal_history(planted):
    """The adjusted odds ratio of referral for the planted group (history, age, unsheltered,
    area adjusted: the generator's referral covariates) covers the planted 2.0 and excludes 1;
    groups with no planted disparity (other races, sex) have intervals covering 1."""
    _, persons = planted
    cfg = EquityConfig(by=["race_ethnicity", "sex"], over_time="none",
                       adjust_for=["arrests_pre_365d", "age_at_index", "unsheltered_pre_30d"],
                       adjust_categorical=["area"], reference={"race_ethnicity": "white"})
    res = equity_of_access(persons, cfg).to_frame().set_index(["variable", "level"])
    black = res.loc[("race_ethnicity", "black")]
    assert black["adj_or_low"] < 2.0 < black["adj_or_high"] and black["adj_or_low"] > 1
    assert black["rri_low"] > 1  # the crude index shows it too
    for lv in ("asian", "hispanic", "native_american", "other"):
        r = res.loc[("race_ethnicity", lv)]
        assert r["adj_or_low"] < 1 < r["adj_or_high"], lv
    sex = res.loc[("sex", "female")]
    assert sex["adj_or_low"] < 1 < sex["adj_or_high"]


def test_planted_subgroup_effect_recovered(planted):
    """Matched within sex (exact): the women's 6-month arrest odds ratio covers their true
    marginal OR from the truth table (about 0.95, the planted weaker effect), the men's covers
    theirs (about 0.40), and the sex interaction test rejects; race (nothing planted) does not."""
    site, persons = planted
    matched = le.match(persons, SPEC, warn=False)
    samples = subgroup_samples(persons, matched, SPEC, ["sex", "race_ethnicity"])
    het = subgroup_effects(matched.data, ["arrest_post_182d"], ["sex", "race_ethnicity"],
                           samples=samples)
    t = het.table.set_index(["variable", "level"])
    truth = site.truth.set_index("person_id")
    d = samples["sex"].data
    for sex in ("female", "male"):
        ids = d.loc[(d["treated"] == 1) & (d["sex"] == sex), "person_id"]
        y1 = truth.loc[ids, "arrest_post_182d_y1"].dropna().mean()
        y0 = truth.loc[ids, "arrest_post_182d_y0"].dropna().mean()
        true_or = (y1 / (1 - y1)) / (y0 / (1 - y0))
        row = t.loc[("sex", sex)]
        assert row["ratio_low"] < true_or < row["ratio_high"], (sex, true_or, row)
    assert t.loc[("sex", "female"), "ratio"] > 0.8 and t.loc[("sex", "male"), "ratio_high"] < 0.6
    inter = het.interactions.set_index("variable")["interaction_p"]
    assert inter["sex"] < 0.001
    assert inter["race_ethnicity"] > 0.05
    assert set(het.design["design"]) == {"matched within subgroup (exact on sex)",
                                         "matched within subgroup (exact on race ethnicity)"}


def test_subgroup_match_skips_the_score_model_only(planted):
    """Matching within subgroup with the overall score given reads no score-model field (they
    fed only a balance table nobody reads): the samples equal those of match() with the full
    spec plus ``exact`` on the variable and the same distance (the reference: the spec as
    before), person by person, weights, subclasses and distances."""
    from leadeval.equity import _DISTANCE, UNKNOWN, _overall_distance

    _, persons = planted
    matched = le.match(persons, SPEC, warn=False)
    samples = subgroup_samples(persons, matched, SPEC, ["sex", "race_ethnicity"])
    distance = _overall_distance(persons, matched, SPEC)
    assert distance is not None  # the path under test: the overall score reused
    for var in ("sex", "race_ethnicity"):
        narrow = persons.assign(**{var: persons[var].astype(object).fillna(UNKNOWN),
                                   _DISTANCE: distance})
        full = SPEC.model_copy(update={"exact": [var], "distance_column": _DISTANCE})
        ref = le.match(narrow, full, warn=False).data
        got = samples[var].data
        cols = ["person_id", "treated", "weights", "subclass", "distance"]
        pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                      ref[cols].reset_index(drop=True), check_dtype=False)
