"""Readers (CSV, Parquet, Excel, DuckDB file and URL, SQLite, SQL through Ibis), reconciliation and
row-order invariance.

Reference: the same canonical extracts (tests/extracts_helpers.py) must load to identical
canonical tables from every format and from any permutation of their rows; read == loaded +
quarantined on every extract.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from extracts_helpers import (
    assert_reconciled,
    canonical_frames,
    load,
    load_frames,
    reasons,
    site_config,
)

from leadeval.errors import ExtractError


def _tables(ex) -> dict[str, pd.DataFrame]:
    return {name: ex.to_pandas(name) for name in ex.tables}


def _assert_same_tables(a, b) -> None:
    assert set(a.tables) == set(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.to_pandas(name), b.to_pandas(name), obj=name)


@pytest.fixture(scope="module")
def csv_extracts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csv")
    return load_frames(tmp, canonical_frames())


def test_csv_loads_every_extract_and_reconciles(csv_extracts):
    """All ten extracts load clean; the quality table reconciles on each."""
    q = csv_extracts.quality
    assert q["extract"].tolist() == list(canonical_frames())
    assert q["read"].tolist() == [len(f) for f in canonical_frames().values()]
    assert csv_extracts.clean
    assert_reconciled(csv_extracts)
    assert csv_extracts.quarantine_reasons.columns.tolist() == ["extract", "reason", "rows"]


def test_reconciliation_with_quarantine_on_every_extract(tmp_path):
    """Break one row of every extract: read = loaded + quarantined everywhere, one row each."""
    frames = canonical_frames()
    breaks = {
        "roster": ("referral_date", "1 March"),
        "arrests": ("arrest_date", "2099-01-01"),
        "charges": ("court", "federal"),
        "jail": ("release_date", "2000-01-01"),
        "prison": ("admission_date", None),
        "housing": ("status", "couch"),
        "income": ("amount", "lots"),
        "ems": ("transported", "perhaps"),
        "contacts": ("person_id", "P404"),
        "program_ledger": ("month", "March"),
    }
    for name, (col, value) in breaks.items():
        row = len(frames[name]) - 1
        frames[name].loc[row, col] = value
    ex = load_frames(tmp_path, frames)
    assert ex.quality["quarantined"].tolist() == [1] * 10
    assert_reconciled(ex)


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_parquet_and_excel_give_the_same_tables_as_csv(tmp_path, csv_extracts, suffix):
    """The same text extracts written as Parquet or Excel load to identical tables."""
    frames = canonical_frames()
    if suffix == ".xlsx":
        frames = {"roster": frames["roster"], "arrests": frames["arrests"], "ems": frames["ems"]}
    ex = load(tmp_path, site_config(tmp_path, frames, suffix=suffix))
    assert ex.clean
    for name in frames:
        pd.testing.assert_frame_equal(ex.to_pandas(name), csv_extracts.to_pandas(name), obj=name)


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_excel_cells_read_as_the_text_a_csv_export_holds(tmp_path, suffix):
    """Reference: the text Excel's own "save as CSV" writes for each cell type (ISO dates,
    whole numbers without '.0'), checked by hand. Every sheet row is kept in order (a blank
    row too, so row numbers are sheet rows); only empty cells are missing: text such as "NA"
    stays text, as in a CSV; the sheet is found by name; a repeated header name is kept for
    the header check to report. The ``.xls`` case reads the same workbook as LibreOffice
    saved it in the old binary format (``tests/reference/excel/README.md``)."""
    import datetime as dt

    from openpyxl import Workbook

    from leadeval.extracts.readers import _excel_header, _excel_text

    book = Workbook()
    book.active.title = "notes"
    sheet = book.create_sheet("arrests")
    sheet.append(["id", "year", "date", "stamp", "flag", "text", None, "id"])
    sheet.append([1, 1980, dt.date(2015, 3, 1), dt.datetime(2015, 3, 1, 13, 45), True, "NA"])
    sheet.append([None, None, None, None, None, None])
    sheet.append([2.5, -0.0, "03/01/2015", dt.datetime(2015, 3, 2), False, " padded "])
    path = tmp_path / "arrests.xlsx"
    book.save(path)
    if suffix == ".xls":
        path = Path(__file__).parent / "reference" / "excel" / "excel_cells.xls"
    assert _excel_header(path, "arrests") == ["id", "year", "date", "stamp", "flag", "text", "id"]
    frame = _excel_text(path, "arrests")
    assert frame.columns.tolist() == ["id", "year", "date", "stamp", "flag", "text"]
    assert frame.values.tolist() == [
        ["1", "1980", "2015-03-01", "2015-03-01 13:45:00", "True", "NA"],
        [None] * 6,
        ["2.5", "0", "03/01/2015", "2015-03-02", "False", " padded "],
    ]
    assert _excel_text(path, 0).columns.tolist() == []  # the first sheet, empty
    with pytest.raises(ExtractError, match="no sheet 'arests'; its sheets are 'notes', 'arrests'"):
        _excel_header(path, "arests")


def test_parquet_with_native_types(tmp_path, csv_extracts):
    """Typed Parquet columns (dates, timestamps, ints, floats with NaN, bools, ids stored as
    floats) are parsed from their own types and give the same tables as the CSV."""
    frames = canonical_frames()
    roster = frames["roster"].copy()
    for col in (
        "referral_date",
        "enrollment_date",
        "first_contact_date",
        "birth_date",
        "exit_date",
        "death_date",
    ):
        roster[col] = pd.to_datetime(roster[col]).dt.date
    roster["birth_year"] = roster["birth_year"].astype(float)  # 1980.0, NaN
    arrests = frames["arrests"].copy()
    arrests["arrest_date"] = pd.to_datetime(arrests["arrest_date"])  # timestamp[ns]
    arrests["warrant"] = arrests["warrant"].map({"true": True, "false": False}).astype("boolean")
    income = frames["income"].copy()
    income["month"] = pd.to_datetime(income["month"])  # first-of-month timestamps
    income["amount"] = income["amount"].astype(float)
    ems = frames["ems"].copy()
    ems["call_datetime"] = pd.to_datetime(ems["call_datetime"], format="ISO8601")
    ledger = frames["program_ledger"].copy()
    ledger["amount"] = ledger["amount"].astype(float)
    typed = {
        "roster": roster,
        "arrests": arrests,
        "income": income,
        "ems": ems,
        "program_ledger": ledger,
    }
    ex = load(tmp_path, site_config(tmp_path, typed, suffix=".parquet"))
    assert ex.clean, ex.quarantined
    for name in typed:
        pd.testing.assert_frame_equal(ex.to_pandas(name), csv_extracts.to_pandas(name), obj=name)


def test_parquet_numeric_ids_and_bad_native_values(tmp_path):
    """Integer person ids stored as numbers become text ('7', not '7.0'); a non-integral float in
    an int column and an infinite amount are bad numbers; source_row follows the file."""
    roster = pd.DataFrame(
        {
            "person_id": [7.0, 8.0, 9.0],
            "group": ["lead", "pool", "pool"],
            "referral_date": ["2014-01-01"] * 3,
            "birth_year": [1980.0, 1980.5, np.nan],
        }
    )
    ledger = pd.DataFrame(
        {"month": ["2014-01", "2014-02"], "category": ["a", "b"], "amount": [1.0, np.inf]}
    )
    ex = load(
        tmp_path,
        site_config(
            tmp_path,
            {"roster": roster, "program_ledger": ledger},
            suffix=".parquet",
            max_quarantined_share=1,
        ),
    )
    assert reasons(ex, "roster") == {2: "bad_number", 3: "missing_required"}
    assert ex.quarantined["roster"]["line"].isna().all()  # Parquet has rows, not lines
    assert ex.to_pandas("roster")["person_id"].tolist() == ["7"]
    assert reasons(ex, "program_ledger") == {2: "bad_number"}


def test_csv_semicolon_delimiter_quotes_and_bom(tmp_path):
    """A ';'-delimited file with a byte-order mark, quoted fields with the delimiter, quotes and
    line breaks reads as written; source_row counts data rows, not lines."""
    text = (
        "\ufeffperson_id;group;referral_date;birth_year;area\n"
        'P1;lead;2014-01-01;1980;"north; ""upper"" part"\n'
        'P2;pool;2014-01-02;1981;"two\nlines"\n'
        "P3;pool;not a date;1982;south\n"
    )
    (tmp_path / "roster.csv").write_text(text, encoding="utf-8")
    ex = load(
        tmp_path,
        {
            "site": "t",
            "data_end_date": "2016-06-30",
            "extracts": {"roster": {"path": "roster.csv"}},
        },
    )
    assert reasons(ex, "roster") == {3: "bad_date"}
    assert ex.to_pandas("roster")["area"].tolist() == ['north; "upper" part', "two\nlines"]


def _write_duckdb(path, frames):
    con = duckdb.connect(str(path))
    for name, frame in frames.items():
        con.register("f", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
        con.unregister("f")
    if "arrests" in frames:
        con.execute("CREATE VIEW arrests_view AS SELECT * FROM arrests")
    con.close()


@pytest.mark.parametrize("how", ["path", "url", "view"])
def test_duckdb_database_tables(tmp_path, csv_extracts, how):
    """A DuckDB file (``path`` + ``table``, or ``database: duckdb:///file`` + ``table``, relative
    to the config; a view too) gives the same tables as the CSV."""
    frames = canonical_frames()
    frames = {"roster": frames["roster"], "arrests": frames["arrests"]}
    _write_duckdb(tmp_path / "site.duckdb", frames)

    def source(table):
        if how == "path":
            return {"path": "site.duckdb", "table": table}
        return {"database": "duckdb:///site.duckdb", "table": table}

    config = {
        "site": "t",
        "data_end_date": "2016-06-30",
        "extracts": {
            "roster": source("roster"),
            "arrests": source("arrests_view" if how == "view" else "arrests"),
        },
    }
    ex = load(tmp_path, config)
    assert ex.clean
    for name in frames:
        pd.testing.assert_frame_equal(ex.to_pandas(name), csv_extracts.to_pandas(name), obj=name)
    assert ex.quality["source"].iloc[0].endswith(":roster")


@pytest.mark.parametrize("reader", ["sqlite", "duckdb_query", "ibis"])
def test_sql_database(tmp_path, csv_extracts, reader, monkeypatch):
    """A SQLite database (read through ADBC), a DuckDB file's ``query`` (run on the file), and
    any other database, through Ibis (here SQLite again, with the ADBC path switched off), load
    to the same tables as the CSV."""
    frames = canonical_frames()
    names = ("roster", "arrests")
    if reader == "duckdb_query":
        _write_duckdb(tmp_path / "site.duckdb", {n: frames[n] for n in names})
        sources = {n: {"path": "site.duckdb", "query": f"SELECT * FROM {n}; -- all"} for n in names}
    else:
        con = sqlite3.connect(tmp_path / "site.db")
        for n in names:
            frames[n].to_sql(n, con, index=False)
        con.close()
        db = f"sqlite://{tmp_path / 'site.db'}"
        sources = {n: {"database": db, "table": f"main.{n}"} for n in names}  # schema.table
    if reader == "ibis":
        for module in ("readers", "loading"):
            monkeypatch.setattr(f"leadeval.extracts.{module}.adbc_driver", lambda src: None)
    ex = load(tmp_path, {"site": "t", "data_end_date": "2016-06-30", "extracts": sources})
    assert ex.clean
    for name in names:
        pd.testing.assert_frame_equal(ex.to_pandas(name), csv_extracts.to_pandas(name), obj=name)


def test_sqlite_values_read_as_the_text_a_csv_holds(tmp_path):
    """SQLite stores no column types: a column declared INTEGER or REAL holds integers, reals
    and text mixed. Every value is read as its text, as a CSV export holds it, so a word among
    2,000 birth years (after the first batches a driver types a column from) is quarantined with
    its row instead of failing the whole read. Reference: the same values written as CSV load to
    identical tables and reasons; the reasons worked out by hand."""
    n = 2000
    roster = [(f"P{i:04d}", "lead" if i % 2 else "pool", "2014-03-01", 1950 + i % 30, "M")
              for i in range(1, n + 1)]  # fmt: skip
    roster[-1] = (*roster[-1][:3], "unknown", "M")
    income = [("P0001", "2014-07", "benefits", 733.5), ("P0001", "2014-08", "employment", 1200.0),
              ("P0002", "2015-01", "none", None), ("P0003", "2015-02", "other_legitimate", "n/a")]  # fmt: skip
    con = sqlite3.connect(tmp_path / "agency.db")
    con.execute('CREATE TABLE people (person_id TEXT, "group" TEXT, referral_date DATE, '
                "birth_year INTEGER, sex TEXT)")  # fmt: skip
    con.execute("CREATE TABLE income (person_id TEXT, month TEXT, source TEXT, amount REAL)")
    con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?)", roster)
    con.executemany("INSERT INTO income VALUES (?, ?, ?, ?)", income)
    con.commit()
    con.close()
    columns = ["person_id", "group", "referral_date", "birth_year", "sex"]
    pd.DataFrame(roster, columns=columns).to_csv(tmp_path / "roster.csv", index=False)
    pd.DataFrame(income, columns=["person_id", "month", "source", "amount"]).to_csv(
        tmp_path / "income.csv", index=False
    )
    db = {"database": "sqlite://agency.db"}
    sql = load(tmp_path, {"site": "t", "data_end_date": "2016-06-30", "extracts": {
        "roster": {**db, "table": "people"},
        "income": {**db, "query": "SELECT * FROM income ORDER BY month -- as pasted\n;"}}})  # fmt: skip
    csv = load(tmp_path, {"site": "t", "data_end_date": "2016-06-30", "extracts": {
        "roster": {"path": "roster.csv"}, "income": {"path": "income.csv"}}})  # fmt: skip
    _assert_same_tables(sql, csv)
    assert reasons(sql, "roster") == reasons(csv, "roster") == {n: "bad_number"}
    assert reasons(sql, "income") == reasons(csv, "income") == {4: "bad_number"}
    assert sql.to_pandas("income")["amount"].tolist()[:2] == [733.5, 1200.0]
    assert_reconciled(sql)


def test_sqlite_missing_file_or_table_is_reported(tmp_path):
    """A SQLite file that is not there is named (and not created: it is opened read-only); a
    table it lacks is named with SQLite's own words."""
    con = sqlite3.connect(tmp_path / "agency.db")
    con.execute("CREATE TABLE roster (person_id TEXT)")
    con.close()
    for url, table, message in [
        ("sqlite://nosuch.db", "roster", r"extracts\.roster\.database: file not found: .*nosuch\.db"),
        ("sqlite://agency.db", "people", r"extracts\.roster\.database: cannot read .* no such table: people"),
    ]:  # fmt: skip
        config = {"site": "t", "data_end_date": "2016-06-30",
                  "extracts": {"roster": {"database": url, "table": table}}}  # fmt: skip
        with pytest.raises(ExtractError, match=message):
            load(tmp_path, config)
    assert not (tmp_path / "nosuch.db").exists()


