"""A catalog of malformed agency extracts: one small case per problem, each run through the API
(``load_config`` + ``load_extracts``) and the CLI (``leadeval validate``).

Reference: the data contract (docs/data_contract.md) and the CLI contract. Every case starts
from one valid base site (tests/extracts_helpers.py: four people and their events, all rules
satisfied, written as CSV), changes one thing, and states the outcome:

- ``error``: the load fails with a user error whose message contains every listed phrase; the
  CLI exits 2 and prints no traceback;
- ``quarantined``: exactly these rows (``{extract: {line or row: reason}}``; CSV lines count the
  header as line 1) are quarantined and everything else loads; the CLI exits 1; read = loaded +
  quarantined for every extract;
- otherwise the site loads clean (CLI exit 0), and ``check`` pins what was loaded (censored
  counts, dialect notes, parsed values).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml
from extracts_helpers import DATA_END, assert_reconciled, canonical_frames
from typer.testing import CliRunner

from leadeval.cli import app
from leadeval.config import load_config
from leadeval.errors import LeadevalError
from leadeval.extracts import load_extracts, quarantine_messages, write_quarantine

runner = CliRunner()

Frames = dict[str, pd.DataFrame]


@dataclass
class Site:
    """The base site of one case, in tmp_path: frames to write, the config, the written files."""

    tmp: Path
    frames: Frames
    config: dict[str, Any]

    def source(self, name: str) -> dict[str, Any]:
        return self.config["extracts"][name]

    def file(self, name: str) -> Path:
        return self.tmp / self.source(name)["path"]


@dataclass
class Case:
    id: str
    kind: str  # the problem class of the issue this case pins
    before: Callable[[Site], None] | None = None  # change frames or config before writing
    after: Callable[[Site], None] | None = None  # change the written files
    error: tuple[str, ...] = ()
    quarantined: dict[str, dict[int, str]] = field(default_factory=dict)
    check: Callable[[Any, Site], None] | None = None
    extracts: tuple[str, ...] = ("roster", "arrests")


def _write(site: Site) -> Path:
    for name, frame in site.frames.items():
        src = site.config["extracts"].setdefault(name, {"path": f"{name}.csv"})
        path = site.tmp / src["path"] if "path" in src else None
        if path is None or path.exists():
            continue
        suffix = path.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(path, index=False, sep=src.get("delimiter", ","))
        elif suffix == ".parquet":
            frame.to_parquet(path, index=False)
        elif suffix == ".xlsx":
            frame.to_excel(path, index=False)
    cfg = site.tmp / "site.yaml"
    cfg.write_text(yaml.safe_dump(site.config, sort_keys=False))
    return cfg


def _site(tmp: Path, case: Case) -> tuple[Site, Path]:
    frames = {n: f for n, f in canonical_frames().items() if n in case.extracts}
    config = {"site": "catalog", "data_end_date": DATA_END, "extracts": {}}
    site = Site(tmp, frames, config)
    for name in frames:
        config["extracts"][name] = {"path": f"{name}.csv"}
    if case.before:
        case.before(site)
    path = _write(site)
    if case.after:
        case.after(site)
    return site, path


# ---- small helpers for the cases ------------------------------------------------------------


def cell(name: str, row: int, **values: Any) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        for col, v in values.items():
            site.frames[name].loc[row, col] = v

    return change


def option(name: str, **values: Any) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        site.source(name).update(values)

    return change


def both(*changes: Callable[[Site], None]) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        for c in changes:
            c(site)

    return change


def raw(name: str, text: str | bytes) -> Callable[[Site], None]:
    """Replace a written file's content."""

    def change(site: Site) -> None:
        path = site.file(name)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return change


def edit_raw(name: str, old: str, new: str) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        path = site.file(name)
        path.write_bytes(path.read_bytes().replace(old.encode(), new.encode(), 1))

    return change


def us_dates(name: str, *cols: str) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        f = site.frames[name]
        for c in cols:
            f[c] = pd.to_datetime(f[c]).dt.strftime("%m/%d/%Y").where(f[c].notna(), None)

    return change


def dates_as_cells(name: str, *cols: str) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        for c in cols:
            site.frames[name][c] = pd.to_datetime(site.frames[name][c])

    return change


