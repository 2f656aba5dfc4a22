"""End to end: `leadeval report` on the three shipped site configs.

References: the synthetic generator's truth table (each participant's potential outcomes with and
without LEAD, ``data_samples/<site>/truth.csv``) and its planted effects (``effects.json``): the
report's confidence intervals must cover the truth of the very sample they were estimated on.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from leadeval import load_config
from leadeval.cli import app
from leadeval.report.writer import write_report

ROOT = Path(__file__).resolve().parents[1]
SITES = ("seattle", "santa_fe", "longmont")
#: The tests that read the three shipped reports run on one xdist worker (``--dist loadgroup``),
#: so the reports are built once, not on both workers; the rest of the module is spread as usual.
REPORTS = pytest.mark.xdist_group("reports")


@pytest.fixture(scope="module")
def reports(shipped_reports):
    """The three shipped sites' reports (tests/conftest.py's ``shipped_reports``)."""
    return {site: shipped_reports[site] for site in SITES}


def truth(site: str) -> pd.DataFrame:
    return pd.read_csv(ROOT / "data_samples" / site / "truth.csv", dtype={"person_id": str})


def sample_odds_ratio(t: pd.DataFrame, outcome: str) -> float:
    """Odds ratio of P(Y(1)=1) vs P(Y(0)=1) among participants whose window is complete."""
    y1, y0 = t[f"{outcome}_y1"].dropna(), t[f"{outcome}_y0"].dropna()
    p1, p0 = y1.mean(), y0.mean()
    return (p1 / (1 - p1)) / (p0 / (1 - p0))


def estimate(paths, key: str, term: str) -> pd.Series:
    res = paths.evaluation.get(key)
    assert res is not None, f"{key} not estimated: {paths.evaluation.skipped}"
    return res.term(term)


def matched_participants(paths) -> set[str]:
    d = paths.evaluation.matched.data
    return set(d.loc[d["treated"] == 1, "person_id"])


@REPORTS
@pytest.mark.parametrize(
    "outcome", ["arrest_post_182d", "arrest_post_all", "felony_charge_post_365d"]
)
def test_seattle_odds_ratios_cover_the_sample_truth(reports, outcome):
    """Seattle design (Collins et al. 2017): matched logistic ORs cover the truth-table OR of the
    matched participants (planted 0.40 at 6 months, 0.42 long term, 0.61 felony charges)."""
    p = reports["seattle"]
    t = truth("seattle")
    true_or = sample_odds_ratio(t[t["person_id"].isin(matched_participants(p))], outcome)
    r = estimate(p, f"logistic:{outcome}", "treated")
    assert r["ratio_low"] < true_or < r["ratio_high"], (outcome, true_or, r.to_dict())


@REPORTS
def test_seattle_bookings_rate_ratio_covers_the_sample_truth(reports):
    """Jail bookings per year (Collins et al. 2019): the negative binomial rate ratio covers the
    truth-table ratio of mean bookings with vs without LEAD among matched participants."""
    p = reports["seattle"]
    t = truth("seattle")
    t = t[t["person_id"].isin(matched_participants(p))]
    true_rr = t["bookings_post_365d_y1"].sum() / t["bookings_post_365d_y0"].sum()
    r = estimate(p, "count:bookings_post_365d", "treated")
    assert r["ratio_low"] < true_rr < r["ratio_high"]


@REPORTS
def test_seattle_housing_odds_rise_as_planted(reports):
    """Clifasefi et al. 2017 design: sheltered and permanent housing odds vs the baseline month
    (planted: about 2 and 1.89) are above 1 with CIs covering the planted values by month 12."""
    p = reports["seattle"]
    effects = json.loads((ROOT / "data_samples" / "seattle" / "effects.json").read_text())
    for outcome, key in (("sheltered", "sheltered_or"), ("permanent_housing", "permanent_or")):
        planted = _find(effects, key)
        r = estimate(p, f"panel:{outcome}", "month=12")
        assert r["ratio_low"] < planted < r["ratio_high"], (outcome, planted, r.to_dict())


@REPORTS
def test_santa_fe_six_month_arrest_and_ems_cover_the_truth(reports):
    """Santa Fe: the 6-month arrest OR and the EMS-call rate ratio cover the sample truth."""
    p = reports["santa_fe"]
    t = truth("santa_fe")
    t = t[t["person_id"].isin(matched_participants(p))]
    r = estimate(p, "logistic:arrest_post_182d", "treated")
    true_or = sample_odds_ratio(t, "arrest_post_182d")
    assert r["ratio_low"] < true_or < r["ratio_high"]
    true_rr = t["ems_calls_post_365d_y1"].sum() / t["ems_calls_post_365d_y0"].sum()
    r = estimate(p, "count:ems_calls_post_365d", "treated")
    assert r["ratio_low"] < true_rr < r["ratio_high"]


@REPORTS
def test_longmont_within_person_effects_cover_the_planted_ones(reports):
    """Longmont: within-person arrest rate ratio after first contact (planted 0.5) and per
    contact (planted 0.8) are covered by their CIs."""
    p = reports["longmont"]
    effects = json.loads((ROOT / "data_samples" / "longmont" / "effects.json").read_text())
    post = estimate(p, "within_person", "post")
    assert post["ratio_low"] < _find(effects, "arrest_rr_after") < post["ratio_high"]
    dose = estimate(p, "within_person_dose", "contacts")
    assert dose["ratio_low"] < _find(effects, "arrest_rr_per_contact") < dose["ratio_high"]
    assert p.evaluation.matched is None  # no comparison group in a within-person design


def _find(mapping: dict, key: str) -> float:
    """A planted effect by key, wherever effects.json nests it."""
    stack = [mapping]
    while stack:
        d = stack.pop()
        for k, v in d.items():
            if k == key and isinstance(v, int | float):
                return float(v)
            if isinstance(v, dict):
                stack.append(v)
    raise KeyError(f"{key} not in effects.json: {sorted(mapping)}")


@REPORTS
@pytest.mark.parametrize("site", SITES)
def test_report_files_and_sections(reports, site):
    """Every site gets one self-contained HTML file (SVG figures, no external links), a CSV of
    every table shown, and a manifest naming inputs, versions, seed and config hash."""
    p = reports[site]
    html = p.html.read_text()
    assert html.count("<svg") >= 2 and "<script src" not in html and "http" not in _no_svg(html)
    matched = load_config(ROOT / "configs" / f"{site}.yaml").design.comparison
    for section in (
        "summary",
        "data-quality",
        "cohort-flow",
        *(("balance", "rearrest") if matched else ()),
        "costs",
        "sensitivity",
        "equity",
        "methods",
    ):
        assert f'id="{section}"' in html
    shown = set(re.findall(r"tables/([a-z0-9_]+)\.csv", html))
    written = {f.stem for f in p.tables.glob("*.csv")}
    assert shown == written and "data_quality" in written and "cohort_flow" in written
    manifest = json.loads(p.manifest.read_text())
    assert manifest["seed"] == load_config(ROOT / "configs" / f"{site}.yaml").seed
    assert set(manifest["inputs"]) == set(load_config(ROOT / "configs" / f"{site}.yaml").extracts)
    assert {"leadeval", "statsmodels", "duckdb"} <= set(manifest["versions"])
    assert set(manifest["tables"]) == {f"{s}.csv" for s in written}


def _no_svg(html: str) -> str:
    # SVG carries its XML namespace URL; anything else with http would need the network.
    return re.sub(r"<svg.*?</svg>", "", html, flags=re.S)


def identifier_pattern(ev) -> re.Pattern:
    """Every person id, arrest, charge, booking and call id, and every birth date (ISO and the
    agency's m/d/Y) of a site's extracts, as one regular expression."""
    ex = ev.extracts
    values = set(ex.to_pandas("roster")["person_id"].astype(str))
    for name, col in (("arrests", "arrest_id"), ("charges", "charge_id"), ("jail", "booking_id"),
                      ("ems", "call_id")):
        if name in ex:
            values |= set(ex.to_pandas(name)[col].dropna().astype(str))
    births = pd.to_datetime(ex.to_pandas("roster").get("birth_date"), errors="coerce").dropna()
    values |= set(births.dt.strftime("%Y-%m-%d")) | set(births.dt.strftime("%m/%d/%Y"))
    return re.compile(_literal_pattern(values))


def _literal_pattern(words: set[str]) -> str:
    """A regular expression matching exactly the given literal strings, factored by their
    prefixes (a trie): ``re`` follows one branch per character, where the plain alternation of
    ~10^4 ids tried every id at every position of a report (130 s for Seattle's files)."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if "" in node else "")

    return emit(trie)


@REPORTS
@pytest.mark.parametrize("site", SITES)
def test_no_identifier_or_birth_date_in_any_report_file(reports, site):
    """Privacy: no roster person_id, arrest/charge/booking/call id or birth date appears in the
    HTML, any table or the manifest."""
    p = reports[site]
    pattern = identifier_pattern(p.evaluation)
    assert pattern.search("x" + p.evaluation.extracts.to_pandas("roster")["person_id"].iloc[0])
    for f in [p.html, p.manifest, *p.tables.glob("*.csv")]:
        hit = pattern.search(f.read_text())
        assert not hit, (f.name, hit and hit.group(0))
    assert p.restricted is None and not (p.folder / "restricted").exists()


@REPORTS
@pytest.mark.parametrize("site", SITES)
def test_shipped_reports_pass_the_disclosure_audit(reports, site):
    """Every shipped report passes the audit; its summary is in the manifest and the methods
    section, and every small count's derivable interval covers [1, k - 1]."""
    p = reports[site]
    d = p.disclosure
    assert d.audit.passed
    manifest = json.loads(p.manifest.read_text())
    assert manifest["disclosure"]["passed"] and manifest["disclosure"]["threshold"] == 11
    assert manifest["disclosure"]["summary"] in p.html.read_text()
    f = d.audit.intervals
    small = f[f["primary"]]
    assert ((small["lower"] <= 1) & (small["upper"] >= 10)).all()
    for key, cell in d.cells.items():  # no printed count of 1-10 people survives
        if cell.mode == "printed" and 1 <= cell.value <= 10:
            assert key in d.suppressed and d.show(key) == "*", key


def _reproducible_copy(tmp_path: Path, site: str, shuffle_seed: int | None) -> Path:
    """The site's config and CSV extracts copied under tmp_path, rows optionally shuffled."""
    (tmp_path / "configs").mkdir(parents=True)
    data = tmp_path / "data_samples" / site
    data.mkdir(parents=True)
    for f in (ROOT / "data_samples" / site).glob("*.csv"):
        if shuffle_seed is None:
            shutil.copy(f, data / f.name)
        else:
            frame = pd.read_csv(f, dtype=str, keep_default_na=False)
            frame.sample(frac=1, random_state=shuffle_seed).to_csv(data / f.name, index=False)
    shutil.copy(ROOT / "configs" / f"{site}.yaml", tmp_path / "configs" / f"{site}.yaml")
    return tmp_path / "configs" / f"{site}.yaml"


def _table_bytes(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted((folder / "tables").glob("*.csv"))}


@REPORTS
def test_same_config_and_seed_give_byte_identical_outputs(reports, tmp_path):
    """Reproducible: a rerun gives byte-identical tables, HTML and manifest (apart from run time)."""
    first = reports["santa_fe"]
    again = write_report(ROOT / "configs" / "santa_fe.yaml", tmp_path / "again")
    assert _table_bytes(first.folder) == _table_bytes(again.folder)
    assert first.html.read_bytes() == again.html.read_bytes()
    m1, m2 = (json.loads(p.manifest.read_text()) for p in (first, again))
    m1.pop("run"), m2.pop("run")
    assert m1 == m2


@REPORTS
def test_shuffled_input_rows_change_nothing(reports, tmp_path):
    """Row-order invariance: every extract's rows shuffled -> byte-identical tables."""
    config = _reproducible_copy(tmp_path, "santa_fe", shuffle_seed=7)
    shuffled = write_report(config, tmp_path / "out")
    assert _table_bytes(reports["santa_fe"].folder) == _table_bytes(shuffled.folder)


def test_small_cells_are_suppressed_everywhere(tmp_path):
    """With a threshold of 400 people (more than any group here), every count of people below it
    is suppressed in every table, and so is every estimate resting on fewer events."""
    config = _reproducible_copy(tmp_path, "longmont", shuffle_seed=None)
    data = yaml.safe_load(config.read_text())
    data["report"]["small_cell_threshold"] = 400
    config.write_text(yaml.safe_dump(data))
    p = write_report(config, tmp_path / "out")
    flow = pd.read_csv(p.tables / "cohort_flow.csv", dtype=str)
    counts = flow.drop(columns=["step", "reason"]).to_numpy().ravel()
    assert all(c == "*" or c == "0" or int(c) >= 400 for c in counts), counts
    est = pd.read_csv(p.tables / "within_person.csv", dtype=str)
    n = pd.to_numeric(est["n"], errors="coerce")
    assert ((n >= 400) | est["n"].eq("*")).all()
    html = p.html.read_text()
    assert "fewer than 400 people are suppressed" in html


@pytest.mark.xdist_group("longmont_run")
def test_restricted_outputs_only_on_request(longmont_run):
    """Person-level files are written only with --restricted, into restricted/. On the shared
    ``leadeval report configs/longmont.yaml --restricted`` run (conftest's ``longmont_run``)."""
    result = longmont_run.result
    assert result.exit_code == 0, result.output
    persons = pd.read_csv(longmont_run.out / "restricted" / "persons.csv")
    assert "person_id" in persons and len(persons) > 0
    assert "Report:" in result.output and "key findings" in result.output
    flat = " ".join(result.output.split())
    assert "Extract rows quarantined: 0; censored at the data end: 0" in flat


@pytest.mark.parametrize(
    "args, message",
    [
        (["report", "no/such/config.yaml"], "config file not found"),
        (["report", "{config}", "--format", "docx"], "unknown report format"),
    ],
)
def test_cli_user_errors_exit_2(args, message, tmp_path):
    """User errors exit with code 2 and a message, never a traceback."""
    args = [a.replace("{config}", str(ROOT / "configs" / "longmont.yaml")) for a in args]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_missing_extract_and_no_overlap_exit_2(tmp_path):
    """A missing extract file, and a design with no overlap between the groups, are user errors
    (exit 2, named file / reason)."""
    config = _reproducible_copy(tmp_path, "santa_fe", shuffle_seed=None)
    (config.parents[1] / "data_samples" / "santa_fe" / "ems.csv").unlink()
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "ems.csv" in result.output

    shutil.copy(
        ROOT / "data_samples" / "santa_fe" / "ems.csv",
        config.parents[1] / "data_samples" / "santa_fe",
    )
    data = yaml.safe_load(config.read_text())
    data["matching"]["covariates"] = ["treated"]  # the score separates the groups perfectly
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "MatchingError" in result.output, result.output


def test_report_exits_2_where_validate_fails(tmp_path):
    """`leadeval report` loads like `leadeval validate`: a duplicated roster person_id, or a
    date_format that matches none of an extract's dates, stops it with exit 2 and the cause."""
    config = _reproducible_copy(tmp_path / "a", "santa_fe", shuffle_seed=None)
    roster_csv = config.parents[1] / "data_samples" / "santa_fe" / "roster.csv"
    lines = roster_csv.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[9] = "elsewhere"  # the same person_id with another area
    roster_csv.write_text("".join([*lines, ",".join(fields)]))
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "o")])
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and "on two or more different roster rows" in flat, flat
    assert "Traceback" not in result.output

    config = _reproducible_copy(tmp_path / "b", "seattle", shuffle_seed=None)
    data = yaml.safe_load(config.read_text())
    data["extracts"]["arrests"]["date_format"] = "%d.%m.%Y"  # the agency writes 03/04/2012
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "o")])
    flat = " ".join(result.output.split())
    assert result.exit_code == 2 and "the date_format '%d.%m.%Y' matched none of" in flat, flat


