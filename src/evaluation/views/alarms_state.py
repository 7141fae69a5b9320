"""State and queries of the ``/alarms`` page (alarm operator / supervisor). No Panel here.

Every figure comes from the functions of :mod:`evaluation.analyses.alarms`;
this module only chooses the alarms (filters), calls them and hands back small
pandas frames.

**Snapshot.** The per-raise facts the analyses need (gaps to the previous
raise, chattering and repeat flags, durations — :func:`prep.instances` and
:func:`nuisance.flag_nuisance`) take window functions over every alarm. They
are computed once per database *stamp* (size and mtime of the file and its
WAL, :func:`evaluation.views.queries.stamp`) into an in-memory DuckDB of this
process: the store is attached read-only for the copy and detached at once,
so the server never holds the database file and ``opeval ingest`` can write
while pages are open. A new load changes the stamp; the next query rebuilds
the snapshot. Every filter change then runs plain group-bys in that engine
(only aggregated rows come back), and the results are cached on
(database, stamp, filters).

**Time range.** The range selects alarms by raise time, from ``from`` 00:00 to the
end of ``to`` in the database's time zone (:mod:`evaluation.period`, as ``opeval
alarms --since FROM --as-of TO``); by default the last four weeks ending with the
last day with data. The rules (flood, chattering, repeats…) are those of the
settings file beside the database (:func:`evaluation.config.for_database`). Gaps,
chattering and repeats are those of the whole history (a raise just after ``from``
whose previous raise came just before it is a repeat), and handling and close
reasons are as the database knows them now. ``opeval alarms --as-of`` gives the view
as known at a past time. Rates divide by each system's own observation window: the
range cut to the system's first and last record (:func:`prep.windows`). The **open
alarms** are those still on the operator's list at the end of the range (the end of
``to``, or the end of the data when earlier), whatever their raise time: an alarm
raised months before ``from`` and never closed is open.

**False-alarm model.** The open alarms are ranked by
:mod:`evaluation.analyses.alarms.model`. A model saved under
``models/`` beside the database whose metadata names this database is used;
otherwise the page trains one on the closed alarms (in a background thread,
once per database and server process) and saves it there when it can.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import param
from ibis import _

from .. import config, localtime, period
from ..analyses.alarms import (
    avalanches,
    consequences,
    false_alarms,
    lifecycle,
    load,
    nuisance,
    prep,
)
from ..analyses.alarms import model as fam
from ..analyses.alarms.report import OUTSIDE_DATA, alarm_report, data_end
from ..analyses.alarms.rules import OPEN_STATUSES, AlarmRules, rate_class, rate_grade
from ..csv_export import to_csv
from ..store.schema import TABLES
from . import snapshot as snapshots
from .queries import stamp
from .snapshot import SnapshotCache, attached

ALARM_COLUMNS = tuple(c.name for c in TABLES["alarms"].columns)
EPOCH = dt.date(1970, 1, 1)
"""The range of a database without alarms (nothing to show; never the machine's clock)."""
DEFAULT_DAYS = 28
"""Default time range: the last four weeks of data."""
AUTO_10MIN_DAYS = 7
"""``bucket="auto"``: 10-minute buckets up to this many days, hourly beyond."""
BUCKETS = ("auto", "10min", "1h")
MEASURES = {"handle": "handle_s", "close": "close_s"}
PARETO_TOP = 15


# ------------------------------------------------------------------ snapshot
@dataclass
class Snapshot(snapshots.Snapshot):
    """The flagged alarms of one database at one stamp, in an in-memory DuckDB."""

    alarms: int
    first: dt.datetime | None
    last: dt.datetime | None
    zone: str = localtime.UTC
    rules: AlarmRules = field(default_factory=AlarmRules)

    @property
    def flagged(self) -> ibis.Table:
        return self.table("flagged")

    def raw(self, backend=None) -> ibis.Table:
        """The alarms as in the store (the contract's columns); ``backend``: another
        connection to the same copy (a cursor of :attr:`con`)."""
        t = self.flagged if backend is None else backend.table("flagged")
        return t.select(*ALARM_COLUMNS)




def rules_for(path: str) -> AlarmRules:
    """The alarm rules in force for the database at ``path`` (its settings file)."""
    return config.for_database(path).alarms


def build_snapshot(path: str) -> Snapshot:
    """Copy the alarms with their per-raise facts (under the rules in force) into a new
    in-memory DuckDB."""
    file_stamp = stamp(path)
    rules = rules_for(path)
    with attached(path) as con:
        zone = localtime.database_zone(lambda key: (con.execute(
            "SELECT value FROM src.main.meta WHERE key = ?", [key]).fetchone() or [None])[0])
        backend = ibis.duckdb.from_connection(con)
        alarms = backend.table("alarms", database="src")
        flagged = nuisance.flag_nuisance(prep.instances(alarms, rules.chatter_raises), rules)
        # In raise order: reproducible results (the model's training rows come in
        # table order) and a time-range filter can skip whole row groups.
        backend.create_table("flagged", flagged.order_by("raised_at", "alarm_id"))
    backend.create_table(SPANS, prep.log_spans(backend.table("flagged")))
    con.execute(_SCOPE_SQL)
    con.execute(_OPEN_SCOPE_SQL)
    t = backend.table("flagged")
    row = t.aggregate(n=_.count(), first=_.raised_at.min()).execute().iloc[0]
    n = int(row["n"])
    first = None if pd.isna(row["first"]) else pd.Timestamp(row["first"]).to_pydatetime()
    last = data_end(t.select(*ALARM_COLUMNS)) if n else None
    return Snapshot(path, file_stamp, con, backend, n, first, last, zone, rules)


_snapshots: SnapshotCache[Snapshot] = SnapshotCache(lambda path: build_snapshot(path))


def snapshot(path: str) -> Snapshot:
    """The snapshot of ``path`` at its current stamp (rebuilt after a load)."""
    return _snapshots.get(path)


# ------------------------------------------------------------------ filters
@dataclass(frozen=True)
class Filters:
    """The page's filters as a hashable key ("" / 0 mean no filter)."""

    start: dt.date
    end: dt.date
    system: str = ""
    priority: int = 0
    definition: str = ""
    operator: str = ""
    zone: str = localtime.UTC

    @property
    def lo(self) -> dt.datetime:
        """The start of the range: ``start``'s local midnight (naive UTC)."""
        return period.start_of(self.start, self.zone)

    @property
    def hi(self) -> dt.datetime:
        """The end of the range (excluded): the end of the local day ``end``."""
        return period.end_of(self.end, self.zone)

    def apply(self, t: ibis.Table) -> ibis.Table:
        t = t.filter((t.raised_at >= ibis.literal(self.lo, type="timestamp"))
                     & (t.raised_at < ibis.literal(self.hi, type="timestamp")))
        if self.system:
            t = t.filter(t.system_id == self.system)
        if self.priority:
            t = t.filter(t.priority == self.priority)
        if self.definition:
            t = t.filter(t.definition == self.definition)
        if self.operator:
            t = t.filter(t.assigned_to == self.operator)
        return t

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class Views:
    """Everything the page shows for one set of filters (small frames)."""

    kpis: dict
    series: pd.DataFrame
    bucket: str
    floods: pd.DataFrame
    pareto: pd.DataFrame
    chattering: pd.DataFrame
    repeats: pd.DataFrame
    heat: pd.DataFrame
    operators: pd.DataFrame
    handling: pd.DataFrame
    open: pd.DataFrame
    """Alarms on the operator's list at the end of the range (:data:`OPEN_COLUMNS`)."""


def choose_bucket(bucket: str, days: int) -> str:
    """``auto``: 10-minute buckets for up to a week, hourly beyond."""
    if bucket != "auto":
        return bucket
    return "10min" if days <= AUTO_10MIN_DAYS else "1h"


def handling_quantiles(inst: ibis.Table, columns=("handle_s", "close_s")) -> ibis.Table:
    """Per operator (``assigned_to``) and measure: ``n``, p10, p25, median, p75, p90
    of the time to handle / to close (seconds, :func:`prep.facts`), for box plots
    drawn from five numbers instead of every alarm."""
    t = inst.filter(_.assigned_to.notnull())
    parts = []
    for col in columns:
        v = t[col]
        parts.append(t.group_by("assigned_to").agg(
            n=v.count(), p10=v.quantile(0.1), p25=v.quantile(0.25), median=v.quantile(0.5),
            p75=v.quantile(0.75), p90=v.quantile(0.9)).mutate(measure=ibis.literal(col)))
    return ibis.union(*parts).order_by("measure", "assigned_to")


def _bucket_series(ic: ibis.Table, bucket: str) -> ibis.Table:
    """Alarms per bucket, and the busiest position's largest 10-minute count in it."""
    b = _.interval_start if bucket == "10min" else _.interval_start.truncate("h")
    return (ic.mutate(bucket=b).group_by("bucket")
            .agg(alarms=_.alarms.sum(), peak_10min=_.alarms.max()).order_by("bucket"))


def naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Time columns as naive UTC nanoseconds (the engine gives some as TIMESTAMPTZ)."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[c] = col.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]")
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[c] = col.astype("datetime64[ns]")
    return out


