"""Benchmark: CPU seconds of everything after the cohort (statistics, disclosure, report document).

Run by hand (not in CI), once with this checkout's code and once with another's, alternately::

    PYTHONPATH=/work/main .venv/bin/python benchmarks/bench_after_cohort.py /tmp/county/county.yaml
    .venv/bin/python benchmarks/bench_after_cohort.py /tmp/county/county.yaml --repeat 2

The extracts and the cohort are built once (not timed); then ``--repeat`` times: ``evaluate``
(with that cohort), ``disclose``, ``build_document`` and ``render_html``, printing the process
CPU seconds of each stage (analyses grouped by kind: the four ``panel_contrast`` fits in one).
The first run also builds the matched people's person-months (``cohort:panel_matched``, cached
after). CPU seconds, not wall, because the machine is shared (the load average makes wall
seconds 2-5x the CPU's).

Measured 2026-12-02 15:42-16:00 (branch ``stats4`` vs main 557e1ba, county site, 2 runs each
per process, main and branch processes alternating A B A B, load average 9-15 on 2 cores): see
the figures in the branch's report (second, warm run of each process; total CPU after the
cohort, main vs branch).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import leadeval.evaluation as E
from leadeval.cohort import build_cohort
from leadeval.config import load_config
from leadeval.extracts import load_extracts
from leadeval.report.writer import _late, build_document, disclose, render_html

GROUPED = ("panel_contrast", "panel:", "logistic", "effect", "count", "mean")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    cfg = load_config(args.config)
    with tempfile.TemporaryDirectory() as work:
        extracts = load_extracts(cfg, work_dir=work)
        _late()
        cohort = build_cohort(extracts, cfg)
        E.build_cohort = lambda *a, **k: cohort  # evaluate() reuses the cohort built above
        stamps: list[tuple[str, float]] = []
        for i in range(args.repeat):
            stamps.clear()
            t0, w0 = time.process_time(), time.perf_counter()

            def progress(stage: str) -> None:
                stamps.append((stage, time.process_time()))

            ev = E.evaluate(cfg, extracts=extracts, progress=progress)
            progress("disclosure")
            d = disclose(ev)
            progress("document")
            doc = build_document(ev, d)
            progress("html")
            render_html(doc, [("site", cfg.site)])
            progress("end")
            spent: dict[str, float] = {}
            for (stage, t), (_, t2) in zip(stamps, stamps[1:], strict=False):
                key = stage.split(":")[0] if stage.startswith(GROUPED) else stage
                spent[key] = spent.get(key, 0.0) + t2 - t
            print(
                f"run {i}: cpu {time.process_time() - t0:.2f} s, wall "
                f"{time.perf_counter() - w0:.2f} s | "
                + " ".join(f"{k}={v:.2f}" for k, v in spent.items() if v > 0.05),
                flush=True,
            )


if __name__ == "__main__":
    main()
