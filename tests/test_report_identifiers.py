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
