"""Row validation of one extract as DuckDB SQL: parse, check, classify.

The SQL is generated from the schema (``SCHEMAS``) and the extract's config (column mapping, codes,
date format, yes/no values), so it runs inside DuckDB and scales out of core; nothing here touches
pandas. The layers:

1. ``norm``: every canonical column the source provides, normalised: text is trimmed with empty
   text as missing, agency codes are mapped, NaN is missing.
2. ``typed`` (:func:`typed_sql`): each column parsed to its canonical type (``TRY_`` casts: a bad
   value becomes NULL next to a non-NULL normalised value, never an error), plus the first parse
   problem of the row. The loader writes these rows once into the extract's table, or (Parquet)
   keeps them as a view over the file.
3. the classification (:func:`classify_sql`) over that table: duplicates, roster links, interval
   and date-range checks, and one primary reason per row by the precedence of :data:`REASONS`.
   The loader then deletes the quarantined rows from the table (or leaves them out of the view).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from leadeval.extracts.readers import ROW, RawSource, qi, ql
from leadeval.extracts.schemas import SCHEMAS, Column, Schema

if TYPE_CHECKING:
    from leadeval.config import ExtractSource, SiteConfig

#: Quarantine reason codes in precedence order: a row with several problems is quarantined under
#: the first that applies. Parse problems come first (the row cannot be read), then identity
#: (duplicates; checked only among rows that parse), then the link to the roster, then the dates.
REASONS: dict[str, str] = {
    "malformed_line": "a CSV line that cannot be split into the header's fields",
    "field_too_long": "a field longer than max_field_length characters",
    "missing_required": "a required value is empty",
    "two_digit_year": "a date with a two-digit year and no two_digit_year_pivot configured",
    "bad_date": "a date, date-time or month that cannot be parsed",
    "bad_number": "an integer or number that cannot be parsed (or is not finite)",
    "bad_bool": "a yes/no value that is in neither true_values nor false_values",
    "bad_code": "a coded value that is not an allowed canonical code after the codes mapping",
    "negative_amount": "a negative amount where credits are not allowed (allow_credits)",
    "duplicate_row": "an exact copy (on every canonical column) of another row; one copy is kept",
    "duplicate_key": "the row's key is shared with a different row; all versions are quarantined",
    "unknown_person": "the person_id is not in the loaded roster",
    "end_before_start": "an end date before its start date",
    "before_birth": "an event date before the person's birth",
    "implausible_age": "an age at the index date below 10 or above 110 years",
    "after_death": "an arrest, booking, charge filing, EMS call or contact after the person's death",
    "after_data_end": "an event date after the site's data end date",
}
#: Age limits (years at the index date) of the implausible_age rule.
AGE_RANGE = (10, 110)

_SQL_TYPES = {
    "string": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "month": "DATE",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
}
_INT_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_BAD_REASON = {
    "date": "bad_date",
    "datetime": "bad_date",
    "month": "bad_date",
    "int": "bad_number",
    "float": "bad_number",
    "bool": "bad_bool",
    "string": "bad_code",
}


def sql_type(col: Column) -> str:
    """The DuckDB type of a canonical column in a loaded table."""
    return _SQL_TYPES[col.type]


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("VARCHAR") or t in ("TEXT", "STRING"):
        return "text"
    if t == "DATE":
        return "date"
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    if t in _INT_TYPES:
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "float"
    if t == "BOOLEAN":
        return "bool"
    return "other"


_NATIVE = {
    "date": {"date", "timestamp"},
    "datetime": {"date", "timestamp"},
    "month": {"date", "timestamp"},
    "int": {"int", "float"},
    "float": {"int", "float"},
    "bool": {"bool"},
    "string": set(),
}


def _in_list(values: list[str]) -> str:
    return "(" + ", ".join(ql(v) for v in values) + ")" if values else "(NULL)"


def trimmed(s: str) -> str:
    """``trim(s)`` (text ``s`` without the spaces around it), cheaper: DuckDB's trim copies every
    string, and only one that starts or ends with a space, or holds a non-ASCII character (the
    other Unicode spaces that trim removes), can change. The tests are ordered and chosen by
    cost (``unicode(s) = 32``, the first code point, is a cheaper ``starts_with(s, ' ')``)."""
    return (
        f"CASE WHEN strlen({s}) <> length({s}) OR unicode({s}) = 32 OR ends_with({s}, ' ') "
        f"THEN trim({s}) ELSE {s} END"
    )


def _norm_expr(
    col: Column, s: str, kind: str, src: ExtractSource, untrimmed: bool = False
) -> tuple[str, bool]:
    """(normalised value expression, is_text) for source column ``s`` (quoted) of DuckDB ``kind``;
    ``untrimmed``: see :func:`typed_sql`."""
    codes = src.codes.get(col.name)
    if not codes and kind in _NATIVE[col.type]:
        if kind == "float":  # NaN is a missing value, not a bad one
            return f"CASE WHEN isnan(CAST({s} AS DOUBLE)) THEN NULL ELSE {s} END", False
        return s, False
    if kind == "text" and untrimmed:
        text = s if col.required else f"NULLIF({s}, '')"
    elif kind == "text":
        text = f"NULLIF({trimmed(s)}, '')"
    elif kind == "float":  # an id stored as 123.0 means '123'
        d = f"CAST({s} AS DOUBLE)"
        text = (
            f"CASE WHEN isnan({d}) THEN NULL WHEN {d} = trunc({d}) "
            f"THEN CAST(TRY_CAST({d} AS BIGINT) AS VARCHAR) ELSE CAST({s} AS VARCHAR) END"
        )
    else:
        text = f"NULLIF(TRIM(CAST({s} AS VARCHAR)), '')"
    if codes:
        whens = " ".join(f"WHEN {ql(k)} THEN {ql(v)}" for k, v in codes.items())
        text = f"CASE {text} {whens} ELSE {text} END"
    return text, True


def _parse_expr(col: Column, v: str, is_text: bool, src: ExtractSource) -> str:
    """Expression parsing normalised value ``v`` (quoted column) to the canonical type."""
    if not is_text:
        if col.type == "date":
            return f"CAST({v} AS DATE)"
        if col.type == "datetime":
            return f"CAST({v} AS TIMESTAMP)"
        if col.type == "month":
            return f"CAST(date_trunc('month', {v}) AS DATE)"
        if col.type == "int":
            d = f"CAST({v} AS DOUBLE)"
            return f"CASE WHEN {d} = trunc({d}) THEN TRY_CAST({d} AS BIGINT) END"
        if col.type == "float":
            d = f"CAST({v} AS DOUBLE)"
            return f"CASE WHEN isfinite({d}) THEN {d} END"
        return v  # bool
    if col.type in ("date", "datetime", "month"):
        return _text_date(col, v, src, src.two_digit_year_pivot, guard=True)
    # DuckDB's casts round '1980.5' to 1981 and read '0x1F' and '1_000': accept plain decimal
    # notation only.
    number = f"regexp_full_match({v}, {ql(_NUMBER)})"
    if col.type == "int":
        d = f"TRY_CAST({v} AS DOUBLE)"
        return (
            f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN TRY_CAST({v} AS BIGINT) "
            f"WHEN {number} AND {d} = trunc({d}) THEN TRY_CAST({d} AS BIGINT) END"
        )
    if col.type == "float":
        d = f"TRY_CAST({v} AS DOUBLE)"
        return f"CASE WHEN {number} AND isfinite({d}) THEN {d} END"
    if col.type == "bool":
        trues = _in_list([t.lower() for t in src.true_values])
        falses = _in_list([f.lower() for f in src.false_values])
        return (
            f"CASE WHEN lower({v}) IN {trues} THEN true WHEN lower({v}) IN {falses} THEN false END"
        )
    if col.codes:  # canonical codes match case-insensitively and are stored lower-case
        # a value already canonical (nearly all) is itself lower-case: no lower() copy for it
        codes = _in_list(list(col.codes))
        return f"CASE WHEN {v} IN {codes} THEN {v} WHEN lower({v}) IN {codes} THEN lower({v}) END"
    return v


def _with_pivot(ts: str, pivot: int | None) -> str:
    """Timestamp ``ts`` with its year y replaced by the pivot's century for y mod 100."""
    yy = f"(year({ts}) % 100)"
    century = f"CASE WHEN {yy} < {int(pivot or 0)} THEN 2000 ELSE 1900 END"
    return f"({ts} + to_years(CAST({century} + {yy} - year({ts}) AS INTEGER)))"


