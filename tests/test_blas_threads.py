"""The statistics run on one BLAS thread (leadeval/_blas.py).

Reference: threadpoolctl's own report of the loaded BLAS libraries' thread counts, read inside
and after the wrapped call; and numpy's fit on the default thread count for the claim that only
the last bits move (the same product summed in another order).
"""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from leadeval._blas import one_blas_thread
from leadeval.evaluation import evaluate


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_one_thread_inside_and_restored_after():
    before = _blas_threads()
    assert before, "no BLAS library loaded: numpy without BLAS?"
    with threadpool_limits(limits=2, user_api="blas"):  # as a 2-core machine starts
        outer = _blas_threads()
        inside = one_blas_thread(_blas_threads)()
        assert inside == [1] * len(outer)
        assert _blas_threads() == outer  # restored
    assert _blas_threads() == before


def test_evaluate_is_wrapped():
    """evaluate() itself carries the limit (the CLI's report and the notebooks call it)."""
    assert evaluate.__wrapped__.__name__ == "evaluate"
    assert evaluate.__doc__ == evaluate.__wrapped__.__doc__


def test_one_thread_changes_only_last_bits():
    """A Gram matrix of the county panel's size on one thread equals the default's to 1e-12."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8_000, 40))
    default = X.T @ X
    single = one_blas_thread(lambda: X.T @ X)()
    np.testing.assert_allclose(single, default, rtol=1e-12, atol=1e-9)
