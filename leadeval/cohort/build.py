"""``build_cohort``: extracts -> persons, panel and flow."""

from __future__ import annotations

import datetime as dt
import sys
import weakref

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from leadeval.cohort.index import base_persons, roster_days
from leadeval.cohort.outcomes import (
    PART,
    derive,
    incarcerated_days,
    measure_tables,
    merged_spans,
    stay_tables,
)
from leadeval.cohort.panel import PanelSource
from leadeval.cohort.persons import DATE_COLUMNS, KEY_COLUMNS, PersonSource, to_pandas
from leadeval.cohort.result import Cohort
from leadeval.cohort.windows import design_windows
from leadeval.config import DesignConfig, SiteConfig
from leadeval.engine import database_file, memory_limit_bytes
from leadeval.errors import CohortError

_EXPOSURE_EXTRACTS = ("jail", "prison")
_FIRST = ("first_arrest", "first_prison")  # internal: day offsets of first events
_INTERNAL = ("pk", "t0", "fe", "mi0", *_FIRST)


def _join_all(base: ir.Table, aggs: list[ir.Table]) -> ir.Table:
    """``base`` left-joined on ``pk`` to every table of ``aggs``, as one join chain (a projection
    after each join nests the plan, and Ibis's compile time grows with the depth)."""
    joined, cols = base, list(base.columns)
    for i, agg in enumerate(aggs):
        key = f"_pk{i}"
        agg = agg.rename(**{key: "pk"})
        joined = joined.left_join(agg, base.pk == agg[key])
        cols += [c for c in agg.columns if c != key]
    return joined.select(*cols)


def _resolve(
    config: SiteConfig | DesignConfig, data_end_date, extracts
) -> tuple[DesignConfig, dt.date]:
    if isinstance(config, SiteConfig):
        return config.design, config.data_end_date
    if isinstance(config, DesignConfig):
        end = data_end_date if data_end_date is not None else extracts.data_end_date
        return config, pd.Timestamp(end).date()
    raise CohortError(f"config must be a SiteConfig or a DesignConfig; got {type(config).__name__}")


def _families(design: DesignConfig, tables) -> tuple[set[str], pd.DataFrame]:
    skipped = []
    families = set()
    for fam in design.outcomes:
        if fam in tables:
            families.add(fam)
        else:
            skipped.append(
                {
                    "outcome": fam,
                    "extract": fam,
                    "reason": f"the site has no '{fam}' extract: its outcome columns are not built",
                }
            )
    if design.exclude_incarceration:
        for name in _EXPOSURE_EXTRACTS:
            if name not in tables:
                skipped.append(
                    {
                        "outcome": "exposure",
                        "extract": name,
                        "reason": f"the site has no '{name}' extract: {name} days are not subtracted "
                        "from exposure",
                    }
                )
    return families, pd.DataFrame(skipped, columns=["outcome", "extract", "reason"])


def _check_roster(extracts, index_col: str) -> None:
    if "roster" not in extracts.tables:
        raise CohortError("the extracts have no 'roster': every person in the analytic universe")
    roster = extracts.tables["roster"]
    if index_col not in roster.columns:
        raise CohortError(
            f"roster has no column {index_col!r}, the configured index date (design.index_date); "
            "map it in the roster extract or choose another index date"
        )
    dup = (
        roster.group_by("person_id")
        .aggregate(n=roster.count())
        .filter(ibis._.n > 1)
        .order_by("person_id")
        .limit(5)
        .to_pandas()
    )
    if len(dup):
        raise CohortError(
            f"roster: person_id is not unique, e.g. {dup['person_id'].tolist()} "
            f"({dup['n'].tolist()} rows); keep one roster row per person"
        )


def _check_population(flow: pd.DataFrame, comparison: bool) -> None:
    """A cohort without participants, or without comparison units where the design compares,
    cannot be analysed: say why, with the flow's exclusion reasons."""
    groups = ("lead", "pool") if comparison else ("lead",)
    for group in groups:
        included = flow["included"] & (flow["group"] == group)
        if included.any():
            continue
        who = "LEAD participants" if group == "lead" else "comparison-pool members"
        out = flow.loc[flow["group"] == group, "reason"].value_counts()
        why = (
            "; exclusions: " + ", ".join(f"{r} {n:,}" for r, n in out.items())
            if len(out)
            else f"; the roster has no rows with group '{group}' (check extracts.roster.codes.group)"
        )
        raise CohortError(
            f"the cohort has no {who}{why}; the design needs them"
            + ("" if group == "lead" else " (set design.comparison: false for a within-person design)")
        )


