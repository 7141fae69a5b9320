"""State and queries of the ``/outages`` page (network operator). No Panel here.

Every figure comes from :mod:`evaluation.analyses.outages`: the correlation
(:func:`~evaluation.analyses.outages.report.correlate`), its per-PM and per-DO
tables (:func:`~evaluation.analyses.outages.correlation.per_pm`,
:func:`~evaluation.analyses.outages.correlation.per_do`), the counting rules
(:mod:`~evaluation.analyses.outages.rules`), the funnel limits
(:func:`~evaluation.analyses.outages.stats.funnel`) and the DO pseudonyms
(:mod:`~evaluation.analyses.outages.pseudonym`). This module chooses what to
look at (filters, the selected PM) and hands back small pandas frames.

**Snapshot and cache.** The five network tables are copied once per database
*stamp* (:func:`evaluation.views.queries.stamp`) into an in-memory DuckDB of
this process (the store is attached read-only for the copy and detached at
once, so ``opeval ingest`` can write while the page is open). The network-wide
correlation of one period is computed there once per (stamp, period) and kept
materialised; the filters (OI, zone, DO, minimum covered interventions) and
the selected PM only slice it, with plain group-bys in that engine.

**Filters.**

* *period*: ``since`` (00:00 that day) to ``as_of`` (end of that day), days of
  the database's time zone (:mod:`evaluation.period`, as ``opeval outages
  --since --as-of``); by default from the first to the last day with data (the
  analysis' own default). The thresholds are those of the settings file beside
  the database (:func:`evaluation.config.for_database`).
* *OI / zone*: the PMs of that OI code / zone (``pms``); the DO comparison
  counts the interventions at those PMs only.
* *DO*: the per-PM figures count the interventions (and their windows) of that
  DO only; the network rate of the funnel is that DO's rate.
* *minimum covered interventions*: PMs with fewer are not drawn nor listed
  (the funnel limits still use the network rate of every PM in scope).

**OC view** (flow 2): DO codes are replaced by their keyed pseudonyms
(:func:`~evaluation.analyses.outages.pseudonym.pseudonymise`) in every table
and plot, and the DO filter is not offered. The key is the store's
``pseudonym_key`` setting, or ``$OPEVAL_PSEUDONYM_KEY``; without either, a
random key of this server process (stable until it restarts).

**Big point sets.** A PM's cuts are sent as points up to :data:`MAX_POINTS`;
beyond that they are counted per hour (or day) and category in the engine.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field, replace

import ibis
import numpy as np
import pandas as pd
import param

from .. import config, localtime, period
from ..analyses import blacklist as bl
from ..analyses.blacklist import BlacklistConfig
from ..analyses.outages import correlation as c
from ..analyses.outages import pseudonym as ps
from ..analyses.outages import report, stats
from ..analyses.outages.report import Correlation, add_rate_ratio, correlate
from . import snapshot as snapshots
from .queries import stamp
from .snapshot import SnapshotCache, attached

KEY_SETTING = "pseudonym_key"
"""``meta`` setting holding the database's pseudonym key (hex), see :mod:`evaluation.store.privacy`."""
NETWORK_TABLES = ("pms", "interventions", "intervention_targets", "outage_reports", "outages")
INNER_LEVEL = 0.95
"""The funnel's inner (warning) limit, drawn inside the blacklist's ``funnel_level`` (the
outer limit, the one its rule uses, from the settings in force)."""
MAX_POINTS = 3000
"""Most cuts sent as single points on a PM timeline; more are aggregated."""
M1_DELAY_BINS = ((None, 0, "before HD"), (0, 300, "0–5 min"), (300, 1800, "5–30 min"),
                 (1800, 7200, "30 min–2 h"), (7200, 28800, "2–8 h"), (28800, None, "over 8 h"))
"""Bins of the HD→M1-reception delay chart (seconds; display only — the "late"
threshold itself is :attr:`OutageConfig.m1_delay_large_s`, 30 min)."""

# Categories of a cut on the PM timeline (the reasons are :func:`rules.exclusion_reason`'s).
CUT_IN = "counted, in a window"
CUT_NEAR = "counted, within the tolerance outside a window"
CUT_OUT = "counted, outside windows"
CUT_TARGET = "target line (not counted)"
CUT_POWER = "power cut (not counted)"
CUT_OTHER = "other not counted (churned, unknown PTO)"
CUT_CATEGORIES = (CUT_IN, CUT_NEAR, CUT_OUT, CUT_TARGET, CUT_POWER, CUT_OTHER)

