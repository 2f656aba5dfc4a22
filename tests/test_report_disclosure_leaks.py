"""The seven leaks of issue 11, rebuilt on a stress site, and the audit proving each protected.

Reference: planted data. A synthetic Seattle-profile site (150 participants, 900 pool members,
agency layout, the shipped Seattle config) with edits planted in its roster: 4 participants who
died 20 days before their index date, 4 participants and 3 pool members in a new, small area
('georgetown'); a rare count outcome (prison admissions within 12 months) is added to the rate
models, and the caliper leaves a handful of participants unmatched. For each leak the test first
shows the arithmetic works when the protecting step is left out (the audit recovers the count),
then that the report as written withholds it and the audit's interval for it covers [1, k - 1].
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from leadeval.cli import app
from leadeval.report import cells as C
from leadeval.report.audit import audit
from leadeval.report.disclosure import Disclosure, DisclosureProblem, protect, series_base
from leadeval.report.sections import SectionBuilder
from leadeval.report.writer import write_report
from leadeval.synth.writer import write_synthetic_site

ROOT = Path(__file__).resolve().parents[1]
K = 11
RARE = "count:prison_admissions_post_365d"
MEAN = "mean:prison_admissions_post_365d"  # its absolute effect (means per person-year)
#: Every test reads the stress site's report: one worker builds it (``--dist loadgroup``), in the
#: group of test_report_e2e's report readers (see tests/test_xdist_groups.py).
pytestmark = pytest.mark.xdist_group("reports")


@pytest.fixture(scope="module")
def stress(tmp_path_factory):
    """The stress site's config, its evaluation, declared problem and disclosure, and report."""
    out = tmp_path_factory.mktemp("stress")
    write_synthetic_site(
        "seattle", out, n_participants=150, n_pool=900, layout="agency", formats=["csv"]
    )
    roster = pd.read_csv(out / "roster.csv", dtype=str, keep_default_na=False)
    lead = roster.index[roster["Cohort"] == "LEAD"]
    pool = roster.index[roster["Cohort"] == "CTRL"]
    dead = lead[:4]
    ref = pd.to_datetime(roster.loc[dead, "ReferralDt"], format="%m/%d/%Y")
    roster.loc[dead, "DeathDt"] = (ref - pd.Timedelta(days=20)).dt.strftime("%m/%d/%Y")
    roster.loc[lead[10:14], "Neighborhood"] = "georgetown"
    roster.loc[pool[:3], "Neighborhood"] = "georgetown"
    roster.to_csv(out / "roster.csv", index=False)
    cfg = yaml.safe_load((ROOT / "configs" / "seattle.yaml").read_text())
    for src in cfg["extracts"].values():
        src["path"] = str(out / Path(src["path"]).name)
    cfg["models"]["counts"].append(
        {"outcome": "prison_admissions_post_365d", "exposure": "observed_days_post_365d"}
    )
    config = out / "stress.yaml"
    config.write_text(yaml.safe_dump(cfg))
    paths = write_report(config, out / "report")
    ev = paths.evaluation  # the evaluation the report was written from
    problem = C.declare(ev)
    return {"config": config, "ev": ev, "problem": problem, "paths": paths,
            "d": paths.disclosure, "bare": protect(problem, K, complementary=False)}


def _table(stress, name: str) -> pd.DataFrame:
    return pd.read_csv(stress["paths"].tables / f"{name}.csv", dtype=str, keep_default_na=False)


def _covers(d: Disclosure, key: str) -> None:
    lo, hi = d.audit.interval(key)
    assert lo <= 1 and hi >= K - 1, (key, lo, hi)


def test_the_stress_site_has_the_planted_small_cells(stress):
    """The planted counts are there (so the leak tests below cannot pass vacuously)."""
    p = stress["problem"]
    assert p.cells[C.flow_key("excluded", "died before index date", "lead")].value == 4
    assert 1 <= p.cells["unmatched/caliper"].value < K
    assert p.cells["cov/area[georgetown]/treated/before"].value == 4
    assert p.cells["cov/area[georgetown]/control/before"].value == 3
    ev = stress["ev"]
    split = C.arm_split(ev, ev.get(RARE))
    assert split is not None and min(split[a]["events"] for a in split) < K
    left = [c for c in p.cells if c.startswith("month/") and c.endswith("/left")]
    assert any(1 <= p.cells[c].value < K for c in left)


