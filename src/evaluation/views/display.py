"""What the pages show instead of machine names and raw numbers, defined once.

Every table of every page goes through :func:`dress` (``layout.table`` calls it):
its headers are :func:`label` of the columns, codes are shown in words
(:data:`VALUE_LABELS`), durations as "22 d 9 h" (:func:`duration`), shares as
percentages, and a missing value as :data:`MISSING` everywhere. Only what is
shown changes: a table's ``value`` — and so every CSV download — keeps the
machine-readable column names and values (the contract of docs/dashboards.md).
Cards and notes use the same functions, so the pages speak one language.
"""
from __future__ import annotations

import html
import json
import math

import pandas as pd
import panel as pn
from bokeh.models import NumeralTickFormatter
from bokeh.models.widgets.tables import NumberFormatter
from panel.io.model import JSCode

from ..reports.evaluation import CLASS_LABEL, DISPOSITION_LABEL

MISSING = "–"
"""The one sign of a missing value on every page."""

UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
"""The units of a duration, largest first (name, seconds)."""

LABELS = {
    # evaluation
    "system_id": "System", "name": "Name", "classification": "Classification",
    "disposition": "Disposition", "availability": "Availability",
    "mtbf_h": "MTBF (mean time between failures)", "mttr_h": "MTTR (mean time to repair)",
    "sla_response": "Response in time", "sla_arrival": "Arrival in time",
    "sla_repair": "Repair in time", "sla_response_report": "Response in time (from report)",
    "sla_arrival_report": "Arrival in time (from report)",
    "sla_repair_report": "Repair in time (from report)",
    "maintenance_overdue": "Maintenance overdue", "days_since_maintenance": "Days since maintenance",
    "devices_past_life": "Devices past service life", "repeat_fault_devices": "Devices with repeat faults",
    "open_faults": "Open faults", "nonconforming": "Nonconforming findings",
    "expected_failures_next_cycle": "Expected failures next cycle", "valid_until": "Valid until",
    "disposition_reasons": "Why", "site": "Site", "risk_level": "Risk level",
    "clause": "Clause", "requirement": "Requirement", "severity": "Severity",
    "evidence": "Evidence", "corrective_action": "Corrective action", "see": "Evidence in",
    "device_id": "Device", "subsystem": "Subsystem", "device_type": "Device type",
    "zone": "Zone", "installed_on": "Installed on", "life_years": "Service life (years)",
    "end_of_life": "End of life", "age_years": "Age (years)", "life_used": "Life used",
    "life_status": "Service life", "exposure_h": "Time exposed", "episodes": "Episodes",
    "over_limit": "Over the limit", "down_now": "Down now", "expected_failures": "Expected failures",
    "model": "Model", "repair_share": "Repaired in time", "faults": "Faults", "month": "Month",
    # alarms
    "start": "Start", "end": "End", "minutes": "Duration", "peak_per_10min": "Peak per interval",
    "rank": "Rank", "definition": "Alarm", "alarms": "Alarms", "false_alarm_rate": "False alarms",
    "chattering": "Chattering", "share": "Share", "cumulative_share": "Cumulative share",
    "bad_actor": "Bad actor", "resource_id": "Device", "chatter_raises": "Chattering raises",
    "chatter_index": "Chatter index", "short_gap_max_s": "Longest short gap",
    "priority": "Priority", "repeat_alarms": "Repeats", "repeat_share": "Repeat share",
    "first_raised": "First raised", "last_raised": "Last raised", "assigned_to": "Assigned to",
    "handled": "Handled", "closed": "Closed", "false_alarms": "False alarms",
    "escalated": "Escalated", "median_handle_s": "Median time to handle",
    "median_close_s": "Median time to close", "escalated_share": "Escalated share",
    "raised_at": "Raised", "gap_s": "Gap since previous", "chatter": "Chatter",
    "repeat": "Repeat", "handled_at": "Handled", "handle_s": "Time to handle",
    "closed_at": "Closed", "close_s": "Time to close", "clear_s": "Time to clear",
    "status": "Status", "close_reason": "Close reason", "comment": "Comment", "alarm_id": "Alarm id",
    "p_false": "Probability false", "baseline": "Baseline",
    # outages
    "pm_id": "PM", "list": "List", "incident_rate": "Incident rate",
    "impacted_interventions": "Impacted interventions", "covered_interventions": "Covered interventions",
    "interventions": "Interventions", "score": "Score", "shrunken_rate": "Shrunken rate",
    "posterior_prob_above": "Probability above the network", "funnel_upper": "Funnel upper limit",
    "funnel_p_value": "Funnel p-value", "clients_hs": "Clients out of service",
    "rate_ratio": "Rate ratio", "attribution": "Attribution", "oi_code": "OI", "lines": "Lines",
    "cuts_in_windows": "Cuts in windows", "cuts_out_of_windows": "Cuts out of windows",
    "missing_hf": "Missing end time", "cuts_before_hd": "Cuts before start",
    "cuts_after_hf": "Cuts after end", "upper_inner": "Inner upper limit",
    "candidate": "Candidate", "code_do": "DO", "code_oc": "OC",
    "interventions_cut_before_hd": "Interventions cut before start",
    "interventions_cut_after_hf": "Interventions cut after end",
    "multi_interventions": "Multiple interventions", "shared_cuts": "Shared cuts",
    "impacted_shared_only": "Impacted by shared cuts only",
    "late_m1_interventions": "Interventions with a late M1", "impacted_late_m1": "Impacted with a late M1",
    "no_m1": "Without M1", "m3_before_m1": "M3 before M1", "m1_delay_median_s": "M1 delay, median",
    "m1_delay_p90_s": "M1 delay, 90th percentile", "m1_delay_max_s": "M1 delay, longest",
    "m1_late": "Late M1", "m1_before_hd": "M1 before start", "missing_hf_share": "Missing end time share",
    "reason": "Reason", "cuts": "Cuts", "ref_interv_oi": "OI intervention", "pto": "PTO",
    "hd": "Start (HD)", "hf": "End (HF)", "cut_at": "Cut at", "restored_at": "Restored at",
    "m1_received_at": "M1 received", "delay": "Delay", "m1_delay_s": "M1 delay",
    # data, index, alerts
    "table": "Table", "rows": "Rows", "holds": "Holds", "loads": "Loads", "last_load": "Last load",
    "load_id": "Load", "kind": "Kind", "rows_read": "Rows read", "accepted": "Accepted",
    "quarantined": "Quarantined", "inserted": "Inserted", "updated": "Updated",
    "unchanged": "Unchanged", "source": "Source", "started_at": "Started", "finished_at": "Finished",
    "strict": "Strict", "message": "Message", "file_index": "File", "file": "File", "line": "Line",
    "columns": "Columns", "code_reponse": "Answer code", "libelle_reponse": "Answer",
    "description_reponse": "Description", "answers": "Answers", "received_at": "Received",
    "ref_interv_do": "DO intervention", "state": "State", "deliveries": "Deliveries",
    "last_attempt": "Last attempt", "next_attempt": "Next attempt", "alert_id": "Alert",
    "domain": "Domain", "rule": "Rule", "title": "Title", "fired_at": "Fired",
    "active": "Active", "acknowledged_by": "Acknowledged by", "resolved_by": "Resolved by",
    "at": "At", "event": "Event", "by": "By", "note": "Note",
}
"""Column → header. A column not listed gets :func:`label`'s rule."""

