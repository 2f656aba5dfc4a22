"""One BLAS thread while the statistics run.

The statistics fit many small models (a few thousand rows and a few dozen columns; a person-month
panel of ~56,000 rows x 50 columns at most for a county), and OpenBLAS's own threads cost more
than they save there: they spin while waiting. Measured on a 2-core machine: a 55,705 x 50 Gram
matrix ``X.T @ X`` took 24 ms CPU with one thread against 310-350 ms with two, and a 4,000 x 12
least squares 0.6 ms against 14 ms. The extract and cohort stages (DuckDB's own threads) are not
affected.

One thread also makes the last bits of the estimates independent of the machine's core count:
BLAS sums a product in an order that depends on how many threads share it (differences of ~1e-13
relative in the GEE estimates between one and two threads).

Example
-------
>>> from threadpoolctl import threadpool_info
>>> @one_blas_thread
... def threads():
...     return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
>>> threads() <= {1}
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable)


def one_blas_thread(fn: F) -> F:
    """``fn`` run with every loaded BLAS library limited to one thread (restored after)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
