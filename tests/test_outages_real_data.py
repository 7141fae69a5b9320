"""Operators' real data, end to end: hand-made messages and tables straight from seed 002.

Every case goes through the command line on a temporary database (``opeval config``,
``opeval ingest``, ``opeval outages --format json``), with its expected counts worked
out by hand in the docstring and the clause of the e-Intervention lot 1 spec it
follows (issue 12). Times in the messages are UTC ("Z") unless the case is about
local time.
"""
from __future__ import annotations

import json

import pytest

from evaluation.analyses.blacklist import attribute, blacklist
from evaluation.eintervention.rules import make_ref
from evaluation.store.engine import open_tables

PM1, PM2, PM3, PM4 = "FI-00001-0001", "FI-00002-0002", "FI-00003-0003", "FI-00004-0004"


def m1(ref, pm=PM1, hd="2025-03-03T10:00:00Z", targets=None, do="DO01", oi="OI01",
       at=None) -> dict:
    return {"message": "M1", "received_at": at or hd,
            "body": {"Code_DO": do, "Code_OI": oi, "Ref_Interv_DO": ref, "PM": pm,
                     "Debut_Inter": hd,
                     "Nature_PBO_PTO": targets or [{"nature": 1, "PTO": f"FI-T-{ref}"}]}}


def m3(ref, pm=PM1, hd="2025-03-03T10:00:00Z", hf="2025-03-03T11:00:00Z", targets=None,
       do="DO01", oi="OI01", at=None) -> dict:
    msg = m1(ref, pm, hd, targets, do, oi, at or hf)
    msg["message"] = "M3"
    msg["body"]["Fin_Inter"] = hf
    return msg


def m5(ref_oi, clients, oc="OC01", at="2025-03-03T12:00:00Z") -> dict:
    return {"message": "M5", "received_at": at,
            "body": {"Code_OC_impacte": oc, "Ref_Interv_OI": ref_oi, "Liste_Clients_HS": [
                {"PTO": pto, "PBO": "inconnu", "Tube": "inconnu", "Fibre": "inconnu",
                 "Position_PM_Module_OI": "inconnu", "HMS_Coupure": cut} for pto, cut in clients]}}


def ref(do_ref, do="DO01", oi="OI01") -> str:
    return make_ref(oi, do, do_ref)


@pytest.fixture
def net(tmp_path, run_cli):
    """Write and load files; ``net.load(kind, rows)``, ``net.outages(...)`` → JSON."""
    class Net:
        def __init__(self):
            self.n = 0

        def cli(self, *args):
            code, out, err = run_cli(*args)
            assert code == 0, err
            return out

        def pms(self, *rows):
            text = "pm_id,oi_code,lines\n" + "".join(f"{p},{oi},100\n" for p, oi in rows)
            self.file("pms", text)

        def file(self, kind, text, suffix="csv"):
            self.n += 1
            path = tmp_path / f"{kind}-{self.n}.{suffix}"
            path.write_text(text)
            return self.cli("ingest", kind, str(path))

        def messages(self, *msgs):
            self.n += 1
            path = tmp_path / f"messages-{self.n}.ndjson"
            path.write_text("".join(json.dumps(m) + "\n" for m in msgs))
            answers = tmp_path / f"answers-{self.n}.ndjson"
            self.cli("ingest", "messages", str(path), "--responses", str(answers))
            return [json.loads(x) for x in answers.read_text().splitlines()]

        def outages(self, *args):
            return json.loads(self.cli("outages", "--format", "json", "--limit", "0", *args))

        def pm(self, d, pm_id):
            return {r["pm_id"]: r for r in d["pms"]}[pm_id]
    return Net()


# ---------------------------------------------------------------- 1. one cut, one event

