"""leadeval.synth: data contract conformance, determinism, layouts, CLI, truth bookkeeping.

Reference for these tests: the data contract (leadeval/extracts/schemas.py, DESIGN.md sections 2
and 3) re-implemented independently in pandas here; the planted-effect recovery tests are in
test_synth_effects.py.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadeval.cli import app
from leadeval.errors import ConfigError
from leadeval.extracts.schemas import SCHEMAS
from leadeval.synth import PROFILES, generate_site
from leadeval.synth.writer import write_site, write_synthetic_site

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=sorted(PROFILES))
def small_site(request):
    return generate_site(request.param, n_participants=80, n_pool=400, seed=11)


def test_roster_counts_and_ids(small_site):
    """Roster: exactly the requested participants and pool members, unique ids (contract key)."""
    ros = small_site.extracts["roster"]
    assert (ros["group"] == "lead").sum() == 80
    assert (ros["group"] == "pool").sum() == 400
    assert ros["person_id"].is_unique
    assert len(small_site.truth) == 80
    assert set(small_site.truth["person_id"]) == set(ros.loc[ros["group"] == "lead", "person_id"])


def test_every_extract_conforms_to_schema(small_site):
    """Every extract follows SCHEMAS: columns, codes, keys, intervals, event dates in
    [birth, data end], person ids in the roster."""
    ex = small_site.extracts
    assert list(ex) == list(SCHEMAS)
    ros = ex["roster"].set_index("person_id")
    end = pd.Timestamp(small_site.data_end_date)
    for name, schema in SCHEMAS.items():
        df = ex[name].copy()
        for c in schema.columns:
            if c.type == "month":  # "YYYY-MM" text in site.extracts
                df[c.name] = pd.to_datetime(df[c.name], format="%Y-%m")
        assert list(df.columns) == list(schema.names), name
        assert len(df) > 0, name
        for col in schema.required:
            assert df[col].notna().all(), (name, col)
        for col in schema.columns:
            if col.codes:
                vals = set(df[col.name].dropna().unique())
                assert vals <= set(col.codes), (name, col.name, vals - set(col.codes))
        if schema.key:
            assert not df.duplicated(list(schema.key)).any(), name
        for start, stop in schema.intervals:
            both = df[start].notna() & df[stop].notna()
            assert (df.loc[both, stop] >= df.loc[both, start]).all(), (name, start, stop)
        if schema.person_level:
            assert df["person_id"].isin(ros.index).all(), name
            birth = ros.loc[df["person_id"], "birth_date"].to_numpy()
            for col in schema.event_dates:
                d = df[col]
                ok = d.isna() | ((d.dt.normalize() >= birth) & (d <= end + pd.Timedelta("1D")))
                if SCHEMAS[name].column(col).type != "datetime":
                    ok = d.isna() | ((d >= birth) & (d <= end))
                assert ok.all(), (name, col)


def test_events_stop_at_death(small_site):
    """Nothing happens after a death date (arrests, EMS calls, contacts)."""
    ros = small_site.extracts["roster"].set_index("person_id")
    for col in ("enrollment_date", "first_contact_date", "exit_date"):
        both = ros[col].notna() & ros["death_date"].notna()
        assert (ros.loc[both, col] < ros.loc[both, "death_date"]).all(), col
    for name, col in (("arrests", "arrest_date"), ("ems", "call_datetime"), ("contacts", "contact_date")):
        df = small_site.extracts[name]
        death = ros.loc[df["person_id"], "death_date"].to_numpy()
        dead = pd.notna(death)
        assert (df.loc[dead, col].dt.normalize().to_numpy() <= death[dead]).all(), name


def test_pool_referral_is_an_arrest(small_site):
    """A pool member's referral_date is the date of a (qualifying) arrest."""
    ex = small_site.extracts
    pool = ex["roster"][ex["roster"]["group"] == "pool"]
    arrests = ex["arrests"][["person_id", "arrest_date"]].drop_duplicates()
    m = pool.merge(arrests, left_on=["person_id", "referral_date"], right_on=["person_id", "arrest_date"])
    assert len(m) == len(pool)


def test_same_seed_same_site_and_different_seed_differs():
    """Determinism: same seed -> identical frames and truth; another seed -> different data."""
    a = generate_site("seattle", 40, 200, seed=5)
    b = generate_site("seattle", 40, 200, seed=5)
    c = generate_site("seattle", 40, 200, seed=6)
    for name in a.extracts:
        pd.testing.assert_frame_equal(a.extracts[name], b.extracts[name])
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.extracts["arrests"].equals(c.extracts["arrests"])


