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
CLOSE_REASONS = ("handled", "false_alarm", "other")
"""Reasons asked when closing an alarm (guide, closing an alarm)."""
OPEN_STATUSES = ("new", "in_progress", "escalated")
"""Statuses of an alarm still on the operator's list (guide, alarm instance)."""


@dataclass(frozen=True)
class AlarmRules:
    """Thresholds of the alarm analyses; every field is a parameter with its source.

    ``flood_threshold`` / ``interval_s`` — ISA-18.2: a flood is **more than 10**
    alarms in 10 minutes for one operator position; the 10-minute periods are
    fixed, clock-aligned intervals (the ISA-18.2 metric "percentage of
    10-minute periods containing more than 10 alarms"). ``interval_s`` must
    divide an hour (the hourly figures are sums of intervals).
    ``busy_hour_threshold`` — ISA-18.2 metric "percentage of hours containing
    **more than 30** alarms" (target ~< 1 %, ``benchmarks["busy_hour_share_max"]``).
    ``chatter_raises`` / ``chatter_window_s`` — ISA-18.2 / EEMUA 191 rule of
    thumb used by the guide's users: an alarm that is raised **3 or more times
    within 60 seconds** (first to last raise ≤ 60 s, boundary included) chatters.
    ``chatter_index_threshold`` — Kondaveeti et al.: an alarm whose chatter index
    ψ (see :func:`evaluation.analyses.alarms.nuisance.chatter_index`) is at
    least 0.05 is chattering.
    ``fleeting_s`` — a *fleeting* raise returns to normal by itself at most
    this many seconds after it was raised (boundary included; default 10 s).
    ISA-18.2 lists "chattering and fleeting alarms" among the performance
    metrics with the target zero but sets no duration; alarm-management
    practice (PAS, "Fixing chattering and fleeting alarms") describes a
    fleeting alarm as one that "appears then clears almost immediately (often
    within a few seconds)". 10 s is one sample of a 10-second process log
    (the TEP logs), the shortest alarm such a log can show.
    ``repeat_window_s`` — a raise of the same definition on the same resource
    within this time after the previous raise is a *repeat* (the guide's
    "history review" of a repetitive alarm); 600 s by default.
    ``stale_after_h`` — ISA-18.2: an alarm standing (still active) for more
    than 24 hours is *stale*; the benchmark is fewer than 5 stale alarms on
    any day (``benchmarks["stale_max_per_day"]``).
    ``bad_actor_top_n`` / ``pareto_share`` — bad actors: the definitions that
    together make 80 % of the load, at most the top 10 (ISA-18.2 metric "top 10
    most frequent alarms as share of the load").
    ``escalate_min_s`` / ``expire_min_s`` / ``expire_default_h`` — the guide's
    life cycle: a definition may escalate an alarm left unhandled for **more
    than 45 s**, and expire it after **more than 90 s** (48 h by default);
    an escalation at most 45 s or an expiry at most 90 s after the raise is
    flagged (a clock or configuration problem).
    ``high_priorities`` / ``medium_priorities`` — how the guide's five
    priorities (1 highest) map onto the three levels of the ISA-18.2 priority
    distribution (~5 % high, ~15 % medium, ~80 % low); priorities in neither
    tuple are low.
    ``benchmarks`` — the recommended performance figures (:data:`BENCHMARKS`).
    """

    flood_threshold: int = 10
    interval_s: int = 600
    busy_hour_threshold: int = 30
    chatter_raises: int = 3
    chatter_window_s: float = 60.0
    chatter_index_threshold: float = 0.05
    fleeting_s: float = 10.0
    repeat_window_s: float = 600.0
    stale_after_h: float = 24.0
    bad_actor_top_n: int = 10
    pareto_share: float = 0.8
    escalate_min_s: float = 45.0
    expire_min_s: float = 90.0
    expire_default_h: float = 48.0
    high_priorities: tuple = (1, 2)
    medium_priorities: tuple = (3,)
    benchmarks: dict = field(default_factory=lambda: dict(BENCHMARKS))

    def __post_init__(self):
        if self.interval_s <= 0 or 3600 % self.interval_s:
            raise ValueError(f"interval_s must divide an hour (3600 s), not {self.interval_s}")

    def as_dict(self) -> dict:
        return asdict(self)


