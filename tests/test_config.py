"""Site config: parsing, every problem reported at once with its YAML key path, source checks.

Reference: the issue's contract for config errors, e.g.
``extracts.arrests.columns.arrest_date: column 'ArrestDt' not found in arrests.csv; available: ...``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from extracts_helpers import canonical_frames, write_frame

from leadeval.config import SiteConfig, load_config, parse_config
from leadeval.errors import ConfigError
from leadeval.extracts import check_sources, load_extracts


def _write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def agency_site(tmp_path):
    """An arrests extract in an agency layout (its own names and codes), with a roster."""
    frames = canonical_frames()
    write_frame(frames["roster"], tmp_path / "roster.csv")
    arrests = frames["arrests"].rename(
        columns={
            "arrest_id": "ArrestNo",
            "person_id": "PID",
            "arrest_date": "ArrestDt",
            "severity": "Sev",
        }
    )
    arrests["Sev"] = ["F", "M", "GM", "M", None]
    write_frame(arrests, tmp_path / "arrests.csv")
    config = {
        "site": "seattle",
        "data_end_date": "2016-06-30",
        "extracts": {
            "roster": {"path": "roster.csv"},
            "arrests": {
                "path": "arrests.csv",
                "columns": {
                    "arrest_id": "ArrestNo",
                    "person_id": "PID",
                    "arrest_date": "ArrestDt",
                    "severity": "Sev",
                },
                "codes": {
                    "severity": {"F": "felony", "M": "misdemeanor", "GM": "gross_misdemeanor"}
                },
            },
        },
    }
    return tmp_path, config


def test_load_config_reads_a_valid_site(agency_site):
    """A valid YAML loads into a frozen SiteConfig with absolute paths."""
    tmp_path, config = agency_site
    cfg = load_config(_write_yaml(tmp_path / "site.yaml", config))
    assert isinstance(cfg, SiteConfig)
    assert cfg.data_end_date == dt.date(2016, 6, 30)
    assert cfg.extracts["arrests"].path == (tmp_path / "arrests.csv").resolve()
    assert cfg.config_path == (tmp_path / "site.yaml").resolve()
    assert cfg.strict is False
    with pytest.raises(Exception, match="frozen"):
        cfg.site = "other"


def test_every_config_problem_at_once_with_key_paths():
    """Schema problems and mapping problems come together, one line each, with key paths, the
    bad value and what is allowed."""
    data = {
        "site": "s",
        "data_end_date": "30/06/2016",
        "strict": "sometimes",
        "extracts": {
            "roster": {"path": "r.csv", "colums": {}},
            "arrest": {"path": "a.csv"},
            "jail": {"path": "j.csv", "database": "duckdb:///x.duckdb", "table": "t"},
            "arrests": {
                "path": "a.csv",
                "format": "xml",
                "columns": {"arest_date": "ArrestDt"},
                "codes": {"severity": {"F": "felonious"}},
            },
        },
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="site.yaml")
    problems = info.value.problems
    text = str(info.value)
    assert text.startswith(f"site.yaml: {len(problems)} config problems:")
    expected = [
        "data_end_date: ",
        "strict: ",
        "extracts.roster.colums: unknown key",
        "extracts.arrest.[key]: got 'arrest'; allowed: 'roster'",
        "extracts.jail: give either 'path' or 'database', not both",
        "extracts.arrests.format: got 'xml'; allowed: 'csv', 'parquet', 'excel', 'duckdb', 'sql' or 'spark'",
        "extracts.arrests.columns.arest_date: not a column of the arrests extract; allowed: "
        "arrest_id, person_id, arrest_date, severity, offense_category, warrant",
        "extracts.arrests.codes.severity.F: 'felonious' is not a severity code; allowed: "
        "felony, gross_misdemeanor, misdemeanor",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, problems)
    assert len(problems) == len(expected)


def test_roster_is_required():
    with pytest.raises(ConfigError, match=r"extracts: a 'roster' extract is required"):
        parse_config(
            {"site": "s", "data_end_date": "2016-01-01", "extracts": {"arrests": {"path": "a.csv"}}}
        )


def test_yaml_scalars_become_text(tmp_path):
    """YAML reads numeric codes as ints and yes/no as booleans; they are agency text."""
    text = """
site: s
data_end_date: 2016-06-30
extracts:
  roster:
    path: roster.csv
    columns: {person_id: 1}
    codes: {group: {1: lead, 2: pool}}
  arrests:
    path: a.csv
    true_values: [yes, Y, 1]
    codes: {warrant: {W: yes, N: no}}