@pytest.mark.xdist_group("longmont_run")
def test_pdf_report(longmont_run):
    """--format pdf writes a PDF of the same report (WeasyPrint). On the shared Longmont run
    (conftest's ``longmont_run``: ``--format html,pdf`` wherever WeasyPrint imports)."""
    pytest.importorskip("weasyprint", reason="PDF output is the optional leadeval[pdf] extra")
    assert longmont_run.result.exit_code == 0, longmont_run.result.output
    p = longmont_run.paths
    assert p.pdf is not None, "the shared Longmont run wrote no PDF"
    assert p.pdf.read_bytes()[:5] == b"%PDF-" and p.pdf.stat().st_size > 10_000
    from leadeval.report.manifest import sha256_file

    outputs = json.loads(p.manifest.read_text())["outputs"]
    assert outputs["report.pdf"] == sha256_file(p.pdf)  # the manifest hashes the PDF too
    assert outputs["report.html"] == sha256_file(p.html)
    if shutil.which("pdftotext"):  # the identifier scan covers the PDF's text too
        import subprocess

        text = subprocess.run(
            ["pdftotext", str(p.pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "Disclosure control" in text
        assert not identifier_pattern(p.evaluation).search(text)
    assert np.isfinite(p.evaluation.get("within_person").term("post")["ratio"])


@pytest.mark.xdist_group("santa_fe_without_ems")
def test_site_without_an_extract_skips_its_outcomes_and_says_so(santa_fe_without_ems):
    """A site may lack an extract: the analyses that need it are listed as not estimated, with
    the missing column, in the report's methods section; everything else still runs. On the
    shared run of configs/santa_fe.yaml without its EMS extract (conftest's
    ``santa_fe_without_ems``, also read by test_report_cli)."""
    assert santa_fe_without_ems.result.exit_code == 0, santa_fe_without_ems.result.output
    p = santa_fe_without_ems.paths
    skipped = p.evaluation.skipped.set_index("analysis")["reason"]
    assert "ems_calls_post_365d" in skipped["count:ems_calls_post_365d"]
    assert "did:ems_calls_post_365d" in skipped.index
    assert p.evaluation.get("logistic:arrest_post_182d") is not None
    not_estimated = pd.read_csv(p.tables / "not_estimated.csv")
    assert "count:ems_calls_post_365d" in set(not_estimated["analysis"])


def _cohort_names(paths) -> set[str]:
    co = paths.evaluation.cohort
    return {c for c in [*co.persons.columns, *co.panel.columns] if "_" in c}


@REPORTS
@pytest.mark.parametrize("site", SITES)
def test_no_raw_cohort_column_names_outside_the_methods_appendix(reports, site):
    """Readers see plain labels: no snake_case cohort column name (``days_to_arrest``,
    ``area_south_seattle``...) in the HTML, tables and figures included, outside Methods."""
    html = reports[site].html.read_text()
    start = html.index('<section id="methods">')
    body = html[:start] + html[html.index("</section>", start) :]
    words = set(re.findall(r"[A-Za-z0-9_]+", body))  # a name standing alone is one of these
    found = {
        n
        for n in _cohort_names(reports[site])
        if (n in words if re.fullmatch(r"[A-Za-z0-9_]+", n)
            else re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", body))
    }
    assert not found, sorted(found)
    assert "days_to_arrest" in " ".join(_cohort_names(reports[site])) or site == "longmont"


@REPORTS
def test_tables_keep_machine_names_with_a_label_column(reports):
    """tables/*.csv keep the machine names (for code) and add <column>_label (for people)."""
    t = pd.read_csv(reports["seattle"].tables / "rearrest_logistic.csv")
    assert list(t.columns[:4]) == ["outcome", "outcome_label", "term", "term_label"]
    row = t.set_index("outcome").loc["logistic:arrest_post_182d"]
    assert row["outcome_label"] == "any arrest within 6 months"
    bal = pd.read_csv(reports["seattle"].tables / "balance.csv")
    assert "area[south_seattle]" in set(bal["variable"])
    assert "area: south seattle" in set(bal["variable_label"])


@REPORTS
def test_seattle_absolute_effect_covers_the_sample_truth(reports):
    """Reference: the truth table's potential outcomes of the matched participants. The
    g-computation risk difference (ATT) at 6 months covers mean Y(1) - mean Y(0)."""
    p = reports["seattle"]
    t = truth("seattle")
    t = t[t["person_id"].isin(matched_participants(p))]
    both = t[["arrest_post_182d_y1", "arrest_post_182d_y0"]].dropna()
    true_rd = both["arrest_post_182d_y1"].mean() - both["arrest_post_182d_y0"].mean()
    r = p.evaluation.get("effect:arrest_post_182d").term("risk_difference")
    assert r["conf_low"] < true_rd < r["conf_high"], (true_rd, r.to_dict())
    assert r["conf_high"] < 0  # a planted reduction, clearly detected


@REPORTS
def test_within_person_report_leaves_out_what_the_design_lacks(reports):
    """Longmont (within-person): no balance, re-arrest, prison or rates sections, a flow of
    participants only, and limitations that name regression to the mean and secular trends."""
    html = reports["longmont"].html.read_text()
    for key in ("balance", "rearrest", "prison", "rates"):
        assert f'<section id="{key}">' not in html
    assert "Not part of this site" not in html
    flow = pd.read_csv(reports["longmont"].tables / "cohort_flow.csv")
    assert "pool" not in flow.columns and "lead" in flow.columns
    assert "regression to the mean" in html and "secular trends" in html
    assert "This is a change, not an effect" in html


@REPORTS
def test_ph_violation_is_said_with_an_rmst_difference(reports):
    """Where the PH test rejects (Seattle, p = 0.011), the summary says so and gives the RMST
    difference computed by the evaluation (not a canned sentence)."""
    ev = reports["seattle"].evaluation
    p = ev.get("cox:days_to_arrest").details["ph_test"].loc["GLOBAL", "p_value"]
    assert p < 0.05
    rm = ev.get("rmst:days_to_arrest")
    html = reports["seattle"].html.read_text()
    summary = html[: html.index('<section id="data-quality">')]
    assert "proportional-hazards test rejects" in summary
    assert f"{abs(rm.difference):.0f} more days without re-arrest" in summary


def _section(html: str, key: str) -> str:
    start = html.index(f'<section id="{key}">')
    return html[start : html.index("</section>", start)]


@REPORTS
@pytest.mark.parametrize("outcome", ["jail_days_post_365d", "bookings_post_365d"])
def test_seattle_count_effects_cover_the_sample_truth(reports, outcome):
    """Reference: the truth table's potential outcomes of the matched participants. The rates
    section's absolute effect (``mean:``, g-computation on the matched sample) per person-year
    covers 365 x (sum Y(1) - sum Y(0)) / days observed, and the table prints that result's
    numbers (2 decimals) and nothing from another code path."""
    p = reports["seattle"]
    t = truth("seattle")
    t = t[t["person_id"].isin(matched_participants(p))]
    days = t["days_post_365d"].sum()
    true_diff = 365 * (t[f"{outcome}_y1"].sum() - t[f"{outcome}_y0"].sum()) / days
    res = p.evaluation.get(f"mean:{outcome}")
    r = res.term("mean_difference")
    assert r["conf_low"] < true_diff < r["conf_high"], (true_diff, r.to_dict())
    table = pd.read_csv(p.tables / "count_effects.csv").set_index("outcome")
    row = table.loc[f"mean:{outcome}"]
    for col, term, what in (("mean_treated", "mean_treated", "estimate"),
                            ("mean_control", "mean_control", "estimate"),
                            ("difference", "mean_difference", "estimate"),
                            ("conf_low", "mean_difference", "conf_low"),
                            ("conf_high", "mean_difference", "conf_high")):
        assert row[col] == pytest.approx(round(float(res.term(term)[what]), 2), abs=1e-9)
    assert row["n"] == res.n
    rates = _section(p.html.read_text(), "rates")
    assert "Absolute effects: mean per person-year" in rates and "mean with LEAD" in rates
    assert "Annualised differences" not in rates


@REPORTS
def test_within_person_changes_are_labelled_descriptions_on_console_and_summary(
    reports, monkeypatch
):
    """The console's ratio table keeps the matched contrasts as the effects and puts the
    within-person "month 18 vs baseline" odds ratios in a second table titled a description;
    the HTML summary gives no baseline-month ratio as an effect (each such sentence says it is
    a description) and leads the monthly outcomes with the matched contrast."""
    import io

    from rich.console import Console

    from leadeval import cli

    p = reports["seattle"]
    buf = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buf, width=250))
    cli.print_headline_table(p.evaluation, p.disclosure)
    out = buf.getvalue()
    title = "seattle: within-person change (a description, not an effect)"
    assert "seattle: effects (ratio estimates)" in out and title in out
    effects, descriptions = out.split(title)
    assert "vs baseline" not in effects and "LEAD vs comparison in month 12" in effects
    assert "month 18 vs baseline" in descriptions and "in month 12" not in descriptions
    summary = _section(p.html.read_text(), "summary")
    for sentence in re.findall(r"<p>([^<]*baseline[^<]*)</p>", summary):
        assert "a description, not an effect" in sentence, sentence
    assert "LEAD participants' odds were" in summary or "no clear difference (odds" in summary


@REPORTS
def test_within_person_site_console_has_only_descriptions(reports, monkeypatch):
    """Longmont (no comparison group): every console ratio is a within-person change, so the
    console has no effects table, only the description one."""
    import io

    from rich.console import Console

    from leadeval import cli

    p = reports["longmont"]
    buf = io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buf, width=250))
    cli.print_headline_table(p.evaluation, p.disclosure)
    out = buf.getvalue()
    assert "effects (ratio estimates)" not in out
    assert "longmont: within-person change (a description, not an effect)" in out