PM_COLUMNS = ("pm_id", "oi_code", "zone", "lines", "interventions", "covered_interventions",
              "impacted_interventions", "incident_rate", "clients_hs", "cuts_in_windows",
              "cuts_out_of_windows", "missing_hf", "cuts_before_hd", "cuts_after_hf")
INTERVENTION_COLUMNS = ("ref_interv_oi", "code_do", "hd", "hf", "m5_received", "covered",
                        "impacted", "cuts", "m5_cuts", "supervision_cuts", "cuts_before_hd",
                        "cuts_after_hf", "m1_received_at", "m1_delay_s")
CUT_COLUMNS = ("cut_at", "code_oc", "pto", "ref_interv_oi", "code_do", "hd", "hf", "source",
               "restored_at")


CUT_KEY = ("code_oc", "pm_id", "pto", "cut_at")
"""What identifies one cut between the outages table and the analysis' (cut, window) pairs."""


def _count(cond) -> ibis.Expr:
    """How many rows satisfy ``cond`` (NULL counts as false)."""
    return cond.fill_null(False).cast("int64").sum()


# ------------------------------------------------------------------ snapshot
@dataclass
class Snapshot(snapshots.Snapshot):
    """The network tables of one database at one stamp, in an in-memory DuckDB."""

    settings: dict
    rows: dict
    messages: int
    analyses: OrderedDict = field(default_factory=OrderedDict)

    @property
    def tables(self) -> dict[str, ibis.Table]:
        return {name: self.table(name) for name in NETWORK_TABLES}

    @property
    def zone(self) -> str:
        """The database's time zone (its days are the period's days)."""
        return localtime.database_zone(self.settings.get)


_MAX_PERIODS = 4
_process_key = secrets.token_bytes(32)


def build_snapshot(path: str) -> Snapshot:
    """Copy the network tables (and the settings this page reads) into memory."""
    file_stamp = stamp(path)
    with attached(path) as con:
        for name in NETWORK_TABLES:
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM src.main."{name}"')
        settings = dict(con.execute(
            "SELECT key, value FROM src.main.meta WHERE key IN (?, ?)",
            [KEY_SETTING, localtime.SETTING]).fetchall())
        messages = int(con.execute("SELECT count(*) FROM src.main.messages").fetchone()[0])
    rows = {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in NETWORK_TABLES}
    backend = ibis.duckdb.from_connection(con)
    return Snapshot(path, file_stamp, con, backend, settings, rows, messages)


_snapshots: SnapshotCache[Snapshot] = SnapshotCache(lambda path: build_snapshot(path))


def snapshot(path: str) -> Snapshot:
    """The snapshot of ``path`` at its current stamp (rebuilt after a load)."""
    return _snapshots.get(path)


@dataclass
class Analysis:
    """The network-wide correlation of one period, materialised, with small frames cached.

    :meth:`for_do` gives the correlation of one DO's interventions over the same
    period (the analysis run on the interventions table restricted to that DO),
    computed once per DO.
    """

    corr: Correlation
    pm_info: pd.DataFrame
    frames: dict = field(default_factory=dict)
    by_do: dict = field(default_factory=dict)

    def for_do(self, code_do: str) -> Correlation:
        if not code_do:
            return self.corr
        if code_do not in self.by_do:
            tables = dict(self.corr.tables)
            iv = tables["interventions"]
            tables["interventions"] = iv.filter(iv.code_do == code_do)
            p = self.corr.period
            self.by_do[code_do] = correlate(tables, since=p.start, as_of=p.end, cache=True,
                                            config=self.corr.config, zone=p.zone)
        return self.by_do[code_do]

    def release(self) -> None:
        for corr in (self.corr, *self.by_do.values()):
            corr.release()
        self.by_do.clear()


def analysis(snap: Snapshot, since: dt.datetime | None, as_of) -> Analysis:
    """The correlation of ``[since, as_of)`` on ``snap``, computed once per period."""
    key = (since, as_of)
    with snap.lock:
        found = snap.analyses.get(key)
        if found is not None:
            snap.analyses.move_to_end(key)
            return found
        corr = correlate(snap.tables, since=since, as_of=as_of, cache=True, zone=snap.zone,
                         config=config.for_database(snap.path).outages)
        pm_info = snap.table("pms").select("pm_id", "oi_code", "zone").to_pandas()
        found = Analysis(corr, pm_info)
        snap.analyses[key] = found
        while len(snap.analyses) > _MAX_PERIODS:
            snap.analyses.popitem(last=False)[1].release()
        return found