def build_cohort(
    extracts,
    config: SiteConfig | DesignConfig,
    data_end_date: dt.date | str | None = None,
) -> Cohort:
    """Build the person-level table, the person-month panel and the cohort flow.

    Parameters
    ----------
    extracts : Extracts
        Canonical extracts; all work runs as Ibis expressions on ``extracts.backend``.
    config : SiteConfig or DesignConfig
        A whole site config (its ``design`` and ``data_end_date`` are used) or just a design.
    data_end_date : date, optional
        With a DesignConfig: the last day of data (default ``extracts.data_end_date``).

    Returns
    -------
    Cohort
        ``persons``, ``flow`` (+ ``flow_counts()``), ``design``, ``skipped``, and the panel:
        ``panel_for(ids)`` (the person-months of those people) or ``panel`` (everyone's).

    Raises
    ------
    CohortError
        With a whole site config: no LEAD participant is included, or the design compares
        (``design.comparison``) and no comparison-pool member is; the message gives the flow's
        exclusion reasons. (With a DesignConfig alone an empty cohort is returned, with every
        column, for tests and partial sites.)

    Notes
    -----
    For index day :math:`t_0` and follow-up end :math:`f = \\min(\\text{data end}, \\text{death},
    \\text{exit if it censors})`, the pre window of P days is :math:`[t_0-P, t_0-1]`, the post window
    of Q days :math:`[t_0+1, t_0+Q]` (observed up to :math:`f`); events on :math:`t_0` are in
    neither. Exposure is observed days minus days in jail or prison (each day once) when
    ``exclude_incarceration``. docs/cohort.md gives every rule with a timeline.

    Examples
    --------
    >>> import pandas as pd, leadeval as le
    >>> from leadeval.config import DesignConfig
    >>> roster = pd.DataFrame({"person_id": ["a"], "group": ["lead"],
    ...                        "referral_date": ["2015-03-01"], "birth_year": [1980]})
    >>> arrests = pd.DataFrame({"arrest_id": ["x"], "person_id": ["a"],
    ...                         "arrest_date": ["2015-05-01"]})
    >>> ex = le.Extracts.from_frames({"roster": roster, "arrests": arrests},
    ...                              data_end_date="2016-12-31")
    >>> c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
    >>> [int(c.persons.loc[0, k]) for k in ("arrests_post_182d", "days_to_arrest")]
    [1, 61]
    """
    design, data_end = _resolve(config, data_end_date, extracts)
    tables = extracts.tables
    index_col = design.index_date
    _check_roster(extracts, index_col)
    families, skipped = _families(design, tables)

    days = roster_days(tables["roster"], index_col, data_end, design.exit_censors)
    flow = to_pandas(
        days.select(
            "person_id", "group", included=days.reason == "included", reason=days.reason
        ).order_by("person_id")
    )
    if not isinstance(config, DesignConfig):  # a whole site: its analyses need these people
        _check_population(flow, comparison=design.comparison)
    # The included persons are materialised once: every later query reads them instead of
    # re-deriving them (smaller plans to compile). They stay cached: the panel is queried from
    # them when asked for (Cohort.panel_for).
    base = base_persons(days, index_col).cache()
    try:
        # Jail and housing are read by the person query and the panel: clipped once.
        to_file = _to_file(extracts.backend, int(flow["included"].sum()))
        cached = {
            k: _materialise(t, to_file) for k, t in stay_tables(tables, base, families).items()
        }
        source, keys = _persons(tables, design, data_end, families, base, cached, to_file)
    except BaseException:
        base.release()
        raise
    panel = PanelSource(
        tables=tables,
        base=base,
        families=frozenset(families),
        months=tuple(design.panel_months),
        data_end=data_end,
        mi0=keys.pop("mi0").to_numpy(),
        fe=keys.pop("fe").to_numpy(np.int64),
        cached=cached,
    )
    return Cohort(
        person_source=source,
        panel_source=panel,
        flow=flow,
        design=design,
        data_end_date=data_end,
        site=extracts.site,
        skipped=skipped,
        keys=keys,
    )


