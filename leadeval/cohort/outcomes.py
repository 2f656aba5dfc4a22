"""Person-level measures: pre-period covariates, post-period outcomes, exposure, time to event.

Every measure is one grouped aggregation of an event table joined to the included persons, with
one conditional count (or interval overlap sum) per window, so each event table is scanned once
whatever the number of windows. Column names are ``{measure}_{window}`` with window
``pre_{P}d``, ``post_{Q}d`` or ``post_all`` (docs/cohort.md lists them all).

Binary "any event within Q days" outcomes are missing (NaN) when the window is incomplete,
i.e. :math:`t_0 + Q > f`, even if an event was already seen: setting them to 1 only when seen
would bias them upwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ibis
import ibis.expr.types as ir

from leadeval.cohort.windows import (
    Window,
    clip_spans,
    day_number,
    disjoint_intervals,
    overlap_days,
    reach,
)

SEVERE = "felony"
COURTS = ("municipal", "district", "superior")
HOUSED = ("emergency_shelter", "transitional", "permanent")
LEGIT = ("employment", "benefits", "other_legitimate")
DAYS_PER_MONTH = 365.25 / 12
_NEVER = 10**9  # a day offset later than any follow-up; stands for "no event"


def _flag(expr: ir.BooleanValue) -> ir.BooleanValue:
    return expr.fill_null(False)


def event_counts(
    events: ir.Table,
    base: ir.Table,
    windows: list[Window],
    measures: Mapping[str, Callable[[ir.Table], ir.BooleanValue] | None],
    first: str | None = None,
) -> ir.Table:
    """Counts of events per person in each window.

    ``events`` has ``person_id`` (or ``pk, t0, fe``) and ``d`` (event day number) plus whatever
    ``measures`` read:
    ``{name: predicate or None}`` (None counts every event). With ``first``, also the offset in
    days from the index date to the first event in (t0, f], named ``first``.
    """
    keyed = {"pk", "t0", "fe"} <= set(events.columns)  # already joined (e.g. the jail stays)
    j = events if keyed else events.join(base.select("person_id", "pk", "t0", "fe"), "person_id")
    aggs = {}
    for w in windows:
        lo, hi = w.bounds(j.t0, j.fe)
        inside = j.d.between(lo, hi)
        for name, pred in measures.items():
            cond = inside if pred is None else inside & _flag(pred(j))
            aggs[f"{name}_{w.suffix}"] = j.d.count(where=cond).cast("int32")
    if first:
        rel = j.d - j.t0
        aggs[first] = rel.min(where=(rel >= 1) & (j.d <= j.fe)).cast("int32")
    return j.group_by("pk").aggregate(**aggs)


def interval_days(spans: ir.Table, base: ir.Table, windows: list[Window], name: str) -> ir.Table:
    """Days of (already merged, disjoint) intervals ``pk, s, e`` inside each window."""
    has = {"t0", "fe"} <= set(spans.columns)  # carried through (merged_spans' ``carry``)
    j = spans if has else spans.join(base.select("pk", "t0", "fe"), "pk")
    aggs = {}
    for w in windows:
        lo, hi = w.bounds(j.t0, j.fe)
        aggs[f"{name}_{w.suffix}"] = overlap_days(j.s, j.e, lo, hi).sum().cast("int32")
    return j.group_by("pk").aggregate(**aggs)


def stays(
    tables: Mapping[str, ir.Table],
    base: ir.Table,
    which: tuple[str, ...],
    carry: tuple[str, ...] = (),
) -> ir.Table | None:
    """Jail and/or prison stays as clipped day intervals ``pk, s, e`` (not merged), with the
    person columns ``carry`` of ``base``."""
    cols = {"jail": ("booking_date", "release_date"), "prison": ("admission_date", "release_date")}
    parts = [clip_spans(tables[n], *cols[n], base, carry=carry) for n in which if n in tables]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else parts[0].union(parts[1], distinct=False)


#: housing status codes of :func:`stay_tables`' ``k``
UNSHELTERED, SHELTERED, PERMANENT = 0, 1, 2


def stay_tables(
    tables: Mapping[str, ir.Table], base: ir.Table, families: set[str]
) -> dict[str, ir.Table]:
    """The stays that the person query and the panel both read, as clipped intervals of the
    included persons, ``pk, t0, fe, s, e`` (:func:`clip_spans`), to be computed once into engine
    tables: ``jail`` (bookings, jail days, days incarcerated, the panel's jail days) and
    ``housing``, the episodes of the statuses used, with status code ``k`` (``UNSHELTERED``,
    ``SHELTERED`` or ``PERMANENT``: unsheltered days and the panel's housing). Each extract's
    view is then parsed once instead of once per reader. Pass them as ``cached`` to
    :func:`merged_spans`, :func:`measure_tables` and the panel."""
    out = {}
    carry = ("t0", "fe")
    if "jail" in tables:
        jail = clip_spans(tables["jail"], "booking_date", "release_date", base, carry=carry)
        out["jail"] = jail.select("pk", *carry, "s", "e")
    if "housing" in families:
        h = tables["housing"]
        h = h.filter(h.status.isin(["unsheltered", *HOUSED]))
        code = ibis.cases(
            (h.status == "unsheltered", UNSHELTERED),
            (h.status == "permanent", PERMANENT),
            else_=SHELTERED,
        ).cast("int8")
        extra = {"k": lambda t: t.k}
        spans = clip_spans(h.mutate(k=code), "start_date", "end_date", base, extra, carry)
        out["housing"] = spans.select("pk", *carry, "s", "e", "k")
    return out


def housing_spans(
    housing: ir.Table, base: ir.Table, statuses: tuple[str, ...], carry: tuple[str, ...] = ()
) -> ir.Table:
    h = housing.filter(housing.status.isin(list(statuses)))
    return clip_spans(h, "start_date", "end_date", base, carry=carry)


def merged_spans(
    tables: Mapping[str, ir.Table],
    base: ir.Table,
    families: set[str],
    carry: tuple[str, ...] = (),
    cached: Mapping[str, ir.Table] | None = None,
    windows: list[Window] | None = None,
) -> dict[str, ir.Table]:
    """Disjoint day intervals ``pk, s, e`` per person (:func:`disjoint_intervals`): ``jail``,
    ``prison`` (each also when only days incarcerated need it), ``jail_prison`` (the days in
    both, :func:`overlaps`: with both extracts) and ``unsheltered``, as far as the extracts
    allow; with the person columns ``carry`` of ``base`` (``("t0", "fe")`` spares
    :func:`interval_days` its join). ``cached`` (:func:`stay_tables`, restricted to the persons
    of ``base``) replaces reading the jail and housing extracts. With ``windows`` (``carry``
    must hold ``t0``), only the stays reaching into one of the windows that each set is summed
    over are merged (:func:`reaching`): the same days in every window, fewer rows to sort."""
    cached = cached or {}
    pre = [w for w in windows if w.kind == "pre"] if windows else None

    def clipped(n: str) -> ir.Table:
        if n in cached:
            return cached[n].select("pk", *carry, "s", "e")
        return stays(tables, base, (n,), carry)

    out = {
        n: disjoint_intervals(reaching(clipped(n), windows))
        for n in ("jail", "prison")
        if n in tables
    }
    if len(out) == 2:
        out["jail_prison"] = overlaps(out["jail"], out["prison"])
    if "housing" in families:
        if "housing" in cached:
            h = cached["housing"]
            unsheltered = h.filter(h.k == UNSHELTERED).select("pk", *carry, "s", "e")
        else:
            unsheltered = housing_spans(tables["housing"], base, ("unsheltered",), carry)
        out["unsheltered"] = disjoint_intervals(reaching(unsheltered, pre))
    return out


def reaching(spans: ir.Table, windows: list[Window] | None) -> ir.Table:
    """The intervals ``s, e`` (with the person's ``t0``) that reach into the days the
    ``windows`` can cover, :math:`[t_0 + a, t_0 + b]` (:func:`~leadeval.cohort.windows.reach`;
    all when ``windows`` is None or empty). The others add no day to any window, and dropping
    them changes the disjoint pieces of the rest (:func:`disjoint_intervals`) only outside
    those days: one ending before :math:`t_0 + a` can only push a later piece's start up to
    its end + 1, still before :math:`t_0 + a`; one starting after :math:`t_0 + b` sorts after
    every kept interval, whose pieces depend on earlier intervals only."""
    if not windows:
        return spans
    first, last = reach(windows)
    keep = spans.e >= spans.t0 + first
    if last is not None:
        keep &= spans.s <= spans.t0 + last
    return spans.filter(keep)


def overlaps(a: ir.Table, b: ir.Table) -> ir.Table:
    """The days in both of two sets of disjoint intervals ``pk, s, e`` (and the person's
    columns of ``a``): every overlap of an interval of ``a`` with one of ``b`` of the same
    person. Within each set the intervals are disjoint, so the overlaps are too, and the days of
    the union inside any window are :math:`|A \\cap W| + |B \\cap W| - |A \\cap B \\cap W|`
    (:func:`incarcerated_days`): exact integers, from the two sets' own window sums and these
    few pieces, without a window pass over both sets together."""
    keep = [c for c in a.columns if c not in ("s", "e")]  # pk and the person's columns
    o = b.select(pk_b=b.pk, s_b=b.s, e_b=b.e)
    x = a.join(o, [a.pk == o.pk_b, a.s <= o.e_b, o.s_b <= a.e])
    return x.select(*keep, s=ibis.greatest(x.s, x.s_b), e=ibis.least(x.e, x.e_b))


#: prefix of the internal window sums that days incarcerated are made of (dropped after)
PART = "_part_"


def incarcerated_days(t: ir.Table, windows: list[Window], parts: list[str]) -> dict[str, ir.Value]:
    """``incarcerated_days_{W}`` (jail and prison days, each day once) from the joined window
    sums ``parts`` (:func:`measure_tables`): jail days + prison days - days in both
    (:func:`overlaps`), as far as the extracts allow."""
    cols = {}
    for w in windows:
        days = [t[f"{p}_{w.suffix}"] for p in parts]
        total = days[0] + days[1] - days[2] if len(days) == 3 else days[0]
        cols[f"incarcerated_days_{w.suffix}"] = total.cast("int32")
    return cols


def measure_tables(
    tables: Mapping[str, ir.Table],
    base: ir.Table,
    windows: list[Window],
    families: set[str],
    spans: Mapping[str, ir.Table],
    cached: Mapping[str, ir.Table] | None = None,
) -> tuple[list[ir.Table], list[str]]:
    """One aggregated table per event source for the requested, available outcome families;
    ``spans`` comes from :func:`merged_spans`, ``cached`` from :func:`stay_tables`. Also the
    names of the window sums that :func:`incarcerated_days` adds up (jail, prison, both; a
    family's own ``jail_days`` or ``prison_days``, else internal ones prefixed ``PART``)."""
    cached = cached or {}
    out = []
    parts = []
    for n in ("jail", "prison", "jail_prison"):
        if n in spans:
            name = f"{n}_days" if n in families else f"{PART}{n}_days"
            if n not in families:
                out.append(interval_days(spans[n], base, windows, name))
            parts.append(name)
    if "arrests" in families:
        a = tables["arrests"]
        ev = a.select("person_id", "severity", "warrant", d=day_number(a.arrest_date))
        out.append(
            event_counts(
                ev,
                base,
                windows,
                {
                    "arrests": None,
                    "felony_arrests": lambda t: t.severity == SEVERE,
                    "warrant_arrests": lambda t: t.warrant,
                },
                first="first_arrest",
            )
        )
    if "charges" in families:
        c = tables["charges"]
        ev = c.select("person_id", "severity", "court", d=day_number(c.filing_date))
        measures = {"charges": None, "felony_charges": lambda t: t.severity == SEVERE}
        for court in COURTS:
            measures[f"charges_{court}"] = lambda t, court=court: t.court == court
        out.append(event_counts(ev, base, windows, measures))
    if "jail" in families:
        if "jail" in cached:
            # Clipping drops only stays starting after follow-up end: never in a window.
            j = cached["jail"]
            ev = j.select("pk", "t0", "fe", d=j.s)
        else:
            j = tables["jail"]
            ev = j.select("person_id", d=day_number(j.booking_date))
        out.append(event_counts(ev, base, windows, {"bookings": None}))
        out.append(interval_days(spans["jail"], base, windows, "jail_days"))
    if "prison" in families:
        p = tables["prison"]
        ev = p.select("person_id", d=day_number(p.admission_date))
        out.append(
            event_counts(ev, base, windows, {"prison_admissions": None}, first="first_prison")
        )
        out.append(interval_days(spans["prison"], base, windows, "prison_days"))
    if "ems" in families:
        e = tables["ems"]
        ev = e.select("person_id", d=day_number(e.call_datetime))
        out.append(event_counts(ev, base, windows, {"ems_calls": None}))
    if "contacts" in families:
        c = tables["contacts"]
        ev = c.select("person_id", d=day_number(c.contact_date))
        out.append(event_counts(ev, base, windows, {"contacts": None}))
    if "housing" in families:
        pre = [w for w in windows if w.kind == "pre"]
        out.append(interval_days(spans["unsheltered"], base, pre, "unsheltered_days"))
    return out, parts


def derive(
    t: ir.Table,
    windows: list[Window],
    families: set[str],
    has_incarceration: bool,
    exclude_incarceration: bool,
    competing: tuple[str, ...],
) -> dict[str, ir.Value]:
    """Derived columns (binary outcomes, exposure, time to event) from the joined counts."""
    cols: dict[str, ir.Value] = {}
    na = ibis.null("float64")

    def binary(count: str, complete: ir.BooleanValue | None) -> ir.Value:
        hit = ibis.ifelse(t[count] > 0, 1.0, 0.0)
        return hit if complete is None else ibis.ifelse(complete, hit, na)

    for w in windows:
        sfx = w.suffix
        complete = None
        if w.kind == "pre":
            observed = ibis.literal(w.days)
        elif w.days is None:
            observed = t.followup_days
        else:
            complete = (t.t0 + w.days) <= t.fe
            observed = ibis.least(w.days, t.followup_days)
            cols[f"window_complete_{sfx}"] = complete
        cols[f"observed_days_{sfx}"] = observed.cast("int32")
        at_risk = (
            observed - t[f"incarcerated_days_{sfx}"]
            if has_incarceration and exclude_incarceration
            else observed
        )
        cols[f"exposure_{sfx}"] = at_risk.cast("int32")
        if w.kind == "pre":
            if "arrests" in families:
                cols[f"any_arrest_{sfx}"] = ibis.ifelse(t[f"arrests_{sfx}"] > 0, 1, 0).cast("int32")
            if "prison" in families:
                cols[f"prison_{sfx}"] = ibis.ifelse(t[f"prison_days_{sfx}"] > 0, 1, 0).cast("int32")
            if "housing" in families:
                cols[f"months_unsheltered_{sfx}"] = t[f"unsheltered_days_{sfx}"] / DAYS_PER_MONTH
        else:
            if "arrests" in families:
                cols[f"arrest_{sfx}"] = binary(f"arrests_{sfx}", complete)
            if "charges" in families:
                cols[f"felony_charge_{sfx}"] = binary(f"felony_charges_{sfx}", complete)
            if "prison" in families:
                cols[f"prison_{sfx}"] = binary(f"prison_admissions_{sfx}", complete)

    fu = t.followup_days
    if "arrests" in families:
        cols["days_to_arrest"] = t.first_arrest.fill_null(fu).cast("int32")
        cols["arrested"] = ibis.ifelse(t.first_arrest.notnull(), 1, 0).cast("int32")
    if "prison" in families:
        cols["days_to_prison"] = t.first_prison.fill_null(fu).cast("int32")
        cols["prison_admitted"] = ibis.ifelse(t.first_prison.notnull(), 1, 0).cast("int32")
    if "arrests" in families:
        ta = t.first_arrest.fill_null(_NEVER)
        tp = (
            t.first_prison.fill_null(_NEVER)
            if "prison" in competing and "prison" in families
            else ibis.literal(_NEVER)
        )
        td = (
            ibis.ifelse(t.followup_end_reason == "death", fu, _NEVER)
            if "death" in competing
            else ibis.literal(_NEVER)
        )
        first = ibis.least(ta, tp, td)
        # Same-day ties: arrest before prison admission before death.
        cols["first_event"] = ibis.cases(
            (first == _NEVER, 0), (ta == first, 1), (tp == first, 2), else_=3
        ).cast("int32")
        cols["days_to_first_event"] = ibis.ifelse(first == _NEVER, fu, first).cast("int32")
    return cols