def test_leak_1_unmatched_participants(stress):
    """'caliper,*' next to 'included' and 'matched' counts: included - matched = unmatched. Without
    the complementary step the audit recovers it exactly; in the report as written one of the
    two is withheld and the audit proves the unmatched count covers [1, 10]."""
    bare, d = stress["bare"], stress["d"]
    n = stress["problem"].cells["unmatched/caliper"].value
    assert bare.audit.interval("unmatched/caliper") == (n, n)
    _covers(d, "unmatched/caliper")
    assert _table(stress, "unmatched").loc[0, "treated_units"] == "*"
    flow = _table(stress, "cohort_flow").set_index("step")
    one = _table(stress, "table_one").set_index("variable")
    included = flow.loc["included", "lead"]
    matched = one.loc["N", "treated_after"].split(" ")[0]
    assert "*" in (included, matched) or int(included) - int(matched) >= K


def test_leak_2_cohort_flow_exclusions(stress):
    """'died before index date: *' while roster and included are both printed: roster - included
    gives the deaths. Now roster or included is withheld too, in the table and the figure data."""
    key = C.flow_key("excluded", "died before index date", "lead")
    assert stress["bare"].audit.interval(key) == (4, 4)
    _covers(stress["d"], key)
    flow = _table(stress, "cohort_flow").set_index("reason")
    assert flow.loc["died before index date", "lead"] == "*"
    col = flow["lead"]
    roster, included = col.iloc[0], col.iloc[-1]
    assert "*" in (roster, included)


def test_leak_3_monthly_people_drops(stress):
    """People per month, printed exactly, give the people who left each month by subtraction
    (shown by auditing the same tables with exact people counts). Published rounded to a base of
    15, every small monthly drop keeps an interval covering [1, 10]; a month whose people equal a
    suppressed count (the cohort) is not printed (its rounding would give that count away)."""
    p, d = stress["problem"], stress["d"]
    exact = DisclosureProblem()
    exact.cells = {
        k: (dataclasses.replace(c, mode="printed", base=1) if k.endswith("/people") else c)
        for k, c in p.cells.items()
    }
    exact.relations, exact.derived = p.relations, p.derived
    leaky = audit(exact, dataclasses.replace(d, cells=exact.cells))
    small = [c for c in p.cells if c.endswith("/left") and 1 <= p.cells[c].value < K]
    assert any(c in leaky.violations for c in small)
    for c in small:
        _covers(d, c)
    people = _table(stress, "monthly_shares")["people"]
    printed = pd.to_numeric(people[people != "*"])
    assert len(printed) and (printed % series_base(K) == 0).all()
    # the months whose people equal the (suppressed) cohort count are not printed at all
    assert (people == "*").any() == stress["d"].is_hidden(C.flow_key("included", "", "lead"))


def test_leak_4_rate_times_person_years(stress):
    """A rate ratio resting on a small arm is withheld, and so are the absolute effect's means per
    person-year with and without LEAD, their difference and the sentence built from them (a mean
    rate x person-years would give the count)."""
    d = stress["d"]
    ev = stress["ev"]
    small_arm = [a for a, v in C.arm_split(ev, ev.get(MEAN)).items() if v["events"] < K]
    key = C.model_key(MEAN, f"events/{small_arm[0]}")
    terms = list(ev.get(MEAN).table["term"])
    published = dataclasses.replace(d, hidden=d.hidden - {C.est_key(MEAN, t) for t in terms})
    leaky = audit(stress["problem"], published)
    v = stress["problem"].cells[key].value
    assert leaky.interval(key) == (v, v)
    _covers(d, key)
    assert all(d.is_hidden(C.est_key(MEAN, t)) for t in terms)
    assert d.is_hidden(C.est_key(RARE, "treated"))
    rows = _table(stress, "count_effects")
    row = rows[rows["outcome"] == MEAN].iloc[0]
    assert (row[["mean_treated", "mean_control", "difference", "conf_low", "conf_high"]]
            == "*").all()
    assert (rows.loc[rows["outcome"] != MEAN, "difference"] != "*").all()  # the others print
    html = stress["paths"].html.read_text()
    assert "prison admissions, 12 months after:" not in html.lower()


