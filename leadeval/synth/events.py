"""Pass 2 of the generator: events of one block of persons, with both potential outcomes.

Persons are processed in fixed blocks of :data:`BLOCK` person numbers; block b draws from
``SeedSequence(seed, spawn_key=(1, b))``, so the output does not depend on how blocks are grouped
into chunks for writing.

Common random numbers: after the index date, each arrest (and EMS) process is a unit-rate Poisson
process E_1, E_2, ... mapped through the cumulative hazard of each arm, t = Lambda^{-1}(E). The
k-th arrival carries the same marks (severity, charge, booking, ...) in both arms, so Y(0) and
Y(1) differ only through the planted effects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leadeval.synth import calibrate as cal
from leadeval.synth._time import NAT, month_end, month_of, month_start
from leadeval.synth.population import (
    HOUSING_RHO,
    HOUSING_SD,
    HOUSING_STATUS,
    HOUSING_T,
    INCOME_MONTHS,
    Population,
    benefits_prob,
    employment_prob,
)

BLOCK = 2048

FELONY, GROSS, MISD = 0, 1, 2
SEVERITY = np.array(["felony", "gross_misdemeanor", "misdemeanor"], dtype=object)
OFFENSES = (
    np.array(["drug_delivery", "burglary", "assault", "theft"], dtype=object),
    np.array(["theft", "drug_possession", "assault"], dtype=object),
    np.array(["drug_possession", "prostitution", "trespass", "theft", "disorderly_conduct"], dtype=object),
)
CONTACT_TYPES = np.array(["in_person", "phone", "outreach"], dtype=object)


def _rep_uniform_days(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Row index (repeated by counts) and uniform days in [lo, hi] for each row."""
    rows = np.repeat(np.arange(counts.size), counts)
    width = (hi - lo + 1)[rows]
    return rows, lo[rows] + np.floor(rng.random(rows.size) * width).astype(np.int64)


def _poisson_days(rng, rate, lo, hi):
    length = np.maximum(hi - lo + 1, 0)
    counts = rng.poisson(rate * length)
    return _rep_uniform_days(rng, counts, lo, hi)


def _cum_inverse(E: np.ndarray, j: np.ndarray, B: np.ndarray, cum: np.ndarray, hz: np.ndarray):
    """Continuous time s of arrivals E of persons j for piecewise-constant hazards.

    B: boundaries (n x K+1), cum: cumulative hazard at B (n x K+1), hz: hazard per segment (n x K).
    """
    n, K1 = cum.shape
    off = float(cum[:, -1].max()) + 1.0
    flat = (cum + (np.arange(n) * off)[:, None]).ravel()
    pos = np.searchsorted(flat, E + j * off, side="right") - 1
    k = np.clip(pos - j * K1, 0, K1 - 2)
    rate = hz[j, k]
    s = B[j, k] + (E - cum[j, k]) / np.where(rate > 0, rate, np.inf)
    return np.minimum(s, B[j, -1])


