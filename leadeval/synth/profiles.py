"""Site profiles for the synthetic generator: population, event rates and planted effects.

A :class:`Profile` holds everything that makes a synthetic site look like one of the evaluated
programs (Seattle, Santa Fe, Longmont; see docs/synthetic_data.md). Its :class:`Effects` are the
planted treatment effects; override any of them with ``generate_site(..., effects={...})``.

Example
-------
>>> from leadeval.synth import PROFILES
>>> PROFILES["seattle"].effects.arrest_or_182
0.4
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from leadeval.errors import ConfigError


@dataclass(frozen=True)
class Effects:
    """Planted effects of LEAD on its participants, acting only after their index date.

    Odds-ratio targets (``*_or*``) are *marginal* odds ratios among participants,
    odds(P(Y(1)=1)) / odds(P(Y(0)=1)), reached by calibrating a common conditional odds ratio
    (see :func:`leadeval.synth.calibrate.calibrate_odds_ratio`). ``None`` means "no target":
    the matching rate ratio is used instead (1.0 = no effect).

    Windows follow DESIGN.md section 3: ``182`` is the post window [t0+1, t0+182]; ``all`` is
    [t0+1, follow-up end].
    """

    arrest_or_182: float | None = None
    arrest_or_all: float | None = None
    arrest_rr_first: float = 1.0  # arrest rate ratio in days 1-182 when arrest_or_182 is None
    arrest_rr_after: float = 1.0  # ... after day 182 when arrest_or_all is None
    arrest_rr_per_contact: float = 1.0  # multiplier per case-manager contact in the same month
    felony_charge_or_all: float | None = None
    prison_or_all: float | None = None
    prison_ratio: float = 1.0  # prison probability ratio when prison_or_all is None
    bookings_per_year_diff: float | None = None  # Y(0) - Y(1) bookings per person-year
    booking_ratio: float = 1.0  # booking probability ratio when bookings_per_year_diff is None
    jail_los_ratio: float = 1.0
    ems_rate_ratio: float = 1.0
    sheltered_or: float | None = None  # months 1..housing_months vs baseline month -1
    permanent_or: float | None = None
    housed_or_per_contact: float = 1.0
    employment_or: float = 1.0
    benefits_or: float = 1.0
    housing_months: int = 18

    def replace(self, overrides: Mapping[str, Any] | Effects | None) -> Effects:
        """A copy with ``overrides`` applied (a mapping of field names, or a whole Effects)."""
        if overrides is None:
            return self
        if isinstance(overrides, Effects):
            return overrides
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(
                f"unknown effect(s) {unknown}; known effects: {', '.join(sorted(names))}"
            )
        for key, value in overrides.items():
            if value is not None and key != "housing_months" and float(value) < 0:
                raise ConfigError(f"effect {key} must be >= 0; got {value!r}")
        return dataclasses.replace(self, **dict(overrides))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Profile:
    """Population, timeline and event-rate settings of one synthetic site (values marked [U] in
    STUDIES.md are plausible assumptions, not published figures)."""

    name: str
    label: str
    referral_start: dt.date
    referral_end: dt.date
    data_end_date: dt.date
    index_date: str
    pre_windows: tuple[int, ...]
    post_windows: tuple[int, ...]
    areas: tuple[str, ...]
    area_weights: tuple[float, ...]
    area_selection: tuple[float, ...]  # log-odds shift of referral by area
    area_arrest: tuple[float, ...]  # log arrest-rate shift by area
    area_housing: tuple[float, ...]  # shift of the housing latent by area
    races: tuple[str, ...]
    race_weights: tuple[float, ...]
    referral_types: tuple[str, ...]
    referral_type_weights: tuple[float, ...]
    effects: Effects
    arrests_per_year: float = 0.8  # base rate (before frailty and covariates)
    frailty_shape: float = 1.2
    ems_per_year: float = 0.5
    felony_share: float = 0.25
    gross_misdemeanor_share: float = 0.3  # among non-felony arrests
    charge_prob_felony: float = 0.8
    charge_prob_other: float = 0.65
    conviction_prob: float = 0.55
    prison_prob: float = 0.25  # per convicted felony charge
    booking_prob: float = 0.75
    jail_los_mean: float = 9.0  # days, lognormal
    history_years: float = 2.5  # arrest history starts this long before referral_start
    housing_months_before: int = 25
    housing_months_after: int = 36
    sel_intercept: float = -4.0
    sel_prior_arrests: float = 0.9  # per log(1 + arrests in the 365 days before referral)
    # per log(1 + arrests) x (age - 38)/10: referral favours young people with many prior arrests
    # (0 in the shipped profiles; tests set it to make a linear-count propensity visibly biased)
    sel_prior_arrests_x_age: float = 0.0
    sel_unsheltered: float = 1.1  # unsheltered in the month before referral
    sel_age_per_decade: float = -0.25
    contacts_per_month: float = 3.0
    contacts_decay: float = 0.04  # per month since first contact
    enrollment_missing: float = 0.05
    first_contact_missing: float = 0.03
    exit_share: float = 0.3
    death_per_year: float = 0.012
    program_cost_avg: float = 600.0
    program_cost_late: float = 400.0
    program_cost_late_month: int = 24
    program_cost_variable: float = 200.0
    startup_months: int = 3
    legal_cost: Mapping[str, float] = field(
        default_factory=lambda: {"felony": 2800.0, "gross_misdemeanor": 1200.0, "misdemeanor": 700.0}
    )
    default_participants: int = 300
    default_pool: int = 3000
    default_seed: int = 20111001
    id_prefix: str = "P"

    def design(self) -> dict[str, Any]:
        """The ``design`` section of this site's config."""
        return {
            "index_date": self.index_date,
            "pre_windows": list(self.pre_windows),
            "post_windows": list(self.post_windows),
        }


