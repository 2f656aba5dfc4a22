"""Cohort builder on a small leadeval.synth site written as Parquet and read by load_extracts:
the real loader's tables (Parquet-backed DuckDB) go through the whole builder.

Reference: invariants of DESIGN section 3 that must hold on any site (every roster person in the
flow, counts non-negative and nested across windows, exposure within the observed days, panel
months inside the configured range and follow-up).
"""

from __future__ import annotations

import numpy as np
import pytest

import leadeval as le

synth = pytest.importorskip("leadeval.synth")


def test_synthetic_site_through_loader(tmp_path):
    from leadeval.extracts import load_extracts
    from leadeval.synth.writer import write_site

    site = synth.generate_site("santa_fe", n_participants=40, n_pool=120, seed=3)
    out = write_site(site, tmp_path, formats=("parquet",))
    cfg = le.load_config(out / "site.yaml")
    ex = load_extracts(cfg)
    c = le.build_cohort(ex, cfg)
    p = c.persons
    roster = ex.to_pandas("roster")
    assert sorted(c.flow["person_id"]) == sorted(roster["person_id"])
    assert len(p) == int(c.flow["included"].sum()) > 0
    assert p["person_id"].is_monotonic_increasing and p["person_id"].is_unique
    q = cfg.design.post_windows
    for w in q:
        sfx = f"post_{w}d"
        assert (p[f"arrests_{sfx}"] <= p["arrests_post_all"]).all()
        assert (p[f"exposure_{sfx}"] <= p[f"observed_days_{sfx}"]).all()
        assert (p[f"exposure_{sfx}"] >= 0).all()
        complete = p[f"window_complete_{sfx}"]
        assert p.loc[~complete, f"arrest_{sfx}"].isna().all()
        assert p.loc[complete, f"arrest_{sfx}"].notna().all()
    assert (p["days_to_arrest"] <= p["followup_days"]).all()
    lo, hi = cfg.design.panel_months
    panel = c.panel
    assert panel["month_offset"].between(lo, hi).all()
    assert set(panel["person_id"]) == set(p["person_id"])
    last = panel.groupby("person_id")["month_start"].max()
    fe = p.set_index("person_id")["followup_end"]
    assert (last <= fe.loc[last.index]).all()
    assert np.isin(panel["days_observed"], np.arange(1, 32)).all()
