"""Benchmark: 1:1 greedy nearest-neighbour matching with a caliper, without replacement,
leadeval and R's MatchIt side by side in the same run.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_matching.py                 # 10k x 100k, 10k x 1M, 50k x 5M
    .venv/bin/python benchmarks/bench_matching.py --sizes 10000:1000000 --repeat 5
    .venv/bin/python benchmarks/bench_matching.py --r-sizes none  # leadeval only
    .venv/bin/python benchmarks/bench_matching.py --psmpy /tmp/psmpy_venv/bin/python

Each size runs in a fresh process, which reports wall times (best of ``--repeat``), the CPU time
of the best run and its peak resident memory (ru_maxrss):

* ``given_s``: ``leadeval.matching.match()`` end to end with a given distance
  (``distance_column``, the issue-15 target: 10k x 1M <= 1 s, 50k x 5M <= 15 s): input checks,
  ordering by person_id, caliper matching, weights, subclass, the balance table (means, SMD,
  variance ratios, eCDF statistics before and after on 4 covariates and the distance) and the
  matched frame. Rows come in person_id order, as a Cohort's ``persons`` do;
* ``given_shuffled_s``: the same with the rows shuffled (the order is then restored by a sort and
  a take of every column, which costs about as much as the rest);
* ``core_s``: the matching alone (``match_nearest_arrays`` on arrays);
* ``fit_s``: ``match()`` with the propensity score fitted (statsmodels logistic, 4 covariates).

R (``--r-sizes``, by default 10k x 100k and 10k x 1M): the same rows are written to CSV and
``MatchIt::matchit(treated ~ <4 covariates>, distance = <the same score>, method = "nearest",
caliper = 0.2)`` is timed with ``system.time()`` (the CSV read is not timed; nor is
``summary()``, whose balance table leadeval's figure includes). The ratio printed is
MatchIt / leadeval ``given_s``. MatchIt is used for timing only: Debian's 4.5.1 ignores calipers
(see tests/reference/matching/make_reference.R), so its pairs are never a reference; it is run
once per size (about 2 minutes at 10k x 1M; 50k x 5M would take hours).

``--state`` (default 10k x 5M; 'none' skips it): the path ``evaluate()`` takes on a state's
persons: ``match()`` with the propensity fitted on every row (the configs' Seattle spec: 9
covariates, area and sex, caliper 0.2, 1:1), with its peak memory increment over the frame.
At full state size run it under ``flock /tmp/state-run.lock``.

Measured 2026-12-01 18:25-18:53 on the shared 2-core machine at load average 14-20 (so wall
times are 2-6x a quiet machine's; CPU seconds are the steadier figure), main (e294952) then
branch ``match``, back to back, best of 2:

==================  =============================  =============================
                    main                           match
==================  =============================  =============================
10k x 1M given      6.20 s wall, 0.67 s CPU        2.09 s wall, 0.86 s CPU
10k x 1M shuffled   14.95 s wall                   3.88 s wall, 1.52 s CPU
50k x 5M given      41.0 s wall, 5.42 s CPU        19.0 s wall, 4.15 s CPU
50k x 5M shuffled   59.0 s wall (9.50 s CPU [1])   23.6 s wall, 8.84 s CPU
50k x 5M fit        21.8 s wall                    17.4 s wall; peak RSS 2.78 GB
state path 4k x 1M  11.1 s wall, 4.21 s CPU        13.4 s wall, 4.49 s CPU; +0.23 GB
==================  =============================  =============================

[1] a separate back-to-back run of ``match()`` alone (main 9.50 s CPU, this branch 8.95 s
before the bincount change). MatchIt 4.5.1 in the same run: 10k x 100k 30.2 s vs leadeval
0.44 s (68x); 10k x 1M 699 s elapsed vs 2.09 s (335x wall; R got ~15 % of a core, about 105 s
of CPU by ps, ~120x by CPU; ``ratio_cpu`` is printed since). The full 10k x 5M state path
could not be run: the state lock was held by another run for the whole sitting.

On a quiet machine (load average 1, 2026-12-01 21:09, main 3d6283a, best of 3; the issue-15
targets are all met):

==================  ========================================================
10k x 100k given    0.151 s; MatchIt 4.5.1 in the same run 8.32 s (55x)
10k x 1M given      0.686 s; shuffled 1.107 s; fitted 1.04 s; peak 0.74 GB
50k x 5M given      3.39 s; shuffled 7.69 s; fitted 6.18 s; peak 2.79 GB
==================  ========================================================

Memory of the state path (branch ``spark``, 2026-12-01): ``match()``'s peak of traced
allocations (tracemalloc) over its 216 MB input frame at 4k x 1M was 314 MB on main (3d6283a)
and 217 MB after the balance variables were made one at a time (no 17-column float64 balance
matrix and its consolidated DataFrame copy) and the design's max |x| taken without an |X| copy;
the rest of the peak is the propensity design (formulaic's build of the 15-column float64 X).
Matched pairs, weights, balance table and coefficients are byte-identical (also with the input
rows shuffled and with ``balance.addl``/``squares``/``interactions``). The RSS increment this
script prints is 0.12 GB for both: freed pages of the frame's construction are reused.

With ``--psmpy PYTHON`` the problem is also run with psmpy 0.3.16 (``PsmPy.kdtree_matched``,
dense treated x control arrays, a Python loop) where those arrays fit in memory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
import leadeval.matching as lm
n1, n0, repeat, csv = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(1)
n = n1 + n0
df = pd.DataFrame({
    "person_id": np.char.add("P", np.char.zfill(np.arange(n).astype(str), 9)).astype(object),
    "treated": np.r_[np.ones(n1, int), np.zeros(n0, int)],
})
t = df.treated.to_numpy() == 1
df["age"] = rng.normal(35, 10, n) - 3 * t
df["arrests_pre_365d"] = rng.poisson(np.where(t, 2.5, 1.2))
df["jail_days_pre_365d"] = rng.gamma(1.0, np.where(t, 15, 8))
df["prison_pre_365d"] = rng.binomial(1, np.where(t, 0.2, 0.1))
covs = ["age", "arrests_pre_365d", "jail_days_pre_365d", "prison_pre_365d"]
df["score"] = (-4 + 0.5 * df.arrests_pre_365d - 0.03 * df.age + 0.02 * df.jail_days_pre_365d)
given = {"covariates": covs, "caliper": 0.2, "distance_column": "score"}
out = {"n_treated": n1, "n_controls": n0}

def best(f):
    runs = []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        r = f()
        runs.append((time.perf_counter() - w, time.process_time() - c))
    wall, cpu = min(runs)
    return r, round(wall, 3), round(cpu, 3)

m, out["given_s"], out["given_cpu_s"] = best(lambda: lm.match(df, given, warn=False))
out["given_matched"] = int((m.data.treated == 1).sum())
shuffled = df.sample(frac=1.0, random_state=2)
m2, out["given_shuffled_s"], out["given_shuffled_cpu_s"] = best(lambda: lm.match(shuffled, given, warn=False))
assert m2.pairs.equals(m.pairs) and m2.data.equals(m.data), "row order changed the result"
d, tt = df.score.to_numpy(), t
width = 0.2 * d.std(ddof=1)
core = lambda: lm.match_nearest_arrays(d, tt, np.zeros(n, bool), np.zeros(n, int), 1, False, width)
(pairs, _, _), out["core_s"], _ = best(core)
assert len(pairs) == len(m.pairs)
m3, out["fit_s"], _ = best(lambda: lm.match(df, {"covariates": covs, "caliper": 0.2}, warn=False))
out["fit_matched"] = int((m3.data.treated == 1).sum())
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
if csv != "-":
    df[["treated", *covs, "score"]].to_csv(csv, index=False)
print(json.dumps(out))
"""