def test_a_cut_reported_by_an_m5_and_by_supervision_counts_once(net):
    """Flow 3 (2.1.5) and the contract's ``outages``: a cut is one event whatever reported it.

    PM1, intervention INT-1 [10:00, 11:00] UTC, covered by OC01's M5 listing FI-1000-0001
    (10:20) and FI-1000-0002 (10:40). Line supervision (outages, no reference) reports
    FI-1000-0001 at 10:20 again — written ``fi-1000-0001`` as another system writes it —
    FI-1000-0002 at 10:40 with cause ``power`` (the M5 did not know it was a dying gasp),
    FI-1000-0003 at 15:00, and FI-1000-0001 at 10:20 once more (the file loaded under
    another name is the same cut). No restore times anywhere.

    Distinct cuts: FI-1000-0001 (M5 + supervision), FI-1000-0002 (power: any source
    excludes it), FI-1000-0003. Counted: 0001 in the window, 0003 outside.
    clients_hs = 1 (not 2 from the M5, not 3 with the supervision copy);
    cuts_in_windows 1, cuts_out_of_windows 1, counted_cuts 2 (a phantom out-of-window
    copy would make 3); excluded power_cut 1; OC01's cuts: 3 distinct, 2 reported by both
    sources (0001 and 0002).
    """
    net.pms((PM1, "OI01"))
    net.messages(m1("INT-1"), m3("INT-1"),
                 m5(ref("INT-1"), [("FI-1000-0001", "2025-03-03T10:20:00Z"),
                                   ("FI-1000-0002", "2025-03-03T10:40:00Z")]))
    sup = ("code_oc,pm_id,pto,cut_at,restored_at,cause,churned\n"
           f"OC01,{PM1},fi-1000-0001 ,2025-03-03T10:20:00Z,,,false\n"
           f"OC01,{PM1},FI-1000-0002,2025-03-03T10:40:00Z,,power,false\n"
           f"OC01,{PM1},FI-1000-0003,2025-03-03T15:00:00Z,,,false\n")
    net.file("outages", sup)
    net.file("outages", sup.replace("fi-1000-0001 ", "FI-1000-0001"))
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    p = net.pm(d, PM1)
    assert (p["clients_hs"], p["cuts_in_windows"], p["cuts_out_of_windows"], p["counted_cuts"]) \
        == (1, 1, 1, 2)
    assert (p["covered_interventions"], p["impacted_interventions"]) == (1, 1)
    assert d["network"]["excluded_cuts"]["power_cut"] == 1
    oc = {r["code_oc"]: r for r in d["ocs"]}["OC01"]
    assert (oc["cuts"], oc["both_sources"], oc["counted_cuts"], oc["power_cuts"]) == (3, 2, 2, 1)


def test_merged_cut_keeps_the_earliest_restore_time(net):
    """§6 "short cuts": restored the same day. The M5 carries no restore time; supervision
    says FI-2000-0001 (cut 10:20) came back at 10:50: one cut, restored 10:50 → one short
    cut, in the window of INT-2 (10:00–11:00)."""
    net.pms((PM1, "OI01"))
    net.messages(m1("INT-2"), m3("INT-2"), m5(ref("INT-2"), [("FI-2000-0001", "2025-03-03T10:20:00Z")]))
    net.file("outages", "code_oc,pm_id,pto,cut_at,restored_at\n"
                        f"OC01,{PM1},FI-2000-0001,2025-03-03T10:20:00Z,2025-03-03T10:50:00Z\n")
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    assert d["short_cuts"]["total"] == 1
    [s] = d["short_cuts"]["cuts"]
    assert (s["pto"], s["in_window"], s["duration_s"], s["source"]) == (
        "FI-2000-0001", True, 1800, "m5+supervision")
    assert net.pm(d, PM1)["short_cuts"] == 1


# ---------------------------------------------------------------- 2. the DO's own lines

def test_the_line_declared_in_m1_stays_a_target_when_m3_omits_it(net):
    """2.1.3: the PTO of Nature_PBO_PTO is given "si disponible"; 2.1.5: the client the DO
    works on is not out of service. The targets are every line declared in M1 and M3.

    M1 of INT-3 declares ``fi-5555-0001`` (lower case); its M3 says nature 3 AUCUNE
    ACTION without PTO. OC01's M5 lists FI-5555-0001 (the technician's own line, as the
    OC writes it) and FI-5555-0002. clients_hs = 1: only FI-5555-0002; the network's
    excluded ``target_line`` = 1.
    """
    net.pms((PM1, "OI01"))
    net.messages(m1("INT-3", targets=[{"nature": 1, "PTO": "fi-5555-0001"}]),
                 m3("INT-3", targets=[{"nature": 3}]),
                 m5(ref("INT-3"), [("FI-5555-0001", "2025-03-03T10:20:00Z"),
                                   ("FI-5555-0002", "2025-03-03T10:30:00Z")]))
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    p = net.pm(d, PM1)
    assert (p["clients_hs"], p["cuts_in_windows"], p["counted_cuts"]) == (1, 1, 1)
    assert d["network"]["excluded_cuts"]["target_line"] == 1


