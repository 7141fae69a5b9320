"""Bench: reception of an e-Intervention message log (``opeval ingest messages``).

Target: 100 000 messages (M1, M3, M5 with duplicates, re-emissions, M3 before
M1 and about 4 % KO lines) in under 30 s with a peak below 2 GB.

The reference is the straightforward way: the same line checks
(:func:`evaluation.eintervention.fields.parse_line`), then for every message
SELECTs to find the PM, the intervention or the report, and row-by-row
INSERT / UPDATE / DELETE against DuckDB, committed at the end. It is written
independently of :mod:`evaluation.eintervention.rules`, so the bench also
checks that both produce the same tables and the same answers. At full scale
the reference runs on the first 10 000 messages only (row by row it would take
minutes); its throughput is compared, and the tables are compared on that
prefix.
"""
from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
from pathlib import Path

from bench.measure import line, measure
from evaluation.eintervention.rules import make_ref

SIZES = {"small": 10_000, "full": 100_000}
REFERENCE_SIZES = {"small": 5_000, "full": 10_000}
TARGET_S, TARGET_MB = 30.0, 2048
OURS, OTHER = "OI01", "OI02"


# ------------------------------------------------------------------ the log

def pm_rows(n_pms: int = 3000) -> list[tuple]:
    """PMs: nine in ten belong to OI01 (this database), the rest to OI02."""
    return [(f"FI-{i:05d}-{i % 9973:04d}", OTHER if i % 10 == 0 else OURS, 100 + i % 400, None)
            for i in range(n_pms)]


def generate(path: Path, n: int, seed: int = 7) -> int:
    """Write ``n`` message lines to ``path``; return the number written."""
    rng = random.Random(seed)
    pms = pm_rows()
    ours = [p[0] for p in pms if p[1] == OURS]
    theirs = [p[0] for p in pms if p[1] == OTHER]
    t0 = dt.datetime(2024, 1, 1, 6)
    out: list[str] = []

    def emit(kind: str, received: dt.datetime, body: dict) -> None:
        out.append(json.dumps({"message": kind, "received_at": received.isoformat() + "Z",
                               "body": body}))

    k = 0
    while len(out) < n:
        k += 1
        hd = t0 + dt.timedelta(minutes=2 * k + rng.randint(0, 30))
        hf = hd + dt.timedelta(minutes=rng.randint(10, 180))
        pm = rng.choice(theirs) if rng.random() < 0.01 else rng.choice(ours)
        targets = [{"nature": rng.choice((1, 2, 4)), "PBO": f"PT{rng.randint(1, 9_999_999):07d}",
                    "PTO": f"FI-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"}
                   for _ in range(rng.randint(1, 2))]
        m1 = {"Code_DO": rng.choice(("DO01", "DO02", "DO03")), "Code_OI": OURS,
              "Ref_Interv_DO": f"INT-{k:08d}", "PM": pm, "Nature_PBO_PTO": targets,
              "Debut_Inter": hd.isoformat()}
        final = [dict(t, nature=3) if rng.random() < 0.1 else t for t in targets]
        m3 = dict(m1, Nature_PBO_PTO=final, Fin_Inter=hf.isoformat() + "+00:00")
        r = rng.random()
        if r < 0.01:
            emit("M1", hd, dict(m1, Code_DO="do1"))                   # MAUVAIS_FORMAT
        elif r < 0.02:
            emit("M1", hd, {key: v for key, v in m1.items() if key != "PM"})  # CHAMPS_NON_RENSEIGNE
        elif r < 0.025:
            out.append('{"message": "M1", "received_at": "' + hd.isoformat())  # broken JSON
        elif r < 0.03:
            emit("M1", hd, dict(m1, Code_OI="OI99"))                  # CODE_OI_INCONNU
        order = rng.random()
        if order < 0.90:
            emit("M1", hd + dt.timedelta(seconds=30), m1)
            if rng.random() < 0.05:
                emit("M1", hd + dt.timedelta(minutes=2), m1)          # retry: duplicate
            if rng.random() < 0.03:
                emit("M1", hd + dt.timedelta(minutes=3),              # modified re-emission
                     dict(m1, Debut_Inter=(hd - dt.timedelta(minutes=1)).isoformat()))
            emit("M3", hf + dt.timedelta(seconds=30), m3)
        elif order < 0.95:
            emit("M3", hf + dt.timedelta(seconds=30), m3)             # M3 before M1
            emit("M1", hf + dt.timedelta(minutes=5), m1)
        else:
            emit("M3", hf + dt.timedelta(seconds=30), m3)             # M3 alone
        if pm in ours and rng.random() < 0.6:
            ref = make_ref(OURS, m1["Code_DO"], m1["Ref_Interv_DO"])
            for oc in rng.sample(("OC01", "OC02", "OC03"), rng.randint(1, 2)):
                clients = [{"PTO": f"FI-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                            "PBO": rng.choice(("inconnu", f"PT{rng.randint(1, 9_999_999):07d}")),
                            "Tube": str(rng.randint(1, 12)), "Fibre": str(rng.randint(1, 12)),
                            "Position_PM_Module_OI": rng.choice(("inconnu", f"M{rng.randint(1, 40)}")),
                            "HMS_Coupure": (hd + dt.timedelta(minutes=rng.randint(0, 10))).isoformat()}
                           for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3)))]
                body = {"Code_OC_impacte": oc, "Ref_Interv_OI": ref}
                if clients:
                    body["Liste_Clients_HS"] = clients
                emit("M5", hf + dt.timedelta(minutes=20), body)
                if rng.random() < 0.03:
                    emit("M5", hf + dt.timedelta(minutes=40), dict(body, Liste_Clients_HS=[]))
        if rng.random() < 0.005:
            emit("M5", hf, {"Code_OC_impacte": "OC01", "Ref_Interv_OI": "OI01-UNKNOWN"})
    out = out[:n]
    path.write_text("\n".join(out) + "\n")
    return len(out)


