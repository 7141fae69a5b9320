"""Demo fibre network: PMs, interventions, targets, M5 reports, cuts, and the message log.

The world is simulated first (who intervened where and when, which customer
lines were cut and why); then the e-Intervention message log the OI received
is written from it (M1/M3 from the DOs, M5 from the OCs that use flow 3, with
the retries, corrections and errors of real traffic); the tabular files hold
what the OI's base contains after receiving that log under the rules of the
lot 1 specification (one ``Ref_Interv_OI`` per DO reference, a KO message is
not stored, an M1 after its M3 keeps what M3 brought, a re-emission with
changes updates the record, a re-sent M5 replaces the list), plus what the OI
knows about cuts from elsewhere (line supervision, power alarms, churn).

``Ref_Interv_OI`` values come from :func:`evaluation.eintervention.rules.make_ref`,
the function the reception uses, so loading ``pms`` + ``messages.ndjson``
gives the same interventions and outage reports as the tabular files.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..eintervention.rules import make_ref
from .common import (
    DAY,
    HOUR,
    MINUTE,
    NETWORK_FROM,
    SINGLE,
    T_END,
    Scale,
    Shard,
    lognormal_h,
    pick,
    rng_for,
    secs,
    to_dt,
    zpad,
)

OI_CODES = ("ALTF", "NEOI")
# Code_DO, share of the interventions
DOS = (("TECA", 0.24), ("FIBX", 0.20), ("RAPI", 0.15), ("CONX", 0.15), ("LINK", 0.14),
       ("OPTL", 0.12))
SLOPPY_DO = "RAPI"       # declares HD late and HF early, sends M1 hours late
LOCAL_TIME_DO = "OPTL"   # sends its times in French local time with an offset
# Code_OC, market share, share of its M5 sent (flow 3 is optional)
OCS = (("OCAA", 0.34, 1.0), ("BLEU", 0.26, 0.95), ("VERT", 0.20, 0.9), ("ROUG", 0.12, 0.5),
       ("NOIR", 0.08, 0.0))
NO_FLOW3_OC = "NOIR"
LATE_FLOW3_OC = "VERT"                     # uses flow 3 only from this date on
LATE_FLOW3_FROM = secs("2025-03-01")
COMMUNES = (("35238", "Rennes"), ("44109", "Nantes"), ("29019", "Brest"), ("56121", "Lorient"),
            ("22278", "Saint-Brieuc"), ("49007", "Angers"), ("72181", "Le Mans"),
            ("53130", "Laval"), ("85191", "La Roche-sur-Yon"), ("56260", "Vannes"))
# Planted PMs (position in the PM list -> role)
BAD_PMS = {0: 0.6, 1: 0.5, 2: 0.4}           # incident probability per intervention
NOISE_PM = 3                                  # 12 lines, one intervention, one client cut
POWER_PM = 4                                  # a power cut inside an intervention window
TARGET_PM = 5                                 # the DO's own target line cut


def pm_ids(n: int, base: int = 0) -> np.ndarray:
    g = base + np.arange(n)
    commune = np.array([c[0] for c in COMMUNES], dtype=object)[g % len(COMMUNES)]
    return ("FI-" + pd.Series(commune) + "-" + zpad(g // len(COMMUNES) + 1, 4)).values


# ------------------------------------------------------------------ PMs and lines

def pms(scale: Scale, seed, shard: Shard = SINGLE) -> pd.DataFrame:
    rng = rng_for(seed, "pms")
    n = max(scale.pms, 8)
    lines = np.clip(np.exp(np.log(250) + 0.6 * rng.standard_normal(n)), 24, 1200).astype(int)
    oi = pick(rng, OI_CODES, n, [0.7, 0.3])
    shares = rng.dirichlet(np.array([s for _, s, _ in OCS]) * 20, size=n)
    shares[shares < 0.03] = 0
    if shard.planted:
        for i, size in ((0, 700), (1, 600), (2, 500), (NOISE_PM, 12), (POWER_PM, 300),
                        (TARGET_PM, 300)):
            lines[i] = size
            oi[i] = OI_CODES[0]
        shares[NOISE_PM] = [1, 0, 0, 0, 0]
        shares[POWER_PM, 0] = max(shares[POWER_PM, 0], 0.3)
    shares /= shares.sum(axis=1, keepdims=True)
    counts = np.floor(shares * lines[:, None]).astype(int)
    counts[np.arange(n), counts.argmax(axis=1)] += lines - counts.sum(axis=1)
    df = pd.DataFrame({
        "pm_id": pm_ids(n, shard.pm_base), "oi_code": oi, "lines": lines,
        "zone": np.array([c[1] for c in COMMUNES], dtype=object)[np.arange(n) % len(COMMUNES)],
    })
    df.attrs["oc_bounds"] = np.cumsum(counts, axis=1)       # line j belongs to OC k if j < bound k
    df.attrs["line_offset"] = np.concatenate([[0], np.cumsum(lines)[:-1]])
    df.attrs["shard"] = shard
    return df


def line_attrs(pm_df: pd.DataFrame, p: np.ndarray, j: np.ndarray) -> pd.DataFrame:
    """Reference data of line ``j`` of PM ``p``: OC, PTO, PBO, tube, fibre, PM position."""
    bounds = pm_df.attrs["oc_bounds"][p]
    oc_idx = (j[:, None] >= bounds).sum(axis=1)
    sh = pm_df.attrs["shard"]
    g = sh.line_base + pm_df.attrs["line_offset"][p] + j
    pbo_no = (sh.line_base + pm_df.attrs["line_offset"][p]) // 8 + sh.pm_base + p + j // 8
    oc = np.array([c for c, _, _ in OCS], dtype=object)[oc_idx]
    pos = ("M" + pd.Series(zpad(j // 96 + 1, 2)) + "-P" + zpad(j % 96 + 1, 2)).values
    pos[oc == "ROUG"] = None  # this OC never knows the PM position of its lines
    return pd.DataFrame({
        "oc": oc, "oc_idx": oc_idx,
        "pto": ("FI-" + pd.Series(zpad(g // 10000 + 1000, 4)) + "-" + zpad(g % 10000, 4)).values,
        "pbo": ("PT" + pd.Series(zpad(pbo_no, 7))).values,
        "tube": ("T" + pd.Series(zpad((j // 12) % 24 + 1, 2))).values,
        "fibre": ("F" + pd.Series(zpad(j % 12 + 1, 2))).values,
        "position_pm": pos,
    })


# ------------------------------------------------------------------ interventions

def _workdays(start: int, end: int) -> np.ndarray:
    days = np.arange(start // DAY, end // DAY) * DAY
    dow = (days // DAY + 3) % 7   # 1970-01-01 was a Thursday (dow 3, Monday = 0)
    return days[dow < 5]


def interventions(scale: Scale, seed: int | str, pm_df: pd.DataFrame) -> pd.DataFrame:
    """The DO presence periods (true times) with their message scenario."""
    rng = rng_for(seed, "interventions")
    n_pm = len(pm_df)
    months = (T_END - secs(NETWORK_FROM)) / (30.4 * DAY)
    lam = scale.interventions_per_line_month * pm_df["lines"].values * months
    k = rng.poisson(lam)
    planted = pm_df.attrs["shard"].planted
    if planted:
        k[NOISE_PM] = 1
    p = np.repeat(np.arange(n_pm), k)
    n = len(p)
    days = _workdays(secs(NETWORK_FROM), T_END - DAY)
    hd = days[rng.integers(0, len(days), n)] + 7 * HOUR + 30 * MINUTE + rng.integers(0, 630 * 60, n)
    dur = np.clip(lognormal_h(rng, 50 / 60, 0.6, n), 8 * MINUTE, 5 * HOUR).astype(np.int64)
    do = pick(rng, [d for d, _ in DOS], n, [w for _, w in DOS])
    # A technician back the next morning: a new presence period, a new DO reference.
    back = rng.random(n) < 0.03
    p2, do2 = p[back], do[back]
    hd2 = hd[back] // DAY * DAY + DAY + 8 * HOUR + rng.integers(0, 2 * HOUR, back.sum())
    dur2 = np.clip(lognormal_h(rng, 40 / 60, 0.5, back.sum()), 8 * MINUTE, 3 * HOUR).astype(np.int64)
    iv = pd.DataFrame({"p": np.concatenate([p, p2]), "do": np.concatenate([do, do2]),
                       "hd": np.concatenate([hd, hd2]), "dur": np.concatenate([dur, dur2])})
    iv = iv[iv["hd"] + iv["dur"] < T_END - 2 * HOUR]
    iv = iv.sort_values(["hd", "p", "do"], kind="stable").reset_index(drop=True)
    n = len(iv)
    iv["hf"] = iv["hd"] + iv["dur"]
    iv["pm_id"] = pm_df["pm_id"].values[iv["p"].values]
    iv["code_oi"] = pm_df["oi_code"].values[iv["p"].values]
    # (shards other than 0 number from shard * 100000, so DO references stay unique)
    seq = iv.groupby("do").cumcount().values + 1 + pm_df.attrs["shard"].index * 100_000
    day = pd.Series(np.datetime_as_string(iv["hd"].values.astype("datetime64[s]"), unit="D"))
    iv["ref_do"] = (iv["do"] + "-" + day.str.slice(2, 4) + day.str.slice(5, 7)
                    + day.str.slice(8, 10) + "-" + zpad(seq, 5)).values
    # The reception's own (scalar, hash-based) function, so both paths give the same
    # references; the one per-row Python call of the generator (~1 s per million).
    iv["ref_oi"] = [make_ref(a, b, c) for a, b, c in
                    zip(iv["code_oi"].values, iv["do"].values, iv["ref_do"].values)]
    # Message scenario of each intervention (mutually exclusive), then extras.
    sloppy = iv["do"].values == SLOPPY_DO
    u = rng.random(n)
    scen = np.select([u < 0.03, u < 0.05, u < 0.06], ["no_hf", "m3_only", "m3_first"], "normal")
    if planted:
        scen[NOISE_PM == iv["p"].values] = "normal"
    iv["scen"] = scen
    m1_delay = np.where(rng.random(n) < 0.03, rng.integers(15 * 60, 90 * 60, n),
                        rng.integers(20, 240, n))
    m1_delay = np.where(sloppy & (rng.random(n) < 0.7), rng.integers(1 * HOUR, 8 * HOUR, n), m1_delay)
    m3_delay = rng.integers(20, 300, n)
    iv["m3"] = np.where(scen == "no_hf", np.nan, iv["hf"] + m3_delay).astype(float)
    m1 = (iv["hd"] + m1_delay).astype(float).values
    late_m1 = iv["m3"].values + rng.integers(10 * 60, 120 * 60, n)
    m1 = np.where(scen == "m3_first", late_m1, m1)
    m1 = np.where(scen == "m3_only", np.nan, m1)
    iv["m1"] = m1
    normal = scen == "normal"
    iv["dup_m1"] = normal & (rng.random(n) < 0.03)
    iv["dup_m3"] = normal & (rng.random(n) < 0.02)
    gap = iv["m3"].values - m1
    iv["mod_m1"] = normal & ~iv["dup_m1"].values & (gap > 20 * MINUTE) & (rng.random(n) < 0.02)
    iv["mod_m3"] = normal & ~iv["dup_m3"].values & (iv["dur"].values > 30 * MINUTE) & \
        (rng.random(n) < 0.01)
    # A modified M1: the first said HD 7 minutes late; the corrected one comes half-way
    # to M3, and the OI keeps its HD and its reception time.
    iv["m1_mod"] = np.where(iv["mod_m1"].values, m1, np.nan)
    m1 = np.where(iv["mod_m1"].values, m1 + np.nan_to_num(gap) // 2, m1)
    iv["m1"] = m1
    iv["m3_fix"] = np.where(iv["mod_m3"].values, iv["m3"].values + rng.integers(HOUR, 6 * HOUR, n),
                            np.nan)
    # KO first attempts, corrected and re-sent 20-60 minutes later (the OI stores only
    # the corrected one, so its reception time is the M1 time of the record).
    free = normal & ~iv["mod_m1"].values & ~iv["dup_m1"].values & (gap > 90 * MINUTE)
    cand = np.nonzero(free)[0]
    ko = np.sort(rng.choice(cand, size=min(len(cand), max(8, n // 200)), replace=False))
    kinds = np.array(["bad_date", "bad_code", "unknown_pm", "unknown_oi"])
    iv["ko"] = ""
    iv.loc[ko, "ko"] = kinds[np.arange(len(ko)) % len(kinds)]
    iv["m1_ko"] = np.nan
    iv.loc[ko, "m1_ko"] = m1[ko]
    m1 = m1.copy()
    m1[ko] = m1[ko] + rng.integers(20 * 60, 60 * 60, len(ko))
    iv["m1"] = m1
    # An M3 without Fin_Inter (CHAMPS_NON_RENSEIGNE), completed 10-40 minutes later.
    cand3 = np.nonzero(normal & ~iv["mod_m3"].values & ~iv["dup_m3"].values
                       & (iv["ko"].values == ""))[0]
    miss = np.sort(rng.choice(cand3, size=min(len(cand3), max(3, n // 500)), replace=False))
    iv["m3_ko"] = np.nan
    iv.loc[miss, "m3_ko"] = iv["m3"].values[miss]
    m3v = iv["m3"].values.copy()
    m3v[miss] = m3v[miss] + rng.integers(10 * 60, 40 * 60, len(miss))
    iv["m3"] = m3v
    return iv


def targets(seed: int | str, pm_df: pd.DataFrame, iv: pd.DataFrame) -> pd.DataFrame:
    """Nature_PBO_PTO of each intervention (final values, as in its last applied message)."""
    rng = rng_for(seed, "targets")
    n = len(iv)
    k = rng.choice([1, 2, 3], size=n, p=[0.75, 0.2, 0.05])
    r = np.repeat(np.arange(n), k)
    m = len(r)
    p = iv["p"].values[r]
    j = (rng.random(m) * pm_df["lines"].values[p]).astype(np.int64)
    la = line_attrs(pm_df, p, j)
    nature = pick(rng, ["racc", "sav", "aucune_action", "non_fournie"], m, [0.55, 0.35, 0.04, 0.06])
    # Only an M3 may say "aucune action": interventions that never got theirs keep nature 4.
    no_m3 = iv["scen"].values[r] == "no_hf"
    nature[no_m3 & (nature == "aucune_action")] = "non_fournie"
    hidden = (nature == "non_fournie") & (rng.random(m) < 0.5)
    t = pd.DataFrame({"i": r, "nature": nature,
                      "pbo": np.where(hidden, None, la["pbo"].values),
                      "pto": np.where(hidden, None, la["pto"].values),
                      "j": np.where(hidden, -1, j), "oc": la["oc"].values})
    t = t.drop_duplicates(["i", "nature", "pbo", "pto"]).reset_index(drop=True)
    t["ref_interv_oi"] = iv["ref_oi"].values[t["i"].values]
    return t


# ------------------------------------------------------------------ cuts

def _restore(rng, cut: np.ndarray, hf: np.ndarray) -> np.ndarray:
    n = len(cut)
    u = rng.random(n)
    end_of_job = np.maximum(hf, cut) + rng.integers(60, 2 * HOUR, n)
    short = cut + rng.integers(2 * 60, 20 * 60, n)         # back within minutes, same day
    days = cut + rng.integers(1 * DAY, 5 * DAY, n)
    out = np.select([u < 0.70, u < 0.85, u < 0.95], [end_of_job, short, days], np.nan).astype(float)
    out[out >= T_END] = np.nan
    return out


def cuts(seed: int | str, pm_df: pd.DataFrame, iv: pd.DataFrame, tg: pd.DataFrame) -> pd.DataFrame:
    """Every customer line cut of the period, with the intervention that caused it (if any)."""
    rng = rng_for(seed, "cuts")
    n = len(iv)
    p = iv["p"].values
    hd, hf = iv["hd"].values, iv["hf"].values
    planted = pm_df.attrs["shard"].planted
    p_inc = rng.uniform(0.02, 0.10, len(pm_df))
    bad = np.zeros(n, bool)
    if planted:
        for i, q in BAD_PMS.items():
            p_inc[i] = q
        p_inc[NOISE_PM] = 1.0
        bad = np.isin(p, list(BAD_PMS))
    incident = rng.random(n) < p_inc[p]
    k = np.where(incident, 1 + rng.poisson(np.where(bad, 2.5, 1.2)), 0)
    if planted:
        k[p == NOISE_PM] = 1
    r = np.repeat(np.arange(n), k)
    m = len(r)
    rp = p[r]
    j = (rng.random(m) * pm_df["lines"].values[rp]).astype(np.int64)
    no_hf = iv["scen"].values[r] == "no_hf"
    span = np.where(no_hf, HOUR, hf[r] - hd[r])
    cut = hd[r] + (rng.uniform(0.05, 0.95, m) * span).astype(np.int64)
    # The sloppy DO's declared window misses half of its cuts by 1-10 minutes.
    sloppy = (iv["do"].values[r] == SLOPPY_DO) & ~no_hf & (rng.random(m) < 0.5)
    before = rng.random(m) < 0.5
    off = rng.integers(60, 10 * 60, m)
    cut = np.where(sloppy & before, hd[r] - off, np.where(sloppy, hf[r] + off, cut))
    caused = pd.DataFrame({"p": rp, "j": j, "cut": cut, "i": r, "kind": "intervention",
                           "cause": None})
    # The DO's own target line is cut while it works on it (must not count).
    tj = tg[tg["j"] >= 0].drop_duplicates("i")
    tj = tj[iv["scen"].values[tj["i"].values] != "no_hf"]
    sel = tj[rng.random(len(tj)) < 0.08]
    ti = sel["i"].values
    planted_t = tg[planted & (tg["j"] >= 0) & (p[tg["i"].values] == TARGET_PM)
                   & (iv["scen"].values[tg["i"].values] != "no_hf")
                   & (tg["oc"].values == "OCAA")].head(1)
    ti = np.unique(np.concatenate([ti, planted_t["i"].values]))
    tsel = tg[tg["j"] >= 0].drop_duplicates("i").set_index("i").loc[ti]
    tcut = pd.DataFrame({"p": p[ti], "j": tsel["j"].values,
                         "cut": hd[ti] + ((hf[ti] - hd[ti]) * rng.uniform(0.1, 0.9, len(ti))).astype(np.int64),
                         "i": ti, "kind": "target", "cause": None})
    # Power cuts: a share of a PM's lines drops at once (dying gasp).
    ev_pm = np.repeat(np.arange(len(pm_df)), rng.poisson(0.8, len(pm_df)))
    ev_t = secs(NETWORK_FROM) + (rng.random(len(ev_pm)) * (T_END - secs(NETWORK_FROM))).astype(np.int64)
    # Planted, mid-way through the first full intervention at the PM: at POWER_PM 8
    # OCAA lines (OCAA lists them in its M5); at the first bad PM 5 lines known from
    # supervision only. Both must not count as cuts caused by the intervention.
    plants = []
    spec = ((POWER_PM, 8, "listed"), (0, 5, "supervision")) if planted else ()
    for pm_pos, size_k, how in spec:
        cand = np.nonzero((p == pm_pos) & (iv["scen"].values == "normal")
                          & (hf - hd > 30 * MINUTE))[0]
        if len(cand):
            plants.append((cand[0], pm_pos, size_k, how))
    n_rand = len(ev_pm)
    for i_pl, pm_pos, _, _ in plants:
        ev_pm = np.append(ev_pm, pm_pos)
        ev_t = np.append(ev_t, (hd[i_pl] + hf[i_pl]) // 2)
    lines = pm_df["lines"].values[ev_pm]
    size = np.minimum((lines * rng.uniform(0.1, 0.4, len(ev_pm))).astype(int) + 1, 60)
    for k, (_, _, size_k, _) in enumerate(plants):
        size[n_rand + k] = size_k
    ev = np.repeat(np.arange(len(ev_pm)), size)
    pj = (rng.random(len(ev)) * lines[ev]).astype(np.int64)
    power = pd.DataFrame({"p": ev_pm[ev], "j": pj, "cut": ev_t[ev] + rng.integers(0, 30, len(ev)),
                          "i": -1, "kind": "power", "cause": "power", "plant": ""})
    for k, (i_pl, _, _, how) in enumerate(plants):
        sel = ev == n_rand + k
        # the first lines of the PM (OCAA's, the largest share, by construction)
        power.loc[sel, "j"] = np.arange(sel.sum())
        power.loc[sel, "plant"] = how
        power.loc[sel, "i"] = i_pl
    # Background failures anywhere, any time.
    total = int(pm_df["lines"].sum())
    nb = rng.poisson(total * 0.02)
    gl = np.sort(rng.integers(0, total, nb))
    bp = np.searchsorted(np.cumsum(pm_df["lines"].values), gl, side="right")
    bj = gl - pm_df.attrs["line_offset"][bp]
    back = pd.DataFrame({"p": bp, "j": bj,
                         "cut": secs(NETWORK_FROM) + (rng.random(nb) * (T_END - secs(NETWORK_FROM))).astype(np.int64),
                         "i": -1, "kind": "background", "cause": None})
    c = pd.concat([caused, tcut, power, back], ignore_index=True)
    c["plant"] = c["plant"].fillna("")
    c = c[c["cut"] < T_END].reset_index(drop=True)
    hf_of = np.where(c["i"].values >= 0, hf[np.maximum(c["i"].values, 0)], c["cut"].values)
    c["restored"] = _restore(rng, c["cut"].values, hf_of)
    pw = (c["kind"] == "power").values
    c.loc[pw, "restored"] = (c["cut"].values[pw] + rng.integers(30 * 60, 4 * HOUR, pw.sum()))
    tk = (c["kind"] == "target").values
    c.loc[tk, "restored"] = c["cut"].values[tk] + rng.integers(5 * 60, 30 * 60, tk.sum())
    c.loc[c["restored"] >= T_END, "restored"] = np.nan
    m = len(c)
    c["churned"] = np.where(c["kind"].isin(["intervention", "background"]),
                            rng.random(m) < np.where(c["kind"] == "background", 0.1, 0.03), False)
    la = line_attrs(pm_df, c["p"].values, c["j"].values)
    c = pd.concat([c, la], axis=1)
    # Some OCs cannot tell tube or fibre for a few lines ("inconnu" in M5, empty here).
    unk = rng.random(m) < 0.05
    c.loc[unk, "tube"] = None
    c.loc[unk & (rng.random(m) < 0.5), "fibre"] = None
    return c


def assign_sources(seed: int | str, iv: pd.DataFrame, present: np.ndarray,
                   c: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which OC sends an M5 for which intervention, and which cuts it lists.

    Returns (reports, cuts with ``ref``): a cut is listed in an M5 when its OC
    reports on the intervention whose declared window [HD, HF] holds the cut;
    other cuts are known from supervision (60 %) or not at all.
    """
    rng = rng_for(seed, "reports")
    # M5 senders: every OC present at the PM that uses flow 3 for this intervention.
    has_m3 = iv["scen"].values != "no_hf"
    oc_codes = np.array([o for o, _, _ in OCS], dtype=object)
    usage = np.array([u for _, _, u in OCS])
    rows_i, rows_k = [], []
    for k, code in enumerate(oc_codes):
        use = usage[k] * np.ones(len(iv))
        if code == LATE_FLOW3_OC:
            use = np.where(iv["hf"].values >= LATE_FLOW3_FROM, use, 0.0)
        send = has_m3 & present[:, k] & (rng.random(len(iv)) < use)
        idx = np.nonzero(send)[0]
        rows_i.append(idx)
        rows_k.append(np.full(len(idx), k))
    rep = pd.DataFrame({"i": np.concatenate(rows_i), "k": np.concatenate(rows_k)})
    rep["code_oc"] = oc_codes[rep["k"].values]
    rep = rep.sort_values(["i", "k"], kind="stable").reset_index(drop=True)
    # Cuts inside a declared window, caused by it or not (power, background at the same PM).
    c = c.copy()
    c["cut_s"] = c["cut"].astype(np.int64)
    ivw = pd.DataFrame({"i_win": np.arange(len(iv)), "p": iv["p"].values,
                        "hd": iv["hd"].values.astype(np.int64), "hf": iv["hf"].values.astype(np.int64)})
    ivw = ivw[has_m3].sort_values("hd", kind="stable")
    cs = c.reset_index().sort_values("cut_s", kind="stable")
    win = pd.merge_asof(cs, ivw, left_on="cut_s", right_on="hd", by="p", direction="backward")
    win = win.set_index("index").sort_index()
    inside = win["i_win"].notna().values & (c["cut_s"].values <= win["hf"].fillna(-1).values)
    iw = np.where(inside, win["i_win"].fillna(-1).values, -1).astype(np.int64)
    # Caused cuts belong to their own intervention when inside its window.
    own = c["i"].values >= 0
    own_inside = own & (c["cut_s"].values >= iv["hd"].values[np.maximum(c["i"].values, 0)]) & \
        (c["cut_s"].values <= iv["hf"].values[np.maximum(c["i"].values, 0)]) & \
        has_m3[np.maximum(c["i"].values, 0)]
    iw = np.where(own, np.where(own_inside, c["i"].values, -1), iw)
    # the cut's OC sent an M5 for the window's intervention
    n_oc = len(OCS)
    key_ok = np.isin(iw * n_oc + c["oc_idx"].values,
                     rep["i"].values.astype(np.int64) * n_oc + rep["k"].values) & (iw >= 0)
    m = len(c)
    listed = key_ok & (iw >= 0) & c["pto"].notna().values
    # OCs drop most churned lines and half of the power cuts (dying gasp) from their lists.
    churn_drop = c["churned"].values & (rng.random(m) < 0.7)
    plant = c["plant"].values
    power_drop = (c["kind"].values == "power") & (plant == "") & (rng.random(m) < 0.5)
    listed &= ~churn_drop & ~power_drop
    listed |= (plant == "listed") & key_ok
    listed &= plant != "supervision"
    c["ref_i"] = np.where(listed, iw, -1)
    # Known from supervision otherwise (60 %), the rest never reaches the OI.
    c["known"] = listed | (plant == "supervision") | (rng.random(m) < 0.6)
    # A few supervised cuts lack their PTO.
    c.loc[~listed & (rng.random(m) < 0.03), "pto"] = None
    c = c[c["known"].values].reset_index(drop=True)
    c["cause"] = np.where(c["kind"] == "power", "power",
                          np.where(c["ref_i"] >= 0, None,
                                   np.where(rng.random(len(c)) < 0.7, "other", None)))
    c = c.drop_duplicates(["oc", "p", "pto", "pbo", "tube", "fibre", "position_pm", "cut"])
    c = c.sort_values(["cut", "p", "j"], kind="stable").reset_index(drop=True)
    counts = c[c["ref_i"] >= 0].groupby(["ref_i", "oc_idx"]).size()
    rep["clients_hs"] = counts.reindex(pd.MultiIndex.from_arrays(
        [rep["i"].values, rep["k"].values])).fillna(0).astype(int).values
    return rep, c


