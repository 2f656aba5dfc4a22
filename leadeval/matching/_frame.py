"""Input checks shared by the matching methods: one frame, a 0/1 ``treated`` column and a
stable key.

Every method works on the frame sorted by ``person_id`` so that nothing depends on input row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from leadeval.config import MatchingConfig
from leadeval.errors import MatchingError

KEY = "person_id"
TREAT = "treated"
#: ``frame.attrs`` key match() sets on its output frames: the name of its weights column (the
#: outcome models use it by default, never a user column that merely has that name)
MATCHED_WEIGHTS_ATTR = "leadeval_matching_weights"


def persons_frame(obj: Any) -> pd.DataFrame:
    """The person-level frame of a Cohort (``.persons``) or a DataFrame itself."""
    frame = getattr(obj, "persons", obj)
    if not isinstance(frame, pd.DataFrame):
        raise MatchingError(
            f"match() needs a pandas DataFrame or a Cohort (with .persons); got {type(obj).__name__}"
        )
    return frame


def spec_columns(spec: MatchingConfig) -> list[str]:
    """All columns a spec reads, in a stable order without duplicates."""
    cols = [
        *spec.covariates, *spec.categorical, *spec.log1p, *spec.squares, *spec.splines, *spec.exact
    ]
    if spec.distance_column:
        cols.append(spec.distance_column)
    return list(dict.fromkeys(cols))


def prepare(obj: Any, spec: MatchingConfig) -> pd.DataFrame:
    """Validate the input and return it sorted by ``person_id`` with a fresh RangeIndex.

    All problems are collected and raised together in one :class:`MatchingError`.
    """
    frame = persons_frame(obj)
    problems = []
    missing = [c for c in (KEY, TREAT, *spec_columns(spec)) if c not in frame.columns]
    if missing:
        problems.append(
            f"missing column(s) {missing}; the spec names them (matching.covariates/categorical/"
            "exact/...) and the frame must have person_id and treated"
        )
        raise MatchingError("cannot match: " + "; ".join(problems))
    ids = frame[KEY].to_numpy()
    n_na = 0 if _all_strings(ids) else int(pd.isna(ids).sum())
    if n_na:
        problems.append(f"{n_na} rows have no person_id")
    order = None if n_na else _id_order(frame[KEY])
    dup = frame[KEY][frame[KEY].duplicated()] if order is None else frame[KEY][:0]
    if len(dup):
        problems.append(
            f"person_id is not unique: {len(dup)} duplicates (e.g. {list(dup.astype(str)[:3])}); "
            "matching needs one row per person"
        )
    t = frame[TREAT]
    bad_t = ~t.isin([0, 1]) | t.isna()
    if bad_t.any():
        rows = list(frame.loc[bad_t, KEY].astype(str)[:5])
        problems.append(
            f"treated must be 0/1: {int(bad_t.sum())} rows have other values (person_id {rows})"
        )
    for c in spec_columns(spec):
        n_na = int(frame[c].isna().sum())
        if n_na:
            rows = list(frame.loc[frame[c].isna(), KEY].astype(str)[:5])
            problems.append(
                f"column {c!r} has {n_na} missing values (person_id {rows}); impute or drop them "
                "before matching"
            )
    numeric = [*spec.covariates, *spec.log1p, *spec.squares, *spec.splines]
    if spec.distance_column:
        numeric.append(spec.distance_column)
    for c in dict.fromkeys(numeric):
        if not pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]):
            problems.append(
                f"column {c!r} is not numeric (dtype {frame[c].dtype}); list it under "
                "matching.categorical instead"
            )
    if problems:
        raise MatchingError("cannot match:\n" + "\n".join(f"  - {p}" for p in problems))
    if not bad_t.any() and t.min() == t.max():
        raise MatchingError(
            f"treated has only the value {int(t.iloc[0])}: matching needs treated (1) and control (0)"
            " units"
        )
    if order is None:  # categorical or mixed-type ids: pandas' order, else by their text
        out = frame.assign(**{TREAT: frame[TREAT].astype(int)})
        try:
            return out.sort_values(KEY, kind="stable").reset_index(drop=True)
        except TypeError:
            order = np.argsort(out[KEY].astype(str).to_numpy(), kind="stable")
            return out.iloc[order].reset_index(drop=True)
    out = frame.copy() if isinstance(order, slice) else frame.take(order)
    out.index = pd.RangeIndex(len(out))
    out[TREAT] = out[TREAT].astype(int)
    return out


def _all_strings(ids: np.ndarray) -> bool:
    """True when every id is a str (so none is missing): one C-level pass."""
    return ids.dtype == object and pd.api.types.infer_dtype(ids, skipna=False) == "string"


def _id_order(key: pd.Series) -> np.ndarray | slice | None:
    """The stable order of ``key`` when its ids are unique: ``slice(None)`` when the rows are
    already in person_id order (as a Cohort's are), else an argsort (a sort plus one pass over
    neighbours replaces a hash-based duplicate check); None when the ids repeat, are categorical
    or cannot be compared (mixed types): the caller then takes the general path."""
    if isinstance(key.dtype, pd.CategoricalDtype):
        return None
    ids = key.to_numpy()
    try:
        if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
            return slice(None)
        order = np.argsort(ids, kind="stable")
    except TypeError:
        return None
    s = ids[order]
    return None if bool((s[1:] == s[:-1]).any()) else order
