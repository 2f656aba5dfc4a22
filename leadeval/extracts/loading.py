"""Load a site's extracts: read, map, parse, validate, quarantine, reconcile.

Example
-------
>>> import leadeval as le
>>> cfg = le.load_config("configs/seattle.yaml")          # doctest: +SKIP
>>> extracts = le.load_extracts(cfg)                      # doctest: +SKIP
>>> extracts.quality                                      # doctest: +SKIP
   extract        source  read  loaded  quarantined
0   roster    roster.csv  3300    3300            0
...
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis
import numpy as np
import pandas as pd

from leadeval.engine import connect, database_file, duckdb_backend, memory_limit_bytes
from leadeval.errors import ExtractError
from leadeval.extracts import spark_loading
from leadeval.extracts.core import Extracts
from leadeval.extracts.readers import (
    ROW,
    Attachments,
    adbc_driver,
    drop_raw,
    qi,
    ql,
    register_raw,
)
from leadeval.extracts.schemas import SCHEMAS
from leadeval.extracts.validation import (
    REASONS,
    classify_sql,
    duplicates_sql,
    key_hash,
    reconcile,
    trimmable,
    typed_sql,
)
from leadeval.safe_csv import to_csv

if TYPE_CHECKING:
    from leadeval.config import SiteConfig

QUALITY_COLUMNS = [
    "extract", "source", "read", "loaded", "quarantined", "censored", "trimmed", "notes",
]  # fmt: skip
REASON_COLUMNS = ["extract", "reason", "rows"]
_MAX_ROWS_SHOWN = 5


def table_name(name: str) -> str:
    """Name of the loaded table of extract ``name`` in the Extracts' backend."""
    return f"extract_{name}"


_HELPERS = (ROW, "__le_r1", "__le_t")


def _canon(name: str) -> str:
    return ", ".join(qi(c) for c in SCHEMAS[name].names)


def _flagged(name: str) -> str:
    """Table of the source rows of a view-loaded extract that do not load (quarantined)."""
    return f"__le_flagged_{name}"


#: The in-memory catalog that holds the parsed tables small enough for it (:class:`_Memory`)
MEMORY_CATALOG = "__le_mem"
#: Bytes a parsed cell is taken to fill in memory (a DuckDB string is 16 bytes up to 12 characters)
_CELL_BYTES = 16


@dataclasses.dataclass
class _Memory:
    """The engine memory that parsed extract tables may fill in :data:`MEMORY_CATALOG` instead
    of the database file: a quarter of ``memory_limit``, first come first served.

    Into the file a table is compressed and written out (the county roster, 202,000 rows:
    0.20 s against 0.08 s in memory), which pays off only when memory is short: a state's
    roster (5M rows) stays in the file. Used only for the load's own database in the work
    folder, never for a database the config keeps (``engine.database``). Which of two pooled
    tables gets the last of it depends on which is parsed first; what is read from either
    place is the same."""

    left: float
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def take(self, rows: int, columns: int) -> bool:
        need = rows * columns * _CELL_BYTES
        with self._lock:  # pooled loads take from it at once
            if need > self.left:
                return False
            self.left -= need
            return True


def _memory(con: duckdb.DuckDBPyConnection, cfg: SiteConfig) -> _Memory | None:
    """The :class:`_Memory` of a load into a database file of its own, else None."""
    limit = memory_limit_bytes(con)
    if cfg.engine.database is not None or database_file(con) is None or limit is None:
        return None
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {qi(MEMORY_CATALOG)}")
    return _Memory(limit / 4)


