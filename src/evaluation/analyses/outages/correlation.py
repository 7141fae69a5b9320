"""Interventions × customer cuts: the correlation, as Ibis expressions.

Every function takes Ibis tables (the contract's ``interventions``,
``intervention_targets``, ``outage_reports``, ``outages``, ``pms``) and returns
an Ibis table, so the joins and group-bys run in the engine (DuckDB here,
Spark later). The rules themselves live in :mod:`.rules`.

Decisions this module takes (docs/outages.md explains them):

- The *period* is ``[start, end)`` in UTC, its days those of the database's time
  zone; an intervention belongs to it by its HD. Its window [HD, HF] belongs
  to it whole: a cut after the period's end inside the window of one of its
  interventions is matched to it. Other cuts belong to the period by their time.
- A *cut* is one event, whatever the number of rows reporting it
  (:func:`cut_events`): rows with the same OC, PM, PTO and cut time are merged;
  the earliest restore time is kept, any source's exclusion applies, and the
  cut remembers which sources (M5, supervision) reported it.
- An intervention without HF has no window: it counts in ``interventions`` and
  ``missing_hf`` but is never matched to cuts nor *covered* (its M5s, if any,
  are shown in the OC figures); it is listed in the DO quality section.
- Matching is by PM and time: a cut is paired with every window of its PM that
  contains its time within the 5-minute tolerance (``before`` / ``in`` /
  ``after``). A cut that came in M5s is *attributed* only to the interventions
  those M5s answered; a cut known only from elsewhere (supervision) is
  attributed to every window containing it, and then *shared* when that is more
  than one (the spec's multi-intervention case).
- A pair whose cut is a target line of that intervention is dropped (§2.1.5).
- The in/out-of-window comparison (the baseline) counts, inside and outside
  windows alike, the cuts of the OCs whose lines at the PM line supervision
  watches (it reported at least one of their cuts there in the period): only
  for them are cuts outside windows known. A PM with none has no baseline
  (:func:`per_pm`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from ... import localtime, period
from .. import checks
from . import rules
from .rules import CUT_ID


@dataclass(frozen=True)
class OutageConfig:
    """Parameters of the correlation (the defaults follow e-Intervention lot 1); each
    field's docstring ends with its source. Set in the ``[outages]`` table of the settings
    file (docs/configuration.md); the class checks its own values."""

    tolerance_s: float = rules.TIMESTAMP_TOLERANCE.total_seconds()
    """Seconds around [HD, HF] in which cuts reveal badly placed timestamps.
    Source: e-Intervention lot 1 §4 (5 minutes)."""
    m1_delay_large_s: float = 1800.0
    """HD→M1-reception delay in seconds above which an M1 counts as late.
    Source: e-Intervention lot 1 §6 evolution ("a gap too large"), project choice (30 min)."""
    bucket_s: int = 6 * 3600
    """Time bucket in seconds of the PM×time hash join (performance only; results do not
    depend on it). Source: project choice."""

    def __post_init__(self) -> None:
        checks.number(self, "tolerance_s", least=0)
        checks.number(self, "m1_delay_large_s", least=0)
        checks.whole(self, "bucket_s", least=1)

    @property
    def tolerance(self) -> dt.timedelta:
        """:attr:`tolerance_s` as a duration."""
        return dt.timedelta(seconds=self.tolerance_s)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Period(period.Covered):
    """The analysed period ``[start, end)`` (naive UTC datetimes), the time zone whose
    calendar days the day rules use, and the span of the network data
    (:class:`evaluation.period.Covered`: hours without data are not exposure)."""

    @property
    def hours(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0) / 3600.0

    def day(self, ts: ir.TimestampValue) -> ir.DateValue:
        """Engine-side local calendar day of a naive-UTC time (:func:`localtime.local_day`)."""
        return localtime.local_day(ts, self.zone, self.start, self.end)

    def contains(self, ts: ir.TimestampValue) -> ir.BooleanValue:
        return (ts >= ibis.literal(self.start)) & (ts < ibis.literal(self.end))


_to_datetime = period.naive


def data_span(interventions: ir.Table, outages: ir.Table) -> period.Data:
    """The network data from the earliest to the latest HD, HF or cut time."""
    i = interventions.aggregate(a=interventions.started_at.min(), b=interventions.started_at.max(),
                                c=interventions.ended_at.max()).to_pyarrow().to_pylist()[0]
    o = outages.aggregate(a=outages.cut_at.min(), b=outages.cut_at.max()).to_pyarrow().to_pylist()[0]
    return period.Data.of([*i.values(), *o.values()])


def resolve_period(interventions: ir.Table, outages: ir.Table,
                   since: dt.date | dt.datetime | None = None,
                   as_of: dt.date | dt.datetime | None = None,
                   zone: str = localtime.UTC) -> Period:
    """The period of an analysis (:mod:`evaluation.period`).

    ``as_of`` a date means the end of that local day of ``zone`` (the period
    includes it); a datetime is the exclusive end (naive UTC). Without it, the
    period ends with the last local day with data (HD, HF or cut). ``since`` a
    date starts at local midnight that day; without it, at the local midnight of
    the first day with data (the end when the data begin after it).
    """
    data = data_span(interventions, outages)
    end = period.end_of(as_of, zone) or data.end(zone) or dt.datetime(1970, 1, 1)
    start = period.start_of(since, zone)
    if start is None:
        first = data.start(zone)
        start = first if first is not None and first < end else end
    return Period(start=min(start, end), end=end, zone=zone, data=data)


def _left_join(left: ir.Table, right: ir.Table, key: str) -> ir.Table:
    """Left join on one equally named column, keeping a single copy of it."""
    r = right.rename({"__k": key})
    return left.left_join(r, left[key] == r["__k"]).drop("__k")


def _n(cond: ir.BooleanValue) -> ir.IntegerScalar:
    """How many rows satisfy ``cond`` (NULL counts as false)."""
    return cond.fill_null(False).cast("int64").sum()


# ---------------------------------------------------------------- inputs

def intervention_windows(interventions: ir.Table, period: Period,
                         config: OutageConfig = OutageConfig()) -> ir.Table:
    """Interventions whose HD lies in the period, with HD/HF as ``hd``/``hf``.

    ``late_m1``: the M1 came more than ``config.m1_delay_large_s`` after HD
    (:func:`rules.m1_late`). ``w_id``: a number of the window for this analysis (an
    integer to join on). ``multi``: the spec's multi-intervention tag — the
    presence overlaps another one of the period at the same PM (one starts before
    the other ends, a shared instant included). Sorted by HD at each PM, a window
    overlaps a later one exactly when the next one starts before it ends, and an
    earlier one when it starts before the latest end so far.
    """
    i = interventions.filter(period.contains(interventions.started_at))
    order = ibis.window(group_by=i.pm_id, order_by=[i.started_at, i.ref_interv_oi])
    before = ibis.window(group_by=i.pm_id, order_by=[i.started_at, i.ref_interv_oi],
                         rows=(None, -1))
    multi = ((i.started_at <= i.ended_at.max().over(before))
             | (i.started_at.lead().over(order) <= i.ended_at)).fill_null(False)
    return i.select(
        "ref_interv_oi", "pm_id", "code_do", w_id=ibis.row_number(),
        hd=i.started_at, hf=i.ended_at, m1_received_at=i.m1_received_at,
        m3_received_at=i.m3_received_at,
        late_m1=rules.m1_late(i.m1_received_at, i.started_at, config.m1_delay_large_s),
        multi=multi)


def cut_events(outages: ir.Table, period: Period, start: dt.datetime,
               end: dt.datetime) -> ir.Table:
    """One row per identified cut (:data:`rules.CUT_ID`) with its time in ``[start, end)``.

    Rows of the same cut from several sources (an M5 and line supervision, two
    M5s, a file loaded twice under other names) are merged: ``restored_at`` is
    the earliest known restore time, ``reason`` why it is not counted (the first
    of :data:`rules.EXCLUSIONS` any source gives, NULL when counted),
    ``from_m5`` / ``from_supervision`` whether an M5 / a row from elsewhere (line
    supervision) reported it (``rank``: the reason's position in the list);
    ``short``: restored the same local day (§6); ``in_period``: its time lies in
    ``period`` (``[start, end)`` may reach beyond it, to the windows' ends). Cuts
    whose PTO or time is unknown cannot be identified and are not here
    (:func:`unidentified`).
    """
    o = outages.filter((outages.cut_at >= ibis.literal(start))
                       & (outages.cut_at < ibis.literal(end)) & rules.identified(outages))
    g = _merged(o, list(CUT_ID))
    return g.select(
        *CUT_ID, "restored_at", "from_m5", "from_supervision", "rank",
        reason=rules.exclusion_reason(g["rank"]), counted=g["rank"].isnull(),
        short=rules.short_cut(period.day(g.cut_at), period.day(g.restored_at)),
        in_period=period.contains(g.cut_at))


#: Why a cut of the period is not counted: the merged cuts' reasons, then the rows that
#: cannot be identified.
REASONS = (*[r for r, _w in rules.EXCLUSIONS], rules.UNKNOWN_PTO, rules.UNKNOWN_CUT_TIME)


def cut_counts(outages: ir.Table, period: Period) -> pd.DataFrame:
    """The period's cuts counted per (PM, OC): the small table every count of cuts is read
    from (the per-PM and per-OC tables, the exclusions).

    Columns: ``cuts`` (distinct, counted or not), ``counted``, ``counted_short``,
    ``m5_cuts``, ``supervision_cuts``, ``both_sources``, and one column per reason
    of :data:`REASONS`. The merged cuts of :func:`cut_events` are counted as they
    are merged (nothing of the size of the cuts is materialised); the rows whose
    cut cannot be identified (unknown PTO or cut time) each count as one cut.
    """
    e = cut_events(outages, period, period.start, period.end)
    # counted first by kind (a handful of groups per PM and OC), then the kinds summed
    # into columns: far fewer sums than one per merged cut
    k = e.group_by(["pm_id", "code_oc", "rank", "from_m5", "from_supervision", "short"]
                   ).aggregate(n=e.count())

    def where(cond):
        return ibis.ifelse(cond, k.n, 0).sum()
    counted = k["rank"].isnull()
    merged = k.group_by(["pm_id", "code_oc"]).aggregate(
        cuts=k.n.sum(), counted=where(counted), counted_short=where(counted & k.short),
        m5_cuts=where(k.from_m5), supervision_cuts=where(k.from_supervision),
        both_sources=where(k.from_m5 & k.from_supervision),
        **{r: where(k["rank"] == i) for i, (r, _w) in enumerate(rules.EXCLUSIONS)}).to_pandas()
    u = unidentified(outages, period)
    unknown = u.group_by(["pm_id", "code_oc"]).aggregate(
        cuts=u.count(), m5_cuts=_n(u.from_m5), supervision_cuts=_n(~u.from_m5),
        **{r: _n(u.reason == r) for r in (rules.UNKNOWN_PTO, rules.UNKNOWN_CUT_TIME)}
    ).to_pandas()
    t = pd.concat([merged, unknown], ignore_index=True).fillna(0)
    t = t.groupby(["pm_id", "code_oc"], as_index=False).sum()
    cols = ["cuts", "counted", "counted_short", "m5_cuts", "supervision_cuts", "both_sources",
            *REASONS]
    for col in cols:
        t[col] = t[col].astype("int64") if col in t else 0
    return t[["pm_id", "code_oc", *cols]]


def unidentified(outages: ir.Table, period: Period) -> ir.Table:
    """Rows of the period whose cut cannot be identified (unknown PTO or cut time), with
    the reason; each row counts as one cut that is not counted."""
    o = outages.filter(~rules.identified(outages)
                       & (period.contains(outages.cut_at) | outages.cut_at.isnull()))
    return o.select("code_oc", "pm_id", "cut_at", "restored_at",
                    reason=rules.unidentified_reason(o), from_m5=o.ref_interv_oi.notnull())


# ---------------------------------------------------------------- the join

def _merged(rows: ir.Table, keys: list, **more) -> ir.Table:
    """Rows of cuts grouped by ``keys`` (the cut, and anything that depends on it only)
    with the attributes of :func:`cut_events` merged over their sources (and the
    aggregates ``more``)."""
    from_m5 = rows.ref_interv_oi.notnull()
    return rows.group_by(keys).aggregate(
        restored_at=rows.restored_at.min(), rank=rules.exclusion_rank(rows).min(),
        from_m5=from_m5.any(), from_supervision=(~from_m5).any(), **more)


def all_pairs(outages: ir.Table, windows: ir.Table, targets: ir.Table, period: Period,
              end: dt.datetime, config: OutageConfig = OutageConfig()) -> ir.Table:
    """Every (counted cut, window) of the same PM with the cut in [HD − tol, HF + tol].

    An equi-join on (PM, time bucket) with the interval test as a residual
    predicate: each window is expanded into the buckets it spans, each cut
    falls in one bucket, so every qualifying pair comes out exactly once. The
    rows of ``outages`` are joined before they are merged into cuts: the rows of
    one cut share its PM and time, so they meet the same windows, and merging
    each (cut, window) pair's rows (:func:`_merged`) gives the cut's attributes —
    the 10 million cuts of a large network are never materialised, only the
    pairs. Cuts whose time lies in ``[period.start − tol, end)`` are matched
    (``end`` reaches the last window's end).

    ``position`` says before / in / after the window; ``attributed`` whether
    the cut may belong to that intervention (no M5 listed it, or an M5 of that
    intervention did); ``is_target`` whether it is a line the DO works on there;
    ``windows_counting`` in how many windows the cut counts (attributed, in,
    not a target), so ``shared`` when more than one. A cut inside two windows
    makes them overlap, so only the pairs of ``multi`` windows need the count
    across windows; the others count their own pair. ``short`` and
    ``in_period`` as in :func:`cut_events`.
    """
    b = config.bucket_s
    tol = ibis.interval(seconds=int(config.tolerance.total_seconds()))
    w = windows.filter(windows.hf.notnull())
    w = w.select(w_pm=w.pm_id, w_id=w.w_id, w_ref=w.ref_interv_oi, hd=w.hd, hf=w.hf,
                 multi=w.multi, lo=w.hd - tol, hi=w.hf + tol)
    w = w.mutate(w_bucket=ibis.range(w.lo.epoch_seconds() // b,
                                     w.hi.epoch_seconds() // b + 1).unnest())
    o = outages.filter((outages.cut_at >= ibis.literal(period.start - config.tolerance))
                       & (outages.cut_at < ibis.literal(end)) & rules.identified(outages))
    o = o.select(*CUT_ID, "restored_at", "cause", "churned", "ref_interv_oi",
                 c_bucket=o.cut_at.epoch_seconds() // b)
    j = o.join(w, [o.pm_id == w.w_pm, o.c_bucket == w.w_bucket,
                   o.cut_at >= w.lo, o.cut_at <= w.hi])
    # the window's own columns depend on it only: taken along, not grouped by
    g = _merged(j, [*CUT_ID, "w_id"], listed=(j.ref_interv_oi == j.w_ref).any(),
                w_ref=j.w_ref.min(), position=rules.position(j.cut_at, j.hd, j.hf).min(),
                multi=j.multi.any())
    g = g.filter(g["rank"].isnull())
    g = g.select(
        *CUT_ID, "restored_at", "from_m5", "from_supervision", "position", "multi",
        ref_interv_oi=g.w_ref,
        short=rules.short_cut(period.day(g.cut_at), period.day(g.restored_at)),
        in_period=period.contains(g.cut_at),
        attributed=~g.from_m5 | g.listed.fill_null(False))
    tk = rules.target_key(targets)
    tk = tk.select(ref_interv_oi=tk.target_ref, pto=tk.target_pto, target_hit=ibis.literal(1))
    j = g.view().left_join(tk, ["ref_interv_oi", "pto"])
    j = j.select(*[c for c in j.columns if not c.endswith("_right") and c != "target_hit"],
                 is_target=j.target_hit.notnull())
    counts = (j.attributed & (j.position == "in") & ~j.is_target).cast("int64")
    m = j.filter(j.multi)
    m = m.mutate(windows_counting=_n(m.attributed & (m.position == "in") & ~m.is_target).over(
        ibis.window(group_by=[m[k] for k in CUT_ID])))
    one = j.filter(~j.multi).mutate(windows_counting=counts)
    j = ibis.union(one, m.select(*one.columns))
    return j.mutate(shared=j.windows_counting > 1).drop("multi")


def matched_pairs(pairs: ir.Table) -> ir.Table:
    """Counted (cut, window) pairs: without the DO's own target lines (§2.1.5)."""
    return pairs.filter(~pairs.is_target).drop("is_target")


def placement(pairs: ir.Table) -> ir.Table:
    """One row per counted cut found near a window: where it lies.

    ``in_customer``: inside a window where it is not that DO's line (a customer
    cut in a window); ``in_any``: inside any window (a cut that is only a DO's
    own line is in one but counts nowhere); ``window_ref``: the first window it
    counts in; ``short``, ``in_period``: as in :func:`cut_events` (a cut after the
    period's end can be in a window of the period's last interventions).
    """
    inside = pairs.position == "in"
    customer = inside & ~pairs.is_target
    return pairs.group_by(list(CUT_ID)).aggregate(
        in_customer=customer.any(), in_any=inside.any(),
        window_ref=ibis.ifelse(customer, pairs.ref_interv_oi, ibis.null(str)).min(),
        short=pairs.short.any(), in_period=pairs.in_period.any())


# ---------------------------------------------------------------- per intervention

def coverage(reports: ir.Table, with_ocs: bool = False) -> ir.Table:
    """Per intervention, the M5s received (flow 3 coverage); ``with_ocs`` adds the OC list."""
    aggs = {"m5_received": reports.count(), "m5_clients_declared": reports.clients_hs.sum()}
    if with_ocs:
        aggs["ocs_reporting"] = reports.code_oc.collect(order_by=reports.code_oc)
    return reports.group_by("ref_interv_oi").aggregate(**aggs)


def per_intervention(windows: ir.Table, pairs: ir.Table, reports: ir.Table,
                     with_ocs: bool = False) -> ir.Table:
    """One row per intervention of the period.

    ``cuts``: counted cuts attributed to it with the time in [HD, HF];
    ``m5_cuts`` those an M5 listed; ``supervision_cuts`` those known only from
    supervision; ``shared_cuts`` those that count in another window too;
    ``cuts_before_hd`` / ``cuts_after_hf``: attributed counted cuts at most 5
    minutes outside the window; ``covered``: HF known and at least one M5;
    ``impacted``: covered and ``cuts`` ≥ 1 (contract §3); ``impacted_shared_only``:
    impacted on shared cuts alone.
    """
    p = pairs.filter(pairs.attributed)
    inside = p.position == "in"
    agg = p.group_by("ref_interv_oi").aggregate(
        cuts=_n(inside), m5_cuts=_n(inside & p.from_m5),
        shared_cuts=_n(inside & p.shared),
        cuts_before_hd=_n(p.position == "before"), cuts_after_hf=_n(p.position == "after"))
    t = _left_join(_left_join(windows, coverage(reports, with_ocs), "ref_interv_oi"), agg,
                   "ref_interv_oi")
    has_window = t.hf.notnull()
    m5 = t.m5_received.fill_null(0)
    cuts = t.cuts.fill_null(0)
    shared = t.shared_cuts.fill_null(0)
    covered = has_window & (m5 > 0)
    impacted = covered & (cuts > 0)
    return t.mutate(
        has_window=has_window, m5_received=m5, covered=covered,
        cuts=cuts, m5_cuts=t.m5_cuts.fill_null(0),
        supervision_cuts=cuts - t.m5_cuts.fill_null(0), shared_cuts=shared,
        cuts_before_hd=t.cuts_before_hd.fill_null(0), cuts_after_hf=t.cuts_after_hf.fill_null(0),
        impacted=impacted, impacted_shared_only=impacted & (shared == cuts),
        duration_s=(t.hf.epoch_seconds() - t.hd.epoch_seconds()),
        m1_delay_s=rules.m1_delay_s(t.m1_received_at, t.hd),
        m3_before_m1=rules.m3_before_m1(t.m1_received_at, t.m3_received_at))


# ---------------------------------------------------------------- per PM

def window_hours(windows: ir.Table, period: Period) -> ir.Table:
    """Per PM, hours covered by the union of its windows [HD, HF] (``window_hours``), and
    the part of them inside the period (``window_hours_in_period``).

    Sweep over windows sorted by HD: each adds ``max(0, hi − max(lo, M))`` where
    ``M`` is the latest end among the windows before it, so overlaps count once.
    """
    w = windows.filter(windows.hf.notnull())
    end = ibis.literal(period.end).epoch_seconds()
    w = w.select("pm_id", "ref_interv_oi", lo=w.hd.epoch_seconds(), hi=w.hf.epoch_seconds())
    prev = w.hi.max().over(ibis.window(group_by=w.pm_id, order_by=[w.lo, w.ref_interv_oi],
                                       rows=(None, -1)))
    start = ibis.greatest(w.lo, prev.fill_null(w.lo))
    w = w.mutate(added=ibis.greatest(w.hi - start, 0),
                 added_in=ibis.greatest(ibis.least(w.hi, end) - start, 0))
    return w.group_by("pm_id").aggregate(window_hours=w.added.sum() / 3600.0,
                                         window_hours_in_period=w.added_in.sum() / 3600.0)


def _incident_counts(pi: ir.Table) -> dict:
    """The counts that per-PM and per-DO tables share, over per-intervention rows:
    interventions, covered / impacted ones (contract §3), counted cuts of covered
    interventions, missing HF, the 5-minute timestamp-quality counts (spec §4), and
    how much of the evidence rests on overlapping presences or late M1s (§6)."""
    return dict(
        interventions=pi.count(),
        covered_interventions=_n(pi.covered),
        impacted_interventions=_n(pi.impacted),
        clients_hs=ibis.ifelse(pi.covered, pi.cuts, 0).sum(),
        missing_hf=_n(~pi.has_window),
        cuts_before_hd=pi.cuts_before_hd.sum(), cuts_after_hf=pi.cuts_after_hf.sum(),
        interventions_cut_before_hd=_n(pi.cuts_before_hd > 0),
        interventions_cut_after_hf=_n(pi.cuts_after_hf > 0),
        multi_interventions=_n(pi.multi),
        shared_cuts=ibis.ifelse(pi.covered, pi.shared_cuts, 0).sum(),
        impacted_shared_only=_n(pi.impacted_shared_only),
        late_m1_interventions=_n(pi.late_m1),
        impacted_late_m1=_n(pi.impacted & pi.late_m1))


def _placed_per_pm_oc(placed: ir.Table) -> ir.Table:
    """Where the counted cuts lie, per (PM, OC): in a window as a customer cut, and the
    period's cuts in any window (a DO's own line included), short or not."""
    inside = placed.in_any & placed.in_period
    return placed.group_by(["pm_id", "code_oc"]).aggregate(
        cuts_in_windows=_n(placed.in_customer),
        short_cuts_in_windows=_n(placed.in_customer & placed.short),
        placed_in_period=_n(inside), placed_short=_n(inside & placed.short))


def per_pm(pi: ir.Table, placed: ir.Table, cut_table: pd.DataFrame, windows: ir.Table,
           pms: ir.Table, period: Period) -> pd.DataFrame:
    """One row per PM with any intervention or counted cut in the period (contract §3 "outages").

    ``clients_hs`` sums the counted cuts of covered interventions;
    ``cuts_in_windows`` counts distinct counted cuts at the PM, from any source,
    inside any of its windows; ``cuts_out_of_windows`` the counted cuts of the
    period in none; a cut that is only a DO's own line is in neither.

    The baseline: ``supervised_ocs`` OCs had at least one cut at the PM reported by
    line supervision in the period (``supervised``: at least one). The rates per
    hour and the rate ratio compare the cuts of those OCs inside windows
    (``baseline_cuts_in_windows``) and outside (``baseline_cuts_out_of_windows``);
    the cuts of an OC without supervision there have no counterpart outside
    windows and stay out of the comparison. Without any, they are NULL: no baseline.

    The counts are aggregated in the engine, per PM and per (PM, OC); the few
    sums, differences and ratios per PM that make the table are done on those
    small results.
    """
    counts = pi.group_by("pm_id").aggregate(**_incident_counts(pi)).to_pandas()
    period_cuts = cut_table[["pm_id", "code_oc", "counted", "counted_short",
                             "supervision_cuts"]].rename(columns={
        "counted": "period_cuts", "counted_short": "period_short",
        "supervision_cuts": "supervision_records"})
    where = _placed_per_pm_oc(placed).to_pandas()
    po = period_cuts.merge(where, on=["pm_id", "code_oc"], how="outer").fillna(0)
    sup = po["supervision_records"] > 0
    base = po.assign(baseline_in=po["cuts_in_windows"].where(sup, 0),
                     baseline_out=(po["period_cuts"] - po["placed_in_period"]).where(sup, 0),
                     supervised_ocs=sup.astype("int64"))
    cuts = base.drop(columns="code_oc").groupby("pm_id").sum()
    hours = window_hours(windows, period).to_pandas().set_index("pm_id")
    t = pms.select("pm_id", "lines").to_pandas().set_index("pm_id")
    t["lines"] = t["lines"].astype("Int64")
    t = t.join([counts.set_index("pm_id"), cuts, hours], how="left")
    zero = [c for c in t.columns if c not in ("lines", "window_hours", "window_hours_in_period")]
    t[zero] = t[zero].fillna(0).astype("int64")
    t[["window_hours", "window_hours_in_period"]] = t[["window_hours",
                                                       "window_hours_in_period"]].fillna(0.0)
    out = t["period_cuts"] - t["placed_in_period"]
    t = t.assign(
        cuts_out_of_windows=out, counted_cuts=t["cuts_in_windows"] + out,
        short_cuts_out_of_windows=t["period_short"] - t["placed_short"],
        supervised=t["supervised_ocs"] > 0,
        baseline_cuts_in_windows=t["baseline_in"], baseline_cuts_out_of_windows=t["baseline_out"],
        out_of_window_hours=(period.observed_hours - t["window_hours_in_period"]).clip(lower=0.0))
    t["short_cuts"] = t["short_cuts_in_windows"] + t["short_cuts_out_of_windows"]
    t = t[(t["interventions"] > 0) | (t["counted_cuts"] > 0)]
    cov = t["covered_interventions"].where(t["covered_interventions"] > 0)
    rate = lambda a, b: (a / b.where(b > 0)).where(t["supervised"])  # noqa: E731
    t = t.assign(
        incident_rate=t["impacted_interventions"] / cov,
        cuts_per_intervention=t["clients_hs"] / cov,
        in_window_rate_per_h=rate(t["baseline_cuts_in_windows"], t["window_hours"]),
        out_of_window_rate_per_h=rate(t["baseline_cuts_out_of_windows"],
                                      t["out_of_window_hours"]))
    t = t.drop(columns=["placed_in_period", "placed_short", "period_cuts", "period_short",
                        "supervision_records", "baseline_in", "baseline_out",
                        "window_hours_in_period"])
    return t.sort_index().reset_index()


# ---------------------------------------------------------------- per DO / OC

def per_do(pi: ir.Table, config: OutageConfig = OutageConfig()) -> ir.Table:
    """Per DO: incident rate and timestamp quality (§4, §6).

    ``cuts_before_hd``/``cuts_after_hf``: counted cuts at most 5 minutes before HD
    or after HF of its interventions; ``m1_delay_*``: HD→M1 reception in
    seconds; ``m1_late``: delays above ``config.m1_delay_large_s``;
    ``multi_interventions``, ``shared_cuts``, ``impacted_shared_only``: how much
    of its record rests on presences that overlap another one.
    """
    d = pi.m1_delay_s
    g = pi.group_by("code_do").aggregate(
        **_incident_counts(pi),
        no_m1=_n(pi.m1_received_at.isnull()),
        m3_before_m1=_n(pi.m3_before_m1),
        m1_delay_median_s=d.quantile(0.5), m1_delay_p90_s=d.quantile(0.9),
        m1_delay_max_s=d.max(),
        m1_late=_n(d > config.m1_delay_large_s),
        m1_before_hd=_n(d < 0))
    return g.mutate(incident_rate=g.impacted_interventions
                    / g.covered_interventions.nullif(0)).order_by("code_do")


def _oc_column(reason: str) -> str:
    """The per-OC column counting the cuts not counted for ``reason``."""
    return "power_cuts" if reason == "power_cut" else reason


def per_oc(reports: ir.Table, cut_table: pd.DataFrame, outages: ir.Table, windows: ir.Table,
           period: Period) -> pd.DataFrame:
    """Per OC: whether it uses flow 3 and how its M5s and cuts look.

    ``m5_received``: M5s for interventions of the period; ``m5_late``: received
    after midnight (local) of the HF day; ``m5_before_m3``: received before the
    intervention's M3; ``clients_set_aside``: clients of its M5s that could not
    count; ``cuts``: its distinct cuts of the period (``m5_cuts`` / ``supervision_cuts``
    by source, ``both_sources`` reported by both), with why the others do not
    count (``cut_table``, :func:`cut_counts`); ``cuts_outside_own_window``: rows it sent in
    an M5 whose time is not in that intervention's [HD, HF] (not counted there).
    """
    w = windows.select(w_ref=windows.ref_interv_oi, hd=windows.hd, hf=windows.hf,
                       m3=windows.m3_received_at)
    r = reports.join(w, reports.ref_interv_oi == w.w_ref)
    aside = r.clients_set_aside.fill_null(0)
    rep = r.group_by("code_oc").aggregate(
        m5_received=r.count(),
        interventions_reported=r.ref_interv_oi.nunique(),
        m5_empty=_n((r.clients_hs.fill_null(0) == 0) & (aside == 0)),
        m5_clients_declared=r.clients_hs.sum(),
        clients_set_aside=aside.sum(),
        m5_late=_n(rules.m5_late(period.day(r.received_at), period.day(r.hf))),
        m5_before_m3=_n(rules.m5_before_m3(r.received_at, r.m3)))
    o = outages.filter(outages.ref_interv_oi.notnull() & period.contains(outages.cut_at))
    ow = o.join(w, o.ref_interv_oi == w.w_ref)
    own = ow.group_by("code_oc").aggregate(cuts_outside_own_window=_n(
        ow.hf.notnull() & ~rules.in_window(ow.cut_at, ow.hd, ow.hf)))
    cuts = cut_table.drop(columns=["pm_id", "counted_short"]).groupby("code_oc").sum()
    cuts = cuts.rename(columns={"counted": "counted_cuts",
                                **{r: _oc_column(r) for r in REASONS}})
    parts = [t.to_pandas().set_index("code_oc") for t in (rep, own)]
    t = parts[0].join([cuts, parts[1]], how="outer").fillna(0).astype("int64")
    t["uses_flow3"] = t["m5_received"] > 0
    t.index = t.index.astype(str)
    return t.sort_index().reset_index()


def exclusions(cut_table: pd.DataFrame, placed: ir.Table) -> dict[str, int]:
    """Cuts of the period that do not count, by reason: merged cuts by their reason, rows
    that cannot be identified (:func:`cut_counts`), and cuts that are only a DO's own
    line at work (``target_line``)."""
    out = {r: int(cut_table[r].sum()) for r in REASONS if cut_table[r].sum() > 0}
    p = placed.filter(placed.in_period & placed.in_any & ~placed.in_customer)
    out[rules.TARGET_LINE] = int(p.count().execute())
    return out


def short_cuts(events: ir.Table, placed: ir.Table, limit: int | None = None,
               pms: pd.DataFrame | None = None) -> ir.Table:
    """Counted cuts of the period restored the same local day (§6), with whether they lie
    in a window (and which), a cut that is only a DO's own line left out; the first
    ``limit`` by PM and time (all when None). Their number is the per-PM tables' sum.

    With ``pms`` (the per-PM table, whose ``short_cuts`` count them per PM), only
    the first PMs that hold ``limit`` short cuts are read: the list is in PM order.
    """
    e = events.filter(events.counted & events.in_period & events.short)
    if limit is not None and pms is not None:
        t = pms[pms["short_cuts"] > 0].sort_values("pm_id")
        enough = t["short_cuts"].cumsum().searchsorted(limit) + 1
        e = e.filter(e.pm_id.isin(t["pm_id"].iloc[:enough].tolist() or [""]))
    target = placed.filter(placed.in_any & ~placed.in_customer)
    e = e.anti_join(target, [e[k] == target[k] for k in CUT_ID])
    e = e.order_by(["pm_id", "cut_at", "code_oc", "pto"])
    if limit is not None:
        e = e.limit(limit)
    p = placed.select(*[placed[k].name(f"p_{k}") for k in CUT_ID], placed.in_customer,
                      placed.window_ref)
    j = e.left_join(p, [e[k] == p[f"p_{k}"] for k in CUT_ID])
    return j.select(
        "code_oc", "pm_id", "pto", "cut_at", "restored_at",
        duration_s=j.restored_at.epoch_seconds() - j.cut_at.epoch_seconds(),
        in_window=j.in_customer.fill_null(False), ref_interv_oi=j.window_ref,
        source=source(j.from_m5, j.from_supervision),
    ).order_by(["pm_id", "cut_at", "code_oc", "pto"])


def source(from_m5: ir.BooleanValue, from_supervision: ir.BooleanValue) -> ir.StringValue:
    """Who reported a cut: ``m5``, ``supervision`` or ``m5+supervision``."""
    return ibis.cases((from_m5 & from_supervision, "m5+supervision"), (from_m5, "m5"),
                      else_="supervision")
