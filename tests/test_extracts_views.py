"""Parquet extracts load as views over their files (no copy): the same rows, quarantine and counts
as a copy, whatever the order of the input rows, and reloadable into the same backend."""

from __future__ import annotations

import re

import pandas as pd
from extracts_helpers import assert_reconciled, canonical_frames, reasons, site_config

from leadeval.config import parse_config
from leadeval.engine import duckdb_backend
from leadeval.extracts import load_extracts


def _broken() -> dict[str, pd.DataFrame]:
    """The canonical extracts with a bad date, a duplicate key and an unknown person."""
    frames = canonical_frames()
    arrests = frames["arrests"]
    arrests.loc[1, "arrest_date"] = "2014-13-45"
    frames["arrests"] = pd.concat([arrests, arrests.iloc[[2]].assign(severity="felony")])
    frames["contacts"].loc[0, "person_id"] = "P404"
    return frames


def _kinds(backend) -> dict[str, str]:
    rows = backend.con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_name LIKE 'extract_%'"
    ).fetchall()
    return dict(rows)


def test_parquet_views_match_the_csv_copies_and_ignore_row_order(tmp_path):
    """Known answer: the same broken extracts as CSV (parsed into tables) and as Parquet (views),
    the Parquet also with its rows reversed, give identical loaded tables, quality counts and
    quarantine reasons; the reversed file's quarantined rows are the same rows, renumbered."""
    frames = _broken()
    (tmp_path / "csv").mkdir()
    (tmp_path / "pq").mkdir()
    (tmp_path / "rev").mkdir()
    csv_cfg = parse_config(
        site_config(tmp_path / "csv", frames, max_quarantined_share=1), base_dir=tmp_path / "csv"
    )
    pq_cfg = parse_config(
        site_config(tmp_path / "pq", frames, suffix=".parquet", max_quarantined_share=1),
        base_dir=tmp_path / "pq",
    )
    reversed_frames = {n: f.iloc[::-1].reset_index(drop=True) for n, f in frames.items()}
    rev_cfg = parse_config(
        site_config(tmp_path / "rev", reversed_frames, suffix=".parquet", max_quarantined_share=1),
        base_dir=tmp_path / "rev",
    )
    backend = duckdb_backend(work_dir=tmp_path / "work")
    copies = load_extracts(csv_cfg)
    views = load_extracts(pq_cfg, backend=backend)
    kinds = _kinds(backend)
    assert kinds["extract_roster"] == "BASE TABLE"
    assert {kinds[f"extract_{n}"] for n in frames if n != "roster"} == {"VIEW"}
    assert_reconciled(views)
    assert reasons(views, "arrests") == {2: "bad_date", 3: "duplicate_key", 6: "duplicate_key"}
    assert reasons(views, "contacts") == {1: "unknown_person"}
    rev = load_extracts(rev_cfg)
    n_arrests = len(frames["arrests"])
    assert reasons(rev, "arrests") == {
        n_arrests + 1 - r: why for r, why in reasons(views, "arrests").items()
    }
    for other in (copies, rev):
        for col in ("read", "loaded", "quarantined", "censored", "trimmed"):
            assert views.quality[col].tolist() == other.quality[col].tolist(), col
        pd.testing.assert_frame_equal(views.quarantine_reasons, other.quarantine_reasons)
        for name in frames:
            pd.testing.assert_frame_equal(views.to_pandas(name), other.to_pandas(name), obj=name)
    # loading again into the same backend replaces the views, here by tables (CSV)
    views_arrests = views.to_pandas("arrests")
    again = load_extracts(csv_cfg, backend=backend)
    assert set(_kinds(backend).values()) == {"BASE TABLE"}
    pd.testing.assert_frame_equal(again.to_pandas("arrests"), views_arrests)


def test_colliding_key_hashes_are_checked_exactly(tmp_path, monkeypatch):
    """Known answer: duplicates are found by sorting 64-bit key hashes, then checked exactly on
    the rows of repeated hashes; with every row's hash made equal (all rows collide), the CSV
    and Parquet loads still give the same quarantine, counts and loaded tables as with the real
    hashes."""
    import leadeval.extracts.loading as loading
    from leadeval.extracts.schemas import SCHEMAS

    frames = _broken()
    runs = {}
    for collide in (False, True):
        if collide:
            monkeypatch.setattr(
                loading, "key_hash", lambda n: "hash(1)" if SCHEMAS[n].key else None
            )
        for fmt, suffix in (("csv", ".csv"), ("pq", ".parquet")):
            folder = tmp_path / f"{fmt}{collide}"
            folder.mkdir()
            cfg = parse_config(
                site_config(folder, frames, suffix=suffix, max_quarantined_share=1),
                base_dir=folder,
            )
            runs[fmt, collide] = load_extracts(cfg)
    for fmt in ("csv", "pq"):
        real, collided = runs[fmt, False], runs[fmt, True]
        assert reasons(real, "arrests") == {2: "bad_date", 3: "duplicate_key", 6: "duplicate_key"}
        pd.testing.assert_frame_equal(real.quality, collided.quality)
        for name in frames:
            pd.testing.assert_frame_equal(real.quarantined[name], collided.quarantined[name])
            pd.testing.assert_frame_equal(real.to_pandas(name), collided.to_pandas(name))


def test_view_reads_columns_that_need_no_trim_as_they_are(tmp_path):
    """Known answer: in a Parquet view, a text column none of whose loaded values has spaces
    around it is read as it is (no trim tests: filters reach the file scan); a column with one
    such value is still trimmed; an empty optional value is still missing, and a row whose
    required id is empty is quarantined, not read as ''. The loaded tables equal the CSV copy's."""
    frames = canonical_frames()
    arrests = frames["arrests"]
    arrests.loc[1, "offense_category"] = " property "  # a loaded row with spaces to trim
    arrests.loc[3, "severity"] = ""  # optional: missing, not ''
    frames["arrests"] = pd.concat(
        [arrests, arrests.iloc[[0]].assign(arrest_id="A9", person_id="")], ignore_index=True
    )
    loaded = {}
    for fmt, suffix in (("csv", ".csv"), ("pq", ".parquet")):
        folder = tmp_path / fmt
        folder.mkdir()
        cfg = parse_config(
            site_config(folder, frames, suffix=suffix, max_quarantined_share=1), base_dir=folder
        )
        backend = duckdb_backend(work_dir=tmp_path / f"work_{fmt}")
        loaded[fmt] = load_extracts(cfg, backend=backend)
    views = loaded["pq"]
    assert reasons(views, "arrests") == {6: "missing_required"}
    view_sql = views.backend.con.execute(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'extract_arrests'"
    ).fetchall()[0][0]
    norm = {  # each column's normalised value in the view: "<expression> AS v__<column>"
        c: re.search(rf"([^,]*(?:, '')?\)?) AS v__{c}\b", view_sql)[1]
        for c in ("arrest_id", "person_id", "severity", "offense_category")
    }
    assert "trim" in norm["offense_category"]
    assert norm["arrest_id"].strip() == "arrest_id" and norm["person_id"].strip() == "person_id"
    assert "trim" not in norm["severity"] and "NULLIF" in norm["severity"].upper()
    got = views.to_pandas("arrests")
    assert got.loc[got.arrest_id == "A2", "offense_category"].item() == "property"
    assert got.loc[got.arrest_id == "A4", "severity"].isna().item()
    for name in frames:
        csv = loaded["csv"].to_pandas(name)
        pd.testing.assert_frame_equal(views.to_pandas(name), csv, obj=name)
