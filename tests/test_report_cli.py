"""The CLI cannot mislead: config mistakes exit 2 before the run, the output folder is swapped into
place (an old report never mixes with a new one), the console and summary lead with the net
figure, every shipped and synth-written config runs, and ``leadeval init`` starts a config.

References: the shipped configs and data samples; the config's own names (what a typo must be
told apart from); the manifest's file list (what the folder must hold, exactly).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import leadeval.evaluation as evaluation
from leadeval import load_config
from leadeval.cli import app

ROOT = Path(__file__).resolve().parents[1]


def config_copy(tmp_path: Path, site: str, edit=None) -> Path:
    """The site's config written under tmp_path, extract paths made absolute, then edited."""
    data = yaml.safe_load((ROOT / "configs" / f"{site}.yaml").read_text())
    for src in data["extracts"].values():
        src["path"] = str((ROOT / "configs" / src["path"]).resolve())
    if edit:
        edit(data)
    path = tmp_path / f"{site}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(*args: str):
    return CliRunner().invoke(app, [*map(str, args)])


@pytest.fixture
def no_models(monkeypatch):
    """Fail the test if any model runs: the check must stop the run before."""

    def refuse(*_a, **_k):
        raise AssertionError("a model ran: the mistake was not caught before the run")

    monkeypatch.setattr(evaluation, "fit_logistic", refuse)
    monkeypatch.setattr(evaluation, "match", refuse)
    monkeypatch.setattr(evaluation, "fit_within_person_rate", refuse)


def _typo_outcome(d):
    d["models"]["binary_outcomes"][0] = "arrest_post_128d"


def _bad_cost_window(d):
    d["costs"]["post_window"] = 730


def _bad_covariate(d):
    d["matching"]["covariates"].append("arests_pre_365d")


def _bad_unit_cost(d):
    d["costs"]["unit_costs"]["jail_day"]["measure"] = "jail_dayz"


def _bad_count(d):
    d["models"]["counts"][0]["exposure"] = "observed_day_post_365d"


