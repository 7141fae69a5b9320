"""Standing alarms over time: how many alarms stand, and how many of them have stood
more than 24 h (stale), per system, as a series.

An alarm stands from its raise until it returned to normal or was closed
(:func:`evaluation.analyses.alarms.nuisance.is_active`): at an instant ``t``
when it was raised by ``t`` and has not ended by ``t``; one closed or expired
by status with no time never stands; one still standing when its system's
window ends stands until then. It is stale from 24 h after its raise
(``rules.stale_after_h``) until it ended (ISA-18.2).

The series has one row per system and *step* of its observation window. The
step is the shortest of 10 minutes, 1 hour, 1 day and 1 week that keeps each
window within ``rules.standing_series_max_steps`` steps (:func:`step_seconds`).
Per step:

- ``standing_at_end`` — alarms standing at the end of the step (its last
  instant; in the last step, the window's end: the report's ``standing``,
  system by system); ``stale_at_end`` likewise;
- ``mean_standing`` — the time-weighted mean of the alarms standing during the
  step: the alarm-seconds standing in it over its seconds within the window
  (NULL for a window of one instant); ``mean_stale`` likewise;
- ``max_stale`` — the most stale alarms standing at once at any moment of the
  step (a sweep over the stale episodes: +1 when an alarm turns stale, −1 when
  it ends, the changes of one instant taken together).

The most alarms standing at once *within* a step is not given for all alarms:
it needs that sweep over every raise and every end (20 million events for 10
million alarms, one sort), where the level at the step's end and the mean need
only counts and sums per step. For stale alarms, a few, the sweep is cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from ibis import _

from .load import units_since_epoch
from .prep import KeyNames, millis
from .rules import DEFAULT_RULES, AlarmRules

STEPS_S = (600, 3600, 86400, 604800)
"""The steps a series may use: 10 minutes, 1 hour, 1 day, 1 week."""
COLUMNS = ["system_id", "step_start", "standing_at_end", "mean_standing", "stale_at_end",
           "mean_stale", "max_stale"]


def step_seconds(windows: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES) -> int:
    """The shortest of :data:`STEPS_S` that cuts every window into at most
    ``rules.standing_series_max_steps`` steps (the longest step when none does)."""
    if not len(windows):
        return STEPS_S[0]
    for step in STEPS_S:
        first, last = (units_since_epoch(windows[c], step) for c in ("window_start", "window_end"))
        if int((last - first + 1).max()) <= rules.standing_series_max_steps:
            return step
    return STEPS_S[-1]


def step_sums(spans: ibis.Table, step_s: int) -> ibis.Table:
    """Per system and step, from spans (``sys_no``, ``start``, ``until``: when they
    stopped or their window ended, and ``ended``: whether they stopped then):
    ``started``, ``stopped`` (spans that began / stopped in the step),
    ``part_ms`` (their milliseconds in the step for spans that began or stopped
    in it), ``through_up`` / ``through_down`` (spans that cover every later
    step from the next one on / no longer from this one: summed up to a step
    they give the spans covering it whole)."""
    t = spans.mutate(ks=(_.start.epoch_seconds() // step_s).cast("int64"),
                     ke=(_.until.epoch_seconds() // step_s).cast("int64"))
    t = t.mutate(ks_end=((_.ks + 1) * step_s).as_timestamp("s"),
                 ke_start=(_.ke * step_s).as_timestamp("s"))
    first = t.group_by("sys_no", step_no=_.ks).agg(
        started=_.count(),
        part_ms=ibis.ifelse(_.ks == _.ke, millis(_.until, _.start),
                            millis(_.ks_end, _.start)).sum(),
        through_up=(_.ke > _.ks + 1).cast("int64").sum())
    last = t.filter(_.ke > _.ks).group_by("sys_no", step_no=_.ke).agg(
        stopped=(_.ended).cast("int64").sum(), part_ms=millis(_.until, _.ke_start).sum(),
        through_down=(_.ke > _.ks + 1).cast("int64").sum())
    same = t.filter(_.ended & (_.ke == _.ks)).group_by("sys_no", step_no=_.ks).agg(
        stopped=_.count())
    zero = ibis.literal(0, "int64")
    parts = [first.mutate(stopped=zero, through_down=zero),
             last.mutate(started=zero, through_up=zero),
             same.mutate(started=zero, part_ms=zero, through_up=zero, through_down=zero)]
    cols = ["sys_no", "step_no", "started", "stopped", "part_ms", "through_up", "through_down"]
    u = parts[0].select(cols).union(parts[1].select(cols)).union(parts[2].select(cols))
    return u.group_by("sys_no", "step_no").agg(**{c: _[c].sum() for c in cols[2:]})


def alarm_spans(raises: ibis.Table, window_ends: ibis.Table) -> ibis.Table:
    """Each alarm's standing span: ``sys_no``, ``start`` (its raise), ``until`` (its
    end, or its window's end while it still stands) and ``ended``."""
    w = window_ends.rename(_sys="sys_no")
    t = raises.join(w, raises.sys_no == w._sys)
    return t.select("sys_no", start=_.raised_at, until=_.ended_at.fill_null(_.window_end),
                    ended=_.ended_at.notnull())


def stale_spans(episodes: ibis.Table, systems: ibis.Table) -> ibis.Table:
    """Each stale episode's span (as :func:`alarm_spans`): from ``stale_from`` until
    it ended or its window did."""
    s = systems.rename(_sys="system_id")
    ep = episodes.join(s, episodes.system_id.identical_to(s._sys))
    return ep.select("sys_no", start=_.stale_from, until=_.ended_at.fill_null(_.window_end),
                     ended=_.ended_at.notnull())