SEATTLE = Profile(
    name="seattle",
    label="Seattle LEAD (Collins et al. 2017, 2019; Clifasefi et al. 2017)",
    referral_start=dt.date(2011, 10, 1),
    referral_end=dt.date(2014, 7, 31),
    data_end_date=dt.date(2016, 6, 30),
    index_date="referral_date",
    pre_windows=(182, 730),
    post_windows=(182, 365),
    areas=("belltown", "downtown", "capitol_hill", "international_district", "south_seattle"),
    area_weights=(0.2, 0.3, 0.2, 0.1, 0.2),
    area_selection=(1.0, 0.6, 0.0, 0.3, -0.8),
    area_arrest=(0.2, 0.3, 0.0, 0.1, -0.1),
    area_housing=(-0.4, -0.3, 0.2, 0.0, 0.4),
    races=("white", "black", "hispanic", "native_american", "asian", "other"),
    race_weights=(0.45, 0.38, 0.06, 0.05, 0.03, 0.03),
    referral_types=("arrest_diversion", "social_contact"),
    referral_type_weights=(0.6, 0.4),
    effects=Effects(
        arrest_or_182=0.40,
        arrest_or_all=0.42,
        felony_charge_or_all=0.61,
        prison_or_all=0.13,
        bookings_per_year_diff=1.4,
        sheltered_or=2.0,
        permanent_or=1.89,
        housed_or_per_contact=1.05,
        employment_or=1.3,
        benefits_or=1.5,
    ),
    arrests_per_year=0.85,
    jail_los_mean=33.0,  # with the bookings effect: about 39 fewer jail days per person-year
    program_cost_avg=899.0,
    program_cost_late=532.0,
    program_cost_late_month=29,
    program_cost_variable=250.0,
    default_pool=2000,
    default_seed=20111001,
    id_prefix="S",
)

SANTA_FE = Profile(
    name="santa_fe",
    label="Santa Fe LEAD (NM Sentencing Commission 2018)",
    referral_start=dt.date(2014, 6, 1),
    referral_end=dt.date(2018, 3, 31),
    data_end_date=dt.date(2018, 12, 31),
    index_date="referral_date",
    pre_windows=(182, 365),
    post_windows=(182, 365),
    areas=("downtown", "southside", "northside", "agua_fria"),
    area_weights=(0.3, 0.35, 0.2, 0.15),
    area_selection=(0.8, 0.3, -0.3, -0.5),
    area_arrest=(0.2, 0.1, -0.1, 0.0),
    area_housing=(-0.3, 0.1, 0.3, 0.2),
    races=("hispanic", "white", "native_american", "black", "other"),
    race_weights=(0.55, 0.3, 0.08, 0.03, 0.04),
    referral_types=("arrest_diversion", "social_contact"),
    referral_type_weights=(0.7, 0.3),
    effects=Effects(
        arrest_or_182=0.55,
        arrest_rr_after=1.0,
        jail_los_ratio=0.75,
        ems_rate_ratio=0.87,
    ),
    arrests_per_year=0.7,
    ems_per_year=1.0,
    program_cost_avg=700.0,
    program_cost_late=450.0,
    program_cost_late_month=36,
    program_cost_variable=200.0,
    default_pool=1500,
    default_seed=20140601,
    id_prefix="F",
)

LONGMONT = Profile(
    name="longmont",
    label="Longmont LEAD (city review, about 2020)",
    referral_start=dt.date(2017, 1, 1),
    referral_end=dt.date(2019, 6, 30),
    data_end_date=dt.date(2020, 12, 31),
    index_date="first_contact_date",
    pre_windows=(365, 487),
    post_windows=(182, 365, 487),
    areas=("central", "north", "south", "east"),
    area_weights=(0.35, 0.25, 0.2, 0.2),
    area_selection=(0.6, 0.0, 0.2, -0.4),
    area_arrest=(0.2, 0.0, 0.1, -0.1),
    area_housing=(-0.3, 0.2, 0.0, 0.2),
    races=("white", "hispanic", "black", "other"),
    race_weights=(0.6, 0.3, 0.04, 0.06),
    referral_types=("social_contact", "community", "arrest_diversion"),
    referral_type_weights=(0.5, 0.3, 0.2),
    effects=Effects(
        arrest_rr_first=0.5,
        arrest_rr_after=0.5,
        arrest_rr_per_contact=0.8,
    ),
    arrests_per_year=0.8,
    enrollment_missing=0.0,
    first_contact_missing=0.0,
    program_cost_avg=500.0,
    program_cost_late=330.0,
    program_cost_late_month=24,
    program_cost_variable=150.0,
    default_participants=300,
    default_pool=500,
    default_seed=20170101,
    id_prefix="L",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SEATTLE, SANTA_FE, LONGMONT)}


def get_profile(profile: str | Profile) -> Profile:
    """A profile by name (``seattle``, ``santa_fe``, ``longmont``), or the Profile itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ConfigError(
            f"unknown synthetic profile {profile!r}; choose one of: {', '.join(PROFILES)}"
        ) from None