def _two_digit(ts: str, pivot: int | None) -> str:
    """A parsed year below 100 was written with two digits: put it in the pivot's century, or
    make it NULL (quarantined as ``two_digit_year``) when no pivot is configured."""
    if pivot is None:
        return f"CASE WHEN year({ts}) >= 100 THEN {ts} END"
    return f"CASE WHEN year({ts}) >= 100 THEN {ts} ELSE {_with_pivot(ts, pivot)} END"


#: The 'YYYY-MM' shape of a month as text: a GLOB (regexp_full_match's '[0-9]{4}-[0-9]{2}', the
#: same strings, in a fifth of its time: the regex was most of a month column's parse).
MONTH_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]"


def _first_of(parts: list[str]) -> str:
    """``COALESCE(parts)`` as nested CASEs: DuckDB evaluates every argument of COALESCE on every
    row, a CASE only the branch a row takes, and a failing ``TRY_CAST`` to TIMESTAMP (the ISO
    fallback, on every 'YYYY-MM' month) costs several times the parse that succeeded."""
    out = parts[-1]
    for part in reversed(parts[:-1]):
        out = f"CASE WHEN ({part}) IS NOT NULL THEN {part} ELSE {out} END"
    return out


def _text_date(col: Column, v: str, src: ExtractSource, pivot: int | None, guard: bool) -> str:
    """Parse text ``v`` as the date, date-time or month of ``col``: ``date_format`` first, then
    ISO; a month is ``YYYY-MM`` or a full date. With ``guard``, a year below 100 (a two-digit year)
    goes to the pivot's century, or becomes NULL without a pivot."""
    fmt = src.date_format

    def two_digit(ts: str) -> str:
        return _two_digit(ts, pivot) if guard else ts

    ts = two_digit(f"TRY_CAST({v} AS TIMESTAMP)")
    fmt_ts = f"try_strptime({v}, {ql(fmt)})" if fmt else None
    if fmt_ts and "%y" in fmt and pivot is not None:  # strptime's century -> the pivot's
        fmt_ts = _with_pivot(fmt_ts, pivot)
    fmt_ts = two_digit(fmt_ts) if fmt_ts else None
    if col.type == "date":
        iso = f"CAST({ts} AS DATE)"
        return _first_of([f"CAST({fmt_ts} AS DATE)", iso]) if fmt_ts else iso
    if col.type == "datetime":
        return f"CAST({_first_of([fmt_ts, ts])} AS TIMESTAMP)" if fmt_ts else ts
    month = two_digit(f"CASE WHEN {v} GLOB {ql(MONTH_GLOB)} THEN try_strptime({v}, '%Y-%m') END")
    parts = [month] + ([fmt_ts] if fmt_ts else []) + [ts]
    return f"CAST(date_trunc('month', {_first_of(parts)}) AS DATE)"


