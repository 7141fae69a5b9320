"""Property tests: the engine's correlation against a brute-force reading of the rules.

Random small networks (two PMs, a handful of interventions, cuts placed on and around
the window bounds, power cuts, churned lines, unknown PTOs, target lines, M5 and
supervision cuts, the same cut reported more than once) — the per-intervention and
per-PM counts must equal a plain Python loop over every (cut, intervention) pair,
and must not change however the same cuts are split between M5s and supervision
rows. Plus round trips of the date parser.
"""
from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.analyses.outages import correlate
from evaluation.analyses.outages.pseudonym import pseudonymise
from evaluation.period import parse as parse_when
from evaluation.store.schema import normalise_reference
from outages_fixtures import cut, interv, pm, report, store

T0 = dt.datetime(2025, 3, 3, 8, 0, 0)
OFFSETS = [0, 1, -1, 299, 300, 301, -299, -300, -301]   # seconds around a bound
PMS = ["FI-A", "FI-B"]


@st.composite
def networks(draw):
    n_int = draw(st.integers(1, 5))
    ints = []
    for i in range(n_int):
        hd = T0 + dt.timedelta(minutes=10 * draw(st.integers(0, 12)))
        dur = draw(st.sampled_from([0, 600, 1800, 3600]))
        has_hf = draw(st.booleans()) or draw(st.booleans())   # 3 in 4 have HF
        ints.append({"ref": f"I{i}", "pm": draw(st.sampled_from(PMS)), "hd": hd,
                     "hf": hd + dt.timedelta(seconds=dur) if has_hf else None,
                     "m5": draw(st.booleans()), "target": draw(st.sampled_from(
                         [None, "FI-T0", "FI-T1", "inconnu"]))})
    cuts = []
    for k in range(draw(st.integers(0, 14))):
        base = draw(st.sampled_from(ints))
        anchor = base["hf"] if (base["hf"] is not None and draw(st.booleans())) else base["hd"]
        at = anchor + dt.timedelta(seconds=draw(st.sampled_from(OFFSETS)))
        pto = draw(st.sampled_from([f"FI-U{k}", f"fi-u{k % 3} ", "FI-T0", "fi-t1", "inconnu",
                                    "N/A", None]))
        pm_id = base["pm"] if draw(st.integers(0, 4)) else draw(st.sampled_from(PMS))
        oc = draw(st.sampled_from(["OC01", "OC02"]))
        cuts.append({"oc": oc, "pm": pm_id, "pto": pto, "at": at,
                     "ref": base["ref"] if draw(st.booleans()) else None,
                     "cause": draw(st.sampled_from([None, None, "power", "other"])),
                     "churned": draw(st.sampled_from([False, False, True]))})
    return ints, cuts


def _events(cuts):
    """The cuts as events: rows of one (OC, PM, PTO, time) merged (spec: one cut, one event)."""
    out = {}
    for c in cuts:
        pto = normalise_reference(c["pto"])
        if pto is None:
            continue
        e = out.setdefault((c["oc"], c["pm"], pto, c["at"]),
                           {"pm": c["pm"], "pto": pto, "at": c["at"], "excluded": False,
                            "refs": set()})
        e["excluded"] |= c["cause"] == "power" or c["churned"]
        if c["ref"] is not None:
            e["refs"].add(c["ref"])
    return list(out.values())


def _brute(ints, cuts):
    events = [e for e in _events(cuts) if not e["excluded"]]

    def target(i, e):
        return normalise_reference(i["target"]) == e["pto"]

    per_i = {}
    for i in ints:
        n = 0
        if i["hf"] is not None:
            for e in events:
                if (e["pm"] == i["pm"] and i["hd"] <= e["at"] <= i["hf"]
                        and (not e["refs"] or i["ref"] in e["refs"]) and not target(i, e)):
                    n += 1
        per_i[i["ref"]] = n
    per_pm = {}
    for p in PMS:
        mine = [i for i in ints if i["pm"] == p]
        covered = [i for i in mine if i["hf"] is not None and i["m5"]]
        in_win, target_only, counted = 0, 0, 0
        for e in events:
            if e["pm"] != p:
                continue
            windows = [i for i in mine if i["hf"] is not None and i["hd"] <= e["at"] <= i["hf"]]
            as_customer = [i for i in windows if not target(i, e)]
            if as_customer:
                in_win += 1
            elif windows:          # only ever the DO's own line: counted nowhere
                target_only += 1
            counted += 1
        if not mine and counted - target_only == 0:
            continue
        per_pm[p] = {"interventions": len(mine), "covered_interventions": len(covered),
                     "impacted_interventions": sum(per_i[i["ref"]] > 0 for i in covered),
                     "clients_hs": sum(per_i[i["ref"]] for i in covered),
                     "cuts_in_windows": in_win, "counted_cuts": counted - target_only}
    return per_i, per_pm


