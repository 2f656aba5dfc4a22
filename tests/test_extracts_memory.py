"""Parsed extract tables (the roster, CSV sources) of a load into its own work database live in an
in-memory catalog while they fit a quarter of ``memory_limit`` (:class:`leadeval.extracts.
loading._Memory`), else in the database file; a database the config keeps holds them all. Where
they live changes nothing that is read from them.

Reference: the same load with every table in the file (the placement of earlier versions, pinned
by tests/test_extracts_views.py and the site tests), compared table by table, with the quality
counts and the quarantined rows.
"""

from __future__ import annotations

import pandas as pd
from extracts_helpers import assert_reconciled, canonical_frames, site_config

import leadeval.extracts.loading as loading
from leadeval.cohort import build_cohort
from leadeval.config import parse_config
from leadeval.extracts import load_extracts


def _catalogs(extracts) -> dict[str, str]:
    rows = extracts.backend.con.execute(
        "SELECT table_name, table_catalog FROM information_schema.tables "
        "WHERE table_name LIKE 'extract_%'"
    ).fetchall()
    return dict(rows)


def _frames() -> dict[str, pd.DataFrame]:
    frames = canonical_frames()
    frames["arrests"].loc[1, "arrest_date"] = "2014-13-45"  # one row quarantined
    return frames


def test_small_parsed_tables_live_in_memory_and_read_the_same(tmp_path, monkeypatch):
    """Known answer: a CSV site loaded into a work folder puts its parsed tables in the in-memory
    catalog; with none fitting (cells taken as 1 TB each) they all go into the file, and every
    table, count, quarantined row and the cohort built from them are the same."""
    (tmp_path / "site").mkdir()
    cfg = parse_config(site_config(tmp_path / "site", _frames()), base_dir=tmp_path / "site")
    in_memory = load_extracts(cfg, work_dir=tmp_path / "a")
    assert set(_catalogs(in_memory).values()) == {loading.MEMORY_CATALOG}
    assert_reconciled(in_memory)

    monkeypatch.setattr(loading, "_CELL_BYTES", 2**40)
    in_file = load_extracts(cfg, work_dir=tmp_path / "b")
    assert set(_catalogs(in_file).values()) == {"extracts"}  # the database file's catalog

    pd.testing.assert_frame_equal(in_memory.quality, in_file.quality)
    pd.testing.assert_frame_equal(in_memory.quarantine_reasons, in_file.quarantine_reasons)
    for name in cfg.extracts:
        pd.testing.assert_frame_equal(in_memory.to_pandas(name), in_file.to_pandas(name))
        pd.testing.assert_frame_equal(in_memory.quarantined[name], in_file.quarantined[name])
    pd.testing.assert_frame_equal(
        build_cohort(in_memory, cfg).persons, build_cohort(in_file, cfg).persons
    )


def test_the_memory_is_shared_first_come_and_a_kept_database_holds_everything(tmp_path):
    """Known answer: the budget is a quarter of memory_limit, taken table by table (rows x
    columns x 16 bytes) until a table does not fit; with ``engine.database`` (kept after the
    run) and in an in-memory engine no catalog is attached and the tables stay where they were."""
    memory = loading._Memory(1000 * 10 * loading._CELL_BYTES)
    assert memory.take(600, 10)
    assert not memory.take(500, 10)  # 600 + 500 rows of 10 columns do not fit
    assert memory.take(400, 10)
    assert not memory.take(1, 1)

    (tmp_path / "site").mkdir()
    frames = {"roster": canonical_frames()["roster"]}
    kept = site_config(tmp_path / "site", frames, engine={"database": str(tmp_path / "keep.duckdb")})
    ex = load_extracts(parse_config(kept, base_dir=tmp_path / "site"))
    assert _catalogs(ex) == {"extract_roster": "keep"}
    plain = parse_config(site_config(tmp_path / "site", frames), base_dir=tmp_path / "site")
    ex = load_extracts(plain)  # no work folder: an in-memory database
    assert _catalogs(ex) == {"extract_roster": "memory"}
