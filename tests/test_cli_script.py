"""The ``leadeval`` console script (:func:`leadeval.cli.run`): what users run, with the garbage
collector's freeze (a run's speed only, never its output) kept out of in-process runs."""

from __future__ import annotations

import gc
import subprocess
import sys
from importlib.metadata import entry_points

from leadeval import cli


def test_console_script_is_run():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "leadeval"]
    assert script.value == "leadeval.cli:run"


def test_script_keeps_the_apps_exit_codes():
    """A user's mistake still exits 2 with the message and no traceback; --version exits 0."""
    cmd = [sys.executable, "-c", "from leadeval.cli import run; run()"]
    bad = subprocess.run([*cmd, "report", "no-such-site.yaml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "config file not found" in bad.stderr
    assert "Traceback" not in bad.stderr
    ok = subprocess.run([*cmd, "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("leadeval ")


def test_in_process_runs_do_not_freeze():
    """``app`` run in-process (tests, notebooks) leaves the collector alone: objects made later
    must stay collectable there."""
    before = gc.get_freeze_count()
    cli._freeze()
    assert gc.get_freeze_count() == before
