"""The access models fitted on distinct (level, history, referred) cells with frequency weights
equal the person-level fits (leadeval.equity.adjusted_access, _glm_hc0).

Reference: statsmodels' GLM(..., family=Poisson|Binomial).fit(cov_type="HC0") on every person
(the estimator the equity stage used before the cells), run in the test on the same data; and
statsmodels' GLM with ``freq_weights`` for the weighted fit. Row-order invariance: the table is
bit-for-bit the same for shuffled people."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from leadeval.equity import _collapse, _glm_hc0, adjusted_access

HISTORY = ["arrests_pre_365d", "bookings_pre_730d", "prison_pre_730d"]


def universe(n: int = 20000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(["black", "white", "latinx", "unknown"], n, p=[0.3, 0.5, 0.15, 0.05])
    arrests = rng.poisson(np.where(race == "black", 2.0, 1.2))
    bookings = rng.poisson(1.0, n).astype(float)
    bookings[rng.random(n) < 0.02] = np.nan  # missing history: the person is left out
    prison = (rng.random(n) < 0.1).astype(int)
    lp = -3.2 + 0.5 * np.log1p(arrests) + 0.3 * (race == "black") + 0.4 * prison
    return pd.DataFrame({
        "referred": (rng.random(n) < np.exp(lp)).astype(int),
        "race_ethnicity": race, "sex": rng.choice(["f", "m"], n, p=[0.3, 0.7]),
        "area": rng.choice(["north", "south", "east"], n),
        "arrests_pre_365d": arrests, "bookings_pre_730d": bookings, "prison_pre_730d": prison,
        "constant_history": 0,  # never varies: left out of the model
    })


def person_level(u: pd.DataFrame, var: str, ref: str, extra: str | None) -> dict[str, float]:
    """The person-level models with statsmodels (the reference)."""
    x = pd.get_dummies(u[var], dtype=float).drop(columns=ref)
    x = x[sorted(x.columns)]
    for c in HISTORY:
        v = u[c].astype(float)
        x[c] = np.log1p(v) if v.max() > 1 else v
    if extra:
        d = pd.get_dummies(u[extra], prefix=extra, prefix_sep="=", dtype=float)
        x = pd.concat([x, d.drop(columns=d.sum().idxmax())], axis=1)
    x.insert(0, "const", 1.0)
    ok = x.notna().all(axis=1)
    out = {}
    for name, fam in (("rri", sm.families.Poisson()), ("or", sm.families.Binomial())):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(u.loc[ok, "referred"], x[ok], family=fam).fit(cov_type="HC0")
        ci = fit.conf_int()
        for lv in x.columns[1:len(u[var].unique())]:
            out[(name, lv)] = (np.exp(fit.params[lv]), np.exp(ci.loc[lv, 0]), np.exp(ci.loc[lv, 1]))
    return out


@pytest.mark.parametrize("extra", [None, "area"])
def test_cell_fits_equal_person_level_statsmodels(extra):
    """Adjusted RRIs and ORs with their HC0 intervals equal statsmodels' person-level GLMs to
    1e-9 (relative), with missing history, a constant history column and a categorical
    adjustment."""
    u = universe()
    adj, missing = adjusted_access(u, ["race_ethnicity", "sex"], {}, [*HISTORY, "constant_history"],
                                   [extra] if extra else [])
    assert missing == []
    for var, ref in (("race_ethnicity", "white"), ("sex", "m")):
        want = person_level(u, var, ref, extra)
        got = adj[adj["variable"] == var].set_index("level")
        assert got.loc[ref, "adj_rri"] == 1.0
        for (name, lv), vals in want.items():
            np.testing.assert_allclose(
                got.loc[lv, [f"adj_{name}", f"adj_{name}_low", f"adj_{name}_high"]].to_numpy(float),
                vals, rtol=1e-9)


def test_cell_fits_do_not_depend_on_row_order():
    """Shuffled people give the bit-identical table (cells are sorted by value)."""
    u = universe(8000, seed=3)
    a, _ = adjusted_access(u, ["race_ethnicity", "sex"], {}, HISTORY, ["area"])
    b, _ = adjusted_access(u.sample(frac=1, random_state=1).reset_index(drop=True),
                           ["race_ethnicity", "sex"], {}, HISTORY, ["area"])
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_frequency_weighted_fit_equals_statsmodels_and_the_expanded_rows(family):
    """_glm_hc0 with ``freq`` equals statsmodels' GLM(freq_weights=...) HC0 fit, and the
    unweighted fit on the rows repeated ``freq`` times, to 1e-10."""
    rng = np.random.default_rng(8)
    m = 300
    x = pd.DataFrame({"const": 1.0, "a": rng.integers(0, 2, m).astype(float),
                      "h": np.log1p(rng.integers(0, 6, m))})
    y = rng.integers(0, 2, m).astype(float)
    freq = rng.integers(1, 40, m).astype(float)
    fam = {"poisson": sm.families.Poisson, "binomial": sm.families.Binomial}[family]
    fit = _glm_hc0(y, x, fam(), freq=freq)
    ref = sm.GLM(y, x, family=fam(), freq_weights=freq).fit(cov_type="HC0")
    np.testing.assert_allclose(fit.params, ref.params, rtol=1e-10)
    np.testing.assert_allclose(fit.bse, ref.bse, rtol=1e-10)
    rep = np.repeat(np.arange(m), freq.astype(int))
    long = _glm_hc0(y[rep], x.iloc[rep].reset_index(drop=True), fam())
    np.testing.assert_allclose(fit.params, long.params, rtol=1e-10)
    np.testing.assert_allclose(fit.bse, long.bse, rtol=1e-10)


def test_collapse_counts_every_row_once_in_value_order():
    """Hand: the distinct rows in code order with their counts; -1 (missing) sorts first; a key
    too wide for int64 is ranked on the way and keeps the order."""
    a = np.array([2, 0, 2, -1, 0])
    b = np.array([1, 1, 1, 0, 1])
    (ca, cb), n = _collapse([a, b])
    assert ca.tolist() == [-1, 0, 2] and cb.tolist() == [0, 1, 1] and n.tolist() == [1, 2, 2]
    wide = [np.array([5, 5, 1]) * 10**6 + i for i in range(8)]  # 8 columns of ~2^23 codes
    cells, n = _collapse(wide)
    assert cells[0].tolist() == [1000000, 5000000] and n.tolist() == [1.0, 2.0]
