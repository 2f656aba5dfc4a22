"""``leadeval init``: start a new site's config from its extract files.

Each extract file in a folder (``roster.csv``, ``arrests.parquet``, ...; the name must contain the
extract's name) is opened for its header only, and every canonical column is mapped to the
agency's column whose normalised name matches it, a known synonym (``DOB`` -> ``birth_date``) or a
close spelling. Columns that could not be mapped are left as ``TODO`` comments to fill in by hand;
the analysis sections come from the generic template (``leadeval.synth.writer.analysis_sections``).

>>> _normalise("Referral_Dt")
'referraldt'
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path

import yaml

from leadeval.errors import ConfigError
from leadeval.extracts.schemas import SCHEMAS

__all__ = ["init_config", "map_columns"]

SUFFIXES = (".csv", ".parquet", ".xlsx")
# agency spellings seen in LEAD extracts for canonical columns (normalised: lower case, no _)
SYNONYMS = {
    "birth_date": ("dob", "dateofbirth", "birthdt", "birthday"),
    "sex": ("gender",),
    "race_ethnicity": ("race", "raceeth", "ethnicity"),
    "area": ("neighborhood", "neighbourhood", "district", "precinct", "zone"),
    "group": ("cohort", "arm", "studygroup"),
    "referral_type": ("reftype",),
    "severity": ("offlevel", "chargelevel", "level"),
    "offense_category": ("offensedesc", "offense", "offence"),
    "warrant": ("warrantflag",),
    "filing_date": ("filedt",),
    "court": ("courtcd",),
    "disposition": ("dispdesc",),
    "disposition_date": ("dispdt",),
    "booking_date": ("bookdt",),
    "release_date": ("reldt",),
    "admission_date": ("admitdt",),
    "start_date": ("entrydt", "entrydate"),
    "end_date": ("exitdt", "exitdate"),
    "status": ("livingsit", "livingsituation"),
    "month": ("rptmonth", "fiscalmonth", "reportmonth"),
    "source": ("incsource", "incomesource"),
    "amount": ("amt", "expense"),
    "call_datetime": ("dispatchtime", "calltime"),
    "transported": ("transport",),
    "contact_type": ("contactmode",),
    "category": ("costcenter",),
    "enrollment_date": ("enrolldt",),
    "first_contact_date": ("firstcmcontactdt", "firstcontact"),
    "call_id": ("incidentno",),
    "arrest_id": ("arrestno",),
    "charge_id": ("caseno",),
    "booking_id": ("bookingno",),
    "person_id": ("clientid", "patientid", "personid", "id"),
}


def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _header(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if path.suffix == ".xlsx":
        import openpyxl

        ws = openpyxl.load_workbook(path, read_only=True).active
        return [str(c.value) for c in next(ws.iter_rows(max_row=1)) if c.value is not None]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        import csv

        return next(csv.reader(fh), [])


def map_columns(extract: str, header: list[str]) -> tuple[dict[str, str], list[str]]:
    """Canonical -> agency column for one extract, and the canonical columns left unmapped."""
    by_norm = {_normalise(h): h for h in header}
    mapping, unmapped, used = {}, [], set()
    for col in SCHEMAS[extract].columns:
        want = _normalise(col.name)
        hit = by_norm.get(want)
        if hit is None:
            for syn in SYNONYMS.get(col.name, ()):
                if syn in by_norm:
                    hit = by_norm[syn]
                    break
        if hit is None:
            near = difflib.get_close_matches(want, list(by_norm), n=1, cutoff=0.8)
            hit = by_norm[near[0]] if near else None
        if hit is None or hit in used:
            unmapped.append(col.name)
            continue
        used.add(hit)
        if hit != col.name:
            mapping[col.name] = hit
    return mapping, unmapped


def _find(folder: Path, extract: str) -> Path | None:
    hits = sorted(
        p for p in folder.iterdir() if p.suffix in SUFFIXES and extract in p.stem.lower()
    )
    if extract == "program_ledger":
        hits = hits or sorted(
            p for p in folder.iterdir() if p.suffix in SUFFIXES and "ledger" in p.stem.lower()
        )
    hits = [p for p in hits if extract != "prison" or "prison" in p.stem.lower()]
    # prefer CSV, then Parquet, then Excel; an exact stem wins
    hits.sort(key=lambda p: (p.stem.lower() != extract, SUFFIXES.index(p.suffix)))
    return hits[0] if hits else None


def init_config(
    folder: str | Path, site: str, data_end_date: dt.date, config_path: str | Path
) -> str:
    """The YAML text of a new site config for the extract files in ``folder``.

    Paths are written relative to ``config_path``'s folder, where the config will live.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"init: {folder} is not a folder of extract files", "init")
    base = Path(config_path).resolve().parent
    extracts, todo = {}, []
    for name in SCHEMAS:
        path = _find(folder, name)
        if path is None:
            continue
        mapping, unmapped = map_columns(name, _header(path))
        try:
            rel = path.resolve().relative_to(base).as_posix()
        except ValueError:
            rel = str(path.resolve())
        entry: dict = {"path": rel}
        if mapping:
            entry["columns"] = mapping
        extracts[name] = entry
        required = set(SCHEMAS[name].required)
        for col in unmapped:
            kind = "required" if col in required else "optional"
            todo.append(f"#   {name}.{col} ({kind}): no matching column in {path.name}")
    if "roster" not in extracts:
        raise ConfigError(
            f"init: no roster file in {folder} (a file whose name contains 'roster'); the roster "
            "is the one extract every site needs",
            "init",
        )
    head = {"site": site, "data_end_date": data_end_date.isoformat(), "extracts": extracts}
    from leadeval.synth.profiles import get_profile
    from leadeval.synth.writer import analysis_sections

    generic = analysis_sections(_GenericProfile(get_profile("santa_fe").design()))
    lines = [
        f"# Site config for {site}, started by `leadeval init` from the files in {folder}.",
        "# Check every column mapping below, add `codes:` where the agency's codes differ from the",
        "# data contract (docs/data_contract.md), and `date_format:` for non-ISO dates.",
    ]
    if todo:
        lines += ["# TODO: columns not found (map them under `columns:` or leave optional ones out):"]
        lines += todo
    return "\n".join(lines) + "\n" + yaml.safe_dump(head, sort_keys=False) + generic


class _GenericProfile:
    """Stands in for a synthetic profile: the generic analysis for the given design."""

    name = "generic"

    def __init__(self, design: dict):
        self._design = design

    def design(self) -> dict:
        return dict(self._design)
