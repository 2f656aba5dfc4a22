"""The person-month panel: a calendar grid of months around each index month, filled with the
monthly aggregates of every event source.

The aggregates (one row per person-month with something to report) are Ibis queries on the
backend (:func:`monthly_parts`); the grid itself is a function of two numbers per person (index
month, follow-up end) and is laid out with numpy (:func:`assemble_panel`), which avoids a
tens-of-millions-row join and sort on the backend.

Month offset :math:`m = \\text{month index}(\\text{date}) - \\text{month index}(t_0)` with month
index ``year * 12 + month - 1``, so December 2015 -> January 2016 is one month apart. Month 0
contains every day of the index month, the index date included (the panel is calendar-based, the
windows are not). Months starting after follow-up end are absent; the month holding follow-up end
keeps only the days up to it (``days_observed``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from leadeval.cohort.outcomes import HOUSED, LEGIT, PERMANENT, UNSHELTERED, merged_spans
from leadeval.cohort.windows import (
    EPOCH,
    clip_spans,
    day_number,
    month_index,
    overlap_days,
)

PANEL_FAMILIES = {
    "arrests": ("arrests",),
    "jail": ("jail_days",),
    "ems": ("ems_calls",),
    "contacts": ("contacts", "cumulative_contacts"),
    "housing": ("sheltered", "permanent_housing"),
    "income": ("employed", "legit_income"),
}


def calendar(first_month: int, last_month: int) -> ir.Table:
    """One row per calendar month index in [first_month, last_month]: ``month_index``,
    ``month_start`` (date), ``m_start`` and ``m_end`` (day numbers of its first and last day)."""
    idx = np.arange(first_month, last_month + 1, dtype=np.int64)
    years, months = np.divmod(idx, 12)
    starts = pd.to_datetime({"year": years, "month": months + 1, "day": 1})
    ends = starts + pd.offsets.MonthEnd(0)
    epoch = pd.Timestamp(EPOCH)
    frame = pd.DataFrame(
        {
            "month_index": idx,
            "month_start": starts.dt.date,
            "m_start": (starts - epoch).dt.days.astype("int64"),
            "m_end": (ends - epoch).dt.days.astype("int64"),
        }
    )
    return ibis.memtable(
        frame,
        schema={
            "month_index": "int64",
            "month_start": "date",
            "m_start": "int64",
            "m_end": "int64",
        },
    )


def _monthly_counts(events: ir.Table, date_col: str, base: ir.Table, lo: int, hi: int, name: str):
    """One row per event up to follow-up end in the panel range: ``pk, month_offset, <name>=1``."""
    e = events.select("person_id", d=day_number(events[date_col]), mi=month_index(events[date_col]))
    j = e.join(base.select("person_id", "pk", "fe", "mi0"), "person_id")
    j = j.mutate(month_offset=j.mi - j.mi0)
    j = j.filter((j.d <= j.fe) & j.month_offset.between(lo, hi))
    return j.select("pk", "month_offset", **{name: ibis.literal(1, "int64")})


def _spans_by_month(spans: ir.Table, cal: ir.Table, base: ir.Table, lo: int, hi: int) -> ir.Table:
    """Day intervals ``pk, s, e`` cut into calendar months within the panel range: one row per
    interval and month it touches, with ``month_offset`` and ``days`` (its days in that month).

    A range join to the (small) calendar of the panel's months. (Expanding intervals with an
    unnested month range is faster, but DuckDB 2.0 raises an internal "dict-surviving cache"
    error on it with Parquet-backed extracts.)"""
    j = spans.join(cal, [spans.s <= cal.m_end, spans.e >= cal.m_start])
    j = j.join(base.select("pk", "mi0"), "pk")
    j = j.mutate(
        month_offset=j.month_index - j.mi0, days=overlap_days(j.s, j.e, j.m_start, j.m_end)
    )
    return j.filter(j.month_offset.between(lo, hi))


def monthly_parts(
    tables: Mapping[str, ir.Table],
    base: ir.Table,
    families: set[str],
    months: tuple[int, int],
    month_span: tuple[int, int],
    data_end: dt.date,
    spans: Mapping[str, ir.Table],
    housing: ir.Table | None = None,
) -> list[tuple[ir.Table, tuple[str, ...]]]:
    """Monthly aggregates as Ibis tables ``pk, month_offset, <measures>`` (one row per
    person-month with anything to report; a measure may be 0 there), within the panel range and
    up to follow-up end, each with the names of its measure columns. Measures from the same
    extract share one table, so each extract is read once.

    ``month_span`` is (smallest, largest) index month index among included persons;
    ``housing``, the persons' housing stays of :func:`~leadeval.cohort.outcomes.stay_tables`
    (else the extract is read).
    """
    lo, hi = months
    last = data_end.year * 12 + data_end.month - 1
    cal = calendar(month_span[0] + lo, max(min(month_span[1] + hi, last), month_span[0] + lo))
    parts: dict[str, tuple[ir.Table, str]] = {}
    shared: list[tuple[ir.Table, tuple[str, ...]]] = []
    if "arrests" in families:
        parts["arrests"] = (
            _monthly_counts(tables["arrests"], "arrest_date", base, lo, hi, "value"),
            "sum",
        )
    if "ems" in families:
        parts["ems_calls"] = (
            _monthly_counts(tables["ems"], "call_datetime", base, lo, hi, "value"),
            "sum",
        )
    if "contacts" in families:
        # One read of the extract for both parts: contacts before the first panel month are
        # counted at month ``lo`` as ``prior`` (they seed the running total).
        c = tables["contacts"]
        cj = c.select("person_id", d=day_number(c.contact_date), mi=month_index(c.contact_date))
        cj = cj.join(base.select("person_id", "pk", "mi0", "fe"), "person_id")
        rel = cj.mi - cj.mi0
        cj = cj.filter((cj.d <= cj.fe) & (rel <= hi)).mutate(prior=rel < lo)
        cj = cj.select("pk", "prior", month_offset=ibis.greatest(rel, lo))
        both = cj.group_by(["pk", "month_offset"]).aggregate(
            contacts=cj.count(where=~cj.prior), prior_contacts=cj.count(where=cj.prior)
        )
        shared.append((both, ("contacts", "prior_contacts")))
    if "jail" in families:
        m = _spans_by_month(spans["jail"], cal, base, lo, hi)
        parts["jail_days"] = (m.select("pk", "month_offset", value=m.days), "sum")
    if "housing" in families and housing is not None:
        h = housing.filter(housing.k != UNSHELTERED)
        spans = h.select("pk", "s", "e", permanent=ibis.ifelse(h.k == PERMANENT, 1, 0))
    elif "housing" in families:
        h = tables["housing"]
        spans = clip_spans(
            h.filter(h.status.isin(list(HOUSED))),
            "start_date",
            "end_date",
            base,
            extra={"permanent": lambda t: ibis.ifelse(t.status == "permanent", 1, 0)},
        )
    if "housing" in families:
        m = _spans_by_month(spans, cal, base, lo, hi)
        both = m.group_by(["pk", "month_offset"]).aggregate(
            sheltered=ibis.least(m.count(), 1), permanent_housing=m.permanent.max()
        )
        shared.append((both, ("sheltered", "permanent_housing")))
    if "income" in families:
        inc = tables["income"]
        i = inc.select("person_id", "source", mi=month_index(inc.month)).join(
            base.select("person_id", "pk", "mi0"), "person_id"
        )
        i = i.mutate(month_offset=i.mi - i.mi0)
        i = i.filter(i.month_offset.between(lo, hi) & i.source.isin(list(LEGIT)))
        both = i.group_by(["pk", "month_offset"]).aggregate(
            employed=ibis.ifelse(i.source == "employment", 1, 0).max(),
            legit_income=ibis.least(i.count(), 1),
        )
        shared.append((both, ("employed", "legit_income")))
    out = []
    for name, (t, how) in parts.items():
        agg = t.value.sum() if how == "sum" else t.value.max()
        out.append((t.group_by(["pk", "month_offset"]).aggregate(**{name: agg}), (name,)))
    return out + shared


_TYPES = {
    "arrests": "int16",
    "jail_days": "int16",
    "ems_calls": "int16",
    "contacts": "int16",
    "cumulative_contacts": "int32",
    "sheltered": "int8",
    "permanent_housing": "int8",
    "employed": "int8",
    "legit_income": "int8",
}


def assemble_panel(
    parts: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    mi0: np.ndarray,
    fe: np.ndarray,
    families: set[str],
    months: tuple[int, int],
    keep: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Lay the monthly aggregates onto the person x month grid (vectorised numpy, no loop over
    people). ``parts`` maps a measure to ``(pk, month_offset, value)`` arrays with one entry per
    person-month. Returns columns ``pk, month_offset, month_start, <measures>, days_observed``
    as arrays, rows sorted by pk and month, plus ``row``: each row's position in the whole panel.

    The grid is a function of two person-level numbers, so it is generated here rather than on
    the backend: person ``pk`` (row ``pk`` of ``mi0``/``fe``) gets months ``lo`` .. min(hi, month
    of follow-up end). ``fe`` holds follow-up end as day numbers. With ``keep`` (sorted unique
    pks), only those persons' rows are laid out (``parts`` may hold others: they are ignored).
    """
    lo, hi = months
    fe_dates = fe.astype("datetime64[D]")
    fe_mi = fe_dates.astype("datetime64[M]").astype(np.int64) + 1970 * 12
    last_all = np.minimum(hi, fe_mi - mi0)
    lengths_all = (last_all - lo + 1).astype(np.int64)
    first_row = np.cumsum(lengths_all) - lengths_all  # each person's first row in the whole panel
    if keep is None:
        keep = np.arange(len(mi0), dtype=np.int64)
    local = np.full(len(mi0), -1, dtype=np.int64)  # pk -> position among the kept persons
    local[keep] = np.arange(len(keep))
    mi0, fe_dates, fe_mi, last = mi0[keep], fe_dates[keep], fe_mi[keep], last_all[keep]
    lengths = lengths_all[keep]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    n_rows = int(ends[-1]) if len(ends) else 0
    person = np.repeat(np.arange(len(keep), dtype=np.int32), lengths)
    offset = np.arange(n_rows, dtype=np.int32)
    offset -= np.repeat(starts.astype(np.int32) - lo, lengths)
    row = first_row[keep][person] + (offset - lo)
    # Calendar lookups by month (few hundred entries) avoid month-sized temporaries.
    month = mi0.astype(np.int32)[person]
    month += offset
    mmin = int(month.min()) if n_rows else 0
    month -= mmin
    cal = np.arange(mmin, (mmin + int(month.max()) + 2) if n_rows else 1) - 1970 * 12
    cal_days = cal.astype("datetime64[M]").astype("datetime64[D]")
    month_start = cal_days[:-1].astype("datetime64[ns]")[month]
    # Days observed: the whole month, except the month holding follow-up end.
    observed = np.diff(cal_days.astype(np.int64)).astype(np.int8)[month]
    del month
    has_end = last == fe_mi - mi0
    end_rows = ends[has_end] - 1
    end_dates = fe_dates[has_end]
    day_of_month = (end_dates - end_dates.astype("datetime64[M]").astype("datetime64[D]")).astype(
        np.int64
    )
    observed[end_rows] = day_of_month + 1

    def lay(name: str, dtype: str) -> np.ndarray:
        arr = np.zeros(n_rows, dtype=dtype)
        if name in parts:
            p, o, v = parts[name]
            p, o = local[p], o.astype(np.int64)
            ok = p >= 0
            ok[ok] = o[ok] <= last[p[ok]]  # months after follow-up end are absent
            arr[starts[p[ok]] + o[ok] - lo] = v[ok]
        return arr

    cols: dict[str, np.ndarray] = {
        "pk": keep[person].astype(np.int32),
        "month_offset": offset.astype(np.int16),
        "month_start": month_start,
    }
    del offset, person
    for fam, names in PANEL_FAMILIES.items():
        if fam not in families:
            continue
        for name in names:
            if name == "cumulative_contacts":
                run = lay("contacts", "int32")
                run += lay("prior_contacts", "int32")
                np.cumsum(run, out=run)
                # running total minus everything before the person's first row
                before = np.where(starts > 0, run[np.maximum(starts - 1, 0)], 0).astype(np.int32)
                run -= np.repeat(before, lengths)
                cols[name] = run
            else:
                cols[name] = lay(name, _TYPES[name])
    cols["days_observed"] = observed
    cols["row"] = row
    return cols


