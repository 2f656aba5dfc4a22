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
elapsed time and an estimate of the time left (:func:`time_left`): each stage's expected
seconds grow with the extract rows (:data:`STAGES`, measured at county and at state size), are
scaled by how long the stages so far took against their expectation, and the extracts stage
is extrapolated from the share of the sources' bytes loaded (:func:`source_sizes`). It is
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

import datetime as dt
import os
import resource
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

#: the report's stages, in order, with the seconds each is expected to take, ``c + a * R`` for R
#: million extract rows read: fitted to the manifests' ``run.stages`` of two ``leadeval report``
#: runs on the 2-core reference machine (2026-12-04, Parquet, Seattle design, bootstrap 1,000):
#: county size (2,000 + 200,000, 10.5M rows) and state size (10,000 + 5M, 259M rows,
#: ``memory_limit: 4GB``). Other machines, formats and designs differ: :func:`time_left`
#: rescales them by what the run has taken so far.
STAGES: dict[str, tuple[float, float]] = {
    "extracts": (1.07, 0.1197),  # 2.3 s at 10.5M rows, 32.1 s at 259M
    "cohort": (0.41, 0.2899),  # 3.5 s, 75.5 s
    "matching": (0.12, 0.0716),  # 0.9 s, 18.7 s
    "models": (2.02, 0.0550),  # 2.6 s, 16.3 s
    "equity": (0.44, 0.0757),  # 1.2 s, 20.1 s
    "costs": (0.13, 0.0142),  # 0.3 s, 3.8 s
    "disclosure": (0.17, 0.0156),  # 0.3 s, 4.2 s
    "report": (1.47, 0.0177),  # 1.7 s, 6.0 s
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


def expected_seconds(stage: str, rows: float) -> float:
    """Seconds ``stage`` is expected to take on the reference machine with ``rows`` million
    extract rows (:data:`STAGES`; an unknown stage: 1 s)."""
    c, a = STAGES.get(stage, (1.0, 0.0))
    return c + a * rows


#: the share of the sources' bytes loaded below which the load's pace is not extrapolated: the
#: roster alone, mostly, loaded before the others and with the run's start-up (a county's CSV
#: roster, 3 % of the bytes, foretold three times the load's real length)
_MIN_SHARE = 0.1


def time_left(
    stages: list[str],
    spent: Mapping[str, float],
    current: str,
    rows: float | None,
    share: tuple[float, float] | None = None,
) -> float | None:
    """Seconds a run is expected to need still, or None before there is anything to go by.

    ``stages``: the run's report stages; ``spent``: seconds spent in each stage started so far,
    the one under way, ``current``, included; ``rows``: million extract rows (all read, or
    extrapolated from those loaded); ``share``: while the extracts load, the share *s* of the
    sources' bytes loaded and the seconds *u* the stage had taken when it was.

    With :math:`e_g` the expected seconds of stage *g* (:func:`expected_seconds`) and :math:`t_g`
    those spent, the run's pace is :math:`f = \\sum t_g / \\sum e_g` over the stages after the
    extracts that are done, the current one counted as taking at least :math:`f e_g` (so a
    stage that runs long slows the pace at once; :math:`f = 1` before any is done, the extracts
    themselves depend on the format). Time left: what the current stage still needs,
    :math:`\\max(f e_c - t_c, 0)`, or while the extracts load :math:`\\max(u / s - t, 0)` (the
    pace of the load so far, once *s* is a tenth or more), plus :math:`f \\sum e_g` over the
    stages not started.

    >>> round(time_left(["extracts", "cohort"], {"extracts": 3.0, "cohort": 1.0}, "cohort", 10))
    2
    """
    if rows is None:
        return None
    expected = {g: expected_seconds(g, rows) for g in (*stages, *spent)}
    done = [g for g in spent if g not in (current, "extracts")]
    t_done, e_done = sum(spent[g] for g in done), sum(expected[g] for g in done)
    pace = t_done / e_done if e_done else 1.0
    if current == "extracts":
        if share is None or share[0] < _MIN_SHARE:
            return None
        now = max(share[1] / share[0] - spent[current], 0.0)
    else:
        t, e = spent.get(current, 0.0), expected[current]
        pace = (t_done + max(t, pace * e)) / (e_done + e)
        now = max(pace * e - t, 0.0)
    return now + pace * sum(expected[g] for g in stages if g not in spent)


def source_sizes(sources: Mapping[str, Any]) -> dict[str, float]:
    """Each extract's share of a load, as the bytes of its source: a file's size, split evenly
    between the extracts read from one file (tables of one database file); a source without a
    file to measure (a database server, a missing file) counts as the mean of the others (1
    each when none has a size).

    >>> from types import SimpleNamespace as S
    >>> source_sizes({"roster": S(path=None), "arrests": S(path=None)})
    {'roster': 1.0, 'arrests': 1.0}
    """
    by_file: dict[str, list[str]] = {}
    for name, src in sources.items():
        path = getattr(src, "path", None)
        if path is not None and os.path.isfile(path):
            by_file.setdefault(os.path.realpath(path), []).append(name)
    sizes = {n: os.path.getsize(f) / len(names) for f, names in by_file.items() for n in names}
    mean = sum(sizes.values()) / len(sizes) if sizes else 1.0
    return {name: float(sizes.get(name, mean)) for name in sources}


def fan_out(*callbacks: Callable[..., None] | None) -> Callable[..., None]:
    """One callback calling each of ``callbacks`` (None entries ignored) with the same args."""
    live = [c for c in callbacks if c is not None]

    def call(*args: Any) -> None:
        for c in live:
            c(*args)

    return call


class ConsoleProgress:
    """A Rich progress display for ``leadeval report|validate|monitor`` on stderr.

    ``stages`` are the report stages the run goes through (keys of :data:`STAGES`). The bar
    fills by the stages' expected seconds (within the extracts stage by each loaded extract's
    share of ``extract_sizes``, :func:`source_sizes`) and the time left is :func:`time_left`,
    worked out afresh at every redraw, so it counts down during a long stage and grows when the
    stage runs longer than expected. Use as a context manager; ``progress`` and ``on_extract``
    are the callbacks to hand to the run. Disabled (draws nothing) when ``enabled`` is false.
    ``get_time``: the clock (default ``time.monotonic``).
    """

    def __init__(
        self,
        title: str,
        stages: list[str],
        console: Any = None,
        enabled: bool = True,
        extract_sizes: Mapping[str, float] | None = None,
        get_time: Callable[[], float] | None = None,
    ) -> None:
        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
        from rich.text import Text

        estimate = self.time_left

        class TimeLeft(ProgressColumn):
            def render(self, task: Any) -> Text:
                left = estimate()
                shown = "-:--:--" if left is None else str(dt.timedelta(seconds=round(left)))
                return Text(shown, style="progress.remaining")

        self.title = title
        self.stages = list(stages)
        self.extract_sizes = dict(extract_sizes or {})
        self._now = get_time or time.monotonic
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeLeft(),
            console=console,
            transient=True,
            disable=not enabled,
            get_time=self._now,
        )
        self._task = None
        self._spent: dict[str, float] = {}  # seconds of each stage done
        self._current: str | None = None  # the stage under way
        self._since = 0.0
        self._loaded: list[str] = []
        self._loaded_at = 0.0  # seconds into the extracts stage when the last one was loaded
        self._rows = 0

    def __enter__(self) -> ConsoleProgress:
        self._bar.__enter__()
        self._task = self._bar.add_task(f"{self.title}: starting", total=1.0, count=self._count())
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def _count(self) -> str:
        return f"stage {min(len(self._spent) + 1, len(self.stages))}/{len(self.stages)}"

    def _share(self) -> float | None:
        """The share of the sources' bytes loaded (None without sizes)."""
        total = sum(self.extract_sizes.values())
        if not total:
            return None
        return sum(self.extract_sizes.get(n, 0.0) for n in self._loaded) / total

    def _rows_millions(self) -> float | None:
        """Million extract rows: those read once the extracts are loaded, before that the rows
        loaded so far over their share of the bytes (None before any)."""
        if "extracts" not in self.stages or "extracts" in self._spent:
            return self._rows / 1e6
        share = self._share()
        return self._rows / 1e6 / share if share else None

    def time_left(self) -> float | None:
        """:func:`time_left` now (None before the first stage)."""
        if self._current is None:
            return None
        spent = dict(self._spent)
        spent[self._current] = self._now() - self._since
        share = self._share()
        loaded = None if share is None else (share, self._loaded_at)
        return time_left(self.stages, spent, self._current, self._rows_millions(), loaded)

    def progress(self, key: str) -> None:
        group = stage_group(key)
        # back to a finished stage (the cohort's person-months, built on first use among the
        # models): the stage under way is not done yet, and its clock keeps running
        if group != self._current and group not in self._spent:
            now = self._now()
            if self._current is not None:
                self._spent[self._current] = now - self._since
            self._current, self._since = group, now
        self._update(description=f"{self.title}: {key}", count=self._count())

    def on_extract(self, name: str, row: Mapping[str, Any]) -> None:
        self._rows += int(row.get("read", 0))
        self._loaded.append(name)
        self._loaded_at = self._now() - self._since
        of = f"{len(self._loaded)} of {len(self.extract_sizes)}, " if self.extract_sizes else ""
        self._update(
            description=f"{self.title}: extracts: {name} {int(row.get('read', 0)):,} rows read "
            f"({of}{self._rows:,} in all)"
        )

    def _update(self, **fields: Any) -> None:
        """Redraw, the bar filled by the expected seconds of the work done."""
        rows = self._rows_millions() or 0.0
        expected = {g: expected_seconds(g, rows) for g in self.stages}
        done = sum(expected[g] for g in self._spent if g in expected)
        if self._current == "extracts":
            done += expected_seconds("extracts", rows) * (self._share() or 0.0)
        self._bar.update(
            self._task, total=sum(expected.values()), completed=done, refresh=True, **fields
        )


def report_stages(comparison: bool) -> list[str]:
    """The report stages of a run (no matching in a within-person design)."""
    return [s for s in STAGES if comparison or s != "matching"]
