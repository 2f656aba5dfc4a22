"""Benchmark: 1:1 greedy nearest-neighbour matching with a caliper, without replacement.

Run by hand (not in CI)::

    .venv/bin/python benchmarks/bench_matching.py                 # 10k x 100k, 10k x 1M, 50k x 5M
    .venv/bin/python benchmarks/bench_matching.py --sizes 10000:1000000
    .venv/bin/python benchmarks/bench_matching.py --psmpy /tmp/psmpy_venv/bin/python

Each size runs in a fresh process, which reports wall times and its peak resident memory
(ru_maxrss):

* ``match_core``: the matching itself (``match_nearest_arrays``: sort, insertion positions,
  union-find greedy loop over treated units) on a given logit score;
* ``match_full``: ``leadeval.matching.match()`` end to end (checks, statsmodels logistic fit on
  4 covariates, matching, weights, balance table).

With ``--psmpy PYTHON`` the same problem is run with psmpy 0.3.16 (``PsmPy.kdtree_matched``,
which fits its own logistic model and queries a KDTree for *all* controls of every treated unit,
``k = n_controls``, i.e. dense treated x control distance and index arrays, then loops in Python)
in that interpreter, under a time limit; it is only attempted where those arrays fit in memory.
Target (issue 4): 10k x 1M in about a second on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
import leadeval.matching as lm
n1, n0 = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
n = n1 + n0
df = pd.DataFrame({
    "person_id": np.char.add("P", np.arange(n).astype(str)),
    "treated": np.r_[np.ones(n1, int), np.zeros(n0, int)],
})
t = df.treated.to_numpy() == 1
df["age"] = rng.normal(35, 10, n) - 3 * t
df["arrests_pre_365d"] = rng.poisson(np.where(t, 2.5, 1.2))
df["jail_days_pre_365d"] = rng.gamma(1.0, np.where(t, 15, 8))
df["prison_pre_365d"] = rng.binomial(1, np.where(t, 0.2, 0.1))
covs = ["age", "arrests_pre_365d", "jail_days_pre_365d", "prison_pre_365d"]
out = {"n_treated": n1, "n_controls": n0}
# core: on a fixed logit score, already in person_id order
lin = -4 + 0.5 * df.arrests_pre_365d.to_numpy() - 0.03 * df.age.to_numpy() + 0.02 * df.jail_days_pre_365d.to_numpy()
order = np.argsort(df.person_id.to_numpy(), kind="stable")
d, tt = lin[order], t[order]
width = 0.2 * d.std(ddof=1)
t0 = time.perf_counter()
pairs, un, reasons = lm.match_nearest_arrays(d, tt, np.zeros(n, bool), np.zeros(n, int), 1, False, width)
out["match_core_s"] = round(time.perf_counter() - t0, 3)
out["core_matched"] = int(pairs.treated_row.nunique())
t0 = time.perf_counter()
m = lm.match(df, {"covariates": covs, "caliper": 0.2}, warn=False)
out["match_full_s"] = round(time.perf_counter() - t0, 3)
out["full_matched"] = int((m.data.treated == 1).sum())
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
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
        "--sizes", nargs="+", default=["10000:100000", "10000:1000000", "50000:5000000"]
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
    for size in args.sizes:
        n1, n0 = (int(x) for x in size.split(":"))
        res = run([sys.executable, "-c", CHILD, str(n1), str(n0)], timeout=1800)
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
    _ = resource, time


if __name__ == "__main__":
    main()
