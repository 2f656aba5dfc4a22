"""The loaded extracts: canonical tables in an Ibis backend, plus the data-quality account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import ibis
import pandas as pd

from leadeval.extracts.schemas import SCHEMAS

_PANDAS_TYPES = {
    "string": "string",
    "int": "Int64",
    "float": "Float64",
    "bool": "boolean",
}


def canonical_frame(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame that already uses canonical names to the schema's types (dates to datetime64,
    months to the first day of the month); unknown columns are kept, absent optional ones added."""
    schema = SCHEMAS[name]
    out = frame.copy()
    for col in schema.columns:
        if col.name not in out:
            out[col.name] = pd.Series(pd.NA, index=out.index, dtype="object")
        s = out[col.name]
        if col.type in ("date", "datetime"):
            s = pd.to_datetime(s)
            out[col.name] = s.dt.normalize() if col.type == "date" else s
        elif col.type == "month":
            # 'YYYY-MM' text, or any date in the month (a datetime, 'YYYY-MM-DD')
            text = s.astype("string").str.slice(0, 7)
            out[col.name] = pd.to_datetime(text, format="%Y-%m").dt.normalize()
        else:
            out[col.name] = s.astype(_PANDAS_TYPES[col.type])
    ordered = list(schema.names) + [c for c in out.columns if c not in schema.names]
    return out[ordered]


@dataclass(frozen=True)
class Extracts:
    """Validated extracts in canonical form.

    ``tables[name]`` is an Ibis table on ``backend`` (embedded DuckDB by default) with the canonical
    columns of ``leadeval.extracts.schemas.SCHEMAS[name]``: dates as ``date``, months (``YYYY-MM``)
    as the first day of the month, EMS ``call_datetime`` as ``timestamp``.

    ``quality`` has one row per extract: ``extract, source, read, loaded, quarantined`` with
    ``read == loaded + quarantined``, ``censored`` (loaded rows with an end date after the data
    end, kept and cut at it by every analysis), ``trimmed`` (text values that had spaces around
    them) and ``notes`` (the CSV dialect as detected, and which columns were trimmed or
    censored). ``quarantine_reasons`` has ``extract, reason, rows``, and ``quarantined[name]``
    the quarantined rows themselves (``source_row``: the 1-based data row; ``line``: the CSV line
    or Excel sheet row, header = 1; ``reason``, ``column``, ``detail``: the values that break the
    rule; the mapped source columns, and ``text`` for a malformed CSV line): restricted data,
    never for a shared report. Built by :func:`leadeval.load_extracts`; reason codes in
    :data:`leadeval.extracts.REASONS`.
    """

    site: str
    data_end_date: dt.date
    backend: ibis.BaseBackend
    tables: Mapping[str, ibis.Table]
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine_reasons: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantined: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    def __getitem__(self, name: str) -> ibis.Table:
        return self.tables[name]

    def to_pandas(self, name: str) -> pd.DataFrame:
        """One canonical table as pandas (small tables only: the roster, the ledger), sorted by
        its key (else every column), so that it never depends on the order of the input rows."""
        schema = SCHEMAS[name]
        keys = [ibis.asc(c, nulls_first=False) for c in (schema.key or schema.names)]
        return self.tables[name].order_by(keys).to_pandas()

    @property
    def clean(self) -> bool:
        """True when no row of any extract was quarantined."""
        return self.quality.empty or int(self.quality["quarantined"].sum()) == 0

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        data_end_date: dt.date | str,
        site: str = "site",
        backend: ibis.BaseBackend | None = None,
    ) -> Extracts:
        """Wrap frames that already follow the data contract (canonical names and codes), without
        row validation: for tests and for data validated elsewhere.

        >>> import pandas as pd
        >>> roster = pd.DataFrame({"person_id": ["a"], "group": ["lead"],
        ...                        "referral_date": ["2015-03-01"], "birth_year": [1980]})
        >>> ex = Extracts.from_frames({"roster": roster}, data_end_date="2016-12-31")
        >>> ex.to_pandas("roster").loc[0, "group"]
        'lead'
        """
        backend = backend if backend is not None else ibis.duckdb.connect()
        tables = {}
        for name, frame in frames.items():
            if name not in SCHEMAS:
                raise KeyError(f"unknown extract {name!r}; known: {', '.join(SCHEMAS)}")
            canon = canonical_frame(name, frame)
            table = backend.create_table(f"extract_{name}", canon, overwrite=True)
            date_cols = {
                c.name: table[c.name].cast("date")
                for c in SCHEMAS[name].columns
                if c.type in ("date", "month")
            }
            tables[name] = table.mutate(**date_cols)
        counts = [
            {"extract": n, "source": "frame", "read": len(f), "loaded": len(f), "quarantined": 0,
             "censored": 0, "trimmed": 0, "notes": ""}
            for n, f in frames.items()
        ]  # fmt: skip
        return cls(
            site=site,
            data_end_date=pd.Timestamp(data_end_date).date(),
            backend=backend,
            tables=tables,
            quality=pd.DataFrame(counts),
            quarantine_reasons=pd.DataFrame(columns=["extract", "reason", "rows"]),
        )
