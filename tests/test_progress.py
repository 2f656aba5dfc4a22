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
from leadeval.progress import ConsoleProgress, StageClock, report_stages, stage_group

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
