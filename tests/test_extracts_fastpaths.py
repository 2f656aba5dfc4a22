"""The loader's cheaper SQL forms give the same values as the forms they replaced.

Reference: the replaced SQL itself (``regexp_full_match(v, '[0-9]{4}-[0-9]{2}')`` for a month's
shape; ``CASE WHEN lower(v) IN codes THEN lower(v) END`` for a code), run by DuckDB on the same
strings: seeded random strings over an alphabet of digits, separators, spaces, tabs, newlines,
non-ASCII digits, letters that change length or form when lower-cased, plus hand-picked edges.
"""

from __future__ import annotations

import random
import re

import duckdb
import pytest

from leadeval.config import ExtractSource
from leadeval.extracts.schemas import SCHEMAS
from leadeval.extracts.spark_loading import glob_regex
from leadeval.extracts.validation import MONTH_GLOB, _parse_expr

ALPHABET = list("0159-/ aAT:.") + ["\t", "\n", "é", "٣", "１", "\u00a0", "Ⅷ", "²", "İ", "ẞ"]


@pytest.fixture(scope="module")
def strings() -> duckdb.DuckDBPyConnection:
    rng = random.Random(15)
    values = {
        "".join(rng.choice(ALPHABET) for _ in range(n)) for n in range(10) for _ in range(3000)
    }
    values |= {
        f"{y}-{m}"
        for y in ("0000", "0099", "2015", "9999")
        for m in ("00", "01", "12", "13", "1", " 1")
    }
    values |= {
        "FELONY",
        "Felony",
        "felony",
        "feLONİ",
        "Misdemeanor",
        "gross_misdemeanor",
        "GROSS_MISDEMEANOR",
        "",
    }
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest(?) AS v UNION ALL SELECT NULL", [sorted(values)])
    return con


def test_month_glob_is_the_old_regex(strings):
    old = "regexp_full_match(v, '[0-9]{4}-[0-9]{2}')"
    new = f"v GLOB '{MONTH_GLOB}'"
    n, differ, shaped = strings.execute(
        f"SELECT count(*), count(*) FILTER ({old} IS DISTINCT FROM {new}), count(*) FILTER ({new}) FROM t"
    ).fetchone()
    assert differ == 0
    assert n > 20_000 and shaped >= 16  # the test sees both answers


def test_glob_regex_is_the_glob(strings):
    """Spark runs the GLOB as ``RLIKE glob_regex(...)``: the regex (here Python's ``re``, the same
    syntax for these classes) says yes to exactly the strings DuckDB's GLOB does."""
    pattern = re.compile(glob_regex(MONTH_GLOB))
    rows = strings.execute(f"SELECT v, v GLOB '{MONTH_GLOB}' FROM t WHERE v IS NOT NULL").fetchall()
    assert all(bool(pattern.search(v)) == bool(g) for v, g in rows)
    assert glob_regex("[!a-c]x-") == "^[^a-c]x[-]$"
    with pytest.raises(ValueError, match="not supported"):
        glob_regex("a*")


def test_codes_fast_path_is_lower(strings):
    col = SCHEMAS["arrests"].column("severity")
    codes = "(" + ", ".join(f"'{c}'" for c in col.codes) + ")"
    old = f"CASE WHEN lower(v) IN {codes} THEN lower(v) END"
    new = _parse_expr(col, "v", True, ExtractSource(path="arrests.csv"))
    assert "lower" in new and new != old
    differ, coded = strings.execute(
        f"SELECT count(*) FILTER (({old}) IS DISTINCT FROM ({new})), count({new}) FROM t"
    ).fetchone()
    assert differ == 0
    assert coded >= 5
