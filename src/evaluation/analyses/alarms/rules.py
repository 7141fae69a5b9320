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

from dataclasses import asdict, dataclass, field, fields

from .. import checks

# ---------------------------------------------------------------- the guide (seed 004)
PRIORITIES = (1, 2, 3, 4, 5)
"""Alarm priority 1–5, 1 the highest (guide, alarm configuration)."""
CLOSE_REASONS = ("handled", "false_alarm", "other")
"""Reasons asked when closing an alarm (guide, closing an alarm)."""
OPEN_STATUSES = ("new", "in_progress", "escalated")
"""Statuses of an alarm still on the operator's list (guide, alarm instance)."""


@dataclass(frozen=True)
class AlarmRules:
    """Thresholds of the alarm analyses; each field's docstring ends with its source.

    Every field can be set in the ``[alarms]`` table of the settings file
    (docs/configuration.md), the benchmarks in ``[alarms.benchmarks]``; the class
    checks its own values.
    """

    flood_threshold: int = 10
    """A flood is **more than** this many alarms in one 10-minute period for one operator
    position (a system). Source: ISA-18.2 (more than 10 alarms in 10 minutes)."""
    interval_s: int = 600
    """Length in seconds of the fixed, clock-aligned periods the load is counted in; must
    divide an hour (the hourly figures are sums of periods). Source: ISA-18.2 metric
    "percentage of 10-minute periods containing more than 10 alarms"."""
    busy_hour_threshold: int = 30
    """An hour with **more than** this many alarms is a busy hour. Source: ISA-18.2 metric
    "percentage of hours containing more than 30 alarms"."""
    chatter_raises: int = 3
    """An alarm raised this many times or more within ``chatter_window_s`` chatters.
    Source: ISA-18.2 / EEMUA 191 rule of thumb (3 or more raises in 60 s)."""
    chatter_window_s: float = 60.0
    """The span, in seconds, of ``chatter_raises`` (first to last raise, boundary
    included). Source: ISA-18.2 / EEMUA 191 rule of thumb."""
    chatter_index_threshold: float = 0.05
    """An alarm whose chatter index ψ is at least this is chattering. Source: Kondaveeti
    et al. (2013), run-length distributions."""
    fleeting_s: float = 10.0
    """A raise that returns to normal by itself at most this many seconds after it was
    raised is fleeting (boundary included); ISA-18.2 sets the target zero but no
    duration, and 10 s is one sample of a 10-second process log. Source: project choice
    after alarm-management practice ("clears almost immediately")."""
    repeat_window_s: float = 600.0
    """A raise of the same definition on the same resource within this many seconds after
    the previous one is a repeat. Source: the VMS alarm guide's history review, project
    choice (10 minutes)."""
    stale_after_h: float = 24.0
    """An alarm standing for more than this many hours is stale. Source: ISA-18.2 (24 h)."""
    bad_actor_top_n: int = 10
    """Bad actors: at most this many definitions, the most frequent first. Source: ISA-18.2
    metric "top 10 most frequent alarms"."""
    pareto_share: float = 0.8
    """Bad actors: the definitions that together make this share of the load. Source:
    Pareto principle (80 %), project choice."""
    escalate_min_s: float = 45.0
    """A definition may escalate an alarm left unhandled for more than this many seconds;
    an escalation at most this long after the raise is flagged. Source: the VMS alarm
    guide (more than 45 s)."""
    expire_min_s: float = 90.0
    """A definition may expire an alarm after more than this many seconds; an expiry at
    most this long after the raise is flagged. Source: the VMS alarm guide (more than
    90 s)."""
    expire_default_h: float = 48.0
    """The default expiry in hours: an alarm standing longer, never handled, should have
    expired. Source: the VMS alarm guide (48 h)."""
    high_priorities: tuple = (1, 2)
    """The guide's priorities (1 highest … 5) that count as high in the three-level
    ISA-18.2 priority distribution. Source: project mapping of the VMS alarm guide onto
    ISA-18.2."""
    medium_priorities: tuple = (3,)
    """The priorities that count as medium; those in neither list are low. Source: project
    mapping of the VMS alarm guide onto ISA-18.2."""
    tuning_min_false: int = 5
    """Schedule advice: only for a definition with at least this many false alarms in the
    period. Source: project choice (docs/alarms.md, tuning advice)."""
    schedule_cover: float = 0.8
    """Schedule advice: when this share of a definition's false alarms falls in at most
    ``schedule_max_hours`` hours of the day. Source: the VMS alarm guide ("a wrong
    schedule causes unwanted alarms"), project choice (80 %)."""
    schedule_max_hours: int = 6
    """Schedule advice: the most hours of the day (0–24) those false alarms may take. Source:
    project choice (a quarter of the day)."""
    on_delay_fleeting_share: float = 0.5
    """Delay advice: an on-delay of ``fleeting_s`` is advised too when at least this share
    of the definition's alarms that returned to normal were fleeting. Source: ISA-18.2 /
    EEMUA 191 (on-delays against fleeting alarms), project choice ("most": 50 %)."""
    tuning_min_closed: int = 5
    """Priority advice, and shelving advice on repeats: only for a definition with at least
    this many closed alarms (a false-alarm rate needs closed alarms). Source: project
    choice."""
    lower_priority_false_share: float = 0.5
    """Priority advice: lower a high priority (``high_priorities``) when at least this share
    of its closed alarms were false alarms. Source: the VMS alarm guide (priority, close
    reasons), project choice (50 %)."""
    raise_priority_false_share: float = 0.2
    """Priority advice: raise a low priority (neither high nor medium) when at most this
    share of its closed alarms were false alarms … Source: the VMS alarm guide (priority,
    close reasons), project choice (20 %)."""
    raise_priority_left_share: float = 0.3
    """… and at least this share of its alarms were left until escalation or expiry.
    Source: the VMS alarm guide (escalation, expiry), project choice (30 %)."""
    shelve_repeat_share: float = 0.5
    """Shelving advice: when at least this share of a definition's alarms are repeats …
    Source: ISA-18.2 / EEMUA 191 (shelving), project choice (50 %)."""
    shelve_false_share: float = 0.8
    """… and at least this share of its closed alarms were false alarms. Source: ISA-18.2 /
    EEMUA 191 (shelving), project choice (80 %)."""
    avalanche_window_s: int = 60
    """An avalanche minute: a clock-aligned window of this many seconds of one operator
    position (a system) holding at least ``avalanche_min_alarms`` alarms; consecutive
    avalanche windows form one avalanche, whose first alarm is the likely initiator. Source:
    the public pandas ISA-18.2 analyser opeval was compared with in issue 17 (1-minute
    windows)."""
    avalanche_min_alarms: int = 10
    """An avalanche window holds **at least** this many alarms (boundary included): a whole
    ISA-18.2 flood's worth (more than 10 in 10 minutes) packed into one minute. Source: the
    issue-17 analyser (threshold 10)."""
    avalanche_top_followers: int = 5
    """How many of the alarms that followed the initiator are listed per avalanche. Source:
    project choice (a table row's width)."""
    follow_window_s: float = 60.0
    """B follows A when B is raised 0 to this many seconds after A (both bounds included) in
    the same system: the window of consequential pairs, suppression advice and sequences;
    at least a millisecond (the resolution the pairs are timed in). Source: ISA-18.2 names
    consequential alarms without a window; project choice (the avalanche minute, 60 s)."""
    consequence_min_together: int = 5
    """A pair A → B is tested only when A's episodes were followed by B at least this many
    times (fewer is anecdote, as ``tuning_min_false``). Source: project choice."""
    consequence_alpha: float = 0.01
    """The family-wise error rate of the binomial test of every pair tried, Holm-corrected
    (Holm 1979, step-down Bonferroni); strictly between 0 and 1. Source: project choice
    (1 %, stricter than the usual 5 %: a wrong suppression hides a real alarm)."""
    consequence_min_confidence: float = 0.7
    """Suppression advice "suppress B while A is active" needs B after at least this share of
    A's episodes (boundary included). Source: the issue-17 analyser (confidence 0.7)."""
    consequence_min_lift: float = 3.0
    """… and B after A at least this many times as often as chance (boundary included).
    Source: the issue-17 analyser (lift 3)."""
    sequence_top_n: int = 15
    """The busiest alarms kept in the transition matrix, and the number of most frequent
    sequences of each length listed. Source: the issue-17 analyser (top 15)."""
    standing_series_max_steps: int = 1000
    """The series of standing alarms uses the shortest step of 10 min, 1 h, 1 day or 1 week
    that keeps each system's window within this many steps (the longest step when none
    does). Source: project choice (a chart's width in pixels; not a performance rule)."""
    nuisance_weights: tuple = (1.0, 1.0, 1.0, 1.0)
    """The weights of the four parts of the composite nuisance score, in the order chatter,
    fleeting, repeat and standing shares; numbers of at least 0, not all 0. Source: project
    choice (equal: no standard weighs them; the issue-17 analyser weighs 0.35 chatter, 0.35
    repeats, 0.30 load)."""
    nuisance_top_n: int = 20
    """The alarms listed by nuisance score, the highest first. Source: project choice."""
    benchmarks: dict = field(default_factory=lambda: dict(BENCHMARKS))
    """The recommended performance figures (:data:`BENCHMARK_RULES`, one key each; a key
    left out keeps its default). Source: ISA-18.2 performance-metric table, EEMUA 191."""

    def __post_init__(self):
        """Refuse rules no analysis can use, with a one-line reason."""
        for name in ("flood_threshold", "busy_hour_threshold", "bad_actor_top_n"):
            checks.whole(self, name, least=1)
        checks.whole(self, "chatter_raises", least=2)
        checks.whole(self, "interval_s", least=1)
        if 3600 % self.interval_s:
            raise ValueError(f"interval_s must divide an hour (3600 s), not {self.interval_s}")
        for name in ("chatter_window_s", "repeat_window_s", "stale_after_h",
                     "expire_default_h"):
            checks.number(self, name, above=0)
        for name in ("fleeting_s", "escalate_min_s", "expire_min_s"):
            checks.number(self, name, least=0)
        checks.number(self, "chatter_index_threshold", least=0, most=1)
        checks.number(self, "pareto_share", above=0, most=1)
        for name in ("tuning_min_false", "tuning_min_closed"):
            checks.whole(self, name, least=1)
        checks.whole(self, "schedule_max_hours", least=1, most=24)
        checks.number(self, "schedule_cover", above=0, most=1)
        for name in ("on_delay_fleeting_share", "lower_priority_false_share",
                     "raise_priority_false_share", "raise_priority_left_share",
                     "shelve_repeat_share", "shelve_false_share"):
            checks.number(self, name, least=0, most=1)
        for name in ("high_priorities", "medium_priorities"):
            checks.items(self, name, "priorities from 1 to 5", lambda v: v in PRIORITIES)
        both = set(self.high_priorities) & set(self.medium_priorities)
        if both:
            raise ValueError(f"medium_priorities must not repeat a high priority, not "
                             f"{sorted(both)}")
        for name in ("avalanche_window_s", "avalanche_min_alarms", "avalanche_top_followers",
                     "consequence_min_together", "sequence_top_n", "standing_series_max_steps",
                     "nuisance_top_n"):
            checks.whole(self, name, least=1)
        checks.number(self, "follow_window_s", least=0.001)
        checks.number(self, "consequence_alpha", above=0, below=1)
        checks.number(self, "consequence_min_confidence", least=0, most=1)
        checks.number(self, "consequence_min_lift", least=0)
        checks.items(self, "nuisance_weights", "numbers of at least 0", checks.is_number(least=0))
        if len(self.nuisance_weights) != 4 or not sum(self.nuisance_weights) > 0:
            raise ValueError(f"nuisance_weights must be 4 weights (chatter, fleeting, repeat, "
                             f"standing), not all 0, not {list(self.nuisance_weights)!r}")
        checks.table(self, "benchmarks", "a number of at least 0", checks.is_number(least=0),
                     keys=BENCHMARKS)

    def priority_level(self, priority: int) -> str:
        """The ISA-18.2 level of one of the guide's priorities: ``high``, ``medium`` or
        ``low`` (the mapping :func:`evaluation.analyses.alarms.load.priority_levels`
        counts with)."""
        if priority in self.high_priorities:
            return "high"
        return "medium" if priority in self.medium_priorities else "low"

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in fields(self)))

    def as_dict(self) -> dict:
        return asdict(self)


