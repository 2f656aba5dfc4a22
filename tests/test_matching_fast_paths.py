"""The fast paths of match() (issue 15) give what the plain definitions give.

References: the eCDF statistics against their literal definition (weighted eCDFs of each group
evaluated at every distinct value, as MatchIt's ``bal1var``); the row-order, id-type and
tie-handling paths against each other (the same units in another order or spelling must give the
same matched sample).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leadeval.matching as lm
from leadeval.errors import MatchingError
from leadeval.matching.balance import _ecdf_stats


def ecdf_brute(x, t, w):
    u = np.unique(x)
    f1 = np.array([w[t & (x <= v)].sum() for v in u]) / w[t].sum()
    f0 = np.array([w[~t & (x <= v)].sum() for v in u]) / w[~t].sum()
    e = np.abs(f1 - f0)
    return e.mean(), e.max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ecdf_stats_equal_their_definition(seed):
    """Before (unit weights) and after (zero and unequal weights), on values full of ties."""
    rng = np.random.default_rng(seed)
    n = 300
    x = rng.integers(0, 15, n).astype(float)
    t = rng.random(n) < 0.3
    w = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.2, 3, n))
    w[np.flatnonzero(t)[:2]] = 1.0
    w[np.flatnonzero(~t)[:2]] = 1.0
    np.testing.assert_allclose(_ecdf_stats(x, t, None), ecdf_brute(x, t, np.ones(n)), atol=1e-12)
    np.testing.assert_allclose(_ecdf_stats(x, t, w), ecdf_brute(x, t, w), atol=1e-12)


def frame(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"person_id": [f"p{i:05d}" for i in range(n)]})
    df["treated"] = (rng.random(n) < 0.2).astype(int)
    df["age"] = rng.normal(35, 9, n).round()
    df["arrests_pre_365d"] = rng.poisson(1 + df.treated)
    df["score"] = (0.5 * df.arrests_pre_365d - 0.02 * df.age).round(1)  # many exact ties
    return df


SPEC = {"covariates": ["age", "arrests_pre_365d"], "distance_column": "score", "caliper": 0.1}


def test_sorted_shuffled_and_integer_ids_give_the_same_sample():
    """Rows already in person_id order (a Cohort's) skip the sort; shuffled rows are sorted; the
    tied distances are resolved by person_id either way."""
    df = frame()
    a = lm.match(df, SPEC, warn=False)
    b = lm.match(df.sample(frac=1, random_state=1), SPEC, warn=False)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    pd.testing.assert_frame_equal(a.balance().to_frame(), b.balance().to_frame())
    assert a.data["subclass"].dtype == "Int64" and a.all_units["subclass"].isna().any()
    ints = df.assign(person_id=df.person_id.str[1:].astype(int))
    c = lm.match(ints.sample(frac=1, random_state=2), SPEC, warn=False)
    np.testing.assert_array_equal(c.pairs["control_id"], a.pairs["control_id"].str[1:].astype(int))
    cat = lm.match(df.assign(person_id=df.person_id.astype("category")), SPEC, warn=False)
    np.testing.assert_array_equal(cat.pairs["control_id"].astype(str), a.pairs["control_id"])


def test_duplicate_and_missing_ids_still_raise():
    df = frame(200)
    dup = pd.concat([df, df.iloc[[5]]])
    with pytest.raises(MatchingError, match="person_id is not unique: 1 duplicates"):
        lm.match(dup, SPEC, warn=False)
    gap = df.astype({"person_id": object})
    gap.loc[3, "person_id"] = None
    with pytest.raises(MatchingError, match="1 rows have no person_id"):
        lm.match(gap, SPEC, warn=False)
