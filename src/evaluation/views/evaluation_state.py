"""State of the ``/evaluation`` page: the chapter 6 evaluation for the risk manager (no Panel here).

Everything shown on the page comes from the analysis package
:mod:`evaluation.analyses.efficiency`: :func:`~evaluation.analyses.efficiency.evaluate`
(indicators, findings, classification, disposition, exposure, expected
failures, monthly trend), :func:`~evaluation.analyses.efficiency.metrics.service_life`
(each device's service life, 5.1.2) and
:func:`~evaluation.analyses.efficiency.metrics.data_span` (the default as-of
date, the last day with data, as ``opeval evaluate`` uses it). This module only selects, reshapes
and formats their small results.

Cost and cache. The evaluation runs over the *whole* database at once (its
survival model is fitted over every device, exactly as ``opeval evaluate``
does without ``--system``) and takes seconds on a large database, so it is
computed once per (database file, database stamp, as-of date, window) in a
background worker and kept in a small process-wide cache shared by every
session. Choosing systems only slices the cached result: no query at all.
A new load changes the stamp, so the next request evaluates again.
"""
from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import duckdb
import ibis
import pandas as pd
import param

from .. import config
from ..analyses.efficiency import DEFAULT, evaluate, metrics
from ..csv_export import to_csv
from ..errors import OpevalError, public_message
from ..reports import evaluation as report
from .queries import ReadOnlyStore, stamp

log = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 3650
STATUSES = ("conforming", "nonconforming", "not_applicable")
LIFE_STATUSES = ("past", "due", "ok", "no_rule", "unknown_age")

OVERVIEW_COLUMNS = (
    "system_id", "name", "classification", "disposition", "availability", "mtbf_h", "mttr_h",
    "sla_response", "sla_arrival", "sla_repair", "sla_response_report", "sla_arrival_report",
    "sla_repair_report", "maintenance_overdue", "days_since_maintenance",
    "devices_past_life", "repeat_fault_devices", "open_faults", "nonconforming",
    "expected_failures_next_cycle", "valid_until", "disposition_reasons", "site", "risk_level")
FINDING_COLUMNS = ("clause", "requirement", "status", "severity", "evidence", "corrective_action")
CYCLE_COLUMNS = ("subsystem", "devices", "cycle_start", "last_maintenance", "due", "status")
MONTHLY_COLUMNS = ("month", "faults", "mttr_h", "repair_share")
DEVICE_COLUMNS = ("device_id", "subsystem", "device_type", "zone", "installed_on", "life_years",
                  "end_of_life", "age_years", "life_used", "life_status")
EXPOSURE_COLUMNS = ("zone", "subsystem", "devices", "exposure_h", "episodes", "over_limit")
EXPECTED_COLUMNS = ("subsystem", "device_type", "devices", "down_now", "expected_failures", "model")


class IdList(param.List):
    """A list of identifiers, shown in the URL as ``A,B,C`` (a JSON list is read too)."""

    @classmethod
    def serialize(cls, value):
        return None if value is None else ",".join(value)

    @classmethod
    def deserialize(cls, value):
        if value is None or value == "null":
            return []
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [v for v in str(value).split(",") if v]


class IdString(param.String):
    """An identifier; a URL value that looks like a number is read back as text."""

    @classmethod
    def deserialize(cls, value):
        return None if value is None or value == "null" else str(value)


# ------------------------------------------------------------------ the whole-database result

@dataclass
class Result:
    """One whole-database evaluation (small, JSON-ready) plus the devices' service life."""

    as_of: dt.date | None
    window_days: int
    evaluation: dict | None = None                   # Evaluation.as_dict()
    by_id: dict[str, dict] = field(default_factory=dict)
    devices: pd.DataFrame | None = None              # one row per active device, every system
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.evaluation is not None


_LOCK = threading.Lock()
_JOBS: collections.OrderedDict[tuple, Future] = collections.OrderedDict()
_AS_OF: dict[tuple, dt.date | None] = {}
_MAX_JOBS = 6
_EXECUTOR: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _EXECUTOR
    if _EXECUTOR is None:
        # one worker: the machine's cores go to DuckDB, one evaluation at a time is enough
        _EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opeval-evaluation")
    return _EXECUTOR


def clear_cache() -> None:
    """Forget every cached evaluation (tests; results stay valid otherwise thanks to the stamp)."""
    with _LOCK:
        _JOBS.clear()
        _AS_OF.clear()