def _tables(ints, cuts):
    return store(
        pms=[pm(p) for p in PMS],
        interventions=[interv(i["ref"], i["pm"], i["hd"], i["hf"]) for i in ints],
        intervention_targets=[{"ref_interv_oi": i["ref"], "nature": "racc", "pto": i["target"]}
                              for i in ints if i["target"] is not None],
        outage_reports=[report(i["ref"]) for i in ints if i["m5"]],
        outages=[cut(c["pm"], c["pto"], c["at"], oc=c["oc"], ref=c["ref"], cause=c["cause"],
                     churned=c["churned"]) for c in cuts])


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_engine_matches_brute_force(net):
    ints, cuts = net
    tables = _tables(ints, cuts)
    since, as_of = dt.date(2025, 3, 3), dt.date(2025, 3, 3)
    corr = correlate(tables, since=since, as_of=as_of)
    got_i = dict(corr.interventions.select("ref_interv_oi", "cuts").to_pandas()
                 .itertuples(index=False))
    pms = corr.per_pm()
    corr.release()
    want_i, want_pm = _brute(ints, cuts)
    assert {k: int(v) for k, v in got_i.items()} == want_i
    got_pm = {r["pm_id"]: {k: int(r[k]) for k in want_pm.get(r["pm_id"], {})}
              for r in pms.to_dict("records")}
    assert got_pm == want_pm


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_parse_when_round_trips(t):
    t = t.replace(microsecond=0)
    assert parse_when(t.isoformat()) == t
    assert parse_when(t.isoformat() + "Z") == t
    assert parse_when(t.date().isoformat()) == t.date()
    offset = (t.replace(tzinfo=dt.timezone(dt.timedelta(hours=2)))).isoformat()
    assert parse_when(offset) == t - dt.timedelta(hours=2)


@given(st.lists(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=4,
                        max_size=4), min_size=1, max_size=20))
def test_pseudonyms_are_stable_keyed_and_distinct(codes):
    a = pseudonymise(codes, b"k1" * 16)
    assert a == pseudonymise(codes, b"k1" * 16)
    b = pseudonymise(codes, b"k2" * 16)
    for code, p, q in zip(codes, a, b):
        assert p.startswith("DO-") and code not in p and p != q
    assert len(set(a)) == len(set(codes))
    assert pseudonymise([None], b"k1" * 16) == [None]


# ---------------------------------------------------------------- the same cuts, split anyhow

@st.composite
def split_networks(draw):
    """Cuts as facts (who, where, when, excluded or not, which M5s listed it, whether
    supervision saw it), then the rows that report them split at random between M5s and
    supervision, repeated, in another letter case, with the exclusion on one source only."""
    ints, _ = draw(networks())
    facts, seen = [], set()
    for k in range(draw(st.integers(0, 10))):
        base = draw(st.sampled_from(ints))
        at = base["hd"] + dt.timedelta(seconds=draw(st.sampled_from(OFFSETS + [900, 4000])))
        key = (draw(st.sampled_from(["OC01", "OC02"])), base["pm"],
               draw(st.sampled_from([f"FI-S{k}", "FI-T0", "FI-T1"])), at)
        if key in seen:
            continue
        seen.add(key)
        refs = draw(st.sets(st.sampled_from([i["ref"] for i in ints]), max_size=2))
        facts.append({"key": key, "refs": refs, "seen": draw(st.booleans()) or not refs,
                      "power": draw(st.sampled_from([False, False, True]))})
    rows = []
    for f in facts:
        oc, pm_id, pto, at = f["key"]
        sources = [r for r in f["refs"]] + ([None] if f["seen"] else [])
        power_on = draw(st.sampled_from(sources)) if f["power"] else ...
        for src in sources:
            for _copy in range(draw(st.integers(1, 2))):
                rows.append({"oc": oc, "pm": pm_id, "at": at, "ref": src, "churned": False,
                             "pto": draw(st.sampled_from([pto, pto.lower(), f" {pto} "])),
                             "cause": "power" if src == power_on else None})
    canonical = [{"oc": f["key"][0], "pm": f["key"][1], "pto": f["key"][2], "at": f["key"][3],
                  "ref": src, "churned": False, "cause": "power" if f["power"] else None}
                 for f in facts for src in [*sorted(f["refs"]), *([None] if f["seen"] else [])]]
    return ints, rows, canonical


_FIGURES = ["interventions", "covered_interventions", "impacted_interventions", "clients_hs",
            "cuts_in_windows", "cuts_out_of_windows", "counted_cuts", "short_cuts",
            "shared_cuts", "supervised", "baseline_cuts_in_windows",
            "baseline_cuts_out_of_windows", "cuts_before_hd", "cuts_after_hf"]


def _figures(ints, cuts):
    corr = correlate(_tables(ints, cuts), since=dt.date(2025, 3, 3), as_of=dt.date(2025, 3, 3))
    pms = corr.per_pm()
    per_i = corr.interventions.select("ref_interv_oi", "cuts", "shared_cuts").to_pandas()
    corr.release()
    return (pms.set_index("pm_id")[_FIGURES].sort_index().to_dict("index"),
            per_i.set_index("ref_interv_oi").sort_index().to_dict("index"))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(split_networks())
def test_splitting_the_same_cuts_across_sources_changes_nothing(net):
    """Contract ``outages``: a cut reported in an M5 and by supervision counts once; the
    rows of one cut merge whatever their number, letter case or which one says power."""
    ints, rows, canonical = net
    assert _figures(ints, rows) == _figures(ints, canonical)
