"""Pass 1 of the generator: the person-level population, confounded referral, calibration.

Everything here is drawn for all persons at once (one array per attribute) from the stream
``SeedSequence(seed, spawn_key=(0,))``, so it does not depend on how events are later chunked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadeval.synth import calibrate as cal
from leadeval.synth._time import NAT, day, month_end, month_of, month_start, years
from leadeval.synth.planted import level_mask
from leadeval.synth.profiles import Effects, Profile

# Housing latent: status of person i in month r is set by y = b_i + z_ir against thresholds;
# z is a stationary Gaussian AR(1) over months (persistent statuses, few episodes).
HOUSING_RHO = 0.95
HOUSING_SD = 0.8
HOUSING_T = (-0.67, -0.2, 0.15)  # unsheltered < t1 <= emergency < t2 <= transitional < t3 <= permanent
HOUSING_STATUS = ("unsheltered", "emergency_shelter", "transitional", "permanent")
INCOME_MONTHS = (-6, 12)


@dataclass(frozen=True)
class Population:
    """Person-level arrays (length N = participants + pool, in person-number order) and the
    calibrated effect parameters. Internal to the generator."""

    profile: Profile
    effects: Effects
    seed: int
    n_participants: int
    n_pool: int
    data_end: int  # day number
    hist_floor: int
    arrays: dict[str, np.ndarray]
    calibration: dict[str, Any]
    program_cost: pd.DataFrame
    planted: Any = None  # leadeval.synth.planted.Planted, or None (nothing planted)

    @property
    def n(self) -> int:
        return self.n_participants + self.n_pool


def _choice(rng: np.random.Generator, n: int, weights: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(weights, float)
    return rng.choice(w.size, size=n, p=w / w.sum())


def build_population(
    profile: Profile,
    effects: Effects,
    n_participants: int,
    n_pool: int,
    seed: int,
    data_end_date: dt.date,
    planted: Any = None,
) -> Population:
    """Draw the population, select participants with confounded referral, calibrate effects.

    ``planted`` (:class:`leadeval.synth.planted.Planted`) adds a referral disparity and/or a
    subgroup effect; it draws no random numbers, so without it nothing changes."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    N = n_participants + n_pool
    p = profile
    end = day(data_end_date)
    r0, r1 = day(p.referral_start), min(day(p.referral_end), end - 1)
    a: dict[str, np.ndarray] = {}
    ref = rng.integers(r0, r1 + 1, size=N)
    age = np.clip(rng.normal(38.0, 11.0, size=N), 18.5, 75.0)
    birth = ref - np.floor(age * 365.25).astype(np.int64)
    male = rng.random(N) < 0.72
    race = _choice(rng, N, p.race_weights)
    area = _choice(rng, N, p.area_weights)
    b = rng.normal(np.asarray(p.area_housing)[area], 1.0)
    z_m1 = rng.normal(0.0, HOUSING_SD, size=N)
    unsheltered = (b + z_m1) < HOUSING_T[0]
    frailty = rng.gamma(p.frailty_shape, 1.0 / p.frailty_shape, size=N)
    lam = (
        p.arrests_per_year
        / 365.0
        * frailty
        * np.exp(
            np.asarray(p.area_arrest)[area]
            + 0.5 * unsheltered
            - 0.15 * (age - 38.0) / 10.0
            + 0.2 * male
        )
    )
    hist_floor = r0 - years(p.history_years)
    hist_start = np.maximum(hist_floor, birth + years(18))
    pre_lo = np.maximum(ref - 365, hist_start)
    n_pre = rng.poisson(lam * np.maximum(ref - pre_lo, 0))
    score = (
        p.sel_intercept
        + p.sel_prior_arrests * np.log1p(n_pre)
        + p.sel_prior_arrests_x_age * np.log1p(n_pre) * (age - 38.0) / 10.0
        + p.sel_unsheltered * unsheltered
        + p.sel_age_per_decade * (age - 38.0) / 10.0
        + np.asarray(p.area_selection)[area]
    )
    if planted is not None and planted.referral_disparity is not None:
        rd = planted.referral_disparity
        groups = {"race": race, "area": area, "male": male}
        score = score + np.log(rd.odds_ratio) * level_mask(p, groups, rd.variable, rd.level)
    # top-k of score + logistic noise: P(referred | covariates) = expit(score - tau), a logit model
    key = score + rng.logistic(size=N)
    order = np.argsort(-key, kind="stable")
    lead = np.zeros(N, bool)
    lead[order[:n_participants]] = True

    rtype = _choice(rng, N, p.referral_type_weights)
    enroll = ref + np.maximum(1, np.round(rng.gamma(2.0, 7.0, size=N))).astype(np.int64)
    enroll_missing = (rng.random(N) < p.enrollment_missing) | (enroll > end) | ~lead
    fc_base = np.where(enroll_missing, ref + rng.integers(3, 30, size=N), enroll)
    fc = fc_base + rng.geometric(1 / 7.0, size=N) - 1
    fc_missing = (rng.random(N) < p.first_contact_missing) | (fc > end - 1) | ~lead
    enroll = np.where(enroll_missing, NAT, enroll)
    fc = np.where(fc_missing, NAT, fc)
    if p.index_date == "first_contact_date":
        index = np.where(fc_missing, ref, fc)
    elif p.index_date == "enrollment_date":
        index = np.where(enroll_missing, ref, enroll)
    else:
        index = ref.copy()
    death_t = rng.exponential(365.0 / p.death_per_year, size=N)
    death = index + 1 + np.floor(death_t).astype(np.int64)
    death = np.where(death <= end, death, NAT)
    f_end = np.where(death == NAT, end, death)
    # nobody enrolls or is first contacted on or after their death
    enroll = np.where((enroll != NAT) & (enroll >= f_end) & (death != NAT), NAT, enroll)
    fc = np.where((fc != NAT) & (fc >= f_end) & (death != NAT), NAT, fc)
    enroll_missing = enroll == NAT
    exit_t = rng.exponential(400.0, size=N)
    exit_base = np.where(enroll_missing, ref, enroll)
    exit_ = exit_base + 30 + np.floor(exit_t).astype(np.int64)
    exit_ok = lead & (rng.random(N) < p.exit_share) & (exit_ <= f_end)
    exit_ = np.where(exit_ok, exit_, NAT)
    kappa = rng.gamma(2.0, p.contacts_per_month / 2.0, size=N)
    ems_rate = (
        p.ems_per_year / 365.0 * np.sqrt(frailty) * np.exp(0.6 * unsheltered) * rng.gamma(2.0, 0.5, size=N)
    )
    emp_lat = rng.normal(size=N)
    ben_lat = rng.normal(size=N)

    a.update(
        ref=ref, birth=birth, age=age, male=male, race=race, area=area, housing_b=b,
        housing_z_m1=z_m1, unsheltered_m1=unsheltered, frailty=frailty, lam=lam,
        hist_start=hist_start, n_pre365=n_pre, score=score, lead=lead, referral_type=rtype,
        enroll=enroll, first_contact=fc, index=index, death=death, followup_end=f_end,
        exit=exit_, kappa=kappa, ems_rate=ems_rate, emp_lat=emp_lat, ben_lat=ben_lat,
    )
    calibration = _calibrate(p, effects, a)
    if planted is not None and planted.subgroup_effect is not None:
        se = planted.subgroup_effect
        in_group = level_mask(p, a, se.variable, se.level)[lead]
        mult = calibration["multipliers"]
        for k in ("felony_1", "felony_2", "other_1", "other_2"):
            mult[k] = np.asarray(mult[k], float) * np.where(in_group, se.hazard_ratio, 1.0)
    program = _program_cost(p, a, end)
    return Population(
        profile=p, effects=effects, seed=seed, n_participants=n_participants, n_pool=n_pool,
        data_end=end, hist_floor=hist_floor, arrays=a, calibration=calibration,
        program_cost=program, planted=planted,
    )


