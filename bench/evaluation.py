"""Chapter 6 evaluation: 1,000 systems, 100k devices, 1M faults under 10 s, against a pandas reference.

The synthetic store is generated in DuckDB (SQL over ``range``): each system has
100 devices in 10 zones (cameras, detectors, DVRs, readers; installed 2015-2025),
each device 10 faults over the year before the as-of date (reported, responded,
some arrivals, 1 % still open), 8 maintenances per system and 100 alarms.

Measured in the same run, each in a fresh process:
* ``opeval``: :func:`evaluation.analyses.efficiency.evaluate` on the DuckDB file
  (every metric, findings, survival model, disposition);
* reference: what one would write first in pandas -- read the tables into
  frames and compute the contract's headline metrics per system (availability
  with merged down intervals, MTBF, MTTR, the three 5.1.1 shares, overdue
  maintenance, days since maintenance, devices past service life, repeat-fault
  devices) with group-bys and per-device loops.
Both results are compared system by system; the agreement is printed.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import line, measure

AS_OF = dt.date(2025, 6, 30)
SCALES = {"small": (100, 100, 10), "full": (1000, 100, 10)}  # systems, devices/system, faults/device


def build(path: str, systems: int, per_system: int, per_device: int) -> dict:
    from evaluation.store import db
    con = db.connect(path)
    n_dev = systems * per_system
    n_f = n_dev * per_device
    con.execute(f"""INSERT INTO systems SELECT 'S' || lpad(i::VARCHAR, 4, '0'), 'System ' || i, 'Site ' || (i % 17),
        1 + i % 3, DATE '2020-01-01' + (i % 1500)::INTEGER, 12, CASE WHEN i % 10 = 0 THEN 200 ELSE 182 END,
        0.5, 4, CASE WHEN i % 5 = 0 THEN 6 ELSE 8 END FROM range({systems}) r(i)""")
    con.execute(f"""INSERT INTO devices SELECT 'D' || lpad(i::VARCHAR, 6, '0'),
        'S' || lpad((i // {per_system})::VARCHAR, 4, '0'),
        CASE i % 4 WHEN 0 THEN 'video_surveillance' WHEN 1 THEN 'intrusion_alarm'
                   WHEN 2 THEN 'video_surveillance' ELSE 'access_control' END,
        CASE i % 4 WHEN 0 THEN 'ccd_camera' WHEN 1 THEN 'intrusion_detector' WHEN 2 THEN 'dvr' ELSE 'reader' END,
        'Z' || ((i // 4) % 10), DATE '2015-01-01' + ((hash(i) % 3800))::INTEGER, NULL
        FROM range({n_dev}) r(i)""")
    con.execute(f"""INSERT INTO faults
        SELECT 'F' || i, 'S' || lpad(((i % {n_dev}) // {per_system})::VARCHAR, 4, '0'),
               'D' || lpad((i % {n_dev})::VARCHAR, 6, '0'), NULL,
               occ, occ + INTERVAL (h1 % 900) SECOND, occ + INTERVAL (900 + h1 % 1800) SECOND,
               CASE WHEN mode = 'onsite' THEN occ + INTERVAL (3600 + h2 % 14400) SECOND END,
               CASE WHEN h3 % 100 = 0 THEN NULL ELSE occ + INTERVAL (1800 + h2 % 36000) SECOND END,
               mode, 'hardware', false, NULL, NULL, NULL
        FROM (SELECT i, TIMESTAMP '2024-07-01' + INTERVAL (hash(i * 7) % (365 * 86400)) SECOND AS occ,
                     hash(i * 11) AS h1, hash(i * 13) AS h2, hash(i * 17) AS h3,
                     CASE hash(i * 19) % 4 WHEN 0 THEN 'remote' WHEN 1 THEN 'phone' ELSE 'onsite' END AS mode
              FROM range({n_f}) r(i))""")
    con.execute(f"""INSERT INTO maintenance SELECT 'M' || i, 'S' || lpad((i // 8)::VARCHAR, 4, '0'),
        CASE WHEN i % 3 = 0 THEN 'video_surveillance' END, CASE WHEN i % 4 = 3 THEN 'per_call' ELSE 'periodic' END,
        TIMESTAMP '2024-01-15' + INTERVAL ((i % 8) * 75 + hash(i) % 20) DAY,
        TIMESTAMP '2024-01-15' + INTERVAL ((i % 8) * 75 + hash(i) % 20) DAY + INTERVAL 4 HOUR,
        NULL, NULL, NULL, NULL, i % 9 <> 0 FROM range({systems * 8}) r(i)""")
    con.execute(f"""INSERT INTO alarms SELECT 'A' || i, 'S' || lpad((i // 100)::VARCHAR, 4, '0'), 'intrusion', NULL,
        'D' || lpad((i // 100 * {per_system})::VARCHAR, 6, '0'), 2,
        TIMESTAMP '2024-07-01' + INTERVAL (hash(i) % (360 * 86400)) SECOND, NULL, NULL, NULL, NULL, NULL,
        CASE i % 10 WHEN 0 THEN 'expired' WHEN 1 THEN 'new' ELSE 'closed' END,
        CASE WHEN i % 10 IN (0, 1) THEN NULL WHEN i % 7 = 0 THEN 'false_alarm' ELSE 'handled' END, NULL
        FROM range({systems * 100}) r(i)""")
    con.close()
    return {"systems": systems, "devices": n_dev, "faults": n_f}


def run_opeval(path: str) -> tuple[pd.DataFrame, float]:
    """Evaluate the store; return the headline figures and the CPU seconds used (all threads)."""
    import time
    c0 = time.process_time()
    from evaluation.analyses.efficiency import evaluate
    from evaluation.store.engine import open_tables
    ev = evaluate(open_tables(path), as_of=AS_OF)
    out = _frame(ev.as_dict()["systems"])
    return out, time.process_time() - c0


def _frame(systems: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "system_id": s["system_id"], "availability": s["availability"], "mtbf_h": s["mtbf_h"],
        "mttr_h": s["mttr_h"], "sla_response": s["sla"]["response"], "sla_arrival": s["sla"]["arrival"],
        "sla_repair": s["sla"]["repair"], "overdue": s["maintenance_overdue"],
        "days_since": s["days_since_maintenance"], "past_life": len(s["devices_past_service_life"]),
        "repeat": len(s["repeat_fault_devices"]), "classification": s["classification"]}
        for s in systems]).set_index("system_id").sort_index()


def run_reference(path: str) -> tuple[pd.DataFrame, float]:
    """A straightforward pandas implementation of the headline metrics (same definitions)."""
    import time
    c0 = time.process_time()
    out = _reference(path)
    return out, time.process_time() - c0


def _reference(path: str) -> pd.DataFrame:
    import duckdb

    from evaluation.analyses.efficiency.config import SERVICE_LIFE_YEARS
    con = duckdb.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    systems = con.execute("SELECT * FROM systems").df()
    devices = con.execute("SELECT * FROM devices").df()
    faults = con.execute("SELECT * FROM faults").df()
    maint = con.execute("SELECT * FROM maintenance").df()
    con.close()
    T = pd.Timestamp(AS_OF + dt.timedelta(days=1))
    W0 = T - pd.Timedelta(days=365)
    faults = faults[faults.occurred_at < T].copy()
    for c in ("restored_at", "responded_at", "arrived_at"):
        faults.loc[faults[c] >= T, c] = pd.NaT
    devices["s0"] = pd.to_datetime(devices.installed_on).clip(lower=W0).fillna(W0)
    devices["s1"] = pd.to_datetime(devices.decommissioned_on).fillna(T).clip(upper=T)
    devices["svc"] = ((devices.s1 - devices.s0).dt.total_seconds() / 3600).clip(lower=0)
    out = pd.DataFrame(index=systems.system_id.sort_values())
    # availability: merged down intervals per device
    f = faults[faults.device_id.notna()].merge(devices[["device_id", "s0", "s1"]], on="device_id")
    f["s"] = f[["occurred_at", "s0"]].max(axis=1)
    f["e"] = f.restored_at.fillna(T).where(f.restored_at.fillna(T) < f.s1, f.s1)
    f = f[f.e > f.s].sort_values(["device_id", "s", "e"])
    down = {}
    for (sid, _dev), g in f.groupby(["system_id", "device_id"], sort=False):
        total, cur_s, cur_e = 0.0, None, None
        for s, e in zip(g.s, g.e):
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += (cur_e - cur_s).total_seconds()
                cur_s, cur_e = s, e
            else:
                cur_e = max(cur_e, e)
        total += (cur_e - cur_s).total_seconds()
        down[sid] = down.get(sid, 0.0) + total / 3600
    svc = devices.groupby("system_id").svc.sum()
    dn = pd.Series(down).reindex(out.index).fillna(0.0)
    out["availability"] = 1 - dn / svc
    w = faults[faults.occurred_at >= W0]
    n = w.groupby("system_id").size().reindex(out.index).fillna(0)
    out["mtbf_h"] = ((svc - dn) / n).where(n > 0)
    out["mttr_h"] = ((w.restored_at - w.occurred_at).dt.total_seconds() / 3600).groupby(w.system_id).mean()
    # 5.1.1
    lim = systems.set_index("system_id")
    x = faults[(faults.occurred_at >= W0) & (faults.occurred_at < T)].copy()
    x["t0"] = x.occurred_at                     # 5.1.1: "after the fault occurs"
    for step, col, std in (("response", "responded_at", 0.5), ("arrival", "arrived_at", 4.0),
                           ("repair", "restored_at", 8.0)):
        limit = x.system_id.map(lim[f"sla_{step}_h"].fillna(std).clip(upper=std)) * 3600
        el = (x[col] - x.t0).dt.total_seconds()
        so_far = (T - x.t0).dt.total_seconds()
        is_open = x.restored_at.isna()
        appl = (x.repair_mode == "onsite") | (x.repair_mode.isna() & x.arrived_at.notna()) \
            if step == "arrival" else pd.Series(True, index=x.index)
        within = appl & x[col].notna() & (el <= limit)
        breach = appl & ((x[col].notna() & (el > limit)) | (x[col].isna() & is_open & (so_far > limit)))
        wi = within.groupby(x.system_id).sum()
        br = breach.groupby(x.system_id).sum()
        out[f"sla_{step}"] = (wi / (wi + br)).where((wi + br) > 0)
    # 5.1.2 overdue per subsystem in service (5.1.5), in calendar months (or a stricter cycle in
    # days); days since the last periodic/resident maintenance of the least recently maintained one
    m = maint[maint.kind.isin(["periodic", "resident"]) & (maint.started_at < T)].copy()
    m["d"] = m.started_at.dt.date
    acc = pd.to_datetime(lim.accepted_on)
    wend = pd.Series([(a + pd.DateOffset(months=int(mo))).date() if pd.notna(a) else None
                      for a, mo in zip(acc, lim.warranty_months.fillna(12))], index=lim.index)
    declared = lim.maintenance_cycle_days.fillna(182)

    def due(day, s):
        if declared[s] < 182:
            return day + dt.timedelta(days=int(declared[s]))
        return (pd.Timestamp(day) + pd.DateOffset(months=6)).date()
    svc = devices[devices.svc > 0]
    active = (pd.to_datetime(svc.installed_on) <= pd.Timestamp(AS_OF)) & svc.decommissioned_on.isna()
    scopes = svc.assign(active=active).groupby(["system_id", "subsystem"]).agg(
        active=("active", "any"), since=("installed_on", "min"), unknown=("installed_on", lambda x: x.isna().any()))
    overdue, days_since = {}, {}
    for (s, sub), sc in scopes.iterrows():
        if not sc.active:
            continue
        we = wend[s]
        since = None if sc.unknown else pd.Timestamp(sc.since).date()
        start = None if we is None else (since if since is not None and since > we else we)
        mine = m[(m.system_id == s) & (m.subsystem.isna() | (m.subsystem == sub))]
        lm = mine.d.max() if len(mine) else None
        anchor = max([d for d in (start, lm) if d is not None], default=None)
        late = False if we is not None and we > AS_OF else (anchor is None or AS_OF > due(anchor, s))
        overdue[s] = overdue.get(s, False) or late
        days = None if lm is None else (AS_OF - lm).days
        days_since[s] = None if days is None or s in days_since and days_since[s] is None else max(
            days, days_since.get(s, days))
    out["overdue"] = [overdue.get(s) for s in out.index]
    out["days_since"] = [days_since.get(s) for s in out.index]
    # service life
    act = devices[(pd.to_datetime(devices.installed_on) <= pd.Timestamp(AS_OF))
                  & devices.decommissioned_on.isna()].copy()
    act["life"] = act.device_type.map(SERVICE_LIFE_YEARS)
    act = act[act.life.notna()]
    eol = [pd.Timestamp(i) + pd.DateOffset(years=int(y)) for i, y in zip(act.installed_on, act.life)]
    act["past"] = [e.date() <= AS_OF for e in eol]
    out["past_life"] = act.groupby("system_id").past.sum().reindex(out.index).fillna(0).astype(int)
    # repeat faults: >= 3 within 90 days on one device
    r = w[w.device_id.notna()].sort_values(["device_id", "occurred_at"])
    rep = {}
    for (sid, _dev), g in r.groupby(["system_id", "device_id"], sort=False):
        ts = g.occurred_at.to_numpy()
        j = 0
        for i in range(len(ts)):
            while ts[i] - ts[j] > np.timedelta64(90, "D"):
                j += 1
            if i - j + 1 >= 3:
                rep[sid] = rep.get(sid, 0) + 1
                break
    out["repeat"] = pd.Series(rep).reindex(out.index).fillna(0).astype(int)
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    diffs = []
    for col in ("availability", "mtbf_h", "mttr_h", "sla_response", "sla_arrival", "sla_repair"):
        x, y = a[col].astype(float), b[col].astype(float)
        bad = ~(np.isclose(x, y, rtol=1e-9, atol=1e-9) | (x.isna() & y.isna()))
        if bad.any():
            diffs.append(f"{col}: {int(bad.sum())} systems differ")
    for col in ("overdue", "days_since", "past_life", "repeat"):
        x = a[col].astype(object).where(a[col].notna(), None)
        y = b[col].astype(object).where(b[col].notna(), None)
        bad = [s for s in a.index if (x[s] is None) != (y[s] is None)
               or (x[s] is not None and int(x[s]) != int(y[s]))]
        if bad:
            diffs.append(f"{col}: {len(bad)} systems differ (e.g. {bad[0]})")
    return diffs


def main(scale: str) -> None:
    systems, per_system, per_device = SCALES[scale]
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "eval.duckdb")
        sizes = build(path, systems, per_system, per_device)
        print(f"store: {sizes['systems']:,} systems, {sizes['devices']:,} devices, "
              f"{sizes['faults']:,} faults, as of {AS_OF}", flush=True)
        secs, peak, (ours, cpu) = measure(run_opeval, path)
        ref_s, ref_peak, (ref, ref_cpu) = measure(run_reference, path)
        target = 10.0 if scale == "full" else None
        print(line("reference: pandas, headline metrics only", sizes["faults"], ref_s, ref_peak)
              + f"  cpu {ref_cpu:.1f} s")
        print(line("opeval evaluate (Ibis/DuckDB, everything)", sizes["faults"], secs, peak,
                   target_s=target, reference_s=ref_s) + f"  cpu {cpu:.1f} s (all threads)")
        try:
            import os
            print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
                  "(wall times stretch when other work shares the cores; cpu seconds do not)")
        except OSError:
            pass
        diffs = compare(ours, ref)
        print("agreement with the reference on availability, MTBF, MTTR, 5.1.1 shares, overdue, "
              "days since maintenance, past service life, repeat faults: "
              + ("all systems equal" if not diffs else "; ".join(diffs)))
        print("classification: " + ", ".join(f"{k} {v}" for k, v in ours.classification.value_counts().items()))