def _prepare(db_path: str):
    from evaluation.store import db
    con = db.connect(db_path)
    import pyarrow as pa
    rows = pm_rows()
    con.register("__pms", pa.table({name: [r[k] for r in rows] for k, name in
                                    enumerate(("pm_id", "oi_code", "lines", "zone"))}))
    con.execute("INSERT INTO pms SELECT pm_id, oi_code, lines, CAST(zone AS VARCHAR) FROM __pms")
    con.unregister("__pms")
    return con


FINGERPRINT = {
    "interventions": "ref_interv_oi, ref_interv_do, code_do, code_oi, pm_id, started_at, ended_at, "
                     "m1_received_at, m3_received_at",
    "intervention_targets": "ref_interv_oi, nature, pbo, pto, declared_in",
    "outage_reports": "ref_interv_oi, code_oc, received_at, clients_hs, clients_set_aside",
    "outages": "code_oc, pm_id, pto, pbo, tube, fibre, position_pm, cut_at, ref_interv_oi",
    "messages": "line, code_reponse, effect, ref_interv_oi",
}


def fingerprint(con) -> dict:
    """Row count and an order-free hash of every table the reception writes."""
    return {t: con.execute(f"SELECT count(*), coalesce(sum(hash({cols})), 0) FROM {t}").fetchone()
            for t, cols in FINGERPRINT.items()}


# ------------------------------------------------------------------ the two ways

def run_fast(db_path: str, log_path: str) -> dict:
    from evaluation.eintervention.reception import ingest_messages
    con = _prepare(db_path)
    result = ingest_messages(con, [log_path], oi_codes=[OURS], progress=False)
    out = {"read": result.total("rows_read"), "ko": result.total("quarantined"),
           "fingerprint": fingerprint(con)}
    con.close()
    return out