# ------------------------------------------------------------------ messages

def _iso(t: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(np.asarray(t, dtype=np.int64).astype("datetime64[s]"),
                                             unit="s"), "Z").astype(object)


def _paris_offset(t: np.ndarray) -> np.ndarray:
    """Offset of French local time (s) at UTC instants of 2025 (DST 30 Mar - 26 Oct)."""
    dst = (t >= secs("2025-03-30 01:00")) & (t < secs("2025-10-26 01:00"))
    return np.where(dst, 2 * HOUR, HOUR)


def _do_time(t: np.ndarray, do: np.ndarray) -> np.ndarray:
    """Debut_Inter / Fin_Inter text: UTC with Z, or local time with offset for one DO."""
    t = np.asarray(t, dtype=np.int64)
    out = _iso(t)
    loc = do == LOCAL_TIME_DO
    if loc.any():
        off = _paris_offset(t[loc])
        txt = np.datetime_as_string((t[loc] + off).astype("datetime64[s]"), unit="s")
        out[loc] = np.char.add(txt, np.where(off == 2 * HOUR, "+02:00", "+01:00")).astype(object)
    return out


def join_groups(group: np.ndarray, items: np.ndarray, n: int) -> np.ndarray:
    """Comma-joined ``items`` per group ``0..n-1`` (empty string for an empty group).

    Items keep their order within a group; the joins are one ``np.add.reduceat``
    over the sorted object array, not a Python loop over groups.
    """
    out = np.full(n, "", dtype=object)
    if len(items) == 0:
        return out
    order = np.argsort(group, kind="stable")
    g = np.asarray(group)[order]
    it = np.asarray(items, dtype=object)[order]
    first = np.r_[True, g[1:] != g[:-1]]
    it = np.where(first, it, "," + it).astype(object)
    starts = np.nonzero(first)[0]
    out[g[starts]] = np.add.reduceat(it, starts)
    return out


