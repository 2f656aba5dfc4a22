"""Every validation rule of the data contract, pinned by its quarantine reason or its error.

Reference: the rules and the precedence of reason codes in docs/data_contract.md and
``leadeval.extracts.validation.REASONS``; each test breaks one cell of a valid extract
(tests/extracts_helpers.py) and checks that exactly that row is quarantined, for that reason.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from extracts_helpers import (
    assert_reconciled,
    canonical_frames,
    load,
    load_frames,
    reasons,
    site_config,
)

from leadeval.config import parse_config
from leadeval.errors import ExtractError
from leadeval.extracts import REASONS, load_extracts


def frames_with(name: str, row: int, **cells):
    """Canonical roster + extract ``name`` with the given cells of 0-based ``row`` replaced."""
    frames = canonical_frames()
    out = {"roster": frames["roster"], name: frames[name]}
    for col, value in cells.items():
        out[name].loc[row, col] = value
    return out


CASES = [
    # extract, 0-based row, cells, reason, column
    ("arrests", 1, {"arrest_date": None}, "missing_required", "arrest_date"),
    ("arrests", 1, {"person_id": "  "}, "missing_required", "person_id"),
    (
        "roster",
        1,
        {"birth_date": None, "birth_year": None},
        "missing_required",
        "birth_date or birth_year",
    ),
    ("program_ledger", 0, {"amount": None}, "missing_required", "amount"),
    ("arrests", 2, {"arrest_date": "2015-02-30"}, "bad_date", "arrest_date"),
    ("arrests", 2, {"arrest_date": "yesterday"}, "bad_date", "arrest_date"),
    ("jail", 0, {"release_date": "13/13/2013"}, "bad_date", "release_date"),
    ("income", 0, {"month": "2014-13"}, "bad_date", "month"),
    ("ems", 0, {"call_datetime": "2014-02-01 25:61"}, "bad_date", "call_datetime"),
    ("income", 1, {"amount": "$1,200"}, "bad_number", "amount"),
    ("income", 1, {"amount": "inf"}, "bad_number", "amount"),
    ("roster", 0, {"birth_year": "1980.5"}, "bad_number", "birth_year"),
    ("program_ledger", 2, {"amount": "12k"}, "bad_number", "amount"),
    ("arrests", 0, {"warrant": "maybe"}, "bad_bool", "warrant"),
    ("contacts", 3, {"substantive": "2"}, "bad_bool", "substantive"),
    ("arrests", 0, {"severity": "FEL"}, "bad_code", "severity"),
    ("roster", 2, {"group": "control"}, "bad_code", "group"),
    ("housing", 0, {"status": "homeless"}, "bad_code", "status"),
    ("income", 0, {"source": "wages"}, "bad_code", "source"),
    ("charges", 0, {"court": "federal"}, "bad_code", "court"),
    ("arrests", 4, {"person_id": "P9"}, "unknown_person", "person_id"),
    ("contacts", 0, {"person_id": "nobody"}, "unknown_person", "person_id"),
    ("jail", 0, {"release_date": "2013-05-31"}, "end_before_start", "release_date"),
    ("charges", 1, {"disposition_date": "2015-01-01"}, "end_before_start", "disposition_date"),
    ("housing", 2, {"end_date": "2014-05-09"}, "end_before_start", "end_date"),
    ("roster", 0, {"exit_date": "2014-02-28"}, "end_before_start", "exit_date"),
    ("roster", 0, {"enrollment_date": "2014-02-28"}, "end_before_start", "enrollment_date"),
    ("roster", 2, {"birth_date": "2014-05-01"}, "end_before_start", "referral_date"),
    ("arrests", 0, {"arrest_date": "1980-01-31"}, "before_birth", "arrest_date"),
    # P2 has only birth_year 1985: 31 Dec 1984 is before birth, 1 Jan 1985 is not.
    ("arrests", 2, {"arrest_date": "1984-12-31"}, "before_birth", "arrest_date"),
    ("ems", 0, {"call_datetime": "1980-01-31 23:59:00"}, "before_birth", "call_datetime"),
    ("income", 0, {"month": "1980-01"}, "before_birth", "month"),
    (
        "roster",
        0,
        {"death_date": "1979-01-01", "referral_date": "2014-03-01"},
        "before_birth",
        "death_date",
    ),
    ("arrests", 0, {"arrest_date": "2016-07-01"}, "after_data_end", "arrest_date"),
    ("income", 0, {"month": "2016-07"}, "after_data_end", "month"),
    ("ems", 1, {"call_datetime": "2016-07-01 00:00:01"}, "after_data_end", "call_datetime"),
    ("program_ledger", 0, {"month": "2016-08"}, "after_data_end", "month"),
    ("arrests", 4, {"arrest_date": "2016-01-02"}, "after_death", "arrest_date"),
    ("ems", 2, {"call_datetime": "2016-01-01 10:00:00"}, None, None),
    ("income", 0, {"amount": "-733.5"}, "negative_amount", "amount"),
    ("program_ledger", 1, {"amount": "-1"}, "negative_amount", "amount"),
    ("income", 1, {"month": "2014-8"}, "bad_date", "month"),
    ("roster", 0, {"birth_date": "70-10-03"}, "two_digit_year", "birth_date"),
    ("roster", 1, {"birth_year": "2010"}, "implausible_age", "birth_date"),
]


@pytest.mark.parametrize(("name", "row", "cells", "reason", "column"), CASES)
def test_each_rule_quarantines_exactly_the_bad_row(tmp_path, name, row, cells, reason, column):
    """One broken cell -> that row, and only it, is quarantined with the rule's reason and column;
    every other row loads and the counts reconcile."""
    ex = load_frames(tmp_path, frames_with(name, row, **cells))
    assert reasons(ex, name) == ({row + 1: reason} if reason else {})
    q = ex.quarantined[name]
    assert q["column"].tolist() == ([column] if column else [])
    assert q["line"].tolist() == ([row + 2] if reason else [])  # CSV: the header is line 1
    assert_reconciled(ex)
    others = [n for n in ex.quality["extract"] if n != name]
    assert ex.quality.set_index("extract").loc[others, "quarantined"].sum() == 0


def test_boundaries_are_allowed(tmp_path):
    """Events on the birth date, on the data end date, in the birth month, and an end equal to
    its start are valid (the rules are strict inequalities)."""
    frames = canonical_frames()
    frames["arrests"].loc[0, "arrest_date"] = "1980-02-01"  # P1's birth date
    frames["arrests"].loc[1, "arrest_date"] = DATA_END_STR
    frames["arrests"].loc[2, "arrest_date"] = "1985-01-01"  # P2: birth_year 1985 only
    frames["income"].loc[0, "month"] = "1980-02"  # P1 born 1 Feb 1980
    frames["income"].loc[1, "month"] = "2016-06"
    frames["jail"].loc[0, "release_date"] = "2013-06-01"
    frames["ems"].loc[0, "call_datetime"] = "2016-06-30 23:59:59"
    ex = load_frames(tmp_path, frames)
    assert ex.clean
    assert_reconciled(ex)


DATA_END_STR = "2016-06-30"


def test_duplicate_rows_keep_one_copy_and_conflicting_keys_keep_none(tmp_path):
    """Exact copies (after parsing: '2014-9-1' equals '2014-09-01') keep one copy; two versions of
    one key are both quarantined, whatever their order."""
    frames = canonical_frames()
    arrests = frames["arrests"]
    copy = arrests.iloc[[1]].assign(arrest_date="2014-9-1")  # same arrest, written differently
    conflict = arrests.iloc[[2]].assign(severity="felony")  # A3 with another severity
    frames["arrests"] = pd.concat([arrests, copy, conflict], ignore_index=True)
    ex = load_frames(tmp_path, {"roster": frames["roster"], "arrests": frames["arrests"]})
    assert reasons(ex, "arrests") == {6: "duplicate_row", 3: "duplicate_key", 7: "duplicate_key"}
    loaded = ex.to_pandas("arrests")
    assert loaded["arrest_id"].tolist() == ["A1", "A2", "A4", "A5"]
    assert_reconciled(ex)


def test_composite_keys_and_keyless_extracts(tmp_path):
    """prison is keyed on (person_id, admission_date); contacts has no key, so two identical
    contacts on one day are two contacts and both load."""
    frames = canonical_frames()
    frames["prison"] = pd.concat(
        [frames["prison"], frames["prison"].iloc[[0]].assign(release_date="2014-01-01")],
        ignore_index=True,
    )
    ex = load_frames(tmp_path, frames, max_quarantined_share=1)
    assert reasons(ex, "prison") == {1: "duplicate_key", 3: "duplicate_key"}
    assert ex["contacts"].count().execute() == 4  # rows 2 and 3 are identical, both kept
    assert_reconciled(ex)


def test_duplicates_are_judged_among_rows_that_parse(tmp_path):
    """A copy of a key with an unparseable date is quarantined as bad_date and does not make the
    good row a duplicate."""
    frames = canonical_frames()
    bad = frames["arrests"].iloc[[0]].assign(arrest_date="not a date")
    frames["arrests"] = pd.concat([frames["arrests"], bad], ignore_index=True)
    ex = load_frames(tmp_path, {"roster": frames["roster"], "arrests": frames["arrests"]})
    assert reasons(ex, "arrests") == {6: "bad_date"}
    assert "A1" in ex.to_pandas("arrests")["arrest_id"].tolist()


def test_one_primary_reason_by_precedence(tmp_path):
    """A row with several problems gets the first reason of REASONS: missing beats bad date,
    bad date beats bad code, a bad code beats a date after the data end."""
    assert list(REASONS)[2:8] == [
        "missing_required",
        "two_digit_year",
        "bad_date",
        "bad_number",
        "bad_bool",
        "bad_code",
    ]
    frames = canonical_frames()
    a = frames["arrests"]
    a.loc[0, ["person_id", "arrest_date"]] = [None, "garbage"]
    a.loc[1, ["arrest_date", "severity"]] = ["garbage", "FEL"]
    a.loc[2, ["severity", "arrest_date"]] = ["FEL", "2020-01-01"]
    a.loc[3, ["person_id", "arrest_date"]] = ["P9", "2020-01-01"]
    ex = load_frames(tmp_path, {"roster": frames["roster"], "arrests": a}, max_quarantined_share=1)
    assert reasons(ex, "arrests") == {
        1: "missing_required",
        2: "bad_date",
        3: "bad_code",
        4: "unknown_person",
    }


def test_events_of_people_quarantined_from_the_roster_are_unknown(tmp_path):
    """The roster loads first; a person whose roster row is quarantined is not in the analytic
    universe, so their events are unknown_person (nothing is joined to a bad roster row)."""
    frames = canonical_frames()
    frames["roster"].loc[0, "group"] = "LEAD?"  # P1 quarantined
    ex = load_frames(tmp_path, {"roster": frames["roster"], "arrests": frames["arrests"]})
    assert reasons(ex, "roster") == {1: "bad_code"}
    assert reasons(ex, "arrests") == {1: "unknown_person", 2: "unknown_person"}


def test_codes_mapping_and_case(tmp_path):
    """Agency codes map to canonical codes (also for yes/no columns); canonical codes match
    case-insensitively and load lower-case; unmapped agency codes are kept as is and checked."""
    frames = canonical_frames()
    a = frames["arrests"]
    a["severity"] = ["F", "M", "GM", "Misdemeanor", "X"]
    a["warrant"] = ["W", "N", "N", None, "N"]
    config = site_config(
        tmp_path,
        {"roster": frames["roster"], "arrests": a},
        sources={
            "arrests": {
                "codes": {
                    "severity": {"F": "felony", "M": "misdemeanor", "GM": "gross_misdemeanor"},
                    "warrant": {"W": "true", "N": "false"},
                }
            }
        },
    )
    ex = load(tmp_path, config)
    assert reasons(ex, "arrests") == {5: "bad_code"}
    loaded = ex.to_pandas("arrests").set_index("arrest_id")
    assert loaded["severity"].tolist() == [
        "felony",
        "misdemeanor",
        "gross_misdemeanor",
        "misdemeanor",
    ]
    assert loaded["warrant"].tolist() == [True, False, False, None]


def test_date_format_and_iso_fallback(tmp_path):
    """date_format parses every date column of the extract; ISO dates (with or without a time)
    are accepted too; month columns take YYYY-MM or a full date, truncated to the month."""
    frames = canonical_frames()
    j = frames["jail"]
    j["booking_date"] = ["06/01/2013", "2014-08-08", "03/03/2015"]
    j["release_date"] = ["06/04/2013", "2014-08-09 17:30:00", None]
    inc = frames["income"]
    inc["month"] = ["2014-07-15", "2014-08", "2015-01-01", "2015-02"]
    config = site_config(
        tmp_path,
        {"roster": frames["roster"], "jail": j, "income": inc},
        sources={"jail": {"date_format": "%m/%d/%Y"}},
    )
    ex = load(tmp_path, config)
    assert ex.clean
    jail = ex.to_pandas("jail")
    assert jail["booking_date"].tolist() == [
        pd.Timestamp("2013-06-01"),
        pd.Timestamp("2014-08-08"),
        pd.Timestamp("2015-03-03"),
    ]
    assert jail["release_date"].iloc[1] == pd.Timestamp("2014-08-09")
    months = ex.to_pandas("income")["month"]
    assert months.dt.day.eq(1).all()
    assert months.dt.strftime("%Y-%m").tolist() == ["2014-07", "2014-08", "2015-01", "2015-02"]


def test_numbers_bools_and_whitespace(tmp_path):
    """Integers written as 1980.0 are integers; text is trimmed, empty text is missing; yes/no
    values follow true_values/false_values case-insensitively."""
    frames = canonical_frames()
    r = frames["roster"]
    r["birth_year"] = ["1980.0", " 1985 ", None, ""]
    r["sex"] = [" M ", "F", "", "F"]
    c = frames["contacts"]
    c["substantive"] = ["YES", "nope", "Si", "no"]
    config = site_config(
        tmp_path,
        {"roster": r, "contacts": c},
        sources={"contacts": {"true_values": ["yes", "si"], "false_values": ["no", "nope"]}},
    )
    ex = load(tmp_path, config)
    assert ex.clean
    roster = ex.to_pandas("roster")
    assert roster["birth_year"].tolist()[:2] == [1980, 1985]
    assert roster["sex"].tolist()[:3] == ["M", "F", None]
    # sorted by every column (contacts has no key): False before True on the tied day
    assert ex.to_pandas("contacts")["substantive"].tolist() == [True, False, True, False]


def test_strict_mode_raises_with_counts_rows_and_fix(tmp_path):
    """strict: true turns quarantine into an ExtractError naming file, count, rows, column, fix."""
    frames = canonical_frames()
    a = pd.concat([frames["arrests"]] * 2, ignore_index=True)
    a["arrest_id"] = [f"A{i}" for i in range(10)]
    a.loc[[1, 3, 5, 7, 8, 9], "arrest_date"] = "1901-01-01"
    a.loc[0, "arrest_date"] = "31/12/2014"
    config = site_config(tmp_path, {"roster": frames["roster"], "arrests": a}, strict=True)
    with pytest.raises(ExtractError, match=r"strict mode: 7 rows have problems") as info:
        load(tmp_path, config)
    msg = str(info.value)
    assert (
        "arrests.csv: 6 rows have arrest_date before birth_date (or birth_year) in the roster "
        "(lines 3, 5, 7, 9, 10, ...; e.g. arrest_date 1901-01-01 before birth 1980-02-01, "
        "arrest_date 1901-01-01 before birth 1990-07-15, "
        "arrest_date 1901-01-01 before birth 1985-01-01); fix the dates or map the right column"
    ) in msg
    assert "arrests.csv: 1 row has an arrest_date that is not a date (e.g. '31/12/2014'" in msg
    assert "(line 2); set extracts.arrests.date_format" in msg
    config["strict"] = False
    config["max_quarantined_share"] = 0.8
    assert load(tmp_path, config).quality.loc[1, "quarantined"] == 7


def test_strict_mode_passes_clean_extracts(tmp_path):
    """strict mode changes nothing when every row is valid."""
    ex = load(tmp_path, site_config(tmp_path, canonical_frames(), strict=True))
    assert ex.clean


def test_loaded_tables_have_canonical_types_and_all_columns(tmp_path):
    """Absent optional columns are added as typed nulls; types follow the schema."""
    frames = canonical_frames()
    ex = load_frames(
        tmp_path,
        {"roster": frames["roster"][["person_id", "group", "referral_date", "birth_year"]]},
    )
    schema = ex["roster"].schema()
    assert list(schema.names)[:4] == ["person_id", "group", "referral_date", "enrollment_date"]
    assert schema["enrollment_date"].is_date() and schema["birth_year"].is_integer()
    assert ex.to_pandas("roster")["death_date"].isna().all()
    assert ex.data_end_date == dt.date(2016, 6, 30)


# Structural problems --------------------------------------------------------------------------


def test_missing_required_column_is_structural(tmp_path):
    """A required column neither mapped nor present: ExtractError naming file, column, fix."""
    frames = canonical_frames()
    config = site_config(
        tmp_path,
        {"roster": frames["roster"], "arrests": frames["arrests"].drop(columns="arrest_date")},
    )
    with pytest.raises(
        ExtractError,
        match=r"arrests\.csv: the arrests extract cannot be used:\n"
        r"  - extracts\.arrests\.columns\.arrest_date: required column "
        r"'arrest_date' is not mapped and arrests\.csv has no column",
    ):
        load(tmp_path, config)


def test_missing_file_is_structural(tmp_path):
    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"]})
    config["extracts"]["jail"] = {"path": "nope/jail.csv"}
    with pytest.raises(
        ExtractError, match=r"extracts\.jail\.path: file not found: .*nope/jail\.csv"
    ):
        load(tmp_path, config)


def test_empty_extract_is_structural(tmp_path):
    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"], "jail": frames["jail"].iloc[:0]})
    with pytest.raises(
        ExtractError,
        match=r"jail\.csv: the jail extract has no data rows; "
        r"export it again, or remove extracts\.jail",
    ):
        load(tmp_path, config)


def test_a_ragged_csv_line_is_quarantined_with_its_line(tmp_path):
    """A line with more fields than the header is quarantined as malformed_line, with its line
    number (header = line 1) and what is wrong; the other lines load."""
    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"]})
    (tmp_path / "jail.csv").write_text(
        "booking_id,person_id,booking_date\nB1,P1,2014-01-01\n"
        "B2,P1,2014-01-02,extra,fields,here\nB3,P1,2014-01-03\n"
    )
    config["extracts"]["jail"] = {"path": "jail.csv"}
    ex = load(tmp_path, config)
    q = ex.quarantined["jail"]
    assert q[["source_row", "line", "reason"]].values.tolist() == [[2, 3, "malformed_line"]]
    assert "more fields than the header" in q["detail"].iloc[0]
    assert ex.to_pandas("jail")["booking_id"].tolist() == ["B1", "B3"]
    assert_reconciled(ex)


def test_unreadable_format_is_structural(tmp_path):
    """A file that is not what its suffix says fails with the format and the fix."""
    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"]})
    (tmp_path / "jail.parquet").write_text("this is not parquet")
    config["extracts"]["jail"] = {"path": "jail.parquet"}
    with pytest.raises(
        ExtractError,
        match=r"extracts\.jail\.path: cannot read jail\.parquet as "
        r"parquet: .*check the file and its 'format'",
    ):
        load_extracts(parse_config(config, base_dir=tmp_path))


def test_quarantine_messages_without_a_config(tmp_path):
    """The messages work from the Extracts alone (canonical names as source names), in
    precedence order, one line per reason and column."""
    from leadeval.extracts import quarantine_messages

    frames = canonical_frames()
    frames["arrests"].loc[0, "arrest_date"] = "2020-01-01"
    frames["arrests"].loc[[1, 2], "warrant"] = "perhaps"
    ex = load_frames(
        tmp_path,
        {"roster": frames["roster"], "arrests": frames["arrests"]},
        max_quarantined_share=1,
    )
    assert quarantine_messages(ex) == [
        "arrests.csv: 2 rows have a warrant that is not a yes/no value (e.g. 'perhaps') "
        "(lines 3, 4); add the agency's values to extracts.arrests.true_values or false_values",
        "arrests.csv: 1 row has arrest_date after the data end date 2016-06-30 (line 2; "
        "e.g. arrest_date 2020-01-01 after the data end 2016-06-30); "
        "fix the dates, or check data_end_date in the config",
    ]