def run_reference(db_path: str, log_path: str) -> dict:
    """The straightforward reception: one SELECT/INSERT/UPDATE at a time."""
    from evaluation.eintervention.fields import LIBELLES_DO, LIBELLES_M5, describe, parse_line
    con = _prepare(db_path)
    con.execute("BEGIN TRANSACTION")
    ko = read = 0
    with open(log_path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, start=1):
            read += 1
            p = parse_line(number, text.rstrip("\n"))
            ref, effect = None, "rejected"
            if p.faults:
                code, _ = describe(p.faults)
            elif p.kind in ("M1", "M3"):
                owner = con.execute("SELECT oi_code FROM pms WHERE pm_id = ?", [p.pm]).fetchone()
                if p.code_oi != OURS:
                    known = con.execute("""SELECT 1 FROM interventions WHERE code_do = ?
                        AND ref_interv_do = ? AND code_oi = ?""",
                                        [p.code_do, p.ref_do, OURS]).fetchone()
                    code = 5 if (owner is not None and owner[0] == OURS) or known else 3
                elif owner is None or owner[0] != p.code_oi:
                    code = 4
                else:
                    code, effect, ref = 0, *_reference_m1_m3(con, p, make_ref)
            else:
                row = con.execute("SELECT pm_id FROM interventions WHERE ref_interv_oi = ?",
                                  [p.ref_oi]).fetchone()
                if row is None:
                    code = 3
                else:
                    code, effect, ref = 0, _reference_m5(con, p, row[0]), p.ref_oi
            ko += code != 0
            libelle = (LIBELLES_M5 if p.kind == "M5" else LIBELLES_DO)[code]
            if ref is None and p.kind == "M5" and not p.faults:
                ref = p.ref_oi
            if ref is None and p.ids.get("Ref_Interv_OI"):
                ref = p.ids["Ref_Interv_OI"]
            con.execute("INSERT INTO messages (load_id, line, message, code_reponse, libelle_reponse,"
                        " effect, ref_interv_oi) VALUES (1, ?, ?, ?, ?, ?, ?)",
                        [number, p.message, code, libelle, effect, ref])
    con.execute("COMMIT")
    out = {"read": read, "ko": ko, "fingerprint": fingerprint(con)}
    con.close()
    return out


def _reference_m1_m3(con, p, make_ref) -> tuple[str, str]:
    row = con.execute("""SELECT ref_interv_oi, pm_id, started_at, ended_at,
        m1_received_at, m3_received_at FROM interventions
        WHERE code_oi = ? AND code_do = ? AND ref_interv_do = ?""",
                      [p.code_oi, p.code_do, p.ref_do]).fetchone()
    part = p.kind.lower()
    targets = sorted(p.targets, key=lambda t: tuple((v is not None, v) for v in t))

    def replace_targets(ref):
        con.execute("DELETE FROM intervention_targets WHERE ref_interv_oi = ? AND declared_in = ?",
                    [ref, part])
        for t in targets:
            con.execute("INSERT INTO intervention_targets VALUES (?, ?, ?, ?, ?)", [ref, *t, part])

    if row is None:
        ref = make_ref(p.code_oi, p.code_do, p.ref_do)
        con.execute("INSERT INTO interventions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [ref, p.ref_do, p.code_do, p.code_oi, p.pm, p.started_at, p.ended_at,
                     p.received_at if p.kind == "M1" else None,
                     p.received_at if p.kind == "M3" else None])
        replace_targets(ref)
        return "inserted", ref
    ref, pm, hd, hf, m1_at, m3_at = row
    old_targets = sorted(con.execute(
        "SELECT nature, pbo, pto FROM intervention_targets WHERE ref_interv_oi = ? "
        "AND declared_in = ?", [ref, part]).fetchall(),
        key=lambda t: tuple((v is not None, v) for v in t))
    if p.kind == "M1" and m3_at is not None:          # M1 after M3: keep M3's data
        if m1_at is not None and old_targets == targets:
            return "unchanged", ref
        if m1_at is None:
            con.execute("UPDATE interventions SET m1_received_at = ? WHERE ref_interv_oi = ?",
                        [p.received_at, ref])
        replace_targets(ref)
        return "updated", ref
    same = (pm, hd, old_targets) == (p.pm, p.started_at, targets)
    if p.kind == "M1":
        if same and m1_at is not None:
            return "unchanged", ref
        m1_at = p.received_at
    else:
        if same and hf == p.ended_at and m3_at is not None:
            return "unchanged", ref
        hf, m3_at = p.ended_at, p.received_at
    con.execute("""UPDATE interventions SET pm_id = ?, started_at = ?, ended_at = ?,
        m1_received_at = ?, m3_received_at = ? WHERE ref_interv_oi = ?""",
                [p.pm, p.started_at, hf, m1_at, m3_at, ref])
    replace_targets(ref)
    return "updated", ref


