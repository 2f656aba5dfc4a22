"""The Seattle sample in its agency layout, as an agency might send it: an Excel workbook per
extract (text dates in the agency's '%m/%d/%Y', and real date cells for the arrests) and a SQLite
database of text columns, both read with the same ``date_format`` and mappings as the CSV files.

Reference: the CSV report of ``configs/seattle.yaml`` itself: every report table must be
byte-identical, whatever the source format, except the data-quality table's ``source`` (the file
name) and ``notes`` (the CSV dialect detected) columns, whose counts must agree.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import yaml

from leadeval.config import load_config
from leadeval.report.writer import write_report

ROOT = Path(__file__).resolve().parents[1]
#: One xdist worker (``--dist loadgroup``) builds the three Seattle reports (CSV, Excel, SQL).
pytestmark = pytest.mark.xdist_group("seattle_copies")
FAST = {"bootstrap_replicates": 200, "monte_carlo_draws": 1000}  # the same for every copy


def _seattle(tmp: Path, sources: dict[str, dict]) -> Path:
    data = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    for name, src in data["extracts"].items():
        src.pop("path")
        src.update(sources[name])
    data["costs"] = {**data.get("costs", {}), **FAST}
    path = tmp / "seattle.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _agency_csv(name: str) -> pd.DataFrame:
    cfg = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    file = (ROOT / "configs" / cfg["extracts"][name]["path"]).resolve()
    return pd.read_csv(file, dtype=str, keep_default_na=False).replace("", None)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    cfg = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    names = list(cfg["extracts"])
    out = {}
    # CSV: the shipped files
    csv_dir = tmp_path_factory.mktemp("csv")
    csv_sources = {
        n: {"path": str((ROOT / "configs" / cfg["extracts"][n]["path"]).resolve())} for n in names
    }
    out["csv"] = write_report(load_config(_seattle(csv_dir, csv_sources)), csv_dir / "report")
    # Excel: one workbook per extract, text cells; the arrests' dates as real date cells
    xl_dir = tmp_path_factory.mktemp("excel")
    for n in names:
        frame = _agency_csv(n)
        if n == "arrests":
            date_col = cfg["extracts"][n]["columns"]["arrest_date"]
            frame[date_col] = pd.to_datetime(frame[date_col], format="%m/%d/%Y")
        frame.to_excel(xl_dir / f"{n}.xlsx", index=False)
    xl_sources = {n: {"path": str(xl_dir / f"{n}.xlsx")} for n in names}
    out["excel"] = write_report(load_config(_seattle(xl_dir, xl_sources)), xl_dir / "report")
    # SQL: a SQLite database of text columns, read through Ibis
    sql_dir = tmp_path_factory.mktemp("sql")
    con = sqlite3.connect(sql_dir / "agency.db")
    for n in names:
        _agency_csv(n).to_sql(n, con, index=False)
    con.close()
    sql_sources = {n: {"database": "sqlite://agency.db", "table": n} for n in names}
    out["sql"] = write_report(load_config(_seattle(sql_dir, sql_sources)), sql_dir / "report")
    return out


def _tables(paths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(paths.tables.glob("*.csv"))}


@pytest.mark.slow
@pytest.mark.parametrize("copy", ["excel", "sql"])
def test_report_tables_identical_to_the_csv_report(reports, copy):
    csv_tables = _tables(reports["csv"])
    assert len(csv_tables) > 10
    got = _tables(reports[copy])
    assert list(got) == list(csv_tables)
    different = [n for n in csv_tables if got[n] != csv_tables[n] and n != "data_quality.csv"]
    assert not different, different
    counts = ["extract", "read", "loaded", "quarantined", "censored"]
    quality = [
        pd.read_csv(p.tables / "data_quality.csv")[counts] for p in (reports["csv"], reports[copy])
    ]
    pd.testing.assert_frame_equal(*quality)
    quality = reports[copy].evaluation.extracts.quality
    assert quality["quarantined"].sum() == 0
    assert (quality["read"].to_numpy() == reports["csv"].evaluation.extracts.quality["read"]).all()