def _persons(tables, design, data_end, families, base, cached, to_file=False):
    """Run the person query into an engine table: its :class:`PersonSource`, and every person's
    ``person_id, group, treated, fe, mi0`` (index month index) as pandas, by pk. ``cached``:
    the engine tables of :func:`stay_tables`; ``to_file``: see :func:`_to_file`."""
    windows = design_windows(design.pre_windows, design.post_windows)
    spans = merged_spans(tables, base, families, ("t0", "fe"), cached, windows)
    aggs, parts = measure_tables(tables, base, windows, families, spans, cached)
    persons = _join_all(base, aggs)
    counted = [c for c in persons.columns if c not in base.columns and c not in _FIRST]
    persons = persons.mutate(**{c: persons[c].fill_null(0).cast("int32") for c in counted})
    if parts:
        persons = persons.mutate(**incarcerated_days(persons, windows, parts))
        persons = persons.drop(*(c for c in persons.columns if c.startswith(PART)))
    has_incarceration = any(n in tables for n in _EXPOSURE_EXTRACTS)
    derived = derive(
        persons,
        windows,
        families,
        has_incarceration,
        design.exclude_incarceration,
        tuple(design.competing_events),
    )
    persons = persons.mutate(**derived)
    order = list(KEY_COLUMNS) + sorted(
        (c for c in persons.columns if c not in KEY_COLUMNS and c not in _INTERNAL),
        key=_column_key(windows),
    )
    table = _materialise(
        persons.mutate(index_date=persons.t0, followup_end=persons.fe).select(
            *order, "fe", "mi0", "pk"
        ),
        to_file,
    )
    keys = to_pandas(table.select("person_id", "group", "treated", "fe", "mi0", "pk"), "pk")
    return PersonSource(table, tuple(order), _dtypes(table, order)), keys


#: Bytes a person takes in the uncompressed person table (about 160 columns of 4 or 8 bytes)
_PERSON_BYTES = 1024


def _to_file(backend, persons: int) -> bool:
    """Whether the cohort's engine tables go into the DuckDB database file instead of temporary
    tables: when the extracts are in a database file and the person table would fill more than
    a quarter of the engine's memory uncompressed (``persons`` x about 1 KB).

    Temporary tables are held uncompressed and count against ``memory_limit`` for the cohort's
    whole life, so a state's (5M people: about 4 GB as a temporary table, and its stays as much
    again) leaves the rest of the process a fraction of what it had; in the file the same tables
    are compressed (counts of rare events: a tenth of that) and their blocks are dropped from
    memory without spilling. Smaller cohorts stay temporary: compressing costs more than it
    saves (a county's person table: 1.1 s into the file against 0.3 s)."""
    if backend.name != "duckdb":
        return False
    if database_file(backend.con) is None:
        return False
    memory = memory_limit_bytes(backend.con)
    return memory is not None and persons * _PERSON_BYTES > memory / 4


def _materialise(expr: ir.Table, to_file: bool = False) -> ir.Table:
    """``expr`` computed once into an engine table: a temporary one (Ibis' ``cache()``), or one
    in the DuckDB database file with ``to_file`` (:func:`_to_file`), dropped with the last
    expression that reads it. On Spark a local checkpoint kept as a temporary view: ibis'
    ``cache()`` asserts ``is_cached`` right after caching, which Spark Connect does not report
    for this query."""
    backend = expr._find_backend()
    if backend.name != "pyspark":
        if not to_file:
            return expr.cache()
        name = ibis.util.gen_name("cohort")
        table = backend.create_table(name, expr)
        weakref.finalize(table.op(), _drop, backend, name)
        return table
    name = ibis.util.gen_name("persons")
    backend._session.sql(backend.compile(expr)).localCheckpoint().createOrReplaceTempView(name)
    # Spark types a division by a decimal literal as decimal: read back with the expression's types
    return backend.table(name).cast(expr.schema())


def _drop(backend, name: str) -> None:
    try:
        backend.drop_table(name, force=True)
    except Exception:
        if not sys.is_finalizing():  # at exit the database may be closed (and is removed)
            raise


def _dtypes(table: ir.Table, columns: list[str]) -> pd.Series:
    """The pandas dtypes of the whole person frame: as its schema converts, except that an
    integer or boolean column with a missing value anywhere comes out as float or object."""
    dtypes = to_pandas(table.select(*columns).limit(0)).dtypes
    for c in DATE_COLUMNS:
        dtypes[c] = np.dtype("datetime64[ns]")
    maybe = [c for c in columns if c not in DATE_COLUMNS and dtypes[c].kind in "iub"]
    if maybe:
        nulls = table.aggregate(**{c: table[c].isnull().any() for c in maybe}).to_pyarrow()
        for c in maybe:
            if nulls.column(c)[0].as_py():
                dtypes[c] = np.dtype("float64" if dtypes[c].kind in "iu" else "object")
    return dtypes


def _column_key(windows):
    """Column order: by window (pre, then post, then all), then measure name."""
    rank = {w.suffix: i for i, w in enumerate(windows)}

    def key(col: str) -> tuple[int, str]:
        for sfx, i in rank.items():
            if col.endswith("_" + sfx):
                return (i, col)
        return (len(rank), col)

    return key