def _first_line(exc: BaseException) -> str:
    """What the page may show of an error: one line, no path or process id."""
    return public_message(exc)


def _open(path: str):
    from ..store.engine import open_tables
    return open_tables(path)


def last_day_with_data(path: str) -> dt.date | None:
    """The analysis' default as-of date for the database at ``path``: the last local day
    (of its time zone) with a fault, maintenance or alarm record, as ``opeval evaluate``
    uses it (:mod:`evaluation.period`); None without any record. Cached on its stamp."""
    key = (path, stamp(path))
    with _LOCK:
        if key in _AS_OF:
            return _AS_OF[key]
    tables = _open(path)
    try:
        value = metrics.data_span(tables).last_day(tables.zone)
    finally:
        tables.backend.disconnect()
    with _LOCK:
        _AS_OF[key] = value
    return value


def _devices_life(tables, as_of: dt.date, cfg) -> pd.DataFrame:
    """Each active device's service life (5.1.2) as the analysis states it, with its age.

    The status (``past``, ``due``, ``ok``, ``no_rule``, ``unknown_age``) and the
    end of life come from :func:`metrics.service_life`; the age in years
    (days since installation / 365.25) and the share of the life used are
    only for drawing the bars.
    """
    p = metrics.Period(as_of, cfg.window_days, tables.zone)
    settings = metrics.system_settings(tables["systems"], cfg, p)
    life = metrics.service_life(metrics.device_service(tables["devices"], p), settings, p, cfg)
    age_days = ibis.literal(as_of).delta(life.installed_on, unit="day")
    age = age_days / 365.25
    life = life.select(
        "system_id", "device_id", "subsystem", "device_type", "zone", "installed_on", "life_years",
        "end_of_life", "life_status", age_years=age,
        life_used=ibis.ifelse(life.life_years > 0, age / life.life_years, ibis.null("float64")))
    return life.order_by(["system_id", "device_id"]).execute()


def _run(path: str, as_of: dt.date | None, window_days: int) -> Result:
    """Evaluate every system of the database (the work of one background job) with the
    thresholds of its settings file (:func:`evaluation.config.for_database`)."""
    t0 = time.perf_counter()
    try:
        tables = _open(path)
        cfg = replace(config.for_database(path).evaluation, window_days=window_days)
    except OpevalError as exc:
        return Result(as_of, window_days, error=_first_line(exc))
    try:
        ev = evaluate(tables, as_of=as_of, config=cfg).as_dict()
        devices = _devices_life(tables, dt.date.fromisoformat(ev["as_of"]), cfg)
    except ValueError as exc:           # nothing to evaluate (the analysis says why)
        return Result(as_of, window_days, error=str(exc))
    except (duckdb.Error, OpevalError) as exc:
        return Result(as_of, window_days, error=f"cannot read the database right now ({_first_line(exc)})")
    except Exception as exc:  # a worker must answer, or the page waits forever
        log.exception("evaluation as of %s over %s days failed", as_of, window_days)
        return Result(as_of, window_days, error=f"the evaluation failed ({type(exc).__name__}: "
                                                 f"{_first_line(exc)})")
    finally:
        tables.backend.disconnect()
    for col in ("installed_on", "end_of_life"):
        devices[col] = pd.to_datetime(devices[col]).dt.date
    by_id = {s["system_id"]: s for s in ev["systems"]}
    return Result(dt.date.fromisoformat(ev["as_of"]), window_days, ev, by_id, devices,
                  time.perf_counter() - t0)


def submit(path: str, as_of: dt.date | None, window_days: int) -> Future:
    """The (possibly running, possibly finished) job evaluating the database as of ``as_of``.

    Jobs are shared by every session and kept for the last few keys; a job
    that failed (e.g. the database was being written) is dropped once
    finished, so asking again retries.
    """
    key = (path, stamp(path), as_of, int(window_days))
    with _LOCK:
        job = _JOBS.get(key)
        if job is not None and job.done() and job.result().error:
            _JOBS.pop(key)
            job = None
        if job is None:
            job = _executor().submit(_run, path, as_of, int(window_days))
            _JOBS[key] = job
            while len(_JOBS) > _MAX_JOBS:
                _JOBS.popitem(last=False)
        else:
            _JOBS.move_to_end(key)
        return job


