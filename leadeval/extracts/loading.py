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

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis
import pandas as pd

from leadeval.errors import ExtractError
from leadeval.extracts.core import Extracts
from leadeval.extracts.readers import ROW, Attachments, drop_raw, qi, register_raw
from leadeval.extracts.schemas import SCHEMAS
from leadeval.extracts.validation import REASONS, classify_sql, order_by, typed_sql

if TYPE_CHECKING:
    from leadeval.config import SiteConfig

QUALITY_COLUMNS = ["extract", "source", "read", "loaded", "quarantined"]
REASON_COLUMNS = ["extract", "reason", "rows"]
_MAX_ROWS_SHOWN = 5


def table_name(name: str) -> str:
    """Name of the loaded table of extract ``name`` in the Extracts' backend."""
    return f"extract_{name}"


def _load_one(
    con: duckdb.DuckDBPyConnection,
    name: str,
    cfg: SiteConfig,
    attachments: Attachments,
) -> tuple[dict, pd.DataFrame]:
    """Load one extract into table ``extract_<name>``; return its quality row and quarantined rows."""
    src = cfg.extracts[name]
    schema = SCHEMAS[name]
    raw = register_raw(con, name, src, attachments)
    quar = qi(f"__le_q_{name}")
    try:
        n_read = con.execute(f"SELECT count(*) FROM {raw.relation}").fetchone()[0]
        if n_read == 0:
            raise ExtractError(
                f"{src.label}: the {name} extract has no data rows; export it again, or remove "
                f"extracts.{name} from the config if the site has no {name} records"
            )
        # One pass over the source: parse into the final table, sorted by key so that nothing
        # depends on input row order; then classify from it, delete the quarantined rows and drop
        # the helper columns (a delete keeps the sorted order of the rows that remain).
        final = qi(table_name(name))
        canon = ", ".join(qi(c) for c in schema.names)
        con.execute(
            f"CREATE OR REPLACE TABLE {final} AS SELECT {qi(ROW)}, {canon}, __le_r1, __le_c1 "
            f"FROM ({typed_sql(name, raw, src)}) ORDER BY {order_by(schema)}, {qi(ROW)}"
        )
        roster = qi(table_name("roster")) if name != "roster" else None
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {quar} AS SELECT * FROM "
            f"({classify_sql(name, final, cfg.data_end_date, roster)}) WHERE reason IS NOT NULL"
        )
        con.execute(
            f"DELETE FROM {final} WHERE {qi(ROW)} IN (SELECT {qi(ROW)} FROM {quar})"
        )
        for helper in (ROW, "__le_r1", "__le_c1"):
            con.execute(f"ALTER TABLE {final} DROP COLUMN {qi(helper)}")
        n_loaded = con.execute(f"SELECT count(*) FROM {qi(table_name(name))}").fetchone()[0]
        used = list(dict.fromkeys(raw.columns.values()))
        renamed = {
            c: f"{c} (source)" if c in ("source_row", "reason", "column") else c for c in used
        }
        source_cols = ", ".join(f"s.{qi(c)} AS {qi(renamed[c])}" for c in used)
        quarantined = con.execute(
            f"SELECT q.{qi(ROW)} AS source_row, q.reason, q.{qi('column')}, {source_cols} "
            f"FROM {quar} q JOIN {raw.relation} s ON s.{qi(ROW)} = q.{qi(ROW)} "
            f"ORDER BY q.{qi(ROW)}"
        ).df()
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0]
        raise ExtractError(
            f"{src.label}: the {name} extract could not be validated: {first}; check that the "
            "mapped columns hold what the data contract expects (docs/data_contract.md)"
        ) from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {quar}")
        drop_raw(con, name)
    if n_read != n_loaded + len(quarantined):  # a bug, never the user's data
        raise AssertionError(
            f"{name}: read {n_read} != loaded {n_loaded} + quarantined {len(quarantined)}"
        )
    quality = {
        "extract": name,
        "source": src.label,
        "read": int(n_read),
        "loaded": int(n_loaded),
        "quarantined": len(quarantined),
    }
    return quality, quarantined


def load_extracts(
    config: SiteConfig | str | os.PathLike[str],
    backend: ibis.BaseBackend | None = None,
) -> Extracts:
    """Read, map, parse and validate every configured extract.

    Parameters
    ----------
    config : SiteConfig or path
        A site config, or the path of its YAML file (read with :func:`leadeval.load_config`).
    backend : ibis DuckDB backend, optional
        Where the loaded tables live (``extract_<name>``); a new in-memory DuckDB by default. Pass
        ``ibis.duckdb.connect("work.duckdb")`` for extracts larger than memory. Loading again
        into the same backend replaces its ``extract_<name>`` tables.

    Returns
    -------
    Extracts
        Canonical tables, ordered by their key columns so that no result depends on the order of
        the input rows, with ``quality`` (``read == loaded + quarantined`` per extract),
        ``quarantine_reasons`` and the ``quarantined`` rows (``source_row``, ``reason``,
        ``column`` and the source columns). Reason codes and their precedence:
        :data:`leadeval.extracts.validation.REASONS` and docs/data_contract.md.

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
    backend = backend if backend is not None else ibis.duckdb.connect()
    con = backend.con
    attachments = Attachments(con)
    order = ["roster"] + [n for n in SCHEMAS if n != "roster" and n in config.extracts]
    quality, quarantined = [], {}
    try:
        for name in order:
            row, rows = _load_one(con, name, config, attachments)
            quality.append(row)
            quarantined[name] = rows
    finally:
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
        tables={name: backend.table(table_name(name)) for name in order},
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
    return reason, "see docs/data_contract.md"


def quarantine_messages(extracts: Extracts, config: SiteConfig | None = None) -> list[str]:
    """One line per extract, reason and column: how many rows, the first row numbers, the fix.

    >>> quarantine_messages(extracts)   # doctest: +SKIP
    ['arrests.csv: 3 rows have arrest_date before birth_date (or birth_year) in the roster
    (rows 17, 204, 981); fix the dates or map the right column']
    """
    labels = dict(zip(extracts.quality["extract"], extracts.quality["source"], strict=True))
    lines = []
    for name, rows in extracts.quarantined.items():
        if rows.empty:
            continue
        src = config.extracts.get(name) if config is not None else None
        precedence = {r: i for i, r in enumerate(REASONS)}
        groups = rows.assign(_p=rows["reason"].map(precedence)).groupby(
            ["_p", "reason", "column"], dropna=False, sort=True
        )
        for (_, reason, column), g in groups:
            column = None if pd.isna(column) else column
            example = None
            if column is not None and column in SCHEMAS[name].names:
                source_col = src.columns.get(column, column) if src is not None else column
                source_col = source_col if source_col in g else f"{source_col} (source)"
                if source_col in g:
                    example = g[source_col].iloc[0]
            what, fix = _phrase(name, reason, column or "", example, config, extracts.data_end_date)
            n = len(g)
            shown = ", ".join(str(r) for r in g["source_row"].head(_MAX_ROWS_SHOWN))
            more = ", ..." if n > _MAX_ROWS_SHOWN else ""
            noun = "row" if n == 1 else "rows"
            lines.append(
                f"{labels.get(name, name)}: {n} {noun} {'has' if n == 1 else 'have'} {what} "
                f"({noun} {shown}{more}); {fix}"
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
            frame.to_csv(fh, index=False)
        os.chmod(path, 0o600)
        written.append(path)
    return written
