"""Progress and stage timings (issue 15, item 4): what the console shows and what the manifest's
``run`` block records, checked on a real run of the shipped Longmont sample (its extracts' row
counts are the data-quality table's, an independent count of the same load).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from leadeval import load_config, load_extracts
from leadeval.progress import (
    STAGES,
    ConsoleProgress,
    StageClock,
    expected_seconds,
    report_stages,
    source_sizes,
    stage_group,
    time_left,
)

ROOT = Path(__file__).resolve().parents[1]
#: One xdist worker (``--dist loadgroup``) makes the Longmont report run that this module and
#: test_report_e2e's restricted-output and PDF tests read (conftest's ``longmont_run``).
pytestmark = pytest.mark.xdist_group("longmont_run")


def test_stage_clock_and_groups():
    clock = StageClock()
    for key in ("extracts", "cohort", "logistic:arrest_post_182d", "savings", "report"):
        clock(key)
    clock.extract_loaded("roster", {"read": 5, "loaded": 4, "quarantined": 1, "notes": "x"})
    clock.finish()
    out = clock.to_dict()
    assert [s["stage"] for s in out["stages"]] == [
        "extracts", "cohort", "logistic:arrest_post_182d", "savings", "report"
    ]
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in out["stages"])
    assert out["extracts"] == {"roster": {"read": 5, "loaded": 4, "quarantined": 1}}
    assert list(clock.by_group()) == ["extracts", "cohort", "models", "costs", "report"]
    assert stage_group("disclosure control") == "disclosure"
    assert "matching" not in report_stages(comparison=False)


def test_console_shows_stages_rows_and_time_left():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=160)
    with ConsoleProgress("king", report_stages(True), console) as bar:
        bar.progress("extracts")
        bar.on_extract("arrests", {"read": 1234567})
        bar.progress("cohort")
        bar.progress("logistic:arrest_post_182d")
    text = buf.getvalue()
    assert "arrests 1,234,567 rows read" in text
    assert "stage 3/8" in text and "logistic:arrest_post_182d" in text and "left" in text
    quiet = io.StringIO()
    with ConsoleProgress("king", ["extracts"], Console(file=quiet), enabled=False) as bar:
        bar.progress("extracts")
    assert quiet.getvalue() == ""


def test_console_back_to_a_finished_stage():
    """The person-months, built on first use among the models, are cohort time (the manifest's
    ``cohort:panel`` stages): going back to the cohort neither finishes the models early nor
    counts a stage twice."""
    assert stage_group("cohort:panel") == stage_group("cohort:panel_matched") == "cohort"
    assert stage_group("panel_contrast:sheltered") == stage_group("mean:jail_days") == "models"
    buf = io.StringIO()
    with ConsoleProgress("king", report_stages(True), Console(file=buf, force_terminal=True,
                                                              width=160)) as bar:
        for key in ("extracts", "cohort", "matching", "did:bookings_post_365d", "cohort:panel",
                    "panel:sheltered", "cohort:panel_matched", "panel_contrast:sheltered"):
            bar.progress(key)
        assert list(bar._spent) == ["extracts", "cohort", "matching"]
        assert bar._current == "models"
        bar.progress("equity")
        assert list(bar._spent) == ["extracts", "cohort", "matching", "models"]
    assert "stage 5/8" in buf.getvalue()


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


@pytest.fixture(scope="module")
def report_run(longmont_run):
    """The shared ``leadeval report configs/longmont.yaml --restricted --quiet`` run (conftest's
    ``longmont_run``; --restricted and the PDF add outputs, not stages)."""
    assert longmont_run.result.exit_code == 0, longmont_run.result.output
    return longmont_run.out, longmont_run.result


def test_manifest_run_block_has_stage_timings_and_rows_read(report_run):
    """The run block (the one not reproduced by a rerun, with the start time) holds seconds and
    peak memory per stage, and the rows read per extract equal the data-quality table's."""
    out, result = report_run
    run = json.loads((out / "manifest.json").read_text())["run"]
    stages = [s["stage"] for s in run["stages"]]
    assert stages[:2] == ["extracts", "cohort"] and stages[-2:] == ["disclosure control", "report"]
    assert sum(s["seconds"] for s in run["stages"]) <= run["seconds"] + 0.5
    assert run["peak_rss_mb"] >= max(s["peak_rss_mb"] for s in run["stages"])
    quality = load_extracts(load_config(ROOT / "configs" / "longmont.yaml")).quality
    assert run["extracts"] == {
        r.extract: {"read": r.read, "loaded": r.loaded, "quarantined": r.quarantined,
                    "censored": r.censored}
        for r in quality.itertuples()
    }
    assert "rows read" not in result.output  # --quiet (and not a terminal): no display
