"""Cohort builder: each rule of DESIGN section 3 pinned on a tiny hand-built dataset.

Reference: expected values are worked out by hand from the calendar in each test (the arithmetic
is in the comments), independently of the code under test.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import leadeval as le
from leadeval.config import DesignConfig
from leadeval.errors import CohortError, ConfigError

END = "2016-12-31"


def roster(*rows: dict) -> pd.DataFrame:
    base = {"group": "lead", "birth_year": 1980}
    return pd.DataFrame([{**base, **r} for r in rows])


def build(frames: dict, end: str = END, **design) -> le.Cohort:
    ex = le.Extracts.from_frames(frames, data_end_date=end)
    return le.build_cohort(ex, DesignConfig(**design))


def person(c: le.Cohort, pid: str) -> pd.Series:
    return c.persons.set_index("person_id").loc[pid]


def months(c: le.Cohort, pid: str) -> pd.DataFrame:
    return c.panel[c.panel["person_id"] == pid].set_index("month_offset")


# --- windows --------------------------------------------------------------------------------


def test_index_day_in_neither_window_and_inclusive_window_boundaries():
    """t0 = 2015-03-01. Pre 365 = [2014-03-01, 2015-02-28] (2014-03-01 + 365 d = 2015-03-01);
    post 182 = [2015-03-02, 2015-08-30] (Mar +30, Apr +30, May +31, Jun +30, Jul +31, Aug +30 =
    182 days after Mar 1)."""
    r = roster({"person_id": "a", "referral_date": "2015-03-01"})
    dates = [
        "2015-03-01",  # the index day: in no window
        "2014-03-01",  # t0 - 365: first day of pre 365
        "2014-02-28",  # t0 - 366: outside pre 365, inside pre 730
        "2015-02-28",  # t0 - 1: last day of every pre window
        "2015-03-02",  # t0 + 1: first day of every post window
        "2015-08-30",  # t0 + 182: last day of post 182
        "2015-08-31",  # t0 + 183: outside post 182, inside post 365
    ]
    arrests = pd.DataFrame(
        {"arrest_id": [f"x{i}" for i in range(7)], "person_id": "a", "arrest_date": dates}
    )
    p = person(build({"roster": r, "arrests": arrests}), "a")
    assert p["arrests_pre_365d"] == 2  # 2014-03-01, 2015-02-28
    assert p["arrests_pre_730d"] == 3  # + 2014-02-28
    assert p["arrests_post_182d"] == 2  # 2015-03-02, 2015-08-30
    assert p["arrests_post_365d"] == 3  # + 2015-08-31
    assert p["arrests_post_all"] == 3  # the index-day arrest is never an outcome
    assert p["arrest_post_182d"] == 1.0
    assert p["any_arrest_pre_365d"] == 1
    assert p["days_to_arrest"] == 1 and p["arrested"] == 1  # first arrest after t0: 2015-03-02
    assert p["followup_days"] == 671  # 2015-03-01 -> 2016-03-01 = 366 (Feb 29 2016) + 305 to Dec 31


def test_jail_stay_straddling_index_date_is_split_between_windows():
    """Stay 2015-02-20..2015-03-05 around t0 = 2015-03-01: pre gets Feb 20..28 = 9 days, post
    gets Mar 2..5 = 4 days, the index day itself is in neither. Exposure subtracts them:
    365 - 9 = 356 and 182 - 4 = 178. The panel is calendar-based: February (m = -1) has 9 jail
    days and March (m = 0) has Mar 1..5 = 5, the index day included."""
    r = roster({"person_id": "a", "referral_date": "2015-03-01"})
    jail = pd.DataFrame(
        {
            "booking_id": ["j"],
            "person_id": ["a"],
            "booking_date": ["2015-02-20"],
            "release_date": ["2015-03-05"],
        }
    )
    c = build({"roster": r, "jail": jail})
    p = person(c, "a")
    assert p["jail_days_pre_365d"] == 9
    assert p["jail_days_post_182d"] == 4
    assert p["jail_days_post_all"] == 4
    assert p["bookings_pre_365d"] == 1 and p["bookings_post_182d"] == 0
    assert p["exposure_pre_365d"] == 356
    assert p["exposure_post_182d"] == 178
    assert p["exposure_post_all"] == 671 - 4
    m = months(c, "a")
    assert m.loc[-1, "jail_days"] == 9 and m.loc[0, "jail_days"] == 5 and m.loc[1, "jail_days"] == 0


def test_open_jail_stay_runs_to_followup_end_and_incomplete_window():
    """t0 = 2016-06-01, data end 2016-12-31: follow-up = Jun 29 + Jul 31 + Aug 31 + Sep 30 +
    Oct 31 + Nov 30 + Dec 31 = 213 days. Post 182 ends 2016-11-30 (complete); post 365 ends
    2017-06-01 (incomplete). Open stay from 2016-11-20 runs to 2016-12-31: 11 + 31 = 42 days, of
    which Nov 20..30 = 11 fall in post 182. An arrest on 2016-07-01 is counted, but the binary
    365-day outcome stays missing because the window is incomplete."""
    r = roster({"person_id": "b", "referral_date": "2016-06-01"})
    jail = pd.DataFrame(
        {
            "booking_id": ["k"],
            "person_id": ["b"],
            "booking_date": ["2016-11-20"],
            "release_date": [None],
        }
    )
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["b"], "arrest_date": ["2016-07-01"]})
    c = build({"roster": r, "jail": jail, "arrests": arrests})
    p = person(c, "b")
    assert p["followup_days"] == 213
    assert bool(p["window_complete_post_182d"]) and not bool(p["window_complete_post_365d"])
    assert p["jail_days_post_182d"] == 11
    assert p["jail_days_post_365d"] == 42 and p["jail_days_post_all"] == 42
    assert p["observed_days_post_365d"] == 213
    assert p["exposure_post_182d"] == 182 - 11
    assert p["exposure_post_365d"] == 213 - 42  # reduced exposure in the incomplete window
    assert p["arrests_post_365d"] == 1
    assert np.isnan(p["arrest_post_365d"])  # missing, not 1, although an arrest was seen
    assert p["arrest_post_182d"] == 1.0
    m = months(c, "b")
    assert m.index.max() == 6  # December 2016 is the last month (offset 6)
    assert m.loc[5, "jail_days"] == 11 and m.loc[6, "jail_days"] == 31
    assert m.loc[6, "days_observed"] == 31


def test_jail_and_prison_on_same_days_count_once_in_exposure():
    """t0 = 2015-01-10. Jail Feb 1..10 (10 days) and prison Feb 5..20 (16 days) overlap on
    Feb 5..10: incarcerated days = Feb 1..20 = 20, so exposure = 182 - 20 = 162, not 182 - 26.
    Prison admission on Feb 5 = day 21 (rest of Jan) + 5 = 26 after t0."""
    r = roster({"person_id": "c", "referral_date": "2015-01-10"})
    jail = pd.DataFrame(
        {
            "booking_id": ["j"],
            "person_id": ["c"],
            "booking_date": ["2015-02-01"],
            "release_date": ["2015-02-10"],
        }
    )
    prison = pd.DataFrame(
        {"person_id": ["c"], "admission_date": ["2015-02-05"], "release_date": ["2015-02-20"]}
    )
    frames = {"roster": r, "jail": jail, "prison": prison}
    p = person(build(frames), "c")
    assert p["jail_days_post_182d"] == 10 and p["prison_days_post_182d"] == 16
    assert p["incarcerated_days_post_182d"] == 20
    assert p["exposure_post_182d"] == 162
    assert p["prison_post_182d"] == 1.0 and p["prison_admitted"] == 1 and p["days_to_prison"] == 26
    assert p["prison_pre_365d"] == 0
    # At-risk adjustment switched off: exposure is the observed days.
    q = person(build(frames, exclude_incarceration=False), "c")
    assert q["exposure_post_182d"] == 182


def test_stays_before_every_window_leave_the_window_days_unchanged():
    """t0 = 2015-01-10, pre window of 30 days: Dec 11, 2014 .. Jan 9, 2015. Jail Nov 1..Dec 5
    ends before it (dropped before the merge); jail Nov 20..Dec 20 starts inside that stay and
    reaches in: Dec 11..20 = 10 days (whether or not its start is cut to Dec 6). Prison
    Nov 10..Dec 15 overlaps both jail stays: jail or prison on Dec 11..20 = 10 days. Unsheltered
    Dec 1..Jan 20 and Jan 5..Feb 1 (starts inside the first, ends after): Dec 11..Jan 9 = 30
    days; Jan 12..Mar 1 starts after the window (dropped): still 30. Hand-computed."""
    r = roster({"person_id": "c", "referral_date": "2015-01-10"})
    jail = pd.DataFrame(
        {
            "booking_id": ["j1", "j2"],
            "person_id": ["c", "c"],
            "booking_date": ["2014-11-01", "2014-11-20"],
            "release_date": ["2014-12-05", "2014-12-20"],
        }
    )
    prison = pd.DataFrame(
        {"person_id": ["c"], "admission_date": ["2014-11-10"], "release_date": ["2014-12-15"]}
    )
    housing = pd.DataFrame(
        {
            "person_id": ["c"] * 3,
            "start_date": ["2014-12-01", "2015-01-05", "2015-01-12"],
            "end_date": ["2015-01-20", "2015-02-01", "2015-03-01"],
            "status": ["unsheltered"] * 3,
        }
    )
    frames = {"roster": r, "jail": jail, "prison": prison, "housing": housing}
    p = person(build(frames, pre_windows=[30], outcomes=["jail", "prison", "housing"]), "c")
    assert p["jail_days_pre_30d"] == 10 and p["bookings_pre_30d"] == 0
    assert p["prison_days_pre_30d"] == 5  # Dec 11..15
    assert p["incarcerated_days_pre_30d"] == 10 and p["exposure_pre_30d"] == 20
    assert p["unsheltered_days_pre_30d"] == 30


def test_death_censors_followup_and_is_a_competing_event():
    """t0 = 2015-05-01, death 2015-09-14: follow-up = 30 (May) + 30 + 31 + 31 + 14 = 136 days,
    reason 'death'. No arrest: days_to_arrest censored at 136. With death as a competing event
    first_event = 3 at day 136; without, first_event = 0 (censored) at day 136. An arrest dated
    after death (bad data) is past follow-up end and not counted. The 182-day window is
    incomplete, so the binary outcome is missing; the panel stops in September (m = 4), with 14
    days observed."""
    r = roster({"person_id": "d", "referral_date": "2015-05-01", "death_date": "2015-09-14"})
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["d"], "arrest_date": ["2015-10-15"]})
    c = build({"roster": r, "arrests": arrests})
    p = person(c, "d")
    assert p["followup_end"] == pd.Timestamp("2015-09-14")
    assert p["followup_end_reason"] == "death"
    assert p["followup_days"] == 136
    assert p["arrests_post_all"] == 0 and p["arrested"] == 0 and p["days_to_arrest"] == 136
    assert p["first_event"] == 3 and p["days_to_first_event"] == 136
    assert np.isnan(p["arrest_post_182d"])
    m = months(c, "d")
    assert m.index.max() == 4 and m.loc[4, "days_observed"] == 14
    q = person(build({"roster": r, "arrests": arrests}, competing_events=[]), "d")
    assert q["first_event"] == 0 and q["days_to_first_event"] == 136


def test_competing_events_arrest_vs_prison():
    """t0 = 2015-01-10; prison admission Feb 5 (day 26), arrest Mar 1 (day 21 + 28 + 1 = 50).
    With prison competing, the first event is prison (2) at 26; with only death competing, the
    arrest (1) at 50. An arrest and a prison admission on the same day: the arrest comes first."""
    r = roster({"person_id": "c", "referral_date": "2015-01-10"})
    prison = pd.DataFrame(
        {"person_id": ["c"], "admission_date": ["2015-02-05"], "release_date": ["2015-02-20"]}
    )
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["c"], "arrest_date": ["2015-03-01"]})
    frames = {"roster": r, "prison": prison, "arrests": arrests}
    p = person(build(frames), "c")
    assert p["days_to_arrest"] == 50
    assert (p["first_event"], p["days_to_first_event"]) == (2, 26)
    q = person(build(frames, competing_events=["death"]), "c")
    assert (q["first_event"], q["days_to_first_event"]) == (1, 50)
    same = {**frames, "arrests": arrests.assign(arrest_date="2015-02-05")}
    s = person(build(same), "c")
    assert (s["first_event"], s["days_to_first_event"]) == (1, 26)


def test_exit_censoring_switch():
    """t0 = 2015-01-01, exit 2015-06-30, arrest 2015-08-01 (31+28+31+30+31+30+31 = 212 days).
    Exit not censoring: follow-up to data end, the arrest counts at day 212. Exit censoring:
    follow-up = 180 days (Jan 1 -> Jun 30), reason 'exit', no arrest, and the 182-day window
    (ends Jul 2) is incomplete."""
    r = roster({"person_id": "e", "referral_date": "2015-01-01", "exit_date": "2015-06-30"})
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["e"], "arrest_date": ["2015-08-01"]})
    frames = {"roster": r, "arrests": arrests}
    p = person(build(frames), "e")
    assert p["followup_end_reason"] == "data_end" and p["arrests_post_all"] == 1
    assert p["days_to_arrest"] == 212
    q = person(build(frames, exit_censors=True), "e")
    assert q["followup_end_reason"] == "exit" and q["followup_days"] == 180
    assert q["arrests_post_all"] == 0 and q["arrested"] == 0 and q["days_to_arrest"] == 180
    assert np.isnan(q["arrest_post_182d"]) and not bool(q["window_complete_post_182d"])


# --- panel -----------------------------------------------------------------------------------


def test_month_offsets_across_a_year_boundary():
    """t0 = 2015-12-15 (index month December 2015). Arrests on 2015-12-02 (before t0 but in
    month 0) and 2015-12-15 (the index day, also month 0), 2016-01-03 (month +1), 2015-11-30
    (month -1) and 2014-12-31 (December 2014: -12). An EMS call at 23:30 on the index day is in
    month 0 and in no window."""
    r = roster({"person_id": "f", "referral_date": "2015-12-15"})
    dates = ["2015-12-02", "2015-12-15", "2016-01-03", "2015-11-30", "2014-12-31"]
    arrests = pd.DataFrame({"arrest_id": list("vwxyz"), "person_id": "f", "arrest_date": dates})
    ems = pd.DataFrame(
        {"call_id": ["e1"], "person_id": ["f"], "call_datetime": ["2015-12-15 23:30:00"]}
    )
    c = build({"roster": r, "arrests": arrests, "ems": ems})
    m = months(c, "f")
    assert m.loc[0, "arrests"] == 2 and m.loc[1, "arrests"] == 1
    assert m.loc[-1, "arrests"] == 1 and m.loc[-12, "arrests"] == 1
    assert m["arrests"].sum() == 5
    assert m.loc[1, "month_start"] == pd.Timestamp("2016-01-01")
    assert m.loc[-12, "month_start"] == pd.Timestamp("2014-12-01")
    assert list(m.index) == list(range(-12, 13))  # data end Dec 2016 = month +12
    assert m.loc[0, "ems_calls"] == 1
    p = person(c, "f")
    assert p["ems_calls_pre_365d"] == 0 and p["ems_calls_post_all"] == 0
    assert p["arrests_pre_365d"] == 3  # Dec 2, Nov 30 and Dec 31 2014 (t0 - 349 days)


def test_housing_income_and_contacts_by_month():
    """t0 = 2015-03-15, data end 2015-07-31 (panel months -12..4).
    - emergency shelter 2015-01-31..2015-02-01 touches January (m=-2) and February (m=-1);
    - transitional 2015-03-31..2015-03-31 (end inclusive): March (m=0), not permanent;
    - permanent from 2015-04-30, open: runs to follow-up end, so April..July (m=1..4);
    - institutional in May does not count as sheltered;
    - unsheltered 2014-06-01..2014-06-30 = 30 days inside pre 365 = [2014-03-15, 2015-03-14].
    Income: employment in April (m=1), benefits in May, 'none' in June, nothing in July.
    Contacts: one on 2013-12-20 (before the panel: seeds the running total), two in March, one
    in May."""
    r = roster({"person_id": "g", "referral_date": "2015-03-15"})
    housing = pd.DataFrame(
        {
            "person_id": "g",
            "start_date": ["2015-01-31", "2015-03-31", "2015-04-30", "2015-05-10", "2014-06-01"],
            "end_date": ["2015-02-01", "2015-03-31", None, "2015-05-20", "2014-06-30"],
            "status": [
                "emergency_shelter",
                "transitional",
                "permanent",
                "institutional",
                "unsheltered",
            ],
        }
    )
    income = pd.DataFrame(
        {
            "person_id": "g",
            "month": ["2015-04", "2015-05", "2015-06"],
            "source": ["employment", "benefits", "none"],
            "amount": [900.0, 700.0, 0.0],
        }
    )
    contacts = pd.DataFrame(
        {"person_id": "g", "contact_date": ["2013-12-20", "2015-03-16", "2015-03-20", "2015-05-02"]}
    )
    c = build(
        {"roster": r, "housing": housing, "income": income, "contacts": contacts},
        end="2015-07-31",
    )
    m = months(c, "g")
    assert list(m.index) == list(range(-12, 5))
    sheltered = {o: int(m.loc[o, "sheltered"]) for o in range(-3, 5)}
    assert sheltered == {-3: 0, -2: 1, -1: 1, 0: 1, 1: 1, 2: 1, 3: 1, 4: 1}
    permanent = {o: int(m.loc[o, "permanent_housing"]) for o in range(-3, 5)}
    assert permanent == {-3: 0, -2: 0, -1: 0, 0: 0, 1: 1, 2: 1, 3: 1, 4: 1}
    assert m.loc[1:4, "employed"].tolist() == [1, 0, 0, 0]
    assert m.loc[1:4, "legit_income"].tolist() == [1, 1, 0, 0]
    assert m.loc[0, "contacts"] == 2 and m.loc[2, "contacts"] == 1
    assert m.loc[-12, "cumulative_contacts"] == 1  # the 2013 contact
    assert m.loc[0, "cumulative_contacts"] == 3 and m.loc[4, "cumulative_contacts"] == 4
    p = person(c, "g")
    assert p["unsheltered_days_pre_365d"] == 30
    assert p["months_unsheltered_pre_365d"] == pytest.approx(30 / (365.25 / 12))
    assert p["contacts_post_all"] == 3


def test_person_with_no_events():
    """A person with no event anywhere: zero counts, full exposure, binary 0 (windows complete),
    censored at follow-up end; a full panel of zeros."""
    r = roster({"person_id": "h", "group": "pool", "referral_date": "2015-03-01"})
    other = "z"
    frames = {
        "roster": pd.concat([r, roster({"person_id": other, "referral_date": "2015-03-01"})]),
        "arrests": pd.DataFrame(
            {"arrest_id": ["x"], "person_id": [other], "arrest_date": ["2015-04-01"]}
        ),
        "charges": pd.DataFrame(
            {"charge_id": ["c"], "person_id": [other], "filing_date": ["2015-04-01"]}
        ),
        "jail": pd.DataFrame(
            {
                "booking_id": ["j"],
                "person_id": [other],
                "booking_date": ["2015-04-01"],
                "release_date": ["2015-04-02"],
            }
        ),
        "prison": pd.DataFrame(
            {"person_id": [other], "admission_date": ["2015-04-01"], "release_date": ["2015-04-02"]}
        ),
        "ems": pd.DataFrame(
            {"call_id": ["e"], "person_id": [other], "call_datetime": ["2015-04-01"]}
        ),
    }
    c = build(frames)
    p = person(c, "h")
    assert p["treated"] == 0 and p["group"] == "pool"
    for col in (
        "arrests_post_182d",
        "charges_post_all",
        "jail_days_pre_365d",
        "bookings_post_365d",
        "prison_days_post_all",
        "ems_calls_pre_730d",
        "felony_charges_post_182d",
    ):
        assert p[col] == 0, col
    assert p["exposure_post_182d"] == 182 and p["exposure_pre_730d"] == 730
    assert p["arrest_post_182d"] == 0.0 and p["prison_post_365d"] == 0.0
    assert p["felony_charge_post_182d"] == 0.0
    assert p["days_to_arrest"] == p["followup_days"] == 671
    assert p["first_event"] == 0 and p["days_to_first_event"] == 671
    m = months(c, "h")
    assert len(m) == 34  # -12 .. +21 (Dec 2016 is 21 months after Mar 2015)
    assert (m[["arrests", "jail_days", "ems_calls"]] == 0).all().all()


def test_charges_by_court_and_severity():
    """Legal events for costs: a municipal misdemeanour charge in the pre window and a
    superior-court felony in the post window; the felony makes felony_charge_post_182d = 1."""
    r = roster({"person_id": "a", "referral_date": "2015-03-01"})
    charges = pd.DataFrame(
        {
            "charge_id": ["c1", "c2"],
            "person_id": "a",
            "filing_date": ["2015-01-15", "2015-04-01"],
            "court": ["municipal", "superior"],
            "severity": ["misdemeanor", "felony"],
        }
    )
    p = person(build({"roster": r, "charges": charges}), "a")
    assert p["charges_municipal_pre_365d"] == 1 and p["charges_superior_pre_365d"] == 0
    assert p["charges_superior_post_182d"] == 1 and p["charges_municipal_post_182d"] == 0
    assert p["felony_charges_post_182d"] == 1 and p["felony_charge_post_182d"] == 1.0
    assert p["charges_pre_365d"] == 1 and p["felony_charges_pre_365d"] == 0


# --- index date, flow, configuration -------------------------------------------------------------


def test_index_date_choice():
    """referral 2015-01-01, enrollment 2015-02-01, first contact 2015-03-15: the index date
    follows the config; a person without an enrollment date is excluded under the enrollment
    design (index date missing) but included under the referral design."""
    r = roster(
        {
            "person_id": "a",
            "referral_date": "2015-01-01",
            "enrollment_date": "2015-02-01",
            "first_contact_date": "2015-03-15",
        },
        {"person_id": "b", "referral_date": "2015-01-01"},
    )
    expected = {
        "referral_date": "2015-01-01",
        "enrollment_date": "2015-02-01",
        "first_contact_date": "2015-03-15",
    }
    for col, date in expected.items():
        c = build({"roster": r}, index_date=col)
        assert person(c, "a")["index_date"] == pd.Timestamp(date), col
    c = build({"roster": r}, index_date="enrollment_date")
    assert c.persons["person_id"].tolist() == ["a"]
    assert c.flow.set_index("person_id").loc["b", "reason"] == "index date missing"
    assert len(build({"roster": r}).persons) == 2


def test_flow_accounts_for_every_roster_person():
    """Each exclusion rule, in order, and the counts by group: roster = excluded + included."""
    r = roster(
        {"person_id": "ok1", "referral_date": "2015-01-01"},
        {
            "person_id": "ok2",
            "group": "pool",
            "referral_date": "2015-01-01",
            "exit_date": "2014-12-01",
        },  # exit before index does not matter unless exit censors
        {"person_id": "nodate", "group": "pool", "referral_date": None},
        {"person_id": "atend", "referral_date": END},
        {"person_id": "after", "group": "pool", "referral_date": "2017-02-01"},
        {"person_id": "dead", "referral_date": "2015-01-01", "death_date": "2014-12-31"},
        {"person_id": "deadt0", "referral_date": "2015-01-01", "death_date": "2015-01-01"},
        {"person_id": "other", "group": "comparison", "referral_date": "2015-01-01"},
    )
    c = build({"roster": r})
    reasons = c.flow.set_index("person_id")["reason"].to_dict()
    assert reasons == {
        "after": "index date on or after data end (no follow-up)",
        "atend": "index date on or after data end (no follow-up)",
        "dead": "died before index date",
        "deadt0": "died on index date (no follow-up)",
        "nodate": "index date missing",
        "ok1": "included",
        "ok2": "included",
        "other": "group is not lead or pool",
    }
    assert c.flow["person_id"].tolist() == sorted(reasons)
    assert c.persons["person_id"].tolist() == ["ok1", "ok2"]
    fc = c.flow_counts().set_index(["step", "reason"])
    assert fc.loc[("roster", ""), "total"] == 8
    assert fc.loc[("included", ""), "lead"] == 1 and fc.loc[("included", ""), "pool"] == 1
    assert fc.loc[("excluded", "index date on or after data end (no follow-up)"), "lead"] == 1
    assert fc.loc[("excluded", "index date on or after data end (no follow-up)"), "pool"] == 1
    assert fc.loc[("excluded", "group is not lead or pool"), "other"] == 1
    body = fc.drop(index=[("roster", "")])
    assert (
        body[["lead", "pool", "other", "total"]].sum()
        == fc.loc[("roster", "")][["lead", "pool", "other", "total"]]
    ).all()
    censor = build({"roster": r}, exit_censors=True)
    assert censor.flow.set_index("person_id").loc["ok2", "reason"] == (
        "exited on or before index date (no follow-up)"
    )


def test_missing_extracts_are_skipped_and_recorded():
    """A site with only a roster and arrests: no jail/charges/... columns, and the Cohort says
    which outcome families were skipped and that exposure is not reduced for incarceration."""
    r = roster({"person_id": "a", "referral_date": "2015-03-01"})
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["a"], "arrest_date": ["2015-04-01"]})
    c = build({"roster": r, "arrests": arrests})
    assert "arrests_post_182d" in c.persons
    assert not [
        col for col in c.persons if col.startswith(("jail_", "charges_", "prison_", "ems_"))
    ]
    assert set(c.skipped["outcome"]) == {
        "charges",
        "jail",
        "prison",
        "ems",
        "housing",
        "income",
        "contacts",
        "exposure",
    }
    assert set(c.skipped.loc[c.skipped["outcome"] == "exposure", "extract"]) == {"jail", "prison"}
    assert list(c.panel.columns) == [
        "person_id",
        "group",
        "treated",
        "month_offset",
        "month_start",
        "arrests",
        "days_observed",
    ]
    assert person(c, "a")["exposure_post_182d"] == 182
    only = build({"roster": r, "arrests": arrests}, outcomes=["arrests"])
    # families not asked for are not "skipped"; the exposure note remains
    assert only.skipped[["outcome", "extract"]].values.tolist() == [
        ["exposure", "jail"],
        ["exposure", "prison"],
    ]


def test_demographics_and_age():
    """Age in completed years at the index date: born 1980-03-02, index 2015-03-01 -> 34 (the
    birthday is the next day); with only a birth year, year difference 2015 - 1990 = 25."""
    r = pd.DataFrame(
        {
            "person_id": ["a", "b"],
            "group": ["lead", "pool"],
            "referral_date": ["2015-03-01", "2015-03-01"],
            "birth_date": ["1980-03-02", None],
            "birth_year": [None, 1990],
            "sex": ["female", "male"],
            "area": ["north", "south"],
            "race_ethnicity": ["black", "white"],
            "referral_type": ["social_contact", None],
        }
    )
    c = build({"roster": r})
    a, b = person(c, "a"), person(c, "b")
    assert a["age_at_index"] == 34 and b["age_at_index"] == 25
    assert (a["sex"], a["area"], a["race_ethnicity"], a["referral_type"]) == (
        "female",
        "north",
        "black",
        "social_contact",
    )
    assert pd.isna(b["referral_type"])


def test_accepts_site_config_and_other_end_date():
    """A SiteConfig's design and data end date are used; a DesignConfig with an explicit data
    end date overrides the extracts' one (follow-up 2015-03-01 -> 2015-12-31 = 305 days)."""
    r = roster(
        {"person_id": "a", "referral_date": "2015-03-01"},
        {"person_id": "b", "referral_date": "2015-03-01", "group": "pool"},
    )
    ex = le.Extracts.from_frames({"roster": r}, data_end_date=END)
    cfg = le.parse_config(
        {
            "site": "s",
            "data_end_date": "2015-12-31",
            "extracts": {"roster": {"path": "r.csv"}},
            "design": {"post_windows": [90]},
        }
    )
    c = le.build_cohort(ex, cfg)
    assert person(c, "a")["followup_days"] == 305 and "exposure_post_90d" in c.persons
    c2 = le.build_cohort(ex, DesignConfig(), data_end_date=dt.date(2015, 12, 31))
    assert person(c2, "a")["followup_days"] == 305
    assert c.to_frame() is c.persons