# ---------------------------------------------------------------- 3. local time

def test_times_without_offset_are_read_in_the_database_zone(net):
    """Operators send local time. ``opeval config timezone Europe/Paris`` (summer: UTC+2).

    INT-4 declared 10:00–11:00 without offset = 08:00–09:00 UTC. OC01 sends its cut as
    ``10:30+02:00`` = 08:30 UTC: inside the window (read as UTC, the window would be
    10:00–11:00 UTC and miss it): clients_hs 1.

    Flow 3 delay (M5 the same day, before midnight — Paris midnight): OC01's M5 sent at
    ``2025-07-01T23:30:00`` (Paris, 21:30 UTC) is on time; OC02's sent at
    ``2025-07-02T01:30:00`` (Paris, 23:30 UTC on the 1st) is late.

    §6 short cuts, by Paris days: FI-7000-0002 cut 2025-07-02T01:00+02:00 (23:00 UTC on
    the 1st), restored 03:00+02:00 (01:00 UTC on the 2nd): same Paris day → short, though
    not the same UTC day. FI-7000-0003 cut 23:30 Paris on the 1st, restored 00:30 Paris on
    the 2nd (21:30 and 22:30 UTC on the 1st): another Paris day → not short.

    ``--as-of 2025-07-01`` ends at Paris midnight (2025-07-01T22:00Z): INT-5 starting
    23:30 Paris on the 1st (21:30 UTC) is in the period; INT-6 at 00:30 Paris on the 2nd
    (22:30 UTC on the 1st) is not. The period is printed with its offset.
    """
    net.cli("config", "timezone", "Europe/Paris")
    net.pms((PM1, "OI01"))
    hd, hf = "2025-07-01T10:00:00", "2025-07-01T11:00:00"
    net.messages(
        m1("INT-4", hd=hd), m3("INT-4", hd=hd, hf=hf),
        m5(ref("INT-4"), [("FI-7000-0001", "2025-07-01T10:30:00+02:00")],
           at="2025-07-01T23:30:00"),
        m5(ref("INT-4"), [], oc="OC02", at="2025-07-02T01:30:00"),
        m1("INT-5", hd="2025-07-01T23:30:00"),
        m3("INT-5", hd="2025-07-01T23:30:00", hf="2025-07-01T23:45:00"),
        m1("INT-6", hd="2025-07-02T00:30:00"),
        m3("INT-6", hd="2025-07-02T00:30:00", hf="2025-07-02T00:40:00"))
    net.file("outages", "code_oc,pm_id,pto,cut_at,restored_at\n"
                        f"OC01,{PM1},FI-7000-0002,2025-07-02T01:00:00+02:00,2025-07-02T03:00:00+02:00\n"
                        f"OC01,{PM1},FI-7000-0003,2025-07-01T23:30:00,2025-07-02T00:30:00\n")
    d = net.outages("--since", "2025-07-01", "--as-of", "2025-07-01")
    assert {k: d["period"][k] for k in ("start", "end", "hours", "time_zone", "first_day",
                                        "last_day")} == {
        "start": "2025-07-01T00:00:00+02:00", "end": "2025-07-02T00:00:00+02:00", "hours": 24.0,
        "time_zone": "Europe/Paris", "first_day": "2025-07-01", "last_day": "2025-07-01"}
    p = net.pm(d, PM1)
    assert (p["interventions"], p["clients_hs"], p["impacted_interventions"]) == (2, 1, 1)
    late = {r["code_oc"]: r["m5_late"] for r in d["ocs"]}
    assert late == {"OC01": 0, "OC02": 1}
    # FI-7000-0002's cut (23:00 UTC on the 1st) lies in the period; it is short in Paris
    d2 = net.outages("--since", "2025-07-01", "--as-of", "2025-07-02")
    short = {s["pto"] for s in d2["short_cuts"]["cuts"]}
    assert short == {"FI-7000-0002"}
    assert [c["cut_at"] for c in d2["short_cuts"]["cuts"]] == ["2025-07-02T01:00:00+02:00"]


# ---------------------------------------------------------------- 4. the end of the period