BENCHMARKS = {
    # ISA-18.2 performance-metric table, per operator position.
    "avg_per_10min_acceptable": 1.0,     # ~1 "very likely to be acceptable"
    "avg_per_10min_manageable": 2.0,     # ~2 "maximum manageable"
    "avg_per_hour_acceptable": 6.0,
    "avg_per_hour_manageable": 12.0,
    "avg_per_day_acceptable": 150.0,
    "avg_per_day_manageable": 300.0,
    "peak_per_10min_max": 10,            # more is a flood
    "flood_interval_share_max": 0.01,    # < ~1 % of 10-minute periods in flood
    "busy_hour_share_max": 0.01,         # < ~1 % of hours with more than 30 alarms
    "top10_share_max": 0.05,             # top 10 alarms < ~1–5 % of the load
    "stale_max_per_day": 5,              # fewer than 5 stale alarms on any day
    "chattering_max": 0,                 # chattering and fleeting alarms: zero
    "fleeting_max": 0,
    "high_priority_share": 0.05,         # ~5 % high, ~15 % medium, ~80 % low (3 levels)
    "medium_priority_share": 0.15,
    "low_priority_share": 0.80,
    # EEMUA 191, long-term average alarm rate in steady operation, per operator:
    # less than 1 per 10 min very likely acceptable, 1 per 5 min manageable,
    # 1 per 2 min likely over-demanding, more than 1 per minute very likely
    # unacceptable — here as alarms per 10 minutes (the grade bounds of rate_grade).
    "eemua_acceptable_per_10min": 1.0,
    "eemua_manageable_per_10min": 2.0,
    "eemua_unacceptable_per_10min": 10.0,
}
"""Recommended alarm-system performance figures (ISA-18.2 performance-metric table,
EEMUA 191 average rates)."""

EEMUA_GRADES = ("very likely acceptable", "manageable", "likely over-demanding",
                "very likely unacceptable")
"""EEMUA 191's grades of a long-term average alarm rate, best first."""


def rate_class(avg_per_10min: float | None, benchmarks: dict = BENCHMARKS) -> str | None:
    """ISA-18.2 reading of an average rate per 10 minutes per operator position:
    ≤ ~1 acceptable, ≤ ~2 maximum manageable, above: overloaded."""
    if avg_per_10min is None:
        return None
    if avg_per_10min <= benchmarks["avg_per_10min_acceptable"]:
        return "acceptable"
    if avg_per_10min <= benchmarks["avg_per_10min_manageable"]:
        return "manageable"
    return "overloaded"


def rate_grade(avg_per_10min: float | None, benchmarks: dict = BENCHMARKS) -> str | None:
    """EEMUA 191's grade of an average rate per 10 minutes per operator position.

    EEMUA 191 grades four points: less than 1 alarm per 10 minutes is very
    likely acceptable, 1 per 5 minutes (2 per 10 min) manageable, 1 per 2
    minutes (5 per 10 min) likely over-demanding, more than 1 per minute (10 per
    10 min) very likely unacceptable. A rate between two points takes the grade
    of the next point at or above it, and everything up to 1 per minute is
    still over-demanding: ≤ 1 very likely acceptable, ≤ 2 manageable, ≤ 10
    likely over-demanding, above 10 very likely unacceptable.
    """
    if avg_per_10min is None:
        return None
    b = benchmarks
    if avg_per_10min <= b["eemua_acceptable_per_10min"]:
        return EEMUA_GRADES[0]
    if avg_per_10min <= b["eemua_manageable_per_10min"]:
        return EEMUA_GRADES[1]
    if avg_per_10min <= b["eemua_unacceptable_per_10min"]:
        return EEMUA_GRADES[2]
    return EEMUA_GRADES[3]