def _in_memory(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether extract ``name``'s loaded table is in :data:`MEMORY_CATALOG`."""
    sql = "SELECT 1 FROM duckdb_tables() WHERE database_name = ? AND table_name = ?"
    return bool(con.execute(sql, [MEMORY_CATALOG, table_name(name)]).fetchall())


def _memory_ref(name: str) -> str:
    """The SQL name of extract ``name``'s table in :data:`MEMORY_CATALOG`."""
    return f"{qi(MEMORY_CATALOG)}.main.{qi(table_name(name))}"


def loaded_ref(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The SQL name of extract ``name``'s loaded table or view."""
    return _memory_ref(name) if _in_memory(con, name) else qi(table_name(name))


def drop_loaded(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop what a load made for extract ``name``: its table or view and its flagged rows."""
    for kind, obj in (
        ("VIEW", qi(table_name(name))),
        ("TABLE", qi(table_name(name))),
        ("TABLE", qi(_flagged(name))),
        ("TABLE", _memory_ref(name)),
    ):
        with contextlib.suppress(duckdb.CatalogException):  # it exists with the other kind
            con.execute(f"DROP {kind} IF EXISTS {obj}")


_BATCH = 1 << 18  # rows per Arrow batch of the checking pass


def _repeated(h: np.ndarray) -> np.ndarray:
    """The values that occur more than once in ``h`` (64-bit key hashes, sorted here in place):
    a sort in numpy, several times faster than DuckDB's hash aggregate over as many groups as
    rows (the keys are nearly all unique) and 8 bytes a row."""
    h.sort()
    return np.unique(h[1:][h[1:] == h[:-1]])


def _check_pass(
    con: duckdb.DuckDBPyConnection, checked: str, n_bits: int, keyed: bool, n_rows: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, int]:
    """One streamed pass of ``checked`` (``__le_row, reason, censored, __le_t``, and with
    ``keyed`` ``__le_h``, the key hash of a row that parses, else NULL): the flagged rows
    (``reason`` or ``censored``: ``__le_row, reason, censored, __le_t``), the repeated key
    hashes, per trimmable column the number of loaded rows trimmed there, and the rows that
    load (all before duplicates)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    flagged = []
    hashes, n_hashed = np.empty(n_rows if keyed else 0, dtype=np.uint64), 0  # no copy of them
    bits = np.zeros(n_bits, dtype=np.int64)
    n_loaded = 0
    for batch in con.sql(checked).to_arrow_reader(_BATCH):
        reason = batch.column("reason")
        censored = pc.fill_null(batch.column("censored"), False)
        keep = pc.or_(pc.is_valid(reason), censored)
        if pc.any(keep).as_py():
            cols = [batch.column(c) for c in (ROW, "reason", "censored", "__le_t")]
            flagged.append(
                pa.RecordBatch.from_arrays(
                    cols, names=[ROW, "reason", "censored", "__le_t"]
                ).filter(keep)
            )
        loaded = pc.is_null(reason)
        if n_bits:
            t = pc.filter(batch.column("__le_t"), loaded).to_numpy(zero_copy_only=False)
            for i in range(n_bits):
                bits[i] += np.count_nonzero(t & (1 << i))
        n_loaded += pc.sum(loaded.cast(pa.int64())).as_py() or 0
        if keyed:
            h = pc.drop_null(batch.column("__le_h")).to_numpy(zero_copy_only=False)
            hashes[n_hashed : n_hashed + len(h)] = h
            n_hashed += len(h)
    schema = pa.schema(
        [
            (ROW, pa.int64()),
            ("reason", pa.string()),
            ("censored", pa.bool_()),
            ("__le_t", pa.int64()),
        ]
    )
    table = pa.Table.from_batches([b.cast(schema) for b in flagged], schema=schema)
    return table.to_pandas(), _repeated(hashes[:n_hashed]), bits, n_loaded


def _duplicate_rows(
    con: duckdb.DuckDBPyConnection, name: str, typed_rel: str, repeated: np.ndarray
) -> pd.DataFrame:
    """``__le_row, reason, __le_t`` of the rows of ``typed_rel`` that are ``duplicate_row`` or
    ``duplicate_key`` (:func:`duplicates_sql`), looked for among the rows whose key hash is one of
    ``repeated`` (every row that shares its key with another, and the rare hash collisions)."""
    rep, cand = (qi(f"__le_{x}_{name}") for x in ("rh", "k"))
    con.register("__le_rh", pd.DataFrame({"h": repeated}))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {rep} AS SELECT h FROM __le_rh")
    finally:
        con.unregister("__le_rh")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {cand} AS SELECT * FROM {typed_rel} t "
        f"WHERE {key_hash(name)} IN (SELECT h FROM {rep})"
    )
    return con.execute(
        f"SELECT d.{qi(ROW)}, CASE WHEN d.copy_no > 1 THEN 'duplicate_row' ELSE 'duplicate_key' "
        f"END AS reason, c.__le_t FROM ({duplicates_sql(name, cand)}) d "
        f"JOIN {cand} c ON c.{qi(ROW)} = d.{qi(ROW)} WHERE d.copy_no > 1 OR d.n_versions > 1"
    ).df()


def _load_one(
    con: duckdb.DuckDBPyConnection,
    name: str,
    cfg: SiteConfig,
    attachments: Attachments,
    memory: _Memory | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Load one extract into table ``extract_<name>``; return its quality row and quarantined rows.

    One pass over the whole source (:func:`_check_pass`) runs every check but the duplicates
    and streams out the key hashes, the few rows that do not load or are censored, and counts
    of the rest; only the rows whose key hash repeats are then checked for duplicates
    (:func:`_duplicate_rows`), and their reason takes precedence over the others (a row with a
    parse problem has no hash). A table-loaded source (roster, CSV, databases) is first parsed
    into its table (in :data:`MEMORY_CATALOG` when ``memory`` can take it). Everything after
    that reads the few flagged rows."""
    src = cfg.extracts[name]
    raw = register_raw(con, name, src, attachments)
    quar, few, expl, why = (qi(f"__le_{h}_{name}") for h in ("q", "f", "p", "w"))
    helpers = [quar, few, expl, why] + [qi(f"__le_{h}_{name}") for h in ("rh", "k", "d")]
    malformed = raw.malformed if raw.malformed is not None else pd.DataFrame()
    try:
        n_read = con.execute(f"SELECT count(*) FROM {raw.relation}").fetchone()[0]
        n_read += len(malformed)
        if n_read == 0:
            raise ExtractError(
                f"{src.label}: the {name} extract has no data rows; export it again, or remove "
                f"extracts.{name} from the config if the site has no {name} records"
            )
        notes = list(raw.notes)
        final = qi(table_name(name))
        drop_loaded(con, name)
        roster = loaded_ref(con, "roster") if name != "roster" else None
        as_view = raw.inline is not None and name != "roster"
        if as_view:
            typed_rel = f"({typed_sql(name, raw, src)})"
        else:
            if memory is not None and memory.take(n_read, len(_HELPERS) + len(SCHEMAS[name].names)):
                final = _memory_ref(name)
            typed_rel = final
            # One pass over the source: parse into the final table; then classify from it
            con.execute(
                f"CREATE TABLE {final} AS SELECT {', '.join(qi(h) for h in _HELPERS)}, "
                f"{_canon(name)} FROM ({typed_sql(name, raw, src)})"
            )
        rules = (name, typed_rel, cfg.data_end_date, roster, cfg.design.index_date)
        h = key_hash(name)
        if h is not None:  # the key hash of each row that parses, for the duplicates
            hashed = (
                f"(SELECT *, CASE WHEN __le_r1 IS NULL THEN {h} END AS __le_h FROM {typed_rel})"
            )
            rules = (name, hashed, *rules[2:])
        empty = f"(SELECT CAST(NULL AS BIGINT) AS {qi(ROW)}, 0 AS copy_no, 0 AS n_versions LIMIT 0)"
        carry = ("__le_t", "__le_h") if h is not None else ("__le_t",)
        checked = classify_sql(*rules, dups=empty if h is not None else None, carry=carry)
        trim_cols = trimmable(name, raw)
        n_bits = len(trim_cols)
        flags, repeated, bits, n_loaded = _check_pass(con, checked, n_bits, h is not None, n_read)
        if len(repeated):
            dup = _duplicate_rows(con, name, typed_rel, repeated)
            before = flags.set_index(ROW)["reason"].reindex(dup[ROW].to_numpy())
            was_loaded = before.isna().to_numpy()
            n_loaded -= int(was_loaded.sum())
            t = dup["__le_t"].to_numpy()[was_loaded]
            bits -= [np.count_nonzero(t & (1 << i)) for i in range(n_bits)]
            flags = pd.concat(
                [flags[~flags[ROW].isin(dup[ROW])], dup.assign(censored=False)], ignore_index=True
            )
        n_trimmed = int(bits.sum())
        trimmed_cols = [c for c, n in zip(trim_cols, bits, strict=True) if n]
        n_censored = int((flags["reason"].isna() & flags["censored"]).sum())
        n_bad = int(flags["reason"].notna().sum())
        con.register("__le_flags", flags[[ROW, "reason", "censored"]])
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {quar} AS SELECT CAST({qi(ROW)} AS BIGINT) AS "
                f"{qi(ROW)}, CAST(reason AS VARCHAR) AS reason, CAST(censored AS BOOLEAN) AS "
                "censored FROM __le_flags"
            )
        finally:
            con.unregister("__le_flags")
        flagged = f"(SELECT {qi(ROW)} FROM {quar} WHERE reason IS NOT NULL)"
        used = list(dict.fromkeys(raw.columns.values()))
        renamed = {c: f"{c} (source)" if c in _QUARANTINE_COLUMNS else c for c in used}
        source_cols = ", ".join(f"s.{qi(c)} AS {qi(renamed[c])}" for c in used)
        if n_bad:
            # the source and typed values of just the flagged rows, and why each is flagged
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {few} AS SELECT * FROM {raw.relation} "
                f"WHERE {qi(ROW)} IN {flagged}"
            )
            typed_few = f"({typed_sql(name, dataclasses.replace(raw, relation=few), src)})"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {expl} AS SELECT q.{qi(ROW)}, q.reason, "
                f"x.__le_c1, x.__le_d1 FROM {quar} q JOIN {typed_few} x "
                f"ON x.{qi(ROW)} = q.{qi(ROW)} WHERE q.reason IS NOT NULL"
            )
            few_rules = (name, typed_few, *rules[2:])
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {why} AS {classify_sql(*few_rules, explain=expl)}"
            )
            quarantined = con.execute(
                f"SELECT q.{qi(ROW)} AS source_row, q.reason, w.{qi('column')}, w.detail, "
                f"{source_cols} FROM {quar} q JOIN {why} w ON w.{qi(ROW)} = q.{qi(ROW)} "
                f"JOIN {few} s ON s.{qi(ROW)} = q.{qi(ROW)} "
                f"WHERE q.reason IS NOT NULL ORDER BY q.{qi(ROW)}"
            ).df()
        else:
            quarantined = con.execute(
                f"SELECT CAST(NULL AS BIGINT) AS source_row, CAST(NULL AS VARCHAR) AS reason, "
                f"CAST(NULL AS VARCHAR) AS {qi('column')}, CAST(NULL AS VARCHAR) AS detail, "
                f"{source_cols} FROM {raw.relation} s LIMIT 0"
            ).df()
        if not as_view:
            # a delete, then dropping the helper columns: the loaded rows of the table
            if n_bad:
                con.execute(f"DELETE FROM {final} WHERE {qi(ROW)} IN {flagged}")
            for helper in _HELPERS:
                con.execute(f"ALTER TABLE {final} DROP COLUMN {qi(helper)}")
        else:
            # a view over the source without the flagged rows (kept, as a table, beside it)
            flags = qi(_flagged(name))
            con.execute(f"CREATE TABLE {flags} AS SELECT * FROM {flagged}")
            inline = dataclasses.replace(raw, relation=raw.inline)
            view = typed_sql(name, inline, src, frozenset(trim_cols) - set(trimmed_cols))
            con.execute(
                f"CREATE VIEW {final} AS SELECT {_canon(name)} FROM ({view}) "
                f"t ANTI JOIN {flags} f ON f.{qi(ROW)} = t.{qi(ROW)}"
            )
        if trimmed_cols:
            notes.append(f"spaces trimmed around {', '.join(trimmed_cols)}")
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0]
        raise ExtractError(
            f"{src.label}: the {name} extract could not be validated: {first}; check that the "
            "mapped columns hold what the data contract expects (docs/data_contract.md)"
        ) from None
    finally:
        for helper in helpers:
            con.execute(f"DROP TABLE IF EXISTS {helper}")
        drop_raw(con, name)
    return reconcile(
        name, cfg, raw, malformed, quarantined, n_read, n_loaded, n_censored, int(n_trimmed), notes
    )


_QUARANTINE_COLUMNS = ("source_row", "line", "reason", "column", "detail", "text")

_POOL = 2  # Parquet and CSV extracts loaded at once, after the roster
_SETTINGS = "SELECT name, value FROM duckdb_settings()"


def _poolable(src) -> bool:
    """Whether an extract loads on its own cursor beside others: a Parquet source is read in
    place, a CSV into temporary tables of its cursor (with a scratch folder of its own load's
    :class:`Attachments`), a SQLite or PostgreSQL source through an ADBC connection of its own.
    Other database sources are not: their ``ATTACH`` aliases are the whole database's, and Ibis'
    readers hold the GIL."""
    return src.resolved_format in ("parquet", "csv") or adbc_driver(src) is not None


def _cursors(con: duckdb.DuckDBPyConnection, n: int) -> queue.SimpleQueue:
    """``n`` new connections to ``con``'s database with ``con``'s session settings (the backend's
    TimeZone, no Python replacement scans), made here: ``con`` is not thread-safe. Each keeps its
    own temporary objects; every load drops its own."""
    settings = con.execute(_SETTINGS).fetchall()
    free: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(n):
        cur = con.cursor()
        mine = dict(cur.execute(_SETTINGS).fetchall())
        for name, value in settings:
            if mine.get(name) != value:
                cur.execute(f"SET {qi(name)} = {ql(value)}")
        free.put(cur)
    return free


def _load_on(
    free: queue.SimpleQueue, name: str, cfg: SiteConfig, memory: _Memory | None = None
) -> tuple[dict, pd.DataFrame]:
    """:func:`_load_one` on a cursor taken from ``free`` (and put back), own attachments."""
    cur = free.get()
    attachments = Attachments(cur)
    try:
        return _load_one(cur, name, cfg, attachments, memory)
    finally:
        attachments.detach_all()
        free.put(cur)


def _submit(
    pool: ThreadPoolExecutor,
    con: duckdb.DuckDBPyConnection,
    names: list[str],
    cfg: SiteConfig,
    memory: _Memory | None,
) -> dict[str, Future]:
    """Start loading ``names`` in ``pool``, on one cursor per worker (DuckDB releases the GIL
    while it runs a query, so two checking passes use both cores); the caller takes the results
    in its own order, never in the order they finish."""
    free = _cursors(con, min(_POOL, len(names)))
    return {name: pool.submit(_load_on, free, name, cfg, memory) for name in names}


def _check_population(
    name: str, quality: dict, rows: pd.DataFrame, cfg: SiteConfig, share: bool = True
) -> None:
    """Fail the load when the analytic universe is broken: a roster person_id with two different
    rows, or (with ``share``) more than ``max_quarantined_share`` of an extract's rows
    quarantined."""
    src = cfg.extracts[name]
    if name == "roster":
        dup = rows.loc[rows["reason"] == "duplicate_key", "detail"].drop_duplicates()
        if len(dup):
            shown = ", ".join(repr(d) for d in dup.head(10))
            more = f" and {len(dup) - 10:,} more" if len(dup) > 10 else ""
            raise ExtractError(
                f"{src.label}: {len(dup):,} person_id{'s' if len(dup) > 1 else ''} "
                f"appear{'s' if len(dup) == 1 else ''} on two or more different roster rows "
                f"({shown}{more}); the roster needs one row per person: keep the right row of "
                "each, or link the records before loading"
            )
    fraction = quality["quarantined"] / quality["read"]
    if not share or fraction <= cfg.max_quarantined_share:
        return
    top = rows.groupby(["reason", "column"], dropna=False, sort=False).size()
    top = top.sort_values(ascending=False, kind="stable").head(3)
    reasons = ", ".join(
        f"{reason}{'' if pd.isna(col) else ' in ' + col} {n:,}" for (reason, col), n in top.items()
    )
    (reason, column), _ = next(iter(top.items()))
    examples = (
        rows.loc[
            (rows["reason"] == reason) & (rows["column"].fillna("") == (column or "")), "detail"
        ]
        .dropna()
        .astype(str)
        .drop_duplicates()
        .head(5)
        .tolist()
    )
    raise ExtractError(
        f"{src.label}: {quality['quarantined']:,} of {quality['read']:,} {name} rows "
        f"({fraction:.0%}) would be quarantined, more than max_quarantined_share "
        f"{cfg.max_quarantined_share:.0%}, so the extract is not what the config expects "
        f"(top reasons: {reasons}); {_likely_fix(name, src, reason, column, examples)}"
    )


def _likely_fix(name: str, src, reason: str, column: str | None, examples: list[str]) -> str:
    first = ", ".join(repr(e) for e in examples) if examples else "none"
    where = f"extracts.{name}"
    if reason == "bad_date" and src.date_format:
        return (
            f"the date_format {src.date_format!r} matched none of {column}'s values; first values: "
            f"{first}; set {where}.date_format to the format of these values"
        )
    if reason in ("bad_date", "two_digit_year"):
        return (
            f"{column}'s values are not ISO dates; first values: {first}; set "
            f"{where}.date_format (e.g. '%m/%d/%Y')"
            + (" and two_digit_year_pivot" if reason == "two_digit_year" else "")
        )
    if reason == "bad_code":
        return f"{column} codes are not mapped; first values: {first}; map them under {where}.codes.{column}"
    if reason == "unknown_person":
        return (
            f"its person_ids do not match the roster's; first values: {first}; check "
            f"{where}.columns.person_id and that both extracts use the same ids"
        )
    if reason == "missing_required":
        return f"{column} is empty in most rows; check {where}.columns.{column}"
    if reason == "malformed_line":
        return (
            f"most lines do not split into the header's fields; check {where}.delimiter and quote"
        )
    return (
        f"first values: {first}; fix the extract or the mapping, or raise max_quarantined_share "
        "if this many bad rows is expected"
    )


def load_extracts(
    config: SiteConfig | str | os.PathLike[str],
    backend: ibis.BaseBackend | None = None,
    on_extract: Callable[[str, dict], None] | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> Extracts:
    """Read, map, parse and validate every configured extract.

    Parameters
    ----------
    config : SiteConfig or path
        A site config, or the path of its YAML file (read with :func:`leadeval.load_config`).
    backend : ibis DuckDB or PySpark backend, optional
        Where the loaded tables live (``extract_<name>``); by default the config's ``engine``
        (:func:`leadeval.engine.connect`: DuckDB with its ``memory_limit``, spilling beyond it;
        on disk under ``work_dir``). Loading again into the same backend replaces its tables.
        On Spark, CSV, Parquet and Spark-catalog sources are read and validated in Spark
        (:mod:`leadeval.extracts.spark_loading`); the others, or all with ``engine.staged``,
        are validated in DuckDB and handed over as Parquet.
    work_dir : path, optional
        Private folder (mode 0700) for the engine's files: the on-disk DuckDB database
        ``extracts.duckdb``, its spill files, the Parquet handed to Spark. Without it (and
        without ``engine.database``) the extracts are held in memory, spilling beyond
        ``engine.memory_limit`` to a temporary folder removed at exit.
    on_extract : callable, optional
        Called as ``on_extract(name, row)`` after each extract is loaded, with its data-quality
        row (``read``, ``loaded``, ``quarantined``... counts): progress displays use it.

    Returns
    -------
    Extracts
        Canonical tables, with ``quality`` (``read == loaded + quarantined`` per extract),
        ``quarantine_reasons`` and the ``quarantined`` rows (``source_row``, ``reason``,
        ``column`` and the source columns). Reason codes and their precedence:
        :data:`leadeval.extracts.validation.REASONS` and docs/data_contract.md. A Parquet extract
        (other than the roster) stays a view over its file, without its quarantined rows (a
        small table of their row numbers): no copy; other sources, and the roster, which every
        other extract's checks join, are parsed once into a table (in a work folder's database,
        held in memory while they fit a quarter of ``memory_limit``: :class:`_Memory`). After
        the roster, Parquet and CSV extracts load two at a time. Neither has a row order:
        whatever reads them orders its own results (``Extracts.to_pandas`` sorts by key).

    Raises
    ------
    ExtractError
        A source is missing, unreadable, empty or lacks a required column; or, with
        ``strict: true`` in the config, any row was quarantined (the message lists, per extract and
        reason, how many rows and which).

    Examples
    --------
    >>> import leadeval as le
    >>> extracts = le.load_extracts("configs/seattle.yaml")   # doctest: +SKIP
    >>> extracts["arrests"].count().execute()                 # doctest: +SKIP
    """
    if not hasattr(config, "extracts"):
        from leadeval.config import load_config

        config = load_config(config)
    engine = config.engine
    backend = backend if backend is not None else connect(engine, work_dir)
    staging = backend if backend.name == "duckdb" else duckdb_backend(engine, work_dir)
    con = staging.con
    attachments = Attachments(con)
    order = ["roster"] + [n for n in SCHEMAS if n != "roster" and n in config.extracts]
    quality, quarantined = [], {}
    on_spark = backend is not staging and not engine.staged  # validate in Spark itself
    pooled = [] if on_spark else [n for n in order[1:] if _poolable(config.extracts[n])]
    memory = _memory(con, config)
    pool = ThreadPoolExecutor(max_workers=_POOL, thread_name_prefix="leadeval-load")
    futures: dict[str, Future] = {}
    try:
        for name in order:
            if name in futures:
                row, rows = futures[name].result()
            elif on_spark and spark_loading.native(config.extracts[name]):
                row, rows = spark_loading.load_one(backend, name, config, attachments)
            else:
                row, rows = _load_one(con, name, config, attachments, memory)
                if on_spark:  # staged in DuckDB (Excel, databases): handed over at once
                    _hand_over(staging, backend, [name])
            _check_population(name, row, rows, config, share=not config.strict)
            if name == "roster":  # every other extract's checks join the loaded roster
                futures = _submit(pool, con, pooled, config, memory)
            quality.append(row)
            quarantined[name] = rows
            if on_extract is not None:
                on_extract(name, row)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        attachments.detach_all()
    reasons = [
        {"extract": name, "reason": reason, "rows": int(n)}
        for name, rows in quarantined.items()
        for reason, n in rows["reason"].value_counts().reindex(list(REASONS)).dropna().items()
    ]
    extracts = Extracts(
        site=config.site,
        data_end_date=config.data_end_date,
        backend=backend,
        tables=(
            {name: backend.table(table_name(name)) for name in order}
            if on_spark
            else _hand_over(staging, backend, order)
        ),
        quality=pd.DataFrame(quality, columns=QUALITY_COLUMNS),
        quarantine_reasons=pd.DataFrame(reasons, columns=REASON_COLUMNS),
        quarantined=quarantined,
    )
    if config.strict and not extracts.clean:
        lines = quarantine_messages(extracts, config)
        n = int(extracts.quality["quarantined"].sum())
        raise ExtractError(
            f"strict mode: {n} {'row has' if n == 1 else 'rows have'} problems "
            "(set strict: false to quarantine them instead):\n"
            + "\n".join(f"  - {m}" for m in lines)
        )
    return extracts


def _hand_over(
    staging: ibis.BaseBackend, backend: ibis.BaseBackend, names: list[str]
) -> dict[str, ibis.Table]:
    """The loaded tables on ``backend``: the staging tables themselves when it is the staging
    DuckDB, else each written as Parquet beside the staging database and read there (Spark)."""
    con = staging.con
    if backend is staging:
        return {
            name: backend.table(
                table_name(name), database=(MEMORY_CATALOG, "main") if _in_memory(con, name) else None
            )
            for name in names
        }
    database = database_file(con)
    spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    folder = Path(database).parent / "parquet" if database else Path(spill) / "parquet"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in names:
        path = folder / f"{name}.parquet"
        con.execute(f"COPY {loaded_ref(con, name)} TO {ql(str(path))} (FORMAT parquet)")
        drop_loaded(con, name)
        tables[name] = backend.read_parquet(str(path), table_name=table_name(name))
    return tables


def _phrase(
    name: str,
    reason: str,
    column: str,
    example: object,
    config: SiteConfig | None,
    data_end: object,
) -> tuple[str, str]:
    """(what the rows have, the fix) for one extract, reason and column."""
    src = config.extracts.get(name) if config is not None else None
    ex = f"e.g. {str(example)!r}; " if example is not None and not pd.isna(example) else ""
    schema = SCHEMAS[name]

    def a(word: str) -> str:
        return ("an " if word[:1] in "aeiou" else "a ") + word

    if reason == "missing_required":
        return f"no {column}", "fill in the values, drop the rows, or map the right column"
    if reason == "bad_date":
        fmt = src.date_format if src is not None and src.date_format else None
        expected = f"date_format {fmt!r} or ISO YYYY-MM-DD" if fmt else "ISO YYYY-MM-DD"
        if schema.column(column).type == "month":
            expected = "YYYY-MM or a full date"
        return (
            f"{a(column)} that is not a date ({ex}expected {expected})",
            f"set extracts.{name}.date_format to the extract's format, or fix the values",
        )
    if reason == "bad_number":
        return f"{a(column)} that is not a number ({ex.removesuffix('; ')})".replace(" ()", ""), (
            "fix the values: digits, an optional sign and decimal point, no currency signs"
        )
    if reason == "bad_bool":
        return f"{a(column)} that is not a yes/no value ({ex.removesuffix('; ')})".replace(
            " ()", ""
        ), f"add the agency's values to extracts.{name}.true_values or false_values"
    if reason == "bad_code":
        allowed = ", ".join(schema.column(column).codes or ())
        return (
            f"{a(column)} code that is not allowed ({ex}allowed: {allowed})",
            f"map the agency's codes under extracts.{name}.codes.{column}",
        )
    if reason == "duplicate_row":
        return "an exact copy of another row (one copy was kept)", "remove the duplicate rows"
    if reason == "duplicate_key":
        return (
            f"{a(column)} shared with a different row (all versions quarantined)",
            f"make {column} unique, or remove the wrong versions",
        )
    if reason == "unknown_person":
        return (
            f"a person_id that is not in the loaded roster ({ex.removesuffix('; ')})".replace(
                " ()", ""
            ),
            "add the people to the roster, or check the person_id mapping",
        )
    if reason == "end_before_start":
        start = next(s for s, e in schema.intervals if e == column)
        return f"{column} before {start}", "fix the dates or map the right column"
    if reason == "before_birth":
        return (
            f"{column} before birth_date (or birth_year) in the roster",
            "fix the dates or map the right column",
        )
    if reason == "after_data_end":
        return (
            f"{column} after the data end date {data_end}",
            "fix the dates, or check data_end_date in the config",
        )
    if reason == "after_death":
        return (
            f"{column} after the person's death_date in the roster",
            "fix the dates, or check the person_id links and the roster's death_date",
        )
    if reason == "implausible_age":
        return (
            "an age at the index date below 10 or above 110",
            "fix birth_date (a two-digit year?) or the index dates",
        )
    if reason == "two_digit_year":
        return (
            f"{a(column)} with a two-digit year ({ex}the century is unknown)",
            f"export four-digit years, or set extracts.{name}.two_digit_year_pivot "
            "(e.g. 30: 00-29 are 2000s, 30-99 are 1900s)",
        )
    if reason == "negative_amount":
        return (
            f"a negative {column} ({ex.removesuffix('; ')})".replace(" ()", ""),
            f"fix the amounts, or set extracts.{name}.allow_credits: true if credits are real",
        )
    if reason == "field_too_long":
        limit = src.max_field_length if src is not None else "max_field_length"
        return (
            f"{a(column)} longer than {limit} characters ({ex.removesuffix('; ')})".replace(
                " ()", ""
            ),
            f"check the delimiter and quotes, or raise extracts.{name}.max_field_length",
        )
    if reason == "malformed_line":
        return (
            "a line that does not split into the header's fields",
            "fix those lines (quote fields that contain the delimiter or quotes), or check "
            f"extracts.{name}.delimiter and quote",
        )
    return reason, "see docs/data_contract.md"


# reasons whose detail says more than the offending value: shown after the rows
_DETAILED = {
    "malformed_line", "duplicate_row", "duplicate_key", "unknown_person", "end_before_start", "before_birth",
    "implausible_age", "after_death", "after_data_end",
}  # fmt: skip


def _where(name: str, extracts: Extracts, config: SiteConfig | None) -> tuple[str, str]:
    """(singular, plural) of how a source's rows are cited: CSV lines (header = line 1), Excel
    sheet rows (header = row 1), else data rows (the header not counted)."""
    src = config.extracts.get(name) if config is not None else None
    if src is not None:
        fmt = src.resolved_format
    else:
        label = extracts.quality.set_index("extract")["source"].get(name, "")
        fmt = (
            "excel"
            if str(label).lower().split("[")[0].endswith((".xlsx", ".xls"))
            else ("csv" if str(label).lower().endswith((".csv", ".txt")) else "other")
        )
    if fmt == "csv":
        return "line", "lines"
    if fmt == "excel":
        return "sheet row", "sheet rows"
    return "data row", "data rows"


def quarantine_messages(extracts: Extracts, config: SiteConfig | None = None) -> list[str]:
    """One line per extract, reason and column: how many rows, where (CSV lines with the header
    as line 1, Excel sheet rows, or data rows), examples of the values, and the fix.

    >>> quarantine_messages(extracts)   # doctest: +SKIP
    ['arrests.csv: 3 rows have arrest_date before birth_date (or birth_year) in the roster
    (lines 18, 205, 982; e.g. arrest_date 1901-01-01 before birth 1980-02-01); fix the dates or
    map the right column']
    """
    labels = dict(zip(extracts.quality["extract"], extracts.quality["source"], strict=True))
    precedence = {r: i for i, r in enumerate(REASONS)}
    lines = []
    for name, rows in extracts.quarantined.items():
        if rows.empty:
            continue
        one, many = _where(name, extracts, config)
        position = rows["line"] if rows["line"].notna().all() else rows["source_row"]
        rows = rows.assign(_p=rows["reason"].map(precedence), _at=position)
        groups = rows.groupby(["_p", "reason", "column"], dropna=False, sort=True)
        for (_, reason, column), g in groups:
            column = None if pd.isna(column) else column
            example = g["detail"].iloc[0] if reason not in _DETAILED else None
            what, fix = _phrase(name, reason, column or "", example, config, extracts.data_end_date)
            n = len(g)
            shown = ", ".join(str(r) for r in g["_at"].head(_MAX_ROWS_SHOWN))
            more = ", ..." if n > _MAX_ROWS_SHOWN else ""
            details = ""
            if reason in _DETAILED:
                seen = g["detail"].dropna().astype(str).drop_duplicates().head(3).tolist()
                details = "; e.g. " + ", ".join(seen) if seen else ""
            noun = "row" if n == 1 else "rows"
            lines.append(
                f"{labels.get(name, name)}: {n} {noun} {'has' if n == 1 else 'have'} {what} "
                f"({one if n == 1 else many} {shown}{more}{details}); {fix}"
            )
    return lines


def write_quarantine(extracts: Extracts, directory: str | os.PathLike[str]) -> list[Path]:
    """Write the quarantined rows to ``directory`` (created private to the user: mode 0700, files
    0600), one ``<extract>_quarantine.csv`` per extract with quarantined rows, plus
    ``quarantine_reasons.csv``. These rows are restricted data: never put them in a shared report.

    Returns the paths written.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    written = []
    frames: Mapping[str, pd.DataFrame] = {
        f"{n}_quarantine.csv": f for n, f in extracts.quarantined.items() if not f.empty
    }
    frames = {**frames, "quarantine_reasons.csv": extracts.quarantine_reasons}
    for file, frame in frames.items():
        path = out / file
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="") as fh:
            to_csv(frame, fh, index=False)
        os.chmod(path, 0o600)
        written.append(path)
    return written
