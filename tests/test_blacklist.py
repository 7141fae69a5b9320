"""The PM blacklist: its statistics by hand, and bad PMs planted in a generated network."""
from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.blacklist import BlacklistConfig, assess, blacklist
from evaluation.analyses.outages import correlate
from evaluation.analyses.outages.stats import (
    BetaPrior,
    fit_beta_binomial,
    funnel,
    posterior,
    rate_ratio_ci,
)
from evaluation.store import db
from evaluation.store.engine import Tables

# ---------------------------------------------------------------- statistics by hand


def test_funnel_exact_binomial_limits():
    # Binomial(10, 0.1): P(X ≥ 5) = 1 − 0.998365 = 0.0016349 < 0.002 → 5/10 is above the
    # 99.8 % limit; P(X ≥ 4) = 0.012795 → 4/10 is not. The limit itself: the 0.998
    # quantile is 4 (CDF(4) = 0.998365 ≥ 0.998) → 4/10 = 0.4 as a rate.
    upper, _lower, p = funnel([5, 4], [10, 10], 0.1, 0.998)
    assert p[0] == pytest.approx(0.0016349374, rel=1e-6)
    assert p[1] == pytest.approx(0.0127951984, rel=1e-6)
    assert upper[0] == pytest.approx(0.4)


def test_one_impacted_of_one_is_never_outside_the_funnel():
    # P(X ≥ 1 | n = 1, p0) = p0: above the 99.8 % limit only if p0 < 0.002.
    _u, _l, p = funnel([1], [1], 0.05)
    assert p[0] == pytest.approx(0.05)
    pms = _pms_frame([("ONE", 1, 1), *[(f"N{i}", 20, 1) for i in range(50)]])
    t, _p0, _prior, _b = assess(pms, _no_trend(pms), BlacklistConfig(min_covered=1))
    assert not t.set_index("pm_id").loc["ONE", "candidate"]


def test_rate_ratio_conditional_interval():
    # a = b = 10 with equal exposure: RR = 1; Clopper–Pearson for 10/20 at 95 %:
    # π ∈ [0.27196, 0.72804] → RR = π/(1−π) ∈ [0.37355, 2.67704].
    rr, lo, hi, _p = rate_ratio_ci([10], [1.0], [10], [1.0])
    assert rr[0] == pytest.approx(1.0)
    assert lo[0] == pytest.approx(0.3735468467, rel=1e-6)
    assert hi[0] == pytest.approx(2.6770404002, rel=1e-6)
    # No cut out of windows: the ratio is unbounded above; none inside: bounded below by 0.
    rr, lo, hi, _ = rate_ratio_ci([5, 0], [1.0, 1.0], [0, 5], [100.0, 100.0])
    assert np.isinf(rr[0]) and np.isinf(hi[0]) and lo[0] > 1
    assert rr[1] == 0 and lo[1] == 0
    # No exposure on one side: undefined.
    rr, lo, hi, _ = rate_ratio_ci([1], [0.0], [1], [10.0])
    assert np.isnan(rr[0]) and np.isnan(lo[0])


def test_posterior_and_prior_fit():
    # Beta(1, 9) prior, 3 of 10 → Beta(4, 16): mean 0.2.
    mean, prob = posterior([3], [10], BetaPrior(1.0, 9.0), 0.1)
    assert mean[0] == pytest.approx(0.2)
    assert 0.5 < prob[0] < 1
    # Rates drawn from Beta(2, 18) (mean 0.1, strength 20), 50 trials per unit.
    rng = np.random.default_rng(7)
    theta = rng.beta(2, 18, 4000)
    x = rng.binomial(50, theta)
    prior = fit_beta_binomial(x, np.full(4000, 50))
    assert prior.mean == pytest.approx(0.1, abs=0.006)
    assert 14 < prior.strength < 28
    # No spread at all: strength at its cap (complete shrinkage to the network rate).
    x = rng.binomial(50, np.full(4000, 0.1))
    assert fit_beta_binomial(x, np.full(4000, 50)).strength > 1000


def _pms_frame(rows):
    df = pd.DataFrame(rows, columns=["pm_id", "covered_interventions", "impacted_interventions"])
    return df.assign(interventions=df.covered_interventions, clients_hs=df.impacted_interventions,
                     cuts_in_windows=df.impacted_interventions, cuts_out_of_windows=0,
                     supervised=False, baseline_cuts_in_windows=0,
                     baseline_cuts_out_of_windows=0, window_hours=10.0,
                     out_of_window_hours=1000.0)


def _no_trend(pms):
    return pd.DataFrame({"pm_id": pms.pm_id, "trend_recent_covered": 0, "trend_recent_impacted": 0,
                         "trend_before_covered": 0, "trend_before_impacted": 0})


# ---------------------------------------------------------------- planted network

T0 = np.datetime64("2025-01-01T00:00:00", "s")
YEAR = 365 * 86400
RECENT = YEAR - 90 * 86400          # the last 90 days of the year


