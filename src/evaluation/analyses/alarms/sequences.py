"""Alarm sequences: which alarm follows which, and the most frequent ordered sequences.

The raises of each system are put in time order (raises at the same instant
in the order of their definition and resource: a log's resolution cannot
tell which came first). A raise is *followed* by the next raise of its system
when that comes at most ``rules.follow_window_s`` later; a later raise, or
none, means the raise was not followed.

- The **transition matrix** is kept to the ``rules.sequence_top_n`` busiest
  alarms (most raises; ties by definition and resource): for each pair the
  transitions from one to the other (itself included: the diagonal is an alarm
  raised again before any other) and their share of the from-alarm's raises;
  :attr:`Sequences.busiest` says for each how many of its raises were followed
  at all and how many by one of the busiest.
- The **most frequent sequences** are chains of 2 and 3 consecutive raises of
  one system, each within the window of the one before and each of another
  alarm than the one before (an alarm raised again is chatter or a repeat,
  reported elsewhere); ``sequence_top_n`` of each length, with how often they
  occurred and in how many systems.

One window pass over the numbered raises
(:func:`evaluation.analyses.alarms.prep.key_raises`) finds each raise's next
two; one group-by counts the chains; the rest are sums over that count.
"""
from __future__ import annotations

from dataclasses import dataclass

import ibis
import pandas as pd
from ibis import _

from .prep import KeyNames, millis
from .rules import DEFAULT_RULES, AlarmRules

BUSIEST_COLUMNS = ["rank", "definition", "resource_id", "raises", "followed",
                   "followed_by_busiest"]
TRANSITION_COLUMNS = ["from_definition", "from_resource_id", "to_definition", "to_resource_id",
                      "transitions", "share"]
SEQUENCE_COLUMNS = ["length", "rank", "step1_definition", "step1_resource_id",
                    "step2_definition", "step2_resource_id", "step3_definition",
                    "step3_resource_id", "occurrences", "systems"]


