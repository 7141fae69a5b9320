"""The alarm-management rules and benchmarks, each stated once.

Sources: the VMS alarm-management guide (seed ``004_…``: priorities 1–5 with 1
highest, escalation after more than 45 s, expiry after more than 90 s with a
48 h default, close reasons handled / false alarm / other, "history review" of
an alarm) and the alarm-performance benchmarks of ANSI/ISA-18.2 (table of
recommended alarm-system performance metrics) and EEMUA 191 (average and peak
alarm rates per operator). Kondaveeti et al. (2013), "Quantification of alarm
chatter based on run length distributions", give the chatter index.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# ---------------------------------------------------------------- the guide (seed 004)
PRIORITIES = (1, 2, 3, 4, 5)
"""Alarm priority 1–5, 1 the highest (guide, alarm configuration)."""
ESCALATE_MIN_S = 45
"""Escalation, when configured, happens after more than 45 s unhandled (guide, life cycle)."""
EXPIRE_MIN_S = 90
"""Expiry, when configured, after more than 90 s unhandled (guide, life cycle)."""
EXPIRE_DEFAULT_H = 48
"""Default expiry of an unhandled alarm: 48 hours (guide, life cycle)."""
CLOSE_REASONS = ("handled", "false_alarm", "other")
"""Reasons asked when closing an alarm (guide, closing an alarm)."""
OPEN_STATUSES = ("new", "in_progress", "escalated")
"""Statuses of an alarm still on the operator's list (guide, alarm instance)."""


@dataclass(frozen=True)
class AlarmRules:
    """Thresholds of the alarm analyses; every field is a parameter with its source.

    ``flood_threshold`` — ISA-18.2: a flood is **more than 10** alarms in 10
    minutes for one operator position; the 10-minute periods are fixed,
    clock-aligned intervals (the ISA-18.2 metric "percentage of 10-minute
    periods containing more than 10 alarms").
    ``chatter_raises`` / ``chatter_window_s`` — ISA-18.2 / EEMUA 191 rule of
    thumb used by the guide's users: an alarm that is raised **3 or more times
    within 60 seconds** (first to last raise ≤ 60 s, boundary included) chatters.
    ``chatter_index_threshold`` — Kondaveeti et al.: an alarm whose chatter index
    ψ (see :func:`evaluation.analyses.alarms.nuisance.chatter_index`) is at
    least 0.05 is chattering.
    ``repeat_window_s`` — a raise of the same definition on the same resource
    within this time after the previous raise is a *repeat* (the guide's
    "history review" of a repetitive alarm); 600 s by default.
    ``stale_after_h`` — ISA-18.2: an alarm standing (still active) for more
    than 24 hours is *stale*.
    ``bad_actor_top_n`` / ``pareto_share`` — bad actors: the definitions that
    together make 80 % of the load, at most the top 10 (ISA-18.2 metric "top 10
    most frequent alarms as share of the load").
    """

    flood_threshold: int = 10
    interval_s: int = 600
    chatter_raises: int = 3
    chatter_window_s: float = 60.0
    chatter_index_threshold: float = 0.05
    repeat_window_s: float = 600.0
    stale_after_h: float = 24.0
    bad_actor_top_n: int = 10
    pareto_share: float = 0.8
    benchmarks: dict = field(default_factory=lambda: dict(BENCHMARKS))

    def as_dict(self) -> dict:
        return asdict(self)


BENCHMARKS = {
    # ISA-18.2 / EEMUA 191, per operator position.
    "avg_per_10min_acceptable": 1.0,     # "very likely to be acceptable"
    "avg_per_10min_manageable": 2.0,     # "maximum manageable"
    "avg_per_hour_acceptable": 6.0,
    "avg_per_hour_manageable": 12.0,
    "avg_per_day_acceptable": 150.0,
    "avg_per_day_manageable": 300.0,
    "peak_per_10min_max": 10,            # more is a flood
    "flood_interval_share_max": 0.01,    # < ~1 % of 10-minute periods in flood
    "top10_share_max": 0.05,             # top 10 alarms < ~1–5 % of the load
    "stale_max_per_day": 5,              # fewer than 5 stale alarms on any day
    "chattering_max": 0,                 # chattering alarms: zero
    "high_priority_share": 0.05,         # ~5 % high, ~15 % medium, ~80 % low (3 levels)
}
"""Recommended alarm-system performance figures (ISA-18.2 performance-metric table,
EEMUA 191 average/peak rates)."""


def rate_class(avg_per_10min: float | None, benchmarks: dict = BENCHMARKS) -> str | None:
    """EEMUA 191 reading of an average rate per 10 minutes per operator position:
    ≤ 1 acceptable, ≤ 2 manageable, above: overloaded."""
    if avg_per_10min is None:
        return None
    if avg_per_10min <= benchmarks["avg_per_10min_acceptable"]:
        return "acceptable"
    if avg_per_10min <= benchmarks["avg_per_10min_manageable"]:
        return "manageable"
    return "overloaded"
