"""Small-cell suppression of a single table (kept for callers outside the report).

The report itself no longer uses this module's line-by-line rule: every number it publishes goes
through the disclosure step (``leadeval.report.cells`` declares, ``leadeval.report.disclosure``
suppresses across all tables, ``leadeval.report.audit`` proves), which also protects against
subtraction across tables and from derived numbers. ``SUPPRESSED`` is the mark both use.

Rules (threshold ``k``, default 11):

1. **Primary**: a count of people ``n`` with ``0 < n < k`` is suppressed. So is every cell *derived*
   from fewer than ``k`` people (a mean, percentage, rate or estimate whose base count is below ``k``).
2. **Complementary**: where cells add up to a shown total (across a row, down a column), a lone
   suppressed cell could be recovered by subtraction, so the smallest other non-zero cell of that
   line (ties: leftmost / topmost) is suppressed too; this repeats until no line has exactly one
   suppressed cell. Totals themselves count as cells of their line.
3. Suppressed cells show as ``SUPPRESSED`` ("*"), the same mark for primary and complementary cells,
   so the mark itself says nothing about the size of the cell.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"lead": [40, 5, 55], "pool": [60, 30, 90]}, index=["a", "b", "total"])
>>> t["total"] = t["lead"] + t["pool"]
>>> out = suppress_counts(t, ["lead", "pool", "total"], threshold=11, total_row="total",
...                       total_column="total")
>>> out.loc["b", "lead"], out.loc["b", "pool"], out.loc["a", "lead"]
('*', '*', '*')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

SUPPRESSED = "*"
SUPPRESSION_NOTE = (
    "* suppressed: fewer than {k} people, or withheld so that such a count cannot be worked out "
    "from the other published numbers; <{k}: fewer than {k} people."
)


def primary_mask(counts: np.ndarray, threshold: int) -> np.ndarray:
    """Cells with ``0 < n < threshold`` (missing counts are never flagged)."""
    counts = np.asarray(counts, dtype=float)
    with np.errstate(invalid="ignore"):
        return (counts > 0) & (counts < threshold)


def complementary_mask(
    counts: np.ndarray, mask: np.ndarray, rows_additive: bool, cols_additive: bool
) -> np.ndarray:
    """Extend ``mask`` so no additive row or column has exactly one suppressed cell."""
    counts = np.asarray(counts, dtype=float)
    mask = mask.copy()
    lines = ([0] if rows_additive else []) + ([1] if cols_additive else [])
    changed = True
    while changed:
        changed = False
        for axis in lines:
            # Work on rows: transpose for columns.
            m = mask if axis == 0 else mask.T
            c = counts if axis == 0 else counts.T
            lone = np.flatnonzero(m.sum(axis=1) == 1)
            if lone.size == 0:
                continue
            candidates = np.where(m[lone] | ~(c[lone] > 0), np.inf, c[lone])
            has = np.isfinite(candidates).any(axis=1)
            pick = np.argmin(candidates, axis=1)
            rows, cols = lone[has], pick[has]
            if rows.size:
                if axis == 0:
                    mask[rows, cols] = True
                else:
                    mask[cols, rows] = True
                changed = True
    return mask


def suppress_counts(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    threshold: int = 11,
    total_row: str | None = None,
    total_column: str | None = None,
    derived: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Suppress small counts and what is derived from them; return a display copy (object dtype).

    Parameters
    ----------
    table : the table to show.
    count_columns : columns holding counts of people.
    total_row, total_column : the label of a row / column that holds the totals of the others; with
        one, that direction is additive and complementary suppression applies along it.
    derived : ``{column: base_count_column}``: a derived cell is suppressed when its row's base count
        is below the threshold or was suppressed.
    """
    if threshold < 1:
        raise ValueError("threshold must be a positive whole number of people")
    count_columns = list(count_columns)
    counts = table[count_columns].to_numpy(dtype=float)
    mask = primary_mask(counts, threshold)
    if total_row is not None or total_column is not None:
        mask = complementary_mask(
            counts,
            mask,
            rows_additive=total_column is not None,
            cols_additive=total_row is not None,
        )
    out = table.astype(object).copy()
    values = out[count_columns].to_numpy(dtype=object)
    values[mask] = SUPPRESSED
    out[count_columns] = values
    for column, base in (derived or {}).items():
        base_counts = pd.to_numeric(table[base], errors="coerce").to_numpy(dtype=float)
        base_hidden = mask[:, count_columns.index(base)] if base in count_columns else False
        with np.errstate(invalid="ignore"):
            hide = (base_counts < threshold) | base_hidden
        out.loc[hide, column] = SUPPRESSED
    return out


def n_suppressed(table: pd.DataFrame) -> int:
    """How many cells of a display table are suppressed."""
    return int((table.astype(object) == SUPPRESSED).to_numpy().sum())
