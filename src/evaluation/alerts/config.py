"""Every threshold of the alert rules, in one place, in the style of the analyses' config
classes (:class:`~evaluation.analyses.blacklist.BlacklistConfig`, ...), so that it can be a
``[alerts]`` table of the settings file.

The rules reuse the analyses' own thresholds: a chattering definition, a flood and the
stale-alarm benchmark come from :class:`~evaluation.analyses.alarms.AlarmRules`; a
blacklist candidate from :class:`~evaluation.analyses.blacklist.BlacklistConfig`;
maintenance overdue, classification and validity from
:class:`~evaluation.analyses.efficiency.config.EvaluationConfig`. Only what the
analyses do not decide lives here: how far back the rules look, when an expiry is
near, when a DO's timestamps or an OC's silence or a load's quarantine is too much.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the alert rules (docs/alerts.md)."""

    expiry_warning_days: int = 30
    """Days before an evaluation's ``valid_until`` (6.1) from which it is about to expire."""
    alarm_lookback_days: int = 7
    """The alarm rules (chattering, floods, stale) read the alarms raised in the last
    this many days of data (a first run over years of history does not fire for each
    flood of the past)."""
    network_lookback_days: int = 30
    """The DO timestamp-quality rule reads the interventions of the last this many days
    of data."""
    do_timestamp_quality_min: float = 0.9
    """A DO's timestamp quality (share of its interventions with an HF and no counted cut
    within the 5-minute tolerance outside [HD, HF], docs/alerts.md) below this fires."""
    do_min_interventions: int = 10
    """Interventions a DO needs in the period before its timestamp quality is judged."""
    m5_silence_days: int = 7
    """An OC that has sent M5s (flow 3) and sent none for an intervention that started in
    the last this many days of data, while interventions went on at its PMs, has stopped."""
    m5_min_interventions: int = 3
    """Interventions at the OC's PMs in the silent days before its silence is judged."""
    quarantine_share_max: float = 0.05
    """A load that quarantined more than this share of the rows it read fires."""
    load_lookback_days: int = 7
    """The load rule reads the loads started in the last this many days (clock time)."""

    def __post_init__(self) -> None:
        """Refuse settings no rule can use, with a one-line reason naming the field."""
        for name in ("expiry_warning_days", "alarm_lookback_days", "network_lookback_days",
                     "do_min_interventions", "m5_silence_days", "m5_min_interventions",
                     "load_lookback_days"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"{name} must be a whole number of at least 1, not {v!r}")
        for name in ("do_timestamp_quality_min", "quarantine_share_max"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool)
                    and math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be a number of at least 0 and at most 1, not {v!r}")

    def as_dict(self) -> dict:
        return asdict(self)
