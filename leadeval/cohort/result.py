"""The :class:`Cohort` result object."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from leadeval.cohort.index import INCLUDED, REASONS
from leadeval.config import DesignConfig

GROUPS = ("lead", "pool")


@dataclass(frozen=True)
class Cohort:
    """Analysis tables built from the extracts by :func:`leadeval.build_cohort`.

    Attributes
    ----------
    persons : pandas.DataFrame
        One row per included person, sorted by ``person_id`` (columns: docs/cohort.md).
    panel : pandas.DataFrame
        Person-months, sorted by ``person_id, month_offset`` (columns: docs/cohort.md).
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
    panel: pd.DataFrame
    flow: pd.DataFrame
    design: DesignConfig
    data_end_date: dt.date
    site: str
    skipped: pd.DataFrame

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
