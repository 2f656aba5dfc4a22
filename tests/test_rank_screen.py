"""The Gram-matrix rank screen of :func:`leadeval.models._data.check_rank`, a speed path that
must not change a result. Reference: ``numpy.linalg.matrix_rank`` (the screen may only say
"full rank" where the SVD does; near-collinear and non-finite designs go to the SVD)."""

from __future__ import annotations

import numpy as np
import pytest

from leadeval.errors import ModelError
from leadeval.models._data import _surely_full_rank, check_rank


def test_rank_screen_agrees_with_matrix_rank():
    rng = np.random.default_rng(3)
    n = 3_000
    m = rng.integers(-6, 7, n)
    g = rng.integers(0, 2, n).astype(float)
    D = np.column_stack([(m == lv).astype(float) for lv in range(-6, 7) if lv != -1])
    X = np.column_stack([np.ones(n), D, g, D * g[:, None]])
    assert np.linalg.matrix_rank(X) == X.shape[1] and _surely_full_rank(X)
    check_rank(X, [f"x{j}" for j in range(X.shape[1])], "t")  # no error
    collinear = np.column_stack([X, X[:, 1] + X[:, 2]])
    near = np.column_stack([X, X[:, 1] + 1e-9 * rng.normal(size=n)])
    nan = X.copy()
    nan[5, 3] = np.nan
    for M in (collinear, near, nan, np.zeros((10, 2))):
        assert not _surely_full_rank(M)  # left to the SVD
    assert np.linalg.matrix_rank(near) == near.shape[1]  # full rank, found by the SVD
    with pytest.raises(ModelError, match="collinear"):
        check_rank(collinear, [f"x{j}" for j in range(collinear.shape[1])], "t")
