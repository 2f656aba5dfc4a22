"""Vectorised cluster bootstrap of weighted sums (pairs or matched sets are the clusters).

A replicate resamples the ``G`` clusters with replacement. With ``A`` the ``G x F`` matrix of
cluster-level sums of every weighted quantity, and ``M`` the ``B x G`` matrix of how many times each
cluster is drawn in each replicate, the replicate totals are the single product ``M @ A``: no
Python loop over replicates, no refitting of group-bys. ``M`` is built from a ``B x G`` matrix of
uniform cluster indices with one ``bincount``, in chunks to bound memory.

Example
-------
>>> import numpy as np
>>> from leadeval.costs.bootstrap import cluster_sums, bootstrap_totals
>>> codes = np.array([0, 0, 1]); x = np.array([[1.0], [2.0], [4.0]])
>>> cluster_sums(codes, x, 2).ravel().tolist()
[3.0, 4.0]
>>> bootstrap_totals(cluster_sums(codes, x, 2), 3, seed=1).shape
(3, 1)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = ["bootstrap_totals", "cluster_codes", "cluster_sums", "percentile_ci"]

_CHUNK_CELLS = 4_000_000  # replicate x cluster cells per chunk (~32 MB of int64)


def cluster_codes(df: pd.DataFrame, cluster: str | None) -> tuple[np.ndarray, int]:
    """Integer cluster code per row (sorted labels, so stable); a missing label or a missing
    ``cluster`` column makes the person their own cluster."""
    pid = "person:" + df["person_id"].astype(str)
    if cluster is not None and cluster in df.columns:
        lab = df[cluster]
        labels = ("set:" + lab.astype(str)).where(lab.notna(), pid)
    else:
        labels = pid
    uniq, codes = np.unique(labels.to_numpy(str), return_inverse=True)
    return codes.astype(np.int64), len(uniq)


def cluster_sums(codes: np.ndarray, x: np.ndarray, n_clusters: int) -> np.ndarray:
    """``G x F`` sums of the rows of ``x`` (``n x F``) within each cluster."""
    n = len(codes)
    ind = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_clusters, n))
    return np.asarray(ind @ x)


def bootstrap_totals(
    a: np.ndarray, replicates: int, seed: int | np.random.Generator | None
) -> np.ndarray:
    """``B x F`` totals of the cluster sums ``a`` (``G x F``) over ``B`` cluster-bootstrap samples."""
    rng = np.random.default_rng(seed)
    g = a.shape[0]
    chunk = max(1, min(replicates, _CHUNK_CELLS // max(g, 1)))
    out = np.empty((replicates, a.shape[1]))
    for start in range(0, replicates, chunk):  # chunks bound memory; each is one matrix product
        b = min(chunk, replicates - start)
        idx = rng.integers(0, g, size=(b, g))
        idx += (np.arange(b) * g)[:, None]
        m = np.bincount(idx.ravel(), minlength=b * g).reshape(b, g)
        out[start : start + b] = m @ a
    return out


def percentile_ci(reps: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of replicates along axis 0 (NaN replicates ignored)."""
    alpha = (1 - conf_level) / 2
    lo, hi = np.nanquantile(reps, [alpha, 1 - alpha], axis=0)
    return lo, hi