def funnel_curve(p0: float, n_max: int, levels: tuple[float, float],
                 points: int = 200) -> pd.DataFrame:
    """Control limits (as rates) for 1…``n_max`` covered interventions around ``p0``.

    ``levels`` = (inner, outer); columns ``upper_inner``, ``lower_inner``,
    ``upper_outer``, ``lower_outer`` are :func:`stats.funnel`'s exact binomial
    quantiles.
    """
    n_max = max(int(n_max), 1)
    n = np.unique(np.round(np.geomspace(1, n_max, num=min(points, n_max))).astype(int))
    out = pd.DataFrame({"covered": n})
    for tag, level in zip(("inner", "outer"), levels):
        upper, lower, _ = stats.funnel(np.zeros(len(n)), n, p0, level)
        out[f"upper_{tag}"] = upper
        out[f"lower_{tag}"] = lower
    return out


def warm(path: str) -> None:
    """Compute what the page shows first — the snapshot, the correlation of the
    default period and the frames of the default filters — so the first visitor
    finds them cached (called in the background when the server starts). Then the
    funnel and blacklist of each OI and each zone of that period (a few small
    pandas frames each), the filters a network operator changes most."""
    state = OutagesState(path)
    if not state.has_data():
        return
    state.do_choices()
    state.do_table(), state.m1_delay_histogram(), state.exclusions()
    scopes = [{}] + [{"oi_code": v} for v in state.oi_choices()] + [
        {"zone": v} for v in state.zone_choices()]
    for scope in scopes:
        state.param.update({"oi_code": "", "zone": "", **scope})
        state.funnel(), state.blacklist(), state.summary()