def test_a_cut_after_the_period_end_inside_a_window_of_the_period_counts(net):
    """The period's interventions are judged on their whole window [HD, HF] (flow 3).

    INT-7 runs 23:50–00:20 UTC across the ``--as-of 2025-03-03`` midnight; OC01's M5 lists
    FI-8000-0001 cut at 00:10 on the 4th. INT-7 belongs to the period (HD on the 3rd) and
    is impacted: clients_hs 1, cuts_in_windows 1. A supervision cut at 01:00 on the 4th
    (outside windows, after the end) is not in the period: cuts_out_of_windows 0.
    """
    net.pms((PM1, "OI01"))
    hd, hf = "2025-03-03T23:50:00Z", "2025-03-04T00:20:00Z"
    net.messages(m1("INT-7", hd=hd), m3("INT-7", hd=hd, hf=hf),
                 m5(ref("INT-7"), [("FI-8000-0001", "2025-03-04T00:10:00Z")],
                    at="2025-03-04T00:30:00Z"))
    net.file("outages", "code_oc,pm_id,pto,cut_at\n"
                        f"OC01,{PM1},FI-8000-0002,2025-03-04T01:00:00Z\n")
    p = net.pm(net.outages("--since", "2025-03-03", "--as-of", "2025-03-03"), PM1)
    assert (p["impacted_interventions"], p["clients_hs"], p["cuts_in_windows"],
            p["cuts_out_of_windows"]) == (1, 1, 1, 0)


# ---------------------------------------------------------------- 5. the baseline per PM

def test_a_pm_without_supervision_has_no_baseline_and_an_unknown_attribution(net, db_path):
    """§6 blacklist: attribution needs cuts known outside windows (line supervision).

    PM1 has OC01 supervision records (FI-9000-0001 at 15:00, outside windows); PM2 has
    none: only M5s, one of which sent a cut (FI-9000-0002, 16:00) outside its own
    window [10:00, 11:00]. Before, the baseline was decided for the whole network and PM2
    got a rate ratio from that stray cut. Now PM2: supervised false, rate ratio null,
    attribution unknown (reason: no supervision record); PM1: supervised true.
    """
    net.pms((PM1, "OI01"), (PM2, "OI01"))
    net.messages(m1("INT-8"), m3("INT-8"),
                 m5(ref("INT-8"), [("FI-9000-0003", "2025-03-03T10:30:00Z")]),
                 m1("INT-9", pm=PM2), m3("INT-9", pm=PM2),
                 m5(ref("INT-9"), [("FI-9000-0004", "2025-03-03T10:30:00Z"),
                                   ("FI-9000-0002", "2025-03-03T16:00:00Z")]))
    net.file("outages", "code_oc,pm_id,pto,cut_at\n"
                        f"OC01,{PM1},FI-9000-0001,2025-03-03T15:00:00Z\n")
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    p1, p2 = net.pm(d, PM1), net.pm(d, PM2)
    assert (p1["supervised"], p2["supervised"]) == (True, False)
    assert p2["rate_ratio"] is None and p2["in_window_rate_per_h"] is None
    assert p2["cuts_out_of_windows"] == 1      # still counted, but it is no baseline
    bl = blacklist(open_tables(db_path), as_of=__import__("datetime").date(2025, 3, 3))
    t = bl.table.set_index("pm_id")
    assert t.loc[PM2, "attribution"] == "unknown"
    assert t.loc[PM2, "attribution_reason"].startswith("no line-supervision record")


def test_attribution_compares_only_the_supervised_ocs(net):
    """The baseline counts, in and out of windows alike, the cuts of the OCs whose lines
    line supervision watches at the PM. PM1: OC01 supervised (one cut at 15:00), OC02 sends
    M5s only. INT-10 [10:00, 11:00]: OC01 cut FI-9100-0001 (M5 + supervision), OC02 cut
    FI-9100-0002 (M5). cuts_in_windows 2, but baseline_cuts_in_windows 1 (OC01's) and
    baseline_cuts_out_of_windows 1; the rate ratio is (1 / 1 h) / (1 / 23 h) = 23.
    """
    net.pms((PM1, "OI01"))
    net.messages(m1("INT-10"), m3("INT-10"),
                 m5(ref("INT-10"), [("FI-9100-0001", "2025-03-03T10:20:00Z")]),
                 m5(ref("INT-10"), [("FI-9100-0002", "2025-03-03T10:25:00Z")], oc="OC02"))
    net.file("outages", "code_oc,pm_id,pto,cut_at\n"
                        f"OC01,{PM1},FI-9100-0001,2025-03-03T10:20:00Z\n"
                        f"OC01,{PM1},FI-9100-0003,2025-03-03T15:00:00Z\n")
    p = net.pm(net.outages("--since", "2025-03-03", "--as-of", "2025-03-03"), PM1)
    assert (p["cuts_in_windows"], p["baseline_cuts_in_windows"],
            p["baseline_cuts_out_of_windows"], p["supervised_ocs"]) == (2, 1, 1, 1)
    assert p["rate_ratio"] == pytest.approx(23.0)


