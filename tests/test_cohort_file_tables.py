"""A cohort too large for the engine's memory keeps its engine tables (the person table, the
jail stays and housing episodes) in the DuckDB database file, compressed, instead of as
temporary tables (:func:`leadeval.cohort.build._to_file`); everything read from it is the same.

Reference: the same site's cohort with temporary tables (pinned by tests/test_cohort.py and
tests/test_cohort_reference.py), on the shipped Santa Fe sample (every outcome family, with jail
stays, housing and income), loaded into a database file as ``leadeval report`` does.
"""

from __future__ import annotations

import gc
from pathlib import Path

import ibis
import pandas as pd
import pytest

import leadeval as le
from leadeval.cohort import build

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("santa_fe_file_tables")


def _file_tables(backend) -> list[str]:
    sql = "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND table_name LIKE 'ibis_cohort%'"
    return [r[0] for r in backend.con.sql(sql).fetchall()]


def test_a_large_cohorts_tables_in_the_file_read_the_same(tmp_path, monkeypatch):
    cfg = le.load_config(ROOT / "configs" / "santa_fe.yaml")
    extracts = le.load_extracts(cfg, work_dir=tmp_path)
    in_memory = le.build_cohort(extracts, cfg)
    assert not _file_tables(extracts.backend)
    monkeypatch.setattr(build, "_PERSON_BYTES", 2**40)  # any cohort is "too large"
    in_file = le.build_cohort(extracts, cfg)
    assert len(_file_tables(extracts.backend)) == 3  # persons, jail, housing

    pd.testing.assert_frame_equal(in_file.persons, in_memory.persons)
    pd.testing.assert_frame_equal(in_file.flow, in_memory.flow)
    ids = in_memory.participant_ids
    pd.testing.assert_frame_equal(in_file.panel_for(ids), in_memory.panel_for(ids))
    pd.testing.assert_frame_equal(in_file.panel, in_memory.panel)

    del in_file  # the file's tables go with the last expression that reads them
    gc.collect()
    assert not _file_tables(extracts.backend)


def test_the_rule_weighs_the_person_table_against_the_engine_memory(tmp_path):
    on_disk = ibis.duckdb.connect(str(tmp_path / "x.duckdb"), memory_limit="4GB")
    assert build._to_file(on_disk, 5_000_000)  # a state: about 5 GB against 4 GB
    assert not build._to_file(on_disk, 200_000)  # a county: 0.2 GB
    in_memory = ibis.duckdb.connect(memory_limit="4GB")
    assert not build._to_file(in_memory, 5_000_000)  # no file to put them in
