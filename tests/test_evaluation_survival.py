"""Expected failures next cycle: the censored survival model (lifelines) on hand-made device histories."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from evaluation.analyses.efficiency import survival

END = dt.datetime(2021, 2, 4)  # 2020-01-01 + 400 days


def hist(rows):
    cols = ["device_id", "system_id", "subsystem", "device_type", "installed_on", "decommissioned_on",
            "active", "first_fault", "last_restored", "open_now", "faults_total"]
    return pd.DataFrame(rows, columns=cols)


def day(n):
    return pd.Timestamp("2020-01-01") + pd.Timedelta(days=n)


def test_kaplan_meier_conditional_probability():
    # 4 cameras installed 2020-01-01: first faults at day 100 and 200, two fault-free until day 400
    # (censored). Kaplan-Meier: S = 1 before 100, 3/4 from 100, 3/4 * 2/3 = 1/2 from 200 on.
    h = hist([
        ("A", "S", "video_surveillance", "cam", "2020-01-01", None, True, day(100), day(300), False, 1),
        ("B", "S", "video_surveillance", "cam", "2020-01-01", None, True, day(200), day(202), False, 1),
        ("C", "S", "video_surveillance", "cam", "2020-01-01", None, True, None, None, False, 0),
        ("D", "S", "video_surveillance", "cam", "2020-01-01", None, True, None, None, True, 0),
    ])
    models = survival.fit_models(h, END, min_events_weibull=10)
    m = models["cam"]
    assert (m.model, m.devices, m.events) == ("kaplan_meier", 4, 2)
    assert m.survival(np.array([99.0, 100.0, 250.0, 400.0])) == pytest.approx([1, 0.75, 0.5, 0.5])
    out = survival.expected_failures(h, models, END, pd.Series({"S": 182}))
    # A: restored day 300 -> age 100 -> 1 - S(282)/S(100) = 1 - 0.5/0.75 = 1/3
    # B: restored day 202 -> age 198 -> 1 - S(380)/S(198) = 1 - 0.5/0.75 = 1/3
    # C: never failed, age 400 -> 1 - S(582)/S(400) = 0 (flat after the last event)
    # D: down now -> not predicted
    row = out.iloc[0]
    assert row["devices"] == 4 and row["down_now"] == 1
    assert row["expected_failures"] == pytest.approx(2 / 3)   # A + B


def test_weibull_recovers_known_shape():
    # 400 devices whose first-fault times follow Weibull(lambda=500 d, rho=1.5), censored at 800 d
    rng = np.random.default_rng(7)
    t = 500 * rng.weibull(1.5, 400)
    first = [day(x) if x < 800 else None for x in t]
    end = dt.datetime(2020, 1, 1) + dt.timedelta(days=800)
    h = hist([(f"d{i}", "S", "intrusion_alarm", "intrusion_detector", "2020-01-01", None, True, f,
               f, False, int(f is not None)) for i, f in enumerate(first)])
    m = survival.fit_models(h, end)["intrusion_detector"]
    assert m.model == "weibull"
    assert m.params["rho"] == pytest.approx(1.5, rel=0.15)
    assert m.params["lambda_days"] == pytest.approx(500, rel=0.1)


def test_group_without_faults_expects_none():
    h = hist([("X", "S", "other", "sensor", "2020-01-01", None, True, None, None, False, 0)])
    models = survival.fit_models(h, END)
    assert models["sensor"].model == "none"
    out = survival.expected_failures(h, models, END, pd.Series({"S": 182}))
    assert out.iloc[0]["expected_failures"] == 0.0
