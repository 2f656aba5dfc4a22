"""PostgreSQL sources (``database: postgresql://...``), read through ADBC's PostgreSQL driver from
a live server.

The server: ``LEADEVAL_TEST_POSTGRES`` names a database (a libpq URL, for example
``postgresql:///leadeval_test?host=/var/run/postgresql``) in which the tests make and drop a schema
each; ``.ci/run`` installs Debian's PostgreSQL and sets it. Without it every test here skips.

Reference: the canonical extracts (tests/extracts_helpers.py) written as CSV; the same values in
PostgreSQL's own column types (date, timestamp, boolean, integer, numeric) must load to identical
canonical tables.
"""

from __future__ import annotations

import os
import uuid

import pandas as pd
import pyarrow as pa
import pytest
from extracts_helpers import DATA_END, canonical_frames, load, load_frames, reasons

from leadeval.errors import ExtractError

URL = os.environ.get("LEADEVAL_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(not URL, reason="no PostgreSQL: set LEADEVAL_TEST_POSTGRES")

#: PostgreSQL's type of each canonical column that is not text
TYPES = {"birth_year": "integer", "amount": "numeric(12,2)", "call_datetime": "timestamp"}
BOOLEANS = {"warrant", "transported", "substantive"}


def _pg_type(column: str) -> str:
    if column in TYPES:
        return TYPES[column]
    if column in BOOLEANS:
        return "boolean"
    return "date" if column.endswith("_date") else "text"


@pytest.fixture
def schema():
    """A schema of its own in the test database, dropped afterwards."""
    from adbc_driver_postgresql import dbapi

    name = f"leadeval_{uuid.uuid4().hex[:12]}"
    with dbapi.connect(URL) as con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {name}")
        con.commit()
    yield name
    with dbapi.connect(URL) as con, con.cursor() as cur:
        cur.execute(f"DROP SCHEMA {name} CASCADE")
        con.commit()


def _write(schema: str, frames: dict[str, pd.DataFrame], text: set[str] = frozenset()) -> None:
    """Each frame as table ``schema.<name>``, every column in its PostgreSQL type but those in
    ``text`` (written as text as they are)."""
    from adbc_driver_postgresql import dbapi

    with dbapi.connect(URL) as con, con.cursor() as cur:
        for name, frame in frames.items():
            staged = pa.Table.from_pandas(
                frame, schema=pa.schema([(c, pa.string()) for c in frame.columns]), preserve_index=False
            )
            cur.adbc_ingest(f"{name}_text", staged, db_schema_name=schema)
            cols = ", ".join(
                f'"{c}"' if c in text or _pg_type(c) == "text" else f'CAST("{c}" AS {_pg_type(c)}) AS "{c}"'
                for c in frame.columns
            )
            cur.execute(f'CREATE TABLE {schema}."{name}" AS SELECT {cols} FROM {schema}."{name}_text"')
        con.commit()


def _config(sources: dict) -> dict:
    return {"site": "t", "data_end_date": DATA_END, "extracts": sources}


def test_postgres_tables_load_as_the_csv_does(tmp_path, schema):
    """Every extract from a PostgreSQL table (``schema.table``) in its own column types, the
    arrests from a ``query`` (ending as pasted from an editor, with ``;`` and a comment): the same canonical tables as from the CSV (dates, timestamps,
    booleans and integers as PostgreSQL holds them; ``numeric`` amounts, which ADBC passes as an
    Arrow extension type, as their text)."""
    frames = canonical_frames()
    _write(schema, frames)
    sources = {n: {"database": URL, "table": f"{schema}.{n}"} for n in frames}
    sources["arrests"] = {
        "database": URL,
        "query": f"SELECT * FROM {schema}.arrests WHERE arrest_date > DATE '2000-01-01'; -- as pasted",
    }
    pg = load(tmp_path, _config(sources))
    (tmp_path / "csv").mkdir()
    csv = load_frames(tmp_path / "csv", frames)
    assert pg.clean
    assert set(pg.tables) == set(csv.tables)
    for name in csv.tables:
        pd.testing.assert_frame_equal(pg.to_pandas(name), csv.to_pandas(name), obj=name)


def test_postgres_text_dates_with_date_format(tmp_path, schema):
    """Dates kept as text by the agency ('06/01/2013') are parsed with the extract's
    ``date_format``, as from a CSV, and a text date that does not parse is quarantined with its
    row (the second row, worked out by hand)."""
    frames = canonical_frames()
    arrests = frames["arrests"].copy()
    arrests["arrest_date"] = pd.to_datetime(arrests["arrest_date"]).dt.strftime("%m/%d/%Y")
    arrests.loc[1, "arrest_date"] = "31/31/2014"
    _write(schema, {"roster": frames["roster"], "arrests": arrests}, text={"arrest_date"})
    sources = {
        "roster": {"database": URL, "table": f"{schema}.roster"},
        "arrests": {"database": URL, "table": f"{schema}.arrests", "date_format": "%m/%d/%Y"},
    }
    pg = load(tmp_path, _config(sources))
    assert reasons(pg, "arrests") == {2: "bad_date"}
    expected = pd.to_datetime(frames["arrests"]["arrest_date"].drop(index=1)).tolist()
    assert pg.to_pandas("arrests")["arrest_date"].tolist() == expected


def test_postgres_missing_table_is_reported(tmp_path, schema):
    """A table the database lacks is named with PostgreSQL's own words, as a config problem."""
    _write(schema, {"roster": canonical_frames()["roster"]})
    sources = {"roster": {"database": URL, "table": f"{schema}.people"}}
    message = rf'extracts\.roster\.database: cannot read .* relation "{schema}\.people" does not exist'
    with pytest.raises(ExtractError, match=message):
        load(tmp_path, _config(sources))
