"""Input handling shared by the outcome models: accept a DataFrame or anything with ``.data``
(a ``MatchedSample``), check columns, and resolve weights and clusters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from leadeval.errors import ModelError

DEFAULT_WEIGHTS = "weights"
DEFAULT_CLUSTER = "subclass"


def as_frame(data: Any, model: str) -> pd.DataFrame:
    """The analysis frame: ``data`` itself, or ``data.data`` for a matched sample."""
    frame = getattr(data, "data", data)
    if not isinstance(frame, pd.DataFrame):
        raise ModelError(
            f"{model}: expected a pandas DataFrame or an object with a .data DataFrame "
            f"(a MatchedSample); got {type(data).__name__}"
        )
    if frame.empty:
        raise ModelError(f"{model}: the data have no rows; check the cohort and matching steps")
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], model: str) -> None:
    """Raise one error listing every missing column."""
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:25]))
        raise ModelError(
            f"{model}: column(s) {missing} not found in the data; available columns: {have}"
            f"{' ...' if frame.shape[1] > 25 else ''}. Pass the right column name."
        )


def numeric(frame: pd.DataFrame, column: str, model: str) -> np.ndarray:
    """A column as float, with a clear error naming rows that are missing or not numeric."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        rows = list(frame.index[bad.to_numpy()][:5])
        raise ModelError(
            f"{model}: column '{column}' has {int(bad.sum())} missing or non-numeric value(s) "
            f"(rows {rows}{' ...' if bad.sum() > 5 else ''}); drop those rows or impute first"
        )
    return values.to_numpy(dtype=float)


def binary(frame: pd.DataFrame, column: str, model: str) -> np.ndarray:
    """A 0/1 column; anything else is an error naming the values found."""
    y = numeric(frame, column, model)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        vals = sorted(set(np.unique(y[bad]).tolist()))[:5]
        raise ModelError(
            f"{model}: outcome '{column}' must be 0/1; found {int(bad.sum())} other value(s) "
            f"such as {vals}"
        )
    return y


def resolve_weights(frame: pd.DataFrame, weights: str | None, model: str) -> np.ndarray | None:
    """Weights column as float, ``None`` when unweighted.

    The default name ``"weights"`` is used when present and silently skipped when absent (an
    unmatched cohort has no weights); an explicitly named column must exist.
    """
    if weights is None or (weights == DEFAULT_WEIGHTS and weights not in frame.columns):
        return None
    require_columns(frame, [weights], model)
    w = numeric(frame, weights, model)
    if (w < 0).any():
        raise ModelError(f"{model}: weights '{weights}' has negative values; weights must be >= 0")
    if not (w > 0).any():
        raise ModelError(f"{model}: all weights in '{weights}' are zero")
    return w


def resolve_clusters(frame: pd.DataFrame, cluster: str | None, model: str) -> np.ndarray | None:
    """Integer cluster codes, ``None`` for no clustering.

    The default ``"subclass"`` is skipped when absent; when it is entirely missing (IPTW has no
    pairs) every row is its own cluster, i.e. the heteroskedasticity-robust sandwich.
    """
    if cluster is None or (cluster == DEFAULT_CLUSTER and cluster not in frame.columns):
        return None
    require_columns(frame, [cluster], model)
    col = frame[cluster]
    if col.isna().all():
        return np.arange(len(frame))
    if col.isna().any():
        rows = list(frame.index[col.isna().to_numpy()][:5])
        raise ModelError(
            f"{model}: cluster column '{cluster}' is missing for {int(col.isna().sum())} row(s) "
            f"(rows {rows}); give every row a cluster or pass cluster=None"
        )
    codes, _ = pd.factorize(col.astype(str), sort=True)
    return codes


def design_matrix(
    frame: pd.DataFrame, covariates: Sequence[str], model: str, intercept: bool
) -> tuple[np.ndarray, list[str]]:
    """Numeric design matrix; categorical covariates become treatment-coded dummies (first level
    in sorted order is the reference)."""
    covariates = list(covariates)
    require_columns(frame, covariates, model)
    parts: list[pd.DataFrame] = []
    for c in covariates:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(pd.DataFrame({c: numeric(frame, c, model)}, index=frame.index))
        else:
            if col.isna().any():
                raise ModelError(
                    f"{model}: covariate '{c}' has {int(col.isna().sum())} missing values"
                )
            cat = pd.Categorical(col.astype(str), categories=sorted(col.astype(str).unique()))
            dummies = pd.get_dummies(cat, prefix=c, prefix_sep="=", drop_first=True, dtype=float)
            dummies.index = frame.index
            parts.append(dummies)
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)
    if intercept:
        X.insert(0, "(Intercept)", 1.0)
    names = list(X.columns)
    M = X.to_numpy(dtype=float)
    check_rank(M, names, model)
    return M, names


def check_rank(X: np.ndarray, names: list[str], model: str) -> None:
    """Collinear covariates are an error naming a redundant column."""
    if X.shape[1] == 0:
        return
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        redundant = []
        for j in range(X.shape[1]):
            if np.linalg.matrix_rank(np.delete(X, j, axis=1)) == rank:
                redundant.append(names[j])
        raise ModelError(
            f"{model}: covariates are collinear (rank {rank} < {X.shape[1]} columns); "
            f"any of {redundant} can be written from the others: drop one"
        )


def drop_zero_weights(
    frame: pd.DataFrame, weights: str | None, model: str
) -> tuple[pd.DataFrame, list[str]]:
    """Rows with weight 0 (e.g. unmatched units kept by a matching method) contribute nothing;
    drop them up front so that tie counts, cluster counts and ``n`` only count used rows."""
    w = resolve_weights(frame, weights, model)
    if w is None or (w > 0).all():
        return frame, []
    n = int((w == 0).sum())
    return frame.loc[w > 0], [f"{n} rows with zero weight in '{weights}' dropped"]
