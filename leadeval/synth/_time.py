"""Day and month arithmetic on int64 arrays (days since 1970-01-01; months since 1970-01)."""

from __future__ import annotations

import datetime as dt

import numpy as np

NAT = np.iinfo(np.int64).min  # missing date: numpy reads it as NaT


def day(d: dt.date) -> int:
    return int(np.datetime64(d, "D").astype(np.int64))


def month_of(days: np.ndarray) -> np.ndarray:
    """Month index (months since 1970-01) of each day."""
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_start(months: np.ndarray) -> np.ndarray:
    """First day of each month index."""
    return np.asarray(months, dtype="int64").astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_end(months: np.ndarray) -> np.ndarray:
    return month_start(np.asarray(months) + 1) - 1


def years(n: float) -> int:
    return int(round(n * 365.25))