DURATION_COLUMNS = {"minutes": 60, "delay": 1}
"""Columns holding a duration whose name does not end in ``_s`` or ``_h`` (unit in seconds)."""

PERCENT_COLUMNS = frozenset({
    "availability", "sla_response", "sla_arrival", "sla_repair", "sla_response_report",
    "sla_arrival_report", "sla_repair_report", "life_used", "repair_share", "false_alarm_rate",
    "share", "cumulative_share", "repeat_share", "escalated_share", "incident_rate",
    "shrunken_rate", "funnel_upper", "upper_inner", "missing_hf_share",
    "chatter_share", "fleeting_share", "standing_share"})
"""Columns holding a share (0–1), shown as a percentage."""

VALUE_LABELS = {
    **CLASS_LABEL, **DISPOSITION_LABEL,
    "conforming": "Conforming", "nonconforming": "Nonconforming", "not_applicable": "Not applicable",
    "past": "Past its life", "due": "Due this cycle", "ok": "Within its life",
    "no_rule": "No life rule", "unknown_age": "Age unknown",
    "intrusion_alarm": "Intrusion alarm", "video_surveillance": "Video surveillance",
    "control_room": "Control room", "access_control": "Access control",
    "ccd_camera": "CCD camera", "dvr": "DVR", "nvr": "NVR", "ip_camera": "IP camera",
    "dedicated_vcr": "Dedicated VCR", "home_vcr": "Home VCR", "ptz_indoor": "PTZ camera, indoor",
    "ptz_outdoor": "PTZ camera, outdoor", "ups": "UPS",
}
"""Code → words, for the columns of :data:`CODE_COLUMNS`; other codes lose their underscores."""

