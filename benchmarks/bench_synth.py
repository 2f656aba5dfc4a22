"""Throughput and peak memory of the synthetic-site generator (run by hand, not in CI).

    .venv/bin/python benchmarks/bench_synth.py                       # 10k participants, 1M pool
    .venv/bin/python benchmarks/bench_synth.py --pool 100000 --format csv,parquet

Prints the event rows written, wall time, rows per second and the peak resident memory of the
process (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from leadeval.synth.writer import write_synthetic_site


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="seattle")
    ap.add_argument("--participants", type=int, default=10_000)
    ap.add_argument("--pool", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", default="parquet")
    ap.add_argument("--blocks-per-chunk", type=int, default=4)
    ap.add_argument("--out", default=None, help="output directory (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="leadeval_bench_"))
    t0 = time.perf_counter()
    write_synthetic_site(
        args.profile, out, n_participants=args.participants, n_pool=args.pool, seed=args.seed,
        formats=args.format.split(","), blocks_per_chunk=args.blocks_per_chunk,
    )
    seconds = time.perf_counter() - t0
    rows = {}
    for f in sorted(out.glob("*.parquet")):
        rows[f.stem] = pq.ParquetFile(f).metadata.num_rows
    total = sum(rows.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    for name, n in rows.items():
        print(f"{name:15s} {n:>12,}")
    print(f"total rows      {total:>12,}")
    print(f"wall time       {seconds:12.1f} s")
    print(f"throughput      {total / seconds:12,.0f} rows/s")
    print(f"peak RSS        {peak_mb:12,.0f} MB")
    print(f"output size     {size_mb:12,.0f} MB in {out}")


if __name__ == "__main__":
    main()
