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
    max_cycle_days: int = 182
    """Half a year, the longest cycle the standard allows after the warranty."""
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

    # --- 6.1 validity of the evaluation (project choices)
    validity_days: int | None = None
    """Days the evaluation stays valid; None = the system's maintenance cycle
    (the next periodic maintenance is the next occasion to re-evaluate)."""
    unfit_validity_days: int = 30
    """Shorter validity for a system classified unfit: re-evaluate after the corrective action."""

    # --- presentation
    evidence_ids: int = 5
    """How many record ids an evidence line names before "and N more"."""

    def limits(self) -> dict[str, float]:
        return {"response": self.response_h, "arrival": self.arrival_h, "repair": self.repair_h}

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT = EvaluationConfig()