def warm(path: str, window_days: int | None = None) -> Future | None:
    """Start the evaluation the page shows first (default as-of date, default window).

    For a server that wants the first visit of ``/evaluation`` to find it
    ready: call it once at start-up; it returns at once (the work runs in the
    background worker). None when the database holds no system.
    """
    store = ReadOnlyStore(path)
    if not store.value("SELECT count(*) FROM systems"):
        return None
    as_of = last_day_with_data(store.path)
    days = window_days or config.for_database(store.path).evaluation.window_days
    return None if as_of is None else submit(store.path, as_of, days)


# ------------------------------------------------------------------ the page state

def _fmt_list(values) -> str:
    return "; ".join(values or [])


class EvaluationState(param.Parameterized):
    """Filters of the ``/evaluation`` page and the frames its views show.

    ``systems`` selects the systems of the overview (empty: every system);
    ``system`` is the one system whose findings, trend, devices, exposure,
    expected failures and report are shown (default: the first selected).
    ``as_of`` None means the analysis' default, the latest event date.
    """

    systems = IdList(default=[], item_type=str, doc="Systems compared in the overview (empty: all).")
    system = IdString(default=None, allow_None=True, doc="The system shown in detail.")
    as_of = param.CalendarDate(default=None, allow_None=True,
                               doc="Evaluation date (None: the latest event date in the data).")
    window_days = param.Integer(default=DEFAULT.window_days, bounds=(1, MAX_WINDOW_DAYS),
                                doc="Look-back window ending at the as-of date, in days.")

    def __init__(self, store: ReadOnlyStore, **params):
        self.store = store
        super().__init__(**params)
        if "window_days" not in params:   # the settings file's window, as the CLI's
            self.window_days = config.for_database(store.path).evaluation.window_days

    # ---------------------------------------------------------------- reference data
    def system_table(self) -> pd.DataFrame:
        """Every system of the database: id and name, by id."""
        return self.store.df("SELECT system_id, name FROM systems ORDER BY system_id")

    def system_ids(self) -> list[str]:
        return self.system_table()["system_id"].tolist()

    def has_systems(self) -> bool:
        return bool(self.store.value("SELECT count(*) FROM systems"))

    def system_options(self) -> dict[str, str]:
        """Label -> system id for the selectors (``SYS-0001 · North gate``)."""
        out = {}
        for r in self.system_table().itertuples():
            label = r.system_id if pd.isna(r.name) or not r.name else f"{r.system_id} · {r.name}"
            out[label] = r.system_id
        return out

    def default_as_of(self) -> dt.date | None:
        """The last day with a fault, maintenance or alarm record (None without any: the
        evaluation then needs a date, as ``opeval evaluate`` does; never the clock)."""
        return last_day_with_data(self.store.path)

    def effective_as_of(self) -> dt.date | None:
        return self.as_of or self.default_as_of()

    def selected(self) -> list[str]:
        """The systems of the overview: the chosen ones that exist, else every system."""
        known = self.system_ids()
        chosen = [s for s in self.systems if s in set(known)]
        return chosen or known

    def focus(self) -> str | None:
        """The system shown in detail: ``system`` if it is among the selected, else the first."""
        sel = self.selected()
        if self.system in sel:
            return self.system
        return sel[0] if sel else None

    # ---------------------------------------------------------------- the evaluation
    def job(self) -> Future:
        """The background job of the current as-of date and window (started if needed)."""
        return submit(self.store.path, self.effective_as_of(), self.window_days)

    def result(self, timeout: float | None = None) -> Result:
        """The whole-database evaluation of the current as-of date and window (waits for it)."""
        return self.job().result(timeout)

    def _system(self, res: Result, system_id: str | None = None) -> dict | None:
        sid = self.focus() if system_id is None else system_id
        return res.by_id.get(sid) if res.ok and sid is not None else None

    # ---------------------------------------------------------------- frames for the views
    def overview(self, res: Result) -> pd.DataFrame:
        """One row per selected system: verdict and headline indicators."""
        rows = []
        for sid in self.selected():
            s = res.by_id.get(sid)
            if s is None:
                continue
            rows.append({
                "system_id": sid, "name": s["name"], "site": s["site"], "risk_level": s["risk_level"],
                "classification": s["classification"], "disposition": s["disposition"],
                "disposition_reasons": _fmt_list(s["disposition_reasons"]),
                "availability": s["availability"], "mtbf_h": s["mtbf_h"], "mttr_h": s["mttr_h"],
                "sla_response": s["sla"]["response"], "sla_arrival": s["sla"]["arrival"],
                "sla_repair": s["sla"]["repair"],
                **{f"sla_{step}_report": v for step, v in s["sla_from_report"].items()},
                "maintenance_overdue": s["maintenance_overdue"],
                "days_since_maintenance": s["days_since_maintenance"],
                "devices_past_life": len(s["devices_past_service_life"]),
                "repeat_fault_devices": len(s["repeat_fault_devices"]),
                "open_faults": s["open_faults_count"],
                "nonconforming": sum(f["status"] == "nonconforming" for f in s["findings"]),
                "expected_failures_next_cycle": s["expected_failures_next_cycle"],
                "valid_until": s["valid_until"],
            })
        return pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))

    def fleet(self, res: Result) -> dict:
        """The selected systems together: how many of each classification, their device
        availability (up device-hours over device-hours in service, all systems pooled),
        faults, open faults, overdue maintenance, devices past their life, nonconformities."""
        systems = [res.by_id[sid] for sid in self.selected() if sid in res.by_id]
        hours = sum(s["device_hours"] for s in systems)
        down = sum(s["down_hours"] for s in systems)
        return {
            "systems": len(systems),
            "classification": {c: sum(s["classification"] == c for s in systems)
                               for c in report.CLASS_LABEL},
            "availability": (hours - down) / hours if hours else None,
            "faults": sum(s["faults"] or 0 for s in systems),
            "open_faults": sum(s["open_faults_count"] or 0 for s in systems),
            "maintenance_overdue": sum(bool(s["maintenance_overdue"]) for s in systems),
            "devices_past_life": sum(len(s["devices_past_service_life"]) for s in systems),
            "nonconforming": sum(f["status"] == "nonconforming" for s in systems for f in s["findings"]),
        }

    def finding_keys(self, res: Result) -> list[str]:
        """The key of each of the focused system's findings, in the order of :meth:`findings`."""
        s = self._system(res)
        return [] if s is None else [f["key"] for f in s["findings"]]

    def indicators(self, res: Result) -> dict | None:
        """The focused system's headline figures and verdict (None when nothing is evaluated)."""
        s = self._system(res)
        if s is None:
            return None
        return {
            "system_id": s["system_id"], "name": s["name"], "site": s["site"],
            "risk_level": s["risk_level"],
            "availability": s["availability"], "mtbf_h": s["mtbf_h"], "mttr_h": s["mttr_h"],
            "faults": s["faults"], "open_faults": s["open_faults_count"],
            "devices": s["devices"], "device_hours": s["device_hours"], "down_hours": s["down_hours"],
            "sla": dict(s["sla"]), "sla_limits_h": dict(s["sla_limits_h"]),
            "sla_from_report": dict(s["sla_from_report"]),
            "sla_unrecorded": {step: c["unrecorded"] for step, c in s["sla_counts"].items()},
            # the findings decide conformity (missing times make a limit nonconforming at any share)
            "sla_status": {step: next(f["status"] for f in s["findings"] if f["key"] == f"sla_{step}")
                           for step in s["sla"]},
            "classification": s["classification"], "disposition": s["disposition"],
            "disposition_reasons": list(s["disposition_reasons"]), "valid_until": s["valid_until"],
            "evidence_reason": s["observation"]["reason"],
            "records_in_window": s["observation"]["records_in_window"],
            "as_of": res.evaluation["as_of"], "window": dict(res.evaluation["window"]),
            "expected_failures_next_cycle": s["expected_failures_next_cycle"],
            "cycle_days": s["cycle_days"], "cycle": s["cycle"],
            # the analysis' targets, for colouring (its findings decide conformity)
            "availability_target": res.evaluation["config"]["availability_target"],
            "sla_target": res.evaluation["config"]["sla_target"],
        }

    def findings(self, res: Result) -> pd.DataFrame:
        """The focused system's audit checklist, in clause order."""
        s = self._system(res)
        rows = [] if s is None else [{c: f[c] for c in FINDING_COLUMNS} for f in s["findings"]]
        return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))

    def cycle(self, res: Result) -> pd.DataFrame:
        """The focused system's 5.1.2 cycle per subsystem in service (5.1.5): last visit, due date, status."""
        s = self._system(res)
        if s is None:
            return pd.DataFrame(columns=list(CYCLE_COLUMNS))
        rows = [{"subsystem": c["subsystem"] or "whole system", "devices": c["devices"],
                 "cycle_start": c["cycle_start"], "last_maintenance": c["last_maintenance"], "due": c["due"],
                 "status": report.CYCLE_LABEL[c["status"]]} for c in s["maintenance_cycle"]]
        return pd.DataFrame(rows, columns=list(CYCLE_COLUMNS))

    def monthly(self, res: Result) -> pd.DataFrame:
        """Faults and MTTR per calendar month of the window; months without a fault show 0 faults."""
        s = self._system(res)
        if s is None:
            return pd.DataFrame(columns=list(MONTHLY_COLUMNS))
        win = res.evaluation["window"]
        first = dt.date.fromisoformat(win["start"]).replace(day=1)
        last = dt.date.fromisoformat(win["end"]).replace(day=1)
        months = pd.date_range(first, last, freq="MS").date
        got = {dt.date.fromisoformat(m["month"]): m for m in s["monthly"]}
        rows = [{"month": m, "faults": got[m]["faults"] if m in got else 0,
                 "mttr_h": got[m]["mttr_h"] if m in got else None,
                 "repair_share": got[m]["repair_share"] if m in got else None} for m in months]
        out = pd.DataFrame(rows, columns=list(MONTHLY_COLUMNS))
        return out.astype({"faults": "int64", "mttr_h": "float64", "repair_share": "float64"})

    def devices(self, res: Result) -> pd.DataFrame:
        """The focused system's active devices with their service life, most worn first.

        Order: past their life, then due within the next cycle, then the rest;
        within each, by the share of the life used (largest first).
        """
        sid = self.focus()
        if not res.ok or sid is None:
            return pd.DataFrame(columns=list(DEVICE_COLUMNS))
        d = res.devices[res.devices["system_id"] == sid]
        rank = d["life_status"].map({k: i for i, k in enumerate(LIFE_STATUSES)})
        d = d.assign(_rank=rank).sort_values(["_rank", "life_used", "device_id"],
                                             ascending=[True, False, True], na_position="last")
        return d[list(DEVICE_COLUMNS)].reset_index(drop=True)

    def exposure(self, res: Result) -> pd.DataFrame:
        """The focused system's zones: hours without any working detection (or video), longest first."""
        s = self._system(res)
        if s is None:
            return pd.DataFrame(columns=list(EXPOSURE_COLUMNS))
        limit = self.exposure_limit_h(res)
        rows = [{**{c: z[c] for c in EXPOSURE_COLUMNS[:-1]}, "over_limit": z["exposure_h"] > limit}
                for z in s["exposure"]]
        out = pd.DataFrame(rows, columns=list(EXPOSURE_COLUMNS))
        # longest exposure first (the analysis lists them by zone)
        return out.sort_values(["exposure_h", "zone", "subsystem"], ascending=[False, True, True],
                               kind="stable").reset_index(drop=True)

    def exposure_limit_h(self, res: Result) -> float:
        return float(res.evaluation["config"]["exposure_limit_h"]) if res.ok else DEFAULT.exposure_limit_h

    def expected(self, res: Result) -> pd.DataFrame:
        """The focused system's expected failures in its next maintenance cycle, per device group."""
        s = self._system(res)
        rows = [] if s is None else [{c: e[c] for c in EXPECTED_COLUMNS} for e in s["expected_failures"]]
        out = pd.DataFrame(rows, columns=list(EXPECTED_COLUMNS))
        return out.sort_values("expected_failures", ascending=False, na_position="last",
                               kind="stable").reset_index(drop=True)

    def report_html(self, res: Result) -> str:
        """The printable report of the focused system: the page ``opeval evaluate --format html`` writes."""
        sid = self.focus()
        if not res.ok or sid not in res.by_id:
            raise OpevalError("no evaluated system to report on")
        return report.render(res.evaluation, [sid])

    def report_pdf(self, res: Result) -> bytes:
        """The focused system's printed report as PDF: the file ``opeval evaluate --format pdf
        --out DIR/`` writes for it (:mod:`evaluation.reports.pdf`)."""
        from ..reports.pdf import evaluation_pdf
        sid = self.focus()
        if not res.ok or sid not in res.by_id:
            raise OpevalError("no evaluated system to report on")
        return evaluation_pdf(res.evaluation, [sid], fleet=False)

    def report_filename(self, suffix: str = "html") -> str:
        return f"evaluation-{report.safe_name(self.focus() or 'system')}.{suffix}"

    @staticmethod
    def csv(frame: pd.DataFrame) -> bytes:
        return to_csv(frame).encode()