def as_format(suffix: str, *names: str) -> Callable[[Site], None]:
    def change(site: Site) -> None:
        for n in names:
            site.source(n)["path"] = f"{n}{suffix}"

    return change


def in_sqlite(*names: str, query: dict[str, str] | None = None, view: str | None = None):
    """Move extracts into a SQLite database (text columns, as SQLite stores dates)."""

    def change(site: Site) -> None:
        db = site.tmp / "agency.db"
        con = sqlite3.connect(db)
        for n in names:
            site.frames[n].astype(object).where(site.frames[n].notna(), None).to_sql(
                n, con, index=False
            )
            src = {k: v for k, v in site.source(n).items() if k != "path"}
            src["database"] = "sqlite://agency.db"
            if query and n in query:
                src["query"] = query[n]
            elif view == n:
                con.execute(f"CREATE VIEW {n}_v AS SELECT * FROM {n}")
                src["table"] = f"{n}_v"
            else:
                src["table"] = n
            site.config["extracts"][n] = src
        con.commit()
        con.close()

    return change


def in_duckdb(*names: str):
    def change(site: Site) -> None:
        con = duckdb.connect(str(site.tmp / "agency.duckdb"))
        for n in names:
            con.register("f", site.frames[n].astype(object))
            con.execute(f"CREATE TABLE {n} AS SELECT * FROM f")
            con.unregister("f")
            src = {k: v for k, v in site.source(n).items() if k != "path"}
            site.config["extracts"][n] = {**src, "path": "agency.duckdb", "table": n}
        con.close()

    return change


def loaded(name: str, col: str, expected: list) -> Callable[[Any, Site], None]:
    def check(ex, site: Site) -> None:
        got = ex.to_pandas(name)[col].tolist()
        assert [None if pd.isna(v) else v for v in got] == expected

    return check


def quality(name: str, **expected: Any) -> Callable[[Any, Site], None]:
    def check(ex, site: Site) -> None:
        row = ex.quality.set_index("extract").loc[name]
        for key, value in expected.items():
            if key == "notes":
                assert value in row["notes"], row["notes"]
            else:
                assert row[key] == value, (key, row[key])

    return check


def all_of(*checks: Callable[[Any, Site], None]) -> Callable[[Any, Site], None]:
    def check(ex, site: Site) -> None:
        for c in checks:
            c(ex, site)

    return check


def messages_contain(*words: str) -> Callable[[Any, Site], None]:
    def check(ex, site: Site) -> None:
        text = "\n".join(quarantine_messages(ex, load_config(site.tmp / "site.yaml")))
        for w in words:
            assert w in text, text

    return check


def quarantine_file_has(name: str, *cells: str) -> Callable[[Any, Site], None]:
    def check(ex, site: Site) -> None:
        out = site.tmp / "q"
        write_quarantine(ex, out)
        text = (out / f"{name}_quarantine.csv").read_text()
        for c in cells:
            assert c in text, text

    return check


ALL = (
    "roster", "arrests", "charges", "jail", "prison", "housing", "income", "ems", "contacts",
    "program_ledger",
)  # fmt: skip
ISO_ARRESTS = ["2013-06-01", "2014-09-01", "2015-02-01", "2014-08-08", "2015-03-03"]
ARREST_DAYS = [pd.Timestamp(d) for d in sorted(ISO_ARRESTS)]  # loaded sorted by arrest_id