def _fill_series(series: pd.DataFrame, f: Filters, bucket: str, interval_s: int) -> pd.DataFrame:
    """Every bucket of the range, empty ones with 0 (a flat line is information too); the
    fine bucket is the rules' interval (10 minutes by ISA-18.2)."""
    freq = f"{interval_s}s" if bucket == "10min" else "1h"
    start = pd.Timestamp(f.lo).floor(freq)
    end = (pd.Timestamp(f.hi) - pd.Timedelta(1, "us")).floor(freq)
    index = pd.date_range(start, end, freq=freq, name="bucket")
    series = naive_utc(series)
    s = series.set_index("bucket").reindex(index, fill_value=0).reset_index()
    s["alarms"] = s["alarms"].astype("int64")
    s["peak_10min"] = s["peak_10min"].astype("int64")
    return s


def _pareto(per_def: pd.DataFrame, actors: pd.DataFrame) -> pd.DataFrame:
    """Definitions by load with share and cumulative share; ``bad_actor`` as ranked by
    :func:`nuisance.bad_actors`."""
    p = per_def[["definition", "alarms", "false_alarm_rate", "chattering"]].copy()
    p["alarms"] = p["alarms"].astype("int64")
    p = p.sort_values(["alarms", "definition"], ascending=[False, True]).reset_index(drop=True)
    total = float(p["alarms"].sum()) or 1.0
    p.insert(0, "rank", range(1, len(p) + 1))
    p["share"] = p["alarms"] / total
    p["cumulative_share"] = p["alarms"].cumsum() / total
    p["bad_actor"] = p["definition"].isin(set(actors["definition"]))
    return p


