"""Index dates, follow-up end and the cohort flow (who is in, who is out and why).

Follow-up end :math:`f = \\min(\\text{data end},\\ \\text{death},\\ \\text{exit if exit censors})`.
A roster person is excluded, with the first reason that applies, when:

1. ``group`` is not ``lead`` or ``pool``;
2. the index date is missing;
3. the index date is on or after the data end date (no follow-up);
4. the person died before the index date;
5. the person died on the index date (no follow-up);
6. exit censors and the exit date is on or before the index date (no follow-up).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from leadeval.cohort.windows import day_number, month_index, py_day_number

REASONS = (
    "group is not lead or pool",
    "index date missing",
    "index date on or after data end (no follow-up)",
    "died before index date",
    "died on index date (no follow-up)",
    "exited on or before index date (no follow-up)",
)
INCLUDED = "included"


def roster_days(
    roster: ir.Table, index_col: str, data_end: dt.date, exit_censors: bool
) -> ir.Table:
    """Every roster person with day numbers, follow-up end and the exclusion reason (or 'included')."""
    end = py_day_number(data_end)
    r = roster.mutate(
        t0=day_number(roster[index_col]),
        death=day_number(roster.death_date),
        exit=day_number(roster.exit_date),
    )
    death_in = r.death.notnull() & (r.death <= end)
    exit_in = r.exit.notnull() & (r.exit <= end) if exit_censors else ibis.literal(False)
    fe = ibis.least(
        ibis.literal(end),
        ibis.ifelse(death_in, r.death, end),
        ibis.ifelse(exit_in, r.exit, end),
    )
    # Ties: death wins over exit, exit over data end (a death on the last data day is observed).
    reason_end = ibis.cases(
        (death_in & (r.death == fe), "death"),
        (exit_in & (r.exit == fe), "exit"),
        else_="data_end",
    )
    exit_early = (r.exit.notnull() & (r.exit <= r.t0)) if exit_censors else ibis.literal(False)
    reason = ibis.cases(
        (~r.group.isin(["lead", "pool"]) | r.group.isnull(), REASONS[0]),
        (r.t0.isnull(), REASONS[1]),
        (r.t0 >= end, REASONS[2]),
        (r.death.notnull() & (r.death < r.t0), REASONS[3]),
        (r.death.notnull() & (r.death == r.t0), REASONS[4]),
        (exit_early, REASONS[5]),
        else_=INCLUDED,
    )
    return r.mutate(fe=fe, followup_end_reason=reason_end, reason=reason)


def base_persons(days: ir.Table, index_col: str) -> ir.Table:
    """Included persons: ids, design columns, demographics, and the keys and day numbers used
    downstream: ``pk`` (0, 1, ... in person_id order: joins and groupings on millions of rows
    use this integer instead of the string id), ``t0``, ``fe``, ``mi0`` (index month index)."""
    r = days.filter(days.reason == INCLUDED)
    idx = r[index_col]
    # Age in completed years at the index date; with only a birth year, year difference.
    md_idx = idx.month() * 100 + idx.day()
    md_birth = r.birth_date.month() * 100 + r.birth_date.day()
    age_exact = idx.year() - r.birth_date.year() - ibis.ifelse(md_idx < md_birth, 1, 0)
    age = ibis.ifelse(r.birth_date.notnull(), age_exact, idx.year() - r.birth_year.cast("int64"))
    return r.select(
        pk=(ibis.row_number().over(order_by=r.person_id)).cast("int64"),
        person_id=r.person_id,
        group=r.group,
        treated=ibis.ifelse(r.group == "lead", 1, 0).cast("int32"),
        t0=r.t0,
        fe=r.fe,
        followup_end_reason=r.followup_end_reason,
        followup_days=(r.fe - r.t0).cast("int32"),
        mi0=month_index(idx).cast("int64"),
        age_at_index=age.cast("int32"),
        sex=r.sex.cast("string"),
        race_ethnicity=r.race_ethnicity.cast("string"),
        area=r.area.cast("string"),
        referral_type=r.referral_type.cast("string"),
    )
