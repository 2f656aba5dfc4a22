"""Every CSV leadeval writes is safe to open in a spreadsheet.

Reference: OWASP's CSV-injection guidance: a cell starting with =, +, -, @, tab or carriage
return is prefixed with a single quote; numbers are left as they are.
"""

from __future__ import annotations

import pandas as pd

from leadeval.report.document import ReportTable, table_csv
from leadeval.safe_csv import neutralise_formulas, to_csv


def test_formula_cells_are_prefixed_and_numbers_are_not():
    frame = pd.DataFrame(
        {
            "text": ["=SUM(A1:A9)", "+cmd|' /C calc'!A0", "-2+3", "@x", "\tx", "\rx", "a=b", None],
            "numbers_as_text": ["-3", "+1.5", "-1e3", "=1", "1", "", "x", None],
            "numbers": [-1.0, 2.0, -3.5, 0.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    out = neutralise_formulas(frame)
    assert out["text"].tolist() == [
        "'=SUM(A1:A9)", "'+cmd|' /C calc'!A0", "'-2+3", "'@x", "'\tx", "'\rx", "a=b", None,
    ]  # fmt: skip
    assert out["numbers_as_text"].tolist() == ["-3", "+1.5", "-1e3", "'=1", "1", "", "x", None]
    assert out["numbers"].tolist() == frame["numbers"].tolist()
    assert frame["text"].iloc[0] == "=SUM(A1:A9)"  # the input is not changed


def test_headers_and_report_tables_are_neutralised_too():
    frame = pd.DataFrame({"=bad": ["@cell"], "n": [-5]})
    text = to_csv(frame, index=False, lineterminator="\n")
    assert text == "'=bad,n\n'@cell,-5\n"
    table = ReportTable("t", "a table", pd.DataFrame({"area": ["=HYPERLINK(1)"], "n": [12]}))
    assert table_csv(table) == "area,n\n'=HYPERLINK(1),12\n"