def _same_files(d1: Path, d2: Path, pattern: str = "*") -> None:
    f1 = sorted(p.name for p in d1.glob(pattern))
    f2 = sorted(p.name for p in d2.glob(pattern))
    assert f1 == f2 and f1
    match, mismatch, errors = filecmp.cmpfiles(d1, d2, f1, shallow=False)
    assert not mismatch and not errors, mismatch


def test_files_byte_identical_and_chunking_invariant(tmp_path):
    """Same seed -> byte-identical files; results do not depend on the chunk size (2 blocks of
    persons written in one chunk or two) nor on streaming vs in-memory writing (CSV)."""
    args = dict(n_participants=100, n_pool=2100, seed=9, formats=("csv", "parquet"))
    write_synthetic_site("santa_fe", tmp_path / "a", **args)
    write_synthetic_site("santa_fe", tmp_path / "b", **args)
    _same_files(tmp_path / "a", tmp_path / "b")
    write_synthetic_site("santa_fe", tmp_path / "c", blocks_per_chunk=1, **args)
    _same_files(tmp_path / "a", tmp_path / "c", "*.csv")
    site = generate_site("santa_fe", 100, 2100, seed=9)
    write_site(site, tmp_path / "d", formats=("csv",))
    _same_files(tmp_path / "a", tmp_path / "d", "*.csv")


def test_cli_reproduces_shipped_longmont_sample(tmp_path):
    """The command in data_samples/README.md regenerates the shipped sample byte for byte."""
    readme = (ROOT / "data_samples" / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("leadeval synth --profile longmont"))
    argv = line.split()[1:]
    out = tmp_path / "longmont"
    argv[argv.index("--out") + 1] = str(out)
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    _same_files(ROOT / "data_samples" / "longmont", out)


def test_cli_user_errors_exit_2(tmp_path):
    """Bad profile, layout or format: a clear message and exit code 2."""
    runner = CliRunner()
    res = runner.invoke(app, ["synth", "--profile", "boston", "--out", str(tmp_path)])
    assert res.exit_code == 2
    res = runner.invoke(app, ["synth", "--profile", "seattle", "--out", str(tmp_path), "--format", "xlsx",
                              "--participants", "5", "--pool", "5"])
    assert res.exit_code == 2


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="unknown synthetic profile 'boston'"):
        generate_site("boston", 10, 10, seed=1)
    with pytest.raises(ConfigError, match="participants must be >= 1"):
        generate_site("seattle", 0, 10, seed=1)
    with pytest.raises(ConfigError, match=r"unknown effect\(s\) \['arrest_or_183'\]"):
        generate_site("seattle", 10, 10, seed=1, effects={"arrest_or_183": 0.5})
    with pytest.raises(ConfigError, match="layout 'messy' is not known"):
        write_synthetic_site("seattle", "/nonexistent", 5, 5, 1, layout="messy")


NO_EFFECTS = {
    "arrest_or_182": None, "arrest_or_all": None, "felony_charge_or_all": None,
    "prison_or_all": None, "bookings_per_year_diff": None, "sheltered_or": None,
    "permanent_or": None, "housed_or_per_contact": 1.0, "employment_or": 1.0, "benefits_or": 1.0,
}


def test_no_effects_means_identical_potential_outcomes():
    """With every effect switched off, Y(1) == Y(0) for every participant and outcome (common
    random numbers), except jail days: diversion at the referral arrest avoids its booking by
    construction, so Y(0) holds that index stay and Y(1) does not (Y(0) >= Y(1))."""
    site = generate_site("seattle", 60, 200, seed=2, effects=NO_EFFECTS)
    t = site.truth
    y0 = sorted(c for c in t.columns if c.endswith("_y0") and not c.startswith("p_"))
    assert len(y0) >= 40
    for c in y0:
        if c.startswith("jail_days_"):
            assert (t[c] >= t[c[:-3] + "_y1"]).all()
        else:
            pd.testing.assert_series_equal(t[c], t[c[:-3] + "_y1"], check_names=False)
    assert (t["jail_days_post_all_y0"] > t["jail_days_post_all_y1"]).any()


