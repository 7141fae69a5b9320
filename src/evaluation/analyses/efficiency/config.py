"""Every threshold of the chapter 6 evaluation, in one place, with its source.

Numbers whose source is a clause come from DB33/T 830-2011; the others are
this project's documented choices (``docs/evaluation.md``). Each field's
docstring ends with its source; ``opeval.example.toml`` is generated from them
and every field can be set in the ``[evaluation]`` table of the settings file
(docs/configuration.md). The class checks its own values.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .. import checks

SERVICE_LIFE_YEARS = {
    "ccd_camera": 6, "monitor": 5, "dedicated_vcr": 4, "home_vcr": 2, "dvr": 5,
    "ptz_indoor": 6, "ptz_outdoor": 5, "matrix_host": 8, "video_switcher": 4,
    "intrusion_detector": 6, "alarm_controller": 6, "alarm_battery": 6,
}
"""DB33/T 830-2011 5.1.2 service-life table: years of service per device type."""


@dataclass(frozen=True)
class EvaluationConfig:
    """Thresholds of the chapter 6 evaluation; a bare clause number (5.1.1) is one of
    DB33/T 830-2011. Each field's docstring ends with its source."""

    # --- evaluation period
    window_days: int = 365
    """Length in days of the look-back window ending with the as-of date (inclusive).
    Source: project choice (one year of records)."""

    # --- 5.1.1 timeliness (standard); a system may only make them stricter
    response_h: float = 0.5
    """Hours from the fault to the response. Source: 5.1.1."""
    arrival_h: float = 4.0
    """Hours from the fault to the arrival on site. Source: 5.1.1."""
    repair_h: float = 8.0
    """Hours from the fault to the restoration. Source: 5.1.1."""
    sla_target: float = 1.0
    """Share of applicable faults that must be within each limit for the finding to
    conform; 1.0 because the standard states each limit for every fault. Source: 5.1.1."""

    # --- 5.1.2 periodicity and service life (standard)
    min_warranty_months: int = 12
    """A warranty of at least this many calendar months after acceptance. Source: 5.1.2
    (one year)."""
    max_cycle_months: int = 6
    """After the warranty the maintenance cycle is "at most half a year", judged in
    calendar months (visits on 1 March and 1 September conform; a month end is clamped:
    31 August + 6 months = 28/29 February); at most 6. Source: 5.1.2."""
    max_cycle_days: int = 182
    """The contract's value of ``systems.maintenance_cycle_days`` for half a year (its
    default). A system declaring this many days or more is held to the standard's ceiling
    of ``max_cycle_months`` calendar months (more is a ``cycle_setting`` finding); fewer
    days is a stricter cycle chosen by risk level and judged in days. Source: 5.1.2 and
    the data contract."""
    cycle_kinds: tuple[str, ...] = ("periodic", "resident")
    """Maintenance kinds that keep the periodic cycle; per-call visits do not.
    Source: 5.3.2."""
    service_life_years: dict = field(default_factory=lambda: dict(SERVICE_LIFE_YEARS))
    """Years of service per ``device_type``; a device past them is due for replacement.
    The whole table: a type left out has no service-life rule. Source: 5.1.2 (table)."""

    # --- device effectiveness (project choices)
    repeat_faults: int = 3
    """A device with this many faults within ``repeat_days`` days is a repeat-fault
    device. Source: project choice (3.4, device effectiveness)."""
    repeat_days: int = 90
    """The span, in days, of ``repeat_faults`` (inclusive: faults on day 0, 45 and 90 are
    three in 90 days). Source: project choice."""
    hold_days: int = 30
    """A fault of the same scope within this many days after a maintenance means it did
    not hold. Source: project choice (3.4)."""
    before_after_days: int = 90
    """Length in days of the windows before and after a maintenance whose fault rates are
    compared. Source: project choice (3.4)."""

    # --- performance (project choices)
    availability_target: float = 0.99
    """Availability below this is a minor finding. Source: project choice (3.4, system
    performance)."""
    availability_critical: float = 0.95
    """Availability below this is a major finding. Source: project choice."""

    # --- potential threats (project choices)
    exposure_limit_h: float = 24.0
    """Largest tolerated hours in the window that one zone had no working intrusion
    detection (or no working video). Source: project choice (3.4, potential threats)."""
    exposure_critical_h: float = 168.0
    """Exposure hours from which the finding is major. Source: project choice."""
    false_alarm_limit: float = 0.2
    """Largest tolerated share of closed alarms closed as false alarms. Source: project
    choice (4.4)."""
    unhandled_limit: float = 0.05
    """Largest tolerated share of alarms never taken in hand. Source: project choice (4.4,
    24-hour duty)."""
    unhandled_after_h: float = 48.0
    """An alarm still new or escalated without being handled this many hours after its
    raise counts as never taken in hand. Source: the VMS alarm guide's default expiry
    (48 h)."""
    renewal_share: float = 0.5
    """Share of active devices past their service life from which the system is renewed
    as a whole. Source: project choice (6.3)."""

    # --- survival model (project choices)
    min_events_weibull: int = 10
    """Fewer first faults than this in a device group: Kaplan-Meier instead of Weibull.
    Source: project choice."""

    # --- 6.1 timing and validity of the evaluation (project choices)
    min_observation_days: int = 90
    """6.1: the first evaluation comes "after the system has run for some time". Fewer
    days than this from the later of acceptance and the system's first fault or
    maintenance record up to the as-of date (or no fault and no maintenance record in the
    window) gives ``insufficient_evidence``, with no validity date. Source: 6.1, project
    choice."""
    validity_days: int | None = None
    """Days the evaluation stays valid; unset: the system's maintenance cycle (the next
    periodic maintenance is the next occasion to re-evaluate). Source: 6.1, project
    choice."""
    unfit_validity_days: int = 30
    """Shorter validity for a system classified unfit: re-evaluate after the corrective
    action. Source: 6.1, project choice."""

    # --- presentation
    evidence_ids: int = 5
    """How many record ids an evidence line names before "and N more". Source: project
    choice (presentation)."""

    def __post_init__(self) -> None:
        """Refuse settings no evaluation can use, with a one-line reason."""
        for name in _AT_LEAST_ONE:
            checks.whole(self, name, least=1, optional=name == "validity_days")
        if self.max_cycle_months > 6:
            raise ValueError(f"max_cycle_months must be at most 6 (5.1.2: half a year), "
                             f"not {self.max_cycle_months}")
        for name in ("response_h", "arrival_h", "repair_h", "exposure_limit_h",
                     "exposure_critical_h", "unhandled_after_h"):
            checks.number(self, name, above=0)
        for name in ("sla_target", "availability_target", "availability_critical",
                     "false_alarm_limit", "unhandled_limit", "renewal_share"):
            checks.number(self, name, least=0, most=1)
        checks.items(self, "cycle_kinds", "maintenance kinds (periodic, per_call, resident)",
                     lambda k: k in ("periodic", "per_call", "resident"), allow_empty=False)
        checks.table(self, "service_life_years", "a whole number of years of at least 1",
                     checks.is_whole(least=1))

    def limits(self) -> dict[str, float]:
        return {"response": self.response_h, "arrival": self.arrival_h, "repair": self.repair_h}

    def as_dict(self) -> dict:
        return asdict(self)


_AT_LEAST_ONE = ("window_days", "min_warranty_months", "max_cycle_months", "max_cycle_days",
                 "repeat_faults", "repeat_days", "hold_days", "before_after_days",
                 "min_events_weibull", "min_observation_days", "validity_days",
                 "unfit_validity_days", "evidence_ids")

DEFAULT = EvaluationConfig()