SCOPE, KEYF, IC = "alarm_scope", "alarm_keyf", "alarm_ic"
"""Names in the snapshot's engine: the view of the filtered alarms (its filter
values are session variables) and the two intermediate tables of one update."""
OPEN_SCOPE, SPANS = "alarm_open_scope", "alarm_spans"
"""The filtered alarms raised by the end of the range, whatever their raise time
(the open alarms at the end of the range are among them), and each system's
log span (first to last record), made with the snapshot."""

_SCOPE_SQL = f"""
CREATE OR REPLACE VIEW {SCOPE} AS SELECT * FROM flagged
WHERE raised_at >= getvariable('opeval_lo') AND raised_at < getvariable('opeval_hi')
  AND (getvariable('opeval_system') = '' OR system_id = getvariable('opeval_system'))
  AND (getvariable('opeval_priority') = 0 OR priority = getvariable('opeval_priority'))
  AND (getvariable('opeval_definition') = '' OR definition = getvariable('opeval_definition'))
  AND (getvariable('opeval_operator') = '' OR assigned_to = getvariable('opeval_operator'))
"""


_OPEN_SCOPE_SQL = f"""
CREATE OR REPLACE VIEW {OPEN_SCOPE} AS SELECT * FROM flagged
WHERE raised_at < getvariable('opeval_hi')
  AND (getvariable('opeval_system') = '' OR system_id = getvariable('opeval_system'))
  AND (getvariable('opeval_priority') = 0 OR priority = getvariable('opeval_priority'))
  AND (getvariable('opeval_definition') = '' OR definition = getvariable('opeval_definition'))
  AND (getvariable('opeval_operator') = '' OR assigned_to = getvariable('opeval_operator'))
"""
OPEN_COLUMNS = ("alarm_id", "system_id", "definition", "resource_id", "priority", "status",
                "assigned_to", "raised_at")


def _bind(con: duckdb.DuckDBPyConnection, f: Filters) -> None:
    """Point the scope view at the filters ``f`` (values passed as parameters)."""
    con.execute("SET VARIABLE opeval_lo = $1::TIMESTAMP", [f.lo])
    con.execute("SET VARIABLE opeval_hi = $1::TIMESTAMP", [f.hi])
    con.execute("SET VARIABLE opeval_system = $1::VARCHAR", [f.system])
    con.execute("SET VARIABLE opeval_priority = $1::INTEGER", [f.priority])
    con.execute("SET VARIABLE opeval_definition = $1::VARCHAR", [f.definition])
    con.execute("SET VARIABLE opeval_operator = $1::VARCHAR", [f.operator])


@functools.lru_cache(maxsize=4)
def _plan(schema: ibis.Schema, rules: AlarmRules, zone: str,
          span: tuple[dt.datetime, dt.datetime]) -> dict[str, str]:
    """The SQL of every view, compiled once from the analysis functions applied to
    *unbound* tables (Ibis): a filter change only sets variables and runs SQL. Hours
    of the day are the clock's of ``zone`` (exact within a year of ``span``)."""
    scope = ibis.table(schema, name=SCOPE)
    keyf_expr = nuisance.key_facts(scope, rules)
    ic_expr = load.interval_counts(scope, "system_id", rules)
    keyf = ibis.table(keyf_expr.schema(), name=KEYF)
    ic = ibis.table(ic_expr.schema(), name=IC)
    exprs = {
        "keyf": keyf_expr, "ic": ic_expr,
        "per": nuisance.per_alarm(keyf).filter(_.chattering | (_.repeat_alarms > 0)),
        "per_def": nuisance.per_alarm(keyf, by=("definition",)),
        "nuisance": nuisance.nuisance_alarms(keyf),
        "actors": nuisance.bad_actors(keyf, rules),
        "series_10min": _bucket_series(ic, "10min"), "series_1h": _bucket_series(ic, "1h"),
        "floods": load.floods(ic, "system_id", rules),
        "summary": lifecycle.summary(scope),
        "overall": false_alarms.overall(scope),
        "heat": false_alarms.rates(false_alarms.as_cube(scope, ("definition", "hour"), zone, span),
                                   ["definition", "hour"]).filter(_.closed > 0),
        "operators": lifecycle.per_operator(scope),
        "handling": handling_quantiles(scope),
    }
    return {name: ibis.to_sql(e, dialect="duckdb") for name, e in exprs.items()}