def _cum_at(s: np.ndarray, B: np.ndarray, cum: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """Cumulative hazard at time s (one per person)."""
    n = B.shape[0]
    s = np.minimum(s, B[:, -1])
    k = np.clip((B[:, 1:] <= s[:, None]).sum(axis=1), 0, B.shape[1] - 2)
    idx = np.arange(n)
    return cum[idx, k] + hz[idx, k] * (s - B[idx, k])


class BlockGenerator:
    """Generates the extracts rows and truth rows of one block (internal)."""

    def __init__(self, pop: Population, block: int):
        self.pop = pop
        self.p = pop.profile
        self.e = pop.effects
        self.cal = pop.calibration
        lo = block * BLOCK
        hi = min(pop.n, lo + BLOCK)
        self.sl = slice(lo, hi)
        self.gidx = np.arange(lo, hi)
        self.rng = np.random.default_rng(np.random.SeedSequence(pop.seed, spawn_key=(1, block)))
        a = pop.arrays
        self.a = {k: v[self.sl] for k, v in a.items()}
        self.n = hi - lo
        lead = self.a["lead"]
        self.lead_local = np.flatnonzero(lead)
        # participant order in the calibration arrays (participants in person order)
        rank = np.cumsum(a["lead"]) - 1
        self.lead_rank = rank[lo:hi][lead]

    # -- helpers ---------------------------------------------------------------------------
    def run(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, np.ndarray]]:
        rng, a = self.rng, self.a
        self.contacts = self._contacts()
        self._segments()
        arrests = self._arrests()
        charges, jail, prison = self._derive(arrests)
        ems = self._ems()
        housing, house_truth = self._housing()
        income, income_truth = self._income()
        truth = self._truth(arrests, charges, jail, prison, ems)
        truth.update(house_truth)
        truth.update(income_truth)
        del rng, a
        obs = {
            "arrests": arrests,
            "charges": charges,
            "jail": jail,
            "prison": prison,
            "ems": ems,
            "housing": housing,
            "income": income,
            "contacts": self.contacts,
        }
        return obs, truth

    # -- contacts --------------------------------------------------------------------------
    def _contacts(self) -> dict[str, np.ndarray]:
        a, rng, p = self.a, self.rng, self.p
        has = a["lead"] & (a["first_contact"] != NAT)
        li = np.flatnonzero(has)
        fc = a["first_contact"][li]
        ex = a["exit"][li]
        stop = np.where(ex == NAT, a["followup_end"][li], np.minimum(ex, a["followup_end"][li]))
        m_fc, m_stop = month_of(fc), month_of(stop)
        nm = np.maximum(m_stop - m_fc + 1, 0)
        row = np.repeat(np.arange(li.size), nm)
        k = np.arange(row.size) - np.repeat(np.cumsum(nm) - nm, nm)
        mon = m_fc[row] + k
        lo = np.maximum(month_start(mon), fc[row] + (k == 0))
        hi = np.minimum(month_end(mon), stop[row])
        rate = a["kappa"][li][row] * np.exp(-p.contacts_decay * k)
        rate = np.where(hi >= lo, rate, 0.0)
        cnt = rng.poisson(rate)
        r2, days = _rep_uniform_days(rng, cnt, lo, np.maximum(hi, lo))
        person = np.concatenate([li, li[row[r2]]])
        dd = np.concatenate([fc, days])
        first = np.concatenate([np.ones(li.size, bool), np.zeros(days.size, bool)])
        ctype = CONTACT_TYPES[rng.integers(0, 3, size=dd.size)]
        ctype[first] = "in_person"
        subst = (rng.random(dd.size) < 0.7) | first
        order = np.lexsort((np.arange(dd.size), dd, person))
        out = {"person": person[order], "contact_date": dd[order], "contact_type": ctype[order],
               "substantive": subst[order]}
        # contacts per month offset from the index month, participants x months
        mi0 = month_of(a["index"])
        self.m_cols = int(month_of(np.array([self.pop.data_end]))[0] - (mi0[a["lead"]].min() if a["lead"].any() else 0) + 2)
        C = np.zeros((self.n, max(self.m_cols, 1)), np.int64)
        off = month_of(out["contact_date"]) - mi0[out["person"]]
        ok = (off >= 0) & (off < C.shape[1])
        np.add.at(C, (out["person"][ok], off[ok]), 1)
        self.C = C
        self.contact_stop_month = np.full(self.n, -(10**9), np.int64)
        self.contact_stop_month[li] = m_stop
        self.fc_month = np.full(self.n, 10**9, np.int64)
        self.fc_month[li] = m_fc
        return out

    # -- post-index hazard segments of participants ----------------------------------------
    def _segments(self) -> None:
        a = self.a
        L = self.lead_local
        self.np = L.size
        if L.size == 0:
            return
        e = a["index"][L]
        F = (a["followup_end"][L] - e).astype(float)
        mi0 = month_of(e)
        Mmax = self.m_cols
        mb = month_start(mi0[:, None] + np.arange(1, Mmax + 1)[None, :]) - e[:, None] - 1
        pts = np.concatenate(
            [np.zeros((L.size, 1)), mb.astype(float), np.full((L.size, 1), 182.0), F[:, None]], axis=1
        )
        B = np.sort(np.clip(pts, 0.0, F[:, None]), axis=1)
        dur = np.diff(B, axis=1)
        mid = (B[:, :-1] + B[:, 1:]) / 2
        mday = e[:, None] + np.maximum(np.ceil(mid), 1).astype(np.int64)
        moff = month_of(mday) - mi0[:, None]
        late = mid > 182.0
        rho = self.cal["arrest_rr_per_contact"]
        if rho != 1.0:
            C = self.C[L][np.arange(L.size)[:, None], np.clip(moff, 0, self.C.shape[1] - 1)]
            mon = mi0[:, None] + moff
            since = mon - self.fc_month[L][:, None]
            active = (since >= 0) & (mon <= self.contact_stop_month[L][:, None])
            rate = a["kappa"][L][:, None] * np.exp(-self.p.contacts_decay * np.maximum(since, 0))
            expect = np.exp(-(1 - rho) * rate) * np.where(since == 0, rho, 1.0)
            factor = np.where(active, rho**C / expect, 1.0)
        else:
            factor = np.ones_like(mid)
        m = self.cal["multipliers"]
        rk = self.lead_rank
        lam = a["lam"][L]
        self.seg = {"B": B, "F": F, "e": e}
        for name, share, m1, m2 in (
            ("felony", self.p.felony_share, m["felony_1"][rk], m["felony_2"][rk]),
            ("other", 1 - self.p.felony_share, m["other_1"][rk], m["other_2"][rk]),
        ):
            hz = (lam * share)[:, None] * np.where(late, m2[:, None], m1[:, None]) * factor
            cum = np.concatenate([np.zeros((L.size, 1)), np.cumsum(hz * dur, axis=1)], axis=1)
            self.seg[name] = (hz, cum)

    # -- arrests ---------------------------------------------------------------------------
    def _arrests(self) -> dict[str, np.ndarray]:
        a, rng, p = self.a, self.rng, self.p
        lam, ref, idx = a["lam"], a["ref"], a["index"]
        parts = []
        # history before the pre-365 window, the pre-365 window (count fixed in pass 1)
        r, d = _poisson_days(rng, lam, a["hist_start"], ref - 366)
        parts.append((r, d, -1))
        lo = np.maximum(ref - 365, a["hist_start"])
        r, d = _rep_uniform_days(rng, a["n_pre365"], lo, ref - 1)
        parts.append((r, d, -1))
        # referral-day (qualifying) arrest: every pool member, arrest-diversion participants
        is_ad = np.asarray(p.referral_types, dtype=object)[a["referral_type"]] == "arrest_diversion"
        q = ~a["lead"] | is_ad
        r = np.flatnonzero(q)
        parts.append((r, ref[r], -2))
        # between referral and index (untreated in both arms)
        r, d = _poisson_days(rng, lam, ref + 1, idx)
        parts.append((r, d, -1))
        rows = [np.concatenate([x[0] for x in parts]), np.concatenate([x[1] for x in parts])]
        kind = np.concatenate([np.full(x[0].size, x[2]) for x in parts])
        common_sev = np.where(
            rng.random(rows[0].size) < p.felony_share,
            FELONY,
            np.where(rng.random(rows[0].size) < p.gross_misdemeanor_share, GROSS, MISD),
        )
        common_sev = np.where(kind == -2, MISD, common_sev)
        persons, days, sev, arm = [rows[0]], [rows[1]], [common_sev], [np.full(rows[0].size, -1)]
        diverted = [(kind == -2) & a["lead"][rows[0]]]
        # post-index: both arms from the same arrivals
        F = (a["followup_end"] - idx).astype(float)
        for name, share in (("felony", p.felony_share), ("other", 1 - p.felony_share)):
            rate = lam * share
            L0 = rate * F
            L1 = np.zeros(self.n)
            if self.np:
                L1[self.lead_local] = self.seg[name][1][:, -1]
            Lmax = np.maximum(L0, L1)
            cnt = rng.poisson(Lmax)
            r = np.repeat(np.arange(self.n), cnt)
            E = rng.random(r.size) * Lmax[r]
            if name == "felony":
                s = np.full(r.size, FELONY)
            else:
                s = np.where(rng.random(r.size) < p.gross_misdemeanor_share, GROSS, MISD)
            keep0 = L0[r] >= E
            d0 = idx[r] + np.maximum(np.ceil(E / np.where(rate[r] > 0, rate[r], 1)), 1).astype(np.int64)
            arr_id = np.arange(r.size)
            persons.append(r[keep0])
            days.append(d0[keep0])
            sev.append(s[keep0])
            arm.append(np.zeros(keep0.sum(), np.int64))
            diverted.append(np.zeros(keep0.sum(), bool))
            marks0 = arr_id[keep0]
            if self.np:
                pos = np.full(self.n, -1)
                pos[self.lead_local] = np.arange(self.np)
                is_l = pos[r] >= 0
                j = pos[r[is_l]]
                E1 = E[is_l]
                hz, cum = self.seg[name]
                keep1 = cum[j, -1] >= E1
                s1 = _cum_inverse(E1[keep1], j[keep1], self.seg["B"], cum, hz)
                d1 = idx[r[is_l][keep1]] + np.maximum(np.ceil(s1), 1).astype(np.int64)
                persons.append(r[is_l][keep1])
                days.append(d1)
                sev.append(s[is_l][keep1])
                arm.append(np.ones(keep1.sum(), np.int64))
                diverted.append(np.zeros(keep1.sum(), bool))
                marks1 = arr_id[is_l][keep1]
            else:
                marks1 = np.zeros(0, np.int64)
            # marks shared by the arms: drawn per arrival
            u = rng.random((r.size, 11))
            self._post_marks = getattr(self, "_post_marks", [])
            self._post_marks.append(u[np.concatenate([marks0, marks1])])
        person = np.concatenate(persons)
        out = {
            "person": person,
            "day": np.concatenate(days),
            "sev": np.concatenate(sev),
            "arm": np.concatenate(arm),
            "diverted": np.concatenate(diverted),
        }
        n_common = rows[0].size
        marks = np.concatenate([rng.random((n_common, 11))] + self._post_marks)
        out["u"] = marks
        return out

    # -- charges, jail, prison from arrests ------------------------------------------------
    def _derive(self, ar: dict[str, np.ndarray]):
        p, a, cal_ = self.p, self.a, self.cal
        u = ar["u"]
        person, d, sev, arm = ar["person"], ar["day"], ar["sev"], ar["arm"]
        end_p = a["followup_end"][person]
        data_end = self.pop.data_end
        treated = arm == 1
        # offense, warrant
        off_pick = np.empty(person.size, dtype=object)
        for k in (FELONY, GROSS, MISD):
            m = sev == k
            names = OFFENSES[k]
            off_pick[m] = names[np.minimum((u[m, 0] * names.size).astype(int), names.size - 1)]
        ar["offense"] = off_pick
        ar["warrant"] = u[:, 1] < 0.2
        # charges
        qprob = np.where(sev == FELONY, p.charge_prob_felony, p.charge_prob_other)
        charged = u[:, 2] < qprob
        filing = d + np.floor(u[:, 3] * 3).astype(np.int64)
        charged &= filing <= end_p
        ci = np.flatnonzero(charged)
        court = np.where(
            sev[ci] == FELONY, "superior", np.where(u[ci, 4] < 0.3, "district", "municipal")
        ).astype(object)
        convicted = u[ci, 5] < p.conviction_prob
        disp_day = filing[ci] + 30 + np.floor(-120 * np.log1p(-u[ci, 6] * 0.999)).astype(np.int64)
        pending = disp_day > end_p[ci]
        disposition = np.where(pending, None, np.where(convicted, "convicted", "dismissed")).astype(object)
        disp_out = np.where(pending, NAT, disp_day)
        charges = {
            "person": person[ci], "day": filing[ci], "court": court, "sev": sev[ci],
            "disposition": disposition, "disposition_date": disp_out, "arm": arm[ci], "src": ci,
        }
        # prison: convicted felony charges
        pr_prob = p.prison_prob * np.where(treated[ci], cal_["prison_ratio"], 1.0)
        to_prison = (sev[ci] == FELONY) & convicted & ~pending & (u[ci, 7] < pr_prob)
        pi = np.flatnonzero(to_prison)
        adm = disp_day[pi]
        los = 180 + np.floor(-450 * np.log1p(-u[ci[pi], 8] * 0.999)).astype(np.int64)
        rel = adm + los
        rel = np.where(rel > data_end, NAT, rel)
        prison = {"person": person[ci[pi]], "day": adm, "release": rel, "arm": arm[ci[pi]]}
        # jail bookings
        bprob = np.where(treated, cal_["booking_prob_treated"], p.booking_prob)
        booked = (u[:, 9] < bprob) & ~ar["diverted"]
        # Without LEAD, a diverted referral arrest is booked like any other: a stay that exists
        # only in the Y(0) world (arm 0), so the truth counts the index stay diversion avoided.
        booked_y0 = (u[:, 9] < p.booking_prob) & ar["diverted"]
        bi = np.flatnonzero(booked | booked_y0)
        sigma = 1.0
        mu = np.log(p.jail_los_mean) - sigma**2 / 2
        z = _norm_ppf(np.clip(u[bi, 10], 1e-9, 1 - 1e-9))
        scale = np.where(treated[bi], self.e.jail_los_ratio, 1.0)
        los_j = np.floor(np.exp(mu + sigma * z) * scale).astype(np.int64)
        rel_j = d[bi] + los_j
        death_p = a["death"][person[bi]]
        rel_j = np.where((death_p != NAT) & (rel_j > death_p), death_p, rel_j)
        rel_j = np.where(rel_j > data_end, NAT, rel_j)
        jail = {
            "person": person[bi], "day": d[bi], "release": rel_j,
            "arm": np.where(booked_y0[bi], 0, arm[bi]),
        }
        return charges, jail, _dedupe_prison(prison)

    # -- EMS -------------------------------------------------------------------------------
    def _ems(self) -> dict[str, np.ndarray]:
        a, rng = self.a, self.rng
        mu, idx = a["ems_rate"], a["index"]
        lo = np.maximum(a["hist_start"], idx - 3 * 365)
        r, d = _poisson_days(rng, mu, lo, idx)
        persons, days, arm = [r], [d], [np.full(r.size, -1)]
        F = (a["followup_end"] - idx).astype(float)
        rr = np.where(a["lead"], self.e.ems_rate_ratio, 1.0)
        L0, L1 = mu * F, np.where(a["lead"], mu * rr * F, 0.0)
        Lmax = np.maximum(L0, L1)
        cnt = rng.poisson(Lmax)
        r = np.repeat(np.arange(self.n), cnt)
        E = rng.random(r.size) * Lmax[r]
        k0 = L0[r] >= E
        persons.append(r[k0])
        days.append(idx[r[k0]] + np.maximum(np.ceil(E[k0] / mu[r[k0]]), 1).astype(np.int64))
        arm.append(np.zeros(k0.sum(), np.int64))
        k1 = a["lead"][r] & (L1[r] >= E)
        persons.append(r[k1])
        days.append(idx[r[k1]] + np.maximum(np.ceil(E[k1] / (mu[r[k1]] * rr[r[k1]])), 1).astype(np.int64))
        arm.append(np.ones(k1.sum(), np.int64))
        tod = rng.integers(0, 86400, size=r.size)
        trans = rng.random(r.size) < 0.6
        tod_common = rng.integers(0, 86400, size=persons[0].size)
        trans_common = rng.random(persons[0].size) < 0.6
        return {
            "person": np.concatenate(persons),
            "day": np.concatenate(days),
            "arm": np.concatenate(arm),
            "seconds": np.concatenate([tod_common, tod[k0], tod[k1]]),
            "transported": np.concatenate([trans_common, trans[k0], trans[k1]]),
        }

    # -- housing ---------------------------------------------------------------------------
    def _housing(self):
        a, rng, p, e = self.a, self.rng, self.p, self.e
        n = self.n
        mref = month_of(a["ref"])
        m_lo = -p.housing_months_before
        m_hi = p.housing_months_after + int((month_of(a["index"]) - mref).max(initial=0))
        R = np.arange(m_lo, m_hi + 1)
        nR = R.size
        i_m1 = -1 - m_lo
        z = np.empty((n, nR))
        z[:, i_m1] = a["housing_z_m1"]
        innov = HOUSING_SD * np.sqrt(1 - HOUSING_RHO**2)
        eps = rng.normal(size=(n, nR))
        for k in range(i_m1 + 1, nR):  # loop over months, not people
            z[:, k] = HOUSING_RHO * z[:, k - 1] + innov * eps[:, k]
        for k in range(i_m1 - 1, -1, -1):
            z[:, k] = HOUSING_RHO * z[:, k + 1] + innov * eps[:, k]
        y = a["housing_b"][:, None] + z
        t1, t2, t3 = HOUSING_T
        status0 = np.digitize(y, [t1, t2, t3])
        mon = mref[:, None] + R[None, :]
        valid = mon <= month_of(a["followup_end"])[:, None]
        mi0 = month_of(a["index"])
        moff = mon - mi0[:, None]
        status1 = status0.copy()
        L = self.lead_local
        if L.size:
            Cm = self.C[L][np.arange(L.size)[:, None], np.clip(moff[L], 0, self.C.shape[1] - 1)]
            Cm = np.where(moff[L] >= 0, Cm, 0)
            g = self.cal["housing_gamma"] * Cm
            post = moff[L] >= 1
            ys = y[L] + np.where(post, self.cal["housing_shift_sheltered"] + g, 0.0)
            yp = y[L] + np.where(post, self.cal["housing_shift_permanent"] + g, 0.0)
            s1 = np.where(yp >= t3, 3, np.where(ys >= t2, 2, np.where(ys >= t1, 1, 0)))
            status1[L] = np.where(post, s1, status0[L])
        obs = np.where(a["lead"][:, None], status1, status0)
        # episodes: runs of equal status over valid months
        obs_v = np.where(valid, obs, -1)
        prev = np.concatenate([np.full((n, 1), -2), obs_v[:, :-1]], axis=1)
        start = valid & (obs_v != prev)
        nxt = np.concatenate([obs_v[:, 1:], np.full((n, 1), -2)], axis=1)
        stop = valid & (obs_v != nxt)
        si, sk = np.nonzero(start)
        ei, ek = np.nonzero(stop)
        start_day = month_start(mon[si, sk])
        last_valid = ek == (valid.sum(axis=1) - 1)[ei]
        fend = a["followup_end"][ei]
        end_day = np.minimum(month_end(mon[ei, ek]), fend)
        ongoing = last_valid & (fend == self.pop.data_end) & (month_end(mon[ei, ek]) >= fend)
        end_day = np.where(ongoing, NAT, end_day)
        housing = {
            "person": si,
            "start_date": start_day,
            "end_date": end_day,
            "status": np.asarray(HOUSING_STATUS, dtype=object)[obs[si, sk]],
        }
        # truth: baseline = month before the index month; post = months 1..housing_months
        truth: dict[str, np.ndarray] = {}
        if L.size:
            mo, v = moff[L], valid[L]
            base = (mo == -1) & v
            h = e.housing_months
            post = (mo >= 1) & (mo <= h) & v
            for arm_name, st in (("y0", status0[L]), ("y1", status1[L])):
                truth[f"sheltered_months_post_{h}m_{arm_name}"] = ((st >= 1) & post).sum(axis=1)
                truth[f"permanent_months_post_{h}m_{arm_name}"] = ((st == 3) & post).sum(axis=1)
            truth["sheltered_baseline"] = ((status0[L] >= 1) & base).any(axis=1)
            truth["permanent_baseline"] = ((status0[L] == 3) & base).any(axis=1)
            truth[f"months_observed_post_{h}m"] = post.sum(axis=1)
            cnt = np.where((mo >= 1) & (mo <= h) & v, Cm, 0)
            truth[f"contacts_post_{h}m"] = cnt.sum(axis=1)
        return housing, truth

    # -- income ----------------------------------------------------------------------------
    def _income(self):
        a, rng, e = self.a, self.rng, self.e
        n = self.n
        mi0 = month_of(a["index"])
        M = np.arange(INCOME_MONTHS[0], INCOME_MONTHS[1] + 1)
        mon = mi0[:, None] + M[None, :]
        valid = mon <= month_of(a["followup_end"])[:, None]
        u = rng.random((n, M.size, 4))
        amt = rng.random((n, M.size, 3))
        pe = employment_prob(a["emp_lat"], a["unsheltered_m1"])[:, None] * np.ones((1, M.size))
        pb = benefits_prob(a["ben_lat"], a["unsheltered_m1"])[:, None] * np.ones((1, M.size))
        post = M[None, :] >= 1
        treat = a["lead"][:, None] & post
        pe1 = np.where(treat, cal.or_transform(pe, e.employment_or), pe)
        pb1 = np.where(treat, cal.or_transform(pb, e.benefits_or), pb)
        emp0, emp1 = u[..., 0] < pe, u[..., 0] < pe1
        ben0, ben1 = u[..., 1] < pb, u[..., 1] < pb1
        oth = u[..., 2] < 0.04
        emp = np.where(a["lead"][:, None], emp1, emp0) & valid
        ben = np.where(a["lead"][:, None], ben1, ben0) & valid
        oth &= valid
        none = valid & ~emp & ~ben & ~oth & (u[..., 3] < 0.1)
        rows_p, rows_m, rows_s, rows_a = [], [], [], []
        for code, mask, amount in (
            (0, emp, np.round(np.exp(6.6 + 0.5 * _norm_ppf(amt[..., 0])), 2)),
            (1, ben, np.round(600 + 400 * amt[..., 1], 2)),
            (2, oth, np.round(50 + 300 * amt[..., 2], 2)),
            (3, none, np.zeros((n, M.size))),
        ):
            i, k = np.nonzero(mask)
            rows_p.append(i)
            rows_m.append(mon[i, k])
            rows_s.append(np.full(i.size, code))
            rows_a.append(amount[i, k])
        person = np.concatenate(rows_p)
        month = np.concatenate(rows_m)
        src = np.concatenate(rows_s)
        order = np.lexsort((src, month, person))
        income = {
            "person": person[order],
            "month": month[order],
            "source": np.array(["employment", "benefits", "other_legitimate", "none"], dtype=object)[src[order]],
            "amount": np.concatenate(rows_a)[order],
        }
        truth: dict[str, np.ndarray] = {}
        L = self.lead_local
        if L.size:
            win = (M[None, :] >= 1) & (M[None, :] <= 12) & valid[L]
            truth["employed_months_post_12m_y0"] = (emp0[L] & win).sum(axis=1)
            truth["employed_months_post_12m_y1"] = (emp1[L] & win).sum(axis=1)
            truth["benefits_months_post_12m_y0"] = (ben0[L] & win).sum(axis=1)
            truth["benefits_months_post_12m_y1"] = (ben1[L] & win).sum(axis=1)
        return income, truth

    # -- truth -----------------------------------------------------------------------------
    def _truth(self, ar, ch, jail, prison, ems) -> dict[str, np.ndarray]:
        a, p = self.a, self.p
        L = self.lead_local
        if L.size == 0:
            return {}
        pos = np.full(self.n, -1)
        pos[L] = np.arange(L.size)
        e, end = a["index"][L], a["followup_end"][L]
        F = (end - e).astype(float)
        out: dict[str, Any] = {"person": L, "followup_days": end - e}
        legal = np.array([p.legal_cost["felony"], p.legal_cost["gross_misdemeanor"], p.legal_cost["misdemeanor"]])
        windows: list[int | str] = [*p.post_windows, "all"]
        for w in windows:
            hi = end if w == "all" else np.minimum(e + int(w), end)
            complete = np.ones(L.size, bool) if w == "all" else (e + int(w) <= end)
            tag = "all" if w == "all" else f"{w}d"
            out[f"window_complete_post_{tag}"] = complete
            out[f"days_post_{tag}"] = hi - e
            for arm_name, arm_v in (("y0", 0), ("y1", 1)):
                def sel(ev, arm_v=arm_v, hi=hi):
                    j = pos[ev["person"]]
                    m = (j >= 0) & ((ev["arm"] == -1) | (ev["arm"] == arm_v))
                    jj = np.where(m, j, 0)
                    m &= (ev["day"] > e[jj]) & (ev["day"] <= hi[jj])
                    return m, jj

                def count(ev, extra=None, weights=None):
                    m, jj = sel(ev)
                    if extra is not None:
                        m &= extra
                    w_ = None if weights is None else weights[m]
                    return np.bincount(jj[m], weights=w_, minlength=L.size)

                n_arr = count(ar)
                out[f"arrests_post_{tag}_{arm_name}"] = n_arr.astype(np.int64)
                out[f"felony_arrests_post_{tag}_{arm_name}"] = count(ar, ar["sev"] == FELONY).astype(np.int64)
                n_ch = count(ch)
                out[f"charges_post_{tag}_{arm_name}"] = n_ch.astype(np.int64)
                n_fc = count(ch, ch["sev"] == FELONY)
                out[f"felony_charges_post_{tag}_{arm_name}"] = n_fc.astype(np.int64)
                out[f"legal_cost_post_{tag}_{arm_name}"] = count(ch, weights=legal[ch["sev"]])
                n_b = count(jail)
                out[f"bookings_post_{tag}_{arm_name}"] = n_b.astype(np.int64)
                n_pr = count(prison)
                out[f"ems_calls_post_{tag}_{arm_name}"] = count(ems).astype(np.int64)
                out[f"jail_days_post_{tag}_{arm_name}"] = _stay_days(jail, pos, arm_v, e, hi, end, L.size)
                out[f"prison_days_post_{tag}_{arm_name}"] = _stay_days(prison, pos, arm_v, e, hi, end, L.size)
                for name, cnt in (("arrest", n_arr), ("felony_charge", n_fc), ("prison", n_pr)):
                    v = (cnt > 0).astype(float)
                    out[f"{name}_post_{tag}_{arm_name}"] = np.where(complete, v, np.nan)
            # expected probabilities of any arrest in the window, from the hazards
            s = np.minimum(F, F if w == "all" else float(w))
            cum0 = a["lam"][L] * s
            hzf, cumf = self.seg["felony"]
            hzo, cumo = self.seg["other"]
            cum1 = _cum_at(s, self.seg["B"], cumf, hzf) + _cum_at(s, self.seg["B"], cumo, hzo)
            out[f"p_arrest_post_{tag}_y0"] = np.where(complete, 1 - np.exp(-cum0), np.nan)
            out[f"p_arrest_post_{tag}_y1"] = np.where(complete, 1 - np.exp(-cum1), np.nan)
        out["lambda_arrest_per_year"] = a["lam"][L] * 365.0
        out["contact_rate_per_month"] = a["kappa"][L]
        m = self.cal["multipliers"]
        for k in ("felony_1", "felony_2", "other_1", "other_2"):
            out[f"hazard_ratio_{k}"] = m[k][self.lead_rank]
        return out