@dataclass(frozen=True, eq=False)
class PanelSource:
    """The person-month panel kept in the engine: the monthly aggregates are queried, and the
    grid laid out, only for the persons asked for (:meth:`Cohort.panel_for`), so that a state's
    pool (millions of people, tens of months each) never has to be one pandas frame.

    ``base`` is the engine table of included persons (``person_id, pk, fe, mi0``, cached on
    the backend, so the extracts' backend must stay open); ``mi0`` and ``fe`` hold every
    person's index month index and follow-up end day number, by ``pk``.
    """

    tables: Mapping[str, ir.Table]
    base: ir.Table
    families: frozenset[str]
    months: tuple[int, int]
    data_end: dt.date
    mi0: np.ndarray
    fe: np.ndarray
    cached: Mapping[str, ir.Table] = dataclasses.field(default_factory=dict)

    def parts(self, keep: np.ndarray | None) -> dict[str, tuple[np.ndarray, ...]]:
        """The monthly aggregates of persons ``keep`` (all when None) as ``(pk, month_offset,
        value)`` arrays per measure."""
        if not len(self.mi0) or (keep is not None and not len(keep)):
            return {}
        base, cached = self.base, dict(self.cached)
        if keep is not None:
            wanted = ibis.memtable({"pk": keep.astype(np.int64)}, schema={"pk": "int64"})
            base = base.join(wanted, "pk")
            cached = {k: t.join(wanted, "pk") for k, t in cached.items()}
        spans = merged_spans(self.tables, base, set(self.families) & {"jail"}, cached=cached)
        span = (int(self.mi0.min()), int(self.mi0.max()))
        exprs = monthly_parts(
            self.tables,
            base,
            set(self.families),
            self.months,
            span,
            self.data_end,
            spans,
            cached.get("housing"),
        )
        out = {}
        # One query per extract: stacking them with UNION ALL trips an internal DuckDB 2.0 error
        # ("dict-surviving cache ... changed identity") on Parquet-backed extracts.
        for t, names in exprs:
            got = t.select(
                pk=t.pk.cast("int32"),
                month_offset=t.month_offset.cast("int16"),
                **{n: t[n].cast("int32") for n in names},
            ).to_pyarrow()
            pk, offset = (got.column(c).to_numpy() for c in ("pk", "month_offset"))
            for n in names:
                value = got.column(n).to_numpy()
                some = value != 0  # a person-month with nothing for this measure
                out[n] = (pk[some], offset[some], value[some])
            del got
        pa.default_memory_pool().release_unused()
        return out

    def frame(self, persons: pd.DataFrame, keep: np.ndarray | None = None) -> pd.DataFrame:
        """Person-months of persons ``keep`` (sorted unique pks = rows of ``persons``; all when
        None), with each row's index label its position in the whole panel."""
        cols = assemble_panel(
            self.parts(keep), self.mi0, self.fe, set(self.families), self.months, keep
        )
        pk, row = cols.pop("pk"), cols.pop("row")
        out = {
            "person_id": persons["person_id"].array.take(pk),
            "group": persons["group"].array.take(pk),
            "treated": persons["treated"].to_numpy().astype("int8")[pk],
        }
        del pk
        out.update(cols)
        index = pd.RangeIndex(len(row)) if keep is None else pd.Index(row)
        return pd.DataFrame(out, index=index, copy=False)
