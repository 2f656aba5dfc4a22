"""Dates after the data end are kept at load and cut at the data end by the cohort (DESIGN §3).

Reference: hand-worked timelines. Data end 2016-06-30. The loaded value is the agency's own; the
cohort's follow-up, stays and episodes stop at the data end exactly as for an open stay, a death
after the data end is not a death in the data, and a person referred after the data end is in
the flow as "no follow-up", their earlier events kept.
"""

from __future__ import annotations

import pandas as pd
from extracts_helpers import canonical_frames, load, site_config

import leadeval as le
from leadeval.config import parse_config


def _cohort(tmp_path, frames):
    config = site_config(tmp_path, frames)
    ex = load(tmp_path, config)
    return ex, le.build_cohort(ex, parse_config(config, base_dir=tmp_path))


def test_stays_exits_and_deaths_after_the_data_end_are_censored_there(tmp_path):
    frames = canonical_frames()
    frames["roster"].loc[3, "death_date"] = "2016-09-01"  # P4 dies after the data end
    frames["roster"].loc[1, "exit_date"] = "2016-12-01"  # P2 exits after it
    frames["jail"].loc[2, "release_date"] = "2016-09-01"  # P4's stay ends after it
    ex, cohort = _cohort(tmp_path, frames)
    q = ex.quality.set_index("extract")
    assert q.loc["roster", "censored"] == 2 and q.loc["jail", "censored"] == 1
    assert q["quarantined"].sum() == 0
    assert ex.to_pandas("jail")["release_date"].max() == pd.Timestamp("2016-09-01")  # as written

    frames["roster"].loc[3, "death_date"] = None
    frames["roster"].loc[1, "exit_date"] = None
    frames["jail"].loc[2, "release_date"] = None  # the same stay, still open at the data end
    (tmp_path / "open").mkdir()
    _, open_cohort = _cohort(tmp_path / "open", frames)
    persons = cohort.persons.set_index("person_id")
    same = open_cohort.persons.set_index("person_id")
    assert persons.loc["P4", "followup_end_reason"] == "data_end"
    pd.testing.assert_frame_equal(persons, same)
    pd.testing.assert_frame_equal(cohort.panel, open_cohort.panel)
    # P4: booked 2015-03-03 and in custody through the data end: bed-days 2015-03-03..2016-06-30
    # inclusive = 366 (to 2016-03-03, over 29 Feb) + 119 + 1 = 486, none after the data end
    assert persons.loc["P4", "jail_days_post_all"] == 486


def test_a_person_referred_after_the_data_end_is_in_the_flow_with_events_kept(tmp_path):
    frames = canonical_frames()
    frames["roster"].loc[2, "referral_date"] = "2016-08-01"  # P3, a pool member
    ex, cohort = _cohort(tmp_path, frames)
    assert "P3" in ex.to_pandas("roster")["person_id"].tolist()
    assert (ex.to_pandas("arrests")["person_id"] == "P3").sum() == 1  # their 2014 arrest stays
    flow = cohort.flow.set_index("person_id")
    assert flow.loc["P3", "reason"] == "index date on or after data end (no follow-up)"
    assert "P3" not in cohort.persons["person_id"].tolist()
