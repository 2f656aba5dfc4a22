"""Write the public and synthetic data sets that the R reference script reads.

Run from the repository root: ``.venv/bin/python tests/reference/models/make_data.py``.
Everything is seeded; the CSVs are committed so R and the tests read identical data.

- ``rossi.csv``: lifelines' Rossi recidivism data (Rossi, Berk & Lenihan 1980; public), plus a
  synthetic matching weight ``w`` and pair id ``pair`` (for weighted / cluster-robust fits).
- ``recurrent.csv``: synthetic recurrent re-arrests in counting-process form (id, start, stop, event).
- ``prepost.csv``: synthetic person x period (pre/post) binary outcome with constant-within-person
  weights: the Seattle GEE design.
- ``counts.csv``: synthetic counts with at-risk exposure (days) for Poisson / negative binomial.
- ``compete.csv``: synthetic competing risks (0 censored, 1 arrest, 2 prison, 3 death).
"""

from pathlib import Path

import numpy as np
import pandas as pd
from lifelines.datasets import load_rossi

OUT = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20240501)
    rossi = load_rossi().reset_index(drop=True)
    rossi["id"] = np.arange(1, len(rossi) + 1)
    rossi["w"] = np.round(rng.uniform(0.3, 2.5, len(rossi)), 3)
    rossi["pair"] = (rossi["id"] - 1) // 2 + 1
    rossi.to_csv(OUT / "rossi.csv", index=False)

    # recurrent events: person rate depends on treated (log RR -0.4) and a gamma frailty
    n = 300
    treated = rng.integers(0, 2, n)
    age = np.round(rng.uniform(18, 60, n))
    frail = rng.gamma(2.0, 0.5, n)
    rate = 0.004 * np.exp(-0.4 * treated + 0.01 * (age - 35)) * frail
    fu = np.round(rng.uniform(200, 730, n))
    rows = []
    for i in range(n):  # data generation only; the package never loops over people
        t, start = 0.0, 0
        while True:
            t += rng.exponential(1 / rate[i])
            stop = int(np.ceil(t))
            if stop >= fu[i]:
                rows.append((i + 1, start, int(fu[i]), 0, treated[i], age[i]))
                break
            if stop <= start:
                continue
            rows.append((i + 1, start, stop, 1, treated[i], age[i]))
            start = stop
    pd.DataFrame(rows, columns=["id", "start", "stop", "event", "treated", "age"]).to_csv(
        OUT / "recurrent.csv", index=False
    )

    # pre/post binary: logit P = -0.2 + 0.3 treated + 0.1 post - 0.9 treated:post + person effect
    n = 400
    tr = rng.integers(0, 2, n)
    u = rng.normal(0, 1.0, n)
    w = np.round(np.where(tr == 1, 1.0, rng.uniform(0.4, 3.0, n)), 3)
    age = np.round(rng.uniform(18, 60, n))
    long = pd.DataFrame(
        {
            "id": np.repeat(np.arange(1, n + 1), 2),
            "treated": np.repeat(tr, 2),
            "post": np.tile([0, 1], n),
            "w": np.repeat(w, 2),
            "age": np.repeat(age, 2),
        }
    )
    lp = (
        -0.2
        + 0.3 * long["treated"]
        + 0.1 * long["post"]
        - 0.9 * long["treated"] * long["post"]
        + np.repeat(u, 2)
        - 0.01 * (long["age"] - 35)
    )
    long["y"] = (rng.uniform(size=len(long)) < 1 / (1 + np.exp(-lp))).astype(int)
    long.to_csv(OUT / "prepost.csv", index=False)

    # counts with exposure: NB2, theta = 1.5, log RR treated -0.35
    n = 500
    tr = rng.integers(0, 2, n)
    pre = rng.poisson(2.0, n)
    exposure = rng.integers(90, 366, n)
    mu = exposure / 365 * np.exp(0.5 - 0.35 * tr + 0.15 * pre)
    y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu))
    pd.DataFrame({"y": y, "treated": tr, "pre": pre, "exposure": exposure}).to_csv(
        OUT / "counts.csv", index=False
    )

    # competing risks: arrest (1), prison (2), death (3); censoring uniform
    n = 400
    tr = rng.integers(0, 2, n)
    t1 = rng.exponential(300 * np.exp(0.4 * tr))
    t2 = rng.exponential(900, n)
    t3 = rng.exponential(2500, n)
    c = rng.uniform(100, 730, n)
    times = np.column_stack([c, t1, t2, t3])
    ev = times.argmin(axis=1)
    pd.DataFrame(
        {"time": np.ceil(times.min(axis=1)).astype(int), "event": ev, "treated": tr}
    ).to_csv(OUT / "compete.csv", index=False)

    # person-month panel (Clifasefi / Longmont designs): months -12..18, index month 0
    n = 120
    months = np.arange(-12, 19)
    pid = np.repeat(np.arange(1, n + 1), len(months))
    m = np.tile(months, n)
    frail = np.repeat(rng.gamma(2.0, 0.5, n), len(months))
    days = rng.integers(15, 31, len(m))
    contacts = np.where(m >= 0, rng.poisson(2.0, len(m)), 0)
    cum = pd.Series(contacts).groupby(pid).cumsum().to_numpy()
    rate = 0.25 * frail * np.exp(np.where(m > 0, -0.6, 0.0) - 0.03 * cum) * days / 30
    arrests = rng.poisson(rate)
    u = np.repeat(rng.normal(0, 1, n), len(months))
    lp = -0.8 + u + np.where(m > 0, 0.5 + 0.03 * np.minimum(m, 12), 0.0) + 0.05 * contacts
    sheltered = (rng.uniform(size=len(m)) < 1 / (1 + np.exp(-lp))).astype(int)
    pd.DataFrame(
        {
            "person_id": pid,
            "month_offset": m,
            "days_observed": days,
            "contacts": contacts,
            "cumulative_contacts": cum,
            "arrests": arrests,
            "sheltered": sheltered,
        }
    ).to_csv(OUT / "panel.csv", index=False)


if __name__ == "__main__":
    main()