"""
    (tmp_path / "s.yaml").write_text(text)
    cfg = load_config(tmp_path / "s.yaml", check_sources=False)
    assert cfg.extracts["roster"].columns == {"person_id": "1"}
    assert cfg.extracts["roster"].codes == {"group": {"1": "lead", "2": "pool"}}
    assert cfg.extracts["arrests"].true_values == ["true", "Y", "1"]
    assert cfg.extracts["arrests"].codes["warrant"] == {"W": "true", "N": "false"}


def test_check_sources_lists_every_problem(agency_site):
    """Missing file, a mapped column absent (with suggestion and available columns), a required
    column neither mapped nor present, one of birth_date/birth_year, a bad date format and an
    unreadable file: all in one ConfigError."""
    tmp_path, config = agency_site
    roster = canonical_frames()["roster"].drop(columns=["birth_date", "birth_year"])
    write_frame(roster, tmp_path / "roster.csv")
    arrests = config["extracts"]["arrests"]
    arrests["columns"]["arrest_date"] = "arrestdt"
    arrests["columns"].pop("arrest_id")
    arrests["date_format"] = "%m/%d/%Q"
    config["extracts"]["jail"] = {"path": "jail.csv"}
    (tmp_path / "ems.parquet").write_text("not parquet")
    config["extracts"]["ems"] = {"path": "ems.parquet"}
    with pytest.raises(ConfigError) as info:
        load_config(_write_yaml(tmp_path / "site.yaml", config))
    problems = info.value.problems
    assert problems[0].startswith(
        "extracts.roster.columns: roster.csv needs one of birth_date, birth_year; map one as "
        "'birth_date: <your column>'"
    )
    assert problems[1].startswith(
        "extracts.arrests.columns.arrest_date: column 'arrestdt' not found in arrests.csv "
        "(did you mean 'ArrestDt'? names are case-sensitive); available: ArrestNo, PID, ArrestDt, "
        "Sev, offense_category, warrant"
    )
    assert problems[2].startswith(
        "extracts.arrests.columns.arrest_id: required column 'arrest_id' is not mapped and "
        "arrests.csv has no column 'arrest_id'; map it as 'arrest_id: <your column>'"
    )
    assert problems[3].startswith("extracts.arrests.date_format: '%m/%d/%Q' is not a valid")
    assert problems[4] == (
        f"extracts.jail.path: file not found: {(tmp_path / 'jail.csv').resolve()}; check the "
        "path (relative to the config file)"
    )
    assert problems[5].startswith("extracts.ems.path: cannot read ems.parquet as parquet: ")
    assert len(problems) == 6


def test_check_sources_reads_headers_only(agency_site):
    """check_sources on a valid config returns no problems; it does not need the data rows to be
    valid (a bad date is a row problem, found by load_extracts)."""
    tmp_path, config = agency_site
    cfg = parse_config(config, base_dir=tmp_path)
    assert check_sources(cfg) == []
    cfg_nocheck = load_config(
        _write_yaml(tmp_path / "x.yaml", {**config, "extracts": {"roster": {"path": "no.csv"}}}),
        check_sources=False,
    )
    assert cfg_nocheck.extracts["roster"].path.name == "no.csv"


def test_duckdb_urls_resolve_against_the_config_file(tmp_path):
    """``duckdb:///x.duckdb`` is relative to the config file; ``duckdb:////abs`` is absolute."""
    sub = tmp_path / "configs"
    sub.mkdir()
    data = {
        "site": "s",
        "data_end_date": "2016-06-30",
        "extracts": {
            "roster": {"database": "duckdb:///site.duckdb", "table": "roster"},
            "arrests": {"database": f"duckdb:///{tmp_path}/abs.duckdb", "table": "arrests"},
        },
    }
    cfg = load_config(_write_yaml(sub / "s.yaml", data), check_sources=False)
    assert cfg.extracts["roster"].database == f"duckdb:///{(sub / 'site.duckdb').resolve()}"
    assert cfg.extracts["arrests"].database == f"duckdb:///{tmp_path}/abs.duckdb"
    with pytest.raises(
        ConfigError,
        match=r"extracts\.roster\.database: file not found: "
        r".*configs/site\.duckdb",
    ):
        load_config(sub / "s.yaml")


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml; give the path"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("site: [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.yaml: 1 config problem:\n  - not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"the config must be a YAML mapping"):
        load_config(tmp_path / "list.yaml")


def test_excel_sheet_and_table_requirements(tmp_path):
    """Excel sources read the named sheet; database sources need a table."""
    frames = canonical_frames()
    with pd.ExcelWriter(tmp_path / "site.xlsx") as xl:
        frames["arrests"].to_excel(xl, sheet_name="arrests", index=False)
        frames["roster"].to_excel(xl, sheet_name="people", index=False)
    cfg = parse_config(
        {
            "site": "s",
            "data_end_date": "2016-06-30",
            "extracts": {
                "roster": {"path": "site.xlsx", "sheet": "people"},
                "arrests": {"path": "site.xlsx", "sheet": "arrests"},
            },
        },
        base_dir=tmp_path,
    )
    assert check_sources(cfg) == []
    ex = load_extracts(cfg)
    assert ex.clean and ex.quality["read"].tolist() == [4, 5]
    assert ex.quality["source"].tolist() == ["site.xlsx[people]", "site.xlsx[arrests]"]
    with pytest.raises(ConfigError, match=r"extracts\.roster: 'database' needs 'table'"):
        parse_config(
            {
                "site": "s",
                "data_end_date": "2016-06-30",
                "extracts": {"roster": {"database": "duckdb:///x.duckdb"}},
            }
        )


def test_a_database_password_is_in_no_message_or_output(tmp_path):
    """A password in a database URL (``user:password@`` or ``password=``) is never printed: not in
    the source's label (messages, the quality table), not in the manifest's inputs, not in the
    error when the server cannot be reached (here a port nothing listens on)."""
    from leadeval.report.manifest import input_fingerprints

    url = "postgresql://analyst:s3cret@127.0.0.1:1/ems?password=s3cret&connect_timeout=2"
    cfg = parse_config(
        {"site": "t", "data_end_date": "2016-06-30",
         "extracts": {"roster": {"database": url, "table": "public.people"}}},
        base_dir=tmp_path,
    )  # fmt: skip
    src = cfg.extracts["roster"]
    assert src.label == (
        "postgresql://analyst:***@127.0.0.1:1/ems?password=***&connect_timeout=2:public.people"
    )
    assert "s3cret" not in json.dumps(input_fingerprints(cfg))
    problems = check_sources(cfg)
    assert problems and "cannot read postgresql://analyst:***@" in problems[0]
    assert not any("s3cret" in p for p in problems)
