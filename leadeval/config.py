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
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadeval.engine import EngineConfig
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
FileFormat = Literal["csv", "parquet", "excel", "duckdb", "sql", "spark"]
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


def _as_text_nested(v: Any, text: Any) -> Any:
    if isinstance(v, dict):
        return {text(k): text(x) for k, x in v.items()}
    return text(v)


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
    query: str | None = Field(
        None, description="database sources: a SELECT to read instead of a table or view"
    )
    date_format: str | None = Field(
        None, description="strptime format of this extract's dates, e.g. '%m/%d/%Y'; default ISO"
    )
    two_digit_year_pivot: int | None = Field(
        None,
        ge=0,
        le=99,
        description="read a two-digit year yy as 20yy when yy < pivot, else 19yy; without it, a "
        "date with a two-digit year is quarantined",
    )
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])
    allow_credits: bool = Field(
        False, description="income and ledger: negative amounts (credits, refunds) are valid"
    )
    # CSV dialect; what is detected is written into the data-quality table.
    delimiter: str | None = Field(
        None, min_length=1, max_length=1, description="CSV: default detected from the header line"
    )
    quote: str = Field('"', min_length=1, max_length=1, description="CSV quote character")
    encoding: str = Field("utf-8", description="CSV text encoding, e.g. utf-8, cp1252, latin-1")
    header: bool = Field(True, description="CSV: false when the first line is data")
    max_field_length: int = Field(
        10_000, gt=0, description="a row with a longer field (characters) is quarantined"
    )

    @field_validator("query")
    @classmethod
    def _one_statement(cls, v: str | None) -> str | None:
        # A query pasted from a SQL editor ends with ';' (and maybe a comment after it), which the
        # subquery it is read as cannot: cut at its last ';' token (sqlglot tells a ';' in a
        # string or a comment from one that ends the statement).
        if v is None:
            return None
        import sqlglot
        from sqlglot.tokens import TokenType

        text = v.strip()
        try:
            tokens = sqlglot.tokenize(text)
        except sqlglot.errors.TokenError:
            tokens = []
        while tokens and tokens[-1].token_type == TokenType.SEMICOLON:
            text = text[: tokens.pop().start].rstrip()
        return text.rstrip(";").rstrip() or None

    @field_validator("columns", "codes", "true_values", "false_values", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        # YAML reads `1: felony` with an int key and `Y: yes` as True; agency names and codes are text.
        def text(x: Any) -> Any:
            if isinstance(x, bool):
                return "true" if x else "false"
            return str(x) if isinstance(x, int | float) else x

        if isinstance(v, dict):
            return {text(k): _as_text_nested(val, text) for k, val in v.items()}
        if isinstance(v, list):
            return [text(x) for x in v]
        return v

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        import codecs

        try:
            return codecs.lookup(v).name
        except LookupError:
            raise ValueError(
                f"unknown text encoding {v!r}; use a Python codec name such as utf-8, cp1252, "
                "latin-1 or utf-16"
            ) from None

    @model_validator(mode="after")
    def _one_source(self) -> ExtractSource:
        if self.format == "spark":  # a table of the Spark session's catalog (engine: spark)
            if self.path is not None or self.database is not None or not (self.table or self.query):
                raise ValueError(
                    "a spark source needs 'table' (e.g. db.arrests) or 'query', no path or database"
                )
        elif self.path is None and self.database is None:
            raise ValueError("give 'path' (a file) or 'database' with 'table'")
        if self.path is not None and self.database is not None:
            raise ValueError("give either 'path' or 'database', not both")
        if self.table and self.query:
            raise ValueError("give either 'table' or 'query', not both")
        if self.database is not None and not (self.table or self.query):
            raise ValueError("'database' needs 'table' (a table or view) or 'query' (a SELECT)")
        if self.resolved_format in ("duckdb", "sql") and not (self.table or self.query):
            raise ValueError(
                f"a {self.resolved_format} source needs 'table' (a table or view) or 'query'"
            )
        if self.query and self.resolved_format not in ("duckdb", "sql", "spark"):
            raise ValueError("'query' is for database sources (a DuckDB file or 'database')")
        fmt = self.date_format or ""
        if "%y" in fmt and self.two_digit_year_pivot is None:
            raise ValueError(
                f"date_format {fmt!r} has a two-digit year (%y): set two_digit_year_pivot (e.g. "
                "30: 00-29 are 2000s, 30-99 are 1900s) so the century is your choice"
            )
        if self.quote == self.delimiter:
            raise ValueError("the CSV quote character and delimiter must differ")
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
        """How messages and outputs name this source: the file name, or database:table (the
        database URL without its password)."""
        if self.path is not None:
            sheet = f"[{self.sheet}]" if self.sheet is not None else ""
            return self.path.name + (f":{self.table}" if self.table else "") + sheet
        database = without_password(self.database) if self.database else "spark"
        return f"{database}:{self.table or 'query'}"


def without_password(url: str) -> str:
    """``url`` with its password, if it has one, as ``***`` (the ``user:password@`` of its
    authority, or a ``password=`` parameter), for messages and outputs.

    >>> without_password("postgresql://analyst:s3cret@db.example.org/ems?password=x&sslmode=require")
    'postgresql://analyst:***@db.example.org/ems?password=***&sslmode=require'
    """
    url = re.sub(r"^([a-z][\w+.-]*://[^/@:]*):[^@]*@", r"\1:***@", url, flags=re.IGNORECASE)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", url, flags=re.IGNORECASE)


OUTCOME_FAMILIES = ("arrests", "charges", "jail", "prison", "ems", "housing", "income", "contacts")
OutcomeFamily = Literal["arrests", "charges", "jail", "prison", "ems", "housing", "income", "contacts"]


class DesignConfig(_Frozen):
    """Cohort design: index date, windows, at-risk time, outcomes, panel (see docs/cohort.md).

    ``outcomes`` lists the outcome families to build (each needs the extract of the same name);
    families whose extract the site lacks are skipped and listed in ``Cohort.skipped``.
    """

    index_date: Literal["referral_date", "enrollment_date", "first_contact_date"] = "referral_date"
    comparison: bool = Field(
        True,
        description="compare LEAD with a matched or weighted comparison group from the pool; "
        "false = a within-person design on participants only (Longmont)",
    )
    pre_windows: list[int] = Field(default_factory=lambda: [365, 730])
    post_windows: list[int] = Field(default_factory=lambda: [182, 365])
    exclude_incarceration: bool = True
    exit_censors: bool = False
    competing_events: list[Literal["prison", "death"]] = Field(default_factory=lambda: ["prison", "death"])
    panel_months: tuple[int, int] = (-12, 24)
    outcomes: list[OutcomeFamily] = Field(default_factory=lambda: list(OUTCOME_FAMILIES))

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

    @field_validator("competing_events", "outcomes")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return sorted(set(v), key=v.index)


CostBasis = Literal["marginal", "average"]


class _PricedAmount(_Frozen):
    """An amount in ``price_year`` dollars with an optional plausible range ``low..high``."""

    amount: float = Field(ge=0, description="dollars per unit, in price_year dollars")
    price_year: int = Field(ge=1900, le=2100)
    low: float | None = Field(None, ge=0, description="low end of the plausible range")
    high: float | None = Field(None, ge=0, description="high end of the plausible range")

    @model_validator(mode="after")
    def _range(self) -> _PricedAmount:
        if (self.low is None) != (self.high is None):
            raise ValueError("give both 'low' and 'high' (a range), or neither")
        if self.low is not None and not self.low <= self.amount <= self.high:
            raise ValueError(
                f"need low <= amount <= high; got low={self.low}, amount={self.amount}, high={self.high}"
            )
        return self


class UnitCost(_PricedAmount):
    """One unit cost: dollars per unit of a cohort measure (see docs/costs.md).

    ``measure`` is the stem of the cohort count columns it prices: ``bookings`` prices
    ``bookings_pre_365d`` and ``bookings_post_365d`` (and the panel column of that name, if any).
    Several unit costs may price the same measure (a superior-court charge costs prosecution,
    public defense and the court).
    """

    measure: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="cohort count stem, e.g. bookings, jail_days, charges_superior",
    )
    basis: CostBasis = "marginal"
    category: str | None = Field(None, description="reporting category; default: the cost's name")
    payer: str = "taxpayers"
    description: str = ""