STATE = r"""
import json, os, sys, threading, time, warnings
import numpy as np, pandas as pd
import leadeval.matching as lm
n1, n0 = int(sys.argv[1]), int(sys.argv[2])
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
rng = np.random.default_rng(3)
n = n1 + n0
t = np.r_[np.ones(n1, np.int32), np.zeros(n0, np.int32)]
frail = rng.gamma(1.2, 1 / 1.2, n) * np.where(t == 1, 1.8, 1.0)
i32 = lambda x: np.asarray(x, dtype=np.int32)
df = pd.DataFrame({
    "person_id": pd.array(np.char.add("S", np.char.zfill(np.arange(n).astype(str), 8)), dtype="str"),
    "treated": t,
    "age_at_index": i32(rng.normal(36, 11, n).clip(18, 80)),
    "arrests_pre_365d": i32(rng.poisson(0.8 * frail)),
    "arrests_pre_730d": i32(rng.poisson(1.6 * frail)),
    "bookings_pre_730d": i32(rng.poisson(1.2 * frail)),
    "jail_days_pre_730d": i32(rng.poisson(6 * frail) * rng.binomial(1, 0.5, n)),
    "unsheltered_days_pre_30d": i32(rng.binomial(1, np.where(t == 1, 0.4, 0.2)) * 30),
    "months_unsheltered_pre_182d": i32(rng.binomial(6, np.where(t == 1, 0.3, 0.15))),
    "ems_calls_pre_365d": i32(rng.poisson(0.4 * frail)),
    "prison_pre_730d": i32(rng.binomial(1, 0.05, n)),
    "area": pd.array(rng.choice(["central", "east", "north", "south", "west"], n), dtype="str"),
    "sex": pd.array(rng.choice(["F", "M"], n, p=[0.3, 0.7]), dtype="str"),
})
spec = {  # configs' Seattle design as the county and state configs use it (no log1p there)
    "method": "nearest", "ratio": 1, "caliper": 0.2, "categorical": ["area", "sex"],
    "covariates": ["age_at_index", "arrests_pre_365d", "arrests_pre_730d", "bookings_pre_730d",
                   "jail_days_pre_730d", "unsheltered_days_pre_30d",
                   "months_unsheltered_pre_182d", "ems_calls_pre_365d", "prison_pre_730d"],
}
base, peak, stop = rss(), [0], threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss())
        stop.wait(0.02)
th = threading.Thread(target=sample, daemon=True)
th.start()
w, c = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # evaluate() records them; the linear counts warn here
    m = lm.match(df, spec)
wall, cpu = time.perf_counter() - w, time.process_time() - c
stop.set(); th.join()
print(json.dumps({"state_n_treated": n1, "state_n_controls": n0, "state_match_s": round(wall, 2),
                  "state_match_cpu_s": round(cpu, 2), "state_matched": int(m.data.treated.sum()),
                  "frame_gb": round(df.memory_usage(deep=True).sum() / 2**30, 2),
                  "match_increment_gb": round((max(peak[0], rss()) - base) / 2**30, 2)}))
"""

