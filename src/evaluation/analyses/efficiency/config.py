"""Every threshold of the chapter 6 evaluation, in one place, with its source.

Numbers marked "standard" come from DB33/T 830-2011; the others are this
project's documented choices (see ``docs/evaluation.md``) and can be changed by
passing another :class:`EvaluationConfig`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class EvaluationConfig:
    # --- evaluation period
    window_days: int = 365
    """Length of the look-back window ending at the as-of date (inclusive)."""

    # --- 5.1.1 timeliness (standard); a system may only make them stricter
    response_h: float = 0.5
    arrival_h: float = 4.0
    repair_h: float = 8.0
    sla_target: float = 1.0
    """Share of applicable faults that must be within each limit for the
    finding to conform. 1.0: the standard states each limit for every fault."""

    # --- 5.1.2 periodicity (standard)
    min_warranty_months: int = 12
    """5.1.2: a warranty of at least one year after acceptance (calendar months)."""
    max_cycle_months: int = 6
    """5.1.2: after the warranty the maintenance cycle is "at most half a year",
    judged in calendar months (visits on 1 March and 1 September conform; a
    month end is clamped: 31 August + 6 months = 28/29 February)."""
    max_cycle_days: int = 182
    """The contract's value of ``systems.maintenance_cycle_days`` for half a year
    (its default). A system declaring this many days or more is held to the
    standard's ceiling of ``max_cycle_months`` calendar months (and more than
    this is a ``cycle_setting`` finding, 5.1.2); fewer days is a stricter cycle
    chosen by risk level and judged in days."""
    cycle_kinds: tuple[str, ...] = ("periodic", "resident")
    """Maintenance kinds (5.3.2) that keep the periodic cycle; per-call visits do not."""

    # --- device effectiveness (project choices)
    repeat_faults: int = 3
    repeat_days: int = 90
    """A device with ``repeat_faults`` faults within ``repeat_days`` days is a repeat-fault device."""
    hold_days: int = 30
    """A fault of the same scope within this many days after a maintenance means it did not hold."""
    before_after_days: int = 90
    """Length of the windows before and after a maintenance whose fault rates are compared."""

    # --- performance (project choices)
    availability_target: float = 0.99
    availability_critical: float = 0.95

    # --- potential threats (project choices)
    exposure_limit_h: float = 24.0
    """Largest tolerated hours in the window that one zone had no working
    intrusion detection (or no working video)."""
    exposure_critical_h: float = 168.0
    false_alarm_limit: float = 0.2
    unhandled_limit: float = 0.05
    renewal_share: float = 0.5
    """Share of active devices past service life from which the system is renewed as a whole."""

    # --- survival model (project choices)
    min_events_weibull: int = 10
    """Fewer first faults than this in a group: Kaplan-Meier instead of Weibull."""

    # --- 6.1 timing and validity of the evaluation (project choices)
    min_observation_days: int = 90
    """6.1: the first evaluation comes "after the system has run for some time".
    Fewer days than this from the later of acceptance and the system's first
    fault or maintenance record up to the as-of date (or no fault and no
    maintenance record in the window) gives ``insufficient_evidence``, with no
    validity date."""
    validity_days: int | None = None
    """Days the evaluation stays valid; None = the system's maintenance cycle
    (the next periodic maintenance is the next occasion to re-evaluate)."""
    unfit_validity_days: int = 30
    """Shorter validity for a system classified unfit: re-evaluate after the corrective action."""

    # --- presentation
    evidence_ids: int = 5
    """How many record ids an evidence line names before "and N more"."""

    def __post_init__(self) -> None:
        """Refuse settings no evaluation can use, with a one-line reason."""
        for name in _AT_LEAST_ONE:
            value = getattr(self, name)
            if value is None and name == "validity_days":
                continue
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if self.max_cycle_months > 6:
            raise ValueError(f"max_cycle_months must be at most 6 (5.1.2: half a year), "
                             f"not {self.max_cycle_months}")

    def limits(self) -> dict[str, float]:
        return {"response": self.response_h, "arrival": self.arrival_h, "repair": self.repair_h}

    def as_dict(self) -> dict:
        return asdict(self)


_AT_LEAST_ONE = ("window_days", "min_warranty_months", "max_cycle_months", "max_cycle_days",
                 "min_observation_days", "validity_days", "unfit_validity_days")

DEFAULT = EvaluationConfig()
