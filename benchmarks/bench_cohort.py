"""Benchmark: build the cohort of a synthetic site with 1M pool members and ~30M events.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_cohort.py                      # 1M pool, ~30M events (SQL)
    .venv/bin/python benchmarks/bench_cohort.py --pool 100000
    .venv/bin/python benchmarks/bench_cohort.py --source synth --profile seattle

``--source sql`` (default) generates the event tables with DuckDB SQL into a database file
(cached under the system temp directory) in a separate process, so the timed process only opens
the file and builds the cohort: ~32.7M events for 1M pool members + 5,000 participants.
``--source synth`` writes a ``leadeval.synth`` site as Parquet (cached) and loads it with
``load_extracts`` (validated, held in an in-memory DuckDB) before the timer starts; the Seattle
profiles give 47-51M events for 1M pool members, more than the 30M target.

Reported: wall time of ``build_cohort`` and resident memory (RSS) sampled every 20 ms during
the build, plus the process peak (ru_maxrss). Target on the 2-core machine: under 60 s, 4 GB.

Measured 2026-11-23 on the shared 2-core, 23 GB machine (other jobs running, load ~2), DuckDB
threads=2:

======================  ==========  ==========================================
site (events)           build wall  peak RSS during build
======================  ==========  ==========================================
sql, 1M pool (32.7M)    20-26 s     3.5-3.9 GB (= process peak)
synth santa_fe (46.9M)  75 s        7.0 GB, of which 3.4 GB extracts in RAM
synth seattle (51.2M)   75 s        7.6 GB, of which 3.5 GB extracts in RAM
======================  ==========  ==========================================

Of the peak, the result tables themselves are ~2.4 GB (persons 0.56 GB, 995k x 120; panel
1.84 GB, 33.7M rows x 15), and DuckDB keeps ~0.8 GB of buffer memory after its queries (bounded
with ``SET memory_limit``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

DATA_END = dt.date(2020, 12, 31)

# Events per person (Poisson means) over 2010-2020; totals ~30M for 1M people.
GEN_SQL = """
CREATE OR REPLACE TABLE roster AS
SELECT
    printf('P%08d', i) AS person_id,
    CASE WHEN i < {lead} THEN 'lead' ELSE 'pool' END AS "group",
    DATE '2014-01-01' + CAST(floor(random() * 2500) AS INTEGER) AS referral_date,
    NULL::DATE AS enrollment_date,
    NULL::DATE AS first_contact_date,
    CASE WHEN i < {lead} THEN 'arrest_diversion' ELSE NULL END AS referral_type,
    DATE '1960-01-01' + CAST(floor(random() * 14000) AS INTEGER) AS birth_date,
    NULL::BIGINT AS birth_year,
    CASE WHEN random() < 0.7 THEN 'male' ELSE 'female' END AS sex,
    'unknown' AS race_ethnicity,
    'area' || CAST(floor(random() * 5) AS INTEGER) AS area,
    NULL::DATE AS exit_date,
    CASE WHEN random() < 0.02 THEN DATE '2014-01-01' + CAST(floor(random() * 2600) AS INTEGER)
         ELSE NULL END AS death_date
FROM range({n}) t(i);

CREATE OR REPLACE TABLE arrests AS
SELECT printf('A%09d', row_number() OVER ()) AS arrest_id, person_id,
       DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS arrest_date,
       CASE WHEN random() < 0.3 THEN 'felony' ELSE 'misdemeanor' END AS severity,
       NULL::VARCHAR AS offense_category, random() < 0.2 AS warrant
FROM roster, range(CAST(floor(random() * 13) AS INTEGER));

CREATE OR REPLACE TABLE charges AS
SELECT printf('C%09d', row_number() OVER ()) AS charge_id, person_id,
       DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS filing_date,
       ['municipal', 'district', 'superior'][1 + CAST(floor(random() * 3) AS INTEGER)] AS court,
       CASE WHEN random() < 0.3 THEN 'felony' ELSE 'misdemeanor' END AS severity,
       NULL::VARCHAR AS disposition, NULL::DATE AS disposition_date
FROM roster, range(CAST(floor(random() * 12) AS INTEGER));

CREATE OR REPLACE TABLE jail AS
SELECT printf('B%09d', row_number() OVER ()) AS booking_id, person_id, booking_date,
       CASE WHEN random() < 0.01 THEN NULL
            ELSE booking_date + CAST(floor(random() * 60) AS INTEGER) END AS release_date
FROM (SELECT person_id, DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS booking_date
      FROM roster, range(CAST(floor(random() * 7) AS INTEGER)));

CREATE OR REPLACE TABLE prison AS
SELECT person_id, admission_date, admission_date + CAST(floor(random() * 900) AS INTEGER) AS release_date
FROM (SELECT person_id, DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS admission_date
      FROM roster WHERE random() < 0.15);

CREATE OR REPLACE TABLE housing AS
SELECT person_id, start_date,
       CASE WHEN random() < 0.05 THEN NULL
            ELSE start_date + CAST(floor(random() * 200) AS INTEGER) END AS end_date,
       ['unsheltered', 'emergency_shelter', 'transitional', 'permanent', 'institutional']
           [1 + CAST(floor(random() * 5) AS INTEGER)] AS status
FROM (SELECT person_id, DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS start_date
      FROM roster, range(CAST(floor(random() * 5) AS INTEGER)));

