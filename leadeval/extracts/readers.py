"""Readers: put one configured extract, as the agency wrote it, into DuckDB, and check sources.

Every reader yields the same thing: a DuckDB relation (a view or a temporary table) with the used
source columns under their own names and ``__le_row``, the 1-based data row number in the source
(the first row after the header is 1). CSV and Excel cells are read as text so that a bad value can
be quarantined with its row instead of failing the whole read; Parquet and database tables keep
their own types and are parsed from those.

Only headers are read to check a config (:func:`check_sources`); whole files are read only by
:func:`leadeval.load_extracts`, and then by DuckDB, never into pandas (except Excel, which is small by
construction: a sheet holds at most about a million rows).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
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


_DELIMITERS = (",", ";", "\t", "|")
CSV_FIX = (
    "one header row, the same number of fields on every line, UTF-8, and fields that contain the "
    "delimiter, quotes or line breaks in double quotes"
)


def csv_delimiter(path: Path) -> str:
    """The delimiter of a CSV: the most frequent of , ; tab | in the header line (default ,)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline(65536)
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_call(path: Path) -> str:
    # All text (a bad value is quarantined with its row, not a crash); RFC 4180 quoting; the
    # delimiter is taken from the header line and nothing is skipped, because DuckDB's sniffer
    # would otherwise drop leading lines or '#' lines to fit a ragged file.
    return (
        f"read_csv({ql(str(path))}, all_varchar = true, header = true, skip = 0, "
        f"delim = {ql(csv_delimiter(path))}, quote = '\"', escape = '\"', comment = '')"
    )


def _table_ref(alias: str, table: str) -> str:
    return ".".join([qi(alias)] + [qi(p) for p in table.split(".")])


def _excel_text(path: Path, sheet: str | int | None, nrows: int | None = None) -> pd.DataFrame:
    frame = pd.read_excel(
        path, sheet_name=sheet if sheet is not None else 0, dtype=object, nrows=nrows
    )
    frame.columns = [str(c) for c in frame.columns]

    def text(x: object) -> str | None:
        if x is None or (not isinstance(x, str) and pd.isna(x)):
            return None
        if isinstance(x, dt.datetime):
            ts = pd.Timestamp(x)
            return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat(sep=" ")
        if isinstance(x, float) and x.is_integer():
            return str(int(x))
        return str(x)

    return frame.apply(lambda s: s.map(text)).astype(object)


@dataclass
class Attachments:
    """DuckDB database files attached (read-only) to one connection, one alias per file."""

    con: duckdb.DuckDBPyConnection
    aliases: dict[Path, str] = field(default_factory=dict)

    def alias(self, path: Path) -> str:
        path = Path(path).resolve()
        if path not in self.aliases:
            alias = f"__le_db{len(self.aliases)}"
            self.con.execute(f"ATTACH {ql(str(path))} AS {qi(alias)} (READ_ONLY)")
            self.aliases[path] = alias
        return self.aliases[path]

    def detach_all(self) -> None:
        for alias in self.aliases.values():
            self.con.execute(f"DETACH {qi(alias)}")
        self.aliases.clear()


