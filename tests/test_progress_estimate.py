"""The console's estimate of the time left (issue 15, item 4: progress people can trust), by
hand from the stage costs (``leadeval.progress.STAGES``) on a fake clock; the runs it was
checked against (a county, a 52M-row site, a state) are in docs/report.md. Pure unit tests: not
in the Longmont run's xdist group."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from leadeval.progress import (
    STAGES,
    ConsoleProgress,
    expected_seconds,
    source_sizes,
    time_left,
)


def test_stage_costs_reproduce_the_runs_they_were_fitted_to():
    """The expected seconds per stage (STAGES) give back the two measured runs they were fitted
    to, within rounding: a county-size report (10.5M rows) and a state-size one (259M rows),
    the manifests' run.stages of 2026-12-04 (the figures in STAGES' comments)."""
    county = {"extracts": 2.3, "cohort": 3.5, "matching": 0.9, "models": 2.6, "equity": 1.2,
              "costs": 0.3, "disclosure": 0.3, "report": 1.7}
    state = {"extracts": 32.1, "cohort": 75.5, "matching": 18.7, "models": 16.3, "equity": 20.1,
             "costs": 3.8, "disclosure": 4.2, "report": 6.0}
    assert list(STAGES) == list(county)
    for stage in STAGES:
        assert expected_seconds(stage, 10.549) == pytest.approx(county[stage], abs=0.06)
        assert expected_seconds(stage, 258.99) == pytest.approx(state[stage], abs=0.2)


def test_time_left_by_hand():
    """Known answers worked by hand from STAGES, 10 million rows, stages extracts, cohort,
    matching (expected 2.267, 3.309, 0.836 s):

    * extracts under way, half the bytes in after 3 s, 4 s spent: 2 s more, then 3.309 + 0.836
      at pace 1;
    * cohort under way for 1 s (expected 3.309 s): 2.309 s more, then matching's 0.836;
    * the cohort running three times as long as expected (9.927 s): the pace is 3 at once,
      nothing left of it, matching 3 x 0.836;
    * matching under way after a cohort that took 2 x its expectation: pace 2 (the extracts do
      not count: their speed depends on the format), 2 x 0.836 - 0.5 s spent.
    """
    stages = ["extracts", "cohort", "matching"]
    assert time_left(stages, {"extracts": 1.0}, "extracts", None) is None  # nothing loaded yet
    assert time_left(stages, {"extracts": 1.0}, "extracts", 10, (0.05, 1.0)) is None  # too little
    assert time_left(stages, {"extracts": 4.0}, "extracts", 10, (0.5, 3.0)) == pytest.approx(
        2 + 3.309 + 0.836
    )
    spent = {"extracts": 5.0, "cohort": 1.0}
    assert time_left(stages, spent, "cohort", 10) == pytest.approx(2.309 + 0.836)
    spent = {"extracts": 5.0, "cohort": 3 * 3.309}
    assert time_left(stages, spent, "cohort", 10) == pytest.approx(3 * 0.836)
    spent = {"extracts": 5.0, "cohort": 2 * 3.309, "matching": 0.5}
    assert time_left(stages, spent, "matching", 10) == pytest.approx(2 * 0.836 - 0.5)
    # a stage the run did not list (a within-person design's matching key, say) still counts
    spent = {"extracts": 5.0, "cohort": 3.309, "equity": 0.0}
    assert time_left(stages, spent, "equity", 10) == pytest.approx(0.44 + 0.757 + 0.836)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_console_time_left_from_the_first_extracts_and_through_a_long_stage():
    """The display's estimate on a fake clock, by hand: after 2 s the roster and arrests (half
    the bytes, 1M rows: 2M rows expected) are in, so 2 s more for the extracts and the later
    stages' expected seconds at 2M rows (the cohort 0.99, matching 0.263 s); between events it
    counts down; a cohort still running at 3x its expectation pushes matching's estimate up."""
    clock, buf = _Clock(), io.StringIO()
    sizes = {"roster": 1.0, "arrests": 3.0, "charges": 4.0}
    stages = ["extracts", "cohort", "matching"]
    console = Console(file=buf, force_terminal=True, width=160)
    with ConsoleProgress("king", stages, console, extract_sizes=sizes, get_time=clock) as bar:
        assert bar.time_left() is None
        bar.progress("extracts")
        assert bar.time_left() is None  # nothing loaded yet
        clock.now += 2
        bar.on_extract("roster", {"read": 200_000})
        bar.on_extract("arrests", {"read": 800_000})
        cohort, matching = expected_seconds("cohort", 2.0), expected_seconds("matching", 2.0)
        assert bar.time_left() == pytest.approx(2 + cohort + matching)
        clock.now += 1
        assert bar.time_left() == pytest.approx(1 + cohort + matching)
        bar.on_extract("charges", {"read": 1_000_000})
        bar.progress("cohort")  # 2M rows read: as extrapolated
        clock.now += 3 * cohort
        assert bar.time_left() == pytest.approx(3 * matching)
    assert "arrests 800,000 rows read (2 of 3, 1,000,000 in all)" in buf.getvalue()


def test_source_sizes(tmp_path):
    """Bytes per extract, by hand: a file's size, split between the extracts of one database
    file; a source with no file of its own counts as the mean of the others."""
    from types import SimpleNamespace as S

    (tmp_path / "roster.csv").write_bytes(b"x" * 100)
    (tmp_path / "site.duckdb").write_bytes(b"x" * 600)
    sources = {
        "roster": S(path=tmp_path / "roster.csv"),
        "arrests": S(path=tmp_path / "site.duckdb"),
        "charges": S(path=tmp_path / "site.duckdb"),
        "jail": S(path=None),
        "ems": S(path=tmp_path / "missing.csv"),
    }
    assert source_sizes(sources) == {
        "roster": 100.0, "arrests": 300.0, "charges": 300.0, "jail": 700 / 3, "ems": 700 / 3
    }
