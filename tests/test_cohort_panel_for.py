"""``Cohort.panel_for``: the person-months of the people asked for, built in the engine for them
only, are exactly the rows of the whole panel for them (values, dtypes, order and index).

Reference: the whole panel (``Cohort.panel``, itself pinned by tests/test_cohort.py and
tests/test_cohort_reference.py) filtered with pandas, ``panel[panel.person_id.isin(ids)]``, on
the shipped Santa Fe sample (every outcome family, with jail stays, housing and income).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import leadeval as le

ROOT = Path(__file__).resolve().parents[1]
#: One xdist worker (``--dist loadgroup``) builds its Santa Fe cohort for the module.
pytestmark = pytest.mark.xdist_group("santa_fe_panel")


@pytest.fixture(scope="module")
def cohort() -> le.Cohort:
    cfg = le.load_config(ROOT / "configs" / "santa_fe.yaml")
    return le.build_cohort(le.load_extracts(cfg), cfg)


def test_panel_for_is_the_whole_panels_rows(cohort):
    persons = cohort.persons
    rng = np.random.default_rng(5)
    ids = list(persons["person_id"].sample(300, random_state=3))
    ids += ids[:20] + ["not-a-person"]  # repeats and unknown ids change nothing
    rng.shuffle(ids)
    participants = cohort.panel_for(cohort.participant_ids)
    some = cohort.panel_for(ids)
    none = cohort.panel_for([])
    assert "panel" not in cohort.__dict__  # none of these built the whole panel
    panel = cohort.panel
    pd.testing.assert_frame_equal(participants, panel[panel["treated"] == 1])
    pd.testing.assert_frame_equal(some, panel[panel["person_id"].isin(ids)])
    pd.testing.assert_frame_equal(none, panel.iloc[:0].set_axis(pd.Index([], dtype="int64")))
    assert list(cohort.panel_columns) == list(panel.columns)
    assert set(some["person_id"]) == set(ids) - {"not-a-person"}
    # a copy each time: changing one answer leaves the next intact
    participants["arrests"] = -1
    assert (cohort.panel_for(cohort.participant_ids)["arrests"] >= 0).all()


def test_a_cohort_with_a_ready_panel_frame(cohort):
    """A Cohort can also be made from frames (tests, notebooks): panel_for filters the frame."""
    panel = cohort.panel
    c = le.Cohort(
        person_source=cohort.persons,
        panel_source=panel,
        flow=cohort.flow,
        design=cohort.design,
        data_end_date=cohort.data_end_date,
        site=cohort.site,
        skipped=cohort.skipped,
    )
    ids = cohort.participant_ids
    pd.testing.assert_frame_equal(c.panel_for(ids), panel[panel["person_id"].isin(ids)])
    assert c.panel is panel
    with pytest.raises(TypeError, match="list of person ids"):
        cohort.panel_for("a")
