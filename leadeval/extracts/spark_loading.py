"""Load one extract natively on Spark: read, parse, validate, quarantine and reconcile it in the
Spark session (``engine: spark``), with the validation SQL of
:mod:`leadeval.extracts.validation`, written once for DuckDB and transpiled by sqlglot.

Only the quarantined rows, the quality counts and (later, from the cohort) the person and
person-month tables leave Spark; the loaded table stays there as a temporary view (over a local checkpoint)
``extract_<name>``, sorted by its key.

Sources read by Spark itself (:data:`NATIVE_FORMATS`):

* **Parquet** (a local or cluster path): the source row number is Spark's
  ``_metadata.row_index`` + 1 (the row's position in the file, as DuckDB's ``file_row_number``).
* **CSV** (UTF-8; other encodings are first transcoded to a UTF-8 copy as on DuckDB): Spark's CSV
  reader with every column as text, ``mode=PERMISSIVE`` and a ``columnNameOfCorruptRecord``
  column for lines that do not split into the header's fields, ``multiLine`` (quoted line
  breaks, as DuckDB) so the file is one ordered partition; the record number is the row number
  in that order, so source rows and lines are DuckDB's. Invalid UTF-8 (Spark decodes it as
  U+FFFD) fails the load naming the line, as on DuckDB.
* **A table of the Spark catalog** (``format: spark`` with ``table: db.arrests`` or ``query``):
  a table has no row order of its own, so its source rows are numbered in the order of the used
  columns (``row_number()`` over all of them): deterministic, and rows that tie are identical.

Excel sheets (small by construction) and DuckDB/SQL-database sources are still validated in the
DuckDB staging database and handed over as Parquet (:func:`leadeval.extracts.loading`).

Why a rewrite after sqlglot (:func:`spark_sql`): sqlglot 28 passes these DuckDB functions
through unchanged, and Spark has none of them or one with another meaning: ``isfinite`` (none),
``trunc(x)`` (Spark's truncates dates), ``regexp_full_match`` and ``GLOB`` (none: ``RLIKE``
anchored, :func:`glob_regex`), ``try_strptime`` (``try_to_timestamp`` with a Java pattern,
:func:`java_format`), ``to_years`` (``make_ym_interval``), ``strlen`` (``octet_length``). And ``TRY_CAST(text AS TIMESTAMP)``
accepts more on Spark ('2014', '2014-8', '2014-03' are dates there, not in DuckDB) and less
(a year of one to three digits, '70-10-03', that DuckDB reads as year 70, a two-digit year): it
is guarded by DuckDB's ISO shape and the year padded to four digits.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import sqlglot
from sqlglot import exp

from leadeval.errors import ExtractError
from leadeval.extracts.readers import (
    _REJECT_WORDS,
    ROW,
    Attachments,
    RawSource,
    _encoding_message,
    checked_columns,
    csv_dialect,
    qi,
)
from leadeval.extracts.schemas import SCHEMAS
from leadeval.extracts.validation import (
    classify_sql,
    order_by,
    reconcile,
    trimmable,
    typed_sql,
)

if TYPE_CHECKING:
    import ibis

    from leadeval.config import ExtractSource, SiteConfig

NATIVE_FORMATS = ("csv", "parquet", "spark")
_CORRUPT = "__le_corrupt"
_HELPERS = (ROW, "__le_r1", "__le_t")
# DuckDB strptime codes -> Java DateTimeFormatter letters (Spark's patterns). DuckDB's %m, %d,
# %H... accept one or two digits, as Java's single letters do; %Y any number of digits, as 'y'.
_JAVA = {
    "Y": "y", "y": "yy", "m": "M", "d": "d", "H": "H", "M": "m", "S": "s", "I": "h",
    "p": "a", "b": "MMM", "B": "MMMM", "f": "SSSSSS", "j": "D", "%": "%",
}  # fmt: skip
_ISO = "^[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}([ T][0-9].*)?$"


def java_format(fmt: str) -> str | None:
    """The Spark (Java) datetime pattern of a DuckDB strptime format; None when it uses a code
    without an equivalent here (the extract is then validated in DuckDB).

    >>> java_format("%m/%d/%Y")
    'M/d/y'
    """
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            code = fmt[i + 1 : i + 2]
            if code not in _JAVA:
                return None
            out.append(_JAVA[code] if code != "%" else "'%'")
            i += 2
            continue
        out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
        i += 1
    return "".join(out)


def native(src: ExtractSource) -> bool:
    """Whether Spark reads and validates this source itself (else it is staged in DuckDB)."""
    fmt = src.resolved_format
    return fmt in NATIVE_FORMATS and (
        not src.date_format or java_format(src.date_format) is not None
    )


def glob_regex(pattern: str) -> str:
    """A GLOB pattern of classes (``[0-9]``, ``[!a-z]``) and literal characters as an anchored
    Java regex with no backslash or quote in it (a Spark string literal reads backslashes as
    escapes): a literal that is not a letter or digit is put in a class of its own.

    >>> glob_regex("[0-9][0-9]-[!x]")
    '^[0-9][0-9][-][^x]$'
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        end = pattern.find("]", i + 2) if c == "[" else -1
        if end > 0:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end + 1
            continue
        if c in "*?[]^\\'":
            raise ValueError(f"glob_regex: {c!r} in {pattern!r} is not supported")
        out.append(c if c.isalnum() else f"[{c}]")
        i += 1
    return "^" + "".join(out) + "$"


