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
from leadeval.config import DesignConfig

GROUPS = ("lead", "pool")


@dataclass(frozen=True)
class Cohort:
    """Analysis tables built from the extracts by :func:`leadeval.build_cohort`.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per included person, sorted by ``person_id`` (columns: docs/cohort.md).
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
    """

    persons: pd.DataFrame
    panel_source: PanelSource | pd.DataFrame
    flow: pd.DataFrame
    design: DesignConfig
    data_end_date: dt.date
    site: str
    skipped: pd.DataFrame

    @functools.cached_property
    def panel(self) -> pd.DataFrame:
        """Every included person's person-months, sorted by ``person_id, month_offset``
        (columns: docs/cohort.md). Built on first use and kept: about 37 rows per person, so
        for a large pool ask :meth:`panel_for` for the people an analysis needs instead."""
        if isinstance(self.panel_source, pd.DataFrame):
            return self.panel_source
        return self.panel_source.frame(self.persons)

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
        # persons are sorted by person_id and pk is the row: the rows asked for are the pks
        keep = np.flatnonzero(self.persons["person_id"].isin(list(person_ids)))
        # an evaluation asks for the participants' months several times: keep the last few
        cache = self.__dict__.setdefault("_panels", {})
        key = keep.tobytes()
        if key not in cache:
            if len(cache) >= 4:
                cache.pop(next(iter(cache)))
            cache[key] = self.panel_source.frame(self.persons, keep.astype(np.int64))
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
        return self.persons.loc[self.persons["treated"] == 1, "person_id"]

    def to_frame(self) -> pd.DataFrame:
        """The person-level table."""
        return self.persons

    def flow_counts(self) -> pd.DataFrame:
        """The cohort flow as a tidy table: ``step, reason, lead, pool, total``.

        Rows: ``roster`` (everyone), one ``excluded`` row per exclusion reason (in the order the
        rules are applied; reasons with nobody are kept, with 0), then ``included``. For each
        group, roster = sum of excluded + included.
        """
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