@functools.lru_cache(maxsize=4)
def _ic_schema(schema: ibis.Schema, rules: AlarmRules) -> ibis.Schema:
    return load.interval_counts(ibis.table(schema, name=SCOPE), "system_id", rules).schema()


@functools.lru_cache(maxsize=64)
def _rates_sql(schema: ibis.Schema, lo: dt.datetime, hi: dt.datetime, rules: AlarmRules) -> str:
    """Rates per system over its window: ``[lo, hi]`` cut to its log span."""
    ic = ibis.table(_ic_schema(schema, rules), name=IC)
    scope = ibis.table(schema, name=SCOPE)
    spans = ibis.table({"system_id": "string", "window_start": "timestamp",
                        "window_end": "timestamp"}, name=SPANS)
    wins = prep.windows(spans, scope, as_of=hi, since=lo)
    return ibis.to_sql(load.rates(ic, wins, rules), dialect="duckdb")


@functools.lru_cache(maxsize=64)
def _open_sql(schema: ibis.Schema, cut: dt.datetime) -> str:
    """The alarms of the filters on the operator's list at ``cut`` (the end of the
    range), whatever their raise time, oldest first."""
    t = ibis.table(schema, name=OPEN_SCOPE)
    return ibis.to_sql(t.filter(nuisance.open_alarms(t, cut)).select(*OPEN_COLUMNS)
                       .order_by("raised_at", "alarm_id"), dialect="duckdb")


def range_end(f: Filters, last: dt.datetime | None) -> dt.datetime:
    """The end of the range (its last instant): the end of ``to``, or the end of the data
    when earlier."""
    end = f.hi - dt.timedelta(microseconds=1)
    return min(end, last) if last is not None else end