def _first(checks: list[tuple[str, str, str, str]]) -> tuple[str, str, str]:
    """CASE expressions giving the reason, the column and the detail (the values that break the
    rule, as text) of the first check (cond, reason, column, detail) that holds."""
    if not checks:
        null = "CAST(NULL AS VARCHAR)"
        return null, null, null
    out = []
    for part in range(1, 4):
        whens = " ".join(f"WHEN {c[0]} THEN CAST({c[part]} AS VARCHAR)" for c in checks)
        out.append(f"CASE {whens} END")
    return out[0], out[1], out[2]


def _show(expr: str) -> str:
    """A value as text for a message (NULL as 'empty')."""
    return f"coalesce(CAST({expr} AS VARCHAR), 'empty')"


def trimmable(name: str, raw: RawSource) -> list[str]:
    """Canonical text columns read from text: their surrounding spaces are trimmed and counted."""
    return [
        c
        for c, source in raw.columns.items()
        if SCHEMAS[name].column(c).type == "string" and _kind(raw.types[source]) == "text"
    ]


def typed_sql(
    name: str, raw: RawSource, src: ExtractSource, untrimmed: frozenset[str] = frozenset()
) -> str:
    """SELECT of the ``typed`` layer: ``__le_row``, every canonical column (absent ones as typed
    NULLs), ``v__<col>`` normalised values, ``__le_r1``/``__le_c1``/``__le_d1``: the first parse
    problem of the row, its column and the offending value (select the last two only for the few
    rows with a problem: they cost a CASE each), and ``__le_t``, a bit mask of the
    :func:`trimmable` columns whose value had spaces around it.

    ``untrimmed``: text columns known to need no trim in the rows read (a loaded extract's view,
    with its quarantined rows left out): read as they are (a required one never empty there), so
    the engine can push filters on them into the source scan and skips the trim tests."""
    schema = SCHEMAS[name]
    norm, typed, text_cols = [qi(ROW)], [qi(ROW), "__le_t"], {}
    trim = [
        # trimming only removes characters: the value changed iff its byte length did
        f"CASE WHEN strlen({qi(raw.columns[c])}) <> strlen({trimmed(qi(raw.columns[c]))}) "
        f"THEN {1 << i} ELSE 0 END"
        for i, c in enumerate(trimmable(name, raw))
    ]
    norm.append(f"CAST({' + '.join(trim) if trim else '0'} AS BIGINT) AS __le_t")
    for col in schema.columns:
        if col.name not in raw.columns:
            continue
        source = raw.columns[col.name]
        kind = _kind(raw.types[source])
        expr, is_text = _norm_expr(col, qi(source), kind, src, col.name in untrimmed)
        text_cols[col.name] = is_text
        norm.append(f"{expr} AS {qi('v__' + col.name)}")
    for col in schema.columns:
        if col.name in text_cols:
            v = qi("v__" + col.name)
            typed.append(v)
            typed.append(f"{_parse_expr(col, v, text_cols[col.name], src)} AS {qi(col.name)}")
        else:
            typed.append(f"CAST(NULL AS {sql_type(col)}) AS {qi(col.name)}")
    checks = []
    for cname, is_text in text_cols.items():
        if is_text:
            v = qi("v__" + cname)
            limit = int(src.max_field_length)
            checks.append(
                (
                    f"(strlen({v}) > {limit} AND length({v}) > {limit})",
                    "'field_too_long'",
                    ql(cname),
                    f"'' || length({v}) || ' characters'",
                )
            )
    for cname in schema.required:
        if cname in text_cols:
            checks.append((f"{qi('v__' + cname)} IS NULL", "'missing_required'", ql(cname), "NULL"))
    for group in schema.one_of:
        present = [c for c in group if c in text_cols]
        if present:
            cond = " AND ".join(f"{qi('v__' + c)} IS NULL" for c in present)
            checks.append((f"({cond})", "'missing_required'", ql(" or ".join(group)), "NULL"))
    if src.two_digit_year_pivot is None:
        for col in schema.columns:
            if text_cols.get(col.name) and col.type in ("date", "datetime", "month"):
                v = qi("v__" + col.name)
                unguarded = _text_date(col, v, src, None, guard=False)
                # the unguarded parse runs only where the guarded one failed (AND short-circuits)
                cond = f"({qi(col.name)} IS NULL AND {v} IS NOT NULL AND year({unguarded}) < 100)"
                checks.append((cond, "'two_digit_year'", ql(col.name), v))
    for reason in ("bad_date", "bad_number", "bad_bool", "bad_code"):
        for col in schema.columns:
            if col.name not in text_cols or _BAD_REASON[col.type] != reason:
                continue
            if col.type == "string" and not col.codes:
                continue
            v, p = qi("v__" + col.name), qi(col.name)
            checks.append((f"({v} IS NOT NULL AND {p} IS NULL)", ql(reason), ql(col.name), v))
    if not src.allow_credits:
        for col in schema.columns:
            if col.nonnegative and col.name in text_cols:
                p = qi(col.name)
                checks.append((f"{p} < 0", "'negative_amount'", ql(col.name), _show(p)))
    r1, c1, d1 = _first(checks)
    return (
        f"WITH norm AS (SELECT {', '.join(norm)} FROM {raw.relation}), "
        f"typed AS (SELECT {', '.join(typed)} FROM norm) "
        f"SELECT *, {r1} AS __le_r1, {c1} AS __le_c1, {d1} AS __le_d1 FROM typed"
    )


