"""``generate_site``: a synthetic LEAD site with planted effects and a truth table.

Example
-------
>>> from leadeval.synth import generate_site
>>> site = generate_site("seattle", n_participants=60, n_pool=300, seed=1)
>>> sorted(site.extracts)[:3]
['arrests', 'charges', 'contacts']
>>> int((site.extracts["roster"]["group"] == "lead").sum())
60
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadeval.errors import ConfigError
from leadeval.extracts.schemas import SCHEMAS
from leadeval.synth._time import NAT
from leadeval.synth.events import BLOCK, SEVERITY, BlockGenerator, observed_mask
from leadeval.synth.planted import Planted, level_mask
from leadeval.synth.population import Population, build_population
from leadeval.synth.profiles import Effects, Profile, get_profile

Raw = dict[str, np.ndarray]  # one extract: canonical column -> numpy array (dates as int days)


@dataclass(frozen=True)
class SyntheticSite:
    """A generated site.

    Attributes
    ----------
    extracts : dict of DataFrame
        All ten extracts in canonical layout and types (as ``canonical_frame`` makes them, except
        month columns, kept as "YYYY-MM" text), ready for
        ``Extracts.from_frames(site.extracts, site.data_end_date)``.
    truth : DataFrame
        One row per LEAD participant with both potential outcomes (docs/synthetic_data.md).
    effects : dict
        The planted effect targets (``Effects`` fields) plus the calibrated parameters.
    program_cost : DataFrame
        The planted program-cost curve by month (spending, enrolled, cost per participant-month).
    """

    profile: Profile
    seed: int
    n_participants: int
    n_pool: int
    data_end_date: dt.date
    extracts: Mapping[str, pd.DataFrame]
    truth: pd.DataFrame
    effects: Mapping[str, Any]
    program_cost: pd.DataFrame = field(repr=False)

    @property
    def design(self) -> dict[str, Any]:
        return self.profile.design()


def _validate_sizes(n_participants: int, n_pool: int, seed: int) -> None:
    problems = []
    if int(n_participants) < 1:
        problems.append(f"participants must be >= 1; got {n_participants}")
    if int(n_pool) < 0:
        problems.append(f"pool must be >= 0; got {n_pool}")
    if int(seed) < 0:
        problems.append(f"seed must be a non-negative integer; got {seed}")
    if problems:
        raise ConfigError(problems, "synth")


def plan_site(
    profile: str | Profile,
    n_participants: int | None = None,
    n_pool: int | None = None,
    seed: int | None = None,
    effects: Mapping[str, Any] | Effects | None = None,
    data_end_date: dt.date | str | None = None,
    planted: Mapping[str, Any] | Planted | None = None,
) -> Population:
    """Pass 1: the person-level population and calibration (cheap even for 1M persons)."""
    prof = get_profile(profile)
    n_participants = prof.default_participants if n_participants is None else int(n_participants)
    n_pool = prof.default_pool if n_pool is None else int(n_pool)
    seed = prof.default_seed if seed is None else int(seed)
    _validate_sizes(n_participants, n_pool, seed)
    eff = prof.effects.replace(effects)
    end = prof.data_end_date if data_end_date is None else pd.Timestamp(data_end_date).date()
    if end <= prof.referral_end:
        raise ConfigError(
            f"data_end_date {end} must be after the profile's referral period end {prof.referral_end}",
            "synth",
        )
    return build_population(
        prof, eff, n_participants, n_pool, seed, end, planted=Planted.from_mapping(planted)
    )


def person_ids(pop: Population) -> np.ndarray:
    width = max(7, len(str(pop.n)))
    nums = pd.Series(np.arange(pop.n)).astype(str).str.zfill(width)
    return (pop.profile.id_prefix + nums).to_numpy(dtype=object)


def roster_raw(pop: Population, ids: np.ndarray) -> Raw:
    a, p = pop.arrays, pop.profile
    lead = a["lead"]
    rtypes = np.asarray(p.referral_types, dtype=object)[a["referral_type"]]
    return {
        "person_id": ids,
        "group": np.where(lead, "lead", "pool").astype(object),
        "referral_date": a["ref"],
        "enrollment_date": a["enroll"],
        "first_contact_date": a["first_contact"],
        "referral_type": np.where(lead, rtypes, None).astype(object),
        "birth_date": a["birth"],
        "sex": np.where(a["male"], "male", "female").astype(object),
        "race_ethnicity": np.asarray(p.races, dtype=object)[a["race"]],
        "area": np.asarray(p.areas, dtype=object)[a["area"]],
        "exit_date": a["exit"],
        "death_date": a["death"],
    }


def ledger_raw(pop: Population) -> Raw:
    pc = pop.program_cost
    cats = ("startup", "administration", "case_management")
    month = np.repeat(pc["month"].to_numpy(dtype=object), len(cats))
    category = np.tile(np.array(cats, dtype=object), len(pc))
    amount = pc[list(cats)].to_numpy().ravel()
    keep = amount > 0
    return {"month": month[keep], "category": category[keep], "amount": amount[keep]}


def _ranked_ids(person: np.ndarray, ids: np.ndarray, tag: str) -> np.ndarray:
    """<person_id>-<tag><n>, n = 1, 2, ... in the (already sorted) row order within a person."""
    if person.size == 0:
        return np.zeros(0, dtype=object)
    start = np.r_[True, person[1:] != person[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(person.size), 0))
    rank = np.arange(person.size) - first + 1
    return (pd.Series(ids[person]) + f"-{tag}" + pd.Series(rank).astype(str)).to_numpy(dtype=object)


def _sorted(ev: Raw, keys: list[str]) -> Raw:
    order = np.lexsort(tuple(ev[k] for k in reversed(keys)))
    return {k: v[order] for k, v in ev.items()}


def block_raw(pop: Population, block: int, ids: np.ndarray) -> tuple[dict[str, Raw], pd.DataFrame]:
    """Extract rows (canonical columns, raw arrays) and truth rows of one block of persons."""
    gen = BlockGenerator(pop, block)
    ev, truth = gen.run()
    lo = gen.sl.start
    lead = gen.a["lead"]
    gid = ids[lo : gen.sl.stop]
    out: dict[str, Raw] = {}

    ar = ev["arrests"]
    ar["seq"] = np.arange(ar["person"].size)
    ar = {k: v[observed_mask(ar, lead)] for k, v in ar.items() if k != "u"}
    ar = _sorted(ar, ["person", "day", "seq"])
    out["arrests"] = {
        "arrest_id": _ranked_ids(ar["person"], gid, "A"),
        "person_id": gid[ar["person"]],
        "arrest_date": ar["day"],
        "severity": SEVERITY[ar["sev"]],
        "offense_category": ar["offense"],
        "warrant": ar["warrant"],
    }
    ch = ev["charges"]
    ch = {k: v[observed_mask(ch, lead)] for k, v in ch.items()}
    ch = _sorted(ch, ["person", "day", "src"])
    out["charges"] = {
        "charge_id": _ranked_ids(ch["person"], gid, "C"),
        "person_id": gid[ch["person"]],
        "filing_date": ch["day"],
        "court": ch["court"],
        "severity": SEVERITY[ch["sev"]],
        "disposition": ch["disposition"],
        "disposition_date": ch["disposition_date"],
    }
    jl = ev["jail"]
    jl["seq"] = np.arange(jl["person"].size)
    jl = {k: v[observed_mask(jl, lead)] for k, v in jl.items()}
    jl = _sorted(jl, ["person", "day", "seq"])
    out["jail"] = {
        "booking_id": _ranked_ids(jl["person"], gid, "B"),
        "person_id": gid[jl["person"]],
        "booking_date": jl["day"],
        "release_date": jl["release"],
    }
    pr = ev["prison"]
    pr = {k: v[observed_mask(pr, lead)] for k, v in pr.items()}
    pr = _sorted(pr, ["person", "day"])
    out["prison"] = {
        "person_id": gid[pr["person"]],
        "admission_date": pr["day"],
        "release_date": pr["release"],
    }
    ho = ev["housing"]
    out["housing"] = {
        "person_id": gid[ho["person"]],
        "start_date": ho["start_date"],
        "end_date": ho["end_date"],
        "status": ho["status"],
    }
    inc = ev["income"]
    out["income"] = {
        "person_id": gid[inc["person"]],
        "month": inc["month"].astype("datetime64[M]").astype(str).astype(object),
        "source": inc["source"],
        "amount": inc["amount"],
    }
    em = ev["ems"]
    em["seq"] = np.arange(em["person"].size)
    em = {k: v[observed_mask(em, lead)] for k, v in em.items()}
    em["sec"] = em["day"] * 86400 + em["seconds"]
    em = _sorted(em, ["person", "sec", "seq"])
    out["ems"] = {
        "call_id": _ranked_ids(em["person"], gid, "E"),
        "person_id": gid[em["person"]],
        "call_datetime": em["sec"],
        "transported": em["transported"],
    }
    co = ev["contacts"]
    out["contacts"] = {
        "person_id": gid[co["person"]],
        "contact_date": co["contact_date"],
        "contact_type": co["contact_type"],
        "substantive": co["substantive"],
    }
    truth_df = _truth_frame(pop, gen, truth, gid)
    return out, truth_df


def _truth_frame(pop: Population, gen: BlockGenerator, truth: dict, gid: np.ndarray) -> pd.DataFrame:
    if not truth:
        return pd.DataFrame()
    L = truth.pop("person")
    a = gen.a
    front = {
        "person_id": gid[L],
        "index_date": a["index"][L].astype("datetime64[D]"),
        "followup_end": a["followup_end"][L].astype("datetime64[D]"),
        "index_date_observed": _index_observed(pop.profile, a)[L],
    }
    if pop.planted is not None and pop.planted.subgroup_effect is not None:
        se = pop.planted.subgroup_effect
        front["planted_subgroup"] = level_mask(pop.profile, a, se.variable, se.level)[L]
    return pd.DataFrame({**front, **truth})


def _index_observed(p: Profile, a: dict[str, np.ndarray]) -> np.ndarray:
    if p.index_date == "first_contact_date":
        return a["first_contact"] != NAT
    if p.index_date == "enrollment_date":
        return a["enroll"] != NAT
    return np.ones(a["ref"].size, bool)


def iter_chunks(
    pop: Population, blocks_per_chunk: int = 4
) -> Iterator[tuple[dict[str, Raw], pd.DataFrame]]:
    """Yield (event extracts, truth) for consecutive groups of blocks. Row contents and order do
    not depend on ``blocks_per_chunk``."""
    ids = person_ids(pop)
    n_blocks = (pop.n + BLOCK - 1) // BLOCK
    for start in range(0, n_blocks, blocks_per_chunk):
        parts = [block_raw(pop, b, ids) for b in range(start, min(n_blocks, start + blocks_per_chunk))]
        merged = {
            name: {col: np.concatenate([p[0][name][col] for p in parts]) for col in parts[0][0][name]}
            for name in parts[0][0]
        }
        truths = [p[1] for p in parts if len(p[1])]
        yield merged, (pd.concat(truths, ignore_index=True) if truths else pd.DataFrame())


_PD = {"string": "string", "int": "Int64", "float": "Float64", "bool": "boolean"}


def raw_to_frame(name: str, raw: Raw) -> pd.DataFrame:
    """Canonical pandas frame (types as leadeval.extracts.canonical_frame makes them)."""
    schema = SCHEMAS[name]
    cols = {}
    n = len(next(iter(raw.values()))) if raw else 0
    for c in schema.columns:
        v = raw.get(c.name)
        if v is None:
            cols[c.name] = pd.Series(pd.NA, index=range(n), dtype=_PD.get(c.type, "object"))
            if c.type in ("date", "datetime", "month"):
                cols[c.name] = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
            continue
        if c.type == "date":
            cols[c.name] = pd.Series(v.astype("datetime64[D]").astype("datetime64[ns]"))
        elif c.type == "datetime":
            cols[c.name] = pd.Series(v.astype("datetime64[s]").astype("datetime64[ns]"))
        elif c.type == "month":
            # kept as the contract's "YYYY-MM" text: canonical_frame / Extracts.from_frames parse it
            cols[c.name] = pd.Series(v, dtype="string")
        else:
            cols[c.name] = pd.Series(v).astype(_PD[c.type])
    return pd.DataFrame(cols)


def generate_site(
    profile: str | Profile = "seattle",
    n_participants: int | None = None,
    n_pool: int | None = None,
    seed: int | None = None,
    effects: Mapping[str, Any] | Effects | None = None,
    data_end_date: dt.date | str | None = None,
    planted: Mapping[str, Any] | Planted | None = None,
) -> SyntheticSite:
    """Generate a synthetic site in memory (for large sites use :func:`write_synthetic_site`).

    Parameters
    ----------
    profile : {"seattle", "santa_fe", "longmont"} or Profile
    n_participants, n_pool : int
        LEAD participants and comparison-pool members (profile defaults: 300 and 500 to 2,000).
    seed : int
        Master seed; the same seed gives identical extracts and truth.
    effects : mapping or Effects, optional
        Overrides of the profile's planted effects, e.g. ``{"arrest_or_182": 1.0}`` for none.
    data_end_date : date, optional
        Overrides the profile's data end date.
    planted : mapping or Planted, optional
        Equity truths (off by default): ``{"referral_disparity": {"variable": "race_ethnicity",
        "level": "black", "odds_ratio": 2.0}, "subgroup_effect": {"variable": "sex", "level":
        "female", "hazard_ratio": 2.5}}`` (:mod:`leadeval.synth.planted`).

    Returns
    -------
    SyntheticSite

    Notes
    -----
    Participants are the top n_participants of N = n_participants + n_pool simulated people
    by score + logistic noise, with score
    ``a + b1 log(1 + arrests in the 365 days before referral) + b2 unsheltered(month -1)
    + b3 (age - 38)/10 + b4 log(1 + arrests) (age - 38)/10 + area effect``; so
    P(referred | covariates) = expit(score - tau) for a threshold tau, and a logit propensity
    model on these terms is correctly specified, while one with prior arrests entered linearly
    is not (as real referral, selection is non-linear in prior history; ``b4`` is
    ``Profile.sel_prior_arrests_x_age``, 0 in the shipped profiles).
    Selection depends only on those observed pre-period covariates, so matching on them
    removes the confounding.
    """
    pop = plan_site(profile, n_participants, n_pool, seed, effects, data_end_date, planted)
    return assemble_site(pop)


def assemble_site(pop: Population) -> SyntheticSite:
    ids = person_ids(pop)
    chunks = list(iter_chunks(pop))
    extracts: dict[str, pd.DataFrame] = {"roster": raw_to_frame("roster", roster_raw(pop, ids))}
    for name in chunks[0][0]:
        raw = {col: np.concatenate([c[0][name][col] for c in chunks]) for col in chunks[0][0][name]}
        extracts[name] = raw_to_frame(name, raw)
    extracts["program_ledger"] = raw_to_frame("program_ledger", ledger_raw(pop))
    order = ["roster", "arrests", "charges", "jail", "prison", "housing", "income", "ems",
             "contacts", "program_ledger"]
    truth = pd.concat([c[1] for c in chunks if len(c[1])], ignore_index=True)
    return SyntheticSite(
        profile=pop.profile,
        seed=pop.seed,
        n_participants=pop.n_participants,
        n_pool=pop.n_pool,
        data_end_date=dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + pop.data_end),
        extracts={k: extracts[k] for k in order},
        truth=truth,
        effects=effects_record(pop),
        program_cost=pop.program_cost,
    )


def effects_record(pop: Population) -> dict[str, Any]:
    """The planted targets and the calibrated parameters, JSON-serialisable."""
    c = pop.calibration
    pc = pop.program_cost
    ev = pc[pc["in_evaluation"]]
    late = pop.profile.program_cost_late_month
    late_row = pc[pc["program_month"] == min(late, int(ev["program_month"].max()))].iloc[0]
    return {
        "profile": pop.profile.name,
        "seed": pop.seed,
        "n_participants": pop.n_participants,
        "n_pool": pop.n_pool,
        "index_date": pop.profile.index_date,
        "targets": pop.effects.to_dict(),
        "calibrated": {
            "conditional_or_arrest_182": c["c_arrest_182"],
            "conditional_or_arrest_all": c["c_arrest_all"],
            "conditional_or_felony_charge_all": c["c_felony_charge"],
            "prison_probability_ratio": c["prison_ratio"],
            "booking_probability_untreated": pop.profile.booking_prob,
            "booking_probability_treated": c["booking_prob_treated"],
            "housing_latent_shift_sheltered": c["housing_shift_sheltered"],
            "housing_latent_shift_permanent": c["housing_shift_permanent"],
            "housing_latent_per_contact": c["housing_gamma"],
            "arrest_rr_per_contact": c["arrest_rr_per_contact"],
        },
        "selection": {
            "intercept": pop.profile.sel_intercept,
            "log1p_arrests_pre_365d": pop.profile.sel_prior_arrests,
            **(  # only when set, so the shipped profiles' effects.json stay as they were
                {"log1p_arrests_pre_365d_x_age_per_decade": pop.profile.sel_prior_arrests_x_age}
                if pop.profile.sel_prior_arrests_x_age
                else {}
            ),
            "unsheltered_month_before_referral": pop.profile.sel_unsheltered,
            "age_per_decade_minus_38": pop.profile.sel_age_per_decade,
            "area": dict(zip(pop.profile.areas, pop.profile.area_selection, strict=True)),
        },
        **({"planted": pop.planted.to_dict()} if pop.planted is not None else {}),
        "legal_unit_costs": dict(pop.profile.legal_cost),
        "program_cost": {
            "variable_per_participant_month": pop.profile.program_cost_variable,
            "fixed_per_month": float(pc["administration"].iloc[0]),
            "startup_total": float(pc["startup"].sum()),
            "evaluation_months": int(ev["program_month"].max()),
            "average_cost_per_participant_month": float(ev["spending"].sum() / ev["enrolled"].sum()),
            "late_month": int(late_row["program_month"]),
            "late_cost_per_participant_month": float(late_row["cost_per_participant_month"]),
        },
    }