def _range(f: Filters, last: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The start of ``from`` (:attr:`Filters.lo`) and :func:`range_end` (never before the
    start)."""
    lo = f.lo
    return lo, max(range_end(f, last), lo)


def compute_views(snap: Snapshot, f: Filters, bucket: str) -> Views:
    """Run every view of the page for the filters ``f`` on the snapshot."""
    epoch = dt.datetime(1970, 1, 1)       # no alarm: no hour to place
    plan = _plan(snap.flagged.schema(), snap.rules, snap.zone,
                 (snap.first or epoch, snap.last or epoch))
    unit = choose_bucket(bucket, f.days)
    with snap.lock:
        con = snap.con
        _bind(con, f)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {KEYF} AS {plan['keyf']}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {IC} AS {plan['ic']}")

        def run(name: str) -> pd.DataFrame:
            return naive_utc(con.execute(plan[name]).df())

        per_def = run("per_def")
        n = int(per_def["alarms"].sum()) if len(per_def) else 0
        per, actors = run("per"), run("actors")
        nuis = run("nuisance")
        nuis = nuis.iloc[0] if len(nuis) else pd.Series(dtype=object)
        series, floods = run(f"series_{unit}"), run("floods")
        rates = None
        lo, hi = _range(f, snap.last)
        if n:
            rates = con.execute(_rates_sql(snap.flagged.schema(), lo, hi, snap.rules)).df()
        summary, overall = run("summary"), run("overall")
        heat, operators, handling = run("heat"), run("operators"), run("handling")
        open_at_end = naive_utc(con.execute(_open_sql(snap.flagged.schema(), hi)).df())
        con.execute(f"DROP TABLE IF EXISTS {KEYF}")
        con.execute(f"DROP TABLE IF EXISTS {IC}")
    chattering = (per[per["chattering"]]
                  .sort_values(["chatter_raises", "alarms"], ascending=False)
                  [["definition", "resource_id", "alarms", "chatter_raises", "chatter_index",
                    "short_gap_max_s", "false_alarm_rate", "priority"]].reset_index(drop=True))
    repeats = per[per["repeat_alarms"] > 0].copy()
    repeats["repeat_share"] = repeats["repeat_alarms"] / repeats["alarms"]
    repeats = (repeats.sort_values(["repeat_alarms", "alarms"], ascending=False)
               [["definition", "resource_id", "alarms", "repeat_alarms", "repeat_share",
                 "false_alarm_rate", "first_raised", "last_raised"]].reset_index(drop=True))
    life = summary.iloc[0] if len(summary) else pd.Series(dtype=object)
    fa = overall.iloc[0] if len(overall) else pd.Series(dtype=object)
    busiest = rates.iloc[0] if rates is not None and len(rates) else None
    kpis = {
        "alarms": n,
        "definitions": len(per_def),
        "peak_per_10min": int(series["peak_10min"].max()) if len(series) else 0,
        "busiest_position": None if busiest is None else busiest["position"],
        "busiest_avg_per_10min": None if busiest is None else float(busiest["avg_per_10min"]),
        "busiest_rate_class": None if busiest is None else rate_class(
            float(busiest["avg_per_10min"]), snap.rules.benchmarks),
        "busiest_rate_grade": None if busiest is None else rate_grade(
            float(busiest["avg_per_10min"]), snap.rules.benchmarks),
        "floods": len(floods),
        "flood_minutes": int(floods["minutes"].sum()) if len(floods) else 0,
        "chattering": _int(nuis.get("chattering_alarms")),
        "fleeting": _int(nuis.get("fleeting_alarms")),
        "repeat_alarms": int(per_def["repeat_alarms"].sum()) if len(per_def) else 0,
        "closed": _int(fa.get("closed")), "false_alarms": _int(fa.get("false_alarms")),
        "false_alarm_rate": _num(fa.get("false_alarm_rate")),
        "median_handle_s": _num(life.get("median_handle_s")),
        "median_close_s": _num(life.get("median_close_s")),
        "escalated_share": _num(life.get("escalated_share")),
        "open": len(open_at_end),
        "open_at": hi,
    }
    series = _fill_series(series, f, unit, snap.rules.interval_s) if n else series
    return Views(kpis=kpis, series=series, bucket=unit, floods=floods,
                 pareto=_pareto(per_def, actors), chattering=chattering, repeats=repeats,
                 heat=heat, operators=operators, handling=handling, open=open_at_end)


def _num(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def _int(v) -> int:
    return 0 if v is None or pd.isna(v) else int(v)


@functools.lru_cache(maxsize=64)
def _cached_views(path: str, file_stamp: tuple, f: Filters, bucket: str) -> Views:
    snap = snapshot(path)
    return compute_views(snap, f, bucket)


# ------------------------------------------------------------------ rationalisation
RATIONALISATION_KEYS = ("avalanches", "consequences", "sequences", "standing_series",
                        "nuisance_scores", "load_pattern")
"""The keys of ``opeval alarms --format json`` the rationalisation tabs show."""
AVALANCHE_RAISE_COLUMNS = ("raised_at", "definition", "resource_id", "priority", "cleared_at",
                           "status", "alarm_id")


@functools.lru_cache(maxsize=8)
def _report(path: str, file_stamp: tuple, f: Filters) -> dict:
    """The alarm report for the alarms of the filters: ``alarm_report`` called as ``opeval
    alarms --since FROM --as-of TO`` calls it (the range's local days), each system over
    its window within the range."""
    snap = snapshot(path)
    with snap.lock:
        return alarm_report(f.apply(snap.raw()), as_of=f.end, since=f.lo, rules=snap.rules,
                            zone=snap.zone)


# ------------------------------------------------------------------ model
@dataclass
class ModelSlot:
    """The false-alarm model of one database in this process."""

    status: str = "none"          # none, ready, failed (a saved model that cannot be read)
    model: object = None          # fam.FittedModel
    source: str = ""              # the file it was loaded from
    message: str = ""


_models: dict[str, ModelSlot] = {}
_models_lock = threading.Lock()


def model_dir(path: str) -> Path:
    """Where ``opeval alarms --fit-model`` saves by default: ``models/`` beside the database."""
    return Path(path).resolve().parent / "models"


def find_saved_model(path: str) -> Path | None:
    """The newest saved model of this version whose metadata names this database."""
    directory = model_dir(path)
    if not directory.is_dir():
        return None
    me = str(Path(path).resolve())
    found = []
    for meta_file in directory.glob(f"{fam.MODEL_VERSION}-*.json"):
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        joblib_file = meta_file.with_suffix(".joblib")
        if meta.get("database") == me and joblib_file.is_file():
            found.append(joblib_file)
    return max(found, key=lambda p: p.name) if found else None


def model_slot(path: str) -> ModelSlot:
    """This database's model: the newest one saved for it (``opeval alarms --fit-model``),
    loaded once per process. The page never trains one nor writes a file: without a
    saved model the slot says so, and a model saved later is found on the next call."""
    path = os.fspath(path)
    with _models_lock:
        slot = _models.setdefault(path, ModelSlot())
        if slot.status == "ready":
            return slot
        saved = find_saved_model(path)
        if saved is None:
            slot.status, slot.message = "none", ""
            return slot
        try:
            slot.model = fam.load_model(saved)
            slot.status, slot.source, slot.message = "ready", f"saved model {saved}", ""
        except fam.ModelError as exc:
            slot.status, slot.message = "failed", str(exc)
        return slot


@functools.lru_cache(maxsize=32)
def _scores(path: str, file_stamp: tuple, model_id: int) -> pd.DataFrame:
    """Every open alarm of the database with its P(false alarm), most likely first."""
    snap = snapshot(path)
    slot = _models[path]
    with snap.lock:
        raw = snap.raw()
        open_ = raw.filter(nuisance.open_alarms(raw))
        # The features of an alarm only look at raises of the same definition and resource.
        keys = open_.select("definition", "resource_id").distinct()
        subset = raw.semi_join(keys, ["definition", "resource_id"])
        rows = fam.score_open(slot.model, subset, rules=snap.rules, limit=1_000_000)
        df = pd.DataFrame(rows, columns=["alarm_id", "definition", "resource_id", "raised_at",
                                         "status", "p_false", "baseline"])
        if len(df):
            extra = (raw.filter(raw.alarm_id.isin(df["alarm_id"].tolist()))
                     .select("alarm_id", "system_id", "priority", "assigned_to").execute())
            df = df.merge(extra, on="alarm_id", how="left")
        else:
            df = df.assign(system_id=None, priority=None, assigned_to=None)
    df["raised_at"] = pd.to_datetime(df["raised_at"])
    df.insert(0, "rank", range(1, len(df) + 1))
    return df[["rank", "alarm_id", "p_false", "baseline", "definition", "resource_id",
               "system_id", "priority", "status", "assigned_to", "raised_at"]]


# ------------------------------------------------------------------ state
NO_FILTER = ""
SEARCHED = ("alarm_id", "definition", "resource_id", "system_id", "assigned_to", "status")
"""The columns of the open-alarm list the operator's free-text search looks in."""


def warm(path: str) -> None:
    """Compute what the page shows first — the snapshot, the filter choices, every
    view for the default filters — so the first visitor finds it cached (called in
    the background when the server starts)."""
    state = AlarmsState(path)
    if state.has_alarms():
        state.options()
        state.views()


class AlarmsState(param.Parameterized):
    """Filters and views of the ``/alarms`` page."""

    start = param.CalendarDate(default=None, allow_None=True,
                               doc="First day of the time range (raise time, days of the "
                                   "database's time zone).")
    end = param.CalendarDate(default=None, allow_None=True,
                             doc="Last day of the time range (included).")
    system = param.String(default=NO_FILTER, doc="Only this system ('' every system).")
    priority = param.Integer(default=0, bounds=(0, 5), doc="Only this priority (0 every one).")
    definition = param.String(default=NO_FILTER, doc="Only this alarm definition.")
    operator = param.String(default=NO_FILTER, doc="Only alarms assigned to this operator.")
    bucket = param.Selector(default="auto", objects=list(BUCKETS),
                            doc="Load over time per 10 minutes, per hour, or auto.")
    measure = param.Selector(default="handle", objects=list(MEASURES),
                             doc="Handling times shown: time to handle or to close.")
    history_definition = param.String(default=NO_FILTER,
                                      doc="Alarm definition whose history is reviewed.")
    history_resource = param.String(default=NO_FILTER,
                                    doc="Only this resource in the history ('' every one).")
    history_page = param.Integer(default=1, bounds=(1, None), doc="1-based page of history.")
    page_size = param.Integer(default=20, bounds=(1, 1000))
    search = param.String(default="", doc="Only open alarms whose id, definition, resource, "
                                          "system, operator or status contains this text "
                                          "(any case).")
    open_status = param.Selector(default=NO_FILTER, objects=[NO_FILTER, *OPEN_STATUSES],
                                 doc="Only open alarms of this status ('' every one).")
    mine = param.Boolean(default=False, doc="Only open alarms assigned to the signed-in user.")
    user = param.String(default="", constant=True,
                        doc="The signed-in user ('' when the server runs without --auth).")
    seen_stamp = param.Parameter(
        default=None, precedence=-1,
        doc="The database's stamp (:func:`~evaluation.views.queries.stamp`) when the state "
            "last looked at it (made, or :meth:`refresh`): another stamp now means a load "
            "came since. Held here because nothing else keeps it: the snapshot and the caches "
            "follow the current stamp. Internal: no widget, not in the address.")
    seen_range = param.Tuple(
        default=None, allow_None=True, length=2, precedence=-1,
        doc="The default range (:meth:`default_range`) of the data at :attr:`seen_stamp`: a "
            "range still equal to it was left at its default, and :meth:`refresh` moves it "
            "with the data. Held here because after a load it cannot be computed again (the "
            "snapshot is then of the new data). Internal: no widget, not in the address.")

    def __init__(self, path: str | os.PathLike, **params):
        self.path = os.fspath(path)
        super().__init__(**params)
        self._look(stamp(self.path))
        default = self.seen_range
        if default and self.end is None:
            self.end = default[1]
        if default and self.start is None:
            self.start = default[0]

    def _look(self, now: tuple) -> None:
        """Note the stamp ``now``, read before the data, and the data's default range
        (:attr:`seen_stamp`, :attr:`seen_range`): a load after ``now`` is seen at the next
        :meth:`refresh` even when the range already holds its data."""
        self.param.update(seen_stamp=now, seen_range=self.default_range())

    def default_range(self) -> tuple[dt.date, dt.date] | None:
        """The last :data:`DEFAULT_DAYS` days of data (all of it when shorter), ending with
        the last local day with data (never the machine's clock)."""
        days = self.data_range()
        if days is None:
            return None
        first, end = days
        return max(first, end - dt.timedelta(days=DEFAULT_DAYS - 1)), end

    # -------------------------------------------------------------- basics
    def _snap(self) -> Snapshot:
        return snapshot(self.path)

    def has_alarms(self) -> bool:
        return self._snap().alarms > 0

    def data(self) -> period.Data:
        """The alarms' span, first raise to last record."""
        snap = self._snap()
        return period.Data(snap.first, snap.last) if snap.alarms else period.Data(None, None)

    def data_range(self) -> tuple[dt.date, dt.date] | None:
        """The first and the last local day with data (None without any alarm)."""
        data, zone = self.data(), self._snap().zone
        return None if data.empty else (data.first_day(zone), data.last_day(zone))

    @property
    def rules(self) -> AlarmRules:
        """The rules in force (the settings file beside the database)."""
        return self._snap().rules

    def filters(self) -> Filters:
        first, last = self.data_range() or (EPOCH, EPOCH)
        start, end = self.start or first, self.end or last
        if start > end:
            start, end = end, start
        return Filters(start, end, self.system, self.priority, self.definition, self.operator,
                       self._snap().zone)

    def covered(self) -> period.Covered:
        """The range as a period, with the alarms' data (:mod:`evaluation.period`)."""
        f = self.filters()
        return period.Covered(f.lo, f.hi, f.zone, self.data())

    def period_note(self) -> tuple[dict, list[str]]:
        """The range's ``period`` and its warnings, as ``opeval alarms`` gives them."""
        c = self.covered()
        return c.as_dict(), c.warnings(OUTSIDE_DATA)

    def options(self) -> dict[str, list]:
        """Values present in the database for each filter (independent of the others)."""
        return dict(_options(self.path, stamp(self.path)))

    def views(self) -> Views:
        """Every chart and table of the page for the current filters (cached)."""
        return _cached_views(self.path, stamp(self.path), self.filters(), self.bucket)

    def handling(self) -> pd.DataFrame:
        """Five-number summaries of the chosen measure per operator."""
        h = self.views().handling
        return h[h["measure"] == MEASURES[self.measure]].reset_index(drop=True)

    # -------------------------------------------------------------- history review
    def history_resources(self) -> list[str]:
        """Resources that raised the history's definition under the current filters."""
        if not self.history_definition:
            return []
        return list(_history_resources(self.path, stamp(self.path), self.filters(),
                                       self.history_definition))

    def _history_expr(self) -> ibis.Table:
        snap = self._snap()
        t = self.filters().apply(snap.flagged)
        h = nuisance.history(t, self.history_definition, self.history_resource or None)
        comments = t.select("alarm_id", "comment", "handled_at", "closed_at")
        return h.join(comments, "alarm_id").select(
            "raised_at", "resource_id", "system_id", "priority", "gap_s", "chatter", "repeat",
            "handled_at", "handle_s", "closed_at", "close_s", "clear_s", "status",
            "close_reason", "assigned_to", "comment", "alarm_id").order_by("raised_at",
                                                                             "alarm_id")

    def history_total(self) -> int:
        if not self.history_definition:
            return 0
        snap = self._snap()
        with snap.lock:
            return int(self._history_expr().count().execute())

    def history_pages(self) -> int:
        return max(1, math.ceil(self.history_total() / self.page_size))

    def history_rows(self) -> pd.DataFrame:
        """The current page of the history review, oldest raise first."""
        if not self.history_definition:
            return _empty_history()
        snap = self._snap()
        offset = (self.history_page - 1) * self.page_size
        with snap.lock:
            return self._history_expr().limit(self.page_size, offset=offset).execute()

    def history_csv(self) -> bytes:
        if not self.history_definition:
            return to_csv(_empty_history()).encode()
        snap = self._snap()
        with snap.lock:
            return to_csv(self._history_expr().execute()).encode()

    @param.depends("history_definition", "history_resource", "start", "end", "system",
                   "priority", "definition", "operator", "page_size", watch=True)
    def _reset_history_page(self):
        self.history_page = 1

    # -------------------------------------------------------------- rationalisation
    def rationalisation(self) -> dict:
        """Avalanches, consequential alarms and suppression advice, sequences, the
        standing series, nuisance scores and the load pattern for the filters
        (JSON-ready, as ``opeval alarms --format json``; cached)."""
        rep = _report(self.path, stamp(self.path), self.filters())
        return {k: rep[k] for k in (*RATIONALISATION_KEYS, "kpis", "rates")}

    def report_pdf(self) -> bytes:
        """The alarm report of the filters printed, as ``opeval alarms --format pdf`` prints
        it for the same alarms and range (:mod:`evaluation.reports.pdf`)."""
        from ..reports.pdf import alarms_pdf
        return alarms_pdf(_report(self.path, stamp(self.path), self.filters()))

    def avalanche_raises(self, system_id: str | None, start, end) -> pd.DataFrame:
        """The drill-down of one avalanche: its raises (of the filters) in time order."""
        snap = self._snap()
        with snap.lock:
            t = avalanches.raises_of(self.filters().apply(snap.flagged), system_id,
                                     pd.Timestamp(start).to_pydatetime(),
                                     pd.Timestamp(end).to_pydatetime())
            return naive_utc(t.select(*AVALANCHE_RAISE_COLUMNS).execute())

    def advice_episodes(self, trigger: tuple[str, str], consequence: tuple[str, str]
                        ) -> pd.DataFrame:
        """The drill-down of one pair: each episode of the trigger and whether (and
        when) the consequence followed within the window, for the filters."""
        snap = self._snap()
        with snap.lock:
            t = self.filters().apply(snap.raw())
            return naive_utc(consequences.trigger_episodes(t, trigger, consequence, snap.rules)
                             .execute())

    # -------------------------------------------------------------- model
    def model(self) -> ModelSlot:
        """This database's saved model, if any (:func:`model_slot`)."""
        return model_slot(self.path)

    def open_alarms(self) -> pd.DataFrame:
        """Alarms on the operator's list at the end of the range (whatever their
        raise time) that match the filters, most likely false alarm first when a
        model is saved for this database; without one, unscored, oldest first. An
        alarm open then but closed since has no score (the model scores the alarms
        open now) and comes after the scored ones."""
        slot = self.model()
        listed = self.views().open
        if slot.status == "ready":
            scores = _scores(self.path, stamp(self.path), id(slot.model))
            out = listed.merge(scores[["alarm_id", "p_false", "baseline"]], on="alarm_id",
                               how="left")
        else:
            out = listed.assign(p_false=float("nan"), baseline=float("nan"))
        out = out.sort_values(["p_false", "raised_at", "alarm_id"],
                              ascending=[False, True, True], na_position="last")
        out.insert(0, "rank", range(1, len(out) + 1))
        return out[["rank", "alarm_id", "p_false", "baseline", "definition", "resource_id",
                    "system_id", "priority", "status", "assigned_to", "raised_at"]
                   ].reset_index(drop=True)

    def open_list(self) -> pd.DataFrame:
        """The operator's screen: :meth:`open_alarms` narrowed to a status, to the alarms
        assigned to the signed-in user (none without one: nobody is "me"), and to those
        whose :data:`SEARCHED` columns contain the search text. Ranks stay those of the
        whole list."""
        out = self.open_alarms()
        if self.open_status:
            out = out[out["status"] == self.open_status]
        if self.mine:
            out = out[out["assigned_to"] == self.user] if self.user else out.iloc[0:0]
        text = self.search.strip().casefold()
        if text and len(out):
            hay = out[list(SEARCHED)].astype("string").fillna("").agg(" ".join, axis=1)
            out = out[hay.str.casefold().str.contains(text, regex=False)]
        return out.reset_index(drop=True)

    def refresh(self) -> bool:
        """Follow the store after a load: True when its data changed since the last call.
        A range left at its default (the last days of data) moves with the data, so new
        alarms show on the operator's screen; a range the user chose stays."""
        now = stamp(self.path)
        if now == self.seen_stamp:
            return False
        old = self.seen_range
        self._look(now)
        new = self.seen_range
        if old is not None and (self.start, self.end) == old and new is not None:
            self.param.update(start=new[0], end=new[1])
        return True

    def model_summary(self) -> dict:
        """Which model ranks the open alarms and how it was evaluated (metadata)."""
        slot = self.model()
        meta = dict(getattr(slot.model, "metadata", {}) or {})
        return dict(status=slot.status, source=slot.source, message=slot.message, **meta)


@functools.lru_cache(maxsize=8)
def _options(path: str, file_stamp: tuple) -> tuple:
    snap = snapshot(path)
    with snap.lock:
        t = snap.flagged

        def values(col):
            return [v for v in t.select(col).distinct().order_by(col).execute()[col].tolist()
                    if v is not None and not (isinstance(v, float) and math.isnan(v))]

        return (("system", values("system_id")), ("priority", [int(p) for p in values("priority")]),
                ("definition", values("definition")), ("operator", values("assigned_to")))


@functools.lru_cache(maxsize=64)
def _history_resources(path: str, file_stamp: tuple, f: Filters, definition: str) -> tuple:
    snap = snapshot(path)
    with snap.lock:
        t = f.apply(snap.flagged).filter(_.definition == definition)
        df = (t.group_by("resource_id").agg(alarms=_.count())
              .order_by(ibis.desc("alarms"), "resource_id").execute())
    return tuple(df["resource_id"].tolist())


def _empty_history() -> pd.DataFrame:
    return pd.DataFrame(columns=["raised_at", "resource_id", "system_id", "priority", "gap_s",
                                 "chatter", "repeat", "handled_at", "handle_s", "closed_at",
                                 "close_s", "clear_s", "status", "close_reason", "assigned_to",
                                 "comment", "alarm_id"])
