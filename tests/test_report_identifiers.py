"""The report refuses a table carrying a person identifier (leadeval.report.document).

Reference: planted identifiers with a known count; the message names the table and the count."""

from __future__ import annotations

import pandas as pd
import pytest

from leadeval.errors import LeadevalError
from leadeval.report.document import ReportTable, check_no_identifiers

IDS = frozenset(f"P{i:06d}" for i in range(200_000))  # a county's roster


def test_planted_identifier_values_are_counted_and_refused():
    """Two planted ids (one in a text column, one in an index) -> '2 person identifier value(s)';
    a number that spells an id is not text and is not counted."""
    frame = pd.DataFrame(
        {"level": ["a", "P000007", "b"], "n": [1, 2, 3]},
        index=pd.Index(["x", "y", "P123456"], name="group"),
    )
    table = ReportTable("planted", "t", frame, index=True)
    with pytest.raises(LeadevalError, match=r"'planted' contains 2 person identifier value"):
        check_no_identifiers(table, IDS)
    with pytest.raises(LeadevalError, match="contains 2"):  # any iterable of ids, not just a set
        check_no_identifiers(table, list(IDS))


def test_clean_table_and_identifier_column_names():
    """No id among the cells passes; a column named person_id is refused whatever it holds."""
    clean = ReportTable("clean", "t", pd.DataFrame({"level": ["a", "P1"], "n": [1, 2]}))
    check_no_identifiers(clean, IDS)
    check_no_identifiers(clean, ())
    named = ReportTable("named", "t", pd.DataFrame({"person_id": ["x"]}))
    with pytest.raises(LeadevalError, match=r"identifier column\(s\) \['person_id'\]"):
        check_no_identifiers(named, ())


def test_identifiers_found_in_the_roster_in_the_engine(tmp_path):
    """What ``write_report`` does: the tables' text cells are looked up in the roster (in the
    engine) and ``write_tables`` refuses the table holding one; a clean report is written.
    Reference: planted ids (one in a column, one in a shown index) among 2,000 roster ids."""
    from leadeval.extracts import Extracts
    from leadeval.report.document import ReportDocument, ReportSection, write_tables
    from leadeval.report.writer import identifiers_in

    roster = pd.DataFrame({
        "person_id": [f"P{i:06d}" for i in range(2_000)], "group": "pool",
        "referral_date": "2015-03-01", "birth_year": 1980,
    })
    ex = Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
    planted = ReportTable("planted", "t", pd.DataFrame(
        {"level": ["a", "P000007", "b"], "n": [1, 2, 3]},
        index=pd.Index(["x", "y", "P001999"], name="group"),
    ), index=True)
    clean = ReportTable("clean", "t", pd.DataFrame({"level": ["a", "P2"], "n": [7, 8]}))

    def doc(*tables):
        return ReportDocument("t", "s", (ReportSection("s", "s", tables=tables),))

    assert identifiers_in(doc(planted, clean), ex) == {"P000007", "P001999"}
    with pytest.raises(LeadevalError, match=r"'planted' contains 2 person identifier value"):
        write_tables(doc(clean, planted), tmp_path / "t1", identifiers_in(doc(clean, planted), ex))
    assert identifiers_in(doc(clean), ex) == frozenset()
    assert set(write_tables(doc(clean), tmp_path / "t2", identifiers_in(doc(clean), ex))) == {
        "clean.csv"}