def read_header(
    src: ExtractSource,
    con: duckdb.DuckDBPyConnection | None = None,
    attachments: Attachments | None = None,
) -> dict[str, str]:
    """Column names of a source and their DuckDB types (``VARCHAR`` for CSV and Excel), reading the
    header or the metadata only. Raises whatever the underlying reader raises."""
    fmt = src.resolved_format
    own = con is None
    con = duckdb.connect() if own else con
    try:
        if fmt == "csv":
            rows = con.execute(f"DESCRIBE SELECT * FROM {_csv_call(src.path)}").fetchall()
        elif fmt == "parquet":
            rows = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({ql(str(src.path))})"
            ).fetchall()
        elif fmt == "excel":
            return dict.fromkeys(_excel_text(src.path, src.sheet, nrows=0).columns, "VARCHAR")
        elif duckdb_file(src) is not None:
            att = attachments if attachments is not None else Attachments(con)
            rows = con.execute(
                f"DESCRIBE SELECT * FROM {_table_ref(att.alias(duckdb_file(src)), src.table)}"
            ).fetchall()
        else:
            import ibis

            schema = ibis.connect(src.database).table(src.table).schema()
            return {n: "VARCHAR" if t.is_string() else str(t).upper() for n, t in schema.items()}
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
) -> tuple[list[str], dict[str, str]]:
    """Every structural problem of one extract source, each as ``key.path: problem; fix``, and
    the source's header (empty when it cannot be read)."""
    where = f"extracts.{name}"
    fmt = src.resolved_format
    path_key = f"{where}.path" if src.path is not None else f"{where}.database"
    file = src.path if src.path is not None else duckdb_file(src)
    if file is not None and not Path(file).is_file():
        return [
            f"{path_key}: file not found: {file}; check the path (relative to the config file)"
        ], {}
    try:
        header = read_header(src, con, attachments)
    except (
        Exception
    ) as err:  # any reader failure is the user's file or URL, reported with the cause
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        fix = (
            f"a CSV needs {CSV_FIX}"
            if fmt == "csv"
            else "check the file and its 'format' (csv, parquet, excel, duckdb, sql)"
            + ("" if src.table is None else " and 'table'")
        )
        return [f"{path_key}: cannot read {src.label} as {fmt}: {first}; {fix}"], {}
    if not header:
        return [f"{path_key}: {src.label} has no columns; export it again with a header row"], {}
    problems = []
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
    if src.date_format is not None:
        try:
            (con or duckdb).execute(f"SELECT try_strptime('2000-01-01', {ql(src.date_format)})")
        except duckdb.Error as err:
            problems.append(
                f"{where}.date_format: {src.date_format!r} is not a valid strptime format "
                f"({str(err).splitlines()[0]}); use codes like '%m/%d/%Y'"
            )
    return problems, header


def check_sources(cfg: SiteConfig) -> list[str]:
    """Every structural problem of every extract source of a config: missing files, unreadable
    formats, mapped columns absent from the file, required columns neither mapped nor present.

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
    problems, header = source_problems(name, src, con, attachments)
    if problems:
        raise ExtractError(
            f"{src.label}: the {name} extract cannot be used:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    columns = resolve_columns(name, src, header)
    used = list(dict.fromkeys(columns.values()))
    cols = ", ".join(qi(c) for c in used)
    rel = qi(f"__le_src_{name}")
    tmp = qi(f"__le_raw_{name}")
    fmt = src.resolved_format
    try:
        if fmt == "csv":
            # A table keeps the file's row order (insertion order is preserved), so rowid is the row.
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT {cols} FROM {_csv_call(src.path)}"
            )
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, * FROM {tmp}"
            )
        elif fmt == "parquet":
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT file_row_number + 1 AS {ROW}, {cols} "
                f"FROM read_parquet({ql(str(src.path))}, file_row_number = true)"
            )
        elif fmt == "excel":
            frame = _excel_text(src.path, src.sheet)[used]
            frame.insert(0, ROW, range(1, len(frame) + 1))
            con.register("__le_excel", frame)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {rel} AS SELECT * FROM __le_excel")
            finally:
                con.unregister("__le_excel")
        elif duckdb_file(src) is not None:
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
            import ibis

            table = ibis.connect(src.database).table(src.table).select(used)
            reader = table.to_pyarrow_batches()
            con.register("__le_arrow", reader)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT * FROM __le_arrow")
            finally:
                con.unregister("__le_arrow")
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {rel} AS SELECT rowid + 1 AS {ROW}, * FROM {tmp}"
            )
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
    except (duckdb.Error, ValueError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ExtractError(
            f"{src.label}: cannot read the {name} extract as {fmt}: {first}; fix the file"
            + (f": a CSV needs {CSV_FIX}" if fmt == "csv" else ", or set 'format'")
        ) from None
    types.pop(ROW, None)
    return RawSource(relation=rel, columns=columns, types=types)


def drop_raw(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the relations :func:`register_raw` made for ``name``."""
    for kind, obj in (
        ("VIEW", f"__le_src_{name}"),
        ("TABLE", f"__le_src_{name}"),
        ("TABLE", f"__le_raw_{name}"),
    ):
        with contextlib.suppress(duckdb.CatalogException):  # it exists with the other kind
            con.execute(f"DROP {kind} IF EXISTS {qi(obj)}")
