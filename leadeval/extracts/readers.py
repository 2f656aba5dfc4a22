"""Readers: put one configured extract, as the agency wrote it, into DuckDB, and check sources.

Every reader yields the same thing: a DuckDB relation (a view or a temporary table) with the used
source columns under their own names and ``__le_row``, the 1-based data row number in the source
(the first row after the header is 1). CSV and Excel cells are read as text so that a bad value can
be quarantined with its row instead of failing the whole read; Parquet and database tables keep
their own types and are parsed from those, except SQLite's, which has none: a column holds any mix
of integers, reals and text, so every SQLite value is read as its text, as a CSV export holds it.
SQLite and PostgreSQL are read through their ADBC drivers, which stream Arrow: Ibis' backends
build a pandas frame of every batch (a county's 10.5M rows: 29 s from SQLite, 121 s from
PostgreSQL), and fail the whole read on a SQLite column that mixes types. Other databases are
read through Ibis.

Only headers are read to check a config (:func:`check_sources`); whole files are read only by
:func:`leadeval.load_extracts`, and then by DuckDB, never into pandas (except Excel, which is small by
construction: a sheet holds at most about a million rows).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import difflib
import functools
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from leadeval.errors import ExtractError
from leadeval.extracts.schemas import SCHEMAS

if TYPE_CHECKING:
    from leadeval.config import ExtractSource, SiteConfig

ROW = "__le_row"  # internal name of the 1-based source row number


def qi(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def ql(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def duckdb_file(src: ExtractSource) -> Path | None:
    """The DuckDB database file of a source, if it is one (``format: duckdb`` or a ``duckdb://``
    URL, where ``duckdb:///x.duckdb`` is relative and ``duckdb:////abs/x.duckdb`` absolute, as in
    SQLAlchemy)."""
    if src.path is not None and src.resolved_format == "duckdb":
        return Path(src.path)
    if src.database is not None and src.database.startswith("duckdb://"):
        rest = src.database.removeprefix("duckdb://")
        if rest.startswith("//"):
            return Path(rest[1:])
        return Path(rest.removeprefix("/"))
    return None


def sqlite_file(src: ExtractSource) -> Path | None:
    """The SQLite database file of a ``sqlite://`` source (the config makes it absolute)."""
    if src.database is None or not src.database.startswith("sqlite://"):
        return None
    rest = src.database.removeprefix("sqlite://")
    return None if rest in ("", ".", ":memory:") else Path(rest)


def adbc_driver(src: ExtractSource) -> str | None:
    """The ADBC driver a ``database`` source is read with: ``sqlite`` (a ``sqlite://`` file) or
    ``postgresql`` (a ``postgresql://`` or ``postgres://`` libpq URL); None: through Ibis."""
    if sqlite_file(src) is not None:
        return "sqlite"
    if src.database is not None and src.database.split("://")[0] in ("postgresql", "postgres"):
        return "postgresql"
    return None


def _plain(t) -> bool:
    """Whether DuckDB reads Arrow type ``t`` as a value of its own (not numeric, uuid, intervals,
    arrays and the like, which ADBC's PostgreSQL driver passes as extension types)."""
    import pyarrow as pa

    return not isinstance(t, pa.ExtensionType) and (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
        or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_date(t)
        or pa.types.is_timestamp(t)
    )  # fmt: skip


@contextlib.contextmanager
def _adbc_rows(src: ExtractSource, columns: Iterable[str] | None = None, limit: int | None = None):
    """The rows of a SQLite or PostgreSQL source (its ``table`` or ``query``) as a pyarrow
    RecordBatchReader of ``columns`` (default: every one). SQLite keeps no column types (one
    column mixes integers, reals and text), so every SQLite value comes as its text, as a CSV
    holds it; PostgreSQL's come in their own types, but for those Arrow has no plain type for
    (numeric, uuid...), which come as their text. A SQLite file is opened read-only."""
    from adbc_driver_manager import Error

    sqlite = adbc_driver(src) == "sqlite"
    if sqlite:
        from adbc_driver_sqlite import dbapi

        uri = f"file:{sqlite_file(src)}?mode=ro"
    else:
        from adbc_driver_postgresql import dbapi

        uri = src.database
    # the query on lines of its own: a trailing -- comment ends before the subquery does
    rows = f"(\n{src.query}\n) AS q" if src.query else _table_ref(None, src.table)
    try:
        with dbapi.connect(uri) as con, con.cursor() as cur:
            cur.execute(f"SELECT * FROM {rows} LIMIT 0")
            schema = cur.fetch_arrow_table().schema
            names = schema.names if columns is None else list(columns)
            text = set(names) if sqlite else {f.name for f in schema if not _plain(f.type)}
            select = ", ".join(
                f"CAST({qi(c)} AS TEXT) AS {qi(c)}" if c in text else qi(c) for c in names
            )
            cur.execute(f"SELECT {select} FROM {rows}" + ("" if limit is None else f" LIMIT {limit}"))
            yield cur.fetch_record_batch()
    except Error as err:  # a table that is not there, a query the database cannot run...
        raise ValueError(re.sub(r"^[A-Z_]+: (\[\w+\] )?", "", str(err))) from None


