"""Quarterly program monitoring (leadeval.monitor, leadeval.report.monitor_page, `leadeval monitor`).

Reference: a plain pandas computation, quarter by quarter and area by area with boolean filters
written from the definitions in docs/monitoring.md, on a random synthetic site (santa_fe profile,
seed drawn once and fixed below); the shipped configs through the CLI; suppression invariants."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadeval.cli import app
from leadeval.config import MonitorConfig
from leadeval.extracts import Extracts
from leadeval.monitor import ALL_AREAS, PEOPLE_COUNTS, program_figures
from leadeval.report.monitor_page import monitor_disclosure, publish_monitor
from leadeval.report.suppression import SUPPRESSED
from leadeval.synth import generate_site

ROOT = Path(__file__).resolve().parents[1]
SEED = 731  # drawn once with numpy.random.default_rng().integers(1000)


@pytest.fixture(scope="module")
def site():
    s = generate_site("santa_fe", n_participants=220, n_pool=200, seed=SEED)
    frames = {}
    for name, frame in s.extracts.items():
        frame = frame.copy()
        if "month" in frame.columns:
            frame["month"] = pd.to_datetime(frame["month"]).dt.strftime("%Y-%m")
        frames[name] = frame
    ex = Extracts.from_frames(frames, data_end_date=s.data_end_date)
    roster, contacts, ledger = (ex.to_pandas(n) for n in ("roster", "contacts", "program_ledger"))
    res = program_figures(roster, contacts, ledger, s.data_end_date)
    return s, roster, contacts, ledger, res


def plain_pandas(roster, contacts, ledger, data_end, quarters):
    """The definitions, one quarter and one area at a time."""
    lead = roster[roster["group"] == "lead"].copy()
    lead["area"] = lead["area"].fillna("unknown")
    c = contacts.merge(lead[["person_id", "area"]], on="person_id", how="left")
    rows = []
    for q in quarters:
        qs, qe = q.start_time.normalize(), min(q.end_time.normalize(), pd.Timestamp(data_end))
        for area in [*sorted(lead["area"].unique()), ALL_AREAS]:
            r = lead if area == ALL_AREAS else lead[lead["area"] == area]
            cc = c if area == ALL_AREAS else c[c["area"] == area]

            def inq(s, qs=qs, qe=qe):
                return (s >= qs) & (s <= qe)

            enrolled = (r["enrollment_date"] <= qe) & (
                r["exit_date"].isna() | (r["exit_date"] > qe)) & (
                r["death_date"].isna() | (r["death_date"] > qe))
            cq = cc[inq(cc["contact_date"])]
            rows.append({
                "quarter": str(q), "area": area,
                "referrals": int(inq(r["referral_date"]).sum()),
                "enrolments": int(inq(r["enrollment_date"]).sum()),
                "enrolled_end": int(enrolled.sum()),
                "exits": int(inq(r["exit_date"]).sum()),
                "substantive_meetings": int(cq["substantive"].sum()),
                "people_met": int(cq.loc[cq["substantive"], "person_id"].nunique()),
                "contacts": len(cq),
                "people_contacted": int(cq["person_id"].nunique()),
            })
    months = ledger.assign(q=pd.to_datetime(ledger["month"]).dt.to_period("Q"))
    spend = months.groupby("q")["amount"].sum()
    return pd.DataFrame(rows), spend


def test_monitor_counts_match_a_plain_pandas_computation(site):
    """Enrolled at quarter end, substantive meetings, referrals (and enrolments, exits, contacts,
    distinct clients) per quarter and area equal the plain pandas computation; spending per
    quarter equals the ledger's sum."""
    s, roster, contacts, ledger, res = site
    ref, spend = plain_pandas(roster, contacts, ledger, s.data_end_date, res.quarters)
    got = res.to_frame().set_index(["quarter", "area"])
    exp = ref.set_index(["quarter", "area"])
    cols = list(exp.columns)
    pd.testing.assert_frame_equal(got.loc[exp.index, cols].astype(int), exp[cols], check_dtype=False)
    assert exp["enrolled_end"].sum() > 100 and exp["substantive_meetings"].sum() > 100
    site_t = res.site_frame().set_index("quarter")["spending"]
    for q, v in spend.items():
        if str(q) in site_t.index:
            assert site_t[str(q)] == pytest.approx(v)


def test_median_days_to_first_contact(site):
    """Plain pandas: per referral quarter, median of (first contact - referral) in days, first
    contact = roster first_contact_date, else the earliest contact on or after referral."""
    s, roster, contacts, ledger, res = site
    lead = roster[roster["group"] == "lead"].copy()
    c = contacts.merge(lead[["person_id", "referral_date"]], on="person_id")
    earliest = c[c["contact_date"] >= c["referral_date"]].groupby("person_id")["contact_date"].min()
    fc = lead["first_contact_date"].fillna(lead["person_id"].map(earliest))
    days = (fc - lead["referral_date"]).dt.days
    q = lead["referral_date"].dt.to_period("Q").astype(str)
    exp = days[days >= 0].groupby(q[days >= 0]).median()
    got = res.to_frame()
    got = got[got["area"] == ALL_AREAS].set_index("quarter")["median_days_to_first_contact"]
    for quarter, v in exp.items():
        assert got[quarter] == pytest.approx(v)