def _rewrite(node: exp.Expression) -> exp.Expression | None:
    """The Spark form of one DuckDB function node sqlglot leaves as is (see the module doc)."""
    spark = "spark"

    def arg(i: int) -> str:
        return node.expressions[i].sql(spark)

    if isinstance(node, exp.TryCast) and node.to.is_type("timestamp", "timestampntz"):
        v = node.this.sql(spark)
        padded = f"lpad({v}, length({v}) + 5 - instr({v}, '-'), '0')"
        new = f"CASE WHEN {v} RLIKE '{_ISO}' THEN TRY_CAST({padded} AS TIMESTAMP_NTZ) END"
    elif isinstance(node, exp.Glob):
        new = f"({node.this.sql(spark)} RLIKE '{glob_regex(node.expression.name)}')"
    elif isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        new = f"({node.this.sql(spark)} RLIKE '^(?:' || {pattern.sql(spark)} || ')$')"
    elif isinstance(node, exp.Anonymous):
        name = node.name.upper()
        if name == "ISFINITE":
            new = f"(NOT isnan({arg(0)}) AND abs({arg(0)}) <> double('inf'))"
        elif name == "TRUNC" and len(node.expressions) == 1:
            new = f"({arg(0)} - {arg(0)} % 1)"
        elif name == "TRY_STRPTIME":
            pattern = java_format(node.expressions[1].name)
            new = f"CAST(try_to_timestamp({arg(0)}, '{pattern}') AS TIMESTAMP_NTZ)"
        elif name == "TO_YEARS":
            new = f"make_ym_interval({arg(0)}, 0)"
        elif name == "STRLEN":
            new = f"octet_length({arg(0)})"
        else:
            return None
    else:
        return None
    return sqlglot.parse_one(new, read=spark)


