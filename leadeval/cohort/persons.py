"""The person table kept in the engine: every included person's measures are computed once, into
an engine table, and come out as pandas only for the columns or the people asked for.

A state's cohort is millions of people by about 120 columns (several GB as one frame), but an
evaluation needs every person's matching, strata and subgroup columns only, and the outcome
columns of the participants and the matched sample only (:meth:`Cohort.select`,
:meth:`Cohort.persons_for`). Any part read is exactly that part of the whole frame
(``Cohort.persons``): the same values, dtypes, row order and index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from leadeval.cohort.windows import EPOCH

_STR = pd.StringDtype("pyarrow", na_value=np.nan)
#: engine columns holding day numbers that come out as dates
DATE_COLUMNS = ("index_date", "followup_end")


def to_pandas(expr: ir.Table, sort_key: str | None = None) -> pd.DataFrame:
    """Execute and convert, with Arrow-backed strings (compact for millions of rows).

    With ``sort_key`` (an integer column), rows are put in its order after execution (a cheap
    Arrow take instead of a wide sort on the backend) and the key is dropped."""
    table: pa.Table = expr.to_pyarrow()
    if sort_key is not None:
        order = np.argsort(table.column(sort_key).to_numpy(), kind="stable")
        table = table.drop_columns([sort_key]).take(order)
    df = table.to_pandas(
        types_mapper={pa.string(): _STR, pa.large_string(): _STR}.get,
        date_as_object=False,
        split_blocks=True,
        self_destruct=True,
    )
    for c in df.columns:
        if df[c].dtype.kind == "M":
            df[c] = df[c].astype("datetime64[ns]")
    del table
    pa.default_memory_pool().release_unused()  # give freed Arrow buffers back to the system
    return df


def days_to_dates(days: pd.Series) -> pd.Series:
    return pd.Timestamp(EPOCH) + pd.to_timedelta(days.astype("int64"), unit="D")


@dataclass(frozen=True, eq=False)
class PersonSource:
    """The included persons' table in the engine (cached on the backend, so the extracts'
    backend must stay open): ``columns`` in their published order plus ``pk`` (the row of the
    person in the whole frame, 0, 1, ... in person_id order). ``dtypes`` are the whole frame's
    pandas dtypes: a part is cast to them (an integer column with a missing value somewhere is
    float in the whole frame, whether or not the part has one)."""

    table: ir.Table
    columns: tuple[str, ...]
    dtypes: pd.Series

    def frame(self, columns: list[str] | None = None, keep: np.ndarray | None = None) -> pd.DataFrame:
        """Columns ``columns`` (all when None) of persons ``keep`` (sorted unique pks; all when
        None), in pk order, with each row's index label its pk."""
        columns = list(self.columns) if columns is None else list(columns)
        t = self.table
        if keep is not None:
            wanted = ibis.memtable({"pk": keep.astype(np.int64)}, schema={"pk": "int64"})
            t = t.join(wanted, "pk")
        df = to_pandas(t.select(*columns, "pk"), sort_key="pk")
        for c in columns:
            if c in DATE_COLUMNS:
                df[c] = days_to_dates(df[c])
            elif df[c].dtype != self.dtypes[c]:
                df[c] = df[c].astype(self.dtypes[c])
        if keep is not None:
            df.index = pd.Index(keep, dtype="int64")
        return df


#: what every person-level analysis frame carries (the design's and the demographic columns)
KEY_COLUMNS = (
    "person_id", "group", "treated", "index_date", "followup_end", "followup_end_reason",
    "followup_days", "age_at_index", "sex", "race_ethnicity", "area", "referral_type",
)  # fmt: skip


def unit_columns(config, available) -> list[str]:
    """The person columns a site's matching and equity read for every person (the pool
    included): the key columns plus every column of ``available`` that the ``matching`` or
    ``equity`` block names anywhere (covariates, strata, formula and balance terms, subgroups,
    adjustment...). Outcomes are read for the matched sample only (:meth:`Cohort.persons_for`).

    >>> from types import SimpleNamespace
    >>> from leadeval.config import EquityConfig, MatchingConfig
    >>> cfg = SimpleNamespace(matching=MatchingConfig(covariates=["ems_calls_pre_365d"]),
    ...                       equity=EquityConfig(adjust_for=[]))
    >>> unit_columns(cfg, ["person_id", "treated", "ems_calls_pre_365d", "arrest_post_182d"])
    ['person_id', 'treated', 'ems_calls_pre_365d']
    """
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", config.matching.model_dump_json()))
    named |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", config.equity.model_dump_json()))
    return [c for c in available if c in KEY_COLUMNS or c in named]
