"""Planted equity truths: a referral disparity at equal history, and a different effect in one
subgroup (both off by default, so the shipped samples do not change).

A **referral disparity** adds ``log(odds_ratio)`` to the referral score of one group
(``race_ethnicity``, ``sex`` or ``area`` level). Referral is the top of score + logistic noise, so
P(referred | history, group) = expit(score - tau + log(odds_ratio) * [group]): at equal history the
group's conditional odds of referral are ``odds_ratio`` times the others'.

A **subgroup effect** multiplies the post-index arrest hazard of the participants of one group
(also ``referral_type``) under LEAD (their Y(1) world) by ``hazard_ratio`` on top of the
calibrated effect, so the effect there differs (``hazard_ratio > 1``: a weaker effect). The truth
table gets a ``planted_subgroup`` column, and the subgroup's true marginal effects follow from the
potential outcomes in it.

>>> p = Planted.from_mapping({"referral_disparity": {"variable": "race_ethnicity",
...                                                  "level": "black", "odds_ratio": 2.0}})
>>> p.referral_disparity.odds_ratio, p.subgroup_effect is None
(2.0, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from leadeval.errors import ConfigError

DISPARITY_VARIABLES = ("race_ethnicity", "sex", "area")
SUBGROUP_VARIABLES = (*DISPARITY_VARIABLES, "referral_type")


@dataclass(frozen=True)
class ReferralDisparity:
    variable: str
    level: str
    odds_ratio: float


@dataclass(frozen=True)
class SubgroupEffect:
    variable: str
    level: str
    hazard_ratio: float


@dataclass(frozen=True)
class Planted:
    referral_disparity: ReferralDisparity | None = None
    subgroup_effect: SubgroupEffect | None = None

    @classmethod
    def from_mapping(cls, value: Planted | Mapping[str, Any] | None) -> Planted | None:
        if value is None or isinstance(value, Planted):
            return value
        unknown = sorted(set(value) - {"referral_disparity", "subgroup_effect"})
        if unknown:
            raise ConfigError(f"unknown planted truth(s) {unknown}; known: referral_disparity, "
                              "subgroup_effect")
        rd, se = value.get("referral_disparity"), value.get("subgroup_effect")
        try:
            out = cls(
                ReferralDisparity(**rd) if rd else None,
                SubgroupEffect(**se) if se else None,
            )
        except TypeError as err:
            raise ConfigError(f"planted truth: {err}") from None
        if out.referral_disparity and out.referral_disparity.variable not in DISPARITY_VARIABLES:
            raise ConfigError(f"referral_disparity.variable must be one of {DISPARITY_VARIABLES}")
        if out.subgroup_effect and out.subgroup_effect.variable not in SUBGROUP_VARIABLES:
            raise ConfigError(f"subgroup_effect.variable must be one of {SUBGROUP_VARIABLES}")
        for part, name in ((out.referral_disparity, "odds_ratio"),
                           (out.subgroup_effect, "hazard_ratio")):
            if part is not None and not float(getattr(part, name)) > 0:
                raise ConfigError(f"planted {name} must be > 0")
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.referral_disparity:
            out["referral_disparity"] = {
                **asdict(self.referral_disparity),
                "log_odds_shift": float(np.log(self.referral_disparity.odds_ratio)),
                "meaning": "conditional odds ratio of referral at equal history and covariates",
            }
        if self.subgroup_effect:
            out["subgroup_effect"] = {
                **asdict(self.subgroup_effect),
                "meaning": "post-index arrest hazard of this group's participants under LEAD is "
                "multiplied by hazard_ratio on top of the calibrated effect; true subgroup "
                "effects: truth.csv rows with planted_subgroup",
            }
        return out


def level_mask(profile: Any, arrays: Mapping[str, np.ndarray], variable: str, level: str) -> np.ndarray:
    """Persons (all N) in ``variable == level``, from the generator's arrays."""
    if variable == "sex":
        if level not in ("male", "female"):
            raise ConfigError(f"sex level must be male or female; got {level!r}")
        return arrays["male"] if level == "male" else ~arrays["male"]
    names, key = {
        "race_ethnicity": (profile.races, "race"),
        "area": (profile.areas, "area"),
        "referral_type": (profile.referral_types, "referral_type"),
    }[variable]
    if level not in names:
        raise ConfigError(f"{variable} level {level!r} is not in the {profile.name} profile; "
                          f"levels: {', '.join(names)}")
    return arrays[key] == names.index(level)
