r"""Quarterly program monitoring: the figures a LEAD site publishes, per quarter and per area.

For each quarter :math:`q = [s_q, e_q]` (calendar quarters, or fiscal ones with
``monitor.quarter_start_month``) and each area (the roster's ``area``, mapped with
``monitor.areas``; missing: 'unknown'), among LEAD participants (``group == 'lead'``):

* ``referrals`` — referral_date in :math:`q`;
* ``enrolments`` — enrollment_date in :math:`q`;
* ``enrolled_end`` — enrolled clients at the end of the quarter: enrollment_date :math:`\le e_q`,
  and neither exit_date nor death_date :math:`\le e_q` (:math:`e_q` is the data end date in a
  quarter the data end cuts short, flagged ``partial``);
* ``exits`` — exit_date in :math:`q`;
* ``substantive_meetings`` / ``contacts`` — contacts with ``substantive`` true / all contacts
  dated in :math:`q`, by the client's area; ``people_met`` / ``people_contacted`` — the distinct
  clients behind them (the base of their small-cell protection);
* ``median_days_to_first_contact`` — among the quarter's referrals with a first contact (the
  roster's first_contact_date, else the earliest contact on or after referral), the median of
  first contact - referral date in days; ``first_contacts`` counts them;
* site-wide per quarter: ``spending`` (program_ledger amounts of the quarter's months),
  ``participant_months`` (enrolled participant-months, a client counting in every month with an
  enrolled day, as :func:`leadeval.costs.enrolment_by_month`), ``people_enrolled`` (clients
  enrolled on any day of the quarter) and ``cost_per_participant_month`` = spending /
  participant_months.

Everything is grouped by (quarter, area) at once (no loop over people); loops run over quarters.
The 'all areas' row is computed from all clients, so for the counts of people it equals the sum of
the areas (``MONITOR_DISCLOSURE`` states the relations for the disclosure step).

Example
-------
>>> import leadeval as le
>>> res = monitor_site(le.load_config("configs/seattle.yaml"))       # doctest: +SKIP
>>> res.by_area.head()                                               # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadeval.config import MonitorConfig, SiteConfig
from leadeval.errors import LeadevalError

ALL_AREAS = "all areas"
UNKNOWN = "unknown"
MONITOR_EXTRACTS = ("roster", "contacts", "program_ledger")
PEOPLE_COUNTS = (
    "referrals", "enrolments", "enrolled_end", "exits", "people_met", "people_contacted",
    "first_contacts",
)
DERIVED = {  # shown value -> the count of people it rests on
    "substantive_meetings": "people_met",
    "contacts": "people_contacted",
    "median_days_to_first_contact": "first_contacts",
}
BY_AREA_COLUMNS = [
    "quarter", "area", "partial", "referrals", "enrolments", "enrolled_end", "exits",
    "substantive_meetings", "people_met", "contacts", "people_contacted", "first_contacts",
    "median_days_to_first_contact",
]
SITE_COLUMNS = [
    "quarter", "partial", "spending", "participant_months", "people_enrolled",
    "cost_per_participant_month",
]
# Disclosure declaration (one place): which columns count people, what is derived from which
# count, and the additive relations between published cells.
MONITOR_DISCLOSURE = {
    "by_area": {
        "counts": list(PEOPLE_COUNTS),
        "derived": dict(DERIVED),
        "additive": [
            "within a quarter, for every count of people: sum over areas = the 'all areas' row",
        ],
        "other_relations": [
            "enrolled_end[q] = enrolled_end[q-1] + enrolments[q] - exits[q] - deaths[q] - "
            "(clients enrolled and exited in q), per area; deaths are not published, so this "
            "is an inequality, not an identity",
            "first_contacts[q] <= referrals[q]; people_met[q] <= people_contacted[q]",
        ],
    },
    "site": {
        "counts": ["people_enrolled"],
        "derived": {"cost_per_participant_month": "people_enrolled",
                    "participant_months": "people_enrolled"},
        "additive": ["spending over quarters = ledger total (spending is dollars, not people)"],
    },
}


@dataclass(frozen=True)
class MonitorResult:
    """Quarterly monitoring figures (unsuppressed: publish with
    :func:`leadeval.report.monitor_page.publish_monitor`)."""

    site: str
    data_end_date: dt.date
    quarters: pd.PeriodIndex  # every quarter from the first referral to ``end`` (for trends)
    start: pd.Period  # first quarter of the requested period
    end: pd.Period
    by_area: pd.DataFrame  # BY_AREA_COLUMNS, all quarters, areas + 'all areas'
    site_totals: pd.DataFrame  # SITE_COLUMNS
    areas: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """The per-area table of the requested period (tidy: one row per quarter and area)."""
        keep = self.by_area["period_index"].between(_ordinal(self.start), _ordinal(self.end))
        return self.by_area.loc[keep.to_numpy(), BY_AREA_COLUMNS].reset_index(drop=True)

    def site_frame(self) -> pd.DataFrame:
        keep = self.site_totals["period_index"].between(_ordinal(self.start), _ordinal(self.end))
        return self.site_totals.loc[keep.to_numpy(), SITE_COLUMNS].reset_index(drop=True)


def _ordinal(p: pd.Period) -> int:
    return int(p.ordinal)


def quarter_freq(start_month: int) -> str:
    """pandas frequency of quarters whose year starts in ``start_month`` (1 = calendar quarters,
    7 = a July-June fiscal year).

    >>> quarter_freq(1), quarter_freq(7)
    ('Q-DEC', 'Q-JUN')
    """
    months = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    return f"Q-{months[(start_month - 2) % 12]}"


def parse_quarter(text: str, freq: str = "Q-DEC", what: str = "--period") -> pd.Period:
    """'2024Q1' (or '2024q1', '2024-Q1') as a quarter; a clear error otherwise.

    >>> str(parse_quarter("2013Q2"))
    '2013Q2'
    """
    t = str(text).strip().upper().replace("-", "").replace(" ", "")
    import re

    if not re.fullmatch(r"\d{4}Q[1-4]", t):
        raise LeadevalError(f"{what} {text!r} is not a quarter; write it as YYYYQn, e.g. 2024Q1")
    return pd.Period(t, freq=freq)


def _dates(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[col]).astype("datetime64[ns]")


def _area(roster: pd.DataFrame, mapping: Mapping[str, str]) -> pd.Series:
    area = roster["area"].astype(object) if "area" in roster else pd.Series(None, index=roster.index)
    area = area.where(area.notna(), UNKNOWN).astype(str)
    return area.map(lambda a: mapping.get(a, a)) if mapping else area


def _grid(values: pd.Series, quarters: pd.Series, areas: pd.Series, how: str = "size") -> pd.Series:
    """Per (quarter ordinal, area) aggregation, with an 'all areas' level."""
    frame = pd.DataFrame({"q": quarters, "area": areas, "v": values}).dropna(subset=["q"])
    g = frame.groupby(["q", "area"])["v"]
    t = frame.groupby("q")["v"]
    if how == "size":
        a, b = g.size(), t.size()
    elif how == "nunique":
        a, b = g.nunique(), t.nunique()
    elif how == "median":
        a, b = g.median(), t.median()
    else:  # pragma: no cover
        raise ValueError(how)
    b.index = pd.MultiIndex.from_arrays([b.index, np.full(len(b), ALL_AREAS)], names=["q", "area"])
    return pd.concat([a, b])


def program_figures(
    roster: pd.DataFrame,
    contacts: pd.DataFrame | None,
    ledger: pd.DataFrame | None,
    data_end_date: dt.date,
    config: MonitorConfig | None = None,
    start: pd.Period | str | None = None,
    end: pd.Period | str | None = None,
    site: str = "site",
    labels: tuple[str, str] = ("--from", "--to"),
) -> MonitorResult:
    """The quarterly monitoring figures from canonical roster, contacts and ledger frames.

    Parameters
    ----------
    roster, contacts, ledger : canonical extracts (contacts and ledger may be None).
    data_end_date : the site's data end date (the last quarter may be partial).
    config : the ``monitor`` block (quarter definition, area mapping, first-contact rule).
    start, end : the requested quarters (default: the first referral's quarter to the data end's).

    Examples
    --------
    >>> roster = pd.DataFrame({"person_id": ["a", "b"], "group": ["lead", "lead"],
    ...     "referral_date": pd.to_datetime(["2020-01-10", "2020-05-02"]),
    ...     "enrollment_date": pd.to_datetime(["2020-01-20", None]), "area": ["x", "y"]})
    >>> res = program_figures(roster, None, None, dt.date(2020, 6, 30))
    >>> res.to_frame()[["quarter", "area", "referrals", "enrolled_end"]].tail(3)
      quarter       area  referrals  enrolled_end
    3  2020Q2  all areas          1             1
    4  2020Q2          x          0             1
    5  2020Q2          y          1             0
    """
    config = config or MonitorConfig()
    freq = quarter_freq(config.quarter_start_month)
    data_end = pd.Timestamp(data_end_date)
    lead = roster[roster["group"].astype(str) == "lead"]
    if lead.empty:
        raise LeadevalError("the roster has no LEAD participants (group 'lead'): nothing to monitor")
    ref = _dates(lead, "referral_date")
    enr = _dates(lead, "enrollment_date")
    ext = _dates(lead, "exit_date")
    dth = _dates(lead, "death_date")
    area = _area(lead, config.areas)
    last_q = data_end.to_period(freq)
    first_q = ref.min().to_period(freq)
    start = parse_quarter(start, freq, "--from") if isinstance(start, str) else start
    end = parse_quarter(end, freq, "--to") if isinstance(end, str) else end
    start = first_q if start is None else start
    end = last_q if end is None else end
    problems: list[str] = []
    for name, q in zip(labels, (start, end), strict=True):
        if q > last_q:
            problems.append(f"{name} {q} is after the data end ({data_end.date()}, quarter {last_q})")
        if q < first_q:
            problems.append(f"{name} {q} is before the first referral (quarter {first_q})")
    problems = list(dict.fromkeys(problems))
    if start > end:
        problems.append(f"{labels[0]} {start} is after {labels[1]} {end}")
    if problems:
        raise LeadevalError("; ".join(problems) + f"; the data cover {first_q} to {last_q}")
    quarters = pd.period_range(min(first_q, start), end, freq=freq)
    areas = tuple(sorted(set(area)))

    def qo(s: pd.Series) -> pd.Series:
        out = s.dt.to_period(freq)
        return out.map(lambda p: p.ordinal if p is not pd.NaT else np.nan).astype(float)

    pid = lead["person_id"].astype(str)
    parts = {
        "referrals": _grid(pid, qo(ref), area),
        "enrolments": _grid(pid, qo(enr), area),
        "exits": _grid(pid, qo(ext), area),
    }
    # enrolled at quarter end: one vectorised pass per quarter
    stop = pd.concat([ext, dth], axis=1).min(axis=1)
    area_codes = pd.Categorical(area, categories=areas)
    rows_end, rows_people = [], []
    for q in quarters:
        qe = min(q.end_time.normalize(), data_end)
        qs = q.start_time.normalize()
        on = (enr <= qe) & (stop.isna() | (stop > qe))
        during = (enr <= qe) & (stop.isna() | (stop >= qs))
        counts = np.bincount(area_codes.codes[on.to_numpy()], minlength=len(areas))
        rows_end.append(pd.Series([*counts, counts.sum()],
                                  index=pd.MultiIndex.from_product([[q.ordinal], [*areas, ALL_AREAS]])))
        rows_people.append((q.ordinal, int(during.sum())))
    parts["enrolled_end"] = pd.concat(rows_end)
    # first contact
    fc = _dates(lead, "first_contact_date") if config.first_contact == "roster" else None
    if contacts is not None and len(contacts):
        c = contacts.assign(person_id=contacts["person_id"].astype(str))
        c_date = _dates(c, "contact_date")
        c_area = c["person_id"].map(pd.Series(area.to_numpy(), index=pid.to_numpy())).fillna(UNKNOWN)
        cq = qo(c_date)
        subst = c["substantive"].fillna(False).astype(bool) if "substantive" in c else pd.Series(
            False, index=c.index)
        parts["contacts"] = _grid(c["person_id"], cq, c_area)
        parts["people_contacted"] = _grid(c["person_id"], cq, c_area, "nunique")
        parts["substantive_meetings"] = _grid(c["person_id"][subst], cq[subst], c_area[subst])
        parts["people_met"] = _grid(c["person_id"][subst], cq[subst], c_area[subst], "nunique")
        referral_of = pd.Series(ref.to_numpy(), index=pid.to_numpy())
        after = c_date >= c["person_id"].map(referral_of)
        earliest = c_date[after].groupby(c["person_id"][after]).min()
        from_contacts = pid.map(earliest)
        fc = from_contacts if fc is None else fc.where(fc.notna(), from_contacts)
    if fc is not None:
        days = (pd.to_datetime(fc) - ref).dt.days
        days = days.where(days >= 0)
        has = days.notna()
        parts["first_contacts"] = _grid(pid[has], qo(ref)[has], area[has])
        parts["median_days_to_first_contact"] = _grid(days[has].astype(float), qo(ref)[has],
                                                      area[has], "median")
    index = pd.MultiIndex.from_product([[q.ordinal for q in quarters], [ALL_AREAS, *areas]],
                                       names=["q", "area"])
    table = pd.DataFrame(index=index)
    for name in ("referrals", "enrolments", "enrolled_end", "exits", "substantive_meetings",
                 "people_met", "contacts", "people_contacted", "first_contacts"):
        s = parts.get(name)
        if s is None:
            table[name] = np.nan if name in ("substantive_meetings", "people_met", "contacts",
                                             "people_contacted", "first_contacts") else 0
        else:
            s.index.names = ["q", "area"]
            table[name] = s.reindex(index).fillna(0).astype(int)
    med = parts.get("median_days_to_first_contact")
    table["median_days_to_first_contact"] = (
        med.rename_axis(["q", "area"]).reindex(index) if med is not None else np.nan
    )
    table = table.reset_index()
    by_q = {q.ordinal: q for q in quarters}
    table["quarter"] = table["q"].map(lambda o: str(by_q[o]))
    table["period_index"] = table["q"]
    table["partial"] = table["q"] == last_q.ordinal
    table["partial"] &= data_end < last_q.end_time.normalize()
    by_area = table[[*BY_AREA_COLUMNS, "period_index"]]

    # site-wide money
    site_tab = pd.DataFrame({"period_index": [q.ordinal for q in quarters],
                             "quarter": [str(q) for q in quarters]})
    site_tab["partial"] = (site_tab["period_index"] == last_q.ordinal) & (
        data_end < last_q.end_time.normalize())
    site_tab["people_enrolled"] = [n for _, n in rows_people]
    from leadeval.costs import enrolment_by_month

    months = pd.date_range(quarters[0].start_time.normalize(),
                           quarters[-1].end_time.normalize(), freq="MS")
    pm = enrolment_by_month(lead.assign(group="lead"), months, data_end_date=data_end_date)
    pm_q = pd.Series(pm.to_numpy(float), index=months).groupby(
        pd.PeriodIndex(months, freq=freq).asi8).sum()
    site_tab["participant_months"] = site_tab["period_index"].map(pm_q).fillna(0.0)
    notes = []
    if ledger is not None and len(ledger):
        lm = pd.to_datetime(ledger["month"]).dt.to_period(freq)
        spend = ledger["amount"].astype(float).groupby(lm.map(lambda p: p.ordinal)).sum()
        site_tab["spending"] = site_tab["period_index"].map(spend).fillna(0.0)
    else:
        site_tab["spending"] = np.nan
        notes.append("no program_ledger extract: spending and cost per participant-month are blank")
    with np.errstate(divide="ignore", invalid="ignore"):
        site_tab["cost_per_participant_month"] = np.where(
            site_tab["participant_months"] > 0,
            site_tab["spending"] / site_tab["participant_months"], np.nan)
    if contacts is None:
        notes.append("no contacts extract: meetings and contacts are blank")
    if table["partial"].any():
        notes.append(f"{last_q} is partial: the data end on {data_end.date()}")
    return MonitorResult(
        site=site, data_end_date=data_end.date(), quarters=quarters, start=start, end=end,
        by_area=by_area.reset_index(drop=True),
        site_totals=site_tab[[*SITE_COLUMNS, "period_index"]], areas=areas, notes=tuple(notes),
    )


def monitor_site(
    config: SiteConfig | str,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    on_extract: Callable[[str, dict], None] | None = None,
) -> MonitorResult:
    """Load a site's roster, contacts and program ledger (only those) and compute its quarterly
    figures for ``period`` ('2024Q1') or ``start``..``end`` (default: every quarter);
    ``on_extract`` as for :func:`leadeval.load_extracts`."""
    from leadeval.config import load_config
    from leadeval.extracts import load_extracts

    cfg = config if isinstance(config, SiteConfig) else load_config(config)
    if period is not None and (start is not None or end is not None):
        raise LeadevalError("give either --period or --from/--to, not both")
    freq = quarter_freq(cfg.monitor.quarter_start_month)
    if period is not None:
        start = end = period
    q0 = parse_quarter(start, freq, "--from" if period is None else "--period") if start else None
    q1 = parse_quarter(end, freq, "--to" if period is None else "--period") if end else None
    sub = monitor_config(cfg)
    extracts = load_extracts(sub, on_extract=on_extract)
    roster = extracts.to_pandas("roster")
    contacts = extracts.to_pandas("contacts") if "contacts" in extracts else None
    ledger = extracts.to_pandas("program_ledger") if "program_ledger" in extracts else None
    labels = ("--period", "--period") if period is not None else ("--from", "--to")
    return program_figures(roster, contacts, ledger, cfg.data_end_date, cfg.monitor, q0, q1,
                           site=cfg.site, labels=labels)


def monitor_config(cfg: SiteConfig) -> SiteConfig:
    """The site config restricted to the extracts monitoring reads."""
    return cfg.model_copy(
        update={"extracts": {k: v for k, v in cfg.extracts.items() if k in MONITOR_EXTRACTS}}
    )
