"""Timing of leadeval.models at state scale (run by hand: ``.venv/bin/python benchmarks/bench_models.py [n]``).

Synthetic matched sample of n persons (pairs), follow-up in days up to 4 years.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from leadeval.models import cumulative_incidence, fit_count, fit_cox, fit_km, fit_logistic


def sample(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = np.tile([1, 0], n // 2)
    age = rng.uniform(18, 65, n)
    prior = rng.poisson(2, n)
    t = rng.exponential(600 / np.exp(-0.4 * treated + 0.1 * prior), n)
    c = rng.uniform(180, 1460, n)
    days = np.ceil(np.minimum(t, c))
    return pd.DataFrame(
        {
            "person_id": np.arange(n),
            "treated": treated,
            "subclass": np.repeat(np.arange(n // 2), 2),
            "weights": rng.uniform(0.5, 2, n),
            "age_at_index": age,
            "arrests_pre_365d": prior,
            "days_to_arrest": days,
            "arrested": (t <= c).astype(int),
            "days_to_first_event": days,
            "first_event": np.where(t <= c, rng.integers(1, 4, n), 0),
            "arrest_post_182d": (t <= 182).astype(int),
            "arrests_post_all": rng.poisson(c / 365),
            "exposure_post_all": c,
        }
    )


def main(n: int) -> None:
    d = sample(n)
    for name, fn in {
        "fit_cox (2 covariates + treated, cluster)": lambda: fit_cox(
            d, covariates=["age_at_index", "arrests_pre_365d"]
        ),
        "fit_km (weighted, IJ by pair)": lambda: fit_km(d),
        "cumulative_incidence (IJ by pair)": lambda: cumulative_incidence(d),
        "fit_logistic (CR1)": lambda: fit_logistic(
            d, "arrest_post_182d", covariates=["age_at_index"]
        ),
        "fit_count negbin": lambda: fit_count(
            d, "arrests_post_all", "exposure_post_all", family="negbin"
        ),
    }.items():
        start = time.perf_counter()
        fn()
        print(f"n={n:>7}  {name:<45} {time.perf_counter() - start:7.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
