"""Benchmark: leadeval load + cohort + panel against the raw DuckDB join-and-count, same files.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_pipeline.py                        # county: 2,000 + 200,000
    .venv/bin/python benchmarks/bench_pipeline.py --participants 10000 --pool 5000000 \\
        --dir /data/state --memory-limit 4GB                             # state size
    .venv/bin/python benchmarks/bench_pipeline.py --engine spark         # cohort on local Spark
    .venv/bin/python benchmarks/bench_pipeline.py --format csv --dir /tmp/county_csv   # CSV site

The site is a ``leadeval.synth`` Seattle-profile site written as Parquet (or ``--format csv``)
into ``--dir`` (kept and reused when its ``site.yaml`` is there), with the Seattle config's
design (pre windows 182 and 730 days, post 182 and 365); the reference counts the same windows.

Timed in one process, one after the other:

* leadeval: ``load_extracts`` (read, parse, validate, quarantine, reconcile, into the on-disk
  engine database) and ``build_cohort`` (persons with every window measure, the person-month
  panel, the flow), as pandas;
* the reference: one DuckDB query per event table, straight on the files (``read_parquet``, or
  ``read_csv`` with its type detection), joining it to the roster and counting each person's
  events in every pre and post window (what a hand-written analysis would do, without
  validation, exposure, intervals or the panel), fetched as pandas; each file is read once.

Prints both times, their ratio (target: within 4x) and the peak resident memory (RSS, sampled
every 20 ms) of each step.

Measured 2026-12-01 on the 2-core machine while it was quiet (load average about 1), county
site (10.5M extract rows, 10.3M events), extracts on disk, one run each:

=========================  =====================  =====================  ==========
step                       before (d5af49a)       now                    peak RSS now
=========================  =====================  =====================  ==========
load_extracts              13.6 s                 8.6 s                  0.52 GB
build_cohort               14.9 s (with panel)    8.1 s (no panel)       0.74 GB
panel_for(participants)    --                     2.9 s                  0.62 GB
reference join+count       2.0 s                  1.9 s                  0.52 GB
ratio                      14.3x                  10.1x                  (target 4x)
=========================  =====================  =====================  ==========

What changed: a Parquet extract stays a view over its file minus a small table of its
quarantined row numbers (no copy, no sort; the roster and non-Parquet sources are parsed once
into an unsorted table), with each row's parse problems computed once; the person-month panel
stays in the engine and is built only for the people asked for (``Cohort.panel_for``).
What is left: in the cohort, the person query (about half of it the four gaps-and-islands
interval merges: jail, prison, jail + prison, unsheltered) and compiling it.

The load since (branch ``load``): the key-uniqueness aggregate became a numpy sort of 64-bit key
hashes (the exact check only on rows whose hash repeats), the parse-problem table and the
separate classification passes became one checking pass that keeps only the flagged rows and
counts the rest, and trim() runs only on strings that can change. Measured 2026-12-01 on the
shared machine (load average in the table: compare the ratios, not the seconds), main's code
and this branch one right after the other, ``load_extracts`` only; the quarantine, counts and
reports are byte-identical:

========  ====  ===================================  ===================================
site      load  main (e294952)                       branch ``load``
========  ====  ===================================  ===================================
county    12    54.8 s wall, 16.2 CPU s, 0.52 GB     20.8 s wall, 6.9 CPU s, 0.32 GB
state/5   19    808 s wall, 103 CPU s, 1.49 GB       341 s wall, 45 CPU s, 0.42 GB
========  ====  ===================================  ===================================

The merged code (load, cohort and matching branches together), 2026-12-01, quiet machine (load
average 0.5-2), one run each:

=========================  =====================  ==========
step                       county                 peak RSS
=========================  =====================  ==========
load_extracts              4.9 s                  0.28 GB
build_cohort               5.5 s                  0.68 GB
panel_for(participants)    1.9 s                  0.60 GB
reference join+count       1.7 s                  0.39 GB
ratio                      7.1x                   (target 4x: not met)
=========================  =====================  ==========

The load since (branch ``load``, 2026-12-01 22:15 UTC, main 3d6283a alternated with it, 3 runs
each at load average 5.7-11): the key-hash scan folded into the one checking pass (streamed as
Arrow batches); CPU 8.75-9.24 s on main, 7.61-7.69 s on the branch (-15%), peak RSS 0.28 -> 0.30
GB; quality and quarantine byte-identical. Wall times at that load are noise (13.7-21.2 s both);
a quiet figure and the ratio are still to be measured (``benchmarks/bench_load.py`` has the runs).

State size (``benchmarks/make_state_site.py``: 10,000 + 5M, 259M extract rows), the same code,
``memory_limit: 4GB``, timed by ``leadeval report`` (manifest ``run.stages``) on a quiet machine:
load 98 s (1.0 GB peak) and cohort 171 s (5.0 GB peak): 4.5 minutes, within the target of 5
minutes and 6 GB. The whole report took 13.7 minutes (12.3 GB peak; a test run shared the
machine from its 9th minute): the 10-minute target is not met (docs/scale.md lists the stages).

Branch ``cohort2`` (2026-12-02 00:55-01:32 UTC, main 0f63e1c in the same process, alternating,
on a HEAVILY loaded machine, load average 10-22 on 2 cores: read the CPU seconds, the wall times
are noise): ``panel_for`` reads each extract once (contacts with its prior count, sheltered with
permanent housing, employed with legit income: 9 queries -> 6), and days incarcerated are jail +
prison days minus their overlaps (a join on the person) instead of a third window pass over jail
and prison together. Persons, flow and panels are bit-identical; reports byte-identical.

===========================  ==========================  ==========================
county, CPU s (best of 3-4)  main                        cohort2
===========================  ==========================  ==========================
build_cohort                 10.40 (10.40-11.07)         9.29 (9.29-11.29)
panel_for(participants)      3.03-3.05 (3.03-3.98)       2.41-2.73 (2.41-3.10)
===========================  ==========================  ==========================

State/5 (4,000 + 1M), build_cohort, one run each in separate processes (main then cohort2, load
15-18): main 54.1 CPU s (160 s wall), 2.04 GB process peak; cohort2 46.7 CPU s (135 s wall),
1.88 GB. Not measured: quiet wall times, the chain ratio, panel_for at state/5, full state (the
machine was never quiet).

Branch ``load3`` (2026-12-02, main 42471fd, load average 8-25 throughout): the load's checking
SQL only (a text month's shape as a GLOB, codes compared before ``lower()``); per extract its
checking query fell by up to a fifth to a third of its CPU (income, housing), within the noise
for arrests and charges (``benchmarks/bench_load.py`` has the profile and the table). The chain
and its ratio were not re-measured: at that load the whole load's CPU varied 4.9-6.6 s for
either code, more than the change. The load is still about 4 s of the chain quiet (target 2.5).

Branch ``cohort3`` (2026-12-02 03:52-03:57 UTC, main 42471fd and the branch in alternating
processes, two builds each, load average 8-15 on 2 cores: read the CPU seconds, the wall times
are noise): the jail stays and the housing episodes are clipped once into engine tables that the
person query and ``panel_for`` both read, instead of parsing the jail view twice in the person
query and both views again in every ``panel_for``. Persons, flow and panels bit-identical;
reports byte-identical (make_ref.sh + compare.py against merge21).

===========================  ==========================  ==========================
county, CPU s                main                        cohort3
===========================  ==========================  ==========================
build_cohort                 9.01, 9.53, 10.91, 10.46    10.59, 10.60, 11.53, 11.07
  of it the person query     7.5-8.5                     6.6-7.5
  of it the two stay tables  --                          about 1.6 (jail 0.3, housing 1.3)
panel_for(participants)      2.82, 2.84, 3.13, 2.98      1.64, 1.93, 1.73, 1.83
===========================  ==========================  ==========================

The same in ``bench_pipeline.py`` (04:38-04:40 UTC, the branch then main, one run each, load
7.3 then 4.8, noisy): build_cohort 18.3 s (branch) against 20.2 s (main), panel_for 2.8 against
5.7 s, chain ratio 6.0x against 7.2x; whole process 22.7 against 27.1 CPU s. Peak RSS 0.89
against 0.66 GB: the stay tables (int64) stay in the engine while the cohort lives. Not
measured: quiet figures, state/5 and the full state (memory there is the open question).

Profile of main's person query (DuckDB JSON profile, one thread): about a quarter is the jail
merge (the window ``max(e) OVER (PARTITION BY pk ORDER BY s, e ...)`` on 1.59M stays, 0.57 CPU s
alone at one thread, of which the sort is 0.19 s), a fifth the arrests and charges conditional
counts (15 and 25 ``COUNT FILTER``), a sixth the interval overlap sums, the rest the views'
parsing (about 1 CPU s: arrests 0.33, charges 0.28, housing 0.38 at one thread), joins and the
final projection. Counting each event once in its narrowest window and adding up the wider
windows (two aggregations) measured the same at one thread (0.55 against 0.54 CPU s for
arrests) and was not kept. Compiling the person query (Ibis + sqlglot) is 0.4-0.9 CPU s,
the Python outside the engine about 1 CPU s more.

Branch ``cohort4`` (2026-12-02 15:30-15:52 UTC, main 557e1ba, load average 7-15 on 2 cores
throughout: read the CPU seconds). In the person query, days incarcerated are jail days +
prison days - the days in both (window sums of the few overlap pieces) instead of a third
overlap-sum pass over the jail and prison pieces together, and the stays merged for the
window sums are only those reaching into the windows (:func:`leadeval.cohort.outcomes.reaching`:
at county 1.13M of the 1.59M jail stays go through the gaps-and-islands sort). Persons, flow
and the participants' panel identical (DuckDB ``EXCEPT ALL`` both ways on the person table;
pandas hashes); reports byte-identical on the four sites (make_ref.sh + compare.py).

==================================================  =====================  =====================
county, CPU s                                        main                   cohort4
==================================================  =====================  =====================
person query, same process alternating, 1 thread    10.09, 9.80, 10.31     8.68, 9.10, 8.37
person query, same process alternating, 2 threads   8.70, 9.86, 11.47      8.76, 10.48, 9.03
build_cohort (+ unit columns), own process each     14.97, 13.81, 15.13    11.39, 13.24, 14.03
panel_for(participants)                              1.94, 1.87, 1.96       1.30, 1.61, 1.91
==================================================  =====================  =====================

The build_cohort rows: the steps of this script (``load_extracts``, ``build_cohort`` with the
unit columns, ``panel_for``) in separate processes, main and the branch alternating; peak RSS
0.85-0.88 GB for either. At one thread the person query is 1.4 CPU s (14 %) cheaper; quiet wall
times, the chain ratio and the state sites were not measured (the machine was never quiet).

The merged code of 2026-12-02 (branches ``load4``, ``cohort4``, ``stats4``, ``tests4``) against
main 557e1ba on a quiet machine (load average 0.8-1.4), main and merged alternating, county:

=========================  =============================  =============================
step                       main (2 runs)                  merged (2 runs)
=========================  =============================  =============================
load_extracts              4.6, 3.9 s                     3.3, 3.3 s (0.42-0.43 GB)
build_cohort               8.1, 8.2 s                     7.0, 6.8 s
panel_for(participants)    1.0, 1.0 s                     1.1, 0.9 s
leadeval total             13.7, 13.1 s                   11.4, 11.0 s
reference join+count       2.1, 2.3 s                     2.2, 2.0 s
ratio                      6.4x, 5.6x                     5.2x, 5.5x (target 4x: not met)
=========================  =============================  =============================

State size (10,000 + 5M, 259M rows, ``--memory-limit 4GB``), one run each, merged then main,
no other job running: load_extracts 63.2 s (1.81 GB) against 66.9 s (1.12 GB), build_cohort
143.5 s against 198.4 s (peak 6.26 against 6.24 GB), panel_for 11.4 against 13.7 s, the
reference 57.8 against 61.6 s: ratio 3.8x against 4.5x. The peak (at the cohort, both codes)
is above the 6 GB target on this install (DuckDB 2.0.1); the same script read 5.37 GB on
2026-12-01's install.

2026-12-03, another (faster) 2-core machine, quiet (load average 0.1-1), main ace4cbc against
60ff976 (a Parquet view reads as they are the text columns that need no trim in its loaded rows:
no trim tests per read, and the person_id join of ``panel_for`` reaches the Parquet scan); the
four reports are byte-identical (31/25/11/31 files).

=========================  =============================  =============================
step                       ace4cbc                        60ff976
=========================  =============================  =============================
county, 3 runs alternating
load_extracts              1.5, 1.5, 1.5 s                1.6, 1.5, 1.5 s
build_cohort               3.0, 2.8, 2.7 s                2.7, 2.7, 2.7 s
panel_for(participants)    0.4 s                          0.4 s
reference join+count       0.8-0.9 s                      0.8-0.9 s
ratio                      6.1x, 5.4x, 5.3x               5.5x, 5.4x, 5.2x (target 4x: not met)
state, one run each        (memory_limit 4GB)
load_extracts              34.6 s (1.75 GB)               33.2 s (1.67 GB)
build_cohort               91.1 s (4.48 GB)               76.0 s (4.46 GB)
panel_for(participants)    6.3 s                          2.0 s
reference join+count       29.4 s                         28.2 s
ratio                      4.5x                           3.9x
=========================  =============================  =============================

Whole state report on 60ff976: 189 s wall, 5.13 GB peak (``/usr/bin/time``). The county chain
is engine-bound: its 7.2 CPU s run at 1.6 of the 2 cores; the person query alone is 2.5 CPU s
(charges' and arrests' conditional counts 1.0 of it, the jail merge 0.55) and the load's checks
2.5 CPU s. Running the stay tables on a second thread while Python compiles the person query
saved 0.05 s (not kept); a view's CTEs inlined instead of materialised, and other forms of the
conditional counts (``count_if``, sums of casts, a two-stage bit-mask count), were no faster.

2026-12-03 afternoon, the same machine a little slower than in the morning (load average 0.5-2:
read the ratios), main 1310ec0 against 5d305f9 in alternating processes. The libraries are now
imported before the clock starts, as duckdb is for the reference: Ibis imports its DuckDB backend,
and with it every SQL compiler it has, on the first connect (0.2 s the load counted until now).
The parsed roster is held in an in-memory catalog instead of being compressed into the database
file (0.14 s before the pooled checks start, against 0.25 s):

=========================  =============================  =============================
county, 3 runs             1310ec0                        5d305f9
=========================  =============================  =============================
load_extracts              1.5-1.6 s                      1.4-1.5 s (0.40 GB)
build_cohort               2.9-3.0 s                      2.9-3.0 s (0.92 GB)
panel_for(participants)    0.4 s                          0.4 s
leadeval total             4.9, 5.1, 4.9 s                4.8, 4.7, 4.9 s
reference join+count       0.9-1.0 s                      0.9-1.0 s
ratio                      5.3x, 5.3x, 5.4x               5.1x, 4.9x, 4.9x (target 4x: not met)
=========================  =============================  =============================

The same county written as CSV (``leadeval synth --format csv``; load_extracts, build_cohort and
panel_for timed the same way, 2 runs each): load 7.3 s (11.6 CPU s) -> 4.4-4.7 s (8.4-8.8 CPU s),
load + cohort + panel 10.3 s -> 7.8-8.0 s; every parsed table now in memory, and the CSV extracts
load two at a time like Parquet. State (one run of 1310ec0 today): load 35.7 s (1.65 GB),
build_cohort 87.8 s (4.47 GB), panel_for 2.0 s, reference 31.5 s: 4.0x. The state's parsed
roster (5M rows) does not fit a quarter of its 4 GB and stays in the file: its path is unchanged.
Tried and not kept: each event's measure predicates as boolean columns evaluated once (20 % off
charges' conditional counts alone, within the noise of the whole person query: 1.47-1.63 against
1.56-1.63 s); the jail pieces for the jail-prison overlaps merged again for prisoners only, to
spare the materialised CTE (slower: 1.70-1.73 against 1.64-1.65 s); ``preserve_insertion_order =
false`` (no change).

2026-12-04, a quiet machine (load average 0.5-1), main 932c93a, two runs of each site in turn.
The reference no longer counts each file's rows in a second query: for Parquet that was a
metadata read, for CSV a second parse of the file. A CSV site is timed against DuckDB's own
CSV reader:

=========================  =============================  =============================
county, 2 runs             Parquet                        CSV
=========================  =============================  =============================
load_extracts              1.3, 1.4 s (0.46 GB)           3.9, 4.0 s (1.2-1.3 GB)
leadeval total             4.3, 4.3 s                     6.9, 7.0 s
reference join+count       0.8, 0.8 s                     1.7, 1.7 s
ratio                      5.1x, 5.2x (target 4x: not     4.1x, 4.1x
                           met)
=========================  =============================  =============================
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import duckdb
import ibis

from leadeval.cohort import build_cohort
from leadeval.cohort.persons import unit_columns
from leadeval.config import load_config
from leadeval.extracts import load_extracts
from leadeval.extracts.schemas import SCHEMAS


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Peak:
    """Peak RSS of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> Peak:
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            self._stop.wait(0.02)

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    def __str__(self) -> str:
        return f"{self.seconds:6.1f} s, peak RSS {self.peak / 2**30:.2f} GB"