CASES = [
    # ---- every source type, with and without date_format ---------------------------------
    Case(
        "excel_text_dates_with_date_format", "sources",
        before=both(us_dates("roster", "referral_date", "birth_date", "enrollment_date",
                             "first_contact_date", "exit_date", "death_date"),
                    us_dates("arrests", "arrest_date"), as_format(".xlsx", "roster", "arrests"),
                    option("roster", date_format="%m/%d/%Y"),
                    option("arrests", date_format="%m/%d/%Y")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "excel_date_cells_with_date_format", "sources",
        before=both(dates_as_cells("arrests", "arrest_date"), as_format(".xlsx", "arrests"),
                    option("arrests", date_format="%m/%d/%Y")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "excel_without_date_format", "sources",
        before=both(dates_as_cells("arrests", "arrest_date"), as_format(".xlsx", "roster", "arrests")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "sql_text_dates_iso", "sources", before=in_sqlite("roster", "arrests"),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "sql_text_dates_with_date_format", "sources",
        before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%m/%d/%Y"),
                    in_sqlite("roster", "arrests")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "sql_query", "sources",
        before=in_sqlite("roster", "arrests",
                         query={"arrests": "SELECT * FROM arrests WHERE person_id <> 'P4'"}),
        check=all_of(loaded("arrests", "arrest_id", ["A1", "A2", "A3", "A4"]),
                     quality("arrests", read=4)),
    ),
    Case(
        "sql_view_with_date_format", "sources",
        before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%m/%d/%Y"),
                    in_sqlite("roster", "arrests", view="arrests")),
        check=loaded("arrests", "arrest_id", ["A1", "A2", "A3", "A4", "A5"]),
    ),
    Case(
        "duckdb_file_text_dates_with_date_format", "sources",
        before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%m/%d/%Y"),
                    in_duckdb("roster", "arrests")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "parquet_text_dates_with_date_format", "sources",
        before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%m/%d/%Y"),
                    as_format(".parquet", "arrests")),
        check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS]),
    ),
    Case(
        "xls_that_is_not_a_workbook", "sources", before=as_format(".xls", "arrests"),
        after=raw("arrests", b"\xd0\xcf\x11\xe0 not really a workbook"),
        error=("arrests.xls", "cannot read", "as excel", "not an office document", "check the file"),
    ),
    # ---- the analytic universe is broken: fail the load -----------------------------------
    Case(
        "every_group_code_unmapped", "universe",
        before=lambda s: s.frames["roster"].__setitem__("group", ["L", "L", "C", "C"]),
        error=("4 of 4 roster rows", "bad_code in group", "codes are not mapped", "'L'",
               "extracts.roster.codes.group"),
    ),
    Case(
        "duplicated_roster_person_id", "universe",
        before=lambda s: s.frames.__setitem__("roster", pd.concat(
            [s.frames["roster"], s.frames["roster"].iloc[[1]].assign(sex="M")], ignore_index=True)),
        error=("1 person_id appears on two or more different roster rows", "'P2'",
               "one row per person"),
    ),
    Case(
        "two_duplicated_roster_ids_are_listed", "universe",
        before=lambda s: s.frames.__setitem__("roster", pd.concat(
            [s.frames["roster"], s.frames["roster"].iloc[[1, 2]].assign(area="x")],
            ignore_index=True)),
        error=("2 person_ids appear", "'P2', 'P3'"),
    ),
    Case(
        "event_ids_from_another_system", "universe",
        before=lambda s: s.frames["arrests"].__setitem__("person_id", ["X1", "X2", "X3", "X4", "P1"]),
        error=("4 of 5 arrests rows (80%)", "unknown_person", "do not match the roster",
               "extracts.arrests.columns.person_id"),
    ),
    Case(
        "quarantined_share_is_configurable", "universe",
        before=both(lambda s: s.frames["arrests"].__setitem__("person_id", ["X1", "X2", "X3", "X4", "P1"]),
                    lambda s: s.config.__setitem__("max_quarantined_share", 0.9)),
        quarantined={"arrests": {2: "unknown_person", 3: "unknown_person", 4: "unknown_person",
                                 5: "unknown_person"}},
    ),
    # ---- a wrong date_format is named ---------------------------------------------------
    Case(
        "date_format_matches_no_arrest_date", "date_format",
        before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%d.%m.%Y")),
        error=("5 of 5 arrests rows", "the date_format '%d.%m.%Y' matched none of arrest_date's "
               "values; first values: '06/01/2013'"),
    ),
    Case(
        "date_format_matches_no_roster_date", "date_format",
        before=both(us_dates("roster", "referral_date", "birth_date", "enrollment_date",
                             "first_contact_date", "exit_date", "death_date"),
                    option("roster", date_format="%Y/%m/%d")),
        error=("roster rows", "the date_format '%Y/%m/%d' matched none of"),
    ),
    Case(
        "us_dates_without_date_format", "date_format",
        before=us_dates("arrests", "arrest_date"),
        error=("arrest_date's values are not ISO dates; first values: '06/01/2013'",
               "set extracts.arrests.date_format"),
    ),
    # ---- dates after the data end are censored, not quarantined --------------------------
    Case(
        "exit_after_data_end", "data_end", before=cell("roster", 1, exit_date="2017-01-01"),
        check=quality("roster", censored=1, quarantined=0, notes="censored at the data end"),
    ),
    Case(
        "death_after_data_end", "data_end", before=cell("roster", 3, death_date="2016-08-01"),
        check=all_of(quality("roster", censored=1, loaded=4),
                     loaded("roster", "death_date", [None, None, None, pd.Timestamp("2016-08-01")])),
    ),
    Case(
        "release_after_data_end", "data_end", extracts=("roster", "jail"),
        before=cell("jail", 2, release_date="2016-09-01"),
        check=quality("jail", censored=1, loaded=3, notes="release_date after the data end"),
    ),
    Case(
        "housing_end_after_data_end", "data_end", extracts=("roster", "housing"),
        before=cell("housing", 2, end_date="2016-12-31"),
        check=quality("housing", censored=1, loaded=4),
    ),
    Case(
        "prison_release_after_data_end", "data_end", extracts=("roster", "prison"),
        before=cell("prison", 1, release_date="2017-02-01"),
        check=quality("prison", censored=1, loaded=2),
    ),
    Case(
        "referral_after_data_end_stays_in_the_roster", "data_end",
        before=both(cell("roster", 2, referral_date="2016-08-01")),
        check=all_of(quality("roster", loaded=4, quarantined=0, censored=1),
                     quality("arrests", loaded=5)),
    ),
    # ---- rules -------------------------------------------------------------------------
    Case("two_digit_birth_year", "rules", before=cell("roster", 0, birth_date="80-02-01"),
         quarantined={"roster": {2: "two_digit_year"},  # P1 is not in the universe, nor A1, A2
                      "arrests": {2: "unknown_person", 3: "unknown_person"}},
         check=messages_contain("two-digit year (e.g. '80-02-01'", "two_digit_year_pivot")),
    Case("two_digit_year_with_pivot", "rules",
         before=both(cell("roster", 0, birth_date="80-02-01"),
                     option("roster", two_digit_year_pivot=30)),
         check=loaded("roster", "birth_date", [pd.Timestamp("1980-02-01"), None,
                                               pd.Timestamp("1990-07-15"),
                                               pd.Timestamp("1975-12-31")])),
    Case("two_digit_year_under_a_four_digit_format", "rules",
         before=both(us_dates("arrests", "arrest_date"), option("arrests", date_format="%m/%d/%Y"),
                     cell("arrests", 1, arrest_date="09/01/14")),
         quarantined={"arrests": {3: "two_digit_year"}}),
    Case("percent_y_format_needs_a_pivot", "rules",
         before=option("arrests", date_format="%m/%d/%y"),
         error=("two-digit year (%y)", "two_digit_year_pivot")),
    Case("percent_y_format_with_pivot", "rules",
         before=both(lambda s: s.frames["arrests"].__setitem__(
             "arrest_date", ["06/01/13", "09/01/14", "02/01/15", "08/08/14", "03/03/15"]),
             option("arrests", date_format="%m/%d/%y", two_digit_year_pivot=30)),
         check=loaded("arrests", "arrest_date", [pd.Timestamp(d) for d in ISO_ARRESTS])),
    Case("month_with_one_digit", "rules", extracts=("roster", "income"),
         before=cell("income", 1, month="2014-8"), quarantined={"income": {3: "bad_date"}}),
    Case("ledger_month_with_one_digit", "rules", extracts=("roster", "program_ledger"),
         before=cell("program_ledger", 0, month="2014-3"),
         quarantined={"program_ledger": {2: "bad_date"}}),
    Case("negative_ledger_amount", "rules", extracts=("roster", "program_ledger"),
         before=cell("program_ledger", 2, amount="-12000"),
         quarantined={"program_ledger": {4: "negative_amount"}},
         check=messages_contain("a negative amount (e.g. '-12000.0')", "allow_credits")),
    Case("negative_income_amount", "rules", extracts=("roster", "income"),
         before=cell("income", 0, amount="-5"), quarantined={"income": {2: "negative_amount"}}),
    Case("credits_allowed", "rules", extracts=("roster", "program_ledger"),
         before=both(cell("program_ledger", 2, amount="-12000"),
                     option("program_ledger", allow_credits=True)),
         check=loaded("program_ledger", "amount", [25000.0, 27000.5, -12000.0])),
    Case("arrest_after_death", "rules", before=cell("arrests", 4, arrest_date="2016-02-01"),
         quarantined={"arrests": {6: "after_death"}},
         check=messages_contain("arrest_date 2016-02-01 after death_date 2016-01-01")),
    Case("ems_call_after_death", "rules", extracts=("roster", "ems"),
         before=cell("ems", 2, call_datetime="2016-03-01 08:00:00"),
         quarantined={"ems": {4: "after_death"}}),
    Case("booking_after_death", "rules", extracts=("roster", "jail"),
         before=cell("jail", 2, booking_date="2016-02-01"), quarantined={"jail": {4: "after_death"}}),
    Case("age_below_ten", "rules", before=cell("roster", 1, birth_year="2010"),
         quarantined={"roster": {3: "implausible_age"}, "arrests": {4: "unknown_person"}},
         check=messages_contain("age 4 at the index date")),
    Case("age_above_110", "rules", before=cell("roster", 2, birth_date="1890-01-01"),
         quarantined={"roster": {4: "implausible_age"}, "arrests": {5: "unknown_person"}}),
    # ---- CSV dialects -----------------------------------------------------------------
    Case("semicolon_delimiter_detected", "dialect", before=option("arrests", delimiter=";"),
         after=lambda s: s.source("arrests").pop("delimiter") and _rewrite_yaml(s),
         check=quality("arrests", loaded=5, notes="delimiter ';' detected")),
    Case("tab_delimiter_detected", "dialect", before=option("arrests", delimiter="\t"),
         after=lambda s: s.source("arrests").pop("delimiter") and _rewrite_yaml(s),
         check=quality("arrests", loaded=5, notes="delimiter '\\t' detected")),
    Case("configured_pipe_delimiter", "dialect", before=option("arrests", delimiter="|"),
         check=all_of(quality("arrests", loaded=5),
                      lambda ex, s: _no_note(ex, "arrests", "detected"))),
    Case("duplicated_header_column", "dialect",
         after=edit_raw("arrests", "offense_category", "severity"),
         error=("arrests.csv has the column name 'severity' more than once",
                "give every column its own name")),
    Case("ids_padded_with_spaces", "dialect", after=edit_raw("arrests", "A2,P1", " A2 , P1 "),
         check=all_of(quality("arrests", trimmed=2, notes="spaces trimmed around arrest_id, person_id"),
                      loaded("arrests", "arrest_id", ["A1", "A2", "A3", "A4", "A5"]))),
    Case("codes_padded_with_spaces", "dialect", after=edit_raw("arrests", "felony", "  felony "),
         check=quality("arrests", trimmed=1, notes="severity")),
    Case("stray_delimiter", "dialect", after=edit_raw("arrests", "A3,P2", "A3,P2,"),
         quarantined={"arrests": {4: "malformed_line"}},
         check=messages_contain("more fields than the header", "line 4")),
    Case("truncated_last_line", "dialect",
         after=lambda s: s.file("arrests").write_bytes(
             s.file("arrests").read_bytes().rstrip(b"\n").rsplit(b",", 3)[0]),
         quarantined={"arrests": {6: "malformed_line"}},
         check=messages_contain("fewer fields than the header (a truncated line?)")),
    Case("unterminated_quote", "dialect", after=edit_raw("arrests", "A5,P4", '"A5,P4'),
         quarantined={"arrests": {6: "malformed_line"}},
         check=messages_contain("never closed")),
    Case("not_utf8", "dialect",
         after=lambda s: s.file("roster").write_bytes(
             s.file("roster").read_bytes().replace(b"downtown", b"caf\xe9", 1)),
         error=("roster.csv: line 2 is not valid UTF-8", "set extracts.roster.encoding", "cp1252")),
    Case("cp1252_declared", "dialect", before=option("roster", encoding="cp1252"),
         after=lambda s: s.file("roster").write_bytes(
             s.file("roster").read_bytes().replace(b"downtown", b"caf\xe9 \x80", 1)),
         check=all_of(quality("roster", notes="encoding cp1252"),
                      lambda ex, s: "café €" in ex.to_pandas("roster")["area"].tolist())),
    Case("invalid_in_the_declared_encoding", "dialect", before=option("roster", encoding="cp1252"),
         after=lambda s: s.file("roster").write_bytes(
             s.file("roster").read_bytes() + b"P5,lead,2014-01-01,,,,,1970,\x81,,,,\n"),
         error=("roster.csv: line 6 is not valid cp1252",)),
    Case("no_header_line", "dialect",
         before=lambda s: s.config["extracts"].__setitem__("arrests", {
             "path": "arrests.csv", "header": False,
             "columns": {"arrest_id": "column1", "person_id": "column2", "arrest_date": "column3"}}),
         after=lambda s: s.file("arrests").write_bytes(
             s.file("arrests").read_bytes().split(b"\n", 1)[1]),
         check=all_of(loaded("arrests", "arrest_id", ["A1", "A2", "A3", "A4", "A5"]),
                      quality("arrests", notes="no header line"))),
    Case("header_missing_but_expected", "dialect",
         after=lambda s: s.file("arrests").write_bytes(
             s.file("arrests").read_bytes().split(b"\n", 1)[1]),
         error=("required column 'arrest_id' is not mapped", "looks like data",
                "set header: false")),
    Case("bom_and_crlf", "dialect",
         after=lambda s: s.file("arrests").write_bytes(
             b"\xef\xbb\xbf" + s.file("arrests").read_bytes().replace(b"\n", b"\r\n")),
         check=loaded("arrests", "arrest_id", ["A1", "A2", "A3", "A4", "A5"])),
    Case("quoted_delimiter_and_line_break", "dialect",
         before=cell("arrests", 1, offense_category="drugs, and\nmore"),
         check=all_of(quality("arrests", loaded=5, quarantined=0),
                      lambda ex, s: "drugs, and\nmore"
                      in ex.to_pandas("arrests")["offense_category"].tolist())),
    Case("over_long_field", "dialect", before=cell("arrests", 2, offense_category="x" * 20_000),
         quarantined={"arrests": {4: "field_too_long"}},
         check=messages_contain("longer than 10000 characters (e.g. '20000 characters')")),
    Case("over_long_field_custom_limit", "dialect",
         before=both(cell("arrests", 0, offense_category="y" * 60),
                     option("arrests", max_field_length=50)),
         quarantined={"arrests": {2: "field_too_long"}}),
    Case("header_only", "dialect", after=raw("arrests", "arrest_id,person_id,arrest_date\n"),
         error=("the arrests extract has no data rows",)),
    Case("empty_file", "dialect", after=raw("arrests", ""),
         error=("arrests.csv has no columns",)),
    # ---- outputs are safe in a spreadsheet ------------------------------------------------
    Case("formula_in_a_quarantined_row", "outputs",
         before=cell("arrests", 1, offense_category="=HYPERLINK(\"http://x\")",
                     arrest_date="someday"),
         quarantined={"arrests": {3: "bad_date"}},
         check=quarantine_file_has("arrests", "'=HYPERLINK")),
    Case("at_plus_and_minus_cells", "outputs",
         before=both(cell("arrests", 1, offense_category="@SUM(A1)", person_id="P9"),
                     cell("arrests", 3, offense_category="+cmd", severity="-x")),
         quarantined={"arrests": {3: "unknown_person", 5: "bad_code"}},
         check=quarantine_file_has("arrests", "'@SUM(A1)", "'+cmd", "'-x")),
    # ---- messages: lines, ids, both dates --------------------------------------------------
    Case("duplicate_arrest_ids_are_listed", "messages",
         before=lambda s: s.frames.__setitem__("arrests", pd.concat(
             [s.frames["arrests"], s.frames["arrests"].iloc[[1]].assign(severity="felony")],
             ignore_index=True)),
         quarantined={"arrests": {3: "duplicate_key", 7: "duplicate_key"}},
         check=messages_contain("(lines 3, 7; e.g. A2)")),
    Case("interval_message_shows_both_dates", "messages", extracts=("roster", "jail"),
         before=cell("jail", 0, release_date="2013-05-31"),
         quarantined={"jail": {2: "end_before_start"}},
         check=messages_contain("release_date 2013-05-31 before booking_date 2013-06-01")),
    Case("parquet_rows_are_data_rows", "messages", before=both(
        as_format(".parquet", "arrests"), cell("arrests", 1, severity="FEL")),
        quarantined={"arrests": {2: "bad_code"}}, check=messages_contain("(data row 2)")),
    Case("excel_rows_are_sheet_rows", "messages", before=both(
        as_format(".xlsx", "arrests"), cell("arrests", 1, severity="FEL")),
        quarantined={"arrests": {3: "bad_code"}}, check=messages_contain("(sheet row 3)")),
    Case("mapped_column_typo", "messages",
         before=option("arrests", columns={"arrest_date": "arest_date"}),
         error=("column 'arest_date' not found", "did you mean 'arrest_date'")),
    Case("required_column_missing", "messages",
         before=lambda s: s.frames.__setitem__("arrests", s.frames["arrests"].drop(columns="arrest_date")),
         error=("required column 'arrest_date' is not mapped",)),
    Case("unknown_encoding_name", "messages", before=option("roster", encoding="klingon"),
         error=("unknown text encoding 'klingon'",)),
    Case("all_extracts_with_one_bad_row_each", "messages", extracts=ALL,
         before=both(cell("arrests", 0, warrant="maybe"), cell("jail", 1, release_date="x"),
                     cell("ems", 0, transported="?"), cell("income", 2, source="wages")),
         quarantined={"arrests": {2: "bad_bool"}, "jail": {3: "bad_date"}, "ems": {2: "bad_bool"},
                      "income": {4: "bad_code"}}),
]


