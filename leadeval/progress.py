"""Progress of a long run: stage timings for the manifest and a console display people can trust.

A run reports through two plain callbacks, so the pipeline never depends on a display:

* ``progress(stage)``: the named stage starts now (``evaluate(progress=...)`` and
  ``write_report(progress=...)`` call it with ``"extracts"``, ``"cohort"``, ``"matching"``,
  each analysis key such as ``"logistic:arrest_post_182d"``, ``"disclosure control"``,
  ``"report"``; ``"cohort:panel"`` and ``"cohort:panel_matched"`` when the person-months of the
  participants and of the matched people are built, on first use among the models: cohort time);
* ``on_extract(name, row)``: an extract is loaded; ``row`` is its data-quality row (``read``,
  ``loaded``, ``quarantined``... counts), from :func:`leadeval.load_extracts`.

:class:`StageClock` turns them into seconds and peak memory per stage: the ``run`` block of
``manifest.json`` holds them (``run.stages``), the one block of the manifest that is not
reproducible by design (like ``started_utc``), so a rerun's manifest is still identical apart
from it. :class:`ConsoleProgress` draws them with Rich on stderr: stages done of the total
(the report's stages, grouped as :data:`STAGES`), the current analysis, rows read per extract,
elapsed time and an estimate of the time left, weighted by the typical share of each stage
(measured on a county-size site by ``benchmarks/bench_report.py``), not by a stage count. It is
silent when stderr is not a terminal or with ``--quiet``.

Example
-------
>>> clock = StageClock()
>>> clock("extracts"); clock.extract_loaded("roster", {"read": 12, "loaded": 12})
>>> clock("cohort"); clock.finish()
>>> [s["stage"] for s in clock.to_dict()["stages"]], clock.to_dict()["extracts"]["roster"]["read"]
(['extracts', 'cohort'], 12)
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

#: the report's stages, in order, with the share of the run each typically takes (county-size
#: site, benchmarks/bench_report.py); the console's estimate of the time left is weighted by them
STAGES: dict[str, float] = {
    "extracts": 0.09,
    "cohort": 0.19,
    "matching": 0.05,
    "models": 0.16,
    "equity": 0.37,
    "costs": 0.03,
    "disclosure": 0.01,
    "report": 0.10,
}
_MODELS = ("logistic", "effect", "gee", "km", "logrank", "cox", "rmst", "cuminc", "count", "mean",
           "did", "panel", "panel_contrast", "within_person", "within_person_dose")  # fmt: skip
_COSTS = ("program_curve", "savings", "cumulative_savings", "client_year", "benefit_cost",
          "monte_carlo")  # fmt: skip


def stage_group(key: str) -> str:
    """The report stage (a key of :data:`STAGES`) a progress key belongs to."""
    head = key.split(":", 1)[0]
    if head in STAGES:
        return head
    if head in _MODELS:
        return "models"
    if head in _COSTS:
        return "costs"
    if head in ("heterogeneity",):
        return "equity"
    if head.startswith("disclosure"):
        return "disclosure"
    return "report"


def peak_rss_mb() -> int:
    """The process's peak resident memory so far, in MB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


class StageClock:
    """Wall seconds and peak memory per stage, fed by the ``progress``/``on_extract`` callbacks.

    ``to_dict()`` gives ``stages`` (``stage, seconds, peak_rss_mb``: the peak of the process when
    the stage ended), ``extracts`` (rows per extract) and ``peak_rss_mb``.
    """

    def __init__(self) -> None:
        self.stages: list[dict[str, Any]] = []
        self.extracts: dict[str, dict[str, int]] = {}
        self._current: str | None = None
        self._started = 0.0

    def __call__(self, stage: str) -> None:
        self._close()
        self._current, self._started = stage, time.perf_counter()

    def extract_loaded(self, name: str, row: Mapping[str, Any]) -> None:
        self.extracts[name] = {
            k: int(row[k]) for k in ("read", "loaded", "quarantined", "censored") if k in row
        }

    def _close(self) -> None:
        if self._current is not None:
            self.stages.append(
                {
                    "stage": self._current,
                    "seconds": round(time.perf_counter() - self._started, 3),
                    "peak_rss_mb": peak_rss_mb(),
                }
            )
            self._current = None

    def finish(self) -> None:
        """Close the stage under way."""
        self._close()

    def by_group(self) -> dict[str, float]:
        """Seconds per report stage (:data:`STAGES`), in the order they ran."""
        out: dict[str, float] = {}
        for s in self.stages:
            g = stage_group(s["stage"])
            out[g] = round(out.get(g, 0.0) + s["seconds"], 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": list(self.stages),
            "extracts": dict(self.extracts),
            "peak_rss_mb": peak_rss_mb(),
        }


def fan_out(*callbacks: Callable[..., None] | None) -> Callable[..., None]:
    """One callback calling each of ``callbacks`` (None entries ignored) with the same args."""
    live = [c for c in callbacks if c is not None]

    def call(*args: Any) -> None:
        for c in live:
            c(*args)

    return call


class ConsoleProgress:
    """A Rich progress display for ``leadeval report|validate|monitor`` on stderr.

    ``stages`` are the report stages the run goes through (keys of :data:`STAGES`); the bar
    advances by each finished stage's typical share, so the time left is estimated from work
    done, not from a stage count. Use as a context manager; ``progress`` and ``on_extract`` are
    the callbacks to hand to the run. Disabled (draws nothing) when ``enabled`` is false.
    """

    def __init__(
        self, title: str, stages: list[str], console: Any = None, enabled: bool = True
    ) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.title = title
        self.stages = list(stages)
        self.weights = {s: STAGES.get(s, 0.05) for s in self.stages}
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not enabled,
        )
        self._task = None
        self._group: str | None = None
        self._done: list[str] = []
        self._rows = 0

    def __enter__(self) -> ConsoleProgress:
        self._bar.__enter__()
        self._task = self._bar.add_task(
            f"{self.title}: starting", total=sum(self.weights.values()), count=self._count()
        )
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def _count(self) -> str:
        return f"stage {min(len(self._done) + 1, len(self.stages))}/{len(self.stages)}"

    def progress(self, key: str) -> None:
        group = stage_group(key)
        if group != self._group:
            # back to a finished stage (the cohort's person-months, built on first use among
            # the models): the stage under way is not done yet
            if self._group is not None and self._group not in self._done and group not in self._done:
                self._done.append(self._group)
            self._group = group
        completed = sum(self.weights[g] for g in self._done if g in self.weights)
        self._bar.update(
            self._task,
            completed=completed,
            description=f"{self.title}: {key}",
            count=self._count(),
            refresh=True,
        )

    def on_extract(self, name: str, row: Mapping[str, Any]) -> None:
        self._rows += int(row.get("read", 0))
        self._bar.update(
            self._task,
            description=f"{self.title}: extracts: {name} {int(row.get('read', 0)):,} rows read "
            f"({self._rows:,} in all)",
            refresh=True,
        )


def report_stages(comparison: bool) -> list[str]:
    """The report stages of a run (no matching in a within-person design)."""
    return [s for s in STAGES if comparison or s != "matching"]
