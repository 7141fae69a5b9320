"""The demo dataset: determinism, clean loads, coherent references, the planted patterns,
agreement of the message log with the tabular files, and the ``opeval demo`` command."""
from __future__ import annotations

import json
from collections import defaultdict

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.analyses.efficiency.config import SERVICE_LIFE_YEARS
from evaluation.demo import FILES, MESSAGES_FILE, PATTERNS_FILE, build, generate
from evaluation.demo.network import join_groups
from evaluation.store.schema import LOAD_ORDER

AS_OF = "TIMESTAMP '2025-07-01 00:00:00'"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The small demo built once: (connection to the database, files directory, build result)."""
    root = tmp_path_factory.mktemp("demo")
    built = build(root / "demo.duckdb", scale="small", seed=42, out=root / "files")
    con = duckdb.connect(str(built.db_path), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    yield con, root / "files", built
    con.close()


def one(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchone()[0]


# ------------------------------------------------------------------ determinism

def test_same_seed_gives_identical_files_other_seed_differs(tmp_path):
    a = generate("small", seed=7, out=tmp_path / "a")
    b = generate("small", seed=7, out=tmp_path / "b")
    c = generate("small", seed=8, out=tmp_path / "c")
    names = sorted(FILES.values()) + [MESSAGES_FILE, PATTERNS_FILE]
    for name in names:
        assert (a.out / name).read_bytes() == (b.out / name).read_bytes(), name
    differing = [n for n in names if (a.out / n).read_bytes() != (c.out / n).read_bytes()]
    # Everything random differs; only the planted-only parts may coincide.
    for name in ("faults.parquet", "alarms.parquet", "interventions.parquet", "outages.parquet",
                 MESSAGES_FILE):
        assert name in differing
    # The planted ids do not depend on the seed.
    pa = json.loads((a.out / PATTERNS_FILE).read_text())
    pc = json.loads((c.out / PATTERNS_FILE).read_text())
    assert pa["security"] == pc["security"]
    assert pa["network"]["bad_pms"] == pc["network"]["bad_pms"]


@given(st.lists(st.tuples(st.integers(0, 5), st.text("abc", min_size=1, max_size=3)),
                max_size=30))
def test_join_groups_matches_a_plain_python_join(pairs):
    groups = np.array([g for g, _ in pairs], dtype=np.int64)
    items = np.array([t for _, t in pairs], dtype=object)
    expected = defaultdict(list)
    for g, t in pairs:
        expected[g].append(t)
    got = join_groups(groups, items, 6)
    assert list(got) == [",".join(expected[g]) for g in range(6)]


def test_join_groups_hand_case():
    # group 1 gets "a" then "c" (order kept), group 0 "b", group 2 nothing.
    got = join_groups(np.array([1, 0, 1]), np.array(['"a"', '"b"', '"c"'], dtype=object), 3)
    assert list(got) == ['"b"', '"a","c"', ""]


# ------------------------------------------------------------------ loading

def test_every_table_loads_without_quarantine(demo):
    con, files, built = demo
    assert built.quarantined == 0
    rows = json.loads((files / PATTERNS_FILE).read_text())["rows"]
    for name in LOAD_ORDER:
        n = one(con, f'SELECT count(*) FROM "{name}"')
        assert n > 0, name
        assert n == rows[name] == built.loads[name].total("accepted"), name
    assert 20_000 <= sum(rows.values()) <= 50_000
    assert one(con, "SELECT value FROM meta WHERE key = 'oi_codes'") == "ALTF,NEOI"
    assert one(con, "SELECT value FROM meta WHERE key = 'demo_as_of'") == "2025-07-01T00:00:00"
    # both readers are used
    assert {p.suffix for ps in built.generated.paths.values() for p in ps} == {".csv", ".parquet"}


def test_references_and_time_order(demo):
    con, _, _ = demo
    checks = {
        "fault device of another system or subsystem": """SELECT count(*) FROM faults f
            JOIN devices d USING (device_id) WHERE d.system_id <> f.system_id
               OR d.subsystem <> f.subsystem""",
        "fault outside the device's service": """SELECT count(*) FROM faults f
            JOIN devices d USING (device_id) WHERE f.occurred_at < d.installed_on
               OR f.occurred_at >= d.decommissioned_on""",
        "fault times out of order": """SELECT count(*) FROM faults WHERE reported_at < occurred_at
            OR responded_at < reported_at OR arrived_at < responded_at
            OR restored_at < coalesce(arrived_at, responded_at) OR restored_at >= """ + AS_OF,
        "alarm resource unknown or of another system": """SELECT count(*) FROM alarms a
            LEFT JOIN devices d ON d.device_id = a.resource_id
            WHERE d.device_id IS NULL OR d.system_id <> a.system_id""",
        "alarm times out of order": """SELECT count(*) FROM alarms WHERE handled_at < raised_at
            OR closed_at < handled_at OR escalated_at < raised_at OR closed_at >= """ + AS_OF,
        "alarm status incoherent": """SELECT count(*) FROM alarms WHERE
            (status = 'closed') <> (closed_at IS NOT NULL)
            OR (status = 'in_progress' AND handled_at IS NULL)
            OR (status = 'expired' AND handled_at IS NOT NULL)""",
        "maintenance ends before it starts": "SELECT count(*) FROM maintenance WHERE ended_at < started_at",
        "intervention code_oi differs from its PM's": """SELECT count(*) FROM interventions i
            JOIN pms p USING (pm_id) WHERE p.oi_code <> i.code_oi""",
        "target without intervention": """SELECT count(*) FROM intervention_targets
            WHERE ref_interv_oi NOT IN (SELECT ref_interv_oi FROM interventions)""",
        "M5 cut at another PM than its intervention": """SELECT count(*) FROM outages o
            JOIN interventions i USING (ref_interv_oi) WHERE i.pm_id <> o.pm_id""",
        "M5 cut outside its declared window": """SELECT count(*) FROM outages o
            JOIN interventions i USING (ref_interv_oi)
            WHERE o.cut_at NOT BETWEEN i.started_at AND i.ended_at""",
        # (after the first M3; a corrected M3 may come later and set m3_received_at)
        "M5 before HF or without HF": """SELECT count(*) FROM outage_reports r
            JOIN interventions i USING (ref_interv_oi)
            WHERE r.received_at < i.ended_at OR i.ended_at IS NULL""",
        "clients_hs differs from the listed cuts": """SELECT count(*) FROM outage_reports r
            LEFT JOIN (SELECT ref_interv_oi, code_oc, count(*) AS n FROM outages
                       WHERE ref_interv_oi IS NOT NULL GROUP BY ALL) o USING (ref_interv_oi, code_oc)
            WHERE r.clients_hs <> coalesce(o.n, 0)""",
        "listed cut without its report": """SELECT count(*) FROM outages o WHERE ref_interv_oi
            IS NOT NULL AND NOT EXISTS (SELECT 1 FROM outage_reports r
            WHERE r.ref_interv_oi = o.ref_interv_oi AND r.code_oc = o.code_oc)""",
    }
    bad = {what: one(con, sql) for what, sql in checks.items()}
    assert bad == {what: 0 for what in checks}


# ------------------------------------------------------------------ security patterns

def test_sla_patterns(demo):
    con, _, _ = demo
    # SYS-0004 warehouse: reported 19:15, responded 20:30 (1.25 h), arrived 01:15 (6 h),
    # restored 07:30 (12.25 h): the three limits of 5.1.1 (0.5 / 4 / 8 h) are broken.
    r = con.execute("""SELECT epoch(responded_at - reported_at) / 3600,
        epoch(arrived_at - reported_at) / 3600, epoch(restored_at - reported_at) / 3600
        FROM faults WHERE device_id = 'SYS-0004-D0015'
          AND occurred_at = TIMESTAMP '2025-02-08 19:00:00'""").fetchone()
    assert r == (1.25, 6.0, 12.25)
    # SYS-0001 has the stricter limit of 4 h and a repair of 5.5 h (10:05 -> 15:35).
    assert one(con, "SELECT sla_repair_h FROM systems WHERE system_id = 'SYS-0001'") == 4.0
    assert one(con, """SELECT epoch(restored_at - reported_at) / 3600 FROM faults
        WHERE device_id = 'SYS-0001-D0005' AND occurred_at = TIMESTAMP '2025-04-03 10:00:00'""") == 5.5
    # The background has slow repairs, late responses and late arrivals too, and open faults.
    slow, late_resp, late_arr, still_open = con.execute("""SELECT
        count(*) FILTER (WHERE restored_at - reported_at > INTERVAL 8 HOURS),
        count(*) FILTER (WHERE responded_at - reported_at > INTERVAL 30 MINUTES),
        count(*) FILTER (WHERE repair_mode = 'onsite' AND arrived_at - reported_at > INTERVAL 4 HOURS),
        count(*) FILTER (WHERE restored_at IS NULL) FROM faults""").fetchone()
    assert slow > 10 and late_resp > 10 and late_arr > 5 and still_open >= 2
    assert one(con, "SELECT restored_at FROM faults WHERE device_id = 'SYS-0002-D0009' "
                    "AND occurred_at = TIMESTAMP '2025-06-12 08:30:00'") is None


def test_maintenance_patterns(demo):
    con, _, _ = demo
    days = dict(con.execute(f"""SELECT s.system_id,
        date_diff('day', max(m.started_at), {AS_OF}) - s.maintenance_cycle_days
        FROM systems s JOIN maintenance m ON m.system_id = s.system_id AND m.kind = 'periodic'
        GROUP BY s.system_id, s.maintenance_cycle_days""").fetchall())
    overdue = sorted(k for k, v in days.items() if v > 0)
    assert overdue == ["SYS-0002"]
    # SYS-0008 is still under its 24-month warranty and has no periodic maintenance yet.
    assert "SYS-0008" not in days
    assert one(con, "SELECT warranty_months FROM systems WHERE system_id = 'SYS-0008'") == 24
    # The last periodic maintenance of SYS-0002 has no report.
    assert one(con, """SELECT report_issued FROM maintenance WHERE system_id = 'SYS-0002'
        AND kind = 'periodic' ORDER BY started_at DESC LIMIT 1""") is False
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM maintenance").fetchall()}
    assert kinds == {"periodic", "per_call", "resident"}
    # SYS-0007: every periodic maintenance of the last year is followed by a fault within 4 days.
    missing = one(con, f"""SELECT count(*) FROM maintenance m WHERE system_id = 'SYS-0007'
        AND kind = 'periodic' AND ended_at >= {AS_OF} - INTERVAL 365 DAYS
        AND NOT EXISTS (SELECT 1 FROM faults f WHERE f.system_id = m.system_id
            AND f.occurred_at BETWEEN m.ended_at AND m.ended_at + INTERVAL 4 DAYS)""")
    n = one(con, f"""SELECT count(*) FROM maintenance WHERE system_id = 'SYS-0007'
        AND kind = 'periodic' AND ended_at >= {AS_OF} - INTERVAL 365 DAYS""")
    assert n >= 3 and missing == 0


def test_device_patterns(demo):
    con, _, _ = demo
    life = ", ".join(f"('{k}', {v})" for k, v in SERVICE_LIFE_YEARS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE life AS SELECT * FROM (VALUES {life}) t(device_type, years)")
    past = dict(con.execute(f"""SELECT system_id, count(*) FROM devices JOIN life USING (device_type)
        WHERE installed_on + to_years(years) < {AS_OF} AND decommissioned_on IS NULL
        GROUP BY ALL""").fetchall())
    assert past.get("SYS-0004", 0) >= 15
    # dvr of SYS-0003: installed 2020-09-10 + 5 years = 2025-09-10, 71 days after the end.
    soon = one(con, f"""SELECT date_diff('day', {AS_OF}, installed_on + to_years(years))
        FROM devices JOIN life USING (device_type) WHERE device_id = 'SYS-0003-D0003'""")
    assert soon == 71
    # Repeat faults: 4 faults of SYS-0003-D0005 within 68 days.
    assert one(con, """SELECT max(n) FROM (SELECT count(*) OVER (ORDER BY occurred_at
        RANGE BETWEEN INTERVAL 90 DAYS PRECEDING AND CURRENT ROW) AS n FROM faults
        WHERE device_id = 'SYS-0003-D0005')""") >= 4
    # Zone exposure: every video device of SYS-0006 'Car park' is down 02:10-09:40.
    video = one(con, """SELECT count(*) FROM devices WHERE system_id = 'SYS-0006'
        AND zone = 'Car park' AND subsystem = 'video_surveillance'""")
    down = one(con, """SELECT count(DISTINCT d.device_id) FROM devices d JOIN faults f
        USING (device_id) WHERE d.system_id = 'SYS-0006' AND d.zone = 'Car park'
        AND d.subsystem = 'video_surveillance'
        AND f.occurred_at <= TIMESTAMP '2025-05-17 02:10:00'
        AND f.restored_at >= TIMESTAMP '2025-05-17 09:40:00'""")
    assert video == down == 4
    intrusion = one(con, """SELECT count(*) FROM devices WHERE system_id = 'SYS-0004'
        AND zone = 'Warehouse' AND subsystem = 'intrusion_alarm'""")
    blind = one(con, """SELECT count(DISTINCT device_id) FROM faults JOIN devices USING (device_id)
        WHERE devices.system_id = 'SYS-0004' AND zone = 'Warehouse'
        AND occurred_at = TIMESTAMP '2025-02-08 19:00:00'
        AND restored_at = TIMESTAMP '2025-02-09 07:30:00'""")
    assert intrusion == blind == 5


# ------------------------------------------------------------------ alarm patterns

def test_alarm_patterns(demo):
    con, _, _ = demo
    # Chattering: >= 3 raises of one definition on one resource within 60 s.
    chatter = con.execute("""SELECT DISTINCT definition, resource_id FROM (
        SELECT definition, resource_id, count(*) OVER (PARTITION BY definition, resource_id
            ORDER BY raised_at RANGE BETWEEN INTERVAL 60 SECONDS PRECEDING AND CURRENT ROW) AS n
        FROM alarms) WHERE n >= 3""").fetchall()
    assert ("Door held open", "SYS-0003-D0007") in chatter
    # Flood: more than 10 alarms in 10 minutes at SYS-0006 on 2025-05-17, for 30+ minutes.
    flood = con.execute("""SELECT min(raised_at), max(raised_at) FROM (
        SELECT raised_at, count(*) OVER (PARTITION BY system_id ORDER BY raised_at
            RANGE BETWEEN INTERVAL 10 MINUTES PRECEDING AND CURRENT ROW) AS n
        FROM alarms WHERE system_id = 'SYS-0006') WHERE n > 10""").fetchone()
    assert str(flood[0].date()) == "2025-05-17" and (flood[1] - flood[0]).total_seconds() >= 1800
    # Wrong schedule: SYS-0005 lobby motion alarms bunched at 06:00-07:30, mostly false.
    early, total, false_share = con.execute("""SELECT
        count(*) FILTER (WHERE hour(raised_at) * 60 + minute(raised_at) BETWEEN 360 AND 450),
        count(*), avg((close_reason = 'false_alarm')::INT) FILTER (WHERE status = 'closed')
        FROM alarms WHERE resource_id = 'SYS-0005-D0005' AND definition = 'Motion detected'""").fetchone()
    assert early / total > 0.8 and false_share > 0.8
    # Standing alarms: taken in hand weeks before the end and never closed nor cleared.
    stale = one(con, f"""SELECT count(*) FROM alarms WHERE system_id = 'SYS-0009'
        AND status = 'in_progress' AND closed_at IS NULL AND cleared_at IS NULL
        AND raised_at < {AS_OF} - INTERVAL 28 DAYS""")
    assert stale == 4
    statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM alarms").fetchall()}
    assert {"closed", "expired", "in_progress"} <= statuses
    reasons = {s for (s,) in con.execute("SELECT DISTINCT close_reason FROM alarms "
                                         "WHERE close_reason IS NOT NULL").fetchall()}
    assert reasons == {"handled", "false_alarm", "other"}
    assert one(con, "SELECT count(DISTINCT priority) FROM alarms") == 5
    assert one(con, "SELECT count(*) FROM alarms WHERE escalated_at IS NOT NULL") > 0
    # The slow operator takes alarms in hand at least twice as slowly as the median operator.
    per_op = dict(con.execute("""SELECT assigned_to, median(epoch(handled_at - raised_at))
        FROM alarms WHERE assigned_to IS NOT NULL GROUP BY 1""").fetchall())
    others = sorted(v for k, v in per_op.items() if k != "op.zhao")
    assert per_op["op.zhao"] > 2 * others[len(others) // 2]


# ------------------------------------------------------------------ network patterns

COUNTED = """SELECT o.* FROM outages o WHERE o.cause IS DISTINCT FROM 'power'
    AND o.pto IS NOT NULL AND NOT coalesce(o.churned, false)
    AND NOT EXISTS (SELECT 1 FROM intervention_targets t
                    WHERE t.ref_interv_oi = o.ref_interv_oi AND t.pto = o.pto)"""


def test_incident_rates_bad_pms_and_noise(demo):
    con, files, _ = demo
    planted = json.loads((files / PATTERNS_FILE).read_text())["network"]
    rows = con.execute(f"""WITH cov AS (SELECT DISTINCT ref_interv_oi FROM outage_reports),
        imp AS (SELECT DISTINCT ref_interv_oi FROM ({COUNTED}) WHERE ref_interv_oi IS NOT NULL)
        SELECT i.pm_id, count(c.ref_interv_oi) AS covered, count(m.ref_interv_oi) AS impacted
        FROM interventions i LEFT JOIN cov c USING (ref_interv_oi)
        LEFT JOIN imp m USING (ref_interv_oi) GROUP BY 1""").fetchall()
    rate = {pm: (imp / cov if cov else None, cov) for pm, cov, imp in rows}
    # The noise PM: one intervention, covered, impacted: 1 of 1.
    assert rate[planted["noise_pm"]] == (1.0, 1)
    ranked = sorted((r for r in rate.items() if r[1][1] >= 20), key=lambda r: -r[1][0])
    assert sorted(pm for pm, _ in ranked[:3]) == sorted(planted["bad_pms"])
    assert all(r[0] >= 0.3 for _, r in ranked[:3]) and ranked[3][1][0] < 0.2


def test_cuts_that_must_not_count(demo):
    con, files, _ = demo
    planted = json.loads((files / PATTERNS_FILE).read_text())["network"]
    # A power cut listed in an M5, inside the window of its intervention.
    listed_power = one(con, """SELECT count(*) FROM outages o JOIN interventions i
        USING (ref_interv_oi) WHERE o.cause = 'power' AND o.cut_at BETWEEN i.started_at AND i.ended_at
        AND i.ref_interv_oi = ?""", [planted["power_in_window"][0]])
    assert listed_power == 8
    # A power cut known from supervision only, inside a window at the first bad PM.
    sup_power = one(con, """SELECT count(*) FROM outages o JOIN interventions i
        ON i.pm_id = o.pm_id AND o.cut_at BETWEEN i.started_at AND i.ended_at
        WHERE o.cause = 'power' AND o.ref_interv_oi IS NULL AND i.ref_interv_oi = ?""",
        [planted["power_in_window_supervision"][0]])
    assert sup_power == 5
    # The DO's own target line cut during the intervention and listed by the OC.
    assert one(con, """SELECT count(*) FROM outages o JOIN intervention_targets t
        ON t.ref_interv_oi = o.ref_interv_oi AND t.pto = o.pto""") > 0
    assert one(con, "SELECT count(*) FROM outages WHERE churned") > 0
    assert one(con, "SELECT count(*) FROM outages WHERE pto IS NULL") > 0
    # Supervision cuts (no Ref_Interv_OI) inside an intervention window.
    assert one(con, """SELECT count(*) FROM outages o JOIN interventions i ON i.pm_id = o.pm_id
        AND o.cut_at BETWEEN i.started_at AND i.ended_at
        WHERE o.ref_interv_oi IS NULL AND o.cause IS DISTINCT FROM 'power'""") > 10
    # Short cuts restored the same day within 20 minutes.
    assert one(con, """SELECT count(*) FROM outages WHERE restored_at - cut_at <= INTERVAL 20 MINUTES
        AND CAST(restored_at AS DATE) = CAST(cut_at AS DATE)""") > 20


def test_operators_and_timestamps(demo):
    con, _, _ = demo
    reports = dict(con.execute("SELECT code_oc, count(*) FROM outage_reports GROUP BY 1").fetchall())
    assert "NOIR" not in reports and {"OCAA", "BLEU", "VERT", "ROUG"} <= set(reports)
    assert one(con, "SELECT count(*) FROM outages WHERE code_oc = 'NOIR'") > 0
    assert one(con, "SELECT count(*) FROM outage_reports WHERE clients_hs = 0") > 100
    assert one(con, """SELECT min(i.ended_at) FROM outage_reports r JOIN interventions i
        USING (ref_interv_oi) WHERE code_oc = 'VERT'""").isoformat() >= "2025-03-01"
    assert one(con, "SELECT count(DISTINCT code_do) FROM interventions") >= 5
    assert one(con, "SELECT count(DISTINCT code_oi) FROM interventions") == 2
    assert one(con, "SELECT min(length(pm_id)) = max(length(pm_id)) AND bool_and("
                    "regexp_full_match(pm_id, 'FI-[0-9]{5}-[0-9]{4}')) FROM pms") is True
    delay = dict(con.execute("""SELECT code_do, median(epoch(m1_received_at - started_at)) / 60
        FROM interventions GROUP BY 1""").fetchall())
    assert delay["RAPI"] > 60 and all(v < 10 for k, v in delay.items() if k != "RAPI")
    # RAPI's declared windows miss cuts by a few minutes (before HD or after HF).
    near = dict(con.execute("""SELECT i.code_do, count(*) FROM outages o JOIN interventions i
        ON i.pm_id = o.pm_id AND o.ref_interv_oi IS NULL AND o.cause IS NULL
        AND (o.cut_at BETWEEN i.started_at - INTERVAL 20 MINUTES AND i.started_at - INTERVAL 1 SECOND
          OR o.cut_at BETWEEN i.ended_at + INTERVAL 1 SECOND AND i.ended_at + INTERVAL 20 MINUTES)
        GROUP BY 1""").fetchall())
    assert near.get("RAPI", 0) > 2 * max(v for k, v in near.items() if k != "RAPI")
    no_hf, no_m1, m3_first = con.execute("""SELECT count(*) FILTER (WHERE ended_at IS NULL),
        count(*) FILTER (WHERE m1_received_at IS NULL),
        count(*) FILTER (WHERE m1_received_at > m3_received_at) FROM interventions""").fetchone()
    assert no_hf > 0 and no_m1 > 0 and m3_first > 0


def test_message_log_shapes(demo):
    _, files, _ = demo
    lines = (files / MESSAGES_FILE).read_text().splitlines()
    msgs = [json.loads(x) for x in lines]
    kinds = {m["message"] for m in msgs}
    assert kinds == {"M1", "M3", "M5"}
    times = [m["received_at"] for m in msgs]
    assert times == sorted(times)
    assert set(msgs[0]["body"]) == {"Code_DO", "Code_OI", "Ref_Interv_DO", "PM", "Nature_PBO_PTO",
                                    "Debut_Inter", "Fin_Inter"}
    m5 = [m["body"] for m in msgs if m["message"] == "M5"]
    assert all(set(b) == {"Code_OC_impacte", "Ref_Interv_OI", "Liste_Clients_HS"} for b in m5)
    assert any(b["Liste_Clients_HS"] == [] for b in m5)
    item = next(b["Liste_Clients_HS"][0] for b in m5 if b["Liste_Clients_HS"])
    assert set(item) == {"PTO", "PBO", "Tube", "Fibre", "Position_PM_Module_OI", "HMS_Coupure"}
    # Exact duplicates (retries) and modified re-emissions of one DO reference.
    bodies = defaultdict(list)
    for m in msgs:
        if m["message"] != "M5":
            bodies[(m["message"], m["body"]["Code_DO"], m["body"]["Ref_Interv_DO"])].append(
                json.dumps(m["body"], sort_keys=True))
    assert any(len(v) > len(set(v)) for v in bodies.values())
    assert any(len(set(v)) > 1 for v in bodies.values())
    # Some M3 comes before its M1; one DO sends local times with an offset.
    first = {}
    for m in msgs:
        if m["message"] != "M5":
            first.setdefault((m["body"]["Code_DO"], m["body"]["Ref_Interv_DO"]), m["message"])
    assert "M3" in first.values()
    assert any(m["body"].get("Debut_Inter", "").endswith("+02:00") for m in msgs
               if m["message"] == "M1")


def test_messages_reproduce_the_tabular_files(demo, tmp_path):
    """Receiving messages.ndjson as the OI (build --via-messages) gives the same tables,
    every column, as loading the tabular files; KO lines are answered, not stored."""
    con, _, _ = demo
    via = build(tmp_path / "via.duckdb", scale="small", seed=42, out=tmp_path / "files",
                via_messages=True)
    assert via.quarantined == 0
    assert set(via.loads) == set(LOAD_ORDER) - {"interventions", "intervention_targets",
                                                "outage_reports"} | {"messages"}
    con.execute(f"ATTACH '{via.db_path}' AS via (READ_ONLY)")
    try:
        for table in LOAD_ORDER:
            diff = one(con, f"""SELECT count(*) FROM ((SELECT * FROM {table}
                EXCEPT ALL SELECT * FROM via.{table}) UNION ALL (SELECT * FROM via.{table}
                EXCEPT ALL SELECT * FROM {table}))""")
            assert diff == 0, table
        codes = dict(con.execute("""SELECT libelle_reponse, count(*) FROM via.messages
            GROUP BY 1""").fetchall())
        effects = dict(con.execute("SELECT effect, count(*) FROM via.messages GROUP BY 1").fetchall())
    finally:
        con.execute("DETACH via")
    assert {"CHAMPS_NON_RENSEIGNE", "MAUVAIS_FORMAT", "CODE_OI_INCONNU", "MAUVAIS_OI", "PM_INCONNU",
            "REF_INTERV_OI_INCONNUE"} <= set(codes)
    ko = sum(v for k, v in codes.items() if k != "OK")
    assert via.loads["messages"].total("quarantined") == ko == effects["rejected"]
    # one creation per intervention; duplicates change nothing
    assert effects["inserted"] == one(con, "SELECT count(*) FROM interventions") + one(
        con, "SELECT count(*) FROM outage_reports")
    assert effects["unchanged"] > 0 and effects["updated"] > 0


# ------------------------------------------------------------------ the command

def test_cli_builds_and_refuses_to_overwrite(run_cli, db_path, tmp_path):
    out = tmp_path / "files"
    code, stdout, _ = run_cli("demo", "--scale", "small", "--seed", "3", "--out", out)
    assert code == 0
    assert "interventions" in stdout and "messages" in stdout
    assert (out / MESSAGES_FILE).is_file() and all((out / f).is_file() for f in FILES.values())
    con = duckdb.connect(str(db_path), read_only=True)
    n = one(con, "SELECT count(*) FROM alarms")
    assert one(con, "SELECT count(*) FROM quarantine") == 0
    con.close()
    line = next(x for x in stdout.split("\n") if "alarms" in x)
    assert line.split()[:2] == ["alarms", str(n)]
    code, _, err = run_cli("demo", "--scale", "small", "--out", out)
    assert code == 1 and "exists" in err and "--force" in err and len(err.strip().splitlines()) == 1
    code, stdout, _ = run_cli("demo", "--scale", "small", "--seed", "4", "--out", out, "--force",
                              "--via-messages")
    assert code == 0 and "answered KO" in stdout
    con = duckdb.connect(str(db_path), read_only=True)
    assert json.loads(one(con, "SELECT value FROM meta WHERE key = 'demo'"))["seed"] == 4
    assert one(con, "SELECT count(*) FROM messages") == sum(
        1 for _ in (out / MESSAGES_FILE).open())
    con.close()
    with pytest.raises(SystemExit):
        run_cli("demo", "--scale", "huge")


def test_sharded_scale_loads_cleanly_and_matches_its_messages(tmp_path, monkeypatch):
    """The large scale's path (several shards, several files per table) on a tiny scale."""
    from evaluation.demo.common import SCALES, Scale
    monkeypatch.setitem(SCALES, "tiny", Scale("tiny", systems=10, devices_per_system=(20, 30),
                                              fault_rate=0.55, alarm_rate=0.2, pms=10,
                                              interventions_per_line_month=0.01, shards=2))
    built = build(tmp_path / "t.duckdb", scale="tiny", seed=1, out=tmp_path / "files")
    assert built.quarantined == 0
    assert [p.name for p in built.generated.paths["alarms"]] == ["alarms.00.parquet",
                                                                 "alarms.01.parquet"]
    con = duckdb.connect(str(built.db_path), read_only=True)
    # shard 1 continues the numbering: systems SYS-0011.., PMs after the first 10, ids unique
    assert one(con, "SELECT max(system_id) FROM systems") == "SYS-0020"
    assert one(con, "SELECT count(DISTINCT pm_id) FROM pms") == 20
    assert one(con, "SELECT count(*) = count(DISTINCT fault_id) FROM faults") is True
    assert one(con, "SELECT count(DISTINCT substr(device_id, 1, 8)) FROM faults") > 10
    # receiving the two message files (one load each) gives the same network tables
    via = build(tmp_path / "v.duckdb", scale="tiny", seed=1, out=tmp_path / "files2",
                via_messages=True)
    assert len(via.loads["messages"].files) == 2
    con.execute(f"ATTACH '{via.db_path}' AS via (READ_ONLY)")
    for table in ("interventions", "intervention_targets", "outage_reports", "outages"):
        assert one(con, f"SELECT count(*) FROM {table}") > 0
        assert one(con, f"""SELECT count(*) FROM ((SELECT * FROM {table} EXCEPT ALL
            SELECT * FROM via.{table}) UNION ALL (SELECT * FROM via.{table} EXCEPT ALL
            SELECT * FROM {table}))""") == 0, table
    con.close()


