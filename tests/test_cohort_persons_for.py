"""The person table kept in the engine: ``Cohort.select(columns)`` and ``Cohort.persons_for(ids)``
are exactly the columns and rows of the whole table (``Cohort.persons``: values, dtypes, order and
index), without building it; ``evaluate()``'s matching on the narrow frame gives match()'s data.

Reference: the whole person table (itself pinned by tests/test_cohort.py and
tests/test_cohort_reference.py) cut with pandas, on the shipped Santa Fe sample (every outcome
family) and on a small roster whose integer column has a missing value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leadeval as le
from leadeval.cohort.persons import unit_columns
from leadeval.config import DesignConfig
from leadeval.evaluation import match_cohort

ROOT = Path(__file__).resolve().parents[1]
#: One xdist worker (``--dist loadgroup``) builds its Santa Fe cohort for the module.
pytestmark = pytest.mark.xdist_group("santa_fe_persons")


@pytest.fixture(scope="module")
def site():
    cfg = le.load_config(ROOT / "configs" / "santa_fe.yaml")
    extracts = le.load_extracts(cfg)
    return cfg, extracts, le.build_cohort(extracts, cfg)


def test_parts_equal_the_whole_table(site):
    cfg, _, cohort = site
    cols = unit_columns(cfg, cohort.columns)
    units = cohort.select(cols)
    assert cohort.select(list(reversed(cols))) is units  # kept, and in the table's order
    ids = list(units["person_id"].sample(200, random_state=4))
    ids += ids[:10] + ["not-a-person"]  # repeats and unknown ids change nothing
    np.random.default_rng(2).shuffle(ids)
    some = cohort.persons_for(ids)
    participants = cohort.persons_for(cohort.participant_ids)
    none = cohort.persons_for([])
    assert "persons" not in cohort.__dict__  # none of these built the whole table
    persons = cohort.persons
    assert list(cohort.columns) == list(persons.columns)
    pd.testing.assert_frame_equal(units, persons[cols])
    pd.testing.assert_frame_equal(some, persons[persons["person_id"].isin(ids)])
    pd.testing.assert_frame_equal(participants, persons[persons["treated"] == 1])
    pd.testing.assert_frame_equal(none, persons.iloc[:0].set_axis(pd.Index([], dtype="int64")))
    assert set(cols) >= {*cfg.matching.covariates, *cfg.matching.categorical, "area", "sex"}
    assert not any("_post_" in c for c in cols)  # outcomes are read for the matched only
    # a copy each time: changing one answer leaves the next intact
    participants["arrests_post_all"] = -1
    assert (cohort.persons_for(cohort.participant_ids)["arrests_post_all"] >= 0).all()
    # once built, the parts are cut from the whole table
    pd.testing.assert_frame_equal(cohort.persons_for(ids), some)


def test_matching_on_the_narrow_frame_gives_matchs_data(site):
    cfg, _, cohort = site
    wide = le.match(cohort.persons, cfg.matching, warn=False)
    narrow = match_cohort(cohort, cfg.matching, unit_columns(cfg, cohort.columns))
    pd.testing.assert_frame_equal(narrow.data, wide.data)
    assert narrow.data.attrs == wide.data.attrs
    pd.testing.assert_frame_equal(narrow.balance().table, wide.balance().table)
    pd.testing.assert_frame_equal(narrow.pairs, wide.pairs)
    units = narrow.all_units
    pd.testing.assert_frame_equal(units, wide.all_units[units.columns])


def test_row_order_invariance(site):
    """Shuffled extract rows give the same parts."""
    cfg, extracts, cohort = site
    rng = np.random.default_rng(7)
    frames = {
        n: extracts.tables[n].to_pandas().sample(frac=1, random_state=int(rng.integers(1e6)))
        for n in extracts.tables
    }
    other = le.build_cohort(le.Extracts.from_frames(frames, cfg.data_end_date), cfg)
    ids = cohort.participant_ids.iloc[::3]
    pd.testing.assert_frame_equal(other.persons_for(ids), cohort.persons_for(ids))
    cols = unit_columns(cfg, cohort.columns)
    pd.testing.assert_frame_equal(other.select(cols), cohort.select(cols))


def test_a_part_has_the_whole_tables_dtypes():
    """An integer column with a missing value somewhere is float in the whole table: in every
    part too, with or without the missing value."""
    roster = pd.DataFrame({"person_id": ["a", "b", "c"], "group": ["lead", "pool", "pool"],
                           "referral_date": ["2015-03-01", "2015-06-01", "2015-07-01"],
                           "birth_year": [1980, None, 1970]})
    ex = le.Extracts.from_frames({"roster": roster}, data_end_date="2015-12-31")
    c = le.build_cohort(ex, DesignConfig(post_windows=[182]))
    a, b = c.persons_for(["a"]), c.persons_for(["b"])
    whole = c.persons
    assert whole["age_at_index"].dtype == "float64"
    pd.testing.assert_frame_equal(a, whole.iloc[[0]].set_axis(pd.Index([0])))
    pd.testing.assert_frame_equal(b, whole.iloc[[1]].set_axis(pd.Index([1])))
    with pytest.raises(TypeError, match="list of person ids"):
        c.persons_for("a")


def test_evaluate_never_builds_the_whole_person_table(site):
    """The evaluation reads the matching/equity columns of everyone and the matched people's
    rows only (the whole table is what makes a state's cohort too big for memory)."""
    cfg, extracts, _ = site
    ev = le.evaluate(cfg, extracts=extracts)
    assert "persons" not in ev.cohort.__dict__ and "panel" not in ev.cohort.__dict__
    assert ev.get("equity") is not None and ev.get("heterogeneity") is not None
    persons = ev.cohort.persons
    matched = persons[persons["person_id"].isin(ev.matched.data["person_id"])]
    pd.testing.assert_frame_equal(
        ev.matched.data[persons.columns].drop(columns="treated"),
        matched.reset_index(drop=True).drop(columns="treated"),
    )


@pytest.mark.parametrize("shuffled", [True, False])
def test_to_pandas_puts_rows_in_key_order(shuffled):
    """``to_pandas(expr, sort_key)`` gives the rows in key order, without the key. Reference:
    the same rows sorted by pandas, across several Arrow chunks, with strings and missing values."""
    import ibis
    import pyarrow as pa

    from leadeval.cohort.persons import to_pandas

    rng = np.random.default_rng(7)
    n = 5000
    pk = rng.permutation(n) if shuffled else np.arange(n)
    frame = pd.DataFrame({
        "pk": pk,
        "person_id": [f"p{i:05d}" for i in pk],
        "count": np.where(pk % 7 == 0, np.nan, pk * 2.0),
        "flag": pk % 3 == 0,
    })  # fmt: skip
    chunks = pa.Table.from_pandas(frame, preserve_index=False).to_batches(max_chunksize=700)
    got = to_pandas(ibis.memtable(pa.Table.from_batches(chunks)), sort_key="pk")
    want = frame.sort_values("pk").drop(columns="pk").reset_index(drop=True)
    assert list(got.columns) == ["person_id", "count", "flag"]
    assert got["person_id"].tolist() == want["person_id"].tolist()
    np.testing.assert_array_equal(got["count"].to_numpy(), want["count"].to_numpy())
    np.testing.assert_array_equal(got["flag"].to_numpy(), want["flag"].to_numpy())
