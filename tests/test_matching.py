"""Invariants, determinism, errors, plots and Table 1 of leadeval.matching.

References: a brute-force O(treated x controls) transcription of MatchIt's greedy rule (below)
for the fast algorithm; simulated confounded data with known structure for balance.
"""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

import leadeval.matching as lm
from leadeval.config import MatchingConfig, parse_config
from leadeval.errors import BalanceWarning, ConfigError, MatchingError

matplotlib.use("Agg")

COVS = ["age", "arrests_pre_365d", "jail_days_pre_365d", "prison_pre_365d"]


def confounded(n: int = 1500, seed: int = 0, p_treat: float = -1.6) -> pd.DataFrame:
    """Treatment depends on age, prior arrests, jail days and area (confounded by design)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "person_id": [f"id{i:05d}" for i in rng.permutation(n)],
            "age": rng.normal(35, 10, n).round(),
            "arrests_pre_365d": rng.poisson(1.5, n),
            "jail_days_pre_365d": rng.gamma(1.0, 10, n).round(),
            "prison_pre_365d": rng.binomial(1, 0.15, n),
            "area": rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    lin = (
        p_treat
        - 0.04 * (df.age - 35)
        + 0.45 * df.arrests_pre_365d
        + 0.02 * df.jail_days_pre_365d
        + 0.5 * (df.area == "north")
    )
    df["treated"] = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    return df


def brute_force(distance, treated, ids, ratio, replace, width, order):
    """MatchIt's greedy rule, literally: rounds; treated in order; each takes, among available
    controls within the caliper, the smallest |difference|; on a tie the left side (smaller
    (distance, id)) wins, and within a side the control closest in (distance, id) order."""
    t_idx = np.flatnonzero(treated)
    c_idx = np.flatnonzero(~treated)
    key = {i: (distance[i], ids[i]) for i in range(len(distance))}
    if order == "largest":
        visit = sorted(t_idx, key=lambda i: (-distance[i], ids[i]))
    elif order == "smallest":
        visit = sorted(t_idx, key=lambda i: (distance[i], ids[i]))
    else:
        visit = sorted(t_idx, key=lambda i: ids[i])
    used = set()
    got = {t: [] for t in t_idx}
    for _ in range(ratio):
        for t in visit:
            best = None
            for c in c_idx:
                if (not replace and c in used) or c in got[t]:
                    continue
                diff = abs(distance[c] - distance[t])
                if width is not None and diff > width:
                    continue
                left = key[c] < key[t]
                # left: the closest in order is the largest key; right: the smallest key
                rank = (
                    (diff, 0, tuple(-np.array([key[c][0]])), _neg(key[c][1]))
                    if left
                    else (diff, 1, (key[c][0],), key[c][1])
                )
                if best is None or rank < best[0]:
                    best = (rank, c)
            if best is not None:
                got[t].append(best[1])
                used.add(best[1])
    return {(ids[t], ids[c], r + 1) for t in t_idx for r, c in enumerate(got[t])}


def _neg(s: str) -> tuple:
    return tuple(-ord(ch) for ch in s) + (1,)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "opts",
    [
        {"ratio": 1, "replace": False, "width": None, "order": "largest"},
        {"ratio": 2, "replace": False, "width": 1.5, "order": "largest"},
        {"ratio": 3, "replace": False, "width": None, "order": "smallest"},
        {"ratio": 2, "replace": True, "width": 2.0, "order": "data"},
        {"ratio": 1, "replace": False, "width": 0.5, "order": "data"},
    ],
)
def test_fast_nearest_equals_brute_force(seed, opts):
    """Union-find greedy == literal O(n1 x n0) rule, on integer distances full of exact ties."""
    rng = np.random.default_rng(seed)
    n = 120
    distance = rng.integers(0, 25, n).astype(float)
    treated = rng.random(n) < 0.3
    ids = np.array([f"u{i:03d}" for i in rng.permutation(n)])
    o = np.argsort(ids)
    distance, treated, ids = distance[o], treated[o], ids[o]
    pairs, un, reasons = lm.match_nearest_arrays(
        distance,
        treated,
        np.zeros(n, bool),
        np.zeros(n, int),
        opts["ratio"],
        opts["replace"],
        opts["width"],
        opts["order"],
    )
    fast = {(ids[t], ids[c], r) for t, c, r in pairs.to_numpy()}
    assert fast == brute_force(distance, treated, ids, **opts)
    assert set(ids[un]) == set(ids[treated]) - {p[0] for p in fast}


def test_every_treated_matched_or_explained_and_weights_sum():
    """Invariants: each treated unit matched or unmatched with a reason; no control reused
    without replacement; treated weights 1; control weights sum to the number of matched
    controls (MatchIt's convention)."""
    df = confounded()
    for spec in (
        {"covariates": COVS, "caliper": 0.1, "ratio": 2},
        {"covariates": COVS, "exact": ["area"], "caliper": 0.2},
        {"covariates": COVS, "discard": "both", "ratio": 3},
    ):
        m = lm.match(df, spec, warn=False)
        t_ids = set(df.loc[df.treated == 1, "person_id"])
        matched = set(m.data.loc[m.data.treated == 1, "person_id"])
        assert matched | set(m.unmatched.person_id) == t_ids
        assert not matched & set(m.unmatched.person_id)
        assert set(m.unmatched.reason) <= {
            "caliper",
            "no_control_in_stratum",
            "discarded_common_support",
            "controls_exhausted",
        }
        assert not m.pairs.control_id.duplicated().any()
        assert (m.data.loc[m.data.treated == 1, "weights"] == 1).all()
        c = m.data[m.data.treated == 0]
        assert c.weights.sum() == pytest.approx(len(c))
        assert (m.pairs.distance_diff <= m.caliper_width + 1e-12).all() if m.caliper_width else True
        # subclass: one id per treated unit, shared with its controls
        sub = m.data.set_index("person_id")["subclass"]
        for t, grp in m.pairs.groupby("treated_id"):
            assert (sub[grp.control_id] == sub[t]).all()
        assert m.data.subclass.nunique() == len(matched)


def test_exact_strata_respected_and_reason():
    """Exact strata: pairs never cross strata; a stratum without controls -> its reason."""
    df = confounded()
    df["site"] = np.where(df.area == "east", "x", "y")
    df.loc[(df.site == "x") & (df.treated == 0), "site"] = "y"  # stratum x has no controls
    m = lm.match(df, {"covariates": COVS, "exact": ["site", "area"]}, warn=False)
    a = df.set_index("person_id")["area"]
    assert (a[m.pairs.treated_id].to_numpy() == a[m.pairs.control_id].to_numpy()).all()
    x_treated = set(df.loc[(df.site == "x") & (df.treated == 1), "person_id"])
    got = m.unmatched.set_index("person_id").reason
    assert x_treated and (got[list(x_treated)] == "no_control_in_stratum").all()


def test_controls_exhausted_reason():
    """More treated than controls at 1:1 without replacement -> 'controls_exhausted'."""
    df = confounded(600, p_treat=1.5)
    assert df.treated.mean() > 0.5
    m = lm.match(df, {"covariates": COVS}, warn=False)
    n0 = int((df.treated == 0).sum())
    assert int((m.data.treated == 1).sum()) == n0
    assert set(m.unmatched.reason) == {"controls_exhausted"}


def test_with_replacement_weights_normalised():
    """With replacement, control weights = sum of 1/k over uses, scaled to the distinct count."""
    m = lm.match(confounded(), {"covariates": COVS, "replace": True, "ratio": 2}, warn=False)
    c = m.data[m.data.treated == 0].set_index("person_id")
    uses = m.pairs.groupby("control_id").size()
    raw = uses / 2
    expected = raw * len(raw) / raw.sum()
    np.testing.assert_allclose(c.loc[expected.index, "weights"], expected)
    assert m.data.subclass.isna().all()


def test_balance_improves_after_matching():
    """On confounded data, matching with a caliper reduces every |SMD| to below 0.1."""
    df = confounded(3000)
    m = lm.match(df, {"covariates": COVS, "categorical": ["area"], "caliper": 0.2}, warn=False)
    t = m.balance().to_frame()
    assert t.smd_before.abs().max() > 0.3
    assert (t.smd_after.abs() <= t.smd_before.abs() + 1e-12).all()
    assert t.smd_after.abs().max() < 0.1
    for method in ("iptw", "cem"):
        spec = {
            "covariates": COVS,
            "categorical": ["area"],
            "method": method,
            "cutpoints": {"age": 6, "jail_days_pre_365d": [1, 10, 30]},
        }
        b = lm.match(df, spec, warn=False).balance().to_frame()
        assert b.smd_after.abs().max() < b.smd_before.abs().max()


def test_row_order_invariance_and_determinism():
    """Shuffling rows changes nothing; the same seed gives the same random order."""
    df = confounded()
    specs = [
        {"covariates": COVS, "caliper": 0.2, "ratio": 2},
        {"covariates": COVS, "order": "random", "seed": 5},
        {"covariates": COVS, "categorical": ["area"], "method": "iptw", "trim": [1, 99]},
        {"covariates": COVS, "method": "cem"},
    ]
    for spec in specs:
        a = lm.match(df, spec, warn=False)
        b = lm.match(df.sample(frac=1, random_state=3), spec, warn=False)
        pd.testing.assert_frame_equal(a.data, b.data)
        pd.testing.assert_frame_equal(a.unmatched, b.unmatched)
        if a.pairs is not None:
            pd.testing.assert_frame_equal(a.pairs, b.pairs)
    r1 = lm.match(df, specs[1], warn=False)
    r2 = lm.match(df, {**specs[1], "seed": 6}, warn=False)
    assert not r1.pairs.equals(r2.pairs)


def test_iptw_stabilised_and_trimmed():
    """Stabilising rescales each group (balance unchanged); trimming caps control weights at the
    chosen percentile (ATT: treated weights stay 1)."""
    df = confounded()
    base = {"covariates": COVS, "method": "iptw"}
    raw = lm.match(df, {**base, "stabilize": False}, warn=False)
    stab = lm.match(df, base, warn=False)
    p = df.treated.mean()
    c = raw.all_units.treated == 0
    np.testing.assert_allclose(stab.all_units.weights[c], raw.all_units.weights[c] * (1 - p) / p)
    np.testing.assert_allclose(stab.balance().table.smd_after, raw.balance().table.smd_after)
    e = raw.propensity.score
    np.testing.assert_allclose(raw.all_units.weights[c], (e / (1 - e))[c])
    tr = lm.match(df, {**base, "stabilize": False, "trim": [0, 95]}, warn=False)
    cap = np.percentile(raw.all_units.weights[c], 95)
    assert tr.all_units.weights[c].max() == pytest.approx(cap)
    assert (tr.all_units.weights[~c] == 1).all()
    ate = lm.match(df, {**base, "estimand": "ATE", "stabilize": False}, warn=False)
    t = ate.all_units.treated == 1
    np.testing.assert_allclose(ate.all_units.weights[t], 1 / e[t])


def test_propensity_terms_and_cohort_input():
    """Squares, splines and categorical dummies enter the score; a Cohort-like .persons works."""
    df = confounded()

    class Cohort:
        persons = df

    spec = {
        "covariates": COVS,
        "categorical": ["area"],
        "squares": ["age"],
        "splines": {"jail_days_pre_365d": 3},
    }
    m = lm.match(Cohort(), spec, warn=False)
    terms = m.propensity.coefficients.term.tolist()
    assert "age ** 2" in terms and "area[north]" in terms
    assert sum(t.startswith("cr(jail_days_pre_365d") for t in terms) == 3
    assert "jail_days_pre_365d" not in terms
    assert {"ratio", "ratio_low", "ratio_high"} <= set(m.propensity.to_frame().columns)


def test_errors_are_clear():
    """Bad input -> MatchingError/ConfigError naming the problem and the fix."""
    df = confounded(400)
    with pytest.raises(MatchingError, match=r"missing column\(s\) \['nope'\]"):
        lm.match(df, {"covariates": ["nope"]})
    bad = df.assign(treated=df.treated.replace({1: 2}))
    with pytest.raises(MatchingError, match="treated must be 0/1"):
        lm.match(bad, {"covariates": COVS})
    with pytest.raises(MatchingError, match="person_id is not unique"):
        lm.match(pd.concat([df, df.head(2)]), {"covariates": COVS})
    with pytest.raises(MatchingError, match="'age' has 1 missing values"):
        lm.match(df.assign(age=df.age.where(df.index != 3)), {"covariates": COVS})
    sep = df.assign(score=df.treated * 10 + df.age / 100)
    with pytest.raises(MatchingError, match="'score' separates the groups completely"):
        lm.match(sep, {"covariates": ["age", "score"]})
    pilot = df.index.isin(df.index[df.treated == 1][:5])
    lvl = df.assign(unit=np.where(pilot, "pilot", df.area))
    with pytest.raises(
        MatchingError,
        match=r"'unit' has levels seen in one group only: pilot \(only treated, n=5\)",
    ):
        lm.match(lvl, {"covariates": ["age"], "categorical": ["unit"]})
    with pytest.raises(MatchingError, match=r"no overlap: the d of treated units \(4\.9"):
        lm.match(
            df.assign(d=np.where(df.treated == 1, 5.0, -5.0) + df.age / 1e3),
            {"covariates": ["age"], "distance_column": "d"},
        )
    joint = df.assign(u=df.age, v=np.where(df.treated == 1, 100 - df.age + 1, 100 - df.age - 1))
    with pytest.raises(MatchingError, match="perfect separation.*largest coefficient"):
        lm.match(joint, {"covariates": ["u", "v"]})
    with pytest.raises(ConfigError, match="matching.*caliper"):
        lm.match(df, {"covariates": COVS, "caliper": -1})
    with pytest.raises(ConfigError, match="needs a seed"):
        lm.match(df, {"covariates": COVS, "order": "random"})
    with pytest.raises(ConfigError, match="estimates the ATT"):
        parse_config(
            {
                "site": "x",
                "data_end_date": "2020-01-01",
                "extracts": {"roster": {"path": "r.csv"}},
                "matching": {"covariates": ["age"], "estimand": "ATE"},
            }
        )
    with pytest.raises(MatchingError, match="no treated unit could be matched"):
        lm.match(
            df.assign(d=df.age + 0.5 * df.treated),
            {"covariates": COVS, "caliper": 0.01, "distance_column": "d"},
            warn=False,
        )


def test_balance_warning_and_summary():
    """BalanceWarning when |SMD| after exceeds the threshold; summary text lists the variables."""
    df = confounded()
    with pytest.warns(BalanceWarning, match="arrests_pre_365d"):
        m = lm.match(df, {"covariates": COVS, "replace": False, "balance_threshold": 1e-6})
    assert "arrests_pre_365d" in m.balance().summary()
    assert "treated" in m.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lm.match(df, {"covariates": COVS, "caliper": 0.1, "balance_threshold": 0.5,
                      "log1p": ["jail_days_pre_365d"]})


def test_plots_and_table_one():
    """Plots return Axes; Table 1 has before/after columns and SMDs equal to the balance table."""
    import matplotlib.pyplot as plt

    df = confounded()
    m = lm.match(df, {"covariates": COVS, "categorical": ["area"], "caliper": 0.2}, warn=False)
    ax = lm.plot_balance(m.balance())
    assert len(ax.get_yticklabels()) == len(m.balance().table)
    ax2 = lm.plot_overlap(m)
    assert ax2.get_xlabel() == "logit(propensity score)"
    plt.close("all")
    t1 = lm.table_one(m)
    assert list(t1.columns) == [
        "variable",
        "level",
        "statistic",
        "treated_before",
        "control_before",
        "treated_after",
        "control_after",
        "smd_before",
        "smd_after",
    ]
    assert t1.iloc[0]["treated_after"].startswith(str(int((m.data.treated == 1).sum())))
    row = t1[(t1.variable == "area") & (t1.level == "north")].iloc[0]
    b = m.balance().table.set_index("variable")
    assert row.smd_after == b.loc["area[north]", "smd_after"]
    x = m.data[m.data.treated == 0]
    expected = 100 * np.average(x.area == "north", weights=x.weights)
    assert row.control_after == f"{expected:.1f}"


def test_site_config_matching_section():
    """A site YAML's matching section is a validated MatchingConfig usable by match()."""
    cfg = parse_config(
        {
            "site": "x",
            "data_end_date": "2020-01-01",
            "extracts": {"roster": {"path": "r.csv"}},
            "matching": {"covariates": COVS, "caliper": 0.2, "ratio": 2},
        }
    )
    assert isinstance(cfg.matching, MatchingConfig)
    m = lm.match(confounded(), cfg.matching, warn=False)
    assert m.spec.ratio == 2