def chains(raises: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """Counts of each raise's successors per system: ``sys_no``, ``alarm_no``,
    ``next1`` (the alarm of the next raise when within the window, else NULL),
    ``next2`` (the one after, when ``next1`` is another alarm than ``alarm_no``,
    the one after comes within the window of ``next1`` and is another alarm
    than ``next1``; else NULL), ``n`` (raises)."""
    w_ms = round(rules.follow_window_s * 1000)
    order = ibis.window(group_by="sys_no", order_by=["raised_at", "alarm_no"])
    t = raises.select("sys_no", "alarm_no", "raised_at").mutate(
        _a1=_.alarm_no.lead(1).over(order), _t1=_.raised_at.lead(1).over(order),
        _a2=_.alarm_no.lead(2).over(order), _t2=_.raised_at.lead(2).over(order))
    ok1 = _._a1.notnull() & (millis(_._t1, _.raised_at) <= w_ms)
    ok2 = (ok1 & (_._a1 != _.alarm_no) & _._a2.notnull() & (_._a2 != _._a1)
           & (millis(_._t2, _._t1) <= w_ms))
    t = t.mutate(next1=ibis.ifelse(ok1, _._a1, ibis.null("int64")),
                 next2=ibis.ifelse(ok2, _._a2, ibis.null("int64")))
    return t.group_by("sys_no", "alarm_no", "next1", "next2").agg(n=_.count())


def busiest(raises: ibis.Table, top: int) -> ibis.Table:
    """The ``top`` alarms with most raises: ``alarm_no``, ``raises``, ``rank``."""
    c = raises.group_by("alarm_no").agg(raises=_.count())
    return (c.mutate(rank=ibis.row_number().over(
        ibis.window(order_by=[ibis.desc("raises"), "alarm_no"])) + 1).filter(_.rank <= top))


@dataclass(frozen=True)
class Sequences:
    """Transitions between the busiest alarms and the most frequent sequences, as
    small tables: ``busiest`` (:data:`BUSIEST_COLUMNS`), ``transitions`` (the
    matrix as rows, :data:`TRANSITION_COLUMNS`; cells without a transition
    are left out) and ``sequences`` (:data:`SEQUENCE_COLUMNS`, length 2 then
    3, most frequent first)."""

    busiest: pd.DataFrame
    transitions: pd.DataFrame
    sequences: pd.DataFrame
    window_s: float

    def matrix(self) -> pd.DataFrame:
        """The transition shares as a square table (rows: from, columns: to), the
        busiest alarms in rank order, 0 where no transition was seen."""
        labels = [f"{d} / {r}" for d, r in zip(self.busiest.definition,
                                               self.busiest.resource_id)]
        m = pd.DataFrame(0.0, index=labels, columns=labels)
        for t in self.transitions.itertuples():
            m.loc[f"{t.from_definition} / {t.from_resource_id}",
                  f"{t.to_definition} / {t.to_resource_id}"] = t.share
        return m


def compute(raises: ibis.Table, names: KeyNames, rules: AlarmRules = DEFAULT_RULES
            ) -> Sequences:
    """The transition matrix of the busiest alarms and the most frequent sequences."""
    top = rules.sequence_top_n
    ch = chains(raises, rules).cache()
    busy_df = busiest(raises, top).order_by("rank").execute()
    nos = [int(x) for x in busy_df.alarm_no]
    pairs = (ch.filter(_.next1.notnull()).group_by("alarm_no", "next1")
             .agg(transitions=_.n.sum(), systems=_.sys_no.nunique()))
    moves = (ch.filter(_.alarm_no.isin(nos)).group_by("alarm_no")
             .agg(followed=_.n.sum(where=_.next1.notnull()),
                  followed_by_busiest=_.n.sum(where=_.next1.isin(nos))).execute())
    busy_df = busy_df.merge(moves, on="alarm_no", how="left")
    for c in ("followed", "followed_by_busiest"):
        busy_df[c] = busy_df[c].astype("Float64").fillna(0).astype("int64")
    matrix = (pairs.filter(_.alarm_no.isin(nos) & _.next1.isin(nos))
              .select("alarm_no", "next1", "transitions").execute())
    raises_of = dict(zip(busy_df.alarm_no, busy_df.raises))
    matrix["share"] = matrix.transitions / matrix.alarm_no.map(raises_of)
    rank = dict(zip(busy_df.alarm_no, busy_df["rank"]))
    matrix = matrix.assign(_r1=matrix.alarm_no.map(rank), _r2=matrix.next1.map(rank)) \
        .sort_values(["_r1", "_r2"]).drop(columns=["_r1", "_r2"])
    two = _top(pairs.filter(_.alarm_no != _.next1)
               .select("alarm_no", "next1", occurrences=_.transitions, systems=_.systems),
               ["alarm_no", "next1"], top)
    three = _top(ch.filter(_.next2.notnull()).group_by("alarm_no", "next1", "next2")
                 .agg(occurrences=_.n.sum(), systems=_.sys_no.nunique()),
                 ["alarm_no", "next1", "next2"], top)
    ch.release()
    busy_df = names.name_alarm(busy_df)
    matrix = names.name_alarm(names.name_alarm(matrix, "alarm_no", "from_"), "next1", "to_")
    return Sequences(busy_df[BUSIEST_COLUMNS], matrix.reset_index(drop=True)[TRANSITION_COLUMNS],
                     _sequences(two, three, names), rules.follow_window_s)


def _top(t: ibis.Table, steps: list[str], top: int) -> pd.DataFrame:
    """The ``top`` most frequent chains (ties by the alarm numbers of their steps)."""
    order = [ibis.desc("occurrences"), *steps]
    return (t.mutate(rank=ibis.row_number().over(ibis.window(order_by=order)) + 1)
            .filter(_.rank <= top).order_by("rank").execute())


def _sequences(two: pd.DataFrame, three: pd.DataFrame, names: KeyNames) -> pd.DataFrame:
    parts = []
    for length, df in ((2, two), (3, three)):
        if not len(df):
            continue
        df = df.rename(columns={"alarm_no": "step1", "next1": "step2", "next2": "step3"})
        for i in range(1, length + 1):
            df = names.name_alarm(df, f"step{i}", f"step{i}_")
        parts.append(df.assign(length=length))
    if not parts:
        return pd.DataFrame(columns=SEQUENCE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    for c in SEQUENCE_COLUMNS:
        if c not in out.columns:
            out[c] = None
    return out[SEQUENCE_COLUMNS]
