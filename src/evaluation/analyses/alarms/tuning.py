"""Tuning advice per alarm definition, each piece with the evidence that triggers it.

The guide's levers on an alarm definition are its **schedule** ("a wrong
schedule causes unwanted alarms"), its **priority** (1–5), its life cycle, and
the trigger itself; from ISA-18.2 / EEMUA 191 come **on/off-delays and
deadbands** against chattering and **shelving** of an alarm that stands or
keeps coming while its cause is being repaired. The rules:

Every threshold is a field of :class:`AlarmRules` (defaults in brackets):

- *schedule*: at least ``tuning_min_false`` (5) false alarms, and
  ``schedule_cover`` (80 %) of them fall in at most ``schedule_max_hours`` (6)
  hours of the day → restrict the schedule in those hours;
- *delay_deadband*: the definition chatters (``chatter_raises`` raises within
  ``chatter_window_s``: 3 in 60 s) or its chatter index ψ ≥
  ``chatter_index_threshold`` (0.05) → add an off-delay/deadband as long as the
  largest re-raise gap within the chatter window (it would have merged every
  such re-raise) and, when at least ``on_delay_fleeting_share`` (50 %) of its
  alarms that returned to normal were fleeting (back within ``fleeting_s``), an
  on-delay of that length (it would have kept them from being raised);
- *priority* (over ≥ ``tuning_min_closed`` (5) closed alarms): a high priority
  (``high_priorities``: 1–2) with a false-alarm rate ≥
  ``lower_priority_false_share`` (50 %) → lower it; a low one (4–5) with a
  false-alarm rate ≤ ``raise_priority_false_share`` (20 %) and ≥
  ``raise_priority_left_share`` (30 %) of its alarms escalated or expired →
  raise it;
- *shelving*: alarms of the definition that stood more than ``stale_after_h``
  (24 h) in the period (stale episodes, also those that ended later), or ≥
  ``shelve_repeat_share`` (50 %) repeats with a false-alarm rate ≥
  ``shelve_false_share`` (80 %) → shelve it (with a time limit) until the cause
  is repaired.

Each evidence states what was measured in the period (counts, shares, the
longest gap or standing time), never the rule restated.

Heavy aggregation happens in the engine (:func:`definition_facts`,
:func:`false_by_hour`); :func:`advise` combines those small results.
"""
from __future__ import annotations

import math

import ibis
import pandas as pd
from ibis import _

from . import false_alarms
from .nuisance import key_facts, per_alarm
from .rules import AlarmRules


def definition_facts(flagged_or_facts: ibis.Table, rules: AlarmRules = AlarmRules()) -> ibis.Table:
    """Per definition: the figures the tuning rules read (from flagged instances or
    from :func:`evaluation.analyses.alarms.nuisance.key_facts`)."""
    t = flagged_or_facts
    if "inv_run_sum" not in t.columns:
        t = key_facts(t, rules)
    return per_alarm(t, by=("definition",))


def false_by_hour(flagged_or_cube: ibis.Table) -> ibis.Table:
    """Per definition and hour of day: closed alarms and false alarms."""
    cube = false_alarms.as_cube(flagged_or_cube)
    return (cube.group_by("definition", "hour")
            .agg(closed=_.closed.sum(), false_alarms=_.false_alarms.sum()))


