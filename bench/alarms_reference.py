"""The straightforward pandas reference of the rationalisation figures (issue 17,
items 1–5), for the alarms bench: the same definitions as
:mod:`evaluation.analyses.alarms` (avalanches, consequential pairs with their
test and suppression advice, sequences, standing series, nuisance score, load
pattern and peak-to-average), written the way a pandas analyst would — sorts,
shifts, group-bys and merges over the whole log in memory.

It takes the frame :func:`bench.alarms.run_pandas` has already prepared
(sorted by alarm key and raise time, with ``gap_s``, ``chatter``, ``repeat``,
``fleeting``) and the systems' windows, so the two together compute every
figure of the report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

W = 60                       # follow window and avalanche minute, s
MIN_AVALANCHE = 10
MIN_TOGETHER, ALPHA, MIN_CONF, MIN_LIFT = 5, 0.01, 0.7, 3.0
TOP = 15
STEPS = (600, 3600, 86400, 604800)
STALE_S = 86400


def _secs(t: pd.Series) -> np.ndarray:
    return t.to_numpy("datetime64[ns]").astype("int64") // 10**9


def avalanches(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Avalanche minutes (≥ 10 alarms in a clock minute of a system), merged when
    consecutive, with the first raise as initiator; how often each started one."""
    m = df[["system_id", "definition", "resource_id", "raised_at"]].copy()
    m["minute"] = _secs(m.raised_at) // W
    c = m.groupby(["system_id", "minute"]).size().rename("alarms").reset_index()
    c = c[c.alarms >= MIN_AVALANCHE].sort_values(["system_id", "minute"])
    c["avalanche"] = c.minute - c.groupby("system_id").cumcount()
    mem = m.merge(c[["system_id", "minute", "avalanche"]], on=["system_id", "minute"])
    mem = mem.sort_values(["system_id", "avalanche", "raised_at", "definition", "resource_id"])
    first = mem.groupby(["system_id", "avalanche"]).head(1)
    ep = c.groupby(["system_id", "avalanche"]).agg(minutes=("minute", "size"),
                                                    alarms=("alarms", "sum"),
                                                    peak=("alarms", "max")).reset_index()
    ep = ep.merge(first[["system_id", "avalanche", "definition", "resource_id"]],
                  on=["system_id", "avalanche"])
    initiators = ep.groupby(["definition", "resource_id"]).size().sort_values(ascending=False)
    return ep, initiators


def _neighbours(sys_codes: np.ndarray, t: np.ndarray, starts: np.ndarray, key: np.ndarray):
    """(start index, key of a raise 0–W s after it in the same system, other alarm)."""
    a_idx, b_key = [], []
    n = len(t)
    for step in (1, -1):
        k = step
        alive = starts.copy()
        while len(alive):
            j = alive + k
            ok = (j >= 0) & (j < n)
            alive, j = alive[ok], j[ok]
            d = t[j] - t[alive]
            same = sys_codes[j] == sys_codes[alive]
            within = same & ((d <= W * 1000) if step == 1 else (d == 0))
            alive, j = alive[within], j[within]
            other = key[j] != key[alive]
            a_idx.append(alive[other])
            b_key.append(key[j][other])
            k += step
    return np.concatenate(a_idx), np.concatenate(b_key)


