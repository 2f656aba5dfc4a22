"""Whole-day windows relative to the index date, and interval arithmetic on day numbers.

Dates are turned into integer *day numbers* (days since 1970-01-01) once, so every window test and
interval overlap below is integer arithmetic that any Ibis backend can run. For a person with index
day :math:`t_0` and follow-up end :math:`f` (both day numbers):

* pre window of *P* days: :math:`[t_0 - P,\\ t_0 - 1]`
* post window of *Q* days, observed part: :math:`[t_0 + 1,\\ \\min(t_0 + Q, f)]`
* whole follow-up (``post_all``): :math:`[t_0 + 1,\\ f]`

The days of a closed interval :math:`[s, e]` inside a window :math:`[a, b]` are
:math:`\\max(0,\\ \\min(e, b) - \\max(s, a) + 1)`.

>>> w = Window("post", 182)
>>> w.suffix
'post_182d'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

EPOCH = dt.date(1970, 1, 1)
_EPOCH_EXPR = ibis.date(1970, 1, 1)


def day_number(col: ir.Value) -> ir.IntegerValue:
    """Days since 1970-01-01 of a date (or timestamp: its calendar date)."""
    if col.type().is_timestamp():
        col = col.date()
    return col.delta(_EPOCH_EXPR, unit="day")


def day_to_date(n: ir.IntegerValue) -> ir.DateValue:
    """The date of a day number."""
    return (_EPOCH_EXPR + n.as_interval("D")).cast("date")


def py_day_number(d: dt.date) -> int:
    """The day number of a Python date."""
    return (d - EPOCH).days


def month_index(col: ir.Value) -> ir.IntegerValue:
    """Months since year 0 (``year * 12 + month - 1``) of a date: consecutive calendar months
    differ by one, across year boundaries too."""
    if col.type().is_timestamp():
        col = col.date()
    return col.year() * 12 + col.month() - 1


def py_month_index(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


@dataclass(frozen=True)
class Window:
    """A window relative to the index date: ``kind`` 'pre' or 'post'; ``days`` None = whole
    follow-up (post only)."""

    kind: str
    days: int | None

    @property
    def suffix(self) -> str:
        return f"{self.kind}_{'all' if self.days is None else f'{self.days}d'}"

    def bounds(
        self, t0: ir.IntegerValue, fe: ir.IntegerValue
    ) -> tuple[ir.IntegerValue, ir.IntegerValue]:
        """First and last day number (inclusive) of the observed part of the window."""
        if self.kind == "pre":
            return t0 - self.days, t0 - 1
        if self.days is None:
            return t0 + 1, fe
        return t0 + 1, ibis.least(t0 + self.days, fe)


def design_windows(pre: list[int], post: list[int]) -> list[Window]:
    """Pre windows, post windows, then the whole follow-up."""
    return (
        [Window("pre", p) for p in pre] + [Window("post", q) for q in post] + [Window("post", None)]
    )


def reach(windows: list[Window]) -> tuple[int, int | None]:
    """Offsets from :math:`t_0` of the first and the last day that any of ``windows`` can
    cover: :math:`-\\max P` (or 1 without a pre window) and -1 when all are pre windows, else
    None (up to :math:`f`).

    >>> reach([Window("pre", 30), Window("pre", 730), Window("post", 182)])
    (-730, None)
    >>> reach([Window("pre", 30), Window("pre", 182)])
    (-182, -1)
    """
    first = min(-w.days if w.kind == "pre" else 1 for w in windows)
    last = -1 if all(w.kind == "pre" for w in windows) else None
    return first, last


def overlap_days(
    s: ir.IntegerValue, e: ir.IntegerValue, a: ir.IntegerValue, b: ir.IntegerValue
) -> ir.IntegerValue:
    """Days of the closed interval [s, e] inside the closed interval [a, b] (0 if disjoint)."""
    return ibis.greatest(ibis.least(e, b) - ibis.greatest(s, a) + 1, 0)


def disjoint_intervals(spans: ir.Table) -> ir.Table:
    """Closed day intervals per person, ``pk, s, e``, cut into disjoint ones with the same union;
    other columns, which must be the person's (e.g. ``t0``), are kept.

    Order each person's intervals by (s, e); with :math:`p_i` the latest end among the intervals
    before interval *i*, keep its new days only, :math:`[\\max(s_i, p_i + 1), e_i]` (none when
    :math:`e_i \\le p_i`). The kept parts are disjoint and cover every day of the union once, so
    sums of days over them (in a window, in a month) count each day once, e.g. a jail stay inside
    a prison stay, or duplicate records. One window pass: no islands are formed (their ends are
    not needed). Rows tied on (s, e) are identical, so the result does not depend on row order.

    >>> import ibis
    >>> t = ibis.memtable({"pk": [1, 1, 1], "s": [10, 12, 30], "e": [20, 15, 31]})
    >>> disjoint_intervals(t).order_by("s").execute().values.tolist()
    [[1, 10, 20], [1, 30, 31]]
    """
    before = ibis.window(group_by="pk", order_by=["s", "e"], rows=(None, -1))
    flagged = spans.mutate(prev_end=spans.e.max().over(before))
    start = ibis.ifelse(
        flagged.prev_end.isnull(), flagged.s, ibis.greatest(flagged.s, flagged.prev_end + 1)
    )
    keep = [c for c in spans.columns if c not in ("pk", "s", "e")]  # per-person columns
    cut = flagged.select("pk", *keep, s=start, e=flagged.e)
    return cut.filter(cut.s <= cut.e)


def clip_spans(
    table: ir.Table,
    start: str,
    end: str,
    base: ir.Table,
    extra: dict | None = None,
    carry: tuple[str, ...] = (),
) -> ir.Table:
    """Stays of included persons as day intervals ``pk, s, e`` (``pk``: the person's integer key);
    an open stay (end missing) runs to follow-up end and every stay is cut at follow-up end. Stays
    starting after follow-up end are dropped. ``base`` has ``person_id, pk, fe`` and the columns
    ``carry`` (e.g. ``t0``), which are kept."""
    t = table.select(
        person_id=table.person_id,
        s=day_number(table[start]),
        e=day_number(table[end]),
        **{k: v(table) for k, v in (extra or {}).items()},
    )
    wanted = ["person_id", "pk", "fe", *(c for c in carry if c != "fe")]
    j = t.join(base.select(*wanted), "person_id")
    j = j.mutate(e=ibis.least(j.e.fill_null(j.fe), j.fe))
    j = j.filter(j.s <= j.e)
    return j.drop("person_id", *(() if "fe" in carry else ("fe",)))
