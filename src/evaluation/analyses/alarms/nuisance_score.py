"""A composite nuisance score per alarm, with its parts shown.

Each part is a share of the alarm's raises (one definition on one resource,
every system pooled), so the score does not depend on the worst alarm of the
log and compares across logs and systems:

- ``chatter_share`` — raises that were the 3rd within 60 s (ISA-18.2 / EEMUA
  191 chattering);
- ``fleeting_share`` — raises back to normal by themselves within
  ``rules.fleeting_s``;
- ``repeat_share`` — raises within the repeat window of the previous one (a
  chatter raise is a repeat too);
- ``standing_share`` — raises that stood more than ``rules.stale_after_h`` in
  the period (stale episodes, ISA-18.2).

score = the mean of the parts weighted by ``rules.nuisance_weights`` (equal by
default), between 0 (none of it) and 1 (every raise chatters, is fleeting,
repeats and stood more than a day). Computed on the small per-alarm table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .rules import DEFAULT_RULES, AlarmRules

PARTS = ("chatter_share", "fleeting_share", "repeat_share", "standing_share")
COLUMNS = ["rank", "definition", "resource_id", "alarms", *PARTS, "score"]


def scores(per_alarm: pd.DataFrame, episodes: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES
           ) -> pd.DataFrame:
    """Every alarm with a score above 0, highest first (ties: more alarms, then by
    definition and resource), at most ``rules.nuisance_top_n``. ``per_alarm``:
    :func:`evaluation.analyses.alarms.nuisance.per_alarm` by definition and
    resource; ``episodes``: the stale episodes (``definition``, ``resource_id``)."""
    if not len(per_alarm):
        return pd.DataFrame(columns=COLUMNS)
    d = per_alarm[["definition", "resource_id", "alarms", "chatter_raises", "fleeting",
                   "repeat_alarms"]].copy()
    stood = (episodes.groupby(["definition", "resource_id"]).size().rename("stood").reset_index()
             if len(episodes) else pd.DataFrame(columns=["definition", "resource_id", "stood"]))
    d = d.merge(stood, on=["definition", "resource_id"], how="left")
    d["stood"] = d.stood.astype("Float64").fillna(0).astype("int64")
    n = d.alarms.astype(float)
    d["chatter_share"] = d.chatter_raises / n
    d["fleeting_share"] = d.fleeting / n
    d["repeat_share"] = d.repeat_alarms / n
    d["standing_share"] = d.stood / n
    w = np.asarray(rules.nuisance_weights, dtype=float)
    d["score"] = d[list(PARTS)].to_numpy() @ w / w.sum()
    d = d[d.score > 0].sort_values(["score", "alarms", "definition", "resource_id"],
                                   ascending=[False, False, True, True])
    d = d.head(rules.nuisance_top_n).reset_index(drop=True)
    d["rank"] = range(1, len(d) + 1)
    return d[COLUMNS]