def spark_sql(sql: str) -> str:
    """DuckDB SQL (as :mod:`leadeval.extracts.validation` writes it) as Spark SQL: sqlglot's
    transpilation, with the functions it leaves DuckDB-only rewritten (:func:`_rewrite`).

    >>> spark_sql("SELECT regexp_full_match(v, '[0-9]+') FROM t")
    "SELECT (v RLIKE '^(?:' || '[0-9]+' || ')$') FROM t"
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    kinds = (exp.Anonymous, exp.Glob, exp.RegexpFullMatch, exp.TryCast)
    for node in reversed(list(tree.find_all(kinds))):  # innermost first
        new = _rewrite(node)
        if new is not None:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree.sql(dialect="spark")


_DUCK_TYPES = {
    "string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
    "tinyint": "TINYINT", "double": "DOUBLE", "float": "FLOAT", "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP", "boolean": "BOOLEAN",
}  # fmt: skip


def _duck_type(spark_type) -> str:
    """The DuckDB type name of a Spark type (what :mod:`validation` dispatches on)."""
    name = spark_type.simpleString()
    return _DUCK_TYPES.get(name, name.upper())


def _fail(src: ExtractSource, name: str, fmt: str, err: Exception) -> ExtractError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ExtractError(
        f"{src.label}: cannot read the {name} extract as {fmt}: {first}; fix the file"
        + (", or set 'format'" if fmt != "csv" else "")
    )


def _register(session, name: str, src: ExtractSource, attachments: Attachments) -> RawSource:
    """Register extract ``name`` in Spark as the temporary view ``__le_src_<name>``: the used
    source columns and ``__le_row`` (the module doc says how rows are numbered); a CSV is read
    once, into a local checkpoint. Spark SQL text only (``selectExpr``, ``where``), no
    ``pyspark.sql.functions``: those build classic or Spark Connect columns by a process-wide
    mode, and the session may be either."""
    fmt = src.resolved_format
    header = None
    if fmt == "spark":
        try:
            table = session.sql(src.query) if src.query else session.table(src.table)
        except Exception as err:  # the user's table name or query
            raise _fail(src, name, fmt, err) from None
        header = {f.name: _duck_type(f.dataType) for f in table.schema.fields}
    columns, used = checked_columns(name, src, attachments.con, attachments, header=header)
    view = f"__le_src_{name}"
    malformed, notes, offset = None, (), None
    try:
        if fmt == "parquet":
            df = session.read.parquet(str(src.path)).selectExpr(
                f"_metadata.row_index + 1 AS {qi_spark(ROW)}", *[qi_spark(c) for c in used]
            )
        elif fmt == "spark":
            order = ", ".join(f"{qi_spark(c)} ASC NULLS FIRST" for c in used)
            df = table.selectExpr(
                f"CAST(row_number() OVER (ORDER BY {order}) AS BIGINT) AS {qi_spark(ROW)}",
                *[qi_spark(c) for c in used],
            )
        else:
            dialect = csv_dialect(src, name, attachments.scratch)
            notes, offset = dialect.notes, 1 if dialect.header else 0
            fields = [f"__le_c{i}" for i in range(len(dialect.names))]
            schema = ", ".join(f"{c} STRING" for c in (*fields, _CORRUPT))
            read = (
                session.read.schema(schema)
                .option("header", dialect.header)
                .option("sep", dialect.delimiter)
                .option("quote", dialect.quote)
                .option("escape", dialect.quote)
                .option("multiLine", True)
                .option("mode", "PERMISSIVE")
                .option("columnNameOfCorruptRecord", _CORRUPT)
                .option("nullValue", "")
                .option("encoding", "UTF-8")
                .csv(str(dialect.path))
            )
            position = {n: i for i, n in reversed(list(enumerate(dialect.names)))}
            # multiLine: the file is one partition, so monotonically_increasing_id is the
            # record's position (0, 1, 2...), malformed records included, as on DuckDB
            numbered = read.selectExpr(
                "*", f"CAST(monotonically_increasing_id() + 1 AS BIGINT) AS {ROW}"
            ).localCheckpoint()
            text = ", ".join(f"coalesce({c}, '')" for c in (*fields, _CORRUPT))
            invalid = f"instr(concat({text}), '\ufffd') > 0"
            n_bad, first_invalid = numbered.selectExpr(
                f"count({_CORRUPT})", f"min(CASE WHEN {invalid} THEN {ROW} END)"
            ).collect()[0]
            if first_invalid is not None:
                line = int(first_invalid) + offset
                raise ExtractError(_encoding_message(src.label, name, src.encoding, line))
            bad = numbered.where(f"{_CORRUPT} IS NOT NULL").select(ROW, _CORRUPT)
            malformed = _malformed(bad.toPandas() if n_bad else None, dialect, offset)
            df = numbered.where(f"{_CORRUPT} IS NULL").selectExpr(
                ROW, *[f"__le_c{position[c]} AS {qi_spark(c)}" for c in used]
            )
        df.createOrReplaceTempView(view)
        types = {f.name: _duck_type(f.dataType) for f in df.schema.fields if f.name != ROW}
    except ExtractError:
        raise
    except Exception as err:  # Spark's reader failing on the user's file
        raise _fail(src, name, fmt, err) from None
    return RawSource(qi(view), columns, types, offset, malformed, notes)


def qi_spark(name: str) -> str:
    """A column name for Spark SQL (backquoted: names may hold dots or spaces)."""
    return "`" + name.replace("`", "``") + "`"


_FIELD_WORDS = {  # the DuckDB path's words for field-count and quote problems
    1: _REJECT_WORDS["TOO MANY COLUMNS"],
    -1: _REJECT_WORDS["MISSING COLUMNS"],
    0: _REJECT_WORDS["UNQUOTED VALUE"],
}


def _malformed(bad: pd.DataFrame | None, dialect, offset: int) -> pd.DataFrame:
    """The malformed records (ROW, line, detail, text), in the words of the DuckDB path."""
    if bad is None:
        return pd.DataFrame()
    details = []
    for text in bad[_CORRUPT]:
        try:
            fields = next(
                csv.reader(
                    [text], delimiter=dialect.delimiter, quotechar=dialect.quote, strict=True
                ),
                [],
            )
            n = len(fields) - len(dialect.names)
            details.append(_FIELD_WORDS[(n > 0) - (n < 0)])
        except csv.Error:
            details.append(_FIELD_WORDS[0])
    rows = bad[ROW].to_numpy(dtype="int64")
    return pd.DataFrame(
        {ROW: rows, "line": rows + offset, "detail": details, "text": bad[_CORRUPT].to_numpy()}
    )


def load_one(
    backend: ibis.BaseBackend, name: str, cfg: SiteConfig, attachments: Attachments
) -> tuple[dict, pd.DataFrame]:
    """Load one extract on Spark into the temporary view ``extract_<name>``; return its quality
    row and quarantined rows, exactly as :func:`leadeval.extracts.loading._load_one` does on
    DuckDB (the same SQL, the same steps)."""
    from leadeval.extracts.loading import _QUARANTINE_COLUMNS, table_name

    session = backend._session
    src = cfg.extracts[name]
    schema = SCHEMAS[name]
    raw = _register(session, name, src, attachments)

    def sql(text: str):
        return session.sql(spark_sql(text))

    def checkpoint(df, view: str):
        """Compute ``df`` once and cut its plan (later queries re-analyse only a scan of it)."""
        df = df.localCheckpoint()
        df.createOrReplaceTempView(view)
        return df

    quar, expl, why, typed, final = (f"__le_{h}_{name}" for h in ("q", "p", "w", "typed", "final"))
    malformed = raw.malformed if raw.malformed is not None else pd.DataFrame()
    try:
        n_read = session.table(f"__le_src_{name}").count() + len(malformed)
        if n_read == 0:
            raise ExtractError(
                f"{src.label}: the {name} extract has no data rows; export it again, or remove "
                f"extracts.{name} from the config if the site has no {name} records"
            )
        notes = list(raw.notes)
        canon = ", ".join(qi(c) for c in schema.names)
        # Unlike DuckDB, the parse problems' column and value are kept from the one typed pass:
        # a second pass over the flagged rows would cost Spark a second analysis of the SQL.
        helpers = ", ".join(qi(h) for h in (*_HELPERS, "__le_c1", "__le_d1"))
        checkpoint(sql(f"SELECT {helpers}, {canon} FROM ({typed_sql(name, raw, src)})"), typed)
        roster = qi(table_name("roster")) if name != "roster" else None
        rules = (name, qi(typed), cfg.data_end_date, roster, cfg.design.index_date)
        checkpoint(
            sql(f"SELECT * FROM ({classify_sql(*rules)}) WHERE reason IS NOT NULL OR censored"),
            quar,
        )
        flagged = f"(SELECT {qi(ROW)} FROM {qi(quar)} WHERE reason IS NOT NULL)"
        sql(
            f"SELECT q.{qi(ROW)}, q.reason, x.__le_c1, x.__le_d1 FROM {qi(quar)} q "
            f"JOIN {qi(typed)} x ON x.{qi(ROW)} = q.{qi(ROW)} WHERE q.reason IS NOT NULL"
        ).createOrReplaceTempView(expl)
        checkpoint(sql(classify_sql(*rules, explain=qi(expl))), why)
        loaded = checkpoint(
            sql(
                f"SELECT {canon}, __le_t FROM {qi(typed)} WHERE {qi(ROW)} NOT IN {flagged} "
                f"ORDER BY {order_by(schema)}, {qi(ROW)}"
            ),
            final,
        )
        n_loaded, n_trimmed, mask, n_censored = sql(
            "SELECT count(*), coalesce(sum(bit_count(__le_t)), 0), coalesce(bit_or(__le_t), 0), "
            f"(SELECT count(*) FROM {qi(quar)} WHERE reason IS NULL AND censored) "
            f"FROM {qi(final)}"
        ).collect()[0]
        loaded.drop("__le_t").createOrReplaceTempView(table_name(name))
        trimmed_cols = [c for i, c in enumerate(trimmable(name, raw)) if int(mask) >> i & 1]
        if trimmed_cols:
            notes.append(f"spaces trimmed around {', '.join(trimmed_cols)}")
        used = list(dict.fromkeys(raw.columns.values()))
        renamed = {c: f"{c} (source)" if c in _QUARANTINE_COLUMNS else c for c in used}
        source_cols = ", ".join(f"s.{qi(c)} AS {qi(renamed[c])}" for c in used)
        rows = sql(
            f"SELECT q.{qi(ROW)} AS source_row, q.reason, w.{qi('column')}, w.detail, "
            f"{source_cols} FROM {qi(quar)} q JOIN {qi(why)} w ON w.{qi(ROW)} = q.{qi(ROW)} "
            f"JOIN {raw.relation} s ON s.{qi(ROW)} = q.{qi(ROW)} "
            f"WHERE q.reason IS NOT NULL ORDER BY q.{qi(ROW)}"
        ).toArrow()
        # through DuckDB, so the pandas types are those of the DuckDB path
        quarantined = duckdb.from_arrow(rows).df()
    except ExtractError:
        raise
    except Exception as err:  # a Spark error while validating: the user's values or mapping
        if type(err).__module__.startswith(("py4j", "pyspark")):
            first = str(err).strip().splitlines()[0]
            raise ExtractError(
                f"{src.label}: the {name} extract could not be validated: {first}; check that "
                "the mapped columns hold what the data contract expects (docs/data_contract.md)"
            ) from None
        raise
    finally:
        for view in (quar, expl, why, typed, final, f"__le_src_{name}"):
            session.catalog.dropTempView(view)
    return reconcile(
        name, cfg, raw, malformed, quarantined, n_read, n_loaded, n_censored, int(n_trimmed), notes
    )
