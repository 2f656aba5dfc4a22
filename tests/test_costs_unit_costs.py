"""Unit costs and CPI conversion (leadeval.costs.unit_costs, CostsConfig).

Reference: hand arithmetic on the CPI ratio c_Y = c_y * CPI_Y / CPI_y, with the BLS CPI-U annual
averages (series CUUR0000SA0) written out in each test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from leadeval.config import CostsConfig, UnitCost, parse_config
from leadeval.costs import cpi_table, inflate, unit_cost_table
from leadeval.errors import ConfigError, CostError, CostWarning


def test_shipped_cpi_table_covers_1990_2025_with_known_values():
    """BLS CPI-U annual averages: 1990 130.7, 2015 237.017, 2019 255.657, 2022 292.655."""
    cpi = cpi_table()
    assert cpi.index.min() == 1990 and cpi.index.max() == 2025
    assert list(cpi.index) == list(range(1990, 2026))
    assert cpi[1990] == 130.7 and cpi[2015] == 237.017 and cpi[2019] == 255.657
    assert cpi[2022] == 292.655
    assert cpi.attrs["provisional"] == [2025]
    # CPI-U fell only in 2009 over this span (annual averages)
    falls = [int(y) for y, d in cpi.diff().dropna().items() if d < 0]
    assert falls == [2009]


def test_inflate_by_hand():
    """2015 -> 2019 dollars: 100 * 255.657 / 237.017 = 107.86441..."""
    assert inflate(100.0, 2015, 2019) == pytest.approx(100 * 255.657 / 237.017, rel=1e-12)
    assert inflate(100.0, 2015, 2019) == pytest.approx(107.864415, abs=1e-6)
    custom = pd.Series({2000: 100.0, 2010: 125.0})
    assert inflate(80.0, 2000, 2010, custom) == 100.0
    assert inflate(100.0, 2010, 2000, custom) == 80.0
    assert inflate(np.array([1.0, 2.0]), 2000, 2010, custom).tolist() == [1.25, 2.5]


def test_inflate_unknown_year_and_provisional_year():
    with pytest.raises(CostError, match="no CPI value for year 1980"):
        inflate(1.0, 1980, 2019)
    with pytest.warns(CostWarning, match="provisional"):
        inflate(1.0, 2019, 2025)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inflate(1.0, 2025, 2025)  # no conversion, no warning


def test_cpi_override_from_config(tmp_path):
    """A site CPI table (year,cpi) replaces the shipped one; relative paths resolve to the YAML."""
    (tmp_path / "my_cpi.csv").write_text("# local index\nyear,cpi\n2010,200\n2020,250\n")
    cfg = parse_config(
        {
            "site": "x",
            "data_end_date": "2020-12-31",
            "extracts": {"roster": {"path": "roster.csv"}},
            "costs": {
                "dollar_year": 2020,
                "cpi_path": "my_cpi.csv",
                "unit_costs": {
                    "jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2010}
                },
            },
        },
        base_dir=tmp_path,
    )
    assert cfg.costs.cpi_path == (tmp_path / "my_cpi.csv").resolve()
    t = unit_cost_table(cfg.costs)
    assert t.table.loc[0, "amount"] == 125.0  # 100 * 250 / 200
    assert t.table.loc[0, "cpi_factor"] == 1.25


def test_bad_cpi_tables(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("year,index\n2010,1\n")
    with pytest.raises(CostError, match=r"missing column\(s\) \['cpi'\]"):
        cpi_table(p)
    p.write_text("year,cpi\n2010,1\n2011,-3\n")
    with pytest.raises(CostError, match="non-positive cpi"):
        cpi_table(p)
    with pytest.raises(CostError, match="CPI table not found"):
        cpi_table(tmp_path / "nope.csv")


def test_unit_cost_table_ranges_categories_and_price_matrix():
    """Two costs price the same measure (prosecution + defense per superior charge), a third
    prices jail days; price matrix rows = measures, columns = categories."""
    cpi = pd.Series({2015: 200.0, 2019: 220.0})
    t = unit_cost_table(
        {
            "prosecution": {
                "measure": "charges_superior",
                "amount": 1000,
                "price_year": 2015,
                "low": 500,
                "high": 1500,
                "category": "legal",
            },
            "defense": {
                "measure": "charges_superior",
                "amount": 800,
                "price_year": 2019,
                "category": "legal",
                "basis": "average",
            },
            "jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2015},
        },
        dollar_year=2019,
        cpi=cpi,
    )
    tab = t.table.set_index("name")
    assert list(t.table["name"]) == ["defense", "jail_day", "prosecution"]
    assert tab.loc["prosecution", "amount"] == pytest.approx(1100.0)
    assert tab.loc["prosecution", "low"] == pytest.approx(550.0)
    assert tab.loc["prosecution", "high"] == pytest.approx(1650.0)
    assert tab.loc["defense", "low"] == tab.loc["defense", "high"] == 800.0
    assert tab.loc["jail_day", "category"] == "jail_day"  # default category: the name
    p, cats = t.price_matrix("category")
    assert t.measures == ("charges_superior", "jail_days") and cats == ("jail_day", "legal")
    np.testing.assert_allclose(p, [[0.0, 1900.0], [110.0, 0.0]])


def test_unit_cost_validation():
    with pytest.raises(ValueError, match="give both 'low' and 'high'"):
        UnitCost(measure="bookings", amount=1, price_year=2019, low=0.5)
    with pytest.raises(ValueError, match="low <= amount <= high"):
        UnitCost(measure="bookings", amount=1, price_year=2019, low=2, high=3)
    with pytest.raises(ConfigError, match=r"costs\.unit_costs\.b\.basis: got 'mean'"):
        parse_config(
            {
                "site": "x",
                "data_end_date": "2020-01-01",
                "extracts": {"roster": {"path": "r.csv"}},
                "costs": {
                    "unit_costs": {
                        "b": {
                            "measure": "bookings",
                            "amount": 1,
                            "price_year": 2019,
                            "basis": "mean",
                        }
                    }
                },
            }
        )
    with pytest.raises(CostError, match="no unit costs configured"):
        unit_cost_table(CostsConfig())
    with pytest.raises(CostError, match="give dollar_year"):
        unit_cost_table({"b": {"measure": "bookings", "amount": 1, "price_year": 2019}})


def test_costs_config_defaults():
    c = CostsConfig()
    assert c.discount_rate == 0.03 and c.bootstrap_replicates == 2000
    assert c.monte_carlo_draws == 10000 and c.scale == "year"
    with pytest.raises(ValueError):
        CostsConfig(post_window=0)


def test_measure_name_must_be_a_column_stem():
    with pytest.raises(ValueError, match="should match pattern"):
        UnitCost(measure="jail days", amount=1, price_year=2019)


def test_docs_yaml_example_is_a_valid_costs_section():
    """The YAML example in docs/costs.md parses into a CostsConfig and converts with the CPI."""
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).parents[1] / "docs" / "costs.md").read_text()
    block = re.search(r"```yaml\n(costs:.*?)```", text, re.S).group(1)
    data = {"site": "x", "data_end_date": "2016-06-30", "extracts": {"roster": {"path": "r.csv"}}}
    data.update(yaml.safe_load(block))
    cfg = parse_config(data)
    assert cfg.costs.dollar_year == 2019 and len(cfg.costs.unit_costs) == 8
    t = unit_cost_table(cfg.costs)
    jail = t.table.set_index("name").loc["jail_day"]
    assert jail["amount"] == pytest.approx(130 * 255.657 / 237.017)