def _event(col: Column, ref: str, for_birth: bool) -> str:
    if col.type == "datetime":
        return f"CAST({ref} AS DATE)"
    if col.type == "month" and for_birth:  # a month is before birth only if all of it is
        return f"last_day({ref})"
    return ref


def _birth(date_ref: str, year_ref: str) -> str:
    year = (
        f"CASE WHEN {year_ref} BETWEEN 1 AND 9999 "
        f"THEN make_date(CAST({year_ref} AS INTEGER), 1, 1) END"
    )
    return f"COALESCE({date_ref}, {year})"


def _age(t: str, index_col: str) -> str:
    """Completed years at the index date (the referral date when the index date is empty); with
    only a birth year, the difference of years (as the cohort computes it)."""
    idx = f"COALESCE({t}.{qi(index_col)}, {t}.referral_date)"
    exact = (
        f"(year({idx}) - year({t}.birth_date) - CASE WHEN month({idx}) * 100 + day({idx}) < "
        f"month({t}.birth_date) * 100 + day({t}.birth_date) THEN 1 ELSE 0 END)"
    )
    return (
        f"CASE WHEN {t}.birth_date IS NOT NULL THEN {exact} ELSE year({idx}) - {t}.birth_year END"
    )


def order_by(schema: Schema) -> str:
    """Sort order of a loaded table: its key, unique among the rows that load (rows sharing a key
    are quarantined, or identical copies of which one loads), else every column (ties are
    identical rows)."""
    cols = list(schema.key) if schema.key else list(schema.names)
    return ", ".join(f"{qi(c)} NULLS LAST" for c in cols)


