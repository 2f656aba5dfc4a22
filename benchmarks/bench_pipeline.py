"""Benchmark: leadeval load + cohort + panel against the raw DuckDB join-and-count, same files.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_pipeline.py                        # county: 2,000 + 200,000
    .venv/bin/python benchmarks/bench_pipeline.py --participants 10000 --pool 5000000 \\
        --dir /data/state --memory-limit 4GB                             # state size
    .venv/bin/python benchmarks/bench_pipeline.py --engine spark         # cohort on local Spark

The site is a ``leadeval.synth`` Seattle-profile site written as Parquet into ``--dir`` (kept
and reused when its ``site.yaml`` is there), with the Seattle config's design (pre windows 182
and 730 days, post 182 and 365); the reference counts the same windows.

Timed in one process, one after the other:

* leadeval: ``load_extracts`` (read, parse, validate, quarantine, reconcile, into the on-disk
  engine database) and ``build_cohort`` (persons with every window measure, the person-month
  panel, the flow), as pandas;
* the reference: one DuckDB query per event table, straight on the Parquet files, joining it to
  the roster and counting each person's events in every pre and post window (what a hand-written
  analysis would do, without validation, exposure, intervals or the panel), fetched as pandas.

Prints both times, their ratio (target: within 4x) and the peak resident memory (RSS, sampled
every 20 ms) of each step.

Measured 2026-12-01 on the shared 2-core machine under heavy load (load average 13-15: read the
ratio, not the seconds), county site (10.5M extract rows, 10.3M events), extracts on disk:

=====================  =======  =========  =========  ==========
step                   run 1    run 2      run 3      peak RSS
=====================  =======  =========  =========  ==========
load_extracts          98.6 s   104.9 s    142.7 s    0.75 GB
build_cohort + panel   59.2 s   123.7 s    93.5 s     1.3 GB   (before the engine-side panel)
reference join+count   --       10.7 s     11.8 s     0.85 GB
ratio                  --       21.4x      20.0x      (target 4x)
=====================  =======  =========  =========  ==========

build_cohort, engine-side panel (2026-12-01, load average 13-24, same extracts database, run
against main back to back): 12.4 s CPU (75.8 s wall) and 0.88 GB peak RSS, against main's
24.6-27.6 s CPU (103-131 s wall) and 1.14-1.24 GB: about half. It no longer builds everyone's
person-months (7.4M rows: 12.5 s CPU when ``Cohort.panel`` is asked for); the evaluation's
``panel_for`` of the 2,000 participants and 2,000 pool members takes 1.7 s CPU. On a quiet
machine that scales to about 7 s for build_cohort (main: 14.9 s), short of the 4 s it needs. What is left is the
person query (8.8 s CPU, of which about half is the four gaps-and-islands interval merges --
jail, prison, jail+prison, unsheltered -- two window functions each, and 1.4 s compiling it).

Where the time went (pyinstrument, and per-statement timings): in the load, ~75% was the one
statement per extract that parsed the source into its sorted table (copying the Parquet into a
DuckDB table alone ~65% of it); in the cohort, the person query (~45%, of which ~1/3 is Ibis
and sqlglot compiling the wide query) and the panel's monthly aggregates (~40%).

Since then (branch ``load``) a Parquet extract stays a view over its file minus a small table of
its quarantined row numbers (no copy, no sort; the roster and non-Parquet sources are still
parsed once into an unsorted table). Same county site, the load alone, main and the branch one
after the other on the same machine (load average 11-12, so CPU seconds are the steadier figure):

=====================  ================  ================  ==========
load_extracts          wall              CPU (user+sys)    peak RSS
=====================  ================  ================  ==========
main (sorted copies)   94.1 s            20.4 s            0.69 GB
branch (views)         41.9 s            11.2 s            0.67 GB
=====================  ================  ================  ==========

build_cohort on the views: 24.3 s CPU against 24.6 s on main's tables (no cost to the cohort).

A whole run of this script on the branch, load average 21 (worse than the table above: the
seconds are inflated about 9x against the 2.0 s quiet-machine reference):

=====================  =======  ==========
step                   seconds  peak RSS
=====================  =======  ==========
load_extracts          184.2 s  0.62 GB
build_cohort + panel   286.1 s  1.16 GB
reference join+count   18.7 s   0.45 GB
ratio                  25.2x    (target 4x)
=====================  =======  ==========

The state-size site (10,000 + 5M, ~250M rows) has not been run with the views yet.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import duckdb

from leadeval.cohort import build_cohort
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


def site(directory: Path, participants: int, pool: int) -> Path:
    path = directory / "site.yaml"
    if not path.exists():
        from leadeval.synth.writer import write_synthetic_site

        t0 = time.perf_counter()
        write_synthetic_site(
            "seattle", directory, n_participants=participants, n_pool=pool, formats=["parquet"]
        )
        print(f"synthetic site written in {time.perf_counter() - t0:.0f} s")
    return path


def reference(cfg, threads: int | None) -> tuple[int, int]:
    """Per event table: join to the roster, count each person's events in every window."""
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    roster = cfg.extracts["roster"].path
    con.execute(
        f"CREATE TEMP TABLE r AS SELECT person_id, referral_date AS t0 FROM read_parquet('{roster}')"
    )
    events = cells = 0
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
            f"SELECT r.person_id, {', '.join(counts)} FROM read_parquet('{src.path}') e "
            f"JOIN r USING (person_id) GROUP BY r.person_id ORDER BY r.person_id"
        ).df()
        events += con.execute(f"SELECT count(*) FROM read_parquet('{src.path}')").fetchone()[0]
        cells += df.size
    con.close()
    return events, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/leadeval_bench_county"))
    parser.add_argument("--engine", default="duckdb", choices=["duckdb", "spark"])
    parser.add_argument("--memory-limit", default=None, help="engine.memory_limit, e.g. 4GB")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--load-only", action="store_true", help="load + cohort, no reference")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cfg = load_config(site(args.dir, args.participants, args.pool))
    engine = {"name": args.engine, "memory_limit": args.memory_limit, "threads": args.threads}
    cfg = cfg.model_copy(update={"engine": cfg.engine.model_validate(engine)})

    with Peak() as load:
        extracts = load_extracts(cfg, work_dir=args.dir / "work")
    with Peak() as cohort:
        result = build_cohort(extracts, cfg)
    with Peak() as panel:  # what an evaluation asks for: the participants' person-months
        months = result.panel_for(result.participant_ids)
    rows = int(extracts.quality["read"].sum())
    print(f"{args.participants:,} participants + {args.pool:,} pool; {rows:,} extract rows read")
    print(f"persons {result.persons.shape}, participants' panel {months.shape}")
    print(f"leadeval load_extracts       {load}")
    print(f"leadeval build_cohort        {cohort}")
    print(f"leadeval panel_for(partic.)  {panel}")
    total = load.seconds + cohort.seconds + panel.seconds
    print(f"leadeval total               {total:6.1f} s")
    if args.load_only:
        return
    del result, extracts
    with Peak() as ref:
        events, cells = reference(cfg, args.threads)
    print(f"reference DuckDB join+count  {ref}  ({events:,} events, {cells:,} cells)")
    print(f"ratio leadeval / reference   {total / ref.seconds:6.1f}x  (target <= 4x)")
    print(
        f"process peak (ru_maxrss)     {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB"
    )


if __name__ == "__main__":
    main()