def test_attribution_by_hand():
    """:func:`attribute` on three PMs: no baseline → unknown; a baseline but no baseline cut
    in windows → unknown; interval above 1 → interventions; else fragile."""
    import pandas as pd
    t = attribute(pd.DataFrame({
        "supervised": [False, True, True, True],
        "baseline_cuts_in_windows": [3, 0, 5, 5],
        "rate_ratio_lo": [float("nan"), 0.0, 2.5, 0.7]}))
    assert list(t["attribution"]) == ["unknown", "unknown", "interventions", "fragile"]


# ---------------------------------------------------------------- 6. M5 reception

def test_m5_before_m3_is_accepted_and_counted_in_the_oc_figures(net):
    """Flow 3 answers M4, itself sent on M3: an M5 that comes before the M3 is accepted
    (the OC may resend), and the OC figures count it (``m5_before_m3``)."""
    net.pms((PM1, "OI01"))
    answers = net.messages(m1("INT-11"), m5(ref("INT-11"), [], at="2025-03-03T10:30:00Z"),
                           m3("INT-11"))
    assert answers[1]["Code_Reponse"] == 0
    assert answers[1]["Description_Reponse"].endswith("no M3 yet")
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    assert {r["code_oc"]: r["m5_before_m3"] for r in d["ocs"]} == {"OC01": 1}


def test_set_aside_clients_are_in_the_quarantine(net, run_cli):
    """One client with PTO ``inconnu`` no longer loses the valid ones (2.1.5)."""
    net.pms((PM1, "OI01"))
    net.messages(m1("INT-12"), m3("INT-12"),
                 m5(ref("INT-12"), [("FI-1200-0001", "2025-03-03T10:20:00Z"),
                                    ("inconnu", "2025-03-03T10:21:00Z")]))
    p = net.pm(net.outages("--since", "2025-03-03", "--as-of", "2025-03-03"), PM1)
    assert p["clients_hs"] == 1
    code, out, _err = run_cli("quarantine")
    assert code == 0 and "client set aside (the M5 was accepted): PTO unknown ('inconnu')" in out
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    assert {r["code_oc"]: r["clients_set_aside"] for r in d["ocs"]} == {"OC01": 1}


# ---------------------------------------------------------------- 7. references and partners

def test_a_do_reference_under_another_oi_never_moves_the_intervention(net):
    """2.1.6: one OI reference per DO reference — of that OI. This database serves OI01 and
    OI02. DO01 sends M1 INT-13 to OI01 at PM1, then an M3 INT-13 naming OI02 at PM3
    (an OI02 PM): a new intervention of OI02 (created by M3), and the OI01 one stays at
    PM1 without HF. An M1 INT-13 naming OI09 (not ours) for PM1: MAUVAIS_OI (§6)."""
    net.cli("config", "oi_codes", "OI01,OI02")
    net.pms((PM1, "OI01"), (PM3, "OI02"))
    a = net.messages(m1("INT-13"), m3("INT-13", pm=PM3, oi="OI02"),
                     m1("INT-13", oi="OI09", at="2025-03-03T10:05:00Z"))
    assert [x["Code_Reponse"] for x in a] == [0, 0, 5]
    assert a[0]["Ref_Interv_OI"] != a[1]["Ref_Interv_OI"]
    assert a[2]["Libelle_Reponse"] == "MAUVAIS_OI"
    assert a[2]["Description_Reponse"] == f"Code_OI: 'OI09' is not this OI; PM {PM1} belongs to OI01"
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    assert (net.pm(d, PM1)["missing_hf"], net.pm(d, PM3)["interventions"]) == (1, 1)


