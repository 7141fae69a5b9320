"""Interventions at PMs versus customer cuts (e-Intervention lot 1, flow 3 and §6 evolutions).

- :mod:`.rules` — the specification's counting and timestamp rules, one function each;
- :mod:`.correlation` — the engine-side correlation (Ibis): windows, matched pairs,
  per intervention / PM / DO / OC, short cuts;
- :mod:`.stats` — rate-ratio intervals, funnel limits, beta-binomial shrinkage;
- :mod:`.pseudonym` — keyed pseudonyms of DO codes for OC-facing views;
- :mod:`.report` — the assembled, small result the CLI and views show.
"""
from .correlation import OutageConfig, Period
from .report import Correlation, OutageReport, analyse, correlate

__all__ = ["Correlation", "OutageConfig", "OutageReport", "Period", "analyse", "correlate"]
