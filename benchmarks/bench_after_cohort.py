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

Measured 2026-12-02 15:42-15:57 (branch ``stats4`` vs main 557e1ba, county site, ``--repeat 2``
per process, processes alternating main, branch, main, branch, load average 14 falling to 5 on
the 2 shared cores). CPU seconds after the cohort, first (cold) run / second (warm) run of each
process: main 22.00 / 18.50 and 24.62 / 19.09; branch 20.39 / 19.03 and 21.16 / 17.93. Means:
cold 23.3 vs 20.8 (-11 %), warm 18.8 vs 18.5 (-2 %): within the noise of a loaded machine.
By stage (warm runs, main vs branch): heterogeneity 3.00, 2.91 vs 2.35, 2.81; the count models
0.55, 0.66 vs 0.47, 0.40; disclosure 1.52, 1.48 vs 0.68, 0.74; panel contrasts 1.77, 2.28 vs
1.90, 1.66; report document 6.00, 5.67 vs 7.93, 6.36 (figures; noisy). Outputs byte-identical.
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
