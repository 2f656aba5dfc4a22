"""The :class:`Cohort` result object."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadeval.cohort.index import INCLUDED, REASONS
from leadeval.cohort.panel import PanelSource
from leadeval.cohort.persons import PersonSource
from leadeval.config import DesignConfig

GROUPS = ("lead", "pool")


@dataclass(frozen=True)
class Cohort:
    """Analysis tables built from the extracts by :func:`leadeval.build_cohort`.

    Attributes
    ----------
    person_source : PersonSource or pandas.DataFrame
        Where the person-level table comes from: kept in the engine by
        :func:`leadeval.build_cohort` (read it with :meth:`select`, :meth:`persons_for` or
        :attr:`persons`), or a ready frame (one row per included person, sorted by ``person_id``).
    panel_source : PanelSource or pandas.DataFrame
        Where the person-months come from: kept in the engine by :func:`leadeval.build_cohort`
        (read them with :meth:`panel_for` or :attr:`panel`), or a ready panel frame.
    flow : pandas.DataFrame
        Every roster person, sorted by ``person_id``: ``person_id, group, included, reason``
        (``reason`` is ``'included'`` or the first exclusion reason that applies).
    design : DesignConfig
        The design used.
    data_end_date : datetime.date
    site : str
    skipped : pandas.DataFrame
        What could not be built because the site lacks an extract: ``outcome, extract, reason``.
    keys : pandas.DataFrame, optional
        ``person_id, group, treated`` of every included person, in the rows of the person table
        (default: those columns of ``person_source``).
    """

    person_source: PersonSource | pd.DataFrame
    panel_source: PanelSource | pd.DataFrame
    flow: pd.DataFrame
    design: DesignConfig
    data_end_date: dt.date
    site: str
    skipped: pd.DataFrame
    keys: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.keys is None:
            keys = self.select(["person_id", "group", "treated"])
            object.__setattr__(self, "keys", keys)

    @functools.cached_property
    def persons(self) -> pd.DataFrame:
        """One row per included person, sorted by ``person_id`` (columns: docs/cohort.md).
        Built on first use and kept: about 120 columns, so for a large pool ask :meth:`select`
        for the columns, or :meth:`persons_for` for the people, an analysis needs instead."""
        if isinstance(self.person_source, pd.DataFrame):
            return self.person_source
        return self.person_source.frame()

    @property
    def columns(self) -> pd.Index:
        """The person table's columns, without building it."""
        if isinstance(self.person_source, pd.DataFrame):
            return self.person_source.columns
        return pd.Index(self.person_source.columns)

    def _built(self) -> pd.DataFrame | None:
        if isinstance(self.person_source, pd.DataFrame):
            return self.person_source
        return self.__dict__.get("persons")

    def select(self, columns: Iterable[str]) -> pd.DataFrame:
        """Every included person, with ``columns`` only (in the person table's order; names
        it lacks are left out): exactly ``persons[columns]``, without building the whole table.
        The last answer is kept (matching and equity ask for the same columns): do not modify it.

        >>> import pandas as pd, leadeval as le
        >>> from leadeval.config import DesignConfig
        >>> roster = pd.DataFrame({"person_id": ["a", "b"], "group": ["lead", "pool"],
        ...                        "referral_date": ["2015-03-01", "2015-06-01"],
        ...                        "birth_year": [1980, 1975]})
        >>> ex = le.Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
        >>> c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
        >>> c.select(["person_id", "age_at_index"]).equals(c.persons[["person_id", "age_at_index"]])
        True
        """
        wanted = set(columns)
        cols = [c for c in self.columns if c in wanted]
        built = self._built()
        if built is not None:
            return built[cols]
        cache = self.__dict__.get("_selected")
        if cache is None or cache[0] != cols:
            cache = (cols, self.person_source.frame(cols))
            self.__dict__["_selected"] = cache
        return cache[1]

    def persons_for(self, person_ids: Iterable[str]) -> pd.DataFrame:
        """The person rows of ``person_ids`` (any order, repeats allowed; ids not in the cohort
        have none), every column: exactly ``persons[persons["person_id"].isin(person_ids)]``,
        index included, without building the whole table.

        >>> import pandas as pd, leadeval as le
        >>> from leadeval.config import DesignConfig
        >>> roster = pd.DataFrame({"person_id": ["a", "b"], "group": ["lead", "pool"],
        ...                        "referral_date": ["2015-03-01", "2015-06-01"],
        ...                        "birth_year": [1980, 1975]})
        >>> ex = le.Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
        >>> c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
        >>> c.persons_for(["b"]).equals(c.persons[c.persons["person_id"] == "b"])
        True
        """
        if not pd.api.types.is_list_like(person_ids):
            raise TypeError(f"persons_for() needs a list of person ids; got {person_ids!r}")
        built = self._built()
        if built is not None:
            return built[built["person_id"].isin(person_ids)]
        keep = self._rows(person_ids)
        return self._cached("_persons_for", keep, lambda: self.person_source.frame(keep=keep))

    def _rows(self, person_ids: Iterable[str]) -> np.ndarray:
        """The rows (pks) of ``person_ids`` in the person table, sorted and unique: the person
        table is sorted by person_id and its pk is the row."""
        return np.flatnonzero(self.keys["person_id"].isin(list(person_ids))).astype(np.int64)

    @functools.cached_property
    def panel(self) -> pd.DataFrame:
        """Every included person's person-months, sorted by ``person_id, month_offset``
        (columns: docs/cohort.md). Built on first use and kept: about 37 rows per person, so
        for a large pool ask :meth:`panel_for` for the people an analysis needs instead."""
        if isinstance(self.panel_source, pd.DataFrame):
            return self.panel_source
        return self.panel_source.frame(self.keys)

    def panel_for(self, person_ids: Iterable[str]) -> pd.DataFrame:
        """The person-months of ``person_ids`` (any order, repeats allowed; ids not in the
        cohort have none): exactly ``panel[panel["person_id"].isin(person_ids)]``, index
        included, without building the whole panel.

        >>> import pandas as pd, leadeval as le
        >>> from leadeval.config import DesignConfig
        >>> roster = pd.DataFrame({"person_id": ["a", "b"], "group": ["lead", "pool"],
        ...                        "referral_date": ["2015-03-01", "2015-06-01"],
        ...                        "birth_year": [1980, 1975]})
        >>> ex = le.Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
        >>> c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
        >>> c.panel_for(["b"]).equals(c.panel[c.panel["person_id"] == "b"])
        True
        """
        if not pd.api.types.is_list_like(person_ids):
            raise TypeError(f"panel_for() needs a list of person ids; got {person_ids!r}")
        if isinstance(self.panel_source, pd.DataFrame) or "panel" in self.__dict__:
            return self.panel[self.panel["person_id"].isin(person_ids)]
        keep = self._rows(person_ids)
        return self._cached("_panels", keep, lambda: self.panel_source.frame(self.keys, keep))

    def _cached(self, slot: str, keep: np.ndarray, build) -> pd.DataFrame:
        """A copy of ``build()``, the frame of rows ``keep``, keeping the last 4 answers in
        ``slot``: an evaluation asks for the same people's rows several times."""
        cache = self.__dict__.setdefault(slot, {})
        key = keep.tobytes()
        if key not in cache:
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = build()
        return cache[key].copy()

    @property
    def panel_columns(self) -> pd.Index:
        """The panel's columns, without building it."""
        if isinstance(self.panel_source, pd.DataFrame) or "panel" in self.__dict__:
            return self.panel.columns
        return self.panel_for([]).columns

    @property
    def participant_ids(self) -> pd.Series:
        """``person_id`` of the included LEAD participants (``treated == 1``)."""
        return self.keys.loc[self.keys["treated"] == 1, "person_id"]

    def to_frame(self) -> pd.DataFrame:
        """The person-level table (:attr:`persons`)."""
        return self.persons

    def flow_counts(self) -> pd.DataFrame:
        """The cohort flow as a tidy table: ``step, reason, lead, pool, total``.

        Rows: ``roster`` (everyone), one ``excluded`` row per exclusion reason (in the order the
        rules are applied; reasons with nobody are kept, with 0), then ``included``. For each
        group, roster = sum of excluded + included.
        """
        return self._flow_counts.copy()

    @functools.cached_property
    def _flow_counts(self) -> pd.DataFrame:  # the flow is frozen: counted once (report: twice)
        f = self.flow
        grp = f["group"].where(f["group"].isin(GROUPS), "other").astype(str)
        counts = pd.crosstab(f["reason"].astype(str), grp)
        cols = list(GROUPS) + (["other"] if "other" in counts.columns else [])
        counts = counts.reindex(columns=cols, fill_value=0)
        rows = [("roster", "", counts.sum(axis=0))]
        rows += [
            ("excluded", r, counts.loc[r] if r in counts.index else 0 * counts.sum(axis=0))
            for r in REASONS
        ]
        rows.append(
            (
                "included",
                "",
                counts.loc[INCLUDED] if INCLUDED in counts.index else 0 * counts.sum(axis=0),
            )
        )
        out = pd.DataFrame(
            [{"step": s, "reason": r, **{c: int(v[c]) for c in cols}} for s, r, v in rows]
        )
        out["total"] = out[cols].sum(axis=1)
        return out
