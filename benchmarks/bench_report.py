"""Benchmark: ``leadeval report`` on a county-size synthetic site, timed per stage.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_report.py                       # 2,000 + 200,000, B = 1,000
    .venv/bin/python benchmarks/bench_report.py --pool 50000 --bootstrap 200

The site is ``leadeval synth --profile seattle --participants 2000 --pool 200000 --format
parquet`` (about 10.5M event rows; cached under the system temp folder), with the Seattle
design and ``costs.bootstrap_replicates`` set to ``--bootstrap``. The report runs in a fresh
process through :func:`leadeval.write_report`; the stage timings are those its manifest records
(``run.stages``, see :mod:`leadeval.progress`), grouped into the report's stages, each with its
share of the run, plus the process's peak memory (ru_maxrss).

Measured 2026-12-01 on the shared 2-core machine under a load of ~15 (so read the shares, not the
seconds: match() ran 10x slower in wall time than its CPU time that hour): whole run 1,005 s,
peak 4.0 GB; extracts 9 %, cohort 19 %, matching (with the propensity fit) 5 %, models 16 %,
equity + heterogeneity 37 % (and the step where the peak goes from 2.2 to 4.0 GB), costs 3 %,
disclosure 0.9 %, writing the report 10 %.

Measured 2026-12-01 15:25-15:45 (branch ``report``), main and the branch side by side on the same
county files (``leadeval report county.yaml``, HTML only) under a load average of ~22 on the 2
cores (so the seconds are ~15x a quiet machine's; read the ratios): in-run 1,104 s -> 1,000 s, user
CPU 102 s -> 88 s, peak 2,071 MB -> 1,732 MB; per stage (main -> branch) cumulative_savings 49 s
-> 9 s (0.19x: the panel's millions of ids factorised, not turned into Python strings), writing
the report 180 s -> 125 s (0.70x: the identifier check no longer hashes the roster's 200,000 ids
again for each table), disclosure 0.85x, equity 0.92x; extracts, cohort, matching, heterogeneity
and the models unchanged (within the noise). Applied to the quiet-machine figures of main (report
13.8 s, cumulative_savings 3.6 s...) that is about 6 s less in-run, plus ~1 s less start-up
(statsmodels' sub-modules imported, not ``statsmodels.api``). Every output byte-identical.

Target (issue 15): the whole report in 30 s or less and 3 GB or less peak on 2 cores. There is no
outside reference for a whole report; the stage shares say where the time goes (load, cohort and
panel: ``benchmarks/bench_load.py`` and ``bench_cohort.py`` time those against raw DuckDB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

CHILD = r"""
import json, resource, sys, time
from leadeval import load_config
from leadeval.progress import StageClock
from leadeval.report.writer import write_report
cfg, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
paths = write_report(load_config(cfg), out=out)
wall = time.perf_counter() - t0
run = json.loads(paths.manifest.read_text())["run"]
clock = StageClock()
clock.stages = run["stages"]
print(json.dumps({"wall_s": round(wall, 2), "by_stage": clock.by_group(),
                  "stages": run["stages"], "rows_read": sum(e["read"] for e in run["extracts"].values()),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def site(folder: Path, participants: int, pool: int, bootstrap: int) -> Path:
    """The synthetic site (made once) and a config with the benchmark's bootstrap size."""
    data = folder / f"seattle_{participants}_{pool}"
    if not (data / "site.yaml").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "leadeval"), "synth", "--profile", "seattle",
             "--participants", str(participants), "--pool", str(pool), "--format", "parquet",
             "--out", str(data)],
            check=True,
        )  # fmt: skip
    cfg = yaml.safe_load((data / "site.yaml").read_text())
    cfg.setdefault("costs", {})["bootstrap_replicates"] = bootstrap
    cfg.setdefault("report", {})["formats"] = ["html"]
    path = data / f"bench_b{bootstrap}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--participants", type=int, default=2000)
    ap.add_argument("--pool", type=int, default=200_000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "leadeval_bench")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    cfg = site(args.cache, args.participants, args.pool, args.bootstrap)
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run(
            [sys.executable, "-c", CHILD, str(cfg), str(Path(tmp) / "report")],
            capture_output=True, text=True,
        )  # fmt: skip
    if r.returncode != 0:
        sys.exit(r.stderr)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    total = sum(res["by_stage"].values())
    print(f"site: seattle profile, {args.participants:,} + {args.pool:,}, "
          f"{res['rows_read']:,} rows read; bootstrap {args.bootstrap:,}")
    for stage, sec in res["by_stage"].items():
        print(f"  {stage:<11} {sec:7.2f} s  {100 * sec / total:5.1f} %")
    print(f"  {'whole run':<11} {res['wall_s']:7.2f} s  (target <= 30 s); "
          f"peak {res['peak_rss_mb']:,} MB (target <= 3,072 MB)")
    slow = sorted(res["stages"], key=lambda s: -s["seconds"])[:8]
    print("  slowest steps: " + ", ".join(f"{s['stage']} {s['seconds']:.1f} s" for s in slow))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