def test_everyone_excluded_gives_empty_tables_with_all_columns():
    """A roster whose index dates are all after the data end: empty persons and panel (with
    their columns), and the flow still lists everyone."""
    r = roster({"person_id": "a", "referral_date": "2017-03-01"})
    arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["a"], "arrest_date": ["2015-04-01"]})
    contacts = pd.DataFrame({"person_id": ["a"], "contact_date": ["2015-04-01"]})
    c = build({"roster": r, "arrests": arrests, "contacts": contacts})
    assert c.persons.empty and "arrests_post_182d" in c.persons
    assert c.panel.empty and "cumulative_contacts" in c.panel
    assert c.flow["included"].tolist() == [False]


def test_a_site_cohort_without_participants_or_comparison_units_fails():
    """With a whole site config, a cohort in which no LEAD participant (or, where the design
    compares, no pool member) is included raises CohortError with the flow's reasons."""
    cfg = le.parse_config({"site": "s", "data_end_date": END, "extracts": {"roster": {"path": "r"}}})
    late = roster(
        {"person_id": "a", "referral_date": "2017-03-01"},
        {"person_id": "b", "referral_date": "2015-03-01", "group": "pool"},
    )
    with pytest.raises(
        CohortError,
        match=r"no LEAD participants; exclusions: index date on or after data end "
        r"\(no follow-up\) 1",
    ):
        le.build_cohort(le.Extracts.from_frames({"roster": late}, data_end_date=END), cfg)
    lead_only = roster({"person_id": "a", "referral_date": "2015-03-01"})
    ex = le.Extracts.from_frames({"roster": lead_only}, data_end_date=END)
    with pytest.raises(CohortError, match=r"no comparison-pool members; the roster has no rows"):
        le.build_cohort(ex, cfg)
    within = cfg.model_copy(update={"design": DesignConfig(comparison=False)})
    assert len(le.build_cohort(ex, within).persons) == 1


def test_errors():
    r = roster(
        {"person_id": "a", "referral_date": "2015-03-01"},
        {"person_id": "a", "referral_date": "2015-04-01"},
    )
    with pytest.raises(CohortError, match=r"person_id is not unique, e.g. \['a'\]"):
        build({"roster": r})
    with pytest.raises(CohortError, match="SiteConfig or a DesignConfig"):
        le.build_cohort(le.Extracts.from_frames({"roster": r}, data_end_date=END), {"x": 1})
    base = {"site": "s", "data_end_date": END, "extracts": {"roster": {"path": "r.csv"}}}
    with pytest.raises(ConfigError, match=r"design.outcomes.0: got 'arrest'"):
        le.parse_config({**base, "design": {"outcomes": ["arrest"]}})
    with pytest.raises(ConfigError, match=r"design.pre_windows: window lengths are whole days > 0"):
        le.parse_config({**base, "design": {"pre_windows": [0, 365]}})
    with pytest.raises(ConfigError, match=r"design.competing_events.0: got 'jail'"):
        le.parse_config({**base, "design": {"competing_events": ["jail"]}})
