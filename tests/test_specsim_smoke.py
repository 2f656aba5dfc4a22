"""Smoke test of benchmarks/propensity_spec_simulation.py's per-site function (``run_sites``) (the simulation
itself, 200 sites, is run by hand; its figures are in benchmarks/propensity_spec_simulation.md).

Reference: planted truth of leadeval's own generator. Two tiny sites (one with the Seattle
profile's planted effects, one null) give one row per propensity specification with the
simulation's columns; the null site's truths are exactly 1 and the planted site's marginal ATT
odds ratio is the calibrated target 0.40.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).parents[1] / "benchmarks" / "propensity_spec_simulation.py"


@pytest.fixture(scope="module")
def sim():
    spec = importlib.util.spec_from_file_location("propensity_spec_simulation", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_site_rows_and_columns(sim):
    rows = sim.run_sites([(7, False), (8, True)], n_participants=60, n_pool=600)
    assert [(r["seed"], r["null"], r["spec"]) for r in rows] == [
        (s, null, spec) for s, null in ((7, False), (8, True)) for spec in sim.SPECS
    ]
    for r in rows:
        assert list(r) == sim.COLUMNS
    ok = [r for r in rows if r["error"] == ""]
    assert ok, [r["error"] for r in rows]
    for r in ok:
        assert all(np.isfinite(r[c]) for c in sim.COLUMNS[3:-1]), r
        assert r["or_low"] < np.exp(r["or_log_estimate"]) < r["or_high"]
    for r in rows:
        if r["error"] == "" and r["null"]:
            assert r["or_truth"] == r["hr_truth"] == 1.0
        elif r["error"] == "":
            assert r["or_truth"] == pytest.approx(0.40, abs=0.01)
            assert 0.4 < r["hr_truth"] < 1.0