def _q(s) -> pd.Series:
    return '"' + pd.Series(s, dtype=object) + '"'


def messages(seed: int | str, iv: pd.DataFrame, tg: pd.DataFrame, rep: pd.DataFrame,
             c: pd.DataFrame) -> tuple[list[str], dict]:
    """The NDJSON lines of the log in reception order, and the ids of planted message cases."""
    rng = rng_for(seed, "messages")
    n = len(iv)
    do = iv["do"].values
    # Nature_PBO_PTO of M3 (final) and of M1 (no "aucune action" before the end).
    nat_code = {"racc": "1", "sav": "2", "aucune_action": "3", "non_fournie": "4"}
    item = ('{"nature":' + tg["nature"].map(nat_code)
            + np.where(tg["pbo"].notna(), ',"PBO":"' + tg["pbo"].fillna("") + '"', "")
            + np.where(tg["pto"].notna(), ',"PTO":"' + tg["pto"].fillna("") + '"', "") + "}")
    item_m1 = item.str.replace('{"nature":3', '{"nature":4', regex=False)
    lst3 = "[" + join_groups(tg["i"].values, item.values, n) + "]"
    lst1 = "[" + join_groups(tg["i"].values, item_m1.values, n) + "]"
    head = ('{"Code_DO":' + _q(do) + ',"Code_OI":' + _q(iv["code_oi"].values)
            + ',"Ref_Interv_DO":' + _q(iv["ref_do"].values) + ',"PM":' + _q(iv["pm_id"].values)
            + ',"Nature_PBO_PTO":').values
    hd_txt = _do_time(iv["hd"].values, do)
    hf_txt = _do_time(iv["hf"].values, do)
    body1 = head + lst1 + ',"Debut_Inter":"' + hd_txt + '","Fin_Inter":null}'
    body3 = head + lst3 + ',"Debut_Inter":"' + hd_txt + '","Fin_Inter":"' + hf_txt + '"}'
    out = []  # (received_at seconds, order, kind, body)

    def emit(mask, t, kind, body, order=0):
        idx = np.nonzero(mask)[0]
        out.append(pd.DataFrame({"t": np.asarray(t, dtype=float)[idx].astype(np.int64),
                                 "o": order, "i": idx, "kind": kind,
                                 "body": np.asarray(body, dtype=object)[idx]}))

    has_m1 = ~np.isnan(iv["m1"].values)
    has_m3 = ~np.isnan(iv["m3"].values)
    m1 = np.nan_to_num(iv["m1"].values)
    m3 = np.nan_to_num(iv["m3"].values)
    mod_m1 = iv["mod_m1"].values
    mod_m3 = iv["mod_m3"].values
    # Modified M1 (see interventions()): the first one with HD 7 minutes late.
    wrong_hd = _do_time(iv["hd"].values + 7 * MINUTE, do)
    body1_wrong = head + lst1 + ',"Debut_Inter":"' + wrong_hd + '","Fin_Inter":null}'
    emit(mod_m1, np.nan_to_num(iv["m1_mod"].values), "M1", body1_wrong)
    emit(has_m1, m1, "M1", body1)
    emit(iv["dup_m1"].values, m1 + MINUTE, "M1", body1, 1)
    # A modified M3: first HF 10 minutes early, corrected 1-6 h later.
    wrong_hf = _do_time(iv["hf"].values - 10 * MINUTE, do)
    body3_wrong = head + lst3 + ',"Debut_Inter":"' + hd_txt + '","Fin_Inter":"' + wrong_hf + '"}'
    m3_fix = np.nan_to_num(iv["m3_fix"].values)
    emit(has_m3, m3, "M3", np.where(mod_m3, body3_wrong, body3))
    emit(has_m3 & mod_m3, m3_fix, "M3", body3)
    emit(iv["dup_m3"].values, m3 + 2 * MINUTE, "M3", body3, 1)
    # KO first attempts (each followed by its corrected re-emission, see interventions()).
    planted = {"ko": {}}
    ko = iv["ko"].values
    for kind in ("bad_date", "bad_code", "unknown_pm", "unknown_oi"):
        mask = ko == kind
        planted["ko"][kind] = iv["ref_do"].values[mask].tolist()[:5]
        bad = body1.copy()
        sel = pd.Series(body1[mask])
        if kind == "bad_date":
            sel = sel.str.replace(r'"Debut_Inter":"(\d{4})-(\d\d)-(\d\d)T',
                                  r'"Debut_Inter":"\3/\2/\1 ', regex=True)
        elif kind == "bad_code":
            sel = sel.str.replace('"Code_DO":"', '"Code_DO":"x', regex=False)
        elif kind == "unknown_pm":
            sel = sel.str.replace(r'"PM":"FI-\d{5}-', '"PM":"FI-00000-', regex=True)
        else:
            # Every other one names its (our) PM: the DO wrote another OI's code, MAUVAIS_OI;
            # the others name no PM of ours either: CODE_OI_INCONNU.
            sel = sel.str.replace(r'"Code_OI":"\w{4}"', '"Code_OI":"ZZOI"', regex=True)
            odd = np.arange(len(sel)) % 2 == 1
            sel[odd] = sel[odd].str.replace(r'"PM":"FI-\d{5}-', '"PM":"FI-00000-', regex=True)
            planted["ko"]["wrong_oi"] = iv["ref_do"].values[mask][~odd].tolist()[:5]
            planted["ko"][kind] = iv["ref_do"].values[mask][odd].tolist()[:5]
        bad[mask] = sel.values
        emit(mask, np.nan_to_num(iv["m1_ko"].values), "M1", bad)
    miss = ~np.isnan(iv["m3_ko"].values)
    planted["ko"]["m3_missing_fin"] = iv["ref_do"].values[miss].tolist()[:5]
    body3_miss = head + lst3 + ',"Debut_Inter":"' + hd_txt + '","Fin_Inter":null}'
    emit(miss, np.nan_to_num(iv["m3_ko"].values), "M3", body3_miss)
    lines = pd.concat(out, ignore_index=True)
    lines["line"] = ('{"message":"' + lines["kind"] + '","received_at":"' + _iso(lines["t"].values)
                     + '","body":' + lines["body"] + "}")
    # M5s: one per (intervention, OC) that reports, after the first M3 (the M4), same day.
    m5 = _m5_lines(rng, iv, rep, c, planted)
    allm = pd.concat([lines[["t", "o", "i", "kind", "line"]], m5], ignore_index=True)
    allm = allm.sort_values(["t", "o", "i", "kind"], kind="stable")
    return allm["line"].tolist(), planted