def stale_peaks(spans: ibis.Table, step_s: int) -> ibis.Table:
    """Per system and step with a change: ``first_t`` (its first change), ``net``
    (spans begun minus ended in it) and ``peak`` — the highest level after any of
    its instants relative to the level the step began with (the changes of one
    instant are peers of a range frame, so they count together)."""
    one = ibis.literal(1, "int64")
    ev = (spans.select("sys_no", t=_.start, d=one)
          .union(spans.filter(_.ended).select("sys_no", t=_.until, d=-one)))
    ev = ev.mutate(step_no=(_.t.epoch_seconds() // step_s).cast("int64"))
    w = ibis.window(group_by=["sys_no", "step_no"], order_by="t", range=(None, 0))
    ev = ev.mutate(run=_.d.sum().over(w))
    return ev.group_by("sys_no", "step_no").agg(first_t=_.t.min(), net=_.d.sum(),
                                                peak=_.run.max())


def _grid(windows: pd.DataFrame, step_s: int) -> pd.DataFrame:
    """Every step of every window: ``system_id``, ``step_no``, ``covered_ms`` (the
    step's milliseconds within the window)."""
    first = units_since_epoch(windows.window_start, step_s)
    last = units_since_epoch(windows.window_end, step_s)
    sizes = last - first + 1
    grid = pd.DataFrame({
        "system_id": np.repeat(windows.system_id.to_numpy(), sizes),
        "step_no": np.concatenate([np.arange(a, b + 1) for a, b in zip(first, last)])})
    start = pd.to_datetime(grid.step_no * step_s, unit="s")
    lo = np.maximum(start, np.repeat(pd.to_datetime(windows.window_start).to_numpy(), sizes))
    hi = np.minimum(start + pd.Timedelta(seconds=step_s),
                    np.repeat(pd.to_datetime(windows.window_end).to_numpy(), sizes))
    grid["covered_ms"] = (hi - lo) // pd.Timedelta(milliseconds=1)
    return grid


def fill(grid: pd.DataFrame, sums: pd.DataFrame, step_s: int) -> pd.DataFrame:
    """The levels of every step from the per-step sums (:func:`step_sums`, with
    ``system_id``): at the end of a step, what began minus what stopped so
    far; the mean, the milliseconds standing over the step's covered ones."""
    s = grid.merge(sums, on=["system_id", "step_no"], how="left")
    for c in ("started", "stopped", "part_ms", "through_up", "through_down"):
        s[c] = s[c].astype("Float64").fillna(0).astype("int64")
    by = s.groupby("system_id", dropna=False, sort=False)
    at_end = by.started.cumsum() - by.stopped.cumsum()
    # spans covering a step whole: begun before the previous step's end, stopping after it
    through = by.through_up.cumsum().groupby(s.system_id, dropna=False).shift(1, fill_value=0) \
        - by.through_down.cumsum()
    alarm_ms = s.part_ms + through * step_s * 1000
    mean = alarm_ms / s.covered_ms.where(s.covered_ms > 0)
    return pd.DataFrame({"at_end": at_end.to_numpy(), "mean": mean.to_numpy()})


@dataclass(frozen=True)
class StandingSeries:
    """Alarms standing (and stale) over time per system: ``series``
    (:data:`COLUMNS`, by system then time) at ``step_s`` seconds a step."""

    series: pd.DataFrame
    step_s: int


def compute(raises: ibis.Table, episodes: ibis.Table, keys: ibis.Table, names: KeyNames,
            windows: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES) -> StandingSeries:
    """The series of every system in ``windows`` (``system_id``, ``window_start``,
    ``window_end``; a small table)."""
    step = step_seconds(windows, rules)
    if not len(windows):
        return StandingSeries(pd.DataFrame(columns=COLUMNS), step)
    w = windows.sort_values("system_id", na_position="last").reset_index(drop=True)
    ends = w.merge(names.systems.reset_index(), on="system_id")[["sys_no", "window_end"]]
    systems = keys.select("sys_no", "system_id").distinct()
    grid = _grid(w, step)
    standing = fill(grid, names.name_system(
        step_sums(alarm_spans(raises, ibis.memtable(ends)), step).execute()), step)
    st = stale_spans(episodes, systems)
    stale = fill(grid, names.name_system(step_sums(st, step).execute()), step)
    peaks = names.name_system(stale_peaks(st, step).execute())
    out = grid[["system_id", "step_no"]].assign(
        step_start=pd.to_datetime(grid.step_no * step, unit="s"),
        standing_at_end=standing.at_end, mean_standing=standing["mean"],
        stale_at_end=stale.at_end, mean_stale=stale["mean"])
    out = out.merge(peaks, on=["system_id", "step_no"], how="left")
    begin = out.stale_at_end.to_numpy() - out.net.astype("Float64").fillna(0).to_numpy("int64")
    sharp = (pd.to_datetime(out.first_t) == out.step_start).to_numpy()
    peak = begin + out.peak.astype("Float64").fillna(0).to_numpy("int64")
    during = np.where(sharp, peak, np.maximum(begin, peak))
    out["max_stale"] = np.where(out.first_t.notna(), during, begin).astype("int64")
    return StandingSeries(out[COLUMNS], step)
