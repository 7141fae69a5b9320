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


def _lifelines(t, e, w):
    import warnings

    from lifelines import WeibullFitter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = WeibullFitter().fit(t, e, weights=w)
    return f.lambda_, f.rho_, f.log_likelihood_


def _log_likelihood(fit, t, e, w):
    """The censored Weibull log-likelihood: events add log h(t) + log S(t), censored
    durations log S(t)."""
    t, e, w = (np.asarray(x, dtype=float) for x in (t, e, w))
    lam, rho = fit.lambda_, fit.rho_
    log_s = -((t / lam) ** rho)
    log_h = np.log(rho / lam) + (rho - 1) * np.log(t / lam)
    return float((w * (e * log_h + log_s)).sum())


@pytest.mark.parametrize("case", ["sampled", "small_weighted", "mostly_censored"])
def test_weibull_fit_is_the_maximum_lifelines_finds(case):
    """The one-dimensional solution (profile score in the shape) and lifelines' general
    optimiser reach the same maximum: parameters within 1e-3 relative, and ours is at
    least as likely (lifelines stops at its tolerance).

    * sampled: 300 durations drawn from Weibull(400 d, 0.8), censored at 600 d;
    * small_weighted: durations 5, 20, 20, 90 d (events) and 120 d (censored, weight 3),
      as the evaluation passes equal durations once with a weight;
    * mostly_censored: 12 events among 200 devices, the rest censored at 365 d."""
    rng = np.random.default_rng(3)
    if case == "sampled":
        raw = 400 * rng.weibull(0.8, 300)
        t, e, w = np.minimum(np.ceil(raw), 600), (raw < 600).astype(int), np.ones(300)
    elif case == "small_weighted":
        t, e, w = np.array([5.0, 20, 90, 120]), np.array([1, 1, 1, 0]), np.array([1.0, 2, 1, 3])
    else:
        t = np.concatenate([np.ceil(365 * rng.random(12)), np.full(188, 365.0)])
        e, w = np.r_[np.ones(12), np.zeros(188)].astype(int), np.ones(200)
    ours = survival.fit_weibull(t, e, w)
    lam, rho, ll = _lifelines(t, e, w)
    assert ours.lambda_ == pytest.approx(lam, rel=1e-3)
    assert ours.rho_ == pytest.approx(rho, rel=1e-3)
    assert _log_likelihood(ours, t, e, w) >= ll - 1e-6
    s = ours.survival_function_at_times([0.0, ours.lambda_])
    assert s == pytest.approx([1.0, np.exp(-1.0)])       # S(lambda) = e^-1 by definition


def test_weibull_without_a_maximum_falls_back_on_kaplan_meier():
    """Ten devices that all fail on day 30 and none censored: the likelihood grows without
    bound as the shape grows (a step at day 30), so there is no Weibull fit; the group
    gets the Kaplan-Meier estimate instead (S = 1 before day 30, 0 from it)."""
    with pytest.raises(ValueError, match="no maximum"):
        survival.fit_weibull(np.full(10, 30.0), np.ones(10), np.ones(10))
    h = hist([(f"d{i}", "S", "other", "sensor", "2020-01-01", None, True, day(30), day(31), False, 1)
              for i in range(10)])
    m = survival.fit_models(h, END)["sensor"]
    assert m.model == "kaplan_meier"
    assert m.survival(np.array([29.0, 30.0])) == pytest.approx([1.0, 0.0])