def _network(seed: int = 11):
    """5,000 PMs: ordinary ones, 15 bad ones, and three kinds of noise.

    - ordinary: Poisson(24) interventions a year, 80 % covered by an M5, each impacted with
      probability 0.05 (1–2 cuts in its window, sent in the M5 and seen by OC01's line
      supervision too: two rows of one cut); Poisson(5) supervision cuts a year spread
      over the year (the baseline);
    - BAD00..BAD14: 40 interventions, impacted with probability 0.45; BAD00 worsens: 0.15
      before the last 90 days, 0.9 in them (60 interventions);
    - SMALL*: 300 PMs with 1–3 interventions, every one covered and impacted (no volume);
    - POWER*: 50 PMs whose windows hold 3 power cuts and a churned line each (not counted);
    - FRAGILE*: 5 PMs with 4,000 supervision cuts a year anywhere in time: their windows
      catch cuts by chance, but no more often than the rest of the time.
    """
    r = np.random.default_rng(seed)
    kinds = (["N"] * 4630 + ["BAD"] * 15 + ["SMALL"] * 300 + ["POWER"] * 50 + ["FRAGILE"] * 5)
    pm_ids = np.array([f"{k}{i:04d}" for i, k in enumerate(kinds)])
    kind = np.array(kinds)
    n_int = np.where(kind == "BAD", 40, np.where(kind == "SMALL", r.integers(1, 4, len(kind)),
                                                 r.poisson(24, len(kind))))
    n_int[kind == "FRAGILE"] = 40
    bad0 = np.flatnonzero(kind == "BAD")[0]
    n_int[bad0] = 60
    pm_of = np.repeat(np.arange(len(kind)), n_int)
    n = len(pm_of)
    hd = r.integers(0, YEAR - 86400, n)
    idx = np.flatnonzero(pm_of == bad0)  # BAD00: a third of its interventions are recent
    hd[idx[: len(idx) // 3]] = r.integers(RECENT, YEAR - 86400, len(idx) // 3)
    dur = r.integers(30 * 60, 120 * 60, n)
    k = kind[pm_of]
    covered = (r.random(n) < 0.8) | (k == "SMALL")
    p_imp = np.select([k == "BAD", k == "SMALL"], [0.45, 1.0], 0.05)
    bad0_rows = pm_of == bad0
    p_imp[bad0_rows] = np.where(hd[bad0_rows] >= RECENT, 0.9, 0.15)
    p_imp[k == "FRAGILE"] = 0.0
    impacted = covered & (r.random(n) < p_imp)
    refs = np.array([f"R{i:07d}" for i in range(n)])
    inter = pd.DataFrame({
        "ref_interv_oi": refs, "code_do": np.array(["D001", "D002", "D003"])[r.integers(0, 3, n)],
        "code_oi": "OI01", "pm_id": pm_ids[pm_of],
        "started_at": T0 + hd.astype("timedelta64[s]"),
        "ended_at": T0 + (hd + dur).astype("timedelta64[s]")})
    inter["m1_received_at"] = inter["started_at"]
    reports = pd.DataFrame({"ref_interv_oi": refs[covered], "code_oc": "OC01",
                            "received_at": inter["ended_at"][covered].to_numpy(),
                            "clients_hs": impacted[covered].astype(int)})
    # M5 cuts of impacted interventions: 1 or 2 each, inside the window
    ci = np.repeat(np.flatnonzero(impacted), r.integers(1, 3, impacted.sum()))
    m5 = pd.DataFrame({"code_oc": "OC01", "pm_id": pm_ids[pm_of[ci]],
                       "pto": [f"FI-{i:08d}" for i in range(len(ci))],
                       "cut_at": T0 + (hd[ci] + (r.random(len(ci)) * dur[ci]).astype(int))
                       .astype("timedelta64[s]"),
                       "cause": None, "churned": False, "ref_interv_oi": refs[ci]})
    # power cuts and churned lines in the windows of the POWER PMs (all covered ones)
    pw = np.flatnonzero((k == "POWER") & covered)
    pi_ = np.repeat(pw, 4)
    power = pd.DataFrame({"code_oc": "OC01", "pm_id": pm_ids[pm_of[pi_]],
                          "pto": [f"FI-P{i:07d}" for i in range(len(pi_))],
                          "cut_at": T0 + (hd[pi_] + 60 * np.tile(np.arange(1, 5), len(pw)))
                          .astype("timedelta64[s]"),
                          "cause": np.tile(["power", "power", "power", None], len(pw)),
                          "churned": np.tile([False, False, False, True], len(pw)),
                          "ref_interv_oi": refs[pi_]})
    # supervision cuts: baseline everywhere, dense at the FRAGILE PMs
    n_sup = np.where(kind == "FRAGILE", 4000, r.poisson(5, len(kind)))
    sp = np.repeat(np.arange(len(kind)), n_sup)
    sup = pd.DataFrame({"code_oc": "OC01", "pm_id": pm_ids[sp],
                        "pto": [f"FI-S{i:07d}" for i in range(len(sp))],
                        "cut_at": T0 + r.integers(0, YEAR, len(sp)).astype("timedelta64[s]"),
                        "cause": None, "churned": False, "ref_interv_oi": None})
    seen = m5.assign(ref_interv_oi=None)      # supervision sees the M5's cuts too
    outages = pd.concat([m5, seen, power, sup], ignore_index=True)
    pms = pd.DataFrame({"pm_id": pm_ids, "oi_code": "OI01", "lines": 300})
    return kind, pm_ids, {"pms": pms, "interventions": inter, "outage_reports": reports,
                          "outages": outages}


def _load(frames) -> Tables:
    con = db.connect(":memory:")
    for name, df in frames.items():
        con.register("__f", df)
        cols = ", ".join(f'"{c}"' for c in df.columns)
        con.execute(f'INSERT INTO "{name}" ({cols}) SELECT {cols} FROM __f')
        con.unregister("__f")
    return Tables(ibis.duckdb.from_connection(con))


@pytest.fixture(scope="module")
def planted():
    kind, pm_ids, frames = _network()
    tables = _load(frames)
    result = blacklist(tables, as_of=dt.date(2025, 12, 31))
    return kind, pm_ids, tables, result


def test_finds_every_planted_pm(planted):
    kind, pm_ids, _t, res = planted
    cands = list(res.candidates["pm_id"])
    bad = set(pm_ids[kind == "BAD"])
    assert bad <= set(cands)
    # most urgent first: the planted PMs lead the list
    assert set(cands[: len(bad)]) == bad


def test_ignores_small_volume_power_cuts_and_ordinary_pms(planted):
    kind, pm_ids, _t, res = planted
    cands = set(res.candidates["pm_id"])
    assert not cands & set(pm_ids[kind == "SMALL"])       # 100 % of 1–3 interventions
    assert not cands & set(pm_ids[kind == "POWER"])       # power cuts and churned lines
    assert len(cands & set(pm_ids[kind == "N"])) <= 2     # 4,630 ordinary PMs at 5 %


def test_fragile_pms_are_told_apart(planted):
    kind, pm_ids, _t, res = planted
    fragile = set(pm_ids[kind == "FRAGILE"])
    assert not fragile & set(res.candidates["pm_id"])
    assert fragile <= set(res.fragile["pm_id"])
    assert set(res.fragile["attribution"]) == {"fragile"}
    assert set(res.candidates["attribution"]) == {"interventions"}
    assert res.baseline_available


def test_trend_of_the_worsening_pm(planted):
    kind, pm_ids, _t, res = planted
    c = res.candidates.set_index("pm_id")
    bad0 = pm_ids[kind == "BAD"][0]
    assert c.loc[bad0, "trend_direction"] == "worse"
    assert c.loc[bad0, "trend_recent_rate"] > c.loc[bad0, "trend_before_rate"]
    assert c.loc[bad0, "rank"] == 1   # the boost puts the worsening PM first


def test_evidence_lists_the_impacted_interventions_and_their_cuts(planted):
    _kind, _pm_ids, tables, res = planted
    d = res.to_dict()
    first = d["candidates"][0]
    assert {"pm_id", "incident_rate", "interventions", "score", "evidence"} <= set(first)
    corr = correlate(tables, as_of=dt.date(2025, 12, 31))
    pi = corr.interventions
    want = set(pi.filter((pi.pm_id == first["pm_id"]) & pi.impacted).ref_interv_oi
               .to_pandas())
    corr.release()
    got = {i["ref_interv_oi"] for i in first["evidence"]["interventions"]}
    assert got == want and len(got) == first["impacted_interventions"]
    cut_refs = {c["ref_interv_oi"] for c in first["evidence"]["cuts"]}
    assert cut_refs == want
    # the M5's cuts, seen by supervision too (one event each), and maybe a background one
    sources = [c["source"] for c in first["evidence"]["cuts"]]
    assert "m5+supervision" in sources and set(sources) <= {"m5+supervision", "supervision"}


def test_min_covered_threshold_is_configurable(planted):
    kind, pm_ids, tables, res = planted
    strict = blacklist(tables, as_of=dt.date(2025, 12, 31),
                       config=BlacklistConfig(min_covered=35))
    t = res.table.set_index("pm_id")
    bad = pm_ids[kind == "BAD"]
    enough = {p for p in bad if t.loc[p, "covered_interventions"] >= 35}
    assert 0 < len(enough) < len(bad)          # the threshold cuts through the planted PMs
    assert enough <= set(strict.candidates["pm_id"]) < set(res.candidates["pm_id"])
    assert (strict.candidates["covered_interventions"] >= 35).all()
