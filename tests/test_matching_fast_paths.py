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


@pytest.mark.parametrize("seed", [0, 1])
def test_string_id_order_equals_pythons(seed):
    """The byte-matrix sort of str ids (_str_argsort) against numpy's sort of the Python objects:
    varying lengths, a shared prefix, non-ASCII ids, the empty string; ids equal once padded
    (trailing NUL) or repeated fall back to the object sort (None)."""
    from leadeval.matching._frame import _id_order, _str_argsort

    rng = np.random.default_rng(seed)
    ids = [f"S{rng.integers(0, 10**rng.integers(1, 12))}-{rng.integers(0, 99)}" for _ in range(4000)]
    ids += ["", "é", "e", "日本", "z" * 30, "Zq", "a\x00b", "a"]
    ids = np.array(list(dict.fromkeys(ids)), dtype=object)
    ids = ids[rng.permutation(len(ids))]
    np.testing.assert_array_equal(_str_argsort(ids), np.argsort(ids, kind="stable"))
    np.testing.assert_array_equal(_id_order(pd.Series(ids)), np.argsort(ids, kind="stable"))
    assert _str_argsort(np.array(["b", "a", "a\x00"], dtype=object)) is None
    assert _str_argsort(np.array(["b", "a", "b"], dtype=object)) is None
    tricky = pd.Series(["b", "a\x00", "a"])
    np.testing.assert_array_equal(_id_order(tricky), [2, 1, 0])  # the object sort decides


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_string_id_byte_matrix_paths(chunk, monkeypatch):
    """Both ways _str_argsort builds its byte matrix give numpy's sort of the Python objects:
    the Arrow buffer reshaped (every id one length, object and Arrow-backed input, a sliced
    Arrow array) and the scatter of varying-length ids in chunks of 1, 7 and 2**20 rows (chunk
    edges inside and between ids); ids over 64 bytes are left to the object sort (None)."""
    import pyarrow as pa

    from leadeval.matching import _frame

    monkeypatch.setattr(_frame, "_CHUNK", chunk)
    rng = np.random.default_rng(3)
    fixed = np.array([f"P{i:07d}" for i in rng.permutation(500)], dtype=object)
    ragged = np.array([f"id{i}" for i in rng.permutation(500)] + ["", "日本x", "é"], dtype=object)
    for ids in (fixed, ragged):
        expect = np.argsort(ids, kind="stable")
        np.testing.assert_array_equal(_frame._str_argsort(ids), expect)
        np.testing.assert_array_equal(_frame._str_argsort(pd.Series(ids, dtype="str")), expect)
        sliced = pa.array(["zz", *ids], type=pa.large_string()).slice(1)
        np.testing.assert_array_equal(_frame._str_argsort(sliced), expect)
    assert _frame._str_argsort(np.array(["a" * 65, "b"], dtype=object)) is None


def test_shuffled_unicode_ids_give_the_same_sample():
    """Shuffled rows with ids of mixed length and script match as the rows in id order do."""
    df = frame(2000, seed=5)
    df["person_id"] = [("é" if i % 3 else "") + f"{i}" for i in range(len(df))]
    ordered = df.iloc[np.argsort(df.person_id.to_numpy(), kind="stable")]
    a = lm.match(ordered, SPEC, warn=False)
    b = lm.match(df.sample(frac=1, random_state=4), SPEC, warn=False)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)


def test_blocked_newton_fit_equals_statsmodels_logit():
    """The propensity fit over several row blocks (30,000 rows, 8,192 per block) against
    ``statsmodels.Logit(...).fit(method="newton", tol=1e-12)`` on the same design: coefficients
    to 1e-10, standard errors to 1e-9 (relative); the categorical reference is honoured."""
    import statsmodels.api as sm

    from leadeval.config import MatchingConfig

    rng = np.random.default_rng(7)
    n = 30_000
    df = pd.DataFrame({
        "person_id": np.arange(n), "age": rng.normal(38, 10, n).round(),
        "arrests_pre_365d": rng.poisson(1.5, n), "area": rng.choice(list("abc"), n),
    })
    lin = -2 + 0.6 * np.log1p(df.arrests_pre_365d) - 0.02 * (df.age - 38) + 0.4 * (df.area == "a")
    df["treated"] = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    spec = MatchingConfig(covariates=["age", "arrests_pre_365d"], categorical=["area"],
                          reference={"area": "b"}, log1p=["arrests_pre_365d"])
    ps = lm.fit_propensity(df, spec, warn=False)
    X = np.column_stack([np.ones(n), df.age, (df.area == "a"), (df.area == "c"),
                         np.log1p(df.arrests_pre_365d)]).astype(float)
    ref = sm.Logit(df.treated.to_numpy(float), X).fit(method="newton", tol=1e-12, disp=0)
    got = ps.coefficients.set_index("term")
    order = ["Intercept", "age", "area[a]", "area[c]", "log1p(arrests_pre_365d)"]
    assert sorted(got.index) == sorted(order)
    np.testing.assert_allclose(got.loc[order, "estimate"], ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.loc[order, "std_error"], ref.bse, rtol=1e-9)
    assert ps.converged


def test_sorted_input_is_not_copied_nor_changed():
    """Rows in person_id order (a Cohort's): all_units shares the input's column arrays (no copy
    of a state's persons frame) and the input keeps its columns, values and dtypes."""
    df = frame(500).assign(treated=lambda d: d.treated.astype(bool))
    before = df.copy()
    m = lm.match(df, SPEC, warn=False)
    assert np.shares_memory(m.all_units["age"].to_numpy(), df["age"].to_numpy())
    pd.testing.assert_frame_equal(df, before)
    assert m.all_units["treated"].dtype == int and "weights" not in df


def test_distinct_values_counting_equals_sorting():
    """distinct_values' bincount path (whole numbers over a range no wider than the data) gives
    exactly the sort-based answer (np.unique with counts, cumulated): counts, negative values,
    -0.0, one value, and values it must sort (fractions, a range wider than the data)."""
    from leadeval.matching.balance import distinct_values

    rng = np.random.default_rng(4)
    cases = [
        rng.poisson(3, 1000).astype(float),
        rng.integers(-50, 50, 300).astype(float),
        np.array([5.0]),
        np.array([-0.0, 0.0, 2.0, 2.0]),
        rng.normal(size=100),
        np.array([0.0, 1e9, 3.0]),
    ]
    for x in cases:
        u, counts = np.unique(x, return_counts=True)
        got_u, got_n = distinct_values(x)
        np.testing.assert_array_equal(got_u, u)
        np.testing.assert_array_equal(got_n, np.cumsum(counts))
