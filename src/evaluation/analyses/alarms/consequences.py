"""Consequential alarms and suppression advice: which alarm follows which far more
often than chance, and "suppress B while A is active" with its evidence.

ISA-18.2 calls *consequential* the alarms an upset raises after its first one;
alarm rationalisation suppresses them while their cause is active
(state-based or alarm-based suppression). The figures, for an ordered pair of
alarms (A, B) — an alarm being one definition on one resource — in the systems
where both occur, ``W`` = ``rules.follow_window_s``:

- an *episode* of A starts with a raise of A more than W after A's previous
  raise (or its first): a chattering A is one episode, not dozens of trials,
  and the W-long windows after two episodes never overlap;
- *together*: the episodes of A followed by at least one raise of B 0–W s after
  their start (same system; B at the same instant counts);
- *confidence* = together / episodes of A; *support* = together / the
  W-long windows observed (the systems' windows, summed, divided by W);
- *expected*: under independence an episode start falls at a random time, and
  a raise of B follows within W with the probability that a random instant
  lies at most W before some raise of B — the *cover* of B, |∪ [t_B − W, t_B]|
  / the system's window. expected = Σ over systems of episodes of A × cover
  of B; *lift* = together / expected;
- *p-value*: P(X ≥ together) for X ~ Binomial(episodes, expected / episodes).
  Pooling systems with different covers makes X a sum of binomials, whose
  upper tail the binomial of the mean probability bounds from above
  (Hoeffding 1956), so the test errs on the safe side;
- the test is corrected for every ordered pair that could have been tried
  (Holm 1979, family-wise error ``rules.consequence_alpha``): M = the smaller of
  K(K − 1), K the alarms, and Σ over systems of k(k − 1), k the alarms of the
  system — both bound the number of pairs that occur in a common system. Only
  pairs with at least ``rules.consequence_min_together`` are computed; the
  others cannot be advised, and leaving them out of Holm's ordering only
  makes the thresholds stricter.

Advice "suppress B while A is active" needs: significant after the
correction, confidence ≥ ``rules.consequence_min_confidence`` and lift ≥
``rules.consequence_min_lift``. When B → A qualifies too, the two come
together (``mutual``) and only the direction with the higher confidence is
advised: suppressing each while the other is active could hide both. The
evidence of an advice: A's episodes and how many were followed by B, the raises
of B, how many came within W after a raise of A (those a suppression for W
after each raise of A would have removed) and how many came without A.
Each trigger with its consequences forms a *suppression group*.

The heavy steps run in the engine on the numbered raises
(:func:`evaluation.analyses.alarms.prep.key_raises`): a join of raises in
neighbouring W-long buckets of one system (an equality join, so every engine
runs it as a hash join), then counts; the statistics are computed on the small
table of candidate pairs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from ibis import _
from scipy import special

from .prep import KeyNames, millis
from .rules import DEFAULT_RULES, AlarmRules

PAIR_COLUMNS = ["trigger_definition", "trigger_resource_id", "consequence_definition",
                "consequence_resource_id", "systems", "trigger_episodes", "together",
                "expected", "support", "confidence", "lift", "p_value", "p_adjusted",
                "significant", "reverse_confidence"]
ADVICE_COLUMNS = ["trigger_definition", "trigger_resource_id", "consequence_definition",
                  "consequence_resource_id", "trigger_episodes", "together", "confidence",
                  "lift", "p_adjusted", "consequence_alarms", "removed", "without_trigger",
                  "removed_share", "mutual", "advice", "evidence"]
GROUP_COLUMNS = ["trigger_definition", "trigger_resource_id", "consequences", "removed",
                 "consequence_alarms", "advice"]


def _window_ms(rules: AlarmRules) -> int:
    return round(rules.follow_window_s * 1000)


def per_system(raises: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """Per system and alarm: ``raises``, ``episodes`` (raises more than W after the
    previous one of the alarm, or its first) and ``cover_ms`` (the length of
    ∪ [t − W, t] over its raises, in milliseconds: W for the first raise, then
    the smaller of W and the gap for each next one)."""
    w = _window_ms(rules)
    gap_ms = (_.gap_s * 1000).round().cast("int64")
    return (raises.group_by("sys_no", "alarm_no")
            .agg(raises=_.count(),
                 episodes=(_.gap_s.isnull() | (_.gap_s * 1000 > w)).cast("int64").sum(),
                 cover_ms=ibis.least(gap_ms.fill_null(w), w).sum()))


def _bucketed(raises: ibis.Table, rules: AlarmRules) -> ibis.Table:
    """``raises`` with their ``bucket``: the number of the W-long slice (whole
    seconds, at least W) since the epoch. A raise 0–W after another lies in its
    bucket or the next, so joins match (system, bucket) equalities, which every
    engine runs as hash joins, and keep the band after."""
    width = max(1, math.ceil(rules.follow_window_s))
    return raises.mutate(bucket=(_.raised_at.epoch_seconds() // width).cast("int64"))


def _leaders(a: ibis.Table, rules: AlarmRules) -> ibis.Table:
    """Raises that may lead others (``_sys``, ``_a``, ``_t``), each in its bucket and
    the next (``_bucket``)."""
    a = _bucketed(a, rules).select(_sys=_.sys_no, _a=_.alarm_no, _t=_.raised_at,
                                   _bucket=_.bucket)
    return a.union(a.mutate(_bucket=_._bucket + 1))


def _within(b: ibis.Table, a: ibis.Table, rules: AlarmRules) -> list:
    """Join predicates: ``b`` raised 0–W after ``a`` in the same system."""
    return [b.sys_no == a._sys, b.bucket == a._bucket, b.raised_at >= a._t,
            millis(b.raised_at, a._t) <= _window_ms(rules)]


def follows(a: ibis.Table, b: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """Every raise of ``b`` 0–W after a raise of ``a`` in the same system, of
    another alarm: ``sys_no``, ``a_alarm``, ``a_t``, ``b_alarm``, ``b_t``."""
    lead = _leaders(a, rules)
    b = _bucketed(b, rules)
    j = b.join(lead, _within(b, lead, rules)).filter(_.alarm_no != _._a)
    return j.select("sys_no", a_alarm=_._a, a_t=_._t, b_alarm=_.alarm_no, b_t=_.raised_at)


def together(raises: ibis.Table, rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """Per system and ordered pair of alarms: ``together`` — the episodes of A
    followed by a raise of B within W."""
    w = _window_ms(rules)
    starts = raises.filter(_.gap_s.isnull() | (_.gap_s * 1000 > w))
    pairs = follows(starts, raises, rules).select("sys_no", "a_alarm", "a_t", "b_alarm").distinct()
    return pairs.group_by("sys_no", "a_alarm", "b_alarm").agg(together=_.count())


def candidates(raises: ibis.Table, windows_ms: ibis.Table, rules: AlarmRules = DEFAULT_RULES
               ) -> ibis.Table:
    """The pairs with at least ``rules.consequence_min_together`` episodes together,
    over the systems where both alarms occur: ``a_alarm``, ``b_alarm``,
    ``systems`` (with an episode together), ``together``, ``episodes`` (of A),
    ``expected``. ``windows_ms``: ``sys_no``, ``window_ms`` (each system's window)."""
    stats = per_system(raises, rules).join(windows_ms, "sys_no")
    stats = stats.mutate(cover=ibis.ifelse(
        _.window_ms > 0, ibis.least(_.cover_ms.cast("float64") / _.window_ms, 1.0), 1.0))
    sa = stats.select(_sys=_.sys_no, a_alarm=_.alarm_no, episodes=_.episodes)
    sb = stats.select(_sys=_.sys_no, b_alarm=_.alarm_no, cover=_.cover)
    tog = together(raises, rules)
    pooled = tog.group_by("a_alarm", "b_alarm").agg(together=_.together.sum(),
                                                   systems=_.sys_no.nunique())
    keep = pooled.filter(_.together >= rules.consequence_min_together)
    both = (sa.join(sb, "_sys")
            .join(keep.select("a_alarm", "b_alarm"), ["a_alarm", "b_alarm"]))
    chance = both.group_by("a_alarm", "b_alarm").agg(
        episodes=_.episodes.sum(), expected=(_.episodes * _.cover).sum())
    return keep.join(chance, ["a_alarm", "b_alarm"])


def pairs_tried(keys: ibis.Table) -> int:
    """How many ordered pairs of alarms could have been tried: the smaller of
    K(K − 1) (K alarms) and Σ over systems of k(k − 1) — the pairs of alarms
    found in a common system number at most either."""
    per = keys.group_by("sys_no").agg(k=_.alarm_no.nunique())
    row = per.aggregate(per_system=(_.k * (_.k - 1)).sum()).execute().iloc[0]
    total = int(keys.alarm_no.nunique().execute() or 0)
    by_system = int(row["per_system"]) if not pd.isna(row["per_system"]) else 0
    return min(total * (total - 1), by_system)


def binomial_tail(k, n, p) -> np.ndarray:
    """P(X ≥ k) for X ~ Binomial(n, p), elementwise (1 when k ≤ 0)."""
    k, n = np.asarray(k, dtype="int64"), np.asarray(n, dtype="int64")
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        tail = special.bdtrc(np.maximum(k - 1, 0), n, p)
    return np.where(k <= 0, 1.0, np.where(p >= 1.0, 1.0, tail))


def holm(p: np.ndarray, family: int) -> np.ndarray:
    """Holm's step-down adjusted p-values of ``p`` within a family of ``family``
    tests (the tests not given rank after these: their p-values are larger)."""
    p = np.asarray(p, dtype=float)
    if not len(p):
        return p
    order = np.argsort(p, kind="stable")
    factors = family - np.arange(len(p))
    adjusted = np.minimum(1.0, np.maximum.accumulate(np.maximum(factors, 1) * p[order]))
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def test_pairs(cand: pd.DataFrame, family: int, observed_windows: float,
               rules: AlarmRules = DEFAULT_RULES) -> pd.DataFrame:
    """The statistics of each candidate pair (a small table): ``support``,
    ``confidence``, ``lift``, ``p_value``, ``p_adjusted`` (Holm over ``family``
    pairs), ``significant`` and ``reverse_confidence`` (of B → A when that pair
    is a candidate too)."""
    c = cand.copy()
    c["expected"] = c.expected.astype(float)
    c["support"] = c.together / observed_windows if observed_windows else np.nan
    c["confidence"] = c.together / c.episodes
    c["lift"] = np.where(c.expected > 0, c.together / c.expected.where(c.expected > 0, 1), np.inf)
    c["p_value"] = binomial_tail(c.together, c.episodes, c.expected / c.episodes)
    c["p_adjusted"] = holm(c.p_value.to_numpy(), max(family, len(c)))
    c["significant"] = c.p_adjusted <= rules.consequence_alpha
    rev = c.set_index(["a_alarm", "b_alarm"]).confidence
    c["reverse_confidence"] = [rev.get((b, a), np.nan) for a, b in zip(c.a_alarm, c.b_alarm)]
    return c


def qualifies(c: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES) -> pd.Series:
    """The pairs that support "suppress B while A is active"."""
    return (c.significant & (c.confidence >= rules.consequence_min_confidence)
            & (c.lift >= rules.consequence_min_lift))


def directed(c: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES) -> pd.DataFrame:
    """The qualifying pairs, one direction per mutual pair (the higher confidence,
    then more episodes together, then the lower alarm numbers), with ``mutual``."""
    q = c[qualifies(c, rules)].copy()
    both = set(zip(q.a_alarm, q.b_alarm))
    q["mutual"] = [(b, a) in both for a, b in zip(q.a_alarm, q.b_alarm)]
    mine = q.set_index(["a_alarm", "b_alarm"])

    def wins(a, b) -> bool:
        if (b, a) not in both:
            return True
        x, y = mine.loc[(a, b)], mine.loc[(b, a)]
        return (x.confidence, x.together, -a, -b) > (y.confidence, y.together, -b, -a)

    return q[[wins(a, b) for a, b in zip(q.a_alarm, q.b_alarm)]]


def removed(raises: ibis.Table, pairs: pd.DataFrame, rules: AlarmRules = DEFAULT_RULES
            ) -> ibis.Table:
    """Per advised pair (``a_alarm``, ``b_alarm``): ``removed`` — the raises of B
    0–W after any raise of A in the same system (a suppression for W after each
    raise of A would have removed them), each raise of B counted once."""
    wanted = ibis.memtable(pairs[["a_alarm", "b_alarm"]].astype("int64"))
    b = _bucketed(raises.filter(_.alarm_no.isin([int(x) for x in set(pairs.b_alarm)])), rules)
    b = b.join(wanted, b.alarm_no == wanted.b_alarm)
    lead = _leaders(raises.filter(_.alarm_no.isin([int(x) for x in set(pairs.a_alarm)])), rules)
    hit = b.join(lead, [*_within(b, lead, rules), b.a_alarm == lead._a], how="semi")
    return hit.group_by("a_alarm", "b_alarm").agg(removed=_.count())


def trigger_episodes(alarms: ibis.Table, trigger: tuple[str, str], consequence: tuple[str, str],
                     rules: AlarmRules = DEFAULT_RULES) -> ibis.Table:
    """The evidence of one pair, episode by episode (the drill-down of an advice):
    every episode of the trigger (``trigger`` = definition, resource; an episode
    starts with a raise more than W after the previous raise of the same alarm
    in its system) as ``system_id``, ``episode_start``, with ``followed_at`` (the
    first raise of ``consequence`` 0–W after it in the same system, NULL when
    none), ``delay_s`` and ``consequences`` (how many of its raises came in
    that window). ``alarms``: instances (``system_id``, ``definition``,
    ``resource_id``, ``raised_at``), the scope of the analysis."""
    w = _window_ms(rules)

    def one(key):
        d, r = key
        return alarms.filter((_.definition == d) & _.resource_id.identical_to(r))

    a = one(trigger).select("system_id", t=_.raised_at)
    prev = _.t.lag().over(ibis.window(group_by="system_id", order_by="t"))
    a = a.mutate(_prev=prev).filter(_._prev.isnull() | (millis(_.t, _._prev) > w))
    b = one(consequence).select(_sys=_.system_id, _bt=_.raised_at)
    j = a.left_join(b, [a.system_id.identical_to(b._sys), b._bt >= a.t,
                        millis(b._bt, a.t) <= w])
    out = j.group_by("system_id", episode_start=_.t).agg(followed_at=_._bt.min(),
                                                         consequences=_._bt.count())
    return (out.mutate(delay_s=millis(_.followed_at, _.episode_start).cast("float64") / 1000)
            .order_by("episode_start", "system_id"))


@dataclass(frozen=True)
class Consequences:
    """Consequential pairs and suppression advice as small tables: ``pairs`` (the
    significant ones, :data:`PAIR_COLUMNS`, smallest adjusted p first),
    ``advice`` (one row per "suppress B while A is active",
    :data:`ADVICE_COLUMNS`), ``groups`` (each trigger with its consequences,
    :data:`GROUP_COLUMNS`), and the size of the test: ``pairs_tried`` (the
    family of Holm's correction), ``pairs_tested`` (candidates computed),
    ``window_s``."""

    pairs: pd.DataFrame
    advice: pd.DataFrame
    groups: pd.DataFrame
    pairs_tried: int
    pairs_tested: int
    window_s: float

    def summary(self) -> dict:
        return {"pairs_tried": self.pairs_tried, "pairs_tested": self.pairs_tested,
                "pairs_significant": len(self.pairs), "suppression_advice": len(self.advice),
                "suppression_removable": int(self.advice.removed.sum()) if len(self.advice)
                else 0}


def _label(definition: str, resource: str) -> str:
    return definition if resource == definition or not resource else f"{definition} on {resource}"


def _advice_text(r, window_s: float) -> tuple[str, str]:
    a = _label(r.trigger_definition, r.trigger_resource_id)
    b = _label(r.consequence_definition, r.consequence_resource_id)
    text = f"suppress '{b}' while '{a}' is active (at least {window_s:g} s after each raise of it)"
    evidence = (f"{r.together} of {r.trigger_episodes} episodes of '{a}' were followed by '{b}' "
                f"within {window_s:g} s ({r.confidence:.0%}, {r.lift:.1f} times chance; "
                f"Holm-adjusted p = {r.p_adjusted:.2g}); {r.removed} of the "
                f"{r.consequence_alarms} raises of '{b}' came within {window_s:g} s after '{a}' "
                f"and would have been suppressed, {r.without_trigger} came without it")
    if r.mutual:
        evidence += f"; '{b}' is also followed by '{a}' ({r.reverse_confidence:.0%})"
    return text, evidence


def compute(raises: ibis.Table, keys: ibis.Table, names: KeyNames, windows: pd.DataFrame,
            rules: AlarmRules = DEFAULT_RULES) -> Consequences:
    """Test every pair of alarms that come together often enough and advise
    suppressions. ``windows``: each system's observation window (``system_id``,
    ``window_start``, ``window_end``; a small table)."""
    w = windows.merge(names.systems.reset_index(), on="system_id")
    w = w.assign(window_ms=((pd.to_datetime(w.window_end) - pd.to_datetime(w.window_start))
                            // pd.Timedelta(milliseconds=1)).astype("int64"))
    wms = ibis.memtable(w[["sys_no", "window_ms"]].astype("int64"))
    cand = candidates(raises, wms, rules).execute()
    family = pairs_tried(keys)
    observed = float(w.window_ms.sum()) / 1000 / rules.follow_window_s
    tested = test_pairs(cand, family, observed, rules)
    sig = tested[tested.significant].sort_values(["p_adjusted", "a_alarm", "b_alarm"])
    adv = directed(tested, rules)
    if len(adv):
        stats = per_system(raises.filter(_.alarm_no.isin([int(x) for x in set(adv.b_alarm)])),
                           rules).execute()
        present = per_system(raises.filter(_.alarm_no.isin([int(x) for x in set(adv.a_alarm)])),
                             rules).execute()
        rem = removed(raises, adv, rules).execute()
        adv = adv.merge(rem, on=["a_alarm", "b_alarm"], how="left").fillna({"removed": 0})
        adv["consequence_alarms"] = [
            int(stats[(stats.alarm_no == b) & stats.sys_no.isin(
                present[present.alarm_no == a].sys_no)].raises.sum())
            for a, b in zip(adv.a_alarm, adv.b_alarm)]
    else:
        adv = adv.assign(removed=pd.Series(dtype="int64"),
                         consequence_alarms=pd.Series(dtype="int64"))
    return _tables(sig, adv, names, family, len(cand), rules)


def _tables(sig: pd.DataFrame, adv: pd.DataFrame, names: KeyNames, family: int, tested: int,
            rules: AlarmRules) -> Consequences:
    """Name the alarms and write the advice texts."""
    ren = {"episodes": "trigger_episodes"}

    def named(df):
        df = names.name_alarm(df.rename(columns=ren), "a_alarm", "trigger_")
        return names.name_alarm(df, "b_alarm", "consequence_")

    pairs = named(sig).reset_index(drop=True)[PAIR_COLUMNS] if len(sig) else pd.DataFrame(
        columns=PAIR_COLUMNS)
    if not len(adv):
        return Consequences(pairs, pd.DataFrame(columns=ADVICE_COLUMNS),
                            pd.DataFrame(columns=GROUP_COLUMNS), family, tested,
                            rules.follow_window_s)
    a = named(adv)
    a["removed"] = a.removed.astype("int64")
    a["without_trigger"] = a.consequence_alarms - a.removed
    a["removed_share"] = np.where(a.consequence_alarms > 0,
                                  a.removed / a.consequence_alarms.where(
                                      a.consequence_alarms > 0, 1), np.nan)
    texts = [_advice_text(r, rules.follow_window_s) for r in a.itertuples()]
    a["advice"] = [t for t, _e in texts]
    a["evidence"] = [e for _t, e in texts]
    a = a.sort_values(["removed", "trigger_definition", "trigger_resource_id",
                       "consequence_definition", "consequence_resource_id"],
                      ascending=[False, True, True, True, True]).reset_index(drop=True)
    return Consequences(pairs, a[ADVICE_COLUMNS], groups(a), family, tested,
                        rules.follow_window_s)


def groups(advice: pd.DataFrame) -> pd.DataFrame:
    """Each trigger with the consequences advised for it: ``consequences`` (labels,
    most removed first), ``removed`` (their raises a suppression would remove,
    summed: raises of different alarms are different raises),
    ``consequence_alarms`` and one advice line."""
    rows = []
    for (d, r), g in advice.groupby(["trigger_definition", "trigger_resource_id"], sort=False):
        labels = [_label(x, y) for x, y in zip(g.consequence_definition,
                                               g.consequence_resource_id)]
        rows.append({"trigger_definition": d, "trigger_resource_id": r,
                     "consequences": labels, "removed": int(g.removed.sum()),
                     "consequence_alarms": int(g.consequence_alarms.sum()),
                     "advice": f"while '{_label(d, r)}' is active, suppress "
                               + ", ".join(f"'{x}'" for x in labels)})
    out = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    return out.sort_values(["removed", "trigger_definition", "trigger_resource_id"],
                           ascending=[False, True, True]).reset_index(drop=True)
