"""What alarm rationalisation needs beyond the ISA-18.2 metrics, as one typed result.

Avalanches by the minute with their initiators (:mod:`.avalanches`),
consequential alarms and suppression advice (:mod:`.consequences`), sequences
(:mod:`.sequences`), standing alarms over time (:mod:`.standing_series`), the
composite nuisance score (:mod:`.nuisance_score`) and the hour-of-day ×
day-of-week load (:func:`.load.load_pattern`). Each part is a small table
with fixed columns, so the CLI, a page and a report take them as they are;
:meth:`Rationalisation.to_json` gives the keys of ``opeval alarms --format json``.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd

from ... import localtime
from . import avalanches, consequences, load, nuisance_score, sequences, standing_series
from .prep import KeyNames
from .rules import DEFAULT_RULES, AlarmRules


@dataclass(frozen=True)
class Rationalisation:
    """The five analyses of one scope (a period, one system or all)."""

    avalanches: avalanches.Avalanches
    consequences: consequences.Consequences
    sequences: sequences.Sequences
    standing: standing_series.StandingSeries
    nuisance: pd.DataFrame
    load_pattern: pd.DataFrame

    def kpis(self) -> dict:
        """The counts that go among the report's KPIs."""
        return {**self.avalanches.summary(), **self.consequences.summary()}

    def to_json(self, records) -> dict:
        """The JSON keys (``records`` turns a table into JSON-ready rows)."""
        a, c, s = self.avalanches, self.consequences, self.sequences
        tops: dict = {}
        for r in records(a.followers):
            tops.setdefault((r["system_id"], r["avalanche_id"]), []).append(
                {k: r[k] for k in ("definition", "resource_id", "alarms")})
        episodes = [dict(e, followers=tops.get((e["system_id"], e["avalanche_id"]), []))
                    for e in records(a.episodes)]
        return {
            "avalanches": {"episodes": episodes, "initiators": records(a.initiators)},
            "consequences": {"window_s": c.window_s, "pairs_tried": c.pairs_tried,
                             "pairs_tested": c.pairs_tested, "pairs": records(c.pairs),
                             "suppression": records(c.advice), "groups": records(c.groups)},
            "sequences": {"window_s": s.window_s, "busiest": records(s.busiest),
                          "transitions": records(s.transitions), "top": records(s.sequences)},
            "standing_series": {"step_s": self.standing.step_s,
                                "series": records(self.standing.series)},
            "nuisance_scores": records(self.nuisance),
            "load_pattern": records(self.load_pattern),
        }


def compute(raises: ibis.Table, keys: ibis.Table, episodes: ibis.Table, cube: ibis.Table,
            counts: ibis.Table, windows: pd.DataFrame, per_alarm: pd.DataFrame,
            episode_df: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES,
            zone: str = localtime.UTC) -> Rationalisation:
    """All five from the report's intermediate tables: the numbered ``raises`` and
    their ``keys`` (:func:`.prep.key_raises`, :func:`.prep.number_keys`), the stale
    ``episodes`` (and ``episode_df``, executed), the false-alarm ``cube`` (with
    ``weekday`` and ``hour`` on the clock of ``zone``, the database's time zone), the
    alarms per system and interval (``counts``,
    :func:`.load.interval_counts`), each system's ``windows`` and the
    ``per_alarm`` table by definition and resource."""
    names = KeyNames(keys)
    return Rationalisation(
        avalanches=avalanches.compute(raises, keys, names, rules, counts),
        consequences=consequences.compute(raises, keys, names, windows, rules),
        sequences=sequences.compute(raises, names, rules),
        standing=standing_series.compute(raises, episodes, keys, names, windows, rules),
        nuisance=nuisance_score.scores(per_alarm, episode_df, rules),
        load_pattern=load.load_pattern(load.hour_weekday_counts(cube).execute(), windows, zone),
    )