@pytest.mark.parametrize(
    "edit, message",
    [
        (_typo_outcome, "'arrest_post_128d' is not a column of the cohort; did you mean "
         "'arrest_post_182d'"),
        (_bad_cost_window, "costs.post_window: 730 is not one of design.post_windows"),
        (_bad_covariate, "did you mean 'arrests_pre_365d'"),
        (_bad_count, "did you mean 'observed_days_post_365d'"),
        (_bad_unit_cost, "measure 'jail_dayz' has no cohort column 'jail_dayz_pre_365d'; did you "
         "mean 'jail_days'"),
    ],
)
def test_config_mistakes_exit_2_before_the_run(tmp_path, no_models, edit, message):
    cfg = config_copy(tmp_path, "seattle", edit)
    result = run("report", cfg, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert message in flat and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_panel_outcome_typo_exits_2(tmp_path, no_models):
    cfg = config_copy(tmp_path, "seattle", lambda d: d["models"]["panel_outcomes"].append("shelterd"))
    result = run("report", cfg, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "did you mean 'sheltered'" in " ".join(result.output.split())


def test_bad_out_fails_before_any_work(tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the evaluation ran before --out was checked")

    monkeypatch.setattr("leadeval.report.writer.evaluate", refuse)
    a_file = tmp_path / "report.html"
    a_file.write_text("not a folder")
    result = run("report", ROOT / "configs" / "longmont.yaml", "--out", a_file)
    assert result.exit_code == 2 and "is a file, not a folder" in " ".join(result.output.split())
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    result = run("report", ROOT / "configs" / "longmont.yaml", "--out", foreign)
    assert result.exit_code == 2 and "leadeval did not write" in " ".join(result.output.split())
    assert (foreign / "notes.txt").read_text() == "my notes"


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.xdist_group("reports")
def test_second_report_into_the_same_folder_leaves_exactly_its_manifest(tmp_path, shipped_reports):
    """Seattle then Longmont into one folder: no stale Seattle table beside the Longmont report;
    the folder holds exactly the manifest, its tables and its hashed outputs. The Seattle report
    is a copy of the shared ``leadeval report configs/seattle.yaml`` run (conftest's
    ``shipped_reports``) with the person-level files ``--restricted`` adds, written from its
    evaluation by the writer's own ``write_restricted``."""
    from leadeval.report.writer import write_restricted

    seattle_run = shipped_reports["seattle"]
    out = tmp_path / "report"
    shutil.copytree(seattle_run.folder, out)
    write_restricted(seattle_run.evaluation, out / "restricted")
    seattle = _files(out)
    assert "restricted/persons.csv" in seattle and "tables/balance.csv" in seattle
    result = run("report", ROOT / "configs" / "longmont.yaml", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {"manifest.json", *(f"tables/{t}" for t in manifest["tables"]), *manifest["outputs"]}
    assert _files(out) == listed
    assert manifest["site"] == "longmont" and "report.html" in manifest["outputs"]
    assert not any(p.name.startswith(".report.") for p in tmp_path.iterdir())  # no temp left


@pytest.mark.xdist_group("reports")
def test_console_and_summary_lead_with_the_net_figure(shipped_reports):
    """On the shared ``leadeval report configs/seattle.yaml`` run (conftest's
    ``shipped_reports``: its console output and its report.html)."""
    output, html = shipped_reports.console("seattle"), shipped_reports["seattle"].html.read_text()
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[0].strip() == "seattle: key findings"
    assert lines[1].strip().startswith("- Net benefit per participant: $")
    flat = " ".join(output.split())
    assert "2022 dollars" in flat and "Chance that benefits exceed costs" in flat
    assert flat.index("Net benefit") < flat.index("avoided system costs (gross")
    summary = html[html.index('<section id="summary">') :]
    assert summary.index("Key findings") < summary.index("<p>")
    first_item = re.search(r"<li[^>]*>(.*?)</li>", summary, re.S).group(1)
    assert first_item.startswith("Net benefit per participant:")
    assert "Cost saving per participant-year" not in output


@pytest.mark.xdist_group("santa_fe_without_ems")
def test_skipped_analyses_are_listed_on_the_console_with_reasons(santa_fe_without_ems):
    """On the shared run of configs/santa_fe.yaml without its EMS extract (conftest's
    ``santa_fe_without_ems``, also read by test_report_e2e)."""
    result = santa_fe_without_ems.result
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "analyses not estimated:" in flat
    assert "- count:ems_calls_post_365d: column ems_calls_post_365d is not in the cohort" in flat


@pytest.mark.parametrize("path", sorted((ROOT / "data_samples").glob("*/site*.yaml")), ids=str)
def test_every_synth_written_config_runs(path):
    """What `leadeval synth` writes (data_samples/*/site*.yaml) is a complete config."""
    ev = evaluation.evaluate(load_config(path))
    assert ev.results, path
    if ev.config.design.comparison:
        assert ev.get("monte_carlo") is not None and ev.get("effect:arrest_post_182d") is not None
    else:
        assert ev.get("within_person") is not None


@pytest.mark.parametrize("site", ["seattle", "santa_fe", "longmont"])
def test_synth_analysis_equals_the_shipped_config(site):
    """The analysis sections synth writes are those of configs/<site>.yaml (no drift)."""
    shipped = yaml.safe_load((ROOT / "configs" / f"{site}.yaml").read_text())
    written = yaml.safe_load((ROOT / "data_samples" / site / "site.yaml").read_text())
    for key in ("design", "matching", "models", "costs", "report"):
        assert written.get(key) == shipped.get(key), key


def test_synth_writes_a_config_report_runs(tmp_path):
    out = tmp_path / "site"
    result = run("synth", "--profile", "longmont", "--participants", "120", "--pool", "10",
                 "--seed", "3", "--out", out, "--format", "csv")
    assert result.exit_code == 0, result.output
    result = run("report", out / "site.yaml", "--out", tmp_path / "rep")
    assert result.exit_code == 0, result.output


def test_init_maps_agency_columns_from_headers(tmp_path):
    """`leadeval init` on the agency-layout Seattle files recovers the column map of
    configs/seattle.yaml (the reference), and the written config loads."""
    out = tmp_path / "site.yaml"
    result = run("init", ROOT / "data_samples" / "seattle", "--site", "king", "--data-end-date",
                 "2016-06-30", "--out", out)
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(out.read_text())
    shipped = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    for name, src in shipped["extracts"].items():
        assert written["extracts"][name]["columns"] == src["columns"], name
    cfg = load_config(out)
    assert cfg.site == "king" and set(cfg.extracts) == set(shipped["extracts"])
    again = run("init", ROOT / "data_samples" / "seattle", "--site", "king", "--data-end-date",
                "2016-06-30", "--out", out)
    assert again.exit_code == 2 and "--force" in " ".join(again.output.split())
    bad = run("init", tmp_path / "nowhere", "--site", "x", "--data-end-date", "2016-06-30",
              "--out", tmp_path / "x.yaml")
    assert bad.exit_code == 2 and "not a folder" in " ".join(bad.output.split())
