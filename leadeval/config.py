"""Site configuration: one YAML file per site, read once into frozen pydantic models.

Paths in the YAML are relative to the YAML file. Every problem in a config is reported at once, each
with its YAML key path, the bad value and what is allowed.

Example
-------
>>> import leadeval as le
>>> cfg = le.load_config("configs/seattle.yaml")  # doctest: +SKIP
>>> cfg.site, cfg.data_end_date                   # doctest: +SKIP
('seattle', datetime.date(2016, 6, 30))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadeval.errors import ConfigError

EXTRACT_NAMES = (
    "roster",
    "arrests",
    "charges",
    "jail",
    "prison",
    "housing",
    "income",
    "ems",
    "contacts",
    "program_ledger",
)
ExtractName = Literal[
    "roster",
    "arrests",
    "charges",
    "jail",
    "prison",
    "housing",
    "income",
    "ems",
    "contacts",
    "program_ledger",
]
FileFormat = Literal["csv", "parquet", "excel", "duckdb", "sql"]
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xls": "excel",
    ".duckdb": "duckdb",
    ".db": "duckdb",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExtractSource(_Frozen):
    """Where one extract comes from and how its columns and codes map onto the data contract.

    Give either ``path`` (CSV, Parquet, Excel, or a DuckDB database file with ``table``) or
    ``database`` (an Ibis connection URL such as ``duckdb:///site.duckdb`` or
    ``postgres://user@host/db``) with ``table``.
    """

    path: Path | None = None
    database: str | None = None
    table: str | None = None
    format: FileFormat | None = None
    sheet: str | int | None = None
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column name -> the agency's column name"
    )
    codes: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="canonical column -> {agency code: canonical code}; unmapped codes are kept as is",
    )
    date_format: str | None = Field(
        None, description="strptime format of this extract's dates, e.g. '%m/%d/%Y'; default ISO"
    )
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])

    @model_validator(mode="after")
    def _one_source(self) -> ExtractSource:
        if self.path is None and self.database is None:
            raise ValueError("give 'path' (a file) or 'database' with 'table'")
        if self.path is not None and self.database is not None:
            raise ValueError("give either 'path' or 'database', not both")
        if self.database is not None and not self.table:
            raise ValueError("'database' needs 'table': the table to read")
        if self.resolved_format in ("duckdb", "sql") and not self.table:
            raise ValueError(f"a {self.resolved_format} source needs 'table': the table to read")
        return self

    @property
    def resolved_format(self) -> str:
        """The format given, or the one the file suffix implies (CSV when unknown)."""
        if self.format:
            return self.format
        if self.database is not None:
            return "sql"
        return _SUFFIX_FORMATS.get(self.path.suffix.lower(), "csv")

    @property
    def label(self) -> str:
        """How messages name this source: the file name, or database:table."""
        if self.path is not None:
            return self.path.name + (f":{self.table}" if self.table else "")
        return f"{self.database}:{self.table}"


class DesignConfig(_Frozen):
    """Cohort design: index date, windows, at-risk time (see docs/cohort.md)."""

    index_date: Literal["referral_date", "enrollment_date", "first_contact_date"] = "referral_date"
    pre_windows: list[int] = Field(default_factory=lambda: [365, 730])
    post_windows: list[int] = Field(default_factory=lambda: [182, 365])
    exclude_incarceration: bool = True
    exit_censors: bool = False
    competing_events: list[Literal["prison", "death"]] = Field(default_factory=lambda: ["prison", "death"])
    panel_months: tuple[int, int] = (-12, 24)
    outcomes: list[str] = Field(default_factory=list)

    @field_validator("pre_windows", "post_windows")
    @classmethod
    def _positive_windows(cls, v: list[int]) -> list[int]:
        bad = [w for w in v if w <= 0]
        if bad:
            raise ValueError(f"window lengths are whole days > 0; got {bad}")
        return sorted(set(v))

    @field_validator("panel_months")
    @classmethod
    def _panel_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] > 0 or v[1] < 0:
            raise ValueError(f"panel_months must run from <= 0 to >= 0; got {list(v)}")
        return v


class Section(BaseModel):
    """A config section whose schema is owned by a later stage; kept permissive and frozen until
    that stage defines it, so the whole schema still grows in this one file."""

    model_config = ConfigDict(frozen=True, extra="allow")


class SiteConfig(_Frozen):
    """A whole site config."""

    site: str
    data_end_date: dt.date
    seed: int = 20240101
    strict: bool = Field(False, description="row-level problems are fatal instead of quarantined")
    extracts: dict[ExtractName, ExtractSource]
    design: DesignConfig = Field(default_factory=DesignConfig)
    matching: Section = Field(default_factory=Section)
    models: Section = Field(default_factory=Section)
    costs: Section = Field(default_factory=Section)
    report: Section = Field(default_factory=Section)
    config_path: Path | None = Field(None, exclude=True)

    @field_validator("extracts")
    @classmethod
    def _roster_required(cls, v: dict[str, ExtractSource]) -> dict[str, ExtractSource]:
        if "roster" not in v:
            raise ValueError("a 'roster' extract is required: every person in the analytic universe")
        return v


def _key_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _format_validation_error(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        where = _key_path(e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "literal_error":
            msg = f"got {e['input']!r}; allowed: {e['ctx']['expected']}"
        elif e["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling against docs/data_contract.md"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif "input" in e and not isinstance(e["input"], dict | list):
            msg = f"{msg} (got {e['input']!r})"
        problems.append(f"{where}: {msg}")
    return problems


def parse_config(data: dict[str, Any], base_dir: Path | str = ".", source: str | None = None) -> SiteConfig:
    """Validate a config given as a dict; relative extract paths are resolved against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (key: value)", source)
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err), source) from None
    base = Path(base_dir)
    extracts = {
        name: src.model_copy(update={"path": (base / src.path).resolve()}) if src.path else src
        for name, src in cfg.extracts.items()
    }
    return cfg.model_copy(update={"extracts": extracts})


def load_config(path: str | Path, check_sources: bool = True) -> SiteConfig:
    """Read and validate a YAML site config.

    With ``check_sources`` (default), every extract file must exist and every mapped column must be
    present in it; all problems are reported together in one :class:`ConfigError`.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}; give the path to a site YAML file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"not valid YAML: {err}", str(path)) from None
    cfg = parse_config(data, base_dir=path.parent, source=str(path))
    cfg = cfg.model_copy(update={"config_path": path.resolve()})
    if check_sources:
        from leadeval.extracts.readers import check_sources as _check

        problems = _check(cfg)
        if problems:
            raise ConfigError(problems, str(path))
    return cfg