@REPORTS
@pytest.mark.parametrize("site", SITES)
def test_e_values_only_for_effects(reports, site):
    """An E-value measures how strong unmeasured confounding would have to be to explain an
    effect away; a within-person change (a month vs the baseline month, after vs before) is a
    description, not an effect, so the E-value table leaves it out and says so."""
    p = reports[site]
    rows = pd.read_csv(p.tables / "e_values.csv") if (p.tables / "e_values.csv").exists() else None
    ev = p.evaluation
    described = any(k.startswith(("panel:", "within_person")) for k in ev.results)
    if rows is not None:
        assert not rows["analysis"].str.startswith(("panel:", "within_person")).any()
        assert len(rows) > 0
    said = "Within-person changes are descriptions, not effects" in p.html.read_text()
    assert said == described


@REPORTS
def test_monte_carlo_table_counts_draws_not_people(reports):
    """The Monte Carlo summary's count is of draws (costs.monte_carlo_draws), not people, and
    the table says its estimate is the mean of the draws, not the key findings' point estimate."""
    p = reports["seattle"]
    mc = pd.read_csv(p.tables / "monte_carlo.csv")
    assert "n" not in mc and (mc["draws"] == p.evaluation.config.costs.monte_carlo_draws).all()
    assert "Estimate: the mean over the draws" in p.html.read_text()
