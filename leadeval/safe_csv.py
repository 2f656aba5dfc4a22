"""CSV files that are safe to open in a spreadsheet: every CSV leadeval writes goes through here.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula ("CSV injection", OWASP), so a value such as
``=HYPERLINK(...)`` in an agency extract would run when a user opens a quarantine file. Such text
cells are prefixed with ``'``, which spreadsheets show as plain text; numbers (``-3``, ``+1.5``)
and numeric columns are left alone. pandas has no option for this, hence this small module.

>>> import pandas as pd
>>> neutralise_formulas(pd.DataFrame({"a": ["=1+2", "-3", "@x", "ok"], "b": [-1, 2, 3, 4]}))
       a  b
0  '=1+2 -1
1     -3  2
2    '@x  3
3     ok  4
"""

from __future__ import annotations

import os
import re
from typing import Any

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be read as spreadsheet formulas (see above).
    Column names are treated the same way."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        text = s.astype("string")
        risky = text.str.contains(FORMULA_START, regex=True, na=False)
        risky &= pd.to_numeric(text.where(risky), errors="coerce").isna()
        if risky.any():
            s = s.astype(object)
            s[risky.to_numpy()] = "'" + text[risky]
            out[col] = s
    out.columns = [
        "'" + c if isinstance(c, str) and re.match(FORMULA_START, c) else c for c in out.columns
    ]
    return out


def to_csv(frame: pd.DataFrame, path_or_buf: str | os.PathLike[str] | Any = None, **kwargs: Any):
    """``DataFrame.to_csv`` of the neutralised frame (same arguments; ``None`` returns text)."""
    return neutralise_formulas(frame).to_csv(path_or_buf, **kwargs)
