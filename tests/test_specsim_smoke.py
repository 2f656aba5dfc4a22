"""Smoke test of benchmarks/propensity_spec_simulation.py's per-site function ``run_sites`` (the
simulation itself, 200 sites, is run by hand; figures in benchmarks/propensity_spec_simulation.md).

Reference: none needed; this checks only the output layout. Two tiny synthetic sites (one with
the Seattle profile's planted effects, one null) give one row per propensity specification with
the simulation's columns, filled unless the row records an error.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

PATH = Path(__file__).parents[1] / "benchmarks" / "propensity_spec_simulation.py"


def test_run_sites_rows_and_columns():
    spec = importlib.util.spec_from_file_location("propensity_spec_simulation", PATH)
    sim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sim)
    rows = sim.run_sites([(7, False), (8, True)], n_participants=60, n_pool=600)
    assert [(r["seed"], r["null"], r["spec"]) for r in rows] == [
        (s, null, name) for s, null in ((7, False), (8, True)) for name in sim.SPECS
    ]
    assert all(list(r) == sim.COLUMNS for r in rows)
    ok = [r for r in rows if r["error"] == ""]
    assert ok, [r["error"] for r in rows]
    assert all(np.isfinite(r[c]) for r in ok for c in sim.COLUMNS[3:-1])