def test_leak_5_categorical_level_by_subtraction(stress):
    """One hidden area in Table 1 while the other areas' shares and N are printed: 100% minus the
    rest. Without the step the audit recovers the 3 pool members; now it cannot."""
    key = "cov/area[georgetown]/control/before"
    assert stress["bare"].audit.interval(key) == (3, 3)
    _covers(stress["d"], key)
    one = _table(stress, "table_one")
    area = one[one["variable"] == "area"].set_index("level")
    n = one.loc[one["variable"] == "N", "control_before"].iloc[0]
    col = area["control_before"]
    assert col["georgetown"] == "*"
    assert (col == "*").sum() >= 2 or n == "*"


def test_leak_6_balance_before_means_and_love_plot(stress):
    """balance.csv 'before' means x N gave the small area's counts exactly; now they, and the
    SMDs the love plot draws, are withheld."""
    bal = _table(stress, "balance").set_index("variable")
    row = bal.loc["area[georgetown]"]
    assert (row[["mean_treated_before", "mean_control_before", "smd_before"]] == "*").all()
    builder = SectionBuilder(stress["ev"], stress["d"])
    m = stress["ev"].matched
    _, shown = builder._balance_shown(m.balance().to_frame(), m.balance())
    t = shown.to_frame().set_index("variable")
    assert np.isnan(t.loc["area[georgetown]", "smd_before"])
    assert np.isfinite(t.loc["age_at_index", "smd_after"])


def test_leak_7_at_risk_says_fewer_than_k_and_rare_states_are_not_drawn(stress):
    """The at-risk table under the KM curves says '<11' (not 0) where 1-10 remain; a competing
    event with fewer than 11 events in a group (deaths here) is not drawn."""
    d, p = stress["d"], stress["problem"]
    at_risk = [c for c in p.cells if c.startswith("atrisk/")]
    small = [c for c in at_risk if 1 <= p.cells[c].value < K]
    assert small and all(d.show(c) == f"<{K}" for c in small)
    assert all(isinstance(d.show(c), int) for c in at_risk if p.cells[c].value >= K)
    rare = [c for c in p.cells if c.startswith("aj/") and 1 <= p.cells[c].value < K]
    assert rare
    for c in rare:
        _, g, state = c.split("/")
        assert d.is_hidden(C.aj_key(g, state))


def test_report_passes_the_audit_and_says_so(stress):
    """Manifest and methods carry the audit's summary; every small count is covered."""
    d = stress["d"]
    assert d.audit.passed and d.primary
    manifest = json.loads(stress["paths"].manifest.read_text())
    assert manifest["disclosure"]["passed"] is True
    assert manifest["disclosure"]["summary"] in stress["paths"].html.read_text()
    f = d.audit.intervals
    small = f[f["primary"]]
    assert ((small["lower"] <= 1) & (small["upper"] >= K - 1)).all()


def test_without_complementary_suppression_the_report_is_not_written(stress, tmp_path,
                                                                     monkeypatch):
    """The audit can fail: with the complementary step removed, `leadeval report` exits 2 with
    the audit's message and leaves no output folder behind. The run loads the stress site's
    extracts and then takes the evaluation the fixture made from the same config (the same
    numbers, not recomputed: the disclosure step, under test here, is what fails)."""
    import leadeval.report.writer as writer

    def same_evaluation(cfg, **_kwargs):
        assert cfg.site == stress["ev"].config.site and cfg.seed == stress["ev"].config.seed
        return stress["ev"]

    monkeypatch.setattr(writer, "evaluate", same_evaluation)
    monkeypatch.setattr(
        writer, "protect", lambda problem, k: protect(problem, k, complementary=False)
    )
    out = tmp_path / "never"
    result = CliRunner().invoke(app, ["report", str(stress["config"]), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "disclosure audit failed" in result.output and not out.exists()


def test_a_low_threshold_needs_allow_small_cells_and_is_stamped(stress, tmp_path):
    """small_cell_threshold 5 without allow_small_cells is a config error (exit 2); with it, the
    warning is on the page, on every table and in the manifest."""
    data = yaml.safe_load(stress["config"].read_text())
    data["report"]["small_cell_threshold"] = 5
    config = tmp_path / "low.yaml"
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "allow_small_cells" in result.output
    data["report"]["allow_small_cells"] = True
    config.write_text(yaml.safe_dump(data))
    p = write_report(config, tmp_path / "b")
    html = p.html.read_text()
    n_tables = len(re.findall(r"<table>", html))
    assert html.count("small-cell threshold 5") >= n_tables + 1
    assert "small-cell threshold 5" in json.loads(p.manifest.read_text())["warning"]
