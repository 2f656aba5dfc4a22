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
#: rows per scatter of :func:`_str_argsort` (bounds its index arrays to ~100 MB)
_CHUNK = 1 << 20


def persons_frame(obj: Any) -> pd.DataFrame:
    """The person-level frame of a Cohort (``.persons``) or a DataFrame itself."""
    frame = getattr(obj, "persons", obj)
    if not isinstance(frame, pd.DataFrame):
        raise MatchingError(
            f"match() needs a pandas DataFrame or a Cohort (with .persons); got {type(obj).__name__}"
        )
    return frame


def text_levels(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of a categorical column by its values as text, and those texts sorted (the levels
    ``var[level]`` are named by): one hash pass over the rows, no string comparison per row."""
    codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=False)
    text, levels = pd.factorize(pd.Index(uniques).astype(str), sort=True)
    return text[codes], levels


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
    strings = _all_strings(ids)
    n_na = 0 if strings else int(pd.isna(ids).sum())
    if n_na:
        problems.append(f"{n_na} rows have no person_id")
    order = None if n_na else _id_order(frame[KEY], strings)
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
    # rows already in order: a shallow copy (the columns' arrays are shared, not copied: a
    # state's persons frame is millions of rows by a hundred columns); the added and replaced
    # columns go into the copy only
    out = frame.copy(deep=False) if isinstance(order, slice) else frame.take(order)
    out.index = pd.RangeIndex(len(out))
    out[TREAT] = out[TREAT].astype(int)
    return out


def _all_strings(ids: np.ndarray) -> bool:
    """True when every id is a str (so none is missing): one C-level pass."""
    return ids.dtype == object and pd.api.types.infer_dtype(ids, skipna=False) == "string"


def _id_order(key: pd.Series, strings: bool | None = None) -> np.ndarray | slice | None:
    """The stable order of ``key`` when its ids are unique: ``slice(None)`` when the rows are
    already in person_id order (as a Cohort's are), else an argsort (a sort plus one pass over
    neighbours replaces a hash-based duplicate check); None when the ids repeat, are categorical
    or cannot be compared (mixed types): the caller then takes the general path. ``strings``:
    whether every id is a str (:func:`_all_strings`, computed when not given)."""
    if isinstance(key.dtype, pd.CategoricalDtype):
        return None
    ids = key.to_numpy()
    try:
        head = ids[:1024]  # shuffled rows fail here, before the comparison of every neighbour
        if len(ids) < 2 or (
            bool((head[1:] > head[:-1]).all()) and bool((ids[1:] > ids[:-1]).all())
        ):
            return slice(None)
        if _all_strings(ids) if strings is None else strings:
            order = _str_argsort(key)
            if order is not None:  # distinct ids by construction
                return order
        order = np.argsort(ids, kind="stable")
    except TypeError:
        return None
    s = ids[order]
    return None if bool((s[1:] == s[:-1]).any()) else order


def _str_argsort(ids: np.ndarray | pd.Series) -> np.ndarray | None:
    """The order of distinct ``str`` ids, as ``np.argsort`` gives it, without comparing Python
    objects (several times faster: 5M shuffled ids in ~1.5 s instead of ~15 s).

    Python orders str by code point, which is the byte order of their UTF-8 encodings. The ids
    become rows of a zero-padded byte matrix (Arrow's UTF-8 buffer itself when all ids have one
    length, else one vectorised scatter of its bytes; ids over 64 bytes go to the object sort);
    byte columns that are the same in every row (a shared prefix, fixed separators) never decide
    a comparison and are dropped; the rest are packed big-endian into uint64 words and sorted
    (one ``argsort`` when they fit in 8 bytes, else ``lexsort``). None when that order could
    differ from Python's: ids Arrow cannot encode, or two rows whose padded bytes are equal
    (equal ids, or ids differing only by trailing NUL characters); the caller then sorts the
    objects.
    """
    import pyarrow as pa

    n = len(ids)
    try:  # an Arrow-backed column (a Cohort's) is taken as it is, objects are encoded
        arr = pa.array(ids, type=pa.large_string(), from_pandas=False)
    except (pa.ArrowException, UnicodeError, TypeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        return None
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    start, length = offsets[:-1], np.diff(offsets)
    width = int(length.max(initial=0))
    if width > 64:  # very long ids: sort the objects (the byte matrix would be n x width)
        return None
    # the zero-padded (n, width) byte matrix: the buffer itself when every id has the same
    # length (zero-padded ids), else a scatter of all the bytes, _CHUNK rows at a time
    body = data[offsets[0] : offsets[-1]]
    if len(body) == n * width:
        matrix = body.reshape(n, width)
    else:
        matrix = np.zeros((n, width), dtype=np.uint8)
        flat = matrix.reshape(-1)
        for a in range(0, n, _CHUNK):
            b = min(a + _CHUNK, n)
            ln = length[a:b]
            dest = np.repeat(np.arange(a, b, dtype=np.int64) * width - (start[a:b] - start[a]), ln)
            dest += np.arange(len(dest), dtype=np.int64)
            flat[dest] = data[start[a] : start[a] + len(dest)]
    # byte columns that never change cannot decide a comparison
    varies = np.flatnonzero((matrix != matrix[:1]).any(axis=0)) if n else np.zeros(0, np.int64)
    words = -(-len(varies) // 8)
    if words == 0:  # every row the same bytes
        return None if n > 1 else np.arange(n)
    packed = np.zeros((n, words * 8), dtype=np.uint8)
    packed[:, : len(varies)] = matrix[:, varies]
    keys = packed.view(">u8").astype(np.uint64)  # (n, words), most significant word first
    order = np.argsort(keys[:, 0]) if words == 1 else np.lexsort(keys.T[::-1])
    k = keys[order]
    if bool((k[1:] == k[:-1]).all(axis=1).any()):
        return None
    return order
