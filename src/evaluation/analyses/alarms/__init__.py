"""Alarm analytics (domain brief §2; VMS alarm guide; ISA-18.2 / EEMUA 191).

Engine-agnostic Ibis functions over the ``alarms`` table:

- :mod:`.prep` — the alarms of an analysis as known at ``as_of``; per-instance gaps;
- :mod:`.load` — counts, rates per operator position per 10 min, floods;
- :mod:`.nuisance` — chattering, chatter index, repeats, standing/stale, bad
  actors, the history of one alarm;
- :mod:`.lifecycle` — time to handle/close, escalated, expired, closed without
  handling, per-operator load and speed, close reasons;
- :mod:`.false_alarms` — false-alarm rates by definition, resource, event type,
  hour, weekday;
- :mod:`.tuning` — advice per definition with its evidence;
- :mod:`.model` — the false-alarm model (scikit-learn);
- :mod:`.report` — everything as one JSON-ready dict (``opeval alarms``);
- :mod:`.rules` — the thresholds and benchmarks.
"""
from .prep import instances, select
from .report import alarm_report
from .rules import AlarmRules

__all__ = ["AlarmRules", "alarm_report", "instances", "select"]