CODE_COLUMNS = frozenset({
    "classification", "disposition", "status", "severity", "subsystem", "life_status", "model",
    "list", "attribution", "reason", "state", "close_reason", "device_type", "event", "domain"})
"""Columns whose values are codes rather than names or free text."""


def missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value))


def label(column: str) -> str:
    """The header of ``column``: :data:`LABELS`, else its words with the unit spelt out."""
    if column in LABELS:
        return LABELS[column]
    for suffix, unit in (("_s", "time"), ("_h", "time"), ("_pct", "(%)")):
        if column.endswith(suffix):
            column = f"{column[:-len(suffix)]} {unit}"
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def value_label(value) -> str:
    """A code in words (:data:`VALUE_LABELS`, else capitalised without underscores);
    missing: :data:`MISSING`."""
    if missing(value):
        return MISSING
    if value in VALUE_LABELS:
        return VALUE_LABELS[value]
    words = str(value).replace("_", " ")
    return words[:1].upper() + words[1:]


def duration(seconds) -> str:
    """"22 d 9 h", "3 h 5 min", "4 min 10 s", "12 s": the two largest units, truncated
    (never rounded up); a second unit of zero is left out; missing: :data:`MISSING`."""
    if missing(seconds):
        return MISSING
    rest = math.floor(abs(seconds))
    parts = []
    for name, size in UNITS:
        count, rest = divmod(rest, size)
        if count or parts:
            parts.append((count, name))
    parts = [p for p in parts[:2] if p[0]] or [(0, "s")]
    return ("-" if seconds < 0 and any(c for c, _ in parts) else "") + " ".join(
        f"{c} {n}" for c, n in parts)


def hours(value) -> str:
    """A duration given in hours, as :func:`duration` writes it."""
    return MISSING if missing(value) else duration(value * 3600)


def percent(value, digits: int = 1) -> str:
    """A share (0–1) as "12.5%"; missing: :data:`MISSING`."""
    return MISSING if missing(value) else f"{100 * value:.{digits}f}%"


def number(value, digits: int = 1) -> str:
    """A number with thousands separators; missing: :data:`MISSING`."""
    return MISSING if missing(value) else f"{value:,.{digits}f}"


def section(title: str, *objects, anchor: str, level: int = 3) -> pn.Column:
    """A titled block of a page (``<h3 id=anchor>``, or h4 inside a tab), CSS class
    ``opeval-<anchor>``; the title is text, never HTML."""
    return pn.Column(pn.pane.HTML(f'<h{level} id="{anchor}">{html.escape(title)}</h{level}>',
                                  margin=(10 if level == 3 else 8, 5, 0, 5)),
                     *objects, sizing_mode="stretch_width", css_classes=[f"opeval-{anchor}"])


# ------------------------------------------------------------------ table cells
def number_format(pattern: str) -> NumberFormatter:
    """A Tabulator number format (numbro ``pattern``) that shows a missing value as :data:`MISSING`."""
    return NumberFormatter(format=pattern, nan_format=MISSING, null_format=MISSING)


