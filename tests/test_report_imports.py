"""``leadeval report`` imports the later stages (evaluation, disclosure, sections: statsmodels,
scipy.optimize, matplotlib) in a thread while the extracts load (leadeval.report.writer._LATE).
That only overlaps if importing the writer does not import them already: checked in a fresh
interpreter. Reference: ``sys.modules`` of that interpreter."""

from __future__ import annotations

import subprocess
import sys

LATER = ("leadeval.evaluation", "leadeval.report.sections", "statsmodels", "matplotlib")


def test_the_writer_imports_no_later_stage():
    code = (
        "import sys, leadeval.cli, leadeval.report.writer as w; "
        f"print([m for m in {LATER!r} if m in sys.modules]); "
        "w._late(); "
        f"print([m for m in {LATER!r} if m in sys.modules]); "
        "print(w.evaluate.__module__, w.protect.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(list(LATER))
    assert out[2] == "leadeval.evaluation leadeval.report.disclosure"


def test_a_failed_import_in_the_thread_is_raised_by_the_run(monkeypatch):
    """The thread swallows its errors; the main thread's own import raises them."""
    import pytest

    import leadeval.report.writer as w

    monkeypatch.setitem(w._LATE, "nothing", "leadeval.no_such_module")
    w._import_late_modules().join()
    with pytest.raises(ModuleNotFoundError, match="leadeval.no_such_module"):
        w._late()