def consequences(df: pd.DataFrame, win: pd.DataFrame) -> dict:
    """Pairs with episodes together, the binomial test with Holm's correction over
    every pair that could be tried, and the suppression advice with the raises
    it would remove."""
    d = df[["system_id", "definition", "resource_id", "raised_at", "gap_s"]].copy()
    d["key"] = d.groupby(["definition", "resource_id"], sort=True).ngroup()
    d["sys"] = d.groupby("system_id", sort=True, dropna=False).ngroup()
    d["ms"] = d.raised_at.to_numpy("datetime64[ns]").astype("int64") // 10**6
    d["start"] = d.gap_s.isna() | (d.gap_s > W)
    d["cover"] = np.minimum(d.gap_s.fillna(W), W) * 1000
    per = d.groupby(["sys", "key"]).agg(raises=("ms", "size"), episodes=("start", "sum"),
                                        cover=("cover", "sum")).reset_index()
    d = d.sort_values(["sys", "ms", "key"]).reset_index(drop=True)
    sys_codes, t, key = d.sys.to_numpy(), d.ms.to_numpy(), d.key.to_numpy()
    starts = np.flatnonzero(d.start.to_numpy())
    a_idx, b_key = _neighbours(sys_codes, t, starts, key)
    pairs = pd.DataFrame({"i": a_idx, "sys": sys_codes[a_idx], "a": key[a_idx], "b": b_key})
    tog = pairs.drop_duplicates(["i", "b"]).groupby(["sys", "a", "b"]).size().rename("together")
    tog = tog.reset_index()
    pooled = tog.groupby(["a", "b"]).agg(together=("together", "sum"),
                                         systems=("sys", "nunique")).reset_index()
    cand = pooled[pooled.together >= MIN_TOGETHER]
    sysw = win.reset_index()
    sysw["sys"] = np.arange(len(sysw))
    sysw["window_ms"] = (sysw.end - sysw.start).dt.total_seconds() * 1000
    per = per.merge(sysw[["sys", "window_ms"]], on="sys")
    per["p"] = np.where(per.window_ms > 0, np.minimum(per.cover / per.window_ms, 1.0), 1.0)
    both = (per[["sys", "key", "episodes"]].rename(columns={"key": "a"})
            .merge(per[["sys", "key", "p"]].rename(columns={"key": "b"}), on="sys")
            .merge(cand[["a", "b"]], on=["a", "b"]))
    both["exp"] = both.episodes * both.p
    chance = both.groupby(["a", "b"]).agg(episodes=("episodes", "sum"), expected=("exp", "sum"))
    c = cand.merge(chance.reset_index(), on=["a", "b"])
    k_all = d.key.nunique()
    k_sys = d.groupby("sys").key.nunique()
    family = max(min(k_all * (k_all - 1), int((k_sys * (k_sys - 1)).sum())), len(c))
    c["confidence"] = c.together / c.episodes
    c["lift"] = c.together / c.expected.where(c.expected > 0)
    p = np.clip(c.expected / c.episodes, 0, 1)
    c["p_value"] = np.where(p >= 1, 1.0, special.bdtrc(np.maximum(c.together - 1, 0),
                                                       c.episodes, p))
    order = np.argsort(c.p_value.to_numpy(), kind="stable")
    adj = np.minimum(1, np.maximum.accumulate((family - np.arange(len(c))) * c.p_value.to_numpy()[order]))
    c["p_adjusted"] = np.empty(len(c))
    c.loc[c.index[order], "p_adjusted"] = adj
    q = c[(c.p_adjusted <= ALPHA) & (c.confidence >= MIN_CONF) & (c.lift >= MIN_LIFT)]
    rank = {(a, b): (f, t, -a, -b) for a, b, f, t in zip(q.a, q.b, q.confidence, q.together)}
    keep = np.array([(b, a) not in rank or rank[(a, b)] > rank[(b, a)] for a, b in zip(q.a, q.b)],
                    dtype=bool)
    advice = q[keep].copy()
    removed = []
    for a, b in zip(advice.a, advice.b):
        ta = d[d.key == a][["sys", "ms"]].sort_values("ms")
        tb = d[d.key == b][["sys", "ms"]].sort_values("ms")
        m = pd.merge_asof(tb, ta.rename(columns={"ms": "a_ms"}), left_on="ms", right_on="a_ms",
                          by="sys", direction="backward")
        removed.append(int(((m.ms - m.a_ms) <= W * 1000).sum()))
    advice["removed"] = removed
    return {"pairs": c[c.p_adjusted <= ALPHA], "advice": advice, "family": family}


def sequences(df: pd.DataFrame) -> dict:
    """Transitions between the busiest alarms and the most frequent chains of 2 and
    3 raises (each within W of the one before, of another alarm)."""
    s = df[["system_id", "definition", "resource_id", "raised_at"]].copy()
    s["alarm"] = s.definition + "\x00" + s.resource_id.fillna("")
    s = s.sort_values(["system_id", "raised_at", "definition", "resource_id"])
    g = s.groupby("system_id", sort=False, dropna=False)
    for k in (1, 2):
        s[f"next{k}"] = g.alarm.shift(-k)
        s[f"t{k}"] = g.raised_at.shift(-k)
    ok1 = (s.t1 - s.raised_at).dt.total_seconds() <= W
    ok2 = ok1 & ((s.t2 - s.t1).dt.total_seconds() <= W)
    busiest = s.alarm.value_counts().head(TOP).index
    tr = s[ok1 & s.alarm.isin(busiest) & s.next1.isin(busiest)]
    matrix = pd.crosstab(tr.alarm, tr.next1)
    two = s[ok1 & (s.next1 != s.alarm)].groupby(["alarm", "next1"]).size().nlargest(TOP)
    three = (s[ok2 & (s.next1 != s.alarm) & (s.next2 != s.next1)]
             .groupby(["alarm", "next1", "next2"]).size().nlargest(TOP))
    return {"matrix": matrix, "two": two, "three": three}


