"""Write a synthetic site: extracts (canonical or "agency" layout; CSV and/or Parquet), the
matching site config YAML, truth.csv, effects.json and program_cost.csv.

Large sites are streamed chunk by chunk (:func:`write_synthetic_site`), so memory stays bounded.

Example
-------
>>> import tempfile
>>> from leadeval.synth import generate_site
>>> from leadeval.synth.writer import write_site
>>> site = generate_site("santa_fe", n_participants=30, n_pool=60, seed=2)
>>> out = write_site(site, tempfile.mkdtemp(), formats=("csv",))
>>> (out / "site.yaml").is_file()
True
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from leadeval.errors import ConfigError
from leadeval.extracts.schemas import SCHEMAS
from leadeval.synth._time import NAT
from leadeval.synth.generate import (
    Raw,
    SyntheticSite,
    effects_record,
    iter_chunks,
    ledger_raw,
    person_ids,
    plan_site,
    roster_raw,
)
from leadeval.synth.population import Population

LAYOUTS = ("canonical", "agency")
FORMATS = ("csv", "parquet")
AGENCY_DATE_FORMAT = "%m/%d/%Y"

# agency layout: canonical column -> agency column
AGENCY_COLUMNS: dict[str, dict[str, str]] = {
    "roster": {
        "person_id": "PersonID", "group": "Cohort", "referral_date": "ReferralDt",
        "enrollment_date": "EnrollDt", "first_contact_date": "FirstCMContactDt",
        "referral_type": "RefType", "birth_date": "DOB", "sex": "Gender",
        "race_ethnicity": "RaceEth", "area": "Neighborhood", "exit_date": "ExitDt",
        "death_date": "DeathDt",
    },
    "arrests": {
        "arrest_id": "ArrestNo", "person_id": "PersonID", "arrest_date": "ArrestDt",
        "severity": "OffLevel", "offense_category": "OffenseDesc", "warrant": "WarrantFlag",
    },
    "charges": {
        "charge_id": "CaseNo", "person_id": "PersonID", "filing_date": "FileDt",
        "court": "CourtCd", "severity": "ChargeLevel", "disposition": "DispDesc",
        "disposition_date": "DispDt",
    },
    "jail": {
        "booking_id": "BookingNo", "person_id": "PersonID", "booking_date": "BookDt",
        "release_date": "RelDt",
    },
    "prison": {"person_id": "PersonID", "admission_date": "AdmitDt", "release_date": "RelDt"},
    "housing": {
        "person_id": "ClientID", "start_date": "EntryDt", "end_date": "ExitDt",
        "status": "LivingSit",
    },
    "income": {"person_id": "ClientID", "month": "RptMonth", "source": "IncSource", "amount": "Amt"},
    "ems": {
        "call_id": "IncidentNo", "person_id": "PatientID", "call_datetime": "DispatchTime",
        "transported": "Transport",
    },
    "contacts": {
        "person_id": "ClientID", "contact_date": "ContactDt", "contact_type": "ContactMode",
        "substantive": "Substantive",
    },
    "program_ledger": {"month": "FiscalMonth", "category": "CostCenter", "amount": "Expense"},
}
# agency layout: canonical column -> {canonical code: agency code}
AGENCY_CODES: dict[str, dict[str, dict[str, str]]] = {
    "roster": {
        "group": {"lead": "LEAD", "pool": "CTRL"},
        "referral_type": {"arrest_diversion": "AD", "social_contact": "SC", "community": "CR"},
        "sex": {"male": "M", "female": "F"},
    },
    "arrests": {"severity": {"felony": "F", "gross_misdemeanor": "GM", "misdemeanor": "M"}},
    "charges": {
        "severity": {"felony": "F", "gross_misdemeanor": "GM", "misdemeanor": "M"},
        "court": {"municipal": "MUNI", "district": "DIST", "superior": "SUP"},
    },
    "housing": {
        "status": {
            "unsheltered": "UNSH", "emergency_shelter": "ES", "transitional": "TH",
            "permanent": "PH", "institutional": "INST",
        }
    },
    "income": {
        "source": {"employment": "EMP", "benefits": "BEN", "other_legitimate": "OTH", "none": "NONE"}
    },
}
# extracts whose date columns use AGENCY_DATE_FORMAT in the agency CSV (month and datetime
# columns keep YYYY-MM and ISO timestamps)
_AGENCY_DATED = ("roster", "arrests", "charges", "jail", "prison", "housing", "contacts")


def _arrow_column(values: np.ndarray, ctype: str) -> pa.Array:
    if ctype == "date":
        v = np.asarray(values, np.int64)
        return pa.array(v.astype(np.int32), mask=v == NAT).cast(pa.date32())
    if ctype == "datetime":
        return pa.array(np.asarray(values, np.int64), type=pa.timestamp("s"))
    if ctype == "bool":
        return pa.array(np.asarray(values, bool))
    if ctype == "float":
        return pa.array(np.asarray(values, float), from_pandas=True)
    if ctype == "int":
        return pa.array(values, type=pa.int64(), from_pandas=True)
    return pa.array(values, type=pa.string(), from_pandas=True)


def raw_to_arrow(name: str, raw: Raw, layout: str, text_dates: bool) -> pa.Table:
    """Arrow table of one extract in ``layout``; agency dates as text when ``text_dates``."""
    schema = SCHEMAS[name]
    cols, names = [], []
    codes = AGENCY_CODES.get(name, {}) if layout == "agency" else {}
    rename = AGENCY_COLUMNS[name] if layout == "agency" else {}
    for c in schema.columns:
        if c.name not in raw:
            continue
        v = raw[c.name]
        if c.name in codes:
            v = pd.Series(v, dtype=object).map(lambda x, m=codes[c.name]: m.get(x, x) if x is not None else None).to_numpy(dtype=object)
        arr = _arrow_column(v, c.type)
        if layout == "agency" and c.type == "bool":
            arr = pa.array(np.where(np.asarray(v, bool), "Y", "N").astype(object), type=pa.string())
        if layout == "agency" and text_dates and c.type == "date" and name in _AGENCY_DATED:
            arr = pa.compute.strftime(arr.cast(pa.timestamp("s")), format=AGENCY_DATE_FORMAT)
        cols.append(arr)
        names.append(rename.get(c.name, c.name))
    return pa.table(cols, names=names)


class _Sinks:
    """Open writers per (extract, format); appends chunks so the output does not depend on how
    persons were grouped (CSV bytes are identical; Parquet row groups follow the chunks)."""

    def __init__(self, out: Path, layout: str, formats: Sequence[str]):
        self.out, self.layout, self.formats = out, layout, formats
        self.writers: dict[tuple[str, str], Any] = {}

    def write(self, name: str, raw: Raw) -> None:
        for fmt in self.formats:
            table = raw_to_arrow(name, raw, self.layout, text_dates=fmt == "csv")
            key = (name, fmt)
            if key not in self.writers:
                path = self.out / f"{name}.{fmt}"
                if fmt == "csv":
                    self.writers[key] = pacsv.CSVWriter(
                        str(path), table.schema, write_options=pacsv.WriteOptions(quoting_style="none")
                    )
                else:
                    self.writers[key] = pq.ParquetWriter(str(path), table.schema, compression="zstd")
            self.writers[key].write_table(table)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _check_args(layout: str, formats: Iterable[str]) -> tuple[str, ...]:
    if layout not in LAYOUTS:
        raise ConfigError(f"layout {layout!r} is not known; choose one of: {', '.join(LAYOUTS)}", "synth")
    fmts = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise ConfigError(f"format(s) {bad or list(fmts)} not supported; choose from: csv, parquet", "synth")
    return fmts


def site_config(
    site: str,
    data_end_date: dt.date,
    seed: int,
    design: Mapping[str, Any],
    layout: str = "canonical",
    fmt: str = "csv",
    path_prefix: str = "",
) -> dict[str, Any]:
    """The site config (a dict ready for YAML) for extracts written by this module."""
    extracts: dict[str, Any] = {}
    for name in SCHEMAS:
        entry: dict[str, Any] = {"path": f"{path_prefix}{name}.{fmt}"}
        if layout == "agency":
            entry["columns"] = dict(AGENCY_COLUMNS[name])
            if name in AGENCY_CODES:
                entry["codes"] = {
                    col: {agency: canon for canon, agency in m.items()}
                    for col, m in AGENCY_CODES[name].items()
                }
            if fmt == "csv" and name in _AGENCY_DATED:
                entry["date_format"] = AGENCY_DATE_FORMAT
            if any(c.type == "bool" for c in SCHEMAS[name].columns):
                entry["true_values"] = ["Y"]
                entry["false_values"] = ["N"]
        extracts[name] = entry
    return {
        "site": site,
        "data_end_date": data_end_date.isoformat(),
        "seed": int(seed),
        "extracts": extracts,
        "design": dict(design),
    }


def _dump_yaml(cfg: dict[str, Any], path: Path, header: str) -> None:
    text = yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)
    path.write_text(header + text)


def _write_side_files(out: Path, truth: pd.DataFrame, effects: dict, program_cost: pd.DataFrame) -> None:
    truth.to_csv(out / "truth.csv", index=False, date_format="%Y-%m-%d", float_format="%.10g", lineterminator="\n")
    (out / "effects.json").write_text(json.dumps(effects, indent=2, sort_keys=False, default=str) + "\n")
    pc = program_cost.copy()
    pc.to_csv(out / "program_cost.csv", index=False, date_format="%Y-%m-%d", float_format="%.10g", lineterminator="\n")


def analysis_sections(profile: Any) -> str:
    """The ``design``, ``matching``, ``models``, ``costs`` and ``report`` sections (YAML text) of
    a synthetic site's config: the shipped analysis of a named profile (the same as
    ``configs/<profile>.yaml``), or for another profile a generic one built from its windows."""
    from importlib.resources import files

    shipped = files("leadeval") / "data" / f"synth_analysis_{profile.name}.yaml"
    if shipped.is_file():
        return shipped.read_text()
    design = profile.design()
    pre, post = list(design["pre_windows"]), list(design["post_windows"])
    lo, hi, last = min(pre), max(pre), max(post)
    cfg = {
        "design": design,
        "matching": {
            "method": "nearest",
            "covariates": [
                "age_at_index",
                f"arrests_pre_{lo}d",
                f"arrests_pre_{hi}d",
                f"bookings_pre_{hi}d",
                f"jail_days_pre_{hi}d",
                f"unsheltered_days_pre_{lo}d",
                f"ems_calls_pre_{hi}d",
            ],
            "categorical": ["area", "sex"],
            # counts enter as log(1 + x) (referral depends on the log of prior history)
            "log1p": [
                f"arrests_pre_{lo}d",
                f"arrests_pre_{hi}d",
                f"bookings_pre_{hi}d",
                f"jail_days_pre_{hi}d",
                f"ems_calls_pre_{hi}d",
            ],
            "caliper": 0.2,
            "ratio": 1,
        },
        "models": {
            "binary_outcomes": [f"arrest_post_{w}d" for w in post],
            "survival": [{"duration": "days_to_arrest", "event": "arrested"}],
            "counts": [
                {"outcome": f"{m}_post_{last}d", "exposure": f"observed_days_post_{last}d"}
                for m in ("bookings", "jail_days", "ems_calls")
            ],
        },
        "report": {"program_name": "LEAD", "comparison_label": "comparison"},
    }
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)


def _write_configs(out: Path, pop_like: Any, layout: str, fmts: Sequence[str], data_end: dt.date) -> None:
    """Write a complete site config per format: the extracts written here, then the analysis
    sections, so ``leadeval report site.yaml`` runs as it is."""
    prof = pop_like.profile
    header = (
        f"# Synthetic {prof.name} site written by leadeval.synth ({layout} layout); "
        f"paths are relative to this file.\n"
    )
    analysis = analysis_sections(prof)
    for i, fmt in enumerate(fmts):
        cfg = site_config(prof.name, data_end, pop_like.seed, prof.design(), layout, fmt)
        cfg.pop("design")
        path = out / ("site.yaml" if i == 0 else f"site_{fmt}.yaml")
        _dump_yaml(cfg, path, header)
        with open(path, "a") as fh:
            fh.write(analysis)


def write_site(
    site: SyntheticSite,
    out_dir: str | Path,
    layout: str = "canonical",
    formats: Sequence[str] = ("csv", "parquet"),
) -> Path:
    """Write an in-memory :class:`SyntheticSite` (extracts, site.yaml, truth.csv, effects.json).

    The first format gets ``site.yaml``; each further one ``site_<format>.yaml``.
    """
    fmts = _check_args(layout, formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sinks = _Sinks(out, layout, fmts)
    try:
        for name, frame in site.extracts.items():
            sinks.write(name, _frame_to_raw(name, frame))
    finally:
        sinks.close()
    _write_side_files(out, site.truth, dict(site.effects), site.program_cost)
    _write_configs(out, site, layout, fmts, site.data_end_date)
    return out


def _frame_to_raw(name: str, frame: pd.DataFrame) -> Raw:
    raw: Raw = {}
    for c in SCHEMAS[name].columns:
        s = frame[c.name]
        if c.type == "date":
            raw[c.name] = s.to_numpy(dtype="datetime64[D]").astype(np.int64)
        elif c.type == "datetime":
            raw[c.name] = s.to_numpy(dtype="datetime64[s]").astype(np.int64)
        elif c.type == "month":
            text = s.dt.strftime("%Y-%m") if pd.api.types.is_datetime64_any_dtype(s) else s
            raw[c.name] = text.astype(object).to_numpy(dtype=object)
        elif c.type == "bool":
            if s.isna().all() and c.name not in ("warrant", "transported", "substantive"):
                continue
            raw[c.name] = s.fillna(False).to_numpy(dtype=bool)
        elif c.type == "float":
            raw[c.name] = s.to_numpy(dtype=float, na_value=np.nan)
        elif c.type == "int":
            if s.isna().all():
                continue
            raw[c.name] = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
        else:
            raw[c.name] = s.astype(object).where(s.notna(), None).to_numpy(dtype=object)
    return raw


def write_synthetic_site(
    profile: str,
    out_dir: str | Path,
    n_participants: int | None = None,
    n_pool: int | None = None,
    seed: int | None = None,
    layout: str = "canonical",
    formats: Sequence[str] = ("csv", "parquet"),
    effects: Mapping[str, Any] | None = None,
    data_end_date: dt.date | str | None = None,
    blocks_per_chunk: int = 4,
    planted: Mapping[str, Any] | None = None,
) -> Path:
    """Generate and write a site chunk by chunk (bounded memory; what ``leadeval synth`` runs).

    The files equal those of ``write_site(generate_site(...))`` for the same arguments (CSV
    byte for byte; Parquet row for row, with one row group per chunk).
    """
    fmts = _check_args(layout, formats)
    pop = plan_site(profile, n_participants, n_pool, seed, effects, data_end_date, planted)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sinks = _Sinks(out, layout, fmts)
    truths = []
    try:
        ids = person_ids(pop)
        sinks.write("roster", roster_raw(pop, ids))
        for events, truth in iter_chunks(pop, blocks_per_chunk):
            for name in ("arrests", "charges", "jail", "prison", "housing", "income", "ems", "contacts"):
                sinks.write(name, events[name])
            truths.append(truth)
        sinks.write("program_ledger", ledger_raw(pop))
    finally:
        sinks.close()
    truth = pd.concat([t for t in truths if len(t)], ignore_index=True)
    _write_side_files(out, truth, effects_record(pop), pop.program_cost)
    end = dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + pop.data_end)
    _write_configs(out, _PopView(pop), layout, fmts, end)
    return out


class _PopView:
    def __init__(self, pop: Population):
        self.profile, self.seed = pop.profile, pop.seed
