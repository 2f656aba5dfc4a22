"""Benchmark: load a large Parquet arrests extract through ``load_extracts``.

Writes a synthetic roster and an arrests extract of N rows with DuckDB (fast, out of core), in
the agency's own column names with typed Parquet columns and a few planted problems (duplicate
ids, unknown people, dates after the data end date), then loads them through the site config
machinery and reports wall time, rows per second and peak resident memory (``ru_maxrss``).

Run by hand, not in CI::

    .venv/bin/python benchmarks/bench_load.py                 # 50M arrest rows
    .venv/bin/python benchmarks/bench_load.py --rows 10000000 --dir /tmp/bench_load
    .venv/bin/python benchmarks/bench_load.py --backend-file /tmp/work.duckdb --memory-limit 4GB

The planted problems are checked against the quality table, so a fast but wrong load fails.

``load_extracts`` on the county site (``/tmp/county``: 10 extracts, 10.5M rows, Parquet),
2026-12-01 22:15 UTC, main (3d6283a) and branch ``load`` alternated in one session (A/B/A/B/A/B),
on the shared 2-core machine at load average 5.7-11 (wall times are noise at that load; read
the CPU seconds), byte-identical quality and quarantine tables:

============  ======================  ======================  ==========
code          wall (3 runs)           CPU s (3 runs)          peak RSS
============  ======================  ======================  ==========
main          13.7 / 20.2 / 21.1 s    8.75 / 8.92 / 9.24      0.28 GB
``load``      17.3 / 17.0 / 21.2 s    7.61 / 7.69 / 7.68      0.30-0.31 GB
============  ======================  ======================  ==========

What changed: the key-hash scan and the checking pass became one streamed pass (Arrow batches:
the key hashes into one preallocated array, the flagged rows and per-column trim counts kept);
only the rows whose hash repeats are then checked for duplicates. Not measured: a quiet wall
time, and the state/5 load peak.

Branch ``load2`` (2026-12-02 00:50-01:50 UTC, main 0f63e1c alternated with it, machine at load
average 9-24: read CPU seconds only, and even they are noisy). Two changes in the checking SQL,
both the same values by construction (checked: old and new SQL on 142,924 'YYYY-MM'-shaped and
other strings x 3 date types x 5 date formats x 2 pivots, and on 514 strings of spaces, tabs,
NBSP, ideographic and em spaces and accents: no difference; county quality, quarantine and loaded
tables identical):

* a text date's fallback parses (the ISO ``TRY_CAST`` after a 'YYYY-MM' or ``date_format``
  parse) ran on every row, because DuckDB evaluates every argument of COALESCE; now nested CASEs
  run them only where the first parse failed. A failing ``TRY_CAST(... AS TIMESTAMP)`` costs
  about 1.5 CPU s per 2.1M rows (income's months all took it);
* the trim test: ``unicode(s) = 32`` for ``starts_with(s, ' ')``, and the trim bits compare byte
  lengths, not strings.

=====================================  =========================  =========================
measured                               main                       ``load2``
=====================================  =========================  =========================
income checking query alone (4 runs)   1.27-1.34 CPU s            0.98-1.13 CPU s
county load, 3 A/B pairs (CPU s)       7.42 / 7.34 / 7.00         6.61 / 6.80 / 7.16
county load, same runs (wall, noise)   21.1 / 19.8 / 26.1 s       16.9 / 18.4 / 26.6 s
peak RSS                               0.31 GB                    0.31 GB
=====================================  =========================  =========================

The load's CPU is nearly all the checking passes (county, by statement: income 1.14, arrests
1.09, charges 0.99, housing 0.74, jail 0.74, ems 0.36 CPU s; the roster's CREATE TABLE 0.44):
per pass about a third reading the Parquet, a third the trim tests and typed projections, the
rest the roster join, the key hash and streaming to Python (about 15%). Not measured: a quiet
figure, state/5.

Branch ``load3`` (2026-12-02 03:37-04:40 UTC, main 42471fd; the machine at load average 8-25
throughout, so only CPU seconds, minimum of N alternating runs in one process, mean anything).
Profile of main's county load first (per statement, DuckDB JSON profiles, py-spy; load 8.7):

==================  =======  ============================================================
extract / step      CPU s    of which
==================  =======  ============================================================
roster              0.41     CREATE TABLE (persistent) 0.32; a TEMP table costs 0.12-0.13
arrests             0.77     checking pass 0.67
charges             0.78     checking pass 0.69
jail                0.49     checking pass 0.42
housing             0.73     checking pass 0.62
income              1.14     checking pass 1.01 (the month parse: a quarter of it)
ems, prison, other  0.62     checking passes 0.45
_hand_over          0.13     ibis ``backend.table`` per extract
Python between      ~0.65    counts, flags, reconcile; the hash sort 0.04 per 2.1M rows
total               5.24     (wall 13.5 s at load 8.7)
==================  =======  ============================================================

Inside a checking pass (arrests, operator times): Parquet read 30%, the trim tests 25%, the
typed projections 20%, the roster join 12%. Streaming the rows to Python against an in-engine
count of the same query: 0.86 against 0.80 CPU s (7%); DuckDB's ``GROUP BY hash HAVING
count(*) > 1`` instead of the numpy sort: 1.32 CPU s (worse). In income's month parse the
``regexp_full_match`` shape test was 0.19 of 0.29 CPU s.

Two changes, both the same values by construction and checked on 185,000 strings (seeded
random strings over digits, separators, spaces, tabs, newlines, non-ASCII digits and letters
whose lower case differs, plus edges: tests/test_extracts_fastpaths.py): a text month's
'YYYY-MM' shape is a GLOB (Spark: the same pattern as an anchored RLIKE), 0.04 against 0.20 CPU s
on income's 2.1M months; a coded value is compared as it is before ``lower()`` (a canonical
value needs no lower-case copy). Checking query alone, main's SQL against the branch's in one
process, alternating (CPU s, minimum / median of 5-7 runs, same result rows):

==========  =========================  =========================  ==========
extract     main                       ``load3``                  load avg
==========  =========================  =========================  ==========
income      0.73-0.82 / 0.93-1.13      0.58 / 0.62-0.90           21-24
housing     0.54-0.64 / 0.64-0.76      0.42-0.61 / 0.49-0.68      19-25
arrests     0.88-0.90 / 0.96-0.99      0.76-0.95 / 0.92-1.11      20-25
charges     0.67-0.81 / 0.74-0.92      0.65-0.75 / 0.75-0.99      19-22
==========  =========================  =========================  ==========

The whole load, A/B/A/B: at load 10-15, 4.9-6.6 CPU s for both (noise larger than the change);
at load 7 (04:42 UTC), main 7.20 / 8.36 CPU s (22.7 / 33.7 s wall), ``load3`` 6.25 / 7.75 CPU s
(21.1 / 25.4 s wall), quality and quarantine tables identical. Not reached: load <= 2.5 s. Not
measured: a quiet wall time, state/5.

Branch ``load4`` (2026-12-02 14:55-15:45 UTC, main 557e1ba; the machine was never quiet: load
average 8-15, so wall seconds are noise). The county Parquet extracts after the roster are
checked two at a time, each :func:`_load_one` on its own DuckDB cursor in a 2-thread pool
(``_submit``), the results (quality rows, quarantine, progress events, errors) taken in the
config's extract order, never in the order they finish. The roster (one row group: its parse is
single-threaded, 0.3-0.45 CPU s) still loads first and alone, since every other check joins it.
County ``load_extracts``, one process per run, main and branch alternated (A/B x 5 at load
8-10, then x 3 at load 11-12; the first two pairs without RSS), per-extract wall from
``on_extract``:

================  ==================================  =================================  ============
code              wall s                              CPU s (process)                    peak RSS
================  ==================================  =================================  ============
main, 8-10        30.0 / 26.9 / 24.6 / 14.8 / 9.3     7.29 / 6.97 / 7.34 / 6.90 / 6.10   0.36-0.40 GB
``load4``, 8-10   27.0 / 32.0 / 15.7 / 9.3 / 6.8      7.39 / 8.49 / 7.93 / 7.03 / 5.97   0.41-0.45 GB
main, 11-12       24.8 / 27.0 / 18.7                  6.42 / 7.17 / 5.77                 0.36 GB
``load4``, 11-12  26.6 / 23.1 / 16.9                  7.83 / 6.87 / 7.55                 0.41-0.43 GB
================  ==================================  =================================  ============

As the load average fell from 9.3 to 8.2, the branch's wall was 0.64-0.73 of main's in each pair
(15.7/24.6, 9.3/14.8, 6.8/9.3); at load 11-12, with every core busy with other work, it is
noise either way. CPU seconds: mean 7.38 against 6.75 (+9%, -2% to +31% by pair: two queries
at once contend for the caches and for the 2 cores with the other work), memory +50-70 MB (two checking passes' batches and key hashes at once: on the state
site the two largest extracts' hashes, 8 bytes a row, are held together). This script's site
(roster + arrests: one extract to pool) gains nothing by construction: 4M rows at load 12-15,
main 23.8 / 24.9 s, branch 21.6 / 16.0 s wall, 15.2-16.2 CPU s both, identical planted counts.
Quality, quarantine, loaded tables and report outputs byte-identical on the four sites
(``compare.py``).

Nearly quiet, 16:03-16:06 UTC (load average 1.4-1.9: other helpers' remnants and, in the first
set, this branch's own tests): with one cursor made per extract (9 cursor set-ups, 0.2-0.3 s
before the first pooled pass), main 3.75 / 4.01 / 3.43 s wall (5.64 / 5.96 / 5.13 CPU s),
branch 3.97 / 3.80 / 3.15 s (6.76 / 6.47 / 5.29): no gain. With one cursor per pool worker
(two, from a queue; commit 0466bc1), beside a ``make_ref`` run: main 5.89 / 4.85 s wall
(6.23 / 5.72 CPU s), branch 4.53 / 4.38 s (6.31 / 6.14), peak RSS 0.37 against 0.44-0.45 GB.
``bench_pipeline.py --dir /tmp/county`` (A/B/A/B, 15:56-16:03, load 5-7 falling): load_extracts
main 29.2 / 9.7 s, branch 24.5 / 6.0 s; whole run CPU 35.5 / 32.5 against 32.8 / 32.6 s.
Quiet at last, 16:07-16:08 UTC (load average 1.1-1.3, these runs alone), A/B/A/B: main 3.61 /
3.52 s wall (5.35 / 5.29 CPU s), branch 2.80 / 3.06 s (4.94 / 5.37 CPU s): 13-22% less wall,
the same CPU; peak RSS 0.36-0.37 against 0.45 GB (+80 MB).
Not reached or not measured: the <= 2 s quiet target (the roster, one Parquet row group, is
0.6 s alone before the pool starts; the rest is about 4.5-5 CPU s on 2 cores), state.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from leadeval.config import parse_config
from leadeval.extracts import load_extracts

DATA_END = "2016-06-30"


def write_extracts(directory: Path, rows: int, people: int) -> dict[str, int]:
    """Write roster.parquet and arrests.parquet; return the planted problem counts."""
    con = duckdb.connect()
    con.execute(
        f"""
        COPY (
            SELECT 'P' || i AS PersonID,
                   CASE WHEN i % 10 = 0 THEN 'L' ELSE 'P' END AS Grp,
                   DATE '2012-01-01' + CAST(i % 1500 AS INTEGER) AS ReferralDt,
                   1950 + CAST(i % 45 AS INTEGER) AS BirthYr
            FROM range({people}) t(i)
        ) TO '{directory / "roster.parquet"}' (FORMAT parquet)
        """
    )
    # Every 100,003rd row is an exact copy of its predecessor's id with another date (a key
    # conflict: both versions quarantined), every 99,991st names an unknown person, every
    # 99,989th falls after the data end date.
    con.execute(
        f"""
        COPY (
            SELECT CASE WHEN i % 100003 = 1 THEN 'A' || (i - 1) ELSE 'A' || i END AS ArrestNo,
                   CASE WHEN i % 99991 = 5 THEN 'X' || i
                        ELSE 'P' || CAST(hash(i) % {people} AS BIGINT) END AS PersonID,
                   CASE WHEN i % 99989 = 7 THEN DATE '2017-01-01'
                        ELSE DATE '2010-01-01' + CAST(hash(i + 1) % 2372 AS INTEGER) END
                       AS ArrestDt,
                   ['F', 'M', 'GM'][CAST(i % 3 AS INTEGER) + 1] AS Sev,
                   ['drug', 'property', 'person', 'other'][CAST(i % 4 AS INTEGER) + 1] AS Offense,
                   i % 7 = 0 AS Warrant
            FROM range({rows}) t(i)
        ) TO '{directory / "arrests.parquet"}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
        """
    )
    # Expected quarantine by reason precedence (duplicate_key before unknown_person before
    # after_data_end).
    dup = f"(i % 100003 = 1 OR (i % 100003 = 0 AND i + 1 < {rows}))"
    planted = con.execute(
        f"""
        SELECT count(*) FILTER ({dup}),
               count(*) FILTER (i % 99991 = 5 AND NOT {dup}),
               count(*) FILTER (i % 99989 = 7 AND i % 99991 <> 5 AND NOT {dup})
        FROM range({rows}) t(i)
        """
    ).fetchone()
    con.close()
    return {
        "duplicate_key": planted[0],
        "unknown_person": planted[1],
        "after_data_end": planted[2],
    }


def config(directory: Path):
    return parse_config(
        {
            "site": "bench",
            "data_end_date": DATA_END,
            "extracts": {
                "roster": {
                    "path": "roster.parquet",
                    "columns": {
                        "person_id": "PersonID",
                        "group": "Grp",
                        "referral_date": "ReferralDt",
                        "birth_year": "BirthYr",
                    },
                    "codes": {"group": {"L": "lead", "P": "pool"}},
                },
                "arrests": {
                    "path": "arrests.parquet",
                    "columns": {
                        "arrest_id": "ArrestNo",
                        "person_id": "PersonID",
                        "arrest_date": "ArrestDt",
                        "severity": "Sev",
                        "offense_category": "Offense",
                        "warrant": "Warrant",
                    },
                    "codes": {
                        "severity": {"F": "felony", "M": "misdemeanor", "GM": "gross_misdemeanor"}
                    },
                },
            },
        },
        base_dir=directory,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000, help="arrest rows (default 50M)")
    parser.add_argument("--people", type=int, default=None, help="roster size (default rows/50)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the written extracts")
    parser.add_argument(
        "--backend-file",
        type=Path,
        default=None,
        help="load into this DuckDB file instead of memory (lets DuckDB spill to disk)",
    )
    parser.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 4GB")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    people = args.people or max(1000, args.rows // 50)
    if args.write_only:
        print(json.dumps(write_extracts(args.dir, args.rows, people)))
        return
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench_load_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        # Write in a child process so that peak RSS below measures the load alone.
        t0 = time.perf_counter()
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--write-only",
                "--rows",
                str(args.rows),
                "--people",
                str(people),
                "--dir",
                str(directory),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        planted = json.loads(child.stdout)
        t_write = time.perf_counter() - t0
        size = (directory / "arrests.parquet").stat().st_size / 1e6
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        import ibis

        backend = ibis.duckdb.connect(str(args.backend_file) if args.backend_file else ":memory:")
        if args.memory_limit:
            backend.con.execute(f"SET memory_limit = '{args.memory_limit}'")
        t0 = time.perf_counter()
        extracts = load_extracts(config(directory), backend=backend)
        t_load = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"arrest rows {args.rows:,}, roster {people:,}; arrests.parquet {size:,.0f} MB")
        print(f"write (DuckDB, child process incl. start-up): {t_write:.1f} s")
        print(
            f"load_extracts: {t_load:.1f} s ({args.rows / t_load:,.0f} arrest rows/s); "
            f"peak RSS {peak:,.0f} MB (before load {rss_before:,.0f} MB)"
        )
        print(extracts.quality.to_string(index=False))
        print(extracts.quarantine_reasons.to_string(index=False))
        q = extracts.quality
        assert (q["read"] == q["loaded"] + q["quarantined"]).all()
        found = dict(
            zip(
                extracts.quarantine_reasons["reason"],
                extracts.quarantine_reasons["rows"],
                strict=True,
            )
        )
        found = {k: int(v) for k, v in found.items()}
        assert found == {k: v for k, v in planted.items() if v}, (found, planted)
        print("planted problems found exactly:", planted)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
