"""`leadeval validate CONFIG`: the data-quality table and exit codes 0 (clean), 1 (rows
quarantined), 2 (user error, no traceback).

Reference: the issue's CLI contract.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from extracts_helpers import canonical_frames, site_config
from typer.testing import CliRunner

from leadeval.cli import app

runner = CliRunner()


def _flat(text: str) -> str:
    """Output with Rich's line wrapping undone."""
    return " ".join(text.split())


def _config(tmp_path: Path, frames=None, **top) -> Path:
    frames = frames if frames is not None else canonical_frames()
    data = site_config(tmp_path, frames, **top)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_clean_site_exits_0(tmp_path):
    result = runner.invoke(app, ["validate", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "Data quality: test" in result.output
    assert "program_ledger" in result.output
    assert "All rows loaded." in result.output


def test_quarantined_rows_exit_1_and_are_written(tmp_path):
    """Rows with problems: exit 1, the table shows counts and top reasons, each problem is listed
    with its rows and fix, and --quarantine-dir writes the rows to a private folder."""
    frames = canonical_frames()
    frames["arrests"].loc[1, "arrest_date"] = "2099-01-01"
    frames["arrests"].loc[2, "severity"] = "FEL"
    out = tmp_path / "restricted" / "q"
    result = runner.invoke(
        app,
        ["validate", str(_config(tmp_path, frames)), "--quarantine-dir", str(out)],
    )
    assert result.exit_code == 1, result.output
    assert "bad_code 1" in result.output
    flat = _flat(result.output)
    assert "arrests.csv: 1 row has arrest_date after the data end date 2016-06-30 (line 3;" in flat
    assert "arrests.csv: 1 row has a severity code that is not allowed (e.g. 'FEL';" in flat
    assert "2 rows quarantined" in flat
    written = sorted(p.name for p in out.iterdir())
    assert written == ["arrests_quarantine.csv", "quarantine_reasons.csv"]
    assert (out / "arrests_quarantine.csv").read_text().splitlines()[0] == (
        "source_row,line,reason,column,detail,arrest_id,person_id,arrest_date,severity,"
        "offense_category,warrant"
    )
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    assert oct((out / "arrests_quarantine.csv").stat().st_mode & 0o777) == "0o600"


def test_user_errors_exit_2(tmp_path):
    """A missing config, a config problem and strict mode with bad rows all exit 2 with the
    error's message."""
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "config file not found" in result.output
    roster = canonical_frames()["roster"]
    roster.loc[0, "referral_date"] = "someday"
    result = runner.invoke(
        app, ["validate", str(_config(tmp_path, {"roster": roster}, strict=True))]
    )
    assert result.exit_code == 2
    assert "ExtractError: strict mode: 1 row has problems" in _flat(result.output)
    path = _config(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["extracts"]["arrests"]["columns"] = {"arrest_date": "ArrestDt"}
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "extracts.arrests.columns.arrest_date: column 'ArrestDt' not found in arrests.csv" in (
        _flat(result.output)
    )


def test_user_error_has_no_traceback_in_a_real_process(tmp_path):
    """The installed command prints the message on stderr, no traceback, exit 2."""
    path = _config(tmp_path, {"roster": canonical_frames()["roster"]})
    data = yaml.safe_load(path.read_text())
    data["extracts"]["jail"] = {"path": "missing.csv"}
    path.write_text(yaml.safe_dump(data))
    proc = subprocess.run(
        [sys.executable, "-c", "from leadeval.cli import app; app()", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "ConfigError" in proc.stderr and "extracts.jail.path: file not found" in proc.stderr
