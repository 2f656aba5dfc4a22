"""Small, valid extracts for the loader tests, written in tmp_path as the tests need them.

Every frame follows the data contract (canonical names and codes) and passes every validation
rule; a test breaks one cell to pin one rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from leadeval.config import parse_config
from leadeval.extracts import load_extracts

DATA_END = "2016-06-30"


def canonical_frames() -> dict[str, pd.DataFrame]:
    """All ten extracts for four people (two LEAD, two pool), every rule satisfied, as text."""
    roster = pd.DataFrame(
        {
            "person_id": ["P1", "P2", "P3", "P4"],
            "group": ["lead", "lead", "pool", "pool"],
            "referral_date": ["2014-03-01", "2014-05-10", "2014-04-02", "2015-01-20"],
            "enrollment_date": ["2014-03-05", "2014-05-20", None, None],
            "first_contact_date": ["2014-03-03", "2014-05-12", None, None],
            "referral_type": ["arrest_diversion", "social_contact", None, None],
            "birth_date": ["1980-02-01", None, "1990-07-15", "1975-12-31"],
            "birth_year": ["1980", "1985", None, None],
            "sex": ["M", "F", "M", "F"],
            "race_ethnicity": ["white", "black", "white", "latino"],
            "area": ["downtown", "belltown", "downtown", "belltown"],
            "exit_date": [None, "2015-06-01", None, None],
            "death_date": [None, None, None, "2016-01-01"],
        }
    )
    arrests = pd.DataFrame(
        {
            "arrest_id": ["A1", "A2", "A3", "A4", "A5"],
            "person_id": ["P1", "P1", "P2", "P3", "P4"],
            "arrest_date": ["2013-06-01", "2014-09-01", "2015-02-01", "2014-08-08", "2015-03-03"],
            "severity": ["felony", "misdemeanor", "gross_misdemeanor", "misdemeanor", None],
            "offense_category": ["drug", "property", "drug", None, "other"],
            "warrant": ["false", "true", "false", None, "false"],
        }
    )
    charges = pd.DataFrame(
        {
            "charge_id": ["C1", "C2", "C3"],
            "person_id": ["P1", "P2", "P3"],
            "filing_date": ["2013-06-03", "2015-02-03", "2014-08-10"],
            "court": ["superior", "municipal", "district"],
            "severity": ["felony", "misdemeanor", "misdemeanor"],
            "disposition": ["guilty", "dismissed", None],
            "disposition_date": ["2013-09-01", "2015-03-01", None],
        }
    )
    jail = pd.DataFrame(
        {
            "booking_id": ["B1", "B2", "B3"],
            "person_id": ["P1", "P3", "P4"],
            "booking_date": ["2013-06-01", "2014-08-08", "2015-03-03"],
            "release_date": ["2013-06-04", "2014-08-09", None],
        }
    )
    prison = pd.DataFrame(
        {
            "person_id": ["P1", "P3"],
            "admission_date": ["2013-09-02", "2015-01-01"],
            "release_date": ["2013-12-01", None],
        }
    )
    housing = pd.DataFrame(
        {
            "person_id": ["P1", "P1", "P2", "P3"],
            "start_date": ["2014-01-01", "2014-06-01", "2014-05-10", "2014-02-01"],
            "end_date": ["2014-05-31", None, "2015-01-01", None],
            "status": ["unsheltered", "permanent", "emergency_shelter", "unsheltered"],
        }
    )
    income = pd.DataFrame(
        {
            "person_id": ["P1", "P1", "P2", "P4"],
            "month": ["2014-07", "2014-08", "2015-01", "2015-02"],
            "source": ["benefits", "employment", "none", "other_legitimate"],
            "amount": ["733.5", "1200", None, "50"],
        }
    )
    ems = pd.DataFrame(
        {
            "call_id": ["E1", "E2", "E3"],
            "person_id": ["P1", "P3", "P4"],
            "call_datetime": ["2014-02-01 03:15:00", "2014-10-10 12:00:00", "2015-02-01"],
            "transported": ["true", "false", None],
        }
    )
    contacts = pd.DataFrame(
        {
            "person_id": ["P1", "P1", "P1", "P2"],
            "contact_date": ["2014-03-03", "2014-03-10", "2014-03-10", "2014-05-12"],
            "contact_type": ["outreach", "office", "office", "outreach"],
            "substantive": ["true", "true", "true", "false"],
        }
    )
    ledger = pd.DataFrame(
        {
            "month": ["2014-03", "2014-04", "2014-04"],
            "category": ["case_management", "case_management", "housing"],
            "amount": ["25000", "27000.5", "12000"],
        }
    )
    return {
        "roster": roster,
        "arrests": arrests,
        "charges": charges,
        "jail": jail,
        "prison": prison,
        "housing": housing,
        "income": income,
        "ems": ems,
        "contacts": contacts,
        "program_ledger": ledger,
    }


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame in the format its suffix names (CSV, Parquet or Excel)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        raise ValueError(suffix)
    return path


def site_config(
    tmp_path: Path,
    frames: dict[str, pd.DataFrame],
    suffix: str = ".csv",
    sources: dict[str, dict[str, Any]] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """Write ``frames`` into ``tmp_path`` and return a config dict pointing at them."""
    extracts = {}
    for name, frame in frames.items():
        write_frame(frame, tmp_path / f"{name}{suffix}")
        extracts[name] = {"path": f"{name}{suffix}", **(sources or {}).get(name, {})}
    return {"site": "test", "data_end_date": DATA_END, "extracts": extracts, **top}


def load(tmp_path: Path, config: dict[str, Any]):
    """parse_config + load_extracts, paths relative to tmp_path."""
    return load_extracts(parse_config(config, base_dir=tmp_path))


def load_frames(tmp_path: Path, frames: dict[str, pd.DataFrame], **kwargs: Any):
    """Write the frames as CSV and load them."""
    return load(tmp_path, site_config(tmp_path, frames, **kwargs))


def reasons(extracts, name: str) -> dict[int, str]:
    """{source_row: reason} of the quarantined rows of one extract."""
    q = extracts.quarantined[name]
    return dict(zip(q["source_row"].tolist(), q["reason"].tolist(), strict=True))


def assert_reconciled(extracts) -> None:
    q = extracts.quality
    assert (q["read"] == q["loaded"] + q["quarantined"]).all(), q
    for row in q.itertuples():
        assert extracts[row.extract].count().execute() == row.loaded
        assert len(extracts.quarantined[row.extract]) == row.quarantined
        r = extracts.quarantine_reasons
        assert r.loc[r["extract"] == row.extract, "rows"].sum() == row.quarantined