def employment_prob(emp_lat: np.ndarray, unsheltered: np.ndarray) -> np.ndarray:
    return cal.expit(-2.2 + 0.8 * emp_lat - 0.8 * unsheltered)


def benefits_prob(ben_lat: np.ndarray, unsheltered: np.ndarray) -> np.ndarray:
    return cal.expit(-0.8 + 0.6 * ben_lat + 0.6 * unsheltered)


def expected_contacts(kappa: np.ndarray, months_since_first: np.ndarray, decay: float) -> np.ndarray:
    """Expected Poisson contacts in a month, excluding the first contact itself."""
    m = np.maximum(months_since_first, 0)
    return np.where(months_since_first >= 0, kappa * np.exp(-decay * m), 0.0)


def _calibrate(p: Profile, e: Effects, a: dict[str, np.ndarray]) -> dict[str, Any]:
    lead = a["lead"]
    lam = a["lam"][lead]
    F = (a["followup_end"] - a["index"])[lead].astype(float)
    out: dict[str, Any] = {}
    mult = cal.arrest_multipliers(
        lam, F, p.felony_share, p.charge_prob_felony, e.arrest_or_182, e.arrest_or_all,
        e.felony_charge_or_all, e.arrest_rr_first, e.arrest_rr_after,
    )
    out["c_felony_charge"] = mult.pop("c_felony_charge")
    out["c_arrest_182"] = mult.pop("c_arrest_182")
    out["c_arrest_all"] = mult.pop("c_arrest_all")
    out["multipliers"] = mult  # arrays over participants, in person order
    lf = lam * p.felony_share
    d1, d2 = np.minimum(F, 182.0), np.maximum(F - 182.0, 0.0)
    felony_cum1 = lf * (mult["felony_1"] * d1 + mult["felony_2"] * d2)
    total_cum1 = felony_cum1 + lam * (1 - p.felony_share) * (mult["other_1"] * d1 + mult["other_2"] * d2)
    per_felony = p.charge_prob_felony * p.conviction_prob * p.prison_prob
    if e.prison_or_all is not None:
        # Admissions follow the arrest by the charge and disposition lags (about LAG days): the
        # last LAG days of follow-up rarely yield one, while felony arrests in the LAG days before
        # the index date yield untreated admissions after it in both arms.
        lag = 150.0
        shrink = np.maximum(F - lag, 0.0) / np.maximum(F, 1.0)
        common = per_felony * lf * lag
        out["prison_ratio"] = cal.prison_ratio(
            per_felony * lf * F * shrink, per_felony * felony_cum1 * shrink, e.prison_or_all, common
        )
    else:
        out["prison_ratio"] = e.prison_ratio
    if e.bookings_per_year_diff is not None:
        b0 = p.booking_prob
        b1 = (b0 * (lam * F).sum() - e.bookings_per_year_diff * F.sum() / 365.0) / total_cum1.sum()
        out["booking_prob_treated"] = float(np.clip(b1, 0.0, 1.0))
        out["booking_target_reachable"] = bool(0.0 <= b1 <= 1.0)
    else:
        out["booking_prob_treated"] = float(np.clip(p.booking_prob * e.booking_ratio, 0, 1))
    # housing: latent shifts reaching the within-person odds ratios vs the month before index
    r_e = (month_of(a["index"]) - month_of(a["ref"]))[lead]
    months = np.arange(1, e.housing_months + 1)
    r = r_e[:, None] + months[None, :]
    loc = a["housing_b"][lead][:, None] + HOUSING_RHO ** (r + 1) * a["housing_z_m1"][lead][:, None]
    sd = HOUSING_SD * np.sqrt(1 - HOUSING_RHO ** (2 * (r + 1)))
    fc_month = month_of(np.where(a["first_contact"] == NAT, a["index"], a["first_contact"]))[lead]
    since_fc = (month_of(a["index"])[lead] - fc_month)[:, None] + months[None, :]
    gamma = cal.logit_to_latent(np.log(e.housed_or_per_contact), HOUSING_SD)
    loc = loc + gamma * expected_contacts(a["kappa"][lead][:, None], since_fc, p.contacts_decay)
    out["housing_gamma"] = gamma
    base_r = r_e - 1
    base_loc = a["housing_b"][lead] + HOUSING_RHO ** np.maximum(base_r + 1, 0) * a["housing_z_m1"][lead]
    base_sd = HOUSING_SD * np.sqrt(1 - HOUSING_RHO ** (2 * np.maximum(base_r + 1, 0)))
    for name, target, t in (
        ("housing_shift_sheltered", e.sheltered_or, HOUSING_T[0]),
        ("housing_shift_permanent", e.permanent_or, HOUSING_T[2]),
    ):
        if target is None:
            out[name] = 0.0
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            base_p = np.where(
                base_sd > 0, stats.norm.sf((t - base_loc) / np.where(base_sd > 0, base_sd, 1)),
                (base_loc >= t).astype(float),
            )
        out[name] = cal.latent_shift(loc, sd, t, base_p, target)
    # Longmont-type dose response: a month's arrest hazard is scaled by rho**contacts, normalised
    # by its expectation so the segment rate ratios keep their meaning.
    out["arrest_rr_per_contact"] = e.arrest_rr_per_contact
    return out