def key_hash(name: str) -> str | None:
    """A 64-bit hash of the row's key (typed columns), or None for an extract without a key:
    rows whose hashes differ have different keys, so only the rows of repeated hashes (few, and
    found by sorting the hashes) need the exact duplicate check of :func:`duplicates_sql`."""
    key = SCHEMAS[name].key
    return f"hash({', '.join(qi(c) for c in key)})" if key else None


def duplicates_sql(name: str, rows: str) -> str:
    """SELECT ``__le_row, copy_no, n_versions`` of the rows of ``rows`` (a typed relation holding
    every row that shares its key with another, and possibly others) that parse: ``copy_no`` > 1
    for the later exact copies (on every canonical column) of a row, ``n_versions`` the number of
    different rows with the row's key."""
    schema = SCHEMAS[name]
    key = ", ".join(qi(c) for c in schema.key)
    return (
        f"WITH d AS (SELECT x.{qi(ROW)}, {', '.join('x.' + qi(c) for c in schema.key)}, "
        f"row_number() OVER (PARTITION BY {', '.join('x.' + qi(c) for c in schema.names)} "
        f"ORDER BY x.{qi(ROW)}) AS copy_no FROM {rows} x WHERE x.__le_r1 IS NULL) "
        f"SELECT {qi(ROW)}, copy_no, sum(CASE WHEN copy_no = 1 THEN 1 ELSE 0 END) "
        f"OVER (PARTITION BY {key}) AS n_versions FROM d"
    )


