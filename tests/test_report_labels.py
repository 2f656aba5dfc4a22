"""Plain labels and the wording of findings.

References: the data contract's column naming rules (``<measure>_<pre|post>_<window>``, dummies
``<variable>_<level>``) and the config's ``report.labels`` overrides; the wording rule that an
interval including the null reads "no clear difference".
"""

from __future__ import annotations

import pandas as pd
import pytest

from leadeval.report.document import ReportTable, table_csv, table_html
from leadeval.report.labels import label, use_labels
from leadeval.report.sections import _annual_sentence, _plain


@pytest.mark.parametrize(
    "name, words",
    [
        ("arrest_post_182d", "any arrest within 6 months"),
        ("bookings_post_365d", "jail bookings, 12 months after"),
        ("unsheltered_days_pre_30d", "days unsheltered, 1 month before"),
        ("arrests_post_all", "arrests, whole follow-up"),
        ("area_south_seattle", "area: south seattle"),
        ("race_ethnicity=hispanic", "race/ethnicity: hispanic"),
        ("area[south_seattle]", "area: south seattle"),  # the one dummy scheme
        ("race_ethnicity[hispanic]", "race/ethnicity: hispanic"),
        ("log1p(arrests_pre_365d)", "log(1 + arrests, 12 months before)"),
        ("age_at_index ** 2", "age at the index date squared"),
        ("sex[M]:log1p(jail_days_pre_730d)", "sex: M × log(1 + jail days, 24 months before)"),
        ("cox:days_to_arrest", "time to first re-arrest"),
        ("gee:arrest_post_182d", "any arrest within 6 months (pre/post GEE)"),
        ("mean:jail_days_post_365d", "jail days, 12 months after"),  # its absolute effect
        ("month=6", "month 6 vs baseline"),
        ("prob_benefits_exceed_costs", "chance that benefits exceed costs"),
        ("bcr", "benefit-cost ratio"),
        ("conf_low", "95% CI low"),
    ],
)
def test_labels_follow_the_naming_rules(name, words):
    assert label(name) == words


def test_config_overrides_apply_inside_use_labels_only():
    with use_labels({"area": "neighbourhood", "arrest_post_182d": "re-arrested in 6 months"},
                    program="LEAD", comparison="booked as usual"):
        assert label("arrest_post_182d") == "re-arrested in 6 months"
        assert label("area_belltown") == "neighbourhood: belltown"
        assert label("area[belltown]") == "neighbourhood: belltown"
        assert label("pool") == "booked as usual"
        assert label("treated") == "LEAD vs booked as usual"
    assert label("arrest_post_182d") == "any arrest within 6 months"


def test_tables_show_labels_and_write_machine_names_with_labels():
    t = ReportTable("x", "X", pd.DataFrame(
        {"outcome": ["logistic:arrest_post_182d"], "term": ["treated"], "p_value": [0.00001]}
    ))
    html = table_html(t)
    assert "any arrest within 6 months" in html and "arrest_post_182d" not in html
    assert "&lt;0.001" in html and "<th>p</th>" in html
    csv = table_csv(t).splitlines()
    assert csv[0] == "outcome,outcome_label,term,term_label,p_value"
    assert csv[1].startswith("logistic:arrest_post_182d,any arrest within 6 months,treated,")


def test_an_interval_that_includes_the_null_reads_no_clear_difference():
    class Res:
        ratio_name = "odds ratio"

    r = pd.Series({"ratio": 0.83, "ratio_low": 0.36, "ratio_high": 1.92})
    text = _plain("logistic:prison_post_365d", Res(), "treated", r, "LEAD", "comparison")
    assert "no clear difference" in text and "lower" not in text
    r = pd.Series({"ratio": 0.41, "ratio_low": 0.30, "ratio_high": 0.57})
    assert "59% lower odds" in _plain("logistic:arrest_post_182d", Res(), "treated", r, "LEAD", "c")
    row = {"outcome": "EMS calls", "difference": -0.1, "conf_low": -0.3, "conf_high": 0.1}
    assert "no clear difference" in _annual_sentence(row, "LEAD")
    row = {"outcome": "jail days", "difference": -38.26, "conf_low": -45.1, "conf_high": -31.0}
    assert _annual_sentence(row, "LEAD") == (
        "Jail days: 38.3 fewer per person-year for LEAD participants (95% CI 31.0 to 45.1 fewer)."
    )