def test_demo_database_locates_the_notebooks_database(tmp_path, monkeypatch):
    """$OPEVAL_DB and the last day before its demo_as_of setting (an as-of date means the
    end of that day: the world ends at 2025-07-01 00:00, its last day is 2025-06-30); else
    the demo world's; a missing file says how to make one."""
    import datetime as dt

    from evaluation.demo import demo_database
    from evaluation.store import db

    path = tmp_path / "nb.duckdb"
    con = db.connect(path)
    con.close()
    monkeypatch.setenv("OPEVAL_DB", str(path))
    assert demo_database() == (path.resolve(), dt.date(2025, 6, 30))
    con = db.connect(path)
    db.set_setting(con, "demo_as_of", "2024-01-02T00:00:00")
    con.close()
    assert demo_database()[1] == dt.date(2024, 1, 1)
    monkeypatch.setenv("OPEVAL_DB", str(tmp_path / "absent.duckdb"))
    with pytest.raises(FileNotFoundError, match="run `opeval demo`"):
        demo_database()


@pytest.mark.slow
def test_demo_files_go_beside_the_database_not_the_current_folder(tmp_path):
    """Issue #14, item 12: `opeval demo --db /some/where.duckdb` run from another folder
    wrote its files into ./data/demo/ of that folder. Now they go to demo/<scale> beside
    the database, and the folder it runs in is left empty (no files, no DuckDB spill)."""
    from conftest import opeval_subprocess

    here, there = tmp_path / "here", tmp_path / "some"
    here.mkdir()
    proc = opeval_subprocess("--db", there / "where.duckdb", "demo", "--scale", "small",
                             cwd=here, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert list(here.iterdir()) == []
    files = there / "demo" / "small"
    assert (files / "systems.csv").is_file() and (files / "messages.ndjson").is_file()
    assert f"files in {files}" in proc.stdout