BENCHMARK_RULES = {
    "avg_per_10min_acceptable": (1.0, ("average alarms per 10 minutes per operator position "
                                       "very likely acceptable. Source: ISA-18.2 (~1).")),
    "avg_per_10min_manageable": (2.0, ("maximum manageable average per 10 minutes. "
                                       "Source: ISA-18.2 (~2).")),
    "avg_per_hour_acceptable": (6.0, ("average per hour very likely acceptable. "
                                      "Source: ISA-18.2 (~6).")),
    "avg_per_hour_manageable": (12.0, ("maximum manageable average per hour. "
                                       "Source: ISA-18.2 (~12).")),
    "avg_per_day_acceptable": (150.0, ("average per day very likely acceptable. "
                                       "Source: ISA-18.2 (~150).")),
    "avg_per_day_manageable": (300.0, ("maximum manageable average per day. "
                                       "Source: ISA-18.2 (~300).")),
    "peak_per_10min_max": (10, ("largest alarms in one 10-minute period (more is a flood). "
                                "Source: ISA-18.2 (≤ 10).")),
    "flood_interval_share_max": (0.01, ("share of 10-minute periods in flood. "
                                        "Source: ISA-18.2 (< ~1 %).")),
    "busy_hour_share_max": (0.01, ("share of hours with more than busy_hour_threshold alarms. "
                                   "Source: ISA-18.2 (< ~1 %).")),
    "top10_share_max": (0.05, ("share of the load made by the 10 most frequent alarms. "
                               "Source: ISA-18.2 (< ~1–5 %).")),
    "stale_max_per_day": (5, ("stale alarms standing on any one day: fewer than this. "
                              "Source: ISA-18.2 (less than 5).")),
    "chattering_max": (0, "chattering alarms. Source: ISA-18.2 (zero)."),
    "fleeting_max": (0, "fleeting alarms. Source: ISA-18.2 (zero)."),
    "high_priority_share": (0.05, ("target share of high-priority alarms. "
                                   "Source: ISA-18.2 (~5 %).")),
    "medium_priority_share": (0.15, ("target share of medium-priority alarms. "
                                     "Source: ISA-18.2 (~15 %).")),
    "low_priority_share": (0.80, ("target share of low-priority alarms. "
                                  "Source: ISA-18.2 (~80 %).")),
    "eemua_acceptable_per_10min": (1.0, ("long-term average per 10 minutes very likely "
                                         "acceptable (less than 1 per 10 min). "
                                        "Source: EEMUA 191.")),
    "eemua_manageable_per_10min": (2.0, ("average per 10 minutes still manageable (1 per "
                                         "5 min). Source: EEMUA 191.")),
    "eemua_unacceptable_per_10min": (10.0, ("average per 10 minutes above which the rate is "
                                            "very likely unacceptable (1 per minute; up to "
                                           "it likely over-demanding). Source: EEMUA 191.")),
}
"""Each recommended alarm-system performance figure: (default, what it bounds and its
source) — the ISA-18.2 performance-metric table, per operator position, and EEMUA 191's
grades of the long-term average rate in steady operation, here per 10 minutes."""

BENCHMARKS = {key: value for key, (value, _doc) in BENCHMARK_RULES.items()}
"""The default benchmarks (:data:`BENCHMARK_RULES` without their text)."""

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


DEFAULT_RULES = AlarmRules()
"""The rules as stated above, for default arguments."""