@contextlib.contextmanager
def _duckdb_query(src: ExtractSource, columns: Iterable[str] | None = None):
    """The relation of a DuckDB file's ``query`` (``columns``: those of it), on a read-only
    connection to the file of its own, so that the query's table names are the file's. Not
    through Ibis: Ibis 12 reads a query's schema with a method DuckDB 2 no longer has."""
    con = duckdb.connect(str(duckdb_file(src)), read_only=True)
    try:
        cols = "*" if columns is None else ", ".join(qi(c) for c in columns)
        yield con.sql(f"SELECT {cols} FROM (\n{src.query}\n) AS q")  # as in _adbc_rows
    finally:
        con.close()


_DELIMITERS = (",", ";", "\t", "|")
CSV_FIX = (
    "one header row, the same number of fields on every line, and fields that contain the "
    "delimiter, quotes or line breaks in quotes (set delimiter, quote, encoding or header under "
    "the extract if the file differs)"
)
#: Encodings DuckDB's CSV reader decodes itself; any other is transcoded to UTF-8 first.
_NATIVE_ENCODINGS = {"utf-8": "utf-8"}


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is read: what the config says, and what was detected (``notes``)."""

    path: Path  # the file DuckDB reads (a UTF-8 copy when the source is in another encoding)
    delimiter: str
    quote: str
    header: bool
    names: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def read_sql(self, rejects: str | None = None) -> str:
        """``read_csv(...)`` of the file: every column as text, nothing sniffed or skipped (a bad
        value is quarantined with its line instead of failing the file); with ``rejects``, lines
        that do not parse (wrong field count, unterminated quote, bad encoding) go to the tables
        ``<rejects>_errors`` and ``<rejects>_scans`` instead of failing the read."""
        columns = "{" + ", ".join(f"{ql(n)}: 'VARCHAR'" for n in self.names) + "}"
        reject = (
            f", store_rejects = true, rejects_table = {ql(rejects + '_errors')}, "
            f"rejects_scan = {ql(rejects + '_scans')}"
            if rejects
            else ""
        )
        return (
            f"read_csv({ql(str(self.path))}, columns = {columns}, auto_detect = false, "
            f"header = {str(self.header).lower()}, skip = 0, delim = {ql(self.delimiter)}, "
            f"quote = {ql(self.quote)}, escape = {ql(self.quote)}, comment = '', "
            f"encoding = 'utf-8', max_line_size = 16777216{reject})"
        )


def _first_line(path: Path, encoding: str, label: str, name: str) -> str:
    with open(path, "rb") as fh:
        line = fh.readline(1 << 20)
    try:
        return line.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as err:
        bad = err.object[err.start : err.end]
        raise ExtractError(_encoding_message(label, name, encoding, 1, bad)) from None


def _encoding_message(
    label: str, name: str, encoding: str, line: int, bad: bytes | None = None
) -> str:
    enc = "UTF-8" if encoding == "utf-8" else encoding
    other = "cp1252 or latin-1" if encoding == "utf-8" else "utf-8, cp1252 or latin-1"
    what = f" (bytes {bad.hex(' ')})" if bad else ""
    return (
        f"{label}: line {line} is not valid {enc}{what}: the file is in another "
        f"encoding; set extracts.{name}.encoding to the file's encoding (e.g. {other})"
    )


def csv_dialect(src: ExtractSource, name: str, scratch: Path | None = None) -> CsvDialect:
    """The dialect of a CSV source: delimiter (configured, or the most frequent of , ; tab | in
    the header line), quote, header and column names. With ``scratch`` (a folder) and an encoding
    other than UTF-8, the file is transcoded there to UTF-8 (streamed), and the dialect points at
    the copy.

    Raises :class:`ExtractError` for a header line that is not valid in the encoding.
    """
    path = Path(src.path)
    first = _first_line(path, src.encoding, src.label, name)
    notes = []
    delimiter = src.delimiter
    if delimiter is None:
        counts = {d: first.count(d) for d in _DELIMITERS}
        best = max(_DELIMITERS, key=lambda d: counts[d])
        delimiter = best if counts[best] else ","
        if delimiter != ",":
            notes.append(f"delimiter {delimiter!r} detected")
    fields = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter, quotechar=src.quote), [])
    if src.header:
        names = tuple(fields)
    else:
        names = tuple(f"column{i + 1}" for i in range(len(fields)))
        notes.append(f"no header line: columns named column1..column{len(fields)}")
    if src.encoding not in _NATIVE_ENCODINGS:
        notes.append(f"encoding {src.encoding}")
        if scratch is not None:
            path = _transcode(path, src, name, scratch)
    return CsvDialect(path, delimiter, src.quote, src.header, names, tuple(notes))


def _transcode(path: Path, src: ExtractSource, name: str, scratch: Path) -> Path:
    """Stream ``path`` from ``src.encoding`` into a UTF-8 copy in ``scratch``."""
    out = scratch / f"{name}.utf8.csv"
    decoder = codecs.getincrementaldecoder(src.encoding)()
    line = 1
    with open(path, "rb") as fin, open(out, "w", encoding="utf-8", newline="") as fout:
        while block := fin.read(1 << 22):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as err:
                line += block[: err.start].count(b"\n")
                raise ExtractError(
                    _encoding_message(
                        src.label, name, src.encoding, line, block[err.start : err.end]
                    )
                ) from None
            line += block.count(b"\n")
            fout.write(text)
        fout.write(decoder.decode(b"", final=True))
    return out


def _duplicates(names: Iterable[str]) -> list[str]:
    seen, dups = set(), []
    for n in names:
        if n in seen and n not in dups:
            dups.append(n)
        seen.add(n)
    return dups


def _table_ref(alias: str | None, table: str) -> str:
    """``[alias.][schema.]table`` quoted, each part on its own."""
    return ".".join(qi(p) for p in ([alias] if alias else []) + table.split("."))


def _cell_text(x: object) -> str | None:
    """A cell as the text a CSV export would hold: empty -> None, a date -> ISO, a whole number
    -> without '.0'."""
    if x is None or x == "" or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, dt.datetime):
        ts = pd.Timestamp(x)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return str(x)


def _sheet_rows(path: Path, sheet: str | int | None, nrows: int | None = None) -> list[list]:
    """The sheet's rows from its first row (``nrows`` of them, else all) as Python values.

    Every workbook (``.xlsx``, ``.xlsm``, ``.xlsb``, ``.ods`` and old binary ``.xls``) is read
    with python-calamine (a Rust reader, about 20 times faster than openpyxl: a 200,000-row sheet
    in 1 s instead of 20), with every row kept in sheet order so that row numbers are sheet
    rows."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    names = book.sheet_names
    index = sheet or 0
    if isinstance(sheet, str):
        index = names.index(sheet) if sheet in names else -1
    if not 0 <= index < len(names):
        raise ExtractError(
            f"{Path(path).name} has no sheet {sheet!r}; its sheets are "
            f"{', '.join(repr(n) for n in names)}: set the extract's 'sheet' to one of them"
        )
    return book.get_sheet_by_index(index).to_python(skip_empty_area=False, nrows=nrows)