CREATE OR REPLACE TABLE income AS
SELECT person_id,
       CAST(date_trunc('month', DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER)) AS DATE) AS month,
       ['employment', 'benefits', 'other_legitimate', 'none'][1 + CAST(floor(random() * 4) AS INTEGER)] AS source,
       random() * 1000 AS amount
FROM roster, range(CAST(floor(random() * 7) AS INTEGER));

CREATE OR REPLACE TABLE ems AS
SELECT printf('E%09d', row_number() OVER ()) AS call_id, person_id,
       CAST(DATE '2010-01-01' + CAST(floor(random() * 4017) AS INTEGER) AS TIMESTAMP)
           + to_seconds(CAST(floor(random() * 86400) AS BIGINT)) AS call_datetime,
       random() < 0.5 AS transported
FROM roster, range(CAST(floor(random() * 6) AS INTEGER));

CREATE OR REPLACE TABLE contacts AS
SELECT person_id, referral_date + CAST(floor(random() * 700) AS INTEGER) AS contact_date,
       'outreach' AS contact_type, true AS substantive
FROM roster, range(CASE WHEN "group" = 'lead' THEN 40 ELSE CAST(floor(random() * 1.2) AS INTEGER) END);
"""

TABLES = ("roster", "arrests", "charges", "jail", "prison", "housing", "income", "ems", "contacts")


def generate(path: Path, pool: int, lead: int) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    con.execute("SELECT setseed(0.42)")
    con.execute(GEN_SQL.format(n=pool + lead, lead=lead))
    con.close()


def _rss_gb() -> float:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return kb / 1024**2


def _open_sql(path: Path):
    import ibis

    from leadeval.extracts import Extracts

    con = ibis.duckdb.connect(str(path), read_only=True, threads=2)
    con.raw_sql("SET enable_progress_bar = false")
    tables = {name: con.table(name) for name in TABLES}
    return Extracts(site="bench", data_end_date=DATA_END, backend=con, tables=tables), None


def _open_synth(path: Path):
    import leadeval as le
    from leadeval.extracts import load_extracts

    cfg = le.load_config(path / "site.yaml")
    ex = load_extracts(cfg)
    ex.backend.raw_sql("SET enable_progress_bar = false")
    return ex, cfg


def run(path: Path, source: str) -> dict:
    from leadeval import build_cohort
    from leadeval.config import DesignConfig

    t = time.perf_counter()
    ex, cfg = _open_sql(path) if source == "sql" else _open_synth(path)
    open_s = time.perf_counter() - t
    events = sum(int(ex.tables[n].count().execute()) for n in TABLES if n != "roster")
    before = _rss_gb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_gb())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    cohort = build_cohort(ex, cfg if cfg is not None else DesignConfig())
    wall = time.perf_counter() - t
    done.set()
    sampler.join()
    return {
        "source": source,
        "load_s (untimed)": round(open_s, 1),
        "roster": int(ex.tables["roster"].count().execute()),
        "events": events,
        "persons": len(cohort.persons),
        "person_columns": cohort.persons.shape[1],
        "panel_rows": len(cohort.panel),
        "wall_s": round(wall, 1),
        "rss_before_gb": round(before, 2),
        "peak_rss_build_gb": round(peak[0], 2),
        "peak_rss_process_gb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        ),
        "persons_mb": round(cohort.persons.memory_usage(deep=True).sum() / 1024**2),
        "panel_mb": round(cohort.panel.memory_usage(deep=True).sum() / 1024**2),
    }


def generate_synth(path: Path, pool: int, lead: int, profile: str) -> None:
    from leadeval.synth.writer import write_synthetic_site

    write_synthetic_site(
        profile, path, n_participants=lead, n_pool=pool, seed=1, layout="canonical",
        formats=("parquet",),
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=1_000_000)
    ap.add_argument("--lead", type=int, default=5_000)
    ap.add_argument(
        "--source", choices=("sql", "synth"), default="sql",
        help="sql: event tables generated with DuckDB SQL (~30M events for 1M pool members); "
        "synth: a leadeval.synth site (Parquet, loaded with load_extracts before timing)",
    )  # fmt: skip
    ap.add_argument("--profile", default="santa_fe", help="synth profile")
    ap.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        for k, v in run(args.run, args.source).items():
            print(f"{k:>20}: {v:,}" if isinstance(v, int) else f"{k:>20}: {v}")
        return
    tmp = Path(tempfile.gettempdir())
    if args.source == "sql":
        path = tmp / f"leadeval_bench_cohort_{args.pool}_{args.lead}.duckdb"
        gen = f"generate(Path({str(path)!r}), {args.pool}, {args.lead})"
    else:
        path = tmp / f"leadeval_bench_cohort_{args.profile}_{args.pool}_{args.lead}"
        gen = f"generate_synth(Path({str(path)!r}), {args.pool}, {args.lead}, {args.profile!r})"
    if not path.exists():
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c",
             f"from benchmarks.bench_cohort import generate, generate_synth; "
             f"from pathlib import Path; {gen}"],
            check=True, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        print(f"generated {path} in {time.perf_counter() - t:.0f} s")
    subprocess.run(
        [sys.executable, __file__, "--run", str(path), "--source", args.source], check=True
    )


if __name__ == "__main__":
    main()