R_SCRIPT = r"""
suppressPackageStartupMessages(library(MatchIt))
d <- read.csv(commandArgs(TRUE)[1])
tm <- system.time(m <- matchit(treated ~ age + arrests_pre_365d + jail_days_pre_365d +
                                 prison_pre_365d, data = d, distance = d$score,
                               method = "nearest", caliper = 0.2))
cat(sprintf('{"matchit_s": %.3f, "matchit_cpu_s": %.3f, "matchit_matched": %d, "matchit_version": "%s"}\n',
            tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]], sum(!is.na(m$match.matrix[, 1])),
            as.character(packageVersion("MatchIt"))))
"""

PSMPY = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from psmpy import PsmPy
n1, n0 = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
n = n1 + n0
t = np.r_[np.ones(n1, int), np.zeros(n0, int)]
df = pd.DataFrame({"person_id": np.arange(n), "treated": t,
                   "age": rng.normal(35, 10, n) - 3 * t,
                   "arrests_pre_365d": rng.poisson(np.where(t == 1, 2.5, 1.2)),
                   "jail_days_pre_365d": rng.gamma(1.0, np.where(t == 1, 15, 8)),
                   "prison_pre_365d": rng.binomial(1, np.where(t == 1, 0.2, 0.1))})
t0 = time.perf_counter()
psm = PsmPy(df, treatment="treated", indx="person_id", exclude=[])
psm.logistic_ps(balance=False)
psm.kdtree_matched(matcher="propensity_logit", replacement=False, caliper=0.2)
out = {"psmpy_s": round(time.perf_counter() - t0, 3),
       "psmpy_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
print(json.dumps(out))
"""


def run(cmd: list[str], timeout: float) -> dict:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout:.0f} s"}
    if r.returncode != 0:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes", nargs="*", default=["10000:100000", "10000:1000000", "50000:5000000"]
    )
    ap.add_argument("--repeat", type=int, default=3, help="leadeval runs per size (best kept)")
    ap.add_argument(
        "--r-sizes",
        nargs="+",
        default=["10000:100000", "10000:1000000"],
        help="sizes also timed with R MatchIt ('none' for none)",
    )
    ap.add_argument("--r-timeout", type=float, default=1800)
    ap.add_argument(
        "--state",
        default="10000:5000000",
        help="the state-size path of evaluate(): propensity fit + 1:1 caliper matching with the "
        "configs' Seattle spec ('none' to skip)",
    )
    ap.add_argument("--psmpy", help="python interpreter with psmpy installed")
    ap.add_argument("--psmpy-timeout", type=float, default=600)
    ap.add_argument(
        "--psmpy-max-cells",
        type=float,
        default=5e8,
        help="skip psmpy when treated x controls exceeds this",
    )
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            n1, n0 = (int(x) for x in size.split(":"))
            with_r = size in args.r_sizes and rscript is not None
            csv = str(Path(tmp) / f"match_{size.replace(':', '_')}.csv") if with_r else "-"
            res = run(
                [sys.executable, "-c", CHILD, str(n1), str(n0), str(args.repeat), csv],
                timeout=1800,
            )
            if with_r and "error" not in res:
                r_file = Path(tmp) / "matchit_time.R"
                r_file.write_text(R_SCRIPT)
                res |= run([rscript, str(r_file), csv], timeout=args.r_timeout)
                if "matchit_s" in res:
                    res["ratio_matchit_over_leadeval"] = round(res["matchit_s"] / res["given_s"], 1)
                    res["ratio_cpu"] = round(res["matchit_cpu_s"] / res["given_cpu_s"], 1)
            elif size in args.r_sizes:
                res["matchit"] = "not run: Rscript not found"
            if args.psmpy:
                if n1 * n0 > args.psmpy_max_cells:
                    res["psmpy"] = (
                        f"not attempted: its dense {n1} x {n0} distance + index arrays "
                        f"need ~{n1 * n0 * 16 / 1e9:.0f} GB"
                    )
                else:
                    res["psmpy"] = run(
                        [args.psmpy, "-c", PSMPY, str(n1), str(n0)], timeout=args.psmpy_timeout
                    )
            print(json.dumps(res), flush=True)
    if args.state != "none":
        n1, n0 = (int(x) for x in args.state.split(":"))
        print(json.dumps(run([sys.executable, "-c", STATE, str(n1), str(n0)], 1800)), flush=True)


if __name__ == "__main__":
    main()