def _program_cost(p: Profile, a: dict[str, np.ndarray], end: int) -> pd.DataFrame:
    """Monthly program spending: start-up + fixed + variable x enrolled participant-months.

    A participant counts as enrolled in a month when enrollment_date <= month end and neither
    exit_date nor death_date is before the month start.
    """
    m0, m_end = month_of(np.array([day(p.referral_start)]))[0], month_of(np.array([end]))[0]
    months = np.arange(m0, m_end + 1)
    starts, ends = month_start(months), month_end(months)
    lead = a["lead"] & (a["enroll"] != NAT)
    en = a["enroll"][lead]
    stop = np.minimum(
        np.where(a["exit"][lead] == NAT, end, a["exit"][lead]),
        np.where(a["death"][lead] == NAT, end, a["death"][lead]),
    )
    # enrolled count per month by a difference array over month indices (no loop over people)
    first = month_of(en) - m0
    last = month_of(stop) - m0
    ok = last >= first  # a death before enrollment never counts
    first, last = first[ok], last[ok]
    diff = np.zeros(months.size + 1, np.int64)
    np.add.at(diff, np.clip(first, 0, months.size), 1)
    np.add.at(diff, np.clip(last + 1, 0, months.size), -1)
    enrolled = np.cumsum(diff)[:-1]
    eval_months = int(month_of(np.array([day(p.referral_end)]))[0] - m0 + 1)
    eval_months = min(eval_months, months.size)
    late = min(p.program_cost_late_month, eval_months)
    fixed, startup = cal.program_cost_structure(
        enrolled, p.program_cost_avg, p.program_cost_late, late, eval_months, p.program_cost_variable
    )
    k = np.arange(1, months.size + 1)
    startup_m = np.where(k <= p.startup_months, startup / p.startup_months, 0.0)
    startup_m = np.round(startup_m, 2)
    fixed_m = np.full(months.size, round(fixed, 2))
    variable_m = np.round(p.program_cost_variable * enrolled, 2)
    spending = startup_m + fixed_m + variable_m
    with np.errstate(divide="ignore", invalid="ignore"):
        cpm = np.where(enrolled > 0, spending / np.maximum(enrolled, 1), np.nan)
    return pd.DataFrame(
        {
            "month": months.astype("datetime64[M]").astype(str),
            "month_start": starts.astype("datetime64[D]"),
            "month_end": ends.astype("datetime64[D]"),
            "program_month": k,
            "in_evaluation": k <= eval_months,
            "enrolled": enrolled,
            "startup": startup_m,
            "administration": fixed_m,
            "case_management": variable_m,
            "spending": spending,
            "cost_per_participant_month": cpm,
        }
    )