def test_areas_add_up_and_published_cells_are_protected(site):
    """Counts of people: areas add up to 'all areas'; published: every cell 0, >= k or '*', no
    quarter with exactly one suppressed area cell (complementary), derived cells hidden with
    their clients."""
    s, roster, contacts, ledger, res = site
    full = res.to_frame()
    for col in PEOPLE_COUNTS:
        tot = full[full["area"] == ALL_AREAS].set_index("quarter")[col]
        parts = full[full["area"] != ALL_AREAS].groupby("quarter")[col].sum()
        assert (tot == parts.loc[tot.index]).all(), col
    shown, _site = publish_monitor(res, k=11)
    for col in PEOPLE_COUNTS:
        v = shown[col]
        num = pd.to_numeric(v, errors="coerce")
        assert ((v == SUPPRESSED) | (num == 0) | (num >= 11)).all(), col
        per_q = (v == SUPPRESSED).groupby(shown["quarter"]).sum()
        assert not (per_q == 1).any(), col
    for col, base in (("substantive_meetings", "people_met"), ("contacts", "people_contacted"),
                      ("median_days_to_first_contact", "first_contacts")):
        assert (shown.loc[shown[base] == SUPPRESSED, col] == SUPPRESSED).all()
    assert (shown[list(PEOPLE_COUNTS)] == SUPPRESSED).to_numpy().any()  # small areas exist here
    d = monitor_disclosure(res, 11)  # the report's disclosure step and audit, on the page too
    assert d.audit.passed
    f = d.audit.intervals
    small = f[f["primary"]]
    assert len(small) and ((small["lower"] <= 1) & (small["upper"] >= 10)).all()


def test_fiscal_quarters_and_area_mapping():
    roster = pd.DataFrame({
        "person_id": ["a", "b", "c"], "group": ["lead"] * 3,
        "referral_date": pd.to_datetime(["2020-07-02", "2020-09-30", "2020-10-01"]),
        "enrollment_date": pd.to_datetime(["2020-07-05", None, "2020-10-03"]),
        "area": ["north", "south", "south"]})
    res = program_figures(roster, None, None, pd.Timestamp("2020-12-31").date(),
                          MonitorConfig(quarter_start_month=7, areas={"north": "n+s", "south": "n+s"}))
    t = res.to_frame().set_index(["quarter", "area"])
    assert list(res.areas) == ["n+s"]
    assert t.loc[("2021Q1", ALL_AREAS), "referrals"] == 2  # FY2021 Q1 = Jul-Sep 2020
    assert t.loc[("2021Q2", "n+s"), "enrolled_end"] == 2


runner = CliRunner()


@pytest.mark.parametrize("site_name", ["seattle", "santa_fe", "longmont"])
def test_cli_monitor_writes_every_quarter_of_the_shipped_samples(site_name, tmp_path):
    """`leadeval monitor configs/<site>.yaml`: a self-contained page (SVG charts, a table per
    area, no network), CSVs for every table shown plus the tidy one, a manifest naming them."""
    out = tmp_path / site_name
    r = runner.invoke(app, ["monitor", str(ROOT / "configs" / f"{site_name}.yaml"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "monitor.html").read_text()
    assert html.count("<svg") >= 2 and "<script src" not in html
    manifest = json.loads((out / "manifest.json").read_text())
    written = {f.name for f in (out / "tables").glob("*.csv")}
    assert set(manifest["tables"]) == written and "monitor_by_area.csv" in written
    assert set(manifest["inputs"]) <= {"roster", "contacts", "program_ledger"}
    tidy = pd.read_csv(out / "tables" / "monitor_by_area.csv", dtype=str)
    first, last = manifest["period"]["from"], manifest["period"]["to"]
    q = pd.period_range(first, last, freq="Q").astype(str)
    assert list(dict.fromkeys(tidy["quarter"])) == list(q)
    for col in PEOPLE_COUNTS:
        v = tidy[col].dropna()
        assert ((v == SUPPRESSED) | (pd.to_numeric(v, errors="coerce") == 0)
                | (pd.to_numeric(v, errors="coerce") >= 11)).all()


def test_cli_monitor_period_is_reproducible(tmp_path):
    """--period gives one quarter's tables; a rerun gives byte-identical tables and page."""
    cfg = str(ROOT / "configs" / "seattle.yaml")
    for name in ("a", "b"):
        r = runner.invoke(app, ["monitor", cfg, "--period", "2013Q2", "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    tidy = pd.read_csv(tmp_path / "a" / "tables" / "monitor_by_area.csv", dtype=str)
    assert set(tidy["quarter"]) == {"2013Q2"}
    for f in (tmp_path / "a" / "tables").glob("*.csv"):
        assert f.read_bytes() == (tmp_path / "b" / "tables" / f.name).read_bytes()
    assert (tmp_path / "a" / "monitor.html").read_bytes() == (tmp_path / "b" / "monitor.html").read_bytes()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--period", "2030Q1"], "after the data end"),
        (["--period", "13Q1"], "is not a quarter"),
        (["--from", "2014Q1", "--to", "2013Q1"], "is after --to"),
        (["--period", "2013Q1", "--from", "2013Q1"], "either --period or --from/--to"),
        (["--from", "2001Q1"], "before the first referral"),
    ],
)
def test_cli_monitor_user_errors_exit_2(args, message, tmp_path):
    r = runner.invoke(app, ["monitor", str(ROOT / "configs" / "seattle.yaml"), *args,
                            "--out", str(tmp_path)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output


def test_cli_monitor_missing_config_exits_2(tmp_path):
    r = runner.invoke(app, ["monitor", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and "config file not found" in r.output