@functools.lru_cache(maxsize=64)
def _cached_header(path: str, sheet: str | int | None, stamp: tuple[int, int]) -> tuple[str, ...]:
    rows = _sheet_rows(Path(path), sheet, nrows=1)
    return tuple(t for t in map(_cell_text, rows[0] if rows else []) if t is not None)


def _excel_header(path: Path, sheet: str | int | None) -> list[str]:
    """The sheet's first row as written (repeated names kept: they are reported)."""
    st = Path(path).stat()
    return list(_cached_header(str(Path(path).resolve()), sheet, (st.st_mtime_ns, st.st_size)))


def _excel_text(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """The sheet's data rows as text (:func:`_cell_text`), one column per named header cell."""
    rows = _sheet_rows(path, sheet)
    if not rows:
        return pd.DataFrame()
    names = [_cell_text(c) for c in rows[0]]
    columns = list(zip(*rows[1:], strict=True)) or [()] * len(names)  # a sheet is a rectangle
    text: dict[str, pd.Series] = {}
    for n, c in zip(names, columns, strict=True):
        if n and n not in text:  # a repeated name is reported by the header check
            text[n] = pd.Series(list(map(_cell_text, c)), dtype=object)
    return pd.DataFrame(text, dtype=object)


@dataclass
class Attachments:
    """What one load holds open on its connection: DuckDB database files attached read-only (one
    alias per file) and a private scratch folder (UTF-8 copies of CSVs in other encodings)."""

    con: duckdb.DuckDBPyConnection
    aliases: dict[Path, str] = field(default_factory=dict)
    _scratch: Path | None = None

    def alias(self, path: Path) -> str:
        path = Path(path).resolve()
        if path not in self.aliases:
            alias = f"__le_db{len(self.aliases)}"
            self.con.execute(f"ATTACH {ql(str(path))} AS {qi(alias)} (READ_ONLY)")
            self.aliases[path] = alias
        return self.aliases[path]

    @property
    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="leadeval-"))
        return self._scratch

    def detach_all(self) -> None:
        for alias in self.aliases.values():
            self.con.execute(f"DETACH {qi(alias)}")
        self.aliases.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _ibis_table(src: ExtractSource):
    """The Ibis table of a database source: its table or view, or its query."""
    import ibis

    backend = ibis.connect(src.database if src.database is not None else f"duckdb://{src.path}")
    if src.query:
        return backend.sql(src.query + "\n")  # a trailing -- comment ends
    *where, table = src.table.split(".")  # [[catalog.]schema.]table: Ibis takes them apart
    database = tuple(where) if len(where) > 1 else (where[0] if where else None)
    return backend.table(table, database=database)