def _rewrite_yaml(site: Site) -> bool:
    (site.tmp / "site.yaml").write_text(yaml.safe_dump(site.config, sort_keys=False))
    return True


def _no_note(ex, name: str, word: str) -> None:
    notes = ex.quality.set_index("extract").loc[name, "notes"]
    assert word not in notes, notes


def _rows(ex, name: str) -> dict[int, str]:
    q = ex.quarantined[name]
    where = q["line"] if q["line"].notna().all() else q["source_row"]
    return dict(zip(where.astype(int).tolist(), q["reason"].tolist(), strict=True))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalog_api(tmp_path, case):
    site, path = _site(tmp_path, case)
    if case.error:
        with pytest.raises(LeadevalError) as info:
            load_extracts(load_config(path))
        for words in case.error:
            assert words in str(info.value), str(info.value)
        return
    ex = load_extracts(load_config(path))
    assert_reconciled(ex)
    for name in ex.quality["extract"]:
        assert _rows(ex, name) == case.quarantined.get(name, {}), name
    if case.check:
        case.check(ex, site)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalog_cli(tmp_path, case):
    _, path = _site(tmp_path, case)
    result = runner.invoke(app, ["validate", str(path)], terminal_width=200)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    flat = " ".join(result.output.split())
    if case.error:
        assert result.exit_code == 2, result.output
        assert " ".join(case.error[0].split()) in flat, flat
    elif case.quarantined:
        assert result.exit_code == 1, result.output
        n = sum(len(v) for v in case.quarantined.values())
        assert f"{n} rows quarantined" in flat or f"{n} row" in flat, flat
    else:
        assert result.exit_code == 0, result.output


def test_catalog_covers_every_class_twice():
    """The issue's problem classes each have at least two cases, and there are at least 60."""
    kinds = pd.Series([c.kind for c in CASES]).value_counts()
    assert len(CASES) >= 60
    assert set(kinds.index) == {
        "sources", "universe", "date_format", "data_end", "rules", "dialect", "outputs",
        "messages",
    }  # fmt: skip
    assert (kinds >= 2).all(), kinds