def report_times(seed: int | str, iv: pd.DataFrame, rep: pd.DataFrame) -> np.ndarray:
    """Reception time of each M5: 5 min to 3 h after the M3, before midnight when possible."""
    rng = rng_for(seed, "m5-times")
    m3 = iv["m3"].values[rep["i"].values]
    t = m3 + rng.integers(5 * 60, 3 * HOUR, len(rep))
    midnight = (m3 // DAY + 1) * DAY - 60
    return np.where(t < midnight, t, np.maximum(m3 + 120, np.minimum(t, midnight))).astype(np.int64)


def _m5_lines(rng, iv, rep, c, planted) -> pd.DataFrame:
    listed = c[c["ref_i"] >= 0]
    def inc(s: pd.Series) -> pd.Series:
        return s.fillna("inconnu")
    item = ('{"PTO":"' + listed["pto"] + '","PBO":"' + inc(listed["pbo"]) + '","Tube":"'
            + inc(listed["tube"]) + '","Fibre":"' + inc(listed["fibre"])
            + '","Position_PM_Module_OI":"' + inc(listed["position_pm"]) + '","HMS_Coupure":"'
            + _iso(listed["cut"].values) + '"}')
    # position of each listed cut's report in ``rep`` (sorted by intervention, then OC)
    n_oc = len(OCS)
    rkey = rep["i"].values.astype(np.int64) * n_oc + rep["k"].values
    ckey = listed["ref_i"].values.astype(np.int64) * n_oc + listed["oc_idx"].values
    where = np.searchsorted(rkey, ckey)
    lst = "[" + join_groups(where, item.values, len(rep)) + "]"
    body = ('{"Code_OC_impacte":"' + rep["code_oc"] + '","Ref_Interv_OI":"'
            + iv["ref_oi"].values[rep["i"].values] + '","Liste_Clients_HS":' + lst + "}").values
    t = rep["received_at_s"].values
    n = len(rep)
    rows = [pd.DataFrame({"t": t, "o": 2, "i": rep["i"].values, "kind": "M5", "body": body})]
    # Retries of the same M5 (identical: the OI keeps the first).
    dup = rng.random(n) < 0.01
    rows.append(pd.DataFrame({"t": t[dup] + rng.integers(60, 20 * 60, dup.sum()), "o": 3,
                              "i": rep["i"].values[dup], "kind": "M5", "body": body[dup]}))
    # An M5 naming an unknown Ref_Interv_OI (typo): REF_INTERV_OI_INCONNUE.
    pick_i = np.nonzero(~dup)[0][:: max(n // 3, 1)][:3]
    bad = pd.Series(body[pick_i]).str.replace(r'"Ref_Interv_OI":"(\w{4})-', r'"Ref_Interv_OI":"\1-X',
                                              regex=True).values
    rows.append(pd.DataFrame({"t": t[pick_i] - 30, "o": 1, "i": rep["i"].values[pick_i],
                              "kind": "M5", "body": bad}))
    planted["ko"]["m5_unknown_ref"] = [iv["ref_oi"].values[i] for i in rep["i"].values[pick_i]]
    df = pd.concat(rows, ignore_index=True)
    df["line"] = ('{"message":"M5","received_at":"' + _iso(df["t"].values) + '","body":'
                  + df["body"] + "}")
    return df[["t", "o", "i", "kind", "line"]]


# ------------------------------------------------------------------ tables

def presence(pm_df: pd.DataFrame, iv: pd.DataFrame) -> np.ndarray:
    """Boolean matrix (intervention x OC): the OC has customer lines at the PM."""
    bounds = pm_df.attrs["oc_bounds"]
    counts = np.diff(np.concatenate([np.zeros((len(pm_df), 1), int), bounds], axis=1), axis=1)
    return counts[iv["p"].values] > 0


def build(scale: Scale, seed: int,
          shard: Shard = SINGLE) -> tuple[dict[str, pd.DataFrame], list[str], dict]:
    """Network tables, message log lines and planted ids of one shard (planted: shard 0)."""
    seed = shard.seed(seed)
    pm_df = pms(scale, seed, shard)
    iv = interventions(scale, seed, pm_df)
    tg = targets(seed, pm_df, iv)
    c = cuts(seed, pm_df, iv, tg)
    rep, c = assign_sources(seed, iv, presence(pm_df, iv), c)
    rep["received_at_s"] = report_times(seed, iv, rep)
    lines, planted = messages(seed, iv, tg, rep, c)
    tables = _tables(pm_df, iv, tg, rep, c)
    if shard.planted:
        planted.update(_planted_ids(pm_df, iv, tg, rep, c))
    return tables, lines, planted


def _tables(pm_df, iv, tg, rep, c) -> dict[str, pd.DataFrame]:
    """What the OI's base holds after the log (and the cuts it knows from elsewhere)."""
    ended = np.where(iv["scen"].values == "no_hf", np.nan, iv["hf"].values.astype(float))
    # A corrected M3 updates HF's reception time; duplicates change nothing.
    m3 = np.where(iv["mod_m3"].values, iv["m3_fix"].values, iv["m3"].values)
    interventions = pd.DataFrame({
        "ref_interv_oi": iv["ref_oi"].values, "ref_interv_do": iv["ref_do"].values,
        "code_do": iv["do"].values, "code_oi": iv["code_oi"].values, "pm_id": iv["pm_id"].values,
        "started_at": to_dt(iv["hd"].values.astype(float)), "ended_at": to_dt(ended),
        "m1_received_at": to_dt(iv["m1"].values), "m3_received_at": to_dt(m3),
    })
    # The lines each message declared (M1 says "non fournie" where M3 says "aucune action").
    declared = []
    for part, sent in (("m1", ~np.isnan(iv["m1"].values)), ("m3", ~np.isnan(iv["m3"].values))):
        t = tg[sent[tg["i"].values]]
        nature = t["nature"].where((part == "m3") | (t["nature"] != "aucune_action"), "non_fournie")
        declared.append(pd.DataFrame({"ref_interv_oi": t["ref_interv_oi"].values,
                                      "nature": nature.values, "pbo": t["pbo"].values,
                                      "pto": t["pto"].values, "declared_in": part}))
    targets = pd.concat(declared, ignore_index=True).drop_duplicates(ignore_index=True)
    return {
        "pms": pm_df[["pm_id", "oi_code", "lines", "zone"]].copy(),
        "interventions": interventions,
        "intervention_targets": targets,
        "outage_reports": pd.DataFrame({
            "ref_interv_oi": iv["ref_oi"].values[rep["i"].values], "code_oc": rep["code_oc"].values,
            "received_at": to_dt(rep["received_at_s"].values.astype(float)),
            "clients_hs": rep["clients_hs"].values.astype("int64"),
            "clients_set_aside": 0}),
        "outages": pd.DataFrame({
            "code_oc": c["oc"].values, "pm_id": pm_df["pm_id"].values[c["p"].values],
            "pto": c["pto"].values, "pbo": c["pbo"].values, "tube": c["tube"].values,
            "fibre": c["fibre"].values, "position_pm": c["position_pm"].values,
            "cut_at": to_dt(c["cut"].values.astype(float)),
            "restored_at": to_dt(c["restored"].values.astype(float)),
            "cause": c["cause"].values,
            "churned": pd.array(c["churned"].values.astype(bool), dtype="boolean"),
            "ref_interv_oi": np.where(c["ref_i"].values >= 0,
                                      iv["ref_oi"].values[np.maximum(c["ref_i"].values, 0)], None),
        }),
    }


def _planted_ids(pm_df, iv, tg, rep, c) -> dict:
    """Where the network patterns landed for this seed (written to patterns.json)."""
    ref = iv["ref_oi"].values
    scen = iv["scen"].values

    def refs(mask, k=5):
        return ref[np.nonzero(mask)[0][:k]].tolist()

    ids = pm_df["pm_id"].values
    power_planted = c[(c["plant"].values == "listed") & (c["ref_i"].values >= 0)]
    power_sup = c[c["plant"].values == "supervision"]
    tgt = c[(c["kind"].values == "target") & (c["ref_i"].values >= 0)]
    return {
        "bad_pms": ids[list(BAD_PMS)].tolist(),
        "noise_pm": ids[NOISE_PM],
        "power_pm": ids[POWER_PM],
        "power_in_window": sorted(set(ref[power_planted["ref_i"].values])),
        "power_in_window_supervision": sorted(set(ref[power_sup["i"].values])),
        "target_pm": ids[TARGET_PM],
        "target_cut_refs": sorted(set(ref[tgt["ref_i"].values]))[:5],
        "sloppy_do": SLOPPY_DO, "local_time_do": LOCAL_TIME_DO,
        "no_flow3_oc": NO_FLOW3_OC, "late_flow3_oc": LATE_FLOW3_OC,
        "no_hf": refs(scen == "no_hf"), "m3_only": refs(scen == "m3_only"),
        "m3_before_m1": refs(scen == "m3_first"),
        "duplicate_m1": refs(iv["dup_m1"].values), "duplicate_m3": refs(iv["dup_m3"].values),
        "modified_m1": refs(iv["mod_m1"].values), "modified_m3": refs(iv["mod_m3"].values),
    }