def test_missing_database_table_is_reported(tmp_path):
    _write_duckdb(tmp_path / "site.duckdb", {"roster": canonical_frames()["roster"]})
    config = {
        "site": "t",
        "data_end_date": "2016-06-30",
        "extracts": {"roster": {"path": "site.duckdb", "table": "people"}},
    }
    with pytest.raises(
        ExtractError,
        match=r"extracts\.roster\.path: cannot read "
        r"site\.duckdb:people as duckdb: .*people",
    ):
        load(tmp_path, config)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_row_order_invariance(tmp_path, suffix):
    """Shuffled input rows (with duplicates and conflicting keys among them) give identical
    loaded tables, quality and reason counts."""
    frames = canonical_frames()
    frames["arrests"] = pd.concat(
        [
            frames["arrests"],
            frames["arrests"].iloc[[0, 1]],
            frames["arrests"].iloc[[2]].assign(severity="felony"),
        ],
        ignore_index=True,
    )
    frames["contacts"] = pd.concat([frames["contacts"]] * 2, ignore_index=True)
    rng = np.random.default_rng(7)
    results = []
    for i in range(3):
        shuffled = {
            n: f.sample(frac=1, random_state=rng.integers(1e9)).reset_index(drop=True)
            for n, f in frames.items()
        }
        sub = tmp_path / str(i)
        sub.mkdir()
        results.append(load(sub, site_config(sub, shuffled, suffix=suffix)))
    for other in results[1:]:
        _assert_same_tables(results[0], other)
        pd.testing.assert_frame_equal(results[0].quality, other.quality)
        pd.testing.assert_frame_equal(results[0].quarantine_reasons, other.quarantine_reasons)
    assert results[0].quality.set_index("extract").loc["arrests", "quarantined"] == 4


def test_tables_live_in_the_backend_and_can_be_given(tmp_path):
    """Loaded tables are DuckDB tables named extract_<name> in the given backend."""
    import ibis

    backend = ibis.duckdb.connect()
    frames = canonical_frames()
    from leadeval.config import parse_config
    from leadeval.extracts import load_extracts

    config = parse_config(site_config(tmp_path, {"roster": frames["roster"]}), base_dir=tmp_path)
    ex = load_extracts(config, backend=backend)
    assert ex.backend is backend
    names = [r[0] for r in backend.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    views = [
        r[0]
        for r in backend.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    ]
    assert names == ["extract_roster"]  # intermediate relations are dropped
    assert views == []


def test_load_extracts_takes_a_config_path(tmp_path):
    """``load_extracts("site.yaml")`` reads the config (checking sources) and loads it."""
    import yaml

    from leadeval.extracts import load_extracts

    frames = canonical_frames()
    config = site_config(tmp_path, {"roster": frames["roster"], "ems": frames["ems"]})
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(config))
    ex = load_extracts(str(tmp_path / "site.yaml"))
    assert ex.site == "test" and ex.clean
    assert ex["ems"].count().execute() == 3