def _count_in_windows(df, date_col, truth, windows, value=None):
    """Independent count of events in (t0, min(t0+Q, followup_end)] per participant."""
    m = truth[["person_id", "index_date", "followup_end"]].merge(df, on="person_id", how="left")
    d = m[date_col].dt.normalize()
    out = {}
    for w in windows:
        hi = m["followup_end"] if w == "all" else np.minimum(m["index_date"] + pd.Timedelta(days=w), m["followup_end"])
        inside = (d > m["index_date"]) & (d <= hi)
        v = inside.astype(float) if value is None else np.where(inside, m[value], 0.0)
        out[w] = pd.Series(v, index=m.index).groupby(m["person_id"]).sum().reindex(truth["person_id"]).to_numpy()
    return out


@pytest.mark.parametrize("profile", ["seattle", "longmont"])
def test_truth_y1_equals_what_the_extracts_show(profile):
    """The truth's Y(1) columns equal the participants' outcomes counted from the extracts with
    DESIGN.md section 3 windows: arrests, charges, bookings, EMS calls, jail days, legal cost."""
    site = generate_site(profile, 120, 300, seed=4)
    ex, t = site.extracts, site.truth
    wins = [*site.profile.post_windows, "all"]
    tag = {w: ("all" if w == "all" else f"{w}d") for w in wins}
    checks = {
        "arrests": _count_in_windows(ex["arrests"], "arrest_date", t, wins),
        "charges": _count_in_windows(ex["charges"], "filing_date", t, wins),
        "bookings": _count_in_windows(ex["jail"], "booking_date", t, wins),
        "ems_calls": _count_in_windows(ex["ems"], "call_datetime", t, wins),
    }
    ch = ex["charges"].assign(cost=ex["charges"]["severity"].map(site.profile.legal_cost).astype(float))
    checks["legal_cost"] = _count_in_windows(ch, "filing_date", t, wins, value="cost")
    for name, per_w in checks.items():
        for w, v in per_w.items():
            np.testing.assert_allclose(t[f"{name}_post_{tag[w]}_y1"].to_numpy(float), v, err_msg=f"{name} {w}")
    # jail days: distinct days covered by [booking, release (open: follow-up end)] in the window,
    # by expanding every stay into its days (a different algorithm from the generator's)
    j = t[["person_id", "index_date", "followup_end"]].merge(ex["jail"], on="person_id")
    rel = j["release_date"].fillna(j["followup_end"]).clip(upper=j["followup_end"])
    n_days = (rel - j["booking_date"]).dt.days + 1
    rows = j.loc[j.index.repeat(n_days.clip(lower=0))]
    offset = rows.groupby(level=0).cumcount().to_numpy()
    rows = rows.assign(day=rows["booking_date"] + pd.to_timedelta(offset, unit="D"))
    rows = rows.drop_duplicates(["person_id", "day"])
    for w in wins:
        hi = rows["followup_end"] if w == "all" else np.minimum(
            rows["index_date"] + pd.Timedelta(days=w), rows["followup_end"])
        inside = (rows["day"] > rows["index_date"]) & (rows["day"] <= hi)
        got = inside.groupby(rows["person_id"]).sum().reindex(t["person_id"]).fillna(0).to_numpy()
        np.testing.assert_array_equal(t[f"jail_days_post_{tag[w]}_y1"].to_numpy(), got)
    # binary outcomes are missing exactly when the window is incomplete
    for w in site.profile.post_windows:
        inc = ~t[f"window_complete_post_{w}d"]
        assert t.loc[inc, f"arrest_post_{w}d_y1"].isna().all()
        assert t.loc[~inc, f"arrest_post_{w}d_y1"].notna().all()


def test_program_ledger_matches_planted_curve():
    """Ledger total per month / enrolled participant-months (recounted from the roster) equals
    the planted curve: Seattle about $899 on average, $532 in program month 29."""
    site = generate_site("seattle", 200, 300, seed=8)
    ros = site.extracts["roster"]
    led = site.extracts["program_ledger"]
    spend = led.groupby(pd.to_datetime(led["month"], format="%Y-%m"))["amount"].sum()
    months = pd.date_range(site.profile.referral_start, site.data_end_date, freq="MS")
    lead = ros[(ros["group"] == "lead") & ros["enrollment_date"].notna()]
    stop = pd.concat([lead["exit_date"], lead["death_date"]], axis=1).min(axis=1).fillna(pd.Timestamp(site.data_end_date))
    enrolled = np.array([
        ((lead["enrollment_date"] <= m + pd.offsets.MonthEnd(0)) & (stop >= m)).sum() for m in months
    ])
    spend = spend.reindex(months, fill_value=0.0).to_numpy()
    n_eval = site.effects["program_cost"]["evaluation_months"]
    assert n_eval == 34  # October 2011 .. July 2014
    assert spend[:n_eval].sum() / enrolled[:n_eval].sum() == pytest.approx(899.0, abs=0.01)
    assert spend[28] / enrolled[28] == pytest.approx(532.0, abs=0.01)
    cpm = spend[:n_eval] / np.maximum(enrolled[:n_eval], 1)
    assert cpm[5] > cpm[28]  # falls as enrolment grows