PCT = number_format("0.0%")
_DECIMAL = number_format("0,0.0[0]")
_INTEGER = number_format("0,0")



def percent_ticks() -> NumeralTickFormatter:
    """The ticks of a plot axis holding shares (0–1), as percentages (a new Bokeh model
    each time: a model belongs to one session's document)."""
    return NumeralTickFormatter(format="0%")


_DURATION_JS = """function(cell) {
  const v = cell.getValue();
  if (v == null || Number.isNaN(v)) return %(missing)s;
  let rest = Math.floor(Math.abs(v) * %(factor)s);
  let parts = [];
  for (const [name, size] of %(units)s) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count || parts.length) parts.push([count, name]);
  }
  parts = parts.slice(0, 2).filter(p => p[0]);
  if (!parts.length) parts = [[0, "s"]];
  return (v < 0 && parts.some(p => p[0]) ? "-" : "") + parts.map(p => p[0] + " " + p[1]).join(" ");
}"""
_CODE_JS = """function(cell) {
  const v = cell.getValue();
  const span = document.createElement("span");
  const words = String(v).replaceAll("_", " ");
  span.textContent = v == null || v === "" ? %(missing)s
    : (%(labels)s[v] ?? words.charAt(0).toUpperCase() + words.slice(1));
  return span;
}"""
_BOOL_JS = """function(cell) {
  const v = cell.getValue();
  return v == null ? %(missing)s : (v ? "yes" : "no");
}"""


def duration_js(factor: float) -> str:
    """The JavaScript of :func:`duration` for a cell holding ``factor``-second units."""
    return _DURATION_JS % {"missing": json.dumps(MISSING), "factor": repr(float(factor)),
                           "units": json.dumps([list(u) for u in UNITS])}


def duration_factor(column: str) -> float | None:
    """Seconds per unit of a duration column (``*_s``, ``*_h``, :data:`DURATION_COLUMNS`), else None."""
    if column in DURATION_COLUMNS:
        return DURATION_COLUMNS[column]
    if column.endswith("_s"):
        return 1
    if column.endswith("_h"):
        return 3600
    return None


def cell_format(column: str, dtype, own=None) -> object | None:
    """How a table shows ``column`` of ``dtype``: durations, shares and codes by the rules
    here; otherwise ``own`` (a page's formatter) if given, else numbers with the missing sign
    (None: Panel's default)."""
    if pd.api.types.is_bool_dtype(dtype):
        return JSCode(_BOOL_JS % {"missing": json.dumps(MISSING)})
    numeric = pd.api.types.is_numeric_dtype(dtype)
    if numeric and (factor := duration_factor(column)) is not None:
        return JSCode(duration_js(factor))
    if numeric and column in PERCENT_COLUMNS:
        return PCT
    if column in CODE_COLUMNS and not numeric:
        return JSCode(_CODE_JS % {"missing": json.dumps(MISSING), "labels": json.dumps(VALUE_LABELS)})
    if own is not None:
        return own
    if pd.api.types.is_float_dtype(dtype):
        return _DECIMAL
    if pd.api.types.is_integer_dtype(dtype):
        return _INTEGER
    return None


def dress(tab: pn.widgets.Tabulator, formatters: dict | None = None) -> pn.widgets.Tabulator:
    """Give ``tab`` human headers and cells for the frame it holds, now and after each new
    ``value``; ``formatters`` (a page's own, e.g. plain text for identifiers) win."""
    own = dict(formatters or {})
    dressed = [None]      # the columns and types dressed last: a new frame of the same shape
                          # keeps its headers and formats (no column rebuilt in the browser)

    def apply(*_):
        frame = tab.value
        shape = tuple((c, str(t)) for c, t in frame.dtypes.items())
        if shape == dressed[0]:
            return
        dressed[0] = shape
        fmt = {}
        for c in frame.columns:
            f = cell_format(str(c), frame[c].dtype, own.get(c))
            if f is not None:
                fmt[c] = f
        tab.param.update(titles={c: label(str(c)) for c in frame.columns}, formatters=fmt)

    apply()
    tab.param.watch(apply, "value")
    return tab