def classify_sql(
    name: str,
    typed_view: str,
    data_end_date: dt.date,
    roster_table: str | None,
    index_col: str = "referral_date",
    explain: str | None = None,
    dups: str | None = None,
    carry: tuple[str, ...] = (),
) -> str:
    """SELECT ``__le_row, reason, censored`` of every row of the typed relation ``typed_view``
    (reason NULL = the row loads; ``censored``: a date that may lie after the data end does, and
    the row is kept), and the ``carry`` columns of ``typed_view``. With ``explain``, a relation
    of the quarantined rows ``__le_row, reason, __le_c1, __le_d1`` (the parse problems' column
    and value), instead ``__le_row, column, detail`` of those rows: the checks of each row's own
    reason in the same order, so the column and detail belong to the reason; only the few rows
    quarantined are looked at.

    Duplicates: among rows that parse, exact copies on every canonical column keep one copy (the
    rest are ``duplicate_row``); rows that still share their key with a different row are all
    ``duplicate_key``, so the loaded table never depends on which copy came first. ``dups`` is
    :func:`duplicates_sql` of the rows that may share their key, computed beforehand (DuckDB);
    without it, the keys repeated among the rows that parse are found here, with an aggregate
    on the key columns (Spark).
    """
    schema = SCHEMAS[name]
    t = "t"
    ctes = []
    joins = []
    checks = [("t.__le_r1 IS NOT NULL", "t.__le_r1", "p.__le_c1", "p.__le_d1")]
    if explain:
        joins.append(f"JOIN {explain} p ON p.{qi(ROW)} = t.{qi(ROW)}")
    if schema.key and not explain and dups is not None:
        joins.append(f"LEFT JOIN {dups} d2 ON d2.{qi(ROW)} = t.{qi(ROW)}")
    elif schema.key and not explain:
        # Keys are counted with an aggregate on the key columns alone; only the rows of
        # repeated keys (few) go through the window functions.
        key = ", ".join(qi(c) for c in schema.key)
        on = " AND ".join(f"x.{qi(c)} = dk.{qi(c)}" for c in schema.key)
        ctes += [
            f"dk AS (SELECT {key} FROM {typed_view} WHERE __le_r1 IS NULL GROUP BY {key} "
            f"HAVING count(*) > 1)",
            f"d AS (SELECT x.{qi(ROW)}, {', '.join('x.' + qi(c) for c in schema.key)}, "
            f"row_number() OVER (PARTITION BY {', '.join('x.' + qi(c) for c in schema.names)} "
            f"ORDER BY x.{qi(ROW)}) AS copy_no FROM {typed_view} x SEMI JOIN dk ON {on} "
            f"WHERE x.__le_r1 IS NULL)",
            f"d2 AS (SELECT {qi(ROW)}, copy_no, sum(CASE WHEN copy_no = 1 THEN 1 ELSE 0 END) "
            f"OVER (PARTITION BY {key}) AS n_versions FROM d)",
        ]
        joins.append(f"LEFT JOIN d2 ON d2.{qi(ROW)} = t.{qi(ROW)}")
    if schema.key:
        key_text = " || ', ' || ".join(_show(f"t.{qi(c)}") for c in schema.key)
        checks += [
            ("d2.copy_no > 1", "'duplicate_row'", "NULL", key_text),
            ("d2.n_versions > 1", "'duplicate_key'", ql(", ".join(schema.key)), key_text),
        ]
    birth = death = None
    if name == "roster":
        birth = _birth(f"{t}.birth_date", f"{t}.birth_year")
    elif schema.person_level and roster_table is not None:
        joins.append(
            f"LEFT JOIN (SELECT person_id, true AS in_roster, {_birth('birth_date', 'birth_year')} "
            f"AS birth, death_date AS death FROM {roster_table}) r ON r.person_id = t.person_id"
        )
        checks.append(("r.in_roster IS NULL", "'unknown_person'", "'person_id'", "t.person_id"))
        birth, death = "r.birth", "r.death"
    for start, end in schema.intervals:
        checks.append(
            (
                f"t.{qi(end)} < t.{qi(start)}",
                "'end_before_start'",
                ql(end),
                f"'{end} ' || t.{qi(end)} || ' before {start} ' || t.{qi(start)}",
            )
        )
    events = [schema.column(c) for c in schema.event_dates]
    if birth is not None:
        for col in events:
            ref = _event(col, f"t.{qi(col.name)}", for_birth=True)
            checks.append(
                (
                    f"{ref} < {birth}",
                    "'before_birth'",
                    ql(col.name),
                    f"'{col.name} ' || t.{qi(col.name)} || ' before birth ' || {birth}",
                )
            )
    if name == "roster":
        age = _age(t, index_col)
        low, high = AGE_RANGE
        checks.append(
            (
                f"({age}) NOT BETWEEN {low} AND {high}",
                "'implausible_age'",
                "'birth_date'",
                f"'age ' || ({age}) || ' at the index date'",
            )
        )
    if death is not None:
        for cname in schema.while_alive:
            ref = _event(schema.column(cname), f"t.{qi(cname)}", for_birth=False)
            checks.append(
                (
                    f"{ref} > {death}",
                    "'after_death'",
                    ql(cname),
                    f"'{cname} ' || {ref} || ' after death_date ' || {death}",
                )
            )
    end = f"DATE {ql(data_end_date.isoformat())}"
    kept = []
    for col in events:
        ref = _event(col, f"t.{qi(col.name)}", for_birth=False)
        if col.name in schema.kept_after_end:
            kept.append(f"{ref} > {end}")
        else:
            checks.append(
                (
                    f"{ref} > {end}",
                    "'after_data_end'",
                    ql(col.name),
                    f"'{col.name} ' || {ref} || ' after the data end ' || {end}",
                )
            )
    if explain:  # each row's own reason is known: re-check only that reason's conditions
        checks = [checks[0]] + [
            (
                f"p.reason = {r}" if c.startswith("d2.") else f"(p.reason = {r} AND {c})",
                r,
                k,
                d,
            )
            for c, r, k, d in checks[1:]
        ]
    reason, column, detail = _first(checks)
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    if explain:
        return (
            f"{with_}SELECT t.{qi(ROW)} AS {qi(ROW)}, {column} AS {qi('column')}, "
            f"{detail} AS detail FROM {typed_view} t {' '.join(joins)}"
        )
    censored = " OR ".join(f"coalesce({k}, false)" for k in kept) if kept else "false"
    carried = "".join(f", t.{qi(c)}" for c in carry)
    return (
        f"{with_}SELECT t.{qi(ROW)} AS {qi(ROW)}, {reason} AS reason, "
        f"({censored}) AS censored{carried} FROM {typed_view} t {' '.join(joins)}"
    )