def test_partner_lists_reject_unknown_dos_and_ocs(net):
    """§6 rejections CODE_DO_INCONNU and CODE_OC_INCONNU, active once the database knows its
    partners; every KO answer has a description."""
    net.pms((PM1, "OI01"))
    net.cli("config", "do_codes", "DO01")
    net.cli("config", "oc_codes", "OC01")
    a = net.messages(m1("INT-14"), m1("INT-15", do="DO77"),
                     m5(ref("INT-14"), [], oc="OC09"), m5(ref("INT-14"), []))
    assert [(x["Code_Reponse"], x["Libelle_Reponse"]) for x in a] == [
        (0, "OK"), (6, "CODE_DO_INCONNU"), (4, "CODE_OC_INCONNU"), (0, "OK")]
    assert a[1]["Description_Reponse"] == "Code_DO: 'DO77' is not a DO known to this OI"
    assert a[2]["Description_Reponse"] == "Code_OC_impacte: 'OC09' is not an OC known to this OI"


def test_config_checks_its_values(run_cli):
    code, _out, err = run_cli("config", "timezone", "Mars/Olympus")
    assert code != 0 and "not an IANA time zone" in err and len(err.strip().splitlines()) == 1
    code, _out, err = run_cli("config", "do_codes", "do1")
    assert code != 0 and "4-character codes" in err
    assert run_cli("config", "timezone", "Europe/Paris")[1] == "timezone = Europe/Paris\n"
    assert run_cli("config", "timezone", "")[1] == "timezone = (unset)\n"


# ---------------------------------------------------------------- spec §6 evolutions

def test_wider_exclusions_and_late_m1_and_overlaps(net):
    """§6: DERCO, overwritten lines, ONT swaps and moving customers are no customer cuts;
    a large M1-reception delay is treated apart; overlapping presences are tagged.

    PM4: INT-16 [10:00, 11:00] with its M1 received at 10:45 (2,700 s after HD, above the
    1,800 s threshold: late M1) and INT-17 [10:30, 10:50] by DO02 (overlaps INT-16: both
    ``multi``). Supervision cuts in both windows: FI-1600-0001 at 10:40 (derco),
    FI-1600-0002 at 10:41 (ont_swap), FI-1600-0003 at 10:42 (counted: in both windows →
    shared). OC01 sends empty M5s for both (covered).
    Per PM: clients_hs 2 (FI-1600-0003 counts for each), cuts_in_windows 1, shared_cuts 2,
    impacted 2, both impacted on shared cuts only, multi 2, late M1 1 (impacted 1);
    excluded: derco 1, ont_swap 1.
    """
    net.pms((PM4, "OI01"))
    net.messages(m1("INT-16", pm=PM4, at="2025-03-03T10:45:00Z"), m3("INT-16", pm=PM4),
                 m1("INT-17", pm=PM4, do="DO02", hd="2025-03-03T10:30:00Z"),
                 m3("INT-17", pm=PM4, do="DO02", hd="2025-03-03T10:30:00Z",
                    hf="2025-03-03T10:50:00Z"),
                 m5(ref("INT-16"), []), m5(ref("INT-17", do="DO02"), []))
    net.file("outages", "code_oc,pm_id,pto,cut_at,cause\n"
                        f"OC01,{PM4},FI-1600-0001,2025-03-03T10:40:00Z,derco\n"
                        f"OC01,{PM4},FI-1600-0002,2025-03-03T10:41:00Z,ont_swap\n"
                        f"OC01,{PM4},FI-1600-0003,2025-03-03T10:42:00Z,\n")
    d = net.outages("--since", "2025-03-03", "--as-of", "2025-03-03")
    p = net.pm(d, PM4)
    assert (p["clients_hs"], p["cuts_in_windows"], p["shared_cuts"], p["impacted_interventions"],
            p["impacted_shared_only"], p["multi_interventions"], p["late_m1_interventions"],
            p["impacted_late_m1"]) == (2, 1, 2, 2, 2, 2, 1, 1)
    ex = d["network"]["excluded_cuts"]
    assert (ex["derco"], ex["ont_swap"]) == (1, 1)
    do = {r["code_do"]: r for r in d["dos"]}
    assert (do["DO01"]["shared_cuts"], do["DO01"]["m1_late"], do["DO02"]["multi_interventions"]) \
        == (1, 1, 1)
