"""Small-cell suppression: hand-worked tables (expected cells worked out in each test)."""

import numpy as np
import pandas as pd
import pytest

from leadeval.report.suppression import (
    SUPPRESSED,
    complementary_mask,
    n_suppressed,
    primary_mask,
    suppress_counts,
)


def test_primary_mask_flags_one_to_threshold_minus_one():
    """Hand check: with k = 11, counts 1..10 are hidden; 0, 11 and missing are shown."""
    counts = np.array([0, 1, 10, 11, np.nan, 250])
    assert primary_mask(counts, 11).tolist() == [False, True, True, False, False, False]


def test_lone_suppressed_cell_in_additive_row_gets_a_partner():
    """Row [lead=5, pool=30, total=35]: 5 alone could be recovered as 35 - 30, so 30 (the smallest
    other non-zero cell of that row) is suppressed too. Columns are not additive here."""
    t = pd.DataFrame({"lead": [5, 40], "pool": [30, 60], "total": [35, 100]})
    out = suppress_counts(t, ["lead", "pool", "total"], total_column="total")
    assert out.loc[0, "lead"] == SUPPRESSED and out.loc[0, "pool"] == SUPPRESSED
    assert out.loc[0, "total"] == 35 and out.loc[1, "lead"] == 40
    assert n_suppressed(out) == 2


def test_complementary_suppression_runs_until_no_line_has_a_lone_cell():
    """2x2 with margins; only (b, lead) = 5 is small.
    Row b: partner (b, pool) = 30. Column lead: partner (a, lead) = 40. Column pool: (b, pool) is
    now lone in that column -> partner (a, pool) = 60 (smaller than the 90 total).
    Row a then has two suppressed cells: stable. Totals stay visible."""
    t = pd.DataFrame({"lead": [40, 5, 45], "pool": [60, 30, 90]}, index=["a", "b", "total"])
    t["total"] = t["lead"] + t["pool"]
    out = suppress_counts(t, ["lead", "pool", "total"], total_row="total", total_column="total")
    hidden = out == SUPPRESSED
    assert hidden.loc[["a", "b"], ["lead", "pool"]].to_numpy().all()
    assert not hidden["total"].any() and not hidden.loc["total"].any()
    # no additive line has exactly one suppressed cell
    m = hidden.to_numpy()
    assert not (m.sum(axis=0) == 1).any() and not (m.sum(axis=1) == 1).any()


def test_zero_cells_are_not_used_as_partners():
    """Row [3, 0, 12, total 15]: the 0 is not a useful partner (it reveals nothing), so 12 is taken."""
    mask = complementary_mask(
        np.array([[3.0, 0.0, 12.0, 15.0]]), np.array([[True, False, False, False]]), True, False
    )
    assert mask.tolist() == [[True, False, True, False]]


def test_derived_cells_follow_their_base_count():
    """A percentage from 8 people is hidden; one from 20 is shown; one whose base was hidden by
    complementary suppression is hidden too."""
    t = pd.DataFrame({"n": [8, 20], "pct": [12.5, 40.0]})
    out = suppress_counts(t, ["n"], derived={"pct": "n"})
    assert out.loc[0, "pct"] == SUPPRESSED and out.loc[1, "pct"] == 40.0


def test_threshold_must_be_positive():
    with pytest.raises(ValueError, match="positive whole number"):
        suppress_counts(pd.DataFrame({"n": [1]}), ["n"], threshold=0)