def reconcile(
    name: str,
    cfg: SiteConfig,
    raw: RawSource,
    malformed: pd.DataFrame,
    quarantined: pd.DataFrame,
    n_read: int,
    n_loaded: int,
    n_censored: int,
    n_trimmed: int,
    notes: list[str],
) -> tuple[dict, pd.DataFrame]:
    """The quality row and the quarantined rows (malformed lines merged in, ``line`` added) of
    one loaded extract, on any engine; read = loaded + quarantined is asserted (a bug if not)."""
    src = cfg.extracts[name]
    schema = SCHEMAS[name]
    if len(malformed):
        bad = pd.DataFrame(
            {
                "source_row": malformed[ROW].to_numpy(),
                "reason": "malformed_line",
                "column": None,
                "detail": malformed["detail"].to_numpy(),
                "text": malformed["text"].to_numpy(),
            }
        )
        quarantined = pd.concat([quarantined, bad], ignore_index=True)
        quarantined = quarantined.sort_values("source_row", kind="stable", ignore_index=True)
    quarantined.insert(
        1,
        "line",
        quarantined["source_row"] + raw.line_offset if raw.line_offset is not None else pd.NA,
    )
    if n_read != n_loaded + len(quarantined):  # a bug, never the user's data
        raise AssertionError(
            f"{name}: read {n_read} != loaded {n_loaded} + quarantined {len(quarantined)}"
        )
    if n_censored:
        cols = ", ".join(c for c in schema.kept_after_end if c in raw.columns)
        what = "no follow-up or " if name == "roster" else ""
        notes.append(f"{cols} after the data end: kept, {what}censored at the data end")
    quality = {
        "extract": name,
        "source": src.label,
        "read": int(n_read),
        "loaded": int(n_loaded),
        "quarantined": len(quarantined),
        "censored": int(n_censored),
        "trimmed": n_trimmed,
        "notes": "; ".join(notes),
    }
    return quality, quarantined