class ProgramCostInput(_PricedAmount):
    """Program cost per participant-month (``amount``) when no ledger is analysed, or to
    override it."""


class CostsConfig(_Frozen):
    """Cost analysis: unit costs, constant-dollar year, discounting and uncertainty (docs/costs.md)."""

    dollar_year: int = Field(2022, ge=1900, le=2100, description="constant-dollar year of all results")
    discount_rate: float = Field(0.03, ge=0, lt=1, description="annual rate for present values")
    unit_costs: dict[str, UnitCost] = Field(default_factory=dict)
    program_cost: ProgramCostInput | None = None
    pre_window: int = Field(365, gt=0, description="pre window (days) of the cohort counts used")
    post_window: int | Literal["all"] = Field(365, description="post window (days) or 'all' follow-up")
    scale: Literal["year", "window"] = Field(
        "year", description="'year': per year of observed time; 'window': per person over the window"
    )
    horizon_months: int = Field(12, gt=0, description="benefit-cost horizon per participant")
    bootstrap_replicates: int = Field(2000, ge=50)
    complete_windows_only: bool = Field(
        False, description="cost DiD on people with a complete post window only (counted)"
    )
    monte_carlo_draws: int = Field(10000, ge=100)
    range_distribution: Literal["triangular", "uniform"] = "triangular"
    conf_level: float = Field(0.95, gt=0, lt=1)
    seed: int | None = Field(None, description="default: the site seed")
    cpi_path: Path | None = Field(
        None, description="CSV with columns year,cpi replacing the shipped CPI-U table"
    )

    @field_validator("post_window")
    @classmethod
    def _post_window(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v <= 0:
            raise ValueError(f"post_window is whole days > 0 or 'all'; got {v}")
        return v


class BalanceTerms(_Frozen):
    """Extra balance rows, as cobalt's ``addl`` / ``int = TRUE`` / ``poly = 2``: where a
    misspecified score (e.g. a count entered linearly) shows its imbalance."""

    addl: list[str] = Field(
        default_factory=list, description="formulaic terms, e.g. 'log1p(arrests_pre_365d)'"
    )
    interactions: bool = Field(False, description="all pairwise products of the covariates")
    squares: bool = Field(False, description="squares of the non-binary covariates")

    @field_validator("addl")
    @classmethod
    def _addl(cls, v: list[str]) -> list[str]:
        from leadeval.formulas import check_terms

        if problems := check_terms(v):
            raise ValueError("; ".join(problems))
        return v


class MatchingConfig(_Frozen):
    """Matching or weighting specification (see docs/matching.md; MatchIt's semantics).

    ``covariates`` enter the propensity model as numbers, ``categorical`` as dummies against
    ``reference[column]`` (default the first sorted level), ``log1p`` replaces the linear term of a
    (count) covariate by log(1 + x), ``squares`` add x**2 terms, ``splines`` natural cubic
    regression splines (formulaic ``cr(x, df)``), ``formula`` adds further formulaic terms
    (interactions, ``C(x, contr.treatment('ref'))``...). Balance is assessed on ``covariates`` +
    ``categorical`` (+ ``exact``), plus ``balance`` terms (see leadeval.formulas).
    """

    method: Literal["nearest", "exact", "cem", "iptw"] = "nearest"
    covariates: list[str] = Field(default_factory=list, description="numeric or 0/1 covariates")
    categorical: list[str] = Field(default_factory=list, description="categorical covariates")
    squares: list[str] = Field(default_factory=list, description="add x**2 to the score model")
    splines: dict[str, int] = Field(
        default_factory=dict, description="column -> df of a natural cubic spline in the score model"
    )
    log1p: list[str] = Field(
        default_factory=list,
        description="count covariates entered as log(1 + x) instead of linearly in the score model",
    )
    reference: dict[str, str] = Field(
        default_factory=dict, description="categorical column -> its reference level"
    )
    formula: str | None = Field(
        None,
        description="further formulaic terms for the score model, e.g. "
        "'log1p(arrests_pre_365d):age_at_index'",
    )
    balance: BalanceTerms = Field(
        default_factory=lambda: BalanceTerms(),
        description="extra balance rows: transformed terms and pairwise interactions",
    )
    distance: Literal["logit", "ps"] = Field(
        "logit", description="match on the logit of the score (default) or the score itself"
    )
    distance_column: str | None = Field(
        None, description="use this precomputed distance column instead of fitting a score"
    )
    ratio: int = Field(1, ge=1, description="controls per treated unit (k:1)")
    replace: bool = False
    caliper: float | None = Field(None, gt=0, description="in SDs of the distance (all units)")
    exact: list[str] = Field(default_factory=list, description="match exactly within these strata")
    order: Literal["largest", "smallest", "data", "random"] = "largest"
    seed: int | None = Field(None, description="seed for order = 'random'")
    discard: Literal["none", "treated", "control", "both"] = "none"
    estimand: Literal["ATT", "ATE"] = "ATT"
    stabilize: bool = Field(True, description="IPTW: stabilised weights")
    trim: tuple[float, float] | None = Field(
        None, description="IPTW: truncate weights at these percentiles, e.g. [1, 99]"
    )
    balance_threshold: float = Field(0.1, gt=0)
    cutpoints: dict[str, list[float] | int | Literal["sturges"]] = Field(
        default_factory=dict, description="CEM: column -> cut values, number of bins or 'sturges'"
    )

    @field_validator("trim")
    @classmethod
    def _trim(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and not 0 <= v[0] < v[1] <= 100:
            raise ValueError(f"trim is two percentiles 0 <= low < high <= 100; got {list(v)}")
        return v

    @field_validator("formula")
    @classmethod
    def _formula(cls, v: str | None) -> str | None:
        from leadeval.formulas import check_terms

        if v is not None and (problems := check_terms([v])):
            raise ValueError("; ".join(problems))
        return v

    @model_validator(mode="after")
    def _consistent(self) -> MatchingConfig:
        both = sorted(set(self.log1p) & set(self.splines))
        if both:
            raise ValueError(f"{both} are under both log1p and splines: choose one transform")
        bad_ref = sorted(set(self.reference) - set(self.categorical) - set(self.exact))
        if bad_ref:
            raise ValueError(f"reference levels given for {bad_ref}, which are not categorical")
        if self.method == "nearest" and self.estimand != "ATT":
            raise ValueError("nearest-neighbour matching estimates the ATT; use estimand: ATT")
        if self.order == "random" and self.seed is None:
            raise ValueError("order: random needs a seed for reproducible matches")
        if self.method in ("exact", "cem") and not (self.covariates or self.categorical):
            raise ValueError(f"method {self.method} needs covariates or categorical to match on")
        return self


ReportFormat = Literal["html", "pdf"]


class ReportConfig(_Frozen):
    """The evaluation report: title, privacy threshold, formats (see docs/report.md)."""

    title: str | None = Field(None, description="default: 'LEAD evaluation: <site>'")
    program_name: str = "LEAD"
    comparison_label: str = Field("comparison", description="what the report calls the pool group")
    small_cell_threshold: int = Field(
        11, ge=1, description="counts of fewer people than this are suppressed, with complements"
    )
    allow_small_cells: bool = Field(
        False,
        description="required to set small_cell_threshold below 11; stamps a warning on the "
        "report, every table and the manifest",
    )
    formats: list[ReportFormat] = Field(default_factory=lambda: ["html"])
    restricted: bool = Field(
        False, description="also write person-level outputs, into restricted/ (never shared)"
    )
    headline_outcomes: list[str] = Field(
        default_factory=list, description="binary outcomes for the plain-language summary"
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="plain labels overriding the shipped ones (cohort column, term or category "
        "-> words), used by every table, figure and sentence",
    )

    @model_validator(mode="after")
    def _loud_low_threshold(self) -> ReportConfig:
        if self.small_cell_threshold < 11 and not self.allow_small_cells:
            raise ValueError(
                f"small_cell_threshold {self.small_cell_threshold} is below 11, the convention "
                "for criminal-justice and health records (42 CFR Part 2, CMS); set "
                "allow_small_cells: true to publish counts that small (every page, table and the "
                "manifest will say so)"
            )
        return self

    @property
    def small_cell_warning(self) -> str:
        """The warning stamped on a report published with a threshold below 11 ('' if none)."""
        if self.small_cell_threshold >= 11:
            return ""
        return (
            f"WARNING: small-cell threshold {self.small_cell_threshold} (below the usual 11): "
            f"counts of {self.small_cell_threshold} to 10 people are published."
        )


class SurvivalSpec(_Frozen):
    """A time-to-event outcome: duration and 0/1 event columns of the cohort."""

    duration: str
    event: str


class CountSpec(_Frozen):
    """A count outcome with its at-risk exposure (days) column."""

    outcome: str
    exposure: str
    interval: Literal["wald", "bootstrap"] = Field(
        "wald", description="'bootstrap': pair (cluster) bootstrap percentile intervals, for "
        "heavy-tailed counts such as jail days (see benchmarks/models_coverage.py)"
    )


class PrePostSpec(_Frozen):
    """A pre/post pair of outcome columns for the Seattle GEE (binary) or the count DiD."""

    pre: str
    post: str
    pre_exposure: str | None = Field(None, description="counts only: exposure of the pre window")
    post_exposure: str | None = Field(None, description="counts only: exposure of the post window")


class ModelsConfig(_Frozen):
    """Which outcome analyses to run and their options (see docs/methods.md). Every ratio is
    reported with its E-value."""

    conf_level: float = Field(0.95, gt=0.5, lt=1)
    weights: str | None = "weights"
    cluster: str | None = "subclass"
    covariates: list[str] = Field(
        default_factory=list,
        description="adjustment covariates: columns or formulaic terms ('log1p(x)', "
        "\"C(race, contr.treatment('white'))\", 'a:b')",
    )
    binary_outcomes: list[str] = Field(
        default_factory=lambda: ["arrest_post_182d", "arrest_post_365d", "prison_post_365d"]
    )
    firth: Literal["auto", "always", "never"] = "auto"
    survival: list[SurvivalSpec] = Field(
        default_factory=lambda: [SurvivalSpec(duration="days_to_arrest", event="arrested")]
    )
    ties: Literal["efron", "breslow"] = "efron"
    km_times: list[int] = Field(default_factory=lambda: [182, 365, 730])
    competing_risks: bool = True
    counts: list[CountSpec] = Field(
        default_factory=lambda: [
            CountSpec(outcome="arrests_post_all", exposure="exposure_post_all"),
            # a booking followed by custody has no at-risk days: use all observed days
            CountSpec(outcome="bookings_post_all", exposure="observed_days_post_all"),
        ]
    )
    count_family: Literal["poisson", "negbin"] = "negbin"
    prepost_gee: list[PrePostSpec] = Field(default_factory=list)
    count_did: list[PrePostSpec] = Field(default_factory=list)
    gee_corstr: Literal["exchangeable", "independence"] = "exchangeable"
    panel_outcomes: list[str] = Field(default_factory=list)
    panel_baseline_month: int = -1
    within_person: bool = False
    rosenbaum_gammas: list[float] = Field(default_factory=lambda: [1.0, 1.5, 2.0, 3.0])

    @field_validator("covariates")
    @classmethod
    def _covariate_terms(cls, v: list[str]) -> list[str]:
        from leadeval.formulas import check_terms

        if problems := check_terms(v):
            raise ValueError("; ".join(problems))
        return v

    @field_validator("rosenbaum_gammas")
    @classmethod
    def _gammas(cls, v: list[float]) -> list[float]:
        if any(g < 1 for g in v):
            raise ValueError(f"Rosenbaum's Gamma is >= 1; got {v}")
        return v

    @field_validator("count_did")
    @classmethod
    def _did_exposure(cls, v: list[PrePostSpec]) -> list[PrePostSpec]:
        bad = [s.pre for s in v if not (s.pre_exposure and s.post_exposure)]
        if bad:
            raise ValueError(f"count_did entries need pre_exposure and post_exposure: {bad}")
        return v


EquityVariable = Literal["race_ethnicity", "sex", "age_band", "area", "referral_type"]


class EquityConfig(_Frozen):
    """Equity of access and effect heterogeneity (see docs/equity.md)."""

    enabled: bool = True
    population: Literal["eligible_pool", "arrest_population"] = Field(
        "eligible_pool",
        description="what the roster's pool is: the eligible pool (default), or the site's whole "
        "arrest population when the roster holds everyone arrested; only the wording changes",
    )
    by: list[Literal["race_ethnicity", "sex", "age_band", "area"]] = Field(
        default_factory=lambda: ["race_ethnicity", "sex", "age_band", "area"],
        description="groups whose referral rates are compared",
    )
    reference: dict[str, str] = Field(
        default_factory=dict,
        description="reference level per variable, e.g. {race_ethnicity: white}; default: the "
        "level with most eligible people",
    )
    adjust_for: list[str] = Field(
        default_factory=lambda: [
            "arrests_pre_365d", "arrests_pre_730d", "bookings_pre_730d", "felony_arrests_pre_730d",
            "prison_pre_730d",
        ],
        description="prior-history columns of the cohort for the adjusted index (counts enter as "
        "log1p); columns the cohort lacks are left out and named",
    )
    adjust_categorical: list[str] = Field(
        default_factory=list, description="categorical cohort columns added to the adjustment"
    )
    age_bands: list[int] = Field(
        default_factory=lambda: [18, 25, 35, 45, 55], description="lower edges of the age bands"
    )
    over_time: Literal["year", "quarter", "none"] = "year"
    subgroups: list[EquityVariable] = Field(
        default_factory=lambda: ["race_ethnicity", "sex", "area", "referral_type"],
        description="subgroups for effect heterogeneity",
    )
    subgroup_outcomes: list[str] = Field(
        default_factory=list, description="binary outcomes (default: models.binary_outcomes)"
    )

    @field_validator("age_bands")
    @classmethod
    def _bands(cls, v: list[int]) -> list[int]:
        if not v or any(b >= a for b, a in zip(v, v[1:], strict=False)) or v[0] < 0:
            raise ValueError(f"age_bands must be increasing non-negative ages; got {v}")
        return v


class MonitorConfig(_Frozen):
    """The quarterly program-monitoring page (see docs/monitoring.md)."""

    quarter_start_month: int = Field(
        1, ge=1, le=12, description="first month of the site's first quarter (7 = July fiscal year)"
    )
    areas: dict[str, str] = Field(
        default_factory=dict,
        description="roster area -> reported area (several roster areas may share one); "
        "unmapped areas are reported as they are",
    )
    first_contact: Literal["roster", "contacts"] = Field(
        "roster",
        description="first contact: the roster's first_contact_date (else the earliest contact) "
        "or always the earliest contact in the contacts extract",
    )


class SiteConfig(_Frozen):
    """A whole site config."""

    site: str
    data_end_date: dt.date
    seed: int = 20240101
    strict: bool = Field(False, description="row-level problems are fatal instead of quarantined")
    max_quarantined_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="an extract with a larger share of its rows quarantined fails the load",
    )
    extracts: dict[ExtractName, ExtractSource]
    engine: EngineConfig = Field(default_factory=EngineConfig)
    design: DesignConfig = Field(default_factory=DesignConfig)
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    models: ModelsConfig = Field(default_factory=lambda: ModelsConfig())
    costs: CostsConfig = Field(default_factory=CostsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    equity: EquityConfig = Field(default_factory=EquityConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
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


def _mapping_problems(data: dict[str, Any]) -> list[str]:
    """Problems of the column and code mappings against the data contract, read from the raw
    dict so they are reported together with every other config problem."""
    from leadeval.extracts.schemas import SCHEMAS

    extracts = data.get("extracts")
    if not isinstance(extracts, dict):
        return []
    problems = []
    for name, src in extracts.items():
        if name not in SCHEMAS or not isinstance(src, dict):
            continue
        schema, where = SCHEMAS[name], f"extracts.{name}"
        for key in ("columns", "codes"):
            mapping = src.get(key)
            if not isinstance(mapping, dict):
                continue
            for canon in mapping:
                if str(canon) not in schema.names:
                    problems.append(
                        f"{where}.{key}.{canon}: not a column of the {name} extract; allowed: "
                        f"{', '.join(schema.names)} (map canonical name -> your column name)"
                    )
        codes = src.get("codes")
        for canon, table in (codes or {}).items() if isinstance(codes, dict) else ():
            if str(canon) not in schema.names or not isinstance(table, dict):
                continue
            allowed = schema.column(str(canon)).codes
            for agency, value in table.items():
                if allowed and str(value).lower() not in allowed:
                    problems.append(
                        f"{where}.codes.{canon}.{agency}: {value!r} is not a {canon} code; "
                        f"allowed: {', '.join(allowed)}"
                    )
    return problems


def _resolve_source(src: ExtractSource, base: Path) -> ExtractSource:
    """Make a source's file path (or ``duckdb://`` or ``sqlite://`` database file) absolute
    against ``base``."""
    from leadeval.extracts.readers import duckdb_file, sqlite_file

    if src.path is not None:
        return src.model_copy(update={"path": (base / src.path).resolve()})
    if src.database is not None and src.database.startswith("duckdb://"):
        file = duckdb_file(src)
        if file is not None and str(file) != ":memory:":
            return src.model_copy(update={"database": "duckdb:///" + str((base / file).resolve())})
    # sqlite://<path>, the path absolute (sqlite:///abs/x.db) or relative: a relative file is
    # relative to the config, like every other path in it
    file = sqlite_file(src)
    if file is not None and not file.is_absolute():
        return src.model_copy(update={"database": f"sqlite://{(base / file).resolve()}"})
    return src


def parse_config(data: dict[str, Any], base_dir: Path | str = ".", source: str | None = None) -> SiteConfig:
    """Validate a config given as a dict; relative extract paths are resolved against ``base_dir``."""
    if not isinstance(data, dict):
        raise ConfigError("the config must be a YAML mapping (key: value)", source)
    mapping_problems = _mapping_problems(data)
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(err) + mapping_problems, source) from None
    if mapping_problems:
        raise ConfigError(mapping_problems, source)
    base = Path(base_dir)
    extracts = {name: _resolve_source(src, base) for name, src in cfg.extracts.items()}
    update: dict[str, Any] = {"extracts": extracts}
    if cfg.costs.cpi_path is not None:
        update["costs"] = cfg.costs.model_copy(update={"cpi_path": (base / cfg.costs.cpi_path).resolve()})
    update["engine"] = cfg.engine.resolved(base)
    return cfg.model_copy(update=update)


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
