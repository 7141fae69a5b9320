"""Expected failures in the next maintenance cycle, from a survival model fitted with censoring.

Input: the small per-device aggregate of :func:`.metrics.device_history`
(pandas, one row per device). Model, per device group (``device_type``, else
``subsystem``), fitted with ``lifelines``:

* duration = days (rounded up to whole days) from the start of observation --
  installation, or the first record of the fault history when the device is
  older than the history -- to the device's first fault (event), or to the end
  of observation (decommissioning or the as-of instant, censored); equal
  durations are fitted once with a weight;
* Weibull (:func:`fit_weibull`, the censored maximum-likelihood fit that
  :class:`lifelines.WeibullFitter` gives, solved in one dimension) when the group
  has at least ``min_events_weibull`` first faults, else Kaplan-Meier
  (:class:`lifelines.KaplanMeierFitter`); no model when it has none.

Prediction (renewal assumption: a repaired device is as good as new): for each
active device that is not down at the as-of instant, its age ``a`` is the days
since its last restoration (or the start of observation when it never failed); the
probability of a fault within the next cycle of ``c`` days is
``1 - S(a + c) / S(a)``. Expected failures of a group = the sum of these
probabilities (the expected number of its devices that fail at least once).
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_DAYS = 1.0 / 24  # a fault on the installation day counts as one hour of life


@dataclass(frozen=True)
class Weibull:
    """A fitted Weibull survival ``S(t) = exp(-(t / lambda_)^rho_)`` (lifelines' names)."""

    lambda_: float
    rho_: float

    def survival_function_at_times(self, days) -> np.ndarray:
        return np.exp(-np.power(np.asarray(days, dtype=float) / self.lambda_, self.rho_))


def fit_weibull(durations, events, weights) -> Weibull:
    """The maximum-likelihood Weibull of right-censored, weighted durations.

    With ``D`` the weighted number of events, the likelihood is largest, for a shape
    ``rho``, at ``lambda^rho = sum(w t^rho) / D``; putting that back leaves one equation
    in ``rho`` (the profile score, decreasing in ``rho``)::

        D / rho + sum_events(w ln t) - D * sum(w t^rho ln t) / sum(w t^rho) = 0

    solved by bracketing (:func:`scipy.optimize.brentq`). It is the optimum lifelines'
    ``WeibullFitter`` reaches with a general optimiser and automatic differentiation,
    about a thousand times sooner (the tests compare both). Raises ``ValueError`` when
    the likelihood has no maximum (no event, or every duration equal and none
    censored: the shape grows without bound)."""
    from scipy.optimize import brentq

    t = np.asarray(durations, dtype=float)
    d = np.asarray(events, dtype=float)
    w = np.asarray(weights, dtype=float)
    n_events = float((w * d).sum())
    if n_events <= 0 or (t <= 0).any():
        raise ValueError("a Weibull fit needs at least one event and positive durations")
    log_t = np.log(t)
    centred = log_t - log_t.max()        # t^rho up to a common factor: no overflow
    event_logs = float((w * d * log_t).sum())

    def score(rho: float) -> float:
        tr = w * np.exp(rho * centred)
        return n_events / rho + event_logs - n_events * float((tr * log_t).sum() / tr.sum())

    lo, hi = 1e-3, 1e3
    if not score(lo) > 0 > score(hi):
        raise ValueError("the Weibull likelihood has no maximum for these durations")
    rho = brentq(score, lo, hi, xtol=1e-10, rtol=1e-12)
    scale = np.exp(log_t.max()) * (float((w * np.exp(rho * centred)).sum()) / n_events) ** (1 / rho)
    return Weibull(float(scale), float(rho))


@dataclass
class GroupModel:
    group: str
    model: str           # weibull, kaplan_meier, none
    devices: int
    events: int
    params: dict
    fitter: object | None

    def survival(self, days: np.ndarray) -> np.ndarray:
        if self.fitter is None:
            return np.ones_like(days, dtype=float)
        return np.asarray(self.fitter.survival_function_at_times(days), dtype=float)


def preload() -> threading.Thread:
    """Import lifelines (about a second: scipy, autograd), for its Kaplan-Meier
    estimate, in a background thread.

    The evaluation starts this first so that the import overlaps with the
    engine's queries (DuckDB releases the GIL while it works).
    """
    th = threading.Thread(target=lambda: __import__("lifelines"), name="lifelines-import", daemon=True)
    th.start()
    return th


def _group_key(df: pd.DataFrame) -> pd.Series:
    return df["device_type"].fillna(df["subsystem"]).fillna("other").astype(str)


def _start(h: pd.DataFrame, observed_from: dt.datetime | None) -> pd.Series:
    """Start of each device's observed life: installation, or the start of the fault history when later."""
    installed = pd.to_datetime(h["installed_on"])
    if observed_from is None:
        return installed
    return installed.clip(lower=pd.Timestamp(observed_from)).fillna(pd.Timestamp(observed_from))


def fit_models(hist: pd.DataFrame, end: dt.datetime, min_events_weibull: int = 10,
               observed_from: dt.datetime | None = None) -> dict[str, GroupModel]:
    """One model per device group from time-to-first-fault, censored at decommissioning / ``end``.

    ``observed_from``: when the fault history starts (its first record). A
    device installed before it is observed from then on, not from its
    installation: faults before the history are unknown, so counting its
    years of service as fault-free would overstate its survival.
    """
    from lifelines import KaplanMeierFitter

    h = hist.copy()
    h["start"] = _start(h, observed_from)
    h = h[h["start"].notna()]
    models: dict[str, GroupModel] = {}
    if h.empty:
        return models
    h["group"] = _group_key(h)
    installed = h["start"]
    stop = pd.to_datetime(h["decommissioned_on"]).fillna(pd.Timestamp(end)).clip(upper=pd.Timestamp(end))
    first = pd.to_datetime(h["first_fault"])
    event = first.notna() & (first < stop)
    until = first.where(event, stop)
    # whole days (at least one): the horizon is months, and equal durations are fitted once with a weight
    h["duration"] = np.ceil(((until - installed).dt.total_seconds() / 86400.0).clip(lower=MIN_DAYS))
    h["event"] = event.astype(int)
    for group, g0 in h.groupby("group", sort=True):
        g = g0.groupby(["duration", "event"]).size().reset_index(name="weight")
        events = int(g0["event"].sum())
        fitter, name, params = None, "none", {}
        if events >= min_events_weibull:
            try:
                fitter = fit_weibull(g["duration"], g["event"], g["weight"])
                name = "weibull"
                params = {"lambda_days": fitter.lambda_, "rho": fitter.rho_}
            except ValueError:      # no maximum: fall back on the non-parametric estimate
                fitter = None
        if fitter is None and events > 0:
            fitter = KaplanMeierFitter().fit(g["duration"], g["event"], weights=g["weight"])
            name = "kaplan_meier"
            params = {"median_days": float(fitter.median_survival_time_)}
        models[group] = GroupModel(group, name, len(g0), events, params, fitter)
    return models


def expected_failures(hist: pd.DataFrame, models: dict[str, GroupModel], end: dt.datetime,
                      cycle_days: pd.Series, observed_from: dt.datetime | None = None) -> pd.DataFrame:
    """Per system, subsystem and device type: active devices, devices down now, expected failures.

    ``cycle_days`` maps ``system_id`` to the cycle used as the horizon.
    """
    cols = ["system_id", "subsystem", "device_type", "devices", "down_now", "expected_failures", "model"]
    h = hist[hist["active"].astype(bool)].copy()
    if h.empty:
        return pd.DataFrame(columns=cols)
    h["group"] = _group_key(h)
    last = pd.to_datetime(h["last_restored"])
    since = last.fillna(_start(h, observed_from))
    h["age"] = ((pd.Timestamp(end) - since).dt.total_seconds() / 86400.0).clip(lower=0)
    h["horizon"] = h["system_id"].map(cycle_days).astype(float)
    h["p"] = np.nan
    for group, idx in h.groupby("group").groups.items():
        g = h.loc[idx]
        ok = g["age"].notna() & ~g["open_now"].astype(bool)
        m = models.get(group)
        if m is None or m.fitter is None:
            h.loc[g.index[ok], "p"] = 0.0 if m is not None else np.nan
            continue
        a = g.loc[ok, "age"].to_numpy(dtype=float)
        s_now = m.survival(a)
        s_next = m.survival(a + g.loc[ok, "horizon"].to_numpy(dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(s_now > 0, 1.0 - s_next / s_now, 1.0)
        h.loc[g.index[ok], "p"] = np.clip(p, 0.0, 1.0)
    h["model"] = h["group"].map(lambda k: models[k].model if k in models else "no_data")
    out = h.groupby(["system_id", "subsystem", "device_type"], dropna=False).agg(
        devices=("device_id", "size"), down_now=("open_now", "sum"),
        expected_failures=("p", "sum"), model=("model", "first")).reset_index()
    return out[cols]