def read_header(
    src: ExtractSource,
    con: duckdb.DuckDBPyConnection | None = None,
    attachments: Attachments | None = None,
    name: str = "extract",
) -> dict[str, str]:
    """Column names of a source and their DuckDB types (``VARCHAR`` for CSV and Excel), reading the
    header or the metadata only. Raises whatever the underlying reader raises."""
    fmt = src.resolved_format
    if fmt == "spark":
        raise ExtractError(
            f"{src.label} is a table of a Spark catalog (format: spark), which only engine: "
            "spark reads; set engine: spark, or export the table to Parquet"
        )
    if fmt == "csv":
        return dict.fromkeys(csv_dialect(src, name).names, "VARCHAR")
    if fmt == "excel":
        return dict.fromkeys(_excel_header(src.path, src.sheet), "VARCHAR")
    if adbc_driver(src) is not None:
        with _adbc_rows(src, limit=0) as reader:
            empty = reader.read_all()
        if sqlite_file(src) is not None:  # text, also where ADBC typed the columns of no row
            return dict.fromkeys(empty.column_names, "VARCHAR")
        rel = duckdb.connect().from_arrow(empty)
        return {n: str(t) for n, t in zip(rel.columns, rel.types, strict=True)}
    if src.query and duckdb_file(src) is not None:
        with _duckdb_query(src) as query:
            return {n: str(t) for n, t in zip(query.columns, query.types, strict=True)}
    if src.query or (duckdb_file(src) is None and fmt != "parquet"):
        schema = _ibis_table(src).schema()
        return {n: "VARCHAR" if t.is_string() else str(t).upper() for n, t in schema.items()}
    own = con is None
    con = duckdb.connect() if own else con
    try:
        if fmt == "parquet":
            rows = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({ql(str(src.path))})"
            ).fetchall()
        else:
            att = attachments if attachments is not None else Attachments(con)
            rows = con.execute(
                f"DESCRIBE SELECT * FROM {_table_ref(att.alias(duckdb_file(src)), src.table)}"
            ).fetchall()
        return {r[0]: r[1] for r in rows}
    finally:
        if own:
            con.close()


