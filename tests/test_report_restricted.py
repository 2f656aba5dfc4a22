"""``restricted/persons.csv`` is written a part of the person table at a time from the engine
(leadeval.report.writer.write_persons), with the bytes of the whole table's CSV.

Reference: ``to_csv`` of the whole person table (``Cohort.persons``, pinned by tests/test_cohort.py)
on the shipped Santa Fe sample (every outcome family, dates, text, a formula-like cell) and on a
small roster whose integer column has a missing value in one part only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import leadeval as le
from leadeval.config import DesignConfig
from leadeval.report.writer import write_persons
from leadeval.safe_csv import to_csv

ROOT = Path(__file__).resolve().parents[1]


def whole_csv(cohort, path: Path) -> bytes:
    to_csv(cohort.persons, path, index=False, lineterminator="\n")
    return path.read_bytes()


def test_parts_give_the_whole_tables_bytes(tmp_path):
    cfg = le.load_config(ROOT / "configs" / "santa_fe.yaml")
    cohort = le.build_cohort(le.load_extracts(cfg), cfg)
    for rows in (37, 1_000, 10**9):  # many parts, a few, one
        write_persons(cohort, tmp_path / f"p{rows}.csv", rows=rows)
    assert "persons" not in cohort.__dict__  # the whole table was never built
    want = whole_csv(cohort, tmp_path / "whole.csv")
    assert want.count(b"\n") == len(cohort.keys) + 1
    for rows in (37, 1_000, 10**9):
        assert (tmp_path / f"p{rows}.csv").read_bytes() == want


def test_a_missing_value_in_one_part_and_an_empty_cohort(tmp_path):
    roster = pd.DataFrame({"person_id": ["a", "b", "c", "d"], "group": ["lead", "pool"] * 2,
                           "referral_date": ["2015-03-01", "2015-06-01", "2015-07-01", "2016-07-01"],
                           "birth_year": [1980, 1975, None, 1970]})
    ex = le.Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
    c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
    write_persons(c, tmp_path / "parts.csv", rows=1)
    assert (tmp_path / "parts.csv").read_bytes() == whole_csv(c, tmp_path / "whole.csv")
    # nobody included (every index date after the data end): the header alone
    late = roster.assign(referral_date="2016-01-01")
    e = le.build_cohort(le.Extracts.from_frames({"roster": late}, data_end_date="2015-12-31"),
                        DesignConfig(post_windows=[182]))
    write_persons(e, tmp_path / "empty.csv", rows=1)
    assert (tmp_path / "empty.csv").read_bytes() == whole_csv(e, tmp_path / "empty_whole.csv")
