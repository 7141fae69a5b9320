"""Property tests: merged down time and zone exposure against a minute-by-minute brute force."""
from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.analyses.efficiency import metrics

AS_OF = dt.date(2025, 1, 10)
P = metrics.Period(AS_OF, 10)                   # window: 2025-01-01 00:00 .. 2025-01-11 00:00
MINUTES = 10 * 24 * 60
T0 = dt.datetime(2025, 1, 1)

interval = st.tuples(st.integers(-600, MINUTES + 600), st.integers(1, 3000), st.booleans())
faults_of_device = st.lists(interval, max_size=4)


def tables(per_device):
    devices = ibis.memtable({
        "device_id": [f"D{i}" for i in range(len(per_device))], "system_id": ["S"] * len(per_device),
        "subsystem": ["video_surveillance"] * len(per_device), "device_type": ["ccd_camera"] * len(per_device),
        "zone": ["Z"] * len(per_device), "installed_on": [dt.date(2020, 1, 1)] * len(per_device),
        "decommissioned_on": [None] * len(per_device)},
        schema={"device_id": "string", "system_id": "string", "subsystem": "string", "device_type": "string",
                "zone": "string", "installed_on": "date", "decommissioned_on": "date"})
    rows = [(f"F{d}-{j}", f"D{d}", T0 + dt.timedelta(minutes=s),
             None if still_open else T0 + dt.timedelta(minutes=s + length))
            for d, faults in enumerate(per_device) for j, (s, length, still_open) in enumerate(faults)]
    ts = pa.timestamp("us")
    faults = ibis.memtable(pa.table({
        "fault_id": pa.array([r[0] for r in rows], pa.string()),
        "system_id": pa.array(["S"] * len(rows), pa.string()),
        "device_id": pa.array([r[1] for r in rows], pa.string()),
        "subsystem": pa.array([None] * len(rows), pa.string()),
        "occurred_at": pa.array([r[2] for r in rows], ts),
        "reported_at": pa.array([None] * len(rows), ts), "responded_at": pa.array([None] * len(rows), ts),
        "arrived_at": pa.array([None] * len(rows), ts), "restored_at": pa.array([r[3] for r in rows], ts),
        "repair_mode": pa.array([None] * len(rows), pa.string())}))
    return devices, faults


def brute(per_device):
    """Minute grid of the window: down[d, m] is True while device d has a fault open at minute m."""
    down = np.zeros((max(len(per_device), 1), MINUTES), dtype=bool)
    for d, faults in enumerate(per_device):
        for s, length, still_open in faults:
            if s >= MINUTES:       # occurred after the as-of instant: not known yet
                continue
            end = MINUTES if still_open else min(s + length, MINUTES)
            down[d, max(s, 0):max(end, 0)] = True
    return down


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(faults_of_device, min_size=1, max_size=3))
def test_down_time_and_exposure_match_brute_force(per_device):
    devices, faults = tables(per_device)
    dsvc = metrics.device_service(devices, P)
    fb = metrics.fault_base(faults, dsvc, P)
    islands = metrics.down_islands(fb, dsvc, P)
    down = brute(per_device)
    got = islands.down_h.sum().execute()
    got = 0.0 if got is None or np.isnan(got) else float(got)
    assert abs(got - down.sum() / 60) < 1e-6                   # overlaps counted once
    exp = metrics.exposure(dsvc, islands, P).execute()
    assert len(exp) == 1
    exposed = down.all(axis=0)
    assert abs(float(exp.exposure_h.iloc[0]) - exposed.sum() / 60) < 1e-6   # all devices down at once
    starts = int(exposed[0]) + int((exposed[1:] & ~exposed[:-1]).sum())   # maximal exposed stretches
    assert int(exp.episodes.iloc[0]) == starts