def _available(header: Iterable[str], limit: int = 30) -> str:
    names = list(header)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _did_you_mean(name: str, header: Iterable[str]) -> str:
    lower = {h.lower(): h for h in header}
    if name.lower() in lower:
        return f" (did you mean '{lower[name.lower()]}'? names are case-sensitive)"
    close = difflib.get_close_matches(name, list(header), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _looks_like_data(header: Iterable[str]) -> bool:
    """A 'header' with a number or a date among its names is probably the first data line."""
    value = r"[+-]?\d+(\.\d+)?|\d{4}-\d{1,2}-\d{1,2}.*|\d{1,2}/\d{1,2}/\d{2,4}.*"
    return any(re.fullmatch(value, (n or "").strip()) for n in header)


def resolve_columns(name: str, src: ExtractSource, header: Iterable[str]) -> dict[str, str]:
    """Canonical column -> source column, for the canonical columns the source provides (mapped in
    ``columns`` or present under the canonical name). Mapped names absent from the header are
    left out (:func:`source_problems` reports them)."""
    header = set(header)
    out = {}
    for col in SCHEMAS[name].names:
        mapped = src.columns.get(col)
        if mapped is not None:
            if mapped in header:
                out[col] = mapped
        elif col in header:
            out[col] = col
    return out


def source_problems(
    name: str,
    src: ExtractSource,
    con: duckdb.DuckDBPyConnection | None = None,
    attachments: Attachments | None = None,
    header: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Every structural problem of one extract source, each as ``key.path: problem; fix``, and
    the source's header (empty when it cannot be read); ``header`` (column -> type) when the
    caller has read it (a Spark table)."""
    where = f"extracts.{name}"
    fmt = src.resolved_format
    path_key = (
        f"{where}.path" if src.path is not None
        else f"{where}.table" if fmt == "spark" else f"{where}.database"
    )  # fmt: skip
    file = src.path if src.path is not None else duckdb_file(src) or sqlite_file(src)
    if file is not None and not Path(file).is_file():
        return [
            f"{path_key}: file not found: {file}; check the path (relative to the config file)"
        ], {}
    try:
        header = read_header(src, con, attachments, name) if header is None else header
    except ExtractError as err:  # already says what and how to fix
        return [f"{path_key}: {err}"], {}
    except (
        Exception
    ) as err:  # any reader failure is the user's file or URL, reported with the cause
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        fix = (
            f"a CSV needs {CSV_FIX}"
            if fmt == "csv"
            else "check the file and its 'format' (csv, parquet, excel, duckdb, sql)"
            + ("" if src.table is None else " and 'table'")
            + ("" if src.query is None else " and 'query'")
        )
        return [f"{path_key}: cannot read {src.label} as {fmt}: {first}; {fix}"], {}
    if not header:
        return [f"{path_key}: {src.label} has no columns; export it again with a header row"], {}
    problems = []
    names = (
        csv_dialect(src, name).names
        if fmt == "csv"
        else _excel_header(src.path, src.sheet)
        if fmt == "excel"
        else list(header)
    )
    dups = _duplicates(names)
    if dups:
        problems.append(
            f"{path_key}: {src.label} has the column name{'s' if len(dups) > 1 else ''} "
            f"{', '.join(repr(d) for d in dups)} more than once in its header; give every column "
            "its own name and export the file again"
        )
    schema = SCHEMAS[name]
    for canon, col in src.columns.items():
        if canon in schema.names and col not in header:
            problems.append(
                f"{where}.columns.{canon}: column '{col}' not found in {src.label}"
                f"{_did_you_mean(col, header)}; available: {_available(header)}"
            )
    resolved = resolve_columns(name, src, header)
    for canon in schema.required:
        if canon not in resolved and canon not in src.columns:
            problems.append(
                f"{where}.columns.{canon}: required column '{canon}' is not mapped and "
                f"{src.label} has no column '{canon}'; map it as '{canon}: <your column>' under "
                f"{where}.columns; available: {_available(header)}"
            )
    for group in schema.one_of:
        if not any(c in resolved or c in src.columns for c in group):
            problems.append(
                f"{where}.columns: {src.label} needs one of {', '.join(group)}; map one as "
                f"'{group[0]}: <your column>' under {where}.columns; available: "
                f"{_available(header)}"
            )
    if problems and fmt == "csv" and src.header and _looks_like_data(header):
        problems.append(
            f"{where}.header: the first line of {src.label} looks like data, not column names; "
            "set header: false and map the columns as column1, column2, ..."
        )
    if src.date_format is not None:
        try:
            duckdb.connect().execute(
                f"SELECT try_strptime('2000-01-01', {ql(src.date_format)})"
            ).fetchall()
        except duckdb.Error as err:
            problems.append(
                f"{where}.date_format: {src.date_format!r} is not a valid strptime format "
                f"({str(err).splitlines()[0]}); use codes like '%m/%d/%Y'"
            )
    return problems, header


def check_sources(cfg: SiteConfig) -> list[str]:
    """Every structural problem of every extract source of a config: missing files, unreadable
    formats, repeated header names, mapped columns absent from the file, required columns neither
    mapped nor present.

    Only headers (or file metadata) are read. Returns one line per problem, each starting with its
    YAML key path; an empty list means the sources are usable.
    """
    problems = []
    con = duckdb.connect()
    try:
        attachments = Attachments(con)
        for name, src in cfg.extracts.items():
            problems.extend(source_problems(name, src, con, attachments)[0])
    finally:
        con.close()
    return problems


@dataclass(frozen=True)
class RawSource:
    """One extract registered in DuckDB as the agency wrote it."""

    relation: str  # quoted name of a view or temp table with the used columns and ROW
    columns: dict[str, str]  # canonical column -> source column
    types: dict[str, str]  # source column -> DuckDB type
    line_offset: int | None = None  # CSV: line = row + offset; Excel: sheet row = row + 1
    malformed: pd.DataFrame | None = None  # CSV lines that do not parse: ROW, line, detail, text
    notes: tuple[str, ...] = ()  # the dialect as detected, e.g. "delimiter ';' detected"
    #: a self-contained subquery equal to ``relation`` that outlives the load (Parquet: the
    #: file itself), so a loaded extract can be a view over its source instead of a copy
    inline: str | None = None


_REJECT_WORDS = {
    "TOO MANY COLUMNS": "more fields than the header (a stray delimiter?)",
    "MISSING COLUMNS": "fewer fields than the header (a truncated line?)",
    "UNQUOTED VALUE": "a quote that is never closed (every later line is inside it)",
    "LINE SIZE OVER MAXIMUM": "a line longer than 16 MB",
}


def _register_csv(
    con: duckdb.DuckDBPyConnection,
    name: str,
    src: ExtractSource,
    used: list[str],
    attachments: Attachments,
) -> tuple[pd.DataFrame, tuple[str, ...], int]:
    """Read a CSV into ``__le_src_<name>``: the used columns and ``__le_row``, the record number
    counting malformed lines too. Malformed lines are returned (ROW, line, detail, text) instead
    of failing the file; a line that is not valid in the encoding fails it, naming the line."""
    dialect = csv_dialect(src, name, attachments.scratch)
    h = 1 if dialect.header else 0
    rel, tmp, rej = qi(f"__le_src_{name}"), qi(f"__le_raw_{name}"), f"__le_rej_{name}"
    cols = ", ".join(qi(c) for c in used)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT {cols} FROM {dialect.read_sql(rej)}")
    errors = con.execute(
        f"SELECT line, min(error_type) AS error_type, min(error_message) AS message, "
        f"min(csv_line) AS text FROM {qi(rej + '_errors')} GROUP BY line ORDER BY line"
    ).df()
    for table in ("_errors", "_scans"):
        con.execute(f"DROP TABLE IF EXISTS {qi(rej + table)}")
    bad_encoding = errors[errors["error_type"] == "INVALID ENCODING"]
    if len(bad_encoding):
        line = int(bad_encoding["line"].iloc[0])
        raise ExtractError(_encoding_message(src.label, name, src.encoding, line))
    if errors.empty:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, * FROM {tmp}")
        return errors, dialect.notes, h
    # DuckDB numbers lines as records (header = line 1). Accepted record r (1-based among the
    # accepted) comes after j(r) = #{i : K_i < r} malformed ones, K_i = line_i - h - 1 - i the
    # accepted records before malformed record i; its number among all records is r + j(r).
    lines = errors["line"].to_numpy(dtype="int64")
    k = lines - h - 1 - np.arange(len(lines))
    steps = pd.DataFrame({"k": k, "j": np.arange(1, len(lines) + 1)}).groupby("k").max()
    con.register("__le_steps", steps.reset_index())
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {qi(rej + '_steps')} AS SELECT * FROM __le_steps"
        )
    finally:
        con.unregister("__le_steps")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT t.r + coalesce(s.j, 0) AS {ROW}, "
        f"t.* EXCLUDE (r) FROM (SELECT rowid + 1 AS r, * FROM {tmp}) t "
        f"ASOF LEFT JOIN {qi(rej + '_steps')} s ON s.k < t.r"
    )
    detail = errors["error_type"].map(_REJECT_WORDS).fillna(errors["message"].astype(str))
    malformed = pd.DataFrame(
        {ROW: lines - h, "line": lines, "detail": detail, "text": errors["text"]}
    )
    return malformed, dialect.notes, h


def checked_columns(
    name: str,
    src: ExtractSource,
    con: duckdb.DuckDBPyConnection,
    attachments: Attachments,
    header: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The canonical -> source column mapping of a usable source and the source columns used;
    an :class:`ExtractError` listing every problem (missing file, missing column...) if any."""
    problems, header = source_problems(name, src, con, attachments, header=header)
    if problems:
        raise ExtractError(
            f"{src.label}: the {name} extract cannot be used:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    columns = resolve_columns(name, src, header)
    return columns, list(dict.fromkeys(columns.values()))


def _arrow_table(con: duckdb.DuckDBPyConnection, table: str, reader, select: str = "*") -> None:
    """Temporary ``table`` of the Arrow batches ``reader`` streams (``select``: its columns)."""
    con.register("__le_arrow", reader)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} FROM __le_arrow")
    finally:
        con.unregister("__le_arrow")


def register_raw(
    con: duckdb.DuckDBPyConnection,
    name: str,
    src: ExtractSource,
    attachments: Attachments,
) -> RawSource:
    """Register extract ``name`` in ``con`` as relation ``__le_src_<name>`` (see the module doc).

    Raises :class:`ExtractError` naming the source and the fix when it cannot be read or lacks a
    required column.
    """
    columns, used = checked_columns(name, src, con, attachments)
    cols = ", ".join(qi(c) for c in used)
    rel = qi(f"__le_src_{name}")
    tmp = qi(f"__le_raw_{name}")
    fmt = src.resolved_format
    malformed, notes, offset, inline = None, (), None, None
    try:
        if fmt == "csv":
            malformed, notes, offset = _register_csv(con, name, src, used, attachments)
        elif fmt == "parquet":
            inline = (
                f"(SELECT file_row_number + 1 AS {ROW}, {cols} "
                f"FROM read_parquet({ql(str(Path(src.path).resolve()))}, file_row_number = true))"
            )
            con.execute(f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT * FROM {inline}")
        elif fmt == "excel":
            frame = _excel_text(src.path, src.sheet)[used]
            frame.insert(0, ROW, range(1, len(frame) + 1))
            offset = 1
            con.register("__le_excel", frame)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {rel} AS SELECT * FROM __le_excel")
            finally:
                con.unregister("__le_excel")
        elif duckdb_file(src) is not None and not src.query:
            ref = _table_ref(attachments.alias(duckdb_file(src)), src.table)
            try:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, {cols} FROM {ref}"
                )
            except duckdb.BinderException:  # a view has no rowid: number rows in scan order
                con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT {cols} FROM {ref}")
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, * FROM {tmp}"
                )
        else:
            if adbc_driver(src) is not None:
                with _adbc_rows(src, used) as reader:
                    # SQLite's text stays text when no row came (ADBC then types it int64)
                    text = ", ".join(f"CAST({qi(c)} AS VARCHAR) AS {qi(c)}" for c in used)
                    _arrow_table(con, tmp, reader, text if sqlite_file(src) else "*")
            elif duckdb_file(src) is not None:
                with _duckdb_query(src, used) as query:
                    _arrow_table(con, tmp, query.to_arrow_reader())
            else:
                _arrow_table(con, tmp, _ibis_table(src).select(used).to_pyarrow_batches())
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, * FROM {tmp}"
            )
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
    except ExtractError:
        raise
    except (duckdb.Error, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExtractError(
            f"{src.label}: cannot read the {name} extract as {fmt}: {first}; fix the file"
            + (f": a CSV needs {CSV_FIX}" if fmt == "csv" else ", or set 'format'")
        ) from None
    types.pop(ROW, None)
    return RawSource(rel, columns, types, offset, malformed, notes, inline)


def drop_raw(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the relations :func:`register_raw` made for ``name``."""
    for kind, obj in (
        ("VIEW", f"__le_src_{name}"),
        ("TABLE", f"__le_src_{name}"),
        ("TABLE", f"__le_raw_{name}"),
        ("TABLE", f"__le_rej_{name}_steps"),
    ):
        with contextlib.suppress(duckdb.CatalogException):  # it exists with the other kind
            con.execute(f"DROP {kind} IF EXISTS {qi(obj)}")
