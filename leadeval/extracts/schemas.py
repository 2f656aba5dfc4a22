"""The data contract: canonical schema of every extract (docs/data_contract.md explains each).

A schema lists its columns with a type, whether each is required, and the allowed codes where the
column is coded. ``key`` is the set of columns that identify a row (duplicates on it are quarantined).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "date", "datetime", "month", "int", "float", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    codes: tuple[str, ...] | None = None
    description: str = ""
    nonnegative: bool = False  # a negative value is quarantined unless allow_credits


@dataclass(frozen=True)
class Schema:
    name: str
    row: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    # (start, end): end must not be before start when both are present.
    intervals: tuple[tuple[str, str], ...] = ()
    # date columns that are events: not before birth, not after the data end date.
    event_dates: tuple[str, ...] = ()
    # event dates that may lie after the data end: kept as written, and every analysis cuts them
    # at the data end (ends of stays, exits, deaths: "censored at data end"; roster dates: the
    # person has no follow-up).
    kept_after_end: tuple[str, ...] = ()
    # event dates that cannot come after the person's death.
    while_alive: tuple[str, ...] = ()
    person_level: bool = True
    # at least one of these must be present (e.g. birth_date or birth_year).
    one_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SEVERITY = ("felony", "gross_misdemeanor", "misdemeanor")
HOUSING_STATUS = ("unsheltered", "emergency_shelter", "transitional", "permanent", "institutional")
INCOME_SOURCE = ("employment", "benefits", "other_legitimate", "none")

SCHEMAS: dict[str, Schema] = {
    s.name: s
    for s in (
        Schema(
            "roster",
            "person in the analytic universe (participants and the comparison pool)",
            (
                Column("person_id", "string", True, description="stable id, the same in every extract"),
                Column("group", "string", True, ("lead", "pool"), "LEAD participant or pool member"),
                Column("referral_date", "date", True, description="referral, or the pool member's qualifying event"),
                Column("enrollment_date", "date"),
                Column("first_contact_date", "date", description="first case-manager contact"),
                Column("referral_type", "string", codes=("arrest_diversion", "social_contact", "community")),
                Column("birth_date", "date"),
                Column("birth_year", "int"),
                Column("sex", "string"),
                Column("race_ethnicity", "string"),
                Column("area", "string"),
                Column("exit_date", "date", description="program exit"),
                Column("death_date", "date"),
            ),
            key=("person_id",),
            intervals=(
                ("referral_date", "enrollment_date"),
                ("birth_date", "referral_date"),
                ("referral_date", "exit_date"),
            ),
            event_dates=("referral_date", "enrollment_date", "first_contact_date", "exit_date", "death_date"),
            kept_after_end=("referral_date", "enrollment_date", "first_contact_date", "exit_date", "death_date"),
            one_of=(("birth_date", "birth_year"),),
        ),
        Schema(
            "arrests",
            "arrest",
            (
                Column("arrest_id", "string", True),
                Column("person_id", "string", True),
                Column("arrest_date", "date", True),
                Column("severity", "string", codes=SEVERITY),
                Column("offense_category", "string"),
                Column("warrant", "bool"),
            ),
            key=("arrest_id",),
            event_dates=("arrest_date",),
            while_alive=("arrest_date",),
        ),
        Schema(
            "charges",
            "charge filed",
            (
                Column("charge_id", "string", True),
                Column("person_id", "string", True),
                Column("filing_date", "date", True),
                Column("court", "string", codes=("municipal", "district", "superior")),
                Column("severity", "string", codes=SEVERITY),
                Column("disposition", "string"),
                Column("disposition_date", "date"),
            ),
            key=("charge_id",),
            intervals=(("filing_date", "disposition_date"),),
            event_dates=("filing_date", "disposition_date"),
            kept_after_end=("disposition_date",),
            while_alive=("filing_date",),
        ),
        Schema(
            "jail",
            "jail stay",
            (
                Column("booking_id", "string", True),
                Column("person_id", "string", True),
                Column("booking_date", "date", True),
                Column("release_date", "date", description="null = still in custody"),
            ),
            key=("booking_id",),
            intervals=(("booking_date", "release_date"),),
            event_dates=("booking_date", "release_date"),
            kept_after_end=("release_date",),
            while_alive=("booking_date",),
        ),
        Schema(
            "prison",
            "prison stay",
            (
                Column("person_id", "string", True),
                Column("admission_date", "date", True),
                Column("release_date", "date"),
            ),
            key=("person_id", "admission_date"),
            intervals=(("admission_date", "release_date"),),
            event_dates=("admission_date", "release_date"),
            kept_after_end=("release_date",),
        ),
        Schema(
            "housing",
            "housing episode",
            (
                Column("person_id", "string", True),
                Column("start_date", "date", True),
                Column("end_date", "date", description="inclusive; null = ongoing"),
                Column("status", "string", True, HOUSING_STATUS),
            ),
            key=("person_id", "start_date", "status"),
            intervals=(("start_date", "end_date"),),
            event_dates=("start_date", "end_date"),
            kept_after_end=("end_date",),
        ),
        Schema(
            "income",
            "person-month with income information",
            (
                Column("person_id", "string", True),
                Column("month", "month", True, description="YYYY-MM"),
                Column("source", "string", True, INCOME_SOURCE),
                Column("amount", "float", nonnegative=True),
            ),
            key=("person_id", "month", "source"),
            event_dates=("month",),
        ),
        Schema(
            "ems",
            "EMS call",
            (
                Column("call_id", "string", True),
                Column("person_id", "string", True),
                Column("call_datetime", "datetime", True),
                Column("transported", "bool"),
            ),
            key=("call_id",),
            event_dates=("call_datetime",),
            while_alive=("call_datetime",),
        ),
        Schema(
            "contacts",
            "case-management contact",
            (
                Column("person_id", "string", True),
                Column("contact_date", "date", True),
                Column("contact_type", "string"),
                Column("substantive", "bool"),
            ),
            key=(),
            event_dates=("contact_date",),
            while_alive=("contact_date",),
        ),
        Schema(
            "program_ledger",
            "program spending line",
            (
                Column("month", "month", True, description="YYYY-MM"),
                Column("category", "string", True),
                Column("amount", "float", True, nonnegative=True),
            ),
            key=(),
            event_dates=("month",),
            person_level=False,
        ),
    )
}
