"""Parquet and CSV extracts are loaded two at a time, each on its own DuckDB cursor, after the
roster: the same tables, counts, quarantine, progress order and errors as one after another."""

from __future__ import annotations

import pandas as pd
import pytest
from extracts_helpers import assert_reconciled, canonical_frames, reasons, site_config

import leadeval.extracts.loading as loading
from leadeval.config import parse_config
from leadeval.engine import duckdb_backend
from leadeval.errors import ExtractError
from leadeval.extracts import load_extracts


def _broken() -> dict[str, pd.DataFrame]:
    """Canonical extracts with problems in several extracts: a bad date and a key conflict
    (arrests), an unknown person (contacts, charges), spaces to trim (jail)."""
    frames = canonical_frames()
    arrests = frames["arrests"]
    arrests.loc[1, "arrest_date"] = "2014-13-45"
    frames["arrests"] = pd.concat([arrests, arrests.iloc[[2]].assign(severity="felony")])
    frames["contacts"].loc[0, "person_id"] = "P404"
    frames["charges"].loc[0, "person_id"] = "P405"
    frames["jail"]["person_id"] = frames["jail"]["person_id"].astype(str) + " "
    return frames


def _load(folder, frames, monkeypatch, pooled: bool, suffix=".parquet", **top):
    """Load ``frames`` (Parquet or CSV), pooled or (the reference) each on the one connection in
    turn; returns the extracts, the on_extract names in call order and the extracts run in the
    pool. As CSV, the arrests have a malformed line and the contacts are Latin-1."""
    folder.mkdir()
    sources = {"contacts": {"encoding": "latin-1"}} if suffix == ".csv" else None
    cfg = site_config(folder, frames, suffix=suffix, sources=sources, **top)
    if suffix == ".csv":
        with open(folder / "arrests.csv", "a") as fh:
            fh.write("A9,P1,2014-01-01,felony,theft,false,one too many\n")
        contacts = folder / "contacts.csv"
        contacts.write_bytes(contacts.read_text().replace("office", "réunion").encode("latin-1"))
    cfg = parse_config(cfg, base_dir=folder)
    ran: list[str] = []
    load_on = loading._load_on

    def spy(free, name, cfg, memory):
        ran.append(name)
        return load_on(free, name, cfg, memory)

    with monkeypatch.context() as m:
        m.setattr(loading, "_load_on", spy)
        if not pooled:
            m.setattr(loading, "_poolable", lambda src: False)
        seen: list[str] = []
        extracts = load_extracts(
            cfg,
            backend=duckdb_backend(work_dir=folder / "work"),
            on_extract=lambda name, row: seen.append(name),
        )
    return extracts, seen, ran


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_pooled_load_matches_the_sequential_one(tmp_path, monkeypatch, suffix):
    """Reference: the same site loaded one extract after another on the backend's own
    connection (main's way). Pooled: identical quality, reasons, quarantined rows and loaded
    tables, and ``on_extract`` called in the config's extract order."""
    frames = _broken()
    pooled, seen, ran = _load(
        tmp_path / "pool", frames, monkeypatch, True, suffix, max_quarantined_share=1
    )
    ref, ref_seen, ref_ran = _load(
        tmp_path / "seq", frames, monkeypatch, False, suffix, max_quarantined_share=1
    )
    if suffix == ".csv":
        assert reasons(pooled, "arrests")[len(frames["arrests"]) + 1] == "malformed_line"
        assert "réunion" in pooled.to_pandas("contacts")["contact_type"].tolist()
    assert ref_ran == [] and sorted(ran) == sorted(n for n in frames if n != "roster")
    assert seen == ref_seen == [n for n in loading.SCHEMAS if n in frames]
    assert_reconciled(pooled)
    assert pooled.quality["quarantined"].sum() > 0 and pooled.quality["trimmed"].sum() > 0
    pd.testing.assert_frame_equal(
        pooled.quality.drop(columns="source"), ref.quality.drop(columns="source")
    )
    pd.testing.assert_frame_equal(pooled.quarantine_reasons, ref.quarantine_reasons)
    assert list(pooled.quarantined) == list(ref.quarantined)
    for name in frames:
        pd.testing.assert_frame_equal(pooled.quarantined[name], ref.quarantined[name], obj=name)
        pd.testing.assert_frame_equal(pooled.to_pandas(name), ref.to_pandas(name), obj=name)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_pooled_errors_are_those_of_the_first_extract_in_order(tmp_path, monkeypatch, suffix):
    """Reference: the sequential load's error. Two extracts fail (charges and contacts, every
    person unknown: over max_quarantined_share); the pooled load raises the same message, the
    one of the first in the config's order, whichever finishes first."""
    frames = canonical_frames()
    frames["charges"]["person_id"] = "P404"
    frames["contacts"]["person_id"] = "P405"
    messages = []
    for pooled in (True, False):
        with pytest.raises(ExtractError) as err:
            _load(tmp_path / str(pooled), frames, monkeypatch, pooled, suffix)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "charges" in messages[0] and "contacts" not in messages[0]