def _stay_days(st, pos, arm_v, e, hi, end, n):
    """Days inside [e+1, hi] covered by at least one stay [admission, release] (open stays run
    to follow-up end); a day covered by overlapping stays counts once."""
    j = pos[st["person"]]
    m = (j >= 0) & ((st["arm"] == -1) | (st["arm"] == arm_v))
    jj, start = j[m], st["day"][m]
    rel = st["release"][m]
    rel = np.where(rel == NAT, end[jj], np.minimum(rel, end[jj]))
    order = np.lexsort((rel, start, jj))
    jj, start, rel = jj[order], start[order], rel[order]
    # latest release among the person's earlier stays (running max within person)
    big = np.int64(1) << 40
    shifted = np.maximum.accumulate(rel + jj * big) - jj * big
    prev = np.r_[np.int64(-(1 << 40)), shifted[:-1]]
    prev = np.where(np.r_[True, jj[1:] != jj[:-1]], -(1 << 40), prev)
    lo = np.maximum(np.maximum(start, prev + 1), e[jj] + 1)
    up = np.minimum(rel, hi[jj])
    days = np.maximum(up - lo + 1, 0)
    return np.bincount(jj, weights=days, minlength=n).astype(np.int64)


def _dedupe_prison(pr: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One admission per person, day and arm (the schema key is person_id + admission_date)."""
    order = np.lexsort((pr["release"], pr["day"], pr["person"], pr["arm"]))
    pr = {k: v[order] for k, v in pr.items()}
    if pr["person"].size == 0:
        return pr
    key = np.stack([pr["arm"], pr["person"], pr["day"]], axis=1)
    first = np.ones(key.shape[0], bool)
    first[1:] = np.any(key[1:] != key[:-1], axis=1)
    # keep the longest stay of the same-day admissions
    last = np.ones(key.shape[0], bool)
    last[:-1] = first[1:]
    return {k: v[last] for k, v in pr.items()}


def _norm_ppf(u: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(u)


def observed_mask(ev: dict[str, np.ndarray], lead: np.ndarray) -> np.ndarray:
    """Keep common rows, the Y(1) rows of participants and the Y(0) rows of pool members."""
    arm = ev["arm"]
    is_lead = lead[ev["person"]]
    return (arm == -1) | ((arm == 1) & is_lead) | ((arm == 0) & ~is_lead)