def _integral(starts: np.ndarray, untils: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Σ over spans of their seconds before ``x`` (sorted starts and ends)."""
    c0 = np.concatenate([[0], np.cumsum(starts)])
    c1 = np.concatenate([[0], np.cumsum(untils)])
    i0, i1 = np.searchsorted(starts, x), np.searchsorted(untils, x)
    return (i0 * x - c0[i0]) - (i1 * x - c1[i1])


def _levels(sys: np.ndarray, start: np.ndarray, until: np.ndarray, ended: np.ndarray,
            win: pd.DataFrame, step: int) -> pd.DataFrame:
    """Per system and step: spans standing at the step's last instant (the window's
    end in its last step) and the time-weighted mean over the step's seconds in
    the window (the integral of the level: Σ over spans begun of (x − start)
    minus Σ over spans over of (x − until))."""
    out = []
    for code, (ws, we) in enumerate(zip(_secs(win.start), _secs(win.end))):
        m = sys == code
        s0, s1 = np.sort(start[m]), np.sort(until[m])
        stop = np.sort(until[m][ended[m]])
        ends = np.arange(ws // step, we // step + 1) * step + step
        last = ends > we
        level = (np.where(last, np.searchsorted(s0, we, "right"), np.searchsorted(s0, ends))
                 - np.where(last, np.searchsorted(stop, we, "right"),
                            np.searchsorted(stop, ends)))
        lo, hi = np.maximum(ends - step, ws), np.minimum(ends, we)
        area = _integral(s0, s1, hi) - _integral(s0, s1, lo)
        out.append(pd.DataFrame({"sys": code, "step_end": ends, "at_end": level,
                                 "mean": area / np.where(hi > lo, hi - lo, np.nan)}))
    return pd.concat(out) if out else pd.DataFrame()


def standing_series(df: pd.DataFrame, win: pd.DataFrame, ended: pd.Series) -> pd.DataFrame:
    """Alarms standing (and stale) at each step's end and their mean, per system."""
    step = next((s for s in STEPS if (_secs(win.end) // s - _secs(win.start) // s + 1).max()
                 <= 1000), STEPS[-1]) if len(win) else STEPS[0]
    codes = pd.Series(np.arange(len(win)), index=win.index)
    sys = df.system_id.map(codes).to_numpy()
    end = df.system_id.map(win.end)
    stop = ended.where(ended.notna() & (ended <= end), end)
    start, until = _secs(df.raised_at), _secs(stop)
    done = (ended.notna() & (ended <= end)).to_numpy()
    standing = _levels(sys, start, until, done, win, step)
    stale = (until - start) > STALE_S
    stale_levels = _levels(sys[stale], start[stale] + STALE_S, until[stale], done[stale], win,
                           step)
    return standing.merge(stale_levels, on=["sys", "step_end"], suffixes=("", "_stale"))


def nuisance_and_load(df: pd.DataFrame, win: pd.DataFrame, ic: pd.DataFrame,
                      episodes: pd.DataFrame) -> dict:
    """The composite nuisance score per alarm, hour × weekday load per observed hour
    and each system's peak-to-average."""
    per = df.groupby(["definition", "resource_id"]).agg(
        n=("alarm_id", "size"), chatter=("chatter", "sum"), fleeting=("fleeting", "sum"),
        repeat=("repeat", "sum"))
    stood = episodes.groupby(["definition", "resource_id"]).size()
    per["stood"] = stood.reindex(per.index).fillna(0)
    parts = per[["chatter", "fleeting", "repeat", "stood"]].div(per.n, axis=0)
    score = parts.mean(axis=1)
    top = score[score > 0].nlargest(20)
    slot = df.raised_at.dt.weekday * 24 + df.raised_at.dt.hour
    alarms = slot.value_counts().reindex(range(168), fill_value=0)
    hours = np.zeros(168)
    for s, e in zip(win.start, win.end):
        for h in pd.date_range(s.floor("h"), e.floor("h"), freq="h"):
            hours[h.weekday() * 24 + h.hour] += 1
    pattern = alarms / np.where(hours > 0, hours, np.nan)
    peak = ic.groupby("system_id").alarms.agg(["max", "sum"]).join(win)
    peak["ratio"] = peak["max"] * (_secs(peak.end) // 600 - _secs(peak.start) // 600 + 1) / peak["sum"]
    return {"top": top, "pattern": pattern, "peak_to_average": peak.ratio}