def test_agency_layout_round_trips_through_the_mapping(tmp_path):
    """Loading the agency files with their written config gives the same canonical tables as the
    canonical layout, with zero quarantined rows (leadeval.load_extracts)."""
    from leadeval import load_config
    from leadeval.extracts import load_extracts

    site = generate_site("seattle", 40, 150, seed=13)
    write_site(site, tmp_path / "canon", layout="canonical", formats=("csv",))
    write_site(site, tmp_path / "agency", layout="agency", formats=("csv", "parquet"))
    canon = load_extracts(load_config(tmp_path / "canon" / "site.yaml"))
    assert canon.clean
    for cfg_name in ("site.yaml", "site_parquet.yaml"):
        agency = load_extracts(load_config(tmp_path / "agency" / cfg_name))
        assert agency.clean, agency.quality
        for name in SCHEMAS:
            a = agency.to_pandas(name)
            c = canon.to_pandas(name)
            key = [col for col in c.columns if col in SCHEMAS[name].names]
            a = a[key].sort_values(key).reset_index(drop=True)
            c = c[key].sort_values(key).reset_index(drop=True)
            pd.testing.assert_frame_equal(a, c, check_dtype=False, obj=f"{cfg_name}:{name}")


def test_extracts_wrap_into_extracts_container():
    """site.extracts go straight into Extracts.from_frames (canonical types, dates as date)."""
    from leadeval.extracts import Extracts, canonical_frame

    site = generate_site("santa_fe", 30, 60, seed=1)
    for name, frame in site.extracts.items():
        months = [c.name for c in SCHEMAS[name].columns if c.type == "month"]
        assert all(frame[m].str.fullmatch(r"\d{4}-\d{2}").all() for m in months)
        canon = canonical_frame(name, frame)
        pd.testing.assert_frame_equal(frame.drop(columns=months), canon.drop(columns=months), obj=name)
    ex = Extracts.from_frames(site.extracts, data_end_date=site.data_end_date, site="santa_fe")
    for name, frame in site.extracts.items():
        assert ex.to_pandas(name).shape[0] == len(frame)
    assert str(ex.to_pandas("income")["month"].min())[:10].endswith("-01")


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_shipped_configs_load_and_match_profiles(name):
    """configs/<site>.yaml load (every file and mapped column present) with the profile's design
    (a config may add windows, e.g. a 30-day pre window for matching on recent homelessness)."""
    from leadeval import load_config

    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    prof = PROFILES[name]
    assert cfg.site == name and cfg.data_end_date == prof.data_end_date
    assert cfg.design.index_date == prof.index_date
    assert set(prof.pre_windows) <= set(cfg.design.pre_windows)
    assert set(prof.post_windows) <= set(cfg.design.post_windows)
    assert all(src.path.is_file() for src in cfg.extracts.values())


def test_truth_summary_matches_direct_computation():
    """truth_summary: odds ratio and rate ratio equal a direct computation on the columns."""
    from leadeval.synth import truth_summary

    t = generate_site("seattle", 80, 100, seed=3).truth
    tab = truth_summary(t).set_index(["outcome", "window"])
    ok = t["window_complete_post_182d"]
    m0, m1 = t.loc[ok, "arrest_post_182d_y0"].mean(), t.loc[ok, "arrest_post_182d_y1"].mean()
    assert tab.loc[("arrest", "182d"), "odds_ratio"] == pytest.approx(m1 / (1 - m1) / (m0 / (1 - m0)))
    rr = t["arrests_post_all_y1"].sum() / t["arrests_post_all_y0"].sum()
    assert tab.loc[("arrests", "all"), "rate_ratio"] == pytest.approx(rr)
    assert tab.loc[("arrest", "182d"), "n"] == ok.sum()
