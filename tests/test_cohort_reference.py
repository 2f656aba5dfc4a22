"""Cohort builder against an independent day-by-day reference, plus row-order invariance and
determinism.

Reference: a deliberately naive re-implementation of DESIGN section 3 in plain Python written for
this test: every stay is expanded into the set of its calendar days, every window into its set of
days, and counts are set intersections; panel months are walked one by one. It shares no code with
leadeval.cohort. A random site (seeded) with overlapping, open and same-day stays, deaths, exits,
events on index days and after follow-up end is built both ways and compared column by column.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import leadeval as le
from leadeval.config import DesignConfig

END = dt.date(2016, 12, 31)
PRE, POST = (90, 365), (30, 182)
PANEL = (-6, 9)


def random_site(seed: int = 7, n: int = 40) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    day0 = dt.date(2013, 1, 1)

    def day(lo: int, hi: int) -> dt.date:
        return day0 + dt.timedelta(days=int(rng.integers(lo, hi)))

    ids = [f"p{i:03d}" for i in range(n)]
    ref = [day(400, 1500) for _ in ids]
    roster = pd.DataFrame(
        {
            "person_id": ids,
            "group": ["lead" if i % 3 == 0 else "pool" for i in range(n)],
            "referral_date": ref,
            "birth_year": 1970 + rng.integers(0, 30, n),
            "death_date": [
                r + dt.timedelta(days=int(rng.integers(-20, 400))) if rng.random() < 0.2 else None
                for r in ref
            ],
            "exit_date": [
                r + dt.timedelta(days=int(rng.integers(1, 300))) if rng.random() < 0.3 else None
                for r in ref
            ],
        }
    )

    def near(k: int) -> tuple[list[str], list[dt.date]]:
        who = rng.choice(ids, k)
        out = []
        for w in who:
            r = ref[ids.index(w)]
            # a quarter of the events on or right next to the index date
            out.append(
                r
                + dt.timedelta(
                    days=int(
                        rng.integers(-2, 3) if rng.random() < 0.25 else rng.integers(-800, 900)
                    )
                )
            )
        return list(who), out

    who, dates = near(300)
    arrests = pd.DataFrame(
        {
            "arrest_id": [f"a{i}" for i in range(len(who))],
            "person_id": who,
            "arrest_date": dates,
            "severity": rng.choice(["felony", "misdemeanor", None], len(who)),
        }
    )
    who, dates = near(250)
    charges = pd.DataFrame(
        {
            "charge_id": [f"c{i}" for i in range(len(who))],
            "person_id": who,
            "filing_date": dates,
            "court": rng.choice(["municipal", "district", "superior"], len(who)),
            "severity": rng.choice(["felony", "misdemeanor"], len(who)),
        }
    )
    who, dates = near(120)
    jail = pd.DataFrame(
        {
            "booking_id": [f"b{i}" for i in range(len(who))],
            "person_id": who,
            "booking_date": dates,
            "release_date": [
                d + dt.timedelta(days=int(rng.integers(0, 40))) if rng.random() > 0.1 else None
                for d in dates
            ],
        }
    )
    who, dates = near(30)
    prison = pd.DataFrame(
        {
            "person_id": who,
            "admission_date": dates,
            "release_date": [
                d + dt.timedelta(days=int(rng.integers(0, 300))) if rng.random() > 0.2 else None
                for d in dates
            ],
        }
    )
    prison = prison.drop_duplicates(["person_id", "admission_date"])
    who, dates = near(120)
    housing = pd.DataFrame(
        {
            "person_id": who,
            "start_date": dates,
            "end_date": [
                d + dt.timedelta(days=int(rng.integers(0, 120))) if rng.random() > 0.15 else None
                for d in dates
            ],
            "status": rng.choice(
                ["unsheltered", "emergency_shelter", "transitional", "permanent", "institutional"],
                len(who),
            ),
        }
    )
    housing = housing.drop_duplicates(["person_id", "start_date", "status"])
    who, dates = near(200)
    income = pd.DataFrame(
        {
            "person_id": who,
            "month": [d.strftime("%Y-%m") for d in dates],
            "source": rng.choice(["employment", "benefits", "other_legitimate", "none"], len(who)),
            "amount": 100.0,
        }
    )
    income = income.drop_duplicates(["person_id", "month", "source"])
    who, dates = near(200)
    ems = pd.DataFrame(
        {
            "call_id": [f"e{i}" for i in range(len(who))],
            "person_id": who,
            "call_datetime": [
                pd.Timestamp(d) + pd.Timedelta(hours=int(rng.integers(0, 24))) for d in dates
            ],
        }
    )
    who, dates = near(200)
    contacts = pd.DataFrame({"person_id": who, "contact_date": dates})
    return {
        "roster": roster,
        "arrests": arrests,
        "charges": charges,
        "jail": jail,
        "prison": prison,
        "housing": housing,
        "income": income,
        "ems": ems,
        "contacts": contacts,
    }


def _d(x) -> dt.date | None:
    return None if x is None or pd.isna(x) else pd.Timestamp(x).date()


def _days(a: dt.date, b: dt.date) -> set[int]:
    return set(range(a.toordinal(), b.toordinal() + 1))


def reference(frames: dict[str, pd.DataFrame], exit_censors: bool):
    """Plain-Python persons and panel for the random site."""
    persons, panel = [], []
    for r in frames["roster"].itertuples():
        t0, death, exit_ = _d(r.referral_date), _d(r.death_date), _d(r.exit_date)
        if t0 >= END or (death and death <= t0) or (exit_censors and exit_ and exit_ <= t0):
            continue
        ends = [END] + ([death] if death and death <= END else [])
        ends += [exit_] if exit_censors and exit_ and exit_ <= END else []
        fe = min(ends)
        fu = (fe - t0).days
        pid = r.person_id

        def rows(name, pid=pid):
            f = frames[name]
            return f[f["person_id"] == pid]

        def stay_days(name, s, e, fe=fe, rows=rows):
            out = set()
            for x in rows(name).itertuples():
                a, b = _d(getattr(x, s)), _d(getattr(x, e)) or fe
                if a <= fe:
                    out |= _days(a, min(b, fe))
            return out

        jail, prison = (
            stay_days("jail", "booking_date", "release_date"),
            stay_days("prison", "admission_date", "release_date"),
        )
        inc = jail | prison
        unshel = set()
        for x in rows("housing").itertuples():
            if x.status == "unsheltered" and _d(x.start_date) <= fe:
                unshel |= _days(_d(x.start_date), min(_d(x.end_date) or fe, fe))
        ev = {
            "arrests": [_d(x) for x in rows("arrests")["arrest_date"]],
            "felony_arrests": [
                _d(x.arrest_date) for x in rows("arrests").itertuples() if x.severity == "felony"
            ],
            "charges": [_d(x) for x in rows("charges")["filing_date"]],
            "felony_charges": [
                _d(x.filing_date) for x in rows("charges").itertuples() if x.severity == "felony"
            ],
            "charges_superior": [
                _d(x.filing_date) for x in rows("charges").itertuples() if x.court == "superior"
            ],
            "bookings": [_d(x) for x in rows("jail")["booking_date"]],
            "prison_admissions": [_d(x) for x in rows("prison")["admission_date"]],
            "ems_calls": [_d(x) for x in rows("ems")["call_datetime"]],
            "contacts": [_d(x) for x in rows("contacts")["contact_date"]],
        }
        rec = {"person_id": pid, "followup_days": fu}
        wins = [(f"pre_{p}d", _days(t0 - dt.timedelta(p), t0 - dt.timedelta(1)), None) for p in PRE]
        wins += [
            (
                f"post_{q}d",
                _days(t0 + dt.timedelta(1), min(t0 + dt.timedelta(q), fe)),
                t0 + dt.timedelta(q) <= fe,
            )
            for q in POST
        ]
        wins += [("post_all", _days(t0 + dt.timedelta(1), fe), True)]
        for sfx, days, complete in wins:
            for name, dates in ev.items():
                rec[f"{name}_{sfx}"] = sum(d.toordinal() in days for d in dates)
            rec[f"jail_days_{sfx}"] = len(jail & days)
            rec[f"prison_days_{sfx}"] = len(prison & days)
            rec[f"exposure_{sfx}"] = len(days) - len(inc & days)
            if sfx.startswith("pre"):
                rec[f"unsheltered_days_{sfx}"] = len(unshel & days)
            else:
                hit = float(rec[f"arrests_{sfx}"] > 0)
                rec[f"arrest_{sfx}"] = hit if complete else np.nan
                fel = float(rec[f"felony_charges_{sfx}"] > 0)
                rec[f"felony_charge_{sfx}"] = fel if complete else np.nan
        after = sorted((d - t0).days for d in ev["arrests"] if t0 < d <= fe)
        rec["days_to_arrest"], rec["arrested"] = (after[0], 1) if after else (fu, 0)
        padm = sorted((d - t0).days for d in ev["prison_admissions"] if t0 < d <= fe)
        cands = [(after[0], 1)] if after else []
        cands += [(padm[0], 2)] if padm else []
        cands += [(fu, 3)] if death and death == fe else []
        rec["days_to_first_event"], rec["first_event"] = min(cands) if cands else (fu, 0)
        persons.append(rec)

        # panel
        sheltered, permanent = set(), set()
        for x in rows("housing").itertuples():
            if (
                x.status in ("emergency_shelter", "transitional", "permanent")
                and _d(x.start_date) <= fe
            ):
                ds = _days(_d(x.start_date), min(_d(x.end_date) or fe, fe))
                sheltered |= ds
                if x.status == "permanent":
                    permanent |= ds
        inc_rows = rows("income")
        cum = sum(
            1
            for d in ev["contacts"]
            if (d.year * 12 + d.month) - (t0.year * 12 + t0.month) < PANEL[0] and d <= fe
        )
        for m in range(PANEL[0], PANEL[1] + 1):
            mi = t0.year * 12 + t0.month - 1 + m
            start = dt.date(mi // 12, mi % 12 + 1, 1)
            if start > fe:
                break
            nxt = dt.date((mi + 1) // 12, (mi + 1) % 12 + 1, 1)
            month_days = _days(start, min(nxt - dt.timedelta(1), fe))

            def count(dates, month_days=month_days):
                return sum(d.toordinal() in month_days for d in dates)

            srcs = set(inc_rows.loc[pd.to_datetime(inc_rows["month"]).dt.date == start, "source"])
            cum += count(ev["contacts"])
            panel.append(
                {
                    "person_id": pid,
                    "month_offset": m,
                    "month_start": pd.Timestamp(start),
                    "arrests": count(ev["arrests"]),
                    "jail_days": len(jail & month_days),
                    "ems_calls": count(ev["ems_calls"]),
                    "contacts": count(ev["contacts"]),
                    "cumulative_contacts": cum,
                    "sheltered": int(bool(sheltered & month_days)),
                    "permanent_housing": int(bool(permanent & month_days)),
                    "employed": int("employment" in srcs),
                    "legit_income": int(
                        bool(srcs & {"employment", "benefits", "other_legitimate"})
                    ),
                    "days_observed": len(month_days),
                }
            )
    return pd.DataFrame(persons), pd.DataFrame(panel)


def _build(frames, exit_censors: bool = False, backend=None) -> le.Cohort:
    ex = le.Extracts.from_frames(frames, data_end_date=END, backend=backend)
    design = DesignConfig(
        pre_windows=list(PRE),
        post_windows=list(POST),
        panel_months=PANEL,
        exit_censors=exit_censors,
    )
    return le.build_cohort(ex, design)


@pytest.fixture(scope="module")
def site():
    return random_site()


@pytest.mark.parametrize("exit_censors", [False, True])
def test_matches_day_by_day_reference(site, exit_censors):
    """Every reference column equals the cohort's, for every person and person-month."""
    c = _build(site, exit_censors)
    ref_p, ref_m = reference(site, exit_censors)
    got = c.persons.set_index("person_id")
    ref_p = ref_p.set_index("person_id")
    assert list(got.index) == sorted(ref_p.index)
    for col in ref_p.columns:
        np.testing.assert_array_equal(
            got.loc[ref_p.index, col].to_numpy(float), ref_p[col].to_numpy(float), err_msg=col
        )
    assert len(c.panel) == len(ref_m)
    panel = c.panel.set_index(["person_id", "month_offset"]).sort_index()
    ref_m = ref_m.set_index(["person_id", "month_offset"]).sort_index()
    for col in ref_m.columns:
        np.testing.assert_array_equal(panel[col].to_numpy(), ref_m[col].to_numpy(), err_msg=col)
    # the site exercises what it should: deaths, exits, open stays, incomplete windows
    assert (got["followup_end_reason"] == "death").any()
    assert (~got["window_complete_post_182d"]).any() and got["window_complete_post_182d"].any()
    assert (got["first_event"] == 2).any() or (got["first_event"] == 3).any()


def test_row_order_invariance_and_determinism(site):
    """Shuffled input rows (and a fresh backend) give identical persons, panel and flow."""
    first = _build(site)
    rng = np.random.default_rng(1)
    shuffled = {
        k: v.sample(frac=1, random_state=int(rng.integers(1e6))).reset_index(drop=True)
        for k, v in site.items()
    }
    second = _build(shuffled)
    again = _build(site)
    for other in (second, again):
        pd.testing.assert_frame_equal(first.persons, other.persons)
        pd.testing.assert_frame_equal(first.panel, other.panel)
        pd.testing.assert_frame_equal(first.flow, other.flow)
        pd.testing.assert_frame_equal(first.flow_counts(), other.flow_counts())
    assert first.persons["person_id"].is_monotonic_increasing
    assert first.panel.set_index(["person_id", "month_offset"]).index.is_monotonic_increasing