# ------------------------------------------------------------------ state
class OutagesState(param.Parameterized):
    """Filters, the selected PM and the queries behind the ``/outages`` page."""

    since = param.CalendarDate(default=None, allow_None=True,
                       doc="First day of the period (from local midnight, in the database's "
                           "time zone); None: from the first data.")
    as_of = param.CalendarDate(default=None, allow_None=True,
                       doc="Last day of the period (to its local end); None: the last day "
                           "with data.")
    oi_code = param.String(default="", doc="Only the PMs of this OI code ('' = every OI).")
    zone = param.String(default="", doc="Only the PMs of this zone ('' = every zone).")
    code_do = param.String(default="", doc="Only the interventions of this DO ('' = every DO).")
    min_covered = param.Integer(default=BlacklistConfig().min_covered, bounds=(1, None),
                                doc="Show PMs with at least this many covered interventions.")
    pm_id = param.String(default="", doc="The PM whose evidence and timeline are shown.")
    oc_view = param.Boolean(default=False,
                            doc="OC view (flow 2): DO codes shown as keyed pseudonyms.")

    def __init__(self, path, **params):
        self.path = os.fspath(getattr(path, "path", path))
        super().__init__(**params)
        if "min_covered" not in params:   # the settings file's, as `opeval blacklist`
            self.min_covered = self.settings.blacklist.min_covered

    @property
    def settings(self) -> config.Settings:
        """The thresholds in force (the settings file beside the database)."""
        return config.for_database(self.path)

    # ------------------------------------------------------------ plumbing
    @property
    def snap(self) -> Snapshot:
        return snapshot(self.path)

    def has_data(self) -> bool:
        """Whether there is anything to correlate (interventions or cuts)."""
        rows = self.snap.rows
        return rows["interventions"] > 0 or rows["outages"] > 0

    def row_counts(self) -> dict:
        return {**self.snap.rows, "messages": self.snap.messages}

    def _period_args(self) -> tuple:
        """(since, as_of) as every command reads them (:mod:`evaluation.period`); a start
        not before the end is dropped."""
        zone = self.snap.zone
        since, as_of = period.start_of(self.since, zone), period.end_of(self.as_of, zone)
        if since is not None and as_of is not None and since >= as_of:
            since = None
        return since, as_of

    @property
    def analysis(self) -> Analysis:
        return analysis(self.snap, *self._period_args())

    @property
    def period(self) -> c.Period:
        return self.analysis.corr.period

    def days_in_force(self) -> tuple[dt.date, dt.date]:
        """The first and last local day of the period in force: what the date fields show,
        the data's days when the filters are left to their defaults."""
        p = self.period.as_dict()
        return dt.date.fromisoformat(p["first_day"]), dt.date.fromisoformat(p["last_day"])

    def period_note(self) -> tuple[dict, list[str]]:
        """The period's ``period`` and warnings, as ``opeval outages`` gives them."""
        return report.period_dict(self.period), report.warnings(self.period)

    def tolerance_min(self) -> float:
        """The timestamp tolerance in force, in minutes (§4: 5)."""
        return self.settings.outages.tolerance_s / 60

    def _memo(self, name: str, key: tuple, make):
        a = self.analysis
        k = (name,) + key
        with self.snap.lock:
            if k not in a.frames:
                a.frames[k] = make(a)
            return a.frames[k]

    def _pm_scope(self, a: Analysis) -> list[str] | None:
        """PM ids of the OI/zone filter, or None when neither is set."""
        if not self.oi_code and not self.zone:
            return None
        info = a.pm_info
        keep = pd.Series(True, index=info.index)
        if self.oi_code:
            keep &= info["oi_code"] == self.oi_code
        if self.zone:
            keep &= info["zone"] == self.zone
        return info.loc[keep, "pm_id"].tolist()

    def report_pdf(self) -> bytes:
        """The period's printed report, as ``opeval outages --format pdf`` prints it for the
        same period and settings (network-wide: the correlation and the blacklist); in OC
        view, the OC version with pseudonymised DO codes."""
        from ..reports.pdf import outages_period_pdf
        snap = self.snap
        with snap.lock:
            return outages_period_pdf(snap.tables, *self._period_args(), self.settings, snap.zone,
                                      self.pseudonym_key() if self.oc_view else None)

    # ------------------------------------------------------------ choices
    def oi_choices(self) -> list[str]:
        return sorted(self.analysis.pm_info["oi_code"].dropna().unique().tolist())

    def zone_choices(self) -> list[str]:
        return sorted(self.analysis.pm_info["zone"].dropna().unique().tolist())

    def do_choices(self) -> list[str]:
        return self._memo("do_choices", (), lambda a: sorted(
            a.corr.windows.select("code_do").distinct().to_pandas()["code_do"]
            .dropna().tolist()))

    # ------------------------------------------------------------ pseudonyms
    def pseudonym_key(self) -> bytes:
        """``$OPEVAL_PSEUDONYM_KEY``, else the store's key, else this process' random key."""
        for hexkey in (os.environ.get(ps.KEY_ENV), self.snap.settings.get(KEY_SETTING)):
            if hexkey:
                try:
                    return bytes.fromhex(hexkey)
                except ValueError:
                    continue
        return _process_key

    def show_do(self, frame: pd.DataFrame, column: str = "code_do") -> pd.DataFrame:
        """``frame`` with DO codes pseudonymised in OC view (a copy; unchanged otherwise)."""
        if not self.oc_view or column not in frame.columns:
            return frame
        return frame.assign(**{column: ps.pseudonymise(frame[column].tolist(),
                                                       self.pseudonym_key())})

    # ------------------------------------------------------------ per PM
    def _corr(self, a: Analysis) -> Correlation:
        """The correlation behind the per-PM figures: the network's, or the DO filter's."""
        return a.for_do(self.code_do)

    def _per_pm_all(self) -> pd.DataFrame:
        """Per-PM table of the analysis for the DO filter (every PM with activity)."""
        def make(a: Analysis) -> pd.DataFrame:
            t = self._corr(a).per_pm()
            if self.code_do:
                t = t[t["interventions"] > 0]
            return t.merge(a.pm_info, on="pm_id", how="left")
        return self._memo("per_pm", (self.code_do,), make)

    def config(self) -> BlacklistConfig:
        """The blacklist's thresholds in force, with the page's minimum covered
        interventions."""
        return replace(self.settings.blacklist, min_covered=max(1, int(self.min_covered)))

    def _assessed(self) -> tuple[pd.DataFrame, float | None]:
        """Every PM in scope assessed by :func:`evaluation.analyses.blacklist.assess`.

        The scope (OI/zone, DO) sets the network rate, the funnel limits and
        the fitted prior; cached per (period, filters, minimum covered).
        """
        def make(a: Analysis):
            df = self._per_pm_all()
            scope = self._pm_scope(a)
            if scope is not None:
                df = df[df["pm_id"].isin(scope)]
            cfg = self.config()
            trend = bl._trend(self._corr(a), cfg)
            pms = add_rate_ratio(df.drop(columns=["oi_code", "zone"]).reset_index(drop=True),
                                 cfg.rate_ratio_level)
            t, p0, _prior, _baseline = bl.assess(pms, trend, cfg)
            t = t.merge(df[["pm_id", "oi_code", "zone"]], on="pm_id", how="left")
            return t, p0
        return self._memo("assessed", self._filter_key(), make)

    def network_rate(self) -> float:
        """Impacted / covered over the PMs in scope (0 when nothing is covered)."""
        return float(self._assessed()[1] or 0.0)

    def pm_table(self) -> pd.DataFrame:
        """PMs in scope (OI/zone/DO) with at least ``min_covered`` covered interventions.

        The blacklist's columns (funnel limit and p-value at its level,
        shrunken rate, posterior probability, attribution, score, candidate)
        plus the inner :data:`INNER_LEVEL` limit ``upper_inner``; ordered by
        the funnel p-value, most extreme first.
        """
        return self._memo("pm_table", self._filter_key(), self._pm_table).copy()

    def _filter_key(self) -> tuple:
        return (self.oi_code, self.zone, self.code_do, self.config().min_covered)

    def _pm_table(self, _a: Analysis) -> pd.DataFrame:
        t, p0 = self._assessed()
        t = t[t["covered_interventions"] >= self.min_covered].copy()
        inner, _, _ = stats.funnel(t["impacted_interventions"], t["covered_interventions"],
                                   p0 or 0.0, INNER_LEVEL)
        t["upper_inner"] = inner
        cols = [c_ for c_ in PM_COLUMNS if c_ in t.columns] + [
            "upper_inner", "funnel_upper", "funnel_p_value", "shrunken_rate",
            "posterior_prob_above", "rate_ratio", "attribution", "score", "candidate"]
        return t[cols].sort_values(["funnel_p_value", "pm_id"], na_position="last"
                                   ).reset_index(drop=True)

    def funnel(self) -> tuple[pd.DataFrame, pd.DataFrame, float]:
        """(points, limits, p0): the PMs of :meth:`pm_table` and the control limits."""
        pts = self.pm_table()
        p0 = self.network_rate()
        n_max = int(pts["covered_interventions"].max()) if len(pts) else 1
        levels = (INNER_LEVEL, self.config().funnel_level)
        return pts, funnel_curve(p0, max(n_max, 10), levels), p0

    def blacklist(self) -> pd.DataFrame:
        """The candidates (blacklist rules), most urgent (highest score) first.

        ``list`` is ``candidate`` or, for a PM whose cuts are not concentrated
        in its windows (attribution ``fragile``), ``fragile`` — listed after.
        """
        t = self.pm_table()
        t = t[t["candidate"]].copy()
        fragile = (t["attribution"] == "fragile") & self.config().exclude_fragile
        t["list"] = np.where(fragile, "fragile", "candidate")
        t = t.sort_values(["list", "score", "pm_id"], ascending=[True, False, True])
        t["rank"] = np.arange(1, len(t) + 1)
        return t[["rank", "pm_id", "list", "incident_rate", "impacted_interventions",
                  "covered_interventions", "interventions", "score", "shrunken_rate",
                  "posterior_prob_above", "funnel_upper", "funnel_p_value", "clients_hs",
                  "rate_ratio", "attribution", "oi_code", "zone"]].reset_index(drop=True)

    # ------------------------------------------------------------ selected PM
    def _pm_filter(self, t: ibis.Table) -> ibis.Table:
        return t.filter(t.pm_id == self.pm_id)

    def pm_interventions(self) -> pd.DataFrame:
        """The selected PM's interventions of the period (DO filter applied), by HD."""
        if not self.pm_id:
            return pd.DataFrame(columns=list(INTERVENTION_COLUMNS))
        df = self._memo("pm_int", (self.pm_id, self.code_do), lambda a: self._pm_filter(
            self._corr(a).interventions).select(*INTERVENTION_COLUMNS).order_by(
            ["hd", "ref_interv_oi"]).to_pandas())
        return self.show_do(df)

    def pm_counted_cuts(self) -> pd.DataFrame:
        """The counted cuts of the selected PM's covered interventions (its ``clients_hs``).

        One row per (cut, intervention) attributed with the cut in [HD, HF];
        ``source`` says whether the cut came in an M5 or from supervision.
        """
        if not self.pm_id:
            return pd.DataFrame(columns=list(CUT_COLUMNS))

        def make(a: Analysis) -> pd.DataFrame:
            corr = self._corr(a)
            p = corr.pairs.filter((corr.pairs.pm_id == self.pm_id) & corr.pairs.attributed
                                  & (corr.pairs.position == "in"))
            cov = self._pm_filter(corr.interventions)
            cov = cov.filter(cov.covered).select(w_ref=cov.ref_interv_oi, code_do=cov.code_do,
                                                 hd=cov.hd, hf=cov.hf)
            p = p.join(cov, p.ref_interv_oi == cov.w_ref)
            p = p.mutate(source=c.source(p.from_m5, p.from_supervision))
            return p.select(*CUT_COLUMNS).order_by(["cut_at", "code_oc", "pto"]).to_pandas()
        return self.show_do(self._memo("pm_cuts", (self.pm_id, self.code_do), make))

    def pm_windows(self) -> pd.DataFrame:
        """The selected PM's intervention windows [HD, HF] (HF known) for the timeline."""
        t = self.pm_interventions()
        return t[t["hf"].notna()].reset_index(drop=True)

    def pm_timeline_cuts(self) -> tuple[pd.DataFrame, bool]:
        """Every cut of the selected PM in the period with its category, or counts.

        Returns ``(frame, aggregated)``. Up to :data:`MAX_POINTS` cuts: one row
        per cut (``cut_at``, ``category``, ``code_oc``, ``pto``, ``reason``, …).
        More: rows of (``cut_at`` = bucket start, ``category``, ``cuts``).
        A cut is *in a window* when the analysis matched it inside [HD, HF]
        of one of the PM's windows (any source), *near* when only within the
        tolerance (:attr:`OutageConfig.tolerance_s`, 5 minutes by §4), *target* when it
        is only a DO's own line.
        """
        if not self.pm_id:
            return pd.DataFrame(columns=["cut_at", "category", "cuts"]), False

        def make(a: Analysis):
            corr = self._corr(a)
            period = corr.period
            e = corr.events
            e = e.filter((e.pm_id == self.pm_id) & period.contains(e.cut_at))
            u = c.unidentified(corr.tables["outages"], period)
            u = u.filter(u.pm_id == self.pm_id)
            p = corr.all_pairs.filter(corr.all_pairs.pm_id == self.pm_id)
            flags = p.group_by([p[k].name(f"p_{k}") for k in CUT_KEY]).aggregate(
                f_in=_count((p.position == "in") & ~p.is_target),
                f_near=_count((p.position != "in") & ~p.is_target),
                f_target=_count((p.position == "in") & p.is_target),
                window_ref=ibis.ifelse((p.position == "in") & ~p.is_target,
                                       p.ref_interv_oi, ibis.null(str)).min())
            j = e.left_join(flags, [e[k] == flags[f"p_{k}"] for k in CUT_KEY])
            cat = ibis.cases(
                (j.reason == "power_cut", CUT_POWER),
                (j.reason.notnull(), CUT_OTHER),
                (j.f_in.fill_null(0) > 0, CUT_IN),
                (j.f_target.fill_null(0) > 0, CUT_TARGET),
                (j.f_near.fill_null(0) > 0, CUT_NEAR),
                else_=CUT_OUT)
            cols = {"cut_at": "timestamp", "code_oc": "string", "pto": "string",
                    "restored_at": "timestamp", "reason": "string", "source": "string",
                    "window_ref": "string", "category": "string"}
            merged = j.select(j.cut_at, j.code_oc, j.pto, j.restored_at, j.reason,
                              source=c.source(j.from_m5, j.from_supervision),
                              window_ref=j.window_ref, category=cat)
            unknown = u.select(cut_at=u.cut_at, code_oc=u.code_oc,
                               pto=ibis.null(str), restored_at=u.restored_at,
                               reason=u.reason,
                               source=ibis.ifelse(u.from_m5, "m5", "supervision"),
                               window_ref=ibis.null(str), category=ibis.literal(CUT_OTHER))
            j = ibis.union(*[t.select(**{k: t[k].cast(v) for k, v in cols.items()})
                             for t in (merged, unknown)])
            j = j.filter(j.cut_at.notnull())
            n = int(j.count().execute())
            if n <= MAX_POINTS:
                return j.order_by(["cut_at", "code_oc", "pto"]).to_pandas(), False
            if period.hours <= 24 * 90:     # per hour
                b = j.mutate(bucket=j.cut_at.truncate("h"))
            else:                           # per day of the database's zone, from its midnight
                day = period.day(j.cut_at)
                b = j.mutate(bucket=day.cast("timestamp"))
            g = b.group_by(["bucket", "category"]).aggregate(cuts=b.count()).to_pandas()
            if period.hours > 24 * 90:
                g["bucket"] = [localtime.day_start(d.date(), period.zone) for d in g["bucket"]]
            g = g.rename(columns={"bucket": "cut_at"}).sort_values(["cut_at", "category"])
            return g[["cut_at", "category", "cuts"]].reset_index(drop=True), True
        return self._memo("pm_timeline", (self.pm_id, self.code_do, MAX_POINTS), make)

    # ------------------------------------------------------------ per DO
    def _interventions_in_scope(self, a: Analysis) -> ibis.Table:
        pi = a.corr.interventions
        scope = self._pm_scope(a)
        if scope is not None:
            pi = pi.filter(pi.pm_id.isin(scope))
        if self.code_do:
            pi = pi.filter(pi.code_do == self.code_do)
        return pi

    def do_table(self) -> pd.DataFrame:
        """Per DO (OI/zone/DO filters applied): incident rate and timestamp quality."""
        def make(a: Analysis) -> pd.DataFrame:
            df = c.per_do(self._interventions_in_scope(a), a.corr.config).to_pandas()
            df["missing_hf_share"] = df["missing_hf"] / df["interventions"].where(
                df["interventions"] > 0)
            return df
        df = self._memo("per_do", (self.oi_code, self.zone, self.code_do), make)
        return self.show_do(df)

    def m1_delay_histogram(self) -> pd.DataFrame:
        """Interventions per DO and HD→M1-reception delay bin (:data:`M1_DELAY_BINS`)."""
        def make(a: Analysis) -> pd.DataFrame:
            pi = self._interventions_in_scope(a)
            pi = pi.filter(pi.m1_delay_s.notnull())
            d = pi.m1_delay_s
            cases = []
            for i, (lo, hi, _label) in enumerate(M1_DELAY_BINS):
                cond = ibis.literal(True)
                if lo is not None:
                    cond = cond & (d >= lo)
                if hi is not None:
                    cond = cond & (d < hi)
                cases.append((cond, i))
            b = pi.mutate(bin=ibis.cases(*cases, else_=len(M1_DELAY_BINS) - 1))
            g = b.group_by(["code_do", "bin"]).aggregate(interventions=b.count()).to_pandas()
            g["delay"] = [M1_DELAY_BINS[int(i)][2] for i in g["bin"]]
            return g.sort_values(["code_do", "bin"]).reset_index(drop=True)
        return self.show_do(self._memo("m1_hist", (self.oi_code, self.zone, self.code_do),
                                       make))

    def exclusions(self) -> pd.DataFrame:
        """Cuts of the period that do not count, by reason (network-wide)."""
        def make(a: Analysis) -> pd.DataFrame:
            excl = a.corr.exclusions()
            return pd.DataFrame({"reason": list(excl), "cuts": list(excl.values())}).sort_values(
                "reason").reset_index(drop=True)
        return self._memo("exclusions", (), make)

    # ------------------------------------------------------------ headline
    def summary(self) -> dict:
        """Network figures of the scope shown above the plots."""
        t, p0 = self._assessed()
        shown = t[t["covered_interventions"] >= self.min_covered]
        p = self.period
        return {"start": p.start, "end": p.end, "pms": len(t),
                "pms_shown": len(shown),
                "interventions": int(t["interventions"].sum()),
                "covered": int(t["covered_interventions"].sum()),
                "impacted": int(t["impacted_interventions"].sum()),
                "rate": float(p0 or 0.0),
                "candidates": int(t["candidate"].sum())}