def _reference_m5(con, p, pm_id: str) -> str:
    report = con.execute("SELECT 1 FROM outage_reports WHERE ref_interv_oi = ? AND code_oc = ?",
                         [p.ref_oi, p.code_oc]).fetchone()
    if report is not None:
        old = con.execute("""SELECT pto, pbo, tube, fibre, position_pm, cut_at FROM outages
            WHERE ref_interv_oi = ? AND code_oc = ?""", [p.ref_oi, p.code_oc]).fetchall()
        aside = con.execute("""SELECT clients_set_aside FROM outage_reports
            WHERE ref_interv_oi = ? AND code_oc = ?""", [p.ref_oi, p.code_oc]).fetchone()[0]
        if set(old) == set(p.clients) and aside == len(p.set_aside):
            return "unchanged"
        con.execute("DELETE FROM outages WHERE ref_interv_oi = ? AND code_oc = ?",
                    [p.ref_oi, p.code_oc])
        con.execute("""UPDATE outage_reports SET received_at = ?, clients_hs = ?,
            clients_set_aside = ? WHERE ref_interv_oi = ? AND code_oc = ?""",
                    [p.received_at, len(p.clients), len(p.set_aside), p.ref_oi, p.code_oc])
    else:
        con.execute("INSERT INTO outage_reports VALUES (?, ?, ?, ?, ?)",
                    [p.ref_oi, p.code_oc, p.received_at, len(p.clients), len(p.set_aside)])
    for c in p.clients:
        con.execute("""INSERT INTO outages (code_oc, pm_id, pto, pbo, tube, fibre, position_pm,
            cut_at, ref_interv_oi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [p.code_oc, pm_id, *c, p.ref_oi])
    return "inserted" if report is None else "updated"


# ------------------------------------------------------------------ main

def main(scale: str) -> None:
    n, n_ref = SIZES[scale], REFERENCE_SIZES[scale]
    with tempfile.TemporaryDirectory(prefix="opeval-bench-messages-") as tmp:
        tmp = Path(tmp)
        log, prefix = tmp / "messages.ndjson", tmp / "prefix.ndjson"
        generate(log, n)
        lines = log.read_text().splitlines(keepends=True)
        prefix.write_text("".join(lines[:n_ref]))

        fast_s, fast_mb, fast = measure(run_fast, str(tmp / "fast.duckdb"), str(log))
        print(line(f"opeval ingest messages ({fast['ko']:,} KO)", fast["read"], fast_s, fast_mb,
                   target_s=TARGET_S), flush=True)
        print(f"  peak memory < {TARGET_MB} MB: {'met' if fast_mb < TARGET_MB else 'MISSED'}")

        pf_s, pf_mb, pf = measure(run_fast, str(tmp / "fast_prefix.duckdb"), str(prefix))
        ref_s, ref_mb, ref = measure(run_reference, str(tmp / "reference.duckdb"), str(prefix))
        print(line("  same rules, first lines", pf["read"], pf_s, pf_mb), flush=True)
        print(line("  reference: row-by-row SELECT/INSERT", ref["read"], ref_s, ref_mb,
                   reference_s=None), flush=True)
        speed = (pf["read"] / pf_s) / (ref["read"] / ref_s)
        print(f"  throughput {speed:.1f}x the reference on the same {ref['read']:,} lines "
              f"(extrapolated reference for {n:,}: {ref_s * n / ref['read']:.0f} s)")
        same = pf["fingerprint"] == ref["fingerprint"]
        print(f"  tables and answers identical to the reference: {'yes' if same else 'NO'}")
        if not same:
            for table in FINGERPRINT:
                if pf["fingerprint"][table] != ref["fingerprint"][table]:
                    print(f"    {table}: fast {pf['fingerprint'][table]} "
                          f"reference {ref['fingerprint'][table]}")
