"""The equity stage on coded groups (leadeval.equity: ``_levels``, ``_periods``,
``_roster_dates``) against the text path it replaced.

Reference: the person-level text computation the stage ran before (every group level as a Python
string via :func:`eligible_universe`, periods as ``to_period(...).astype(str)``, roster dates by
``Series.map`` on the ids as text), fed to the same :func:`access_rates`, and hand counts of
referred and eligible people per level with ``value_counts``. The coded path must give the
identical tables (bit for bit), with missing levels, ages below the first band, missing dates and
ids not on the roster, and whatever the order of the people.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leadeval.config import EquityConfig
from leadeval.equity import (
    _roster_dates,
    access_rates,
    eligible_universe,
    equity_of_access,
)


def people(n: int = 20_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["black", "white", "latinx", "asian", None], n, p=[0.3, 0.45, 0.15, 0.06, 0.04])
    sex = rng.choice(["male", "female", "unknown", None], n, p=[0.7, 0.27, 0.02, 0.01])
    age = rng.normal(37, 12, n)
    age[rng.random(n) < 0.03] = np.nan  # missing, and some below the first band (16)
    hist = rng.poisson(1.0, n)
    treated = (rng.random(n) < 0.02 + 0.02 * (race == "black") + 0.01 * np.minimum(hist, 3)).astype(int)
    dates = pd.to_datetime("2011-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365, n), "D")
    frame = pd.DataFrame({
        "person_id": [f"p{i:06d}" for i in range(n)],
        "treated": treated,
        "race_ethnicity": pd.array(race, dtype=pd.StringDtype("pyarrow", na_value=np.nan)),
        "sex": sex,
        "area": rng.choice([f"area_{i}" for i in range(6)], n),
        "age_at_index": age,
        "arrests_pre_365d": hist,
        "arrests_pre_730d": hist + rng.poisson(0.8, n),
        "index_date": dates,
    })
    frame.loc[rng.random(n) < 0.05, "index_date"] = pd.NaT
    return frame


def text_path(persons: pd.DataFrame, cfg: EquityConfig, dates: pd.Series) -> tuple:
    """The stage's computation before the coded groups (person-level text)."""
    u = eligible_universe(persons, cfg)
    rates = access_rates(u, cfg.by, cfg.reference).to_frame()
    freq = "Y" if cfg.over_time == "year" else "Q"
    u = u.assign(period=pd.to_datetime(dates).dt.to_period(freq).astype(str))
    return rates, access_rates(u, cfg.by, cfg.reference, period="period").to_frame()


@pytest.mark.parametrize("over_time", ["year", "quarter"])
def test_coded_groups_give_the_text_paths_tables(over_time):
    persons = people()
    cfg = EquityConfig(adjust_for=["arrests_pre_365d", "arrests_pre_730d"], over_time=over_time)
    res = equity_of_access(persons, cfg)
    rates, over = text_path(persons, cfg, persons["index_date"])
    pd.testing.assert_frame_equal(res.rates.to_frame(), rates, check_exact=True)
    pd.testing.assert_frame_equal(res.over_time.to_frame(), over, check_exact=True)
    assert "NaT" in set(over["period"]) and "unknown" in set(rates["level"])
    # hand counts: every level's eligible and referred people
    t = rates.set_index(["variable", "level"])
    race = persons["race_ethnicity"].astype(object).fillna("unknown")
    assert t.loc["race_ethnicity", "eligible"].to_dict() == race.value_counts().to_dict()
    assert (t.loc["race_ethnicity", "referred"].to_dict()
            == persons["treated"].groupby(race).sum().to_dict())


def test_coded_groups_do_not_depend_on_row_order():
    persons = people(8_000, seed=5)
    cfg = EquityConfig(adjust_for=["arrests_pre_365d"], over_time="year")
    a = equity_of_access(persons, cfg)
    b = equity_of_access(persons.sample(frac=1.0, random_state=2), cfg)
    for x, y in ((a.to_frame(), b.to_frame()), (a.over_time.to_frame(), b.over_time.to_frame()),
                 (a.adjusted, b.adjusted)):
        pd.testing.assert_frame_equal(x, y, check_exact=True)


def test_roster_dates_equal_the_text_id_map():
    persons = people(5_000)
    rng = np.random.default_rng(9)
    roster = persons.sample(frac=0.9, random_state=1)[["person_id", "index_date"]]  # 10% absent
    roster = roster.rename(columns={"index_date": "referral_date"})
    table = pa.table({"person_id": roster["person_id"].to_numpy(object),
                      "referral_date": pa.array(roster["referral_date"].dt.date, pa.date32())})
    ref = pd.Series(pd.to_datetime(roster["referral_date"]).to_numpy(),
                    index=roster["person_id"].astype(str))
    ids = persons["person_id"].iloc[rng.permutation(len(persons))]
    want = pd.to_datetime(ids.astype(str).map(ref))
    got = pd.to_datetime(_roster_dates(table, ids))
    assert got.index.equals(want.index) and got.isna().sum() == want.isna().sum() > 0
    assert (got.dropna() == want.dropna()).all()