def site(directory: Path, participants: int, pool: int, fmt: str) -> Path:
    path = directory / "site.yaml"
    if not path.exists():
        from leadeval.synth.writer import write_synthetic_site

        t0 = time.perf_counter()
        write_synthetic_site(
            "seattle", directory, n_participants=participants, n_pool=pool, formats=[fmt]
        )
        print(f"synthetic site written in {time.perf_counter() - t0:.0f} s")
    return path


def _read(path) -> str:
    """DuckDB's own reader of an extract file: Parquet, or CSV with its types detected."""
    return f"{'read_csv' if str(path).endswith('.csv') else 'read_parquet'}('{path}')"


def reference(cfg, threads: int | None) -> int:
    """Per event table: join to the roster, count each person's events in every window; the
    number of cells counted. Each file is read once (a second pass to count a CSV's rows would
    parse it again)."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    roster = _read(cfg.extracts["roster"].path)
    con.execute(f"CREATE TEMP TABLE r AS SELECT person_id, referral_date AS t0 FROM {roster}")
    cells = 0
    pre, post = cfg.design.pre_windows, cfg.design.post_windows
    for name, src in cfg.extracts.items():
        schema = SCHEMAS[name]
        if name == "roster" or not schema.person_level or not schema.event_dates:
            continue
        col = schema.column(schema.event_dates[0])
        d = f"CAST(e.{col.name} AS DATE)"
        if col.type == "month":  # 'YYYY-MM' text
            d = f"CAST(strptime(CAST(e.{col.name} AS VARCHAR)[:7], '%Y-%m') AS DATE)"
        counts = [f"count(*) FILTER ({d} BETWEEN r.t0 - {p} AND r.t0 - 1) AS pre_{p}" for p in pre]
        counts += [
            f"count(*) FILTER ({d} BETWEEN r.t0 + 1 AND r.t0 + {q}) AS post_{q}" for q in post
        ]
        df = con.execute(
            f"SELECT r.person_id, {', '.join(counts)} FROM {_read(src.path)} e "
            f"JOIN r USING (person_id) GROUP BY r.person_id ORDER BY r.person_id"
        ).df()
        cells += df.size
    con.close()
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/leadeval_bench_county"))
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument(
        "--format", default="parquet", choices=["parquet", "csv"], help="of a site written anew"
    )
    parser.add_argument("--memory-limit", default=None, help="engine.memory_limit, e.g. 4GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--load-only", action="store_true", help="load + cohort, no reference")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cfg = load_config(site(args.dir, args.participants, args.pool, args.format))
    engine = {"name": args.engine, "memory_limit": args.memory_limit, "threads": args.threads}
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_validate(engine)})
    # Libraries load before the clock starts, as duckdb does for the reference: Ibis imports its
    # DuckDB backend, and with it every SQL compiler it has, on the first connect (0.2 s).
    ibis.duckdb  # noqa: B018

    with Peak() as load:
        extracts = load_extracts(cfg, work_dir=args.dir / "work")
    with Peak() as cohort:  # and every person's columns for matching and equity
        result = build_cohort(extracts, cfg)
        units = result.select(unit_columns(cfg, result.columns))
    with Peak() as panel:  # what an evaluation asks for: the participants' person-months
        months = result.panel_for(result.participant_ids)
    rows = int(extracts.quality["read"].sum())
    print(f"{args.participants:,} participants + {args.pool:,} pool; {rows:,} extract rows read")
    print(
        f"persons ({len(units)}, {len(result.columns)}) in the engine, {units.shape[1]} columns "
        f"out for matching and equity; participants' panel {months.shape}"
    )
    print(f"leadeval load_extracts       {load}")
    print(f"leadeval build_cohort        {cohort}")
    print(f"leadeval panel_for(partic.)  {panel}")
    total = load.seconds + cohort.seconds + panel.seconds
    print(f"leadeval total               {total:6.1f} s")
    if args.load_only:
        return
    del result, extracts
    with Peak() as ref:
        cells = reference(cfg, args.threads)
    print(f"reference DuckDB join+count  {ref}  ({cells:,} cells)")
    print(f"ratio leadeval / reference   {total / ref.seconds:6.1f}x  (target <= 4x)")
    print(
        f"process peak (ru_maxrss)     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB"
    )


if __name__ == "__main__":
    main()