def _hours(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}h" for h in sorted(hours))


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, …, 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def advise(facts: pd.DataFrame, by_hour: pd.DataFrame,
           stale: dict[str, tuple[int, float]] | None = None,
           rules: AlarmRules = AlarmRules()) -> list[dict]:
    """The advice list: ``definition``, ``kind``, ``advice``, ``evidence``, ``figures``.

    ``stale`` gives per definition its stale episodes and the longest time one
    of them stood, in hours (:func:`evaluation.analyses.alarms.nuisance.stale_episodes`).
    """
    stale = stale or {}
    out: list[dict] = []
    hours = {}
    if len(by_hour):
        ordered = by_hour.sort_values(["definition", "false_alarms", "hour"],
                                      ascending=[True, False, True])
        hours = {d: g for d, g in ordered.groupby("definition", sort=False)}
    for f in facts.sort_values(["alarms", "definition"], ascending=[False, True]).itertuples():
        d = f.definition
        rate = f.false_alarms / f.closed if f.closed else None
        # schedule
        g = hours.get(d)
        if g is not None and f.false_alarms >= rules.tuning_min_false:
            cum = g.false_alarms.cumsum()
            need = int((cum < rules.schedule_cover * f.false_alarms).sum()) + 1
            if need <= rules.schedule_max_hours:
                top = g.head(need)
                rest = g.iloc[need:]
                r_in = top.false_alarms.sum() / max(top.closed.sum(), 1)
                r_out = rest.false_alarms.sum() / rest.closed.sum() if rest.closed.sum() else None
                out.append(dict(
                    definition=d, kind="schedule",
                    advice=f"review the schedule of '{d}': leave out or re-check hours "
                           f"{_hours(top.hour.tolist())}",
                    evidence=f"{top.false_alarms.sum() / f.false_alarms:.0%} of its "
                             f"{f.false_alarms} false alarms fell in {need} of 24 hours "
                             f"({_hours(top.hour.tolist())}); false-alarm rate there {r_in:.0%}"
                             + (f" vs {r_out:.0%} in the other hours" if r_out is not None else ""),
                    figures=dict(hours=sorted(int(h) for h in top.hour), false_alarms=int(f.false_alarms),
                                 rate_in=float(r_in), rate_out=None if r_out is None else float(r_out))))
        # delay / deadband
        ci = None if pd.isna(f.chatter_index) else float(f.chatter_index)
        if f.chatter_raises > 0 or (ci is not None and ci >= rules.chatter_index_threshold):
            gap = f.short_gap_max_s
            size = math.ceil(gap) if gap is not None and not pd.isna(gap) else int(rules.chatter_window_s)
            fleeting = f.fleeting / f.cleared if f.cleared else None
            window, quick = f"{rules.chatter_window_s:g} s", f"{rules.fleeting_s:g} s"
            text = f"add an off-delay or deadband of about {size} s to '{d}'"
            if fleeting is not None and fleeting >= rules.on_delay_fleeting_share:
                text += f" and an on-delay of {quick}"
            nth = _ordinal(rules.chatter_raises)
            evidence = (f"{f.chatter_raises} of its {f.alarms} raise(s) were the {nth} or later "
                        f"within {window}; chatter index ψ = "
                        + (f"{ci:.3f}" if ci is not None else "n/a (no re-raise)"))
            if f.short_gaps:
                evidence += (f"; {f.short_gaps} re-raise(s) came within {window} of the previous "
                             f"raise, the longest of those gaps {gap:.0f} s")
            if fleeting is not None:
                evidence += (f"; {f.fleeting} of its {f.cleared} alarm(s) that returned to normal "
                             f"did so within {quick} ({fleeting:.0%})")
            out.append(dict(
                definition=d, kind="delay_deadband", advice=text, evidence=evidence,
                figures=dict(chatter_raises=int(f.chatter_raises), chatter_index=ci,
                             short_gaps=int(f.short_gaps), suggested_delay_s=size,
                             fleeting=int(f.fleeting), fleeting_share=fleeting)))
        # priority
        prio = None if pd.isna(f.priority) else int(f.priority)
        if prio is not None and f.closed >= rules.tuning_min_closed and rate is not None:
            esc = f.escalated_or_expired / f.alarms
            level = rules.priority_level(prio)
            if level == "high" and rate >= rules.lower_priority_false_share:
                out.append(dict(
                    definition=d, kind="priority",
                    advice=f"lower the priority of '{d}' (now {prio})",
                    evidence=f"{rate:.0%} of its {f.closed} closed alarms were false alarms",
                    figures=dict(priority=prio, false_alarm_rate=rate, closed=int(f.closed))))
            elif (level == "low" and rate <= rules.raise_priority_false_share
                  and esc >= rules.raise_priority_left_share):
                out.append(dict(
                    definition=d, kind="priority",
                    advice=f"raise the priority of '{d}' (now {prio})",
                    evidence=f"only {rate:.0%} false alarms, yet {esc:.0%} of its alarms were "
                             f"left until escalation or expiry",
                    figures=dict(priority=prio, false_alarm_rate=rate,
                                 escalated_or_expired_share=esc)))
        # shelving
        episodes, longest = stale.get(d, (0, 0.0))
        rep = f.repeat_alarms / f.alarms if f.alarms else 0.0
        noisy = (rep >= rules.shelve_repeat_share and rate is not None
                 and rate >= rules.shelve_false_share and f.closed >= rules.tuning_min_closed)
        if episodes > 0 or noisy:
            why = []
            if episodes:
                why.append(f"{episodes} alarm(s) stood more than {rules.stale_after_h:g} h in the "
                           f"period, the longest {longest:.1f} h")
            if noisy:
                why.append(f"{rep:.0%} of its {f.alarms} alarms are repeats and {rate:.0%} of "
                           f"its {f.closed} closed ones were false")
            out.append(dict(
                definition=d, kind="shelving",
                advice=f"shelve '{d}' for a limited time while its cause is repaired",
                evidence="; ".join(why),
                figures=dict(stale_episodes=int(episodes), longest_stale_h=float(longest),
                             repeat_share=rep, false_alarm_rate=rate)))
    return out
