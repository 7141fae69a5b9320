"""The ``/evaluation`` page: chapter 6 operation evaluation for the risk manager.

A thin Viewer over :class:`~evaluation.views.evaluation_state.EvaluationState`.
The whole-database evaluation runs in a background worker (it takes seconds on
a large database) while the page shows its loading indicator; once it is
there, choosing systems only slices it. The filters live in the URL
(``?systems=SYS-0001,SYS-0004&system=SYS-0004&as_of=2025-06-30&window=365``).

Layout: the filters, the systems overview and the system in detail (verdict
and indicator cards) are always shown; the rest is in tabs — Findings (the
default), Faults & MTTR by month, Devices & service life, Exposure by zone,
Expected failures — rendered only when opened (``pn.Tabs(dynamic=True)``), so
at the first render the browser builds two tables (overview, findings) instead
of five tables and four plots. Each change still updates every view on the
server, so a tab opened later shows the current system.
"""
from __future__ import annotations

import datetime as dt
import functools
import html
import io
import logging
from urllib.parse import urlencode

import duckdb
import holoviews as hv
import pandas as pd
import panel as pn
import param

from ..analyses.efficiency import DEFAULT
from ..errors import OpevalError, public_message
from .display import MISSING, hours, number_format, percent, section, value_label
from .evaluation_state import MAX_WINDOW_DAYS, EvaluationState, Result
from .layout import ACCENT, bokeh_plots, download, empty, error, pdf_download, table
from .queries import ReadOnlyStore
from .widgets import period_note

log = logging.getLogger(__name__)

NO_SYSTEMS = ("**No security system in the database.** Load systems, devices, faults and "
              "maintenance (`opeval ingest systems FILE`, then `devices`, `faults`, `maintenance`, "
              "optionally `alarms`) — or run `opeval demo` — then reload this page.")
URL_PARAMS = {"systems": "systems", "system": "system", "as_of": "as_of", "window_days": "window"}
DEVICE_BARS = 30   # devices drawn in the service-life chart (the table lists them all)
EXPOSURE_BARS = 8  # zone/subsystem pairs drawn in the exposure chart, longest first

STATUS_COLOURS = {"conforming": "#e6f4ea", "nonconforming": "#fdecea", "not_applicable": "#f1f3f5"}
CLASS_COLOURS = {"fit": "#1e6b3a", "fit_with_remarks": "#8a6d00", "impaired": "#b35900",
                 "unfit": "#a12622", "insufficient_evidence": "#6b7280"}
LIFE_COLOURS = {"past": "#c0392b", "due": "#e67e22", "ok": "#2e8b57", "no_rule": "#9aa5b1",
                "unknown_age": "#9aa5b1"}
EXPOSURE_COLOURS = {"intrusion_alarm": "#1f4e79", "video_surveillance": "#6c8ebf"}
SUBSYSTEM_SHORT = {"intrusion_alarm": "intrusion", "video_surveillance": "video"}

_CSS = """
.cards { display: flex; flex-wrap: wrap; gap: 8px; }
.card { flex: 1 1 120px; border: 1px solid #d5dbe1; border-radius: 4px; padding: 6px 10px;
        background: #fff; min-width: 120px; }
.card .label { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; color: #5b6670; }
.card .value { font-size: 20px; font-weight: 700; color: #1d232a; }
.card .sub { font-size: 11px; color: #5b6670; }
.card.bad .value { color: #a12622; }
.card.good .value { color: #1e6b3a; }
.verdict .value { font-size: 18px; }
.reasons { font-size: 12px; color: #333; }
table.cycle { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
table.cycle th, table.cycle td { border: 1px solid #d5dbe1; padding: 2px 8px; text-align: left; }
table.cycle td.overdue { color: #a12622; font-weight: 600; }
"""

FINDING_TONE = {"conforming": "good", "nonconforming": "bad"}
TABS = ("Findings", "Faults & MTTR by month", "Devices & service life", "Exposure by zone",
        "Expected failures")
"""The tabs under the system in detail, in order."""
EVIDENCE_TAB = {"sla_response": 1, "sla_arrival": 1, "sla_repair": 1, "availability": 1,
                "maintenance_hold": 1, "repeat_faults": 2, "service_life": 2, "warranty": 2,
                "exposure": 3, "cycle_setting": 0, "maintenance_gaps": 0,
                "maintenance_overdue": 0, "maintenance_reports": 0}
"""Where the evidence of a finding (by its key) is shown: a tab of :data:`TABS` (the
Findings tab itself: the maintenance cycle under the checklist)."""
ALARM_FINDINGS = ("false_alarms", "unhandled_alarms")
"""Findings whose evidence is the system's alarms on /alarms."""
TWO = number_format("0.00")


def _card(key: str, label: str, value: str, sub: str = "", tone: str = "") -> str:
    return (f'<div class="card {tone}" data-key="{key}"><div class="label">{html.escape(label)}</div>'
            f'<div class="value">{html.escape(value)}</div>'
            f'<div class="sub">{html.escape(sub)}</div></div>')


def _mtbf_sub(ind: dict) -> str:
    """What the MTBF card's figure is, per device and for the system as a whole."""
    if not ind["faults"]:
        return "no fault in the window"
    up = ind["device_hours"] - ind["down_hours"]
    whole = hours(ind["mtbf_h"] / ind["devices"]) if ind["devices"] else MISSING
    return (f'{up:,.0f} h in service over its {ind["devices"]} devices ÷ {ind["faults"]} faults; '
            f"the system as a whole: a fault every {whole}")


def _evidence_html(key: str, system_id: str) -> str:
    """The "Evidence in" cell of a finding: the tab showing its evidence (a click opens it),
    or a link to the system's alarms on /alarms."""
    if key in ALARM_FINDINGS:
        href = html.escape("./alarms?" + urlencode({"system": system_id}))
        return f'<a href="{href}" class="opeval-evidence-link">alarms of {html.escape(system_id)}</a>'
    tab = EVIDENCE_TAB.get(key)
    if tab is None:
        return MISSING
    where = "maintenance cycle below" if tab == 0 else TABS[tab]
    return (f'<span class="opeval-evidence-tab" data-tab="{tab}" style="cursor: pointer; '
            f'color: {ACCENT}; text-decoration: underline">→ {html.escape(where)}</span>')


def _row_colour(row: pd.Series) -> list[str]:
    colour = STATUS_COLOURS.get(row.get("status"), "")
    return [f"background-color: {colour}" if colour else ""] * len(row)


def _class_colour(value) -> str:
    colour = CLASS_COLOURS.get(value)
    return f"color: {colour}; font-weight: 600" if colour else ""


def _guarded(update):
    """Run a page update; a database that cannot be read now is said on the page."""
    @functools.wraps(update)
    def run(self, *args, **kwargs):
        try:
            return update(self, *args, **kwargs)
        except (OpevalError, duckdb.Error) as exc:
            first = public_message(exc)
            self._show_error(f"Cannot read the database right now ({first}). "
                             "A load may be running: try again in a moment.")
            return None
    return run


class EvaluationPage(pn.viewable.Viewer):
    """Systems overview and one system's verdict and indicators, then tabs with its findings,
    monthly trend, devices, exposure and expected failures."""

    state = param.ClassSelector(class_=EvaluationState)

    def __init__(self, **params):
        super().__init__(**params)
        bokeh_plots()
        s = self.state
        self._res: Result | None = None
        self._finding_keys: list[str] = []   # the key of each finding shown, in order
        self._token = None
        self._shown = None        # (result, selection) the overview shows
        self._quiet = False       # True while the page itself sets widgets (no echo to the state)
        # filters
        self._systems = pn.widgets.MultiChoice(label="Systems (empty: all)", width=420,
                                               placeholder="every system", max_items=None)
        self._as_of = pn.widgets.DatePicker(label="As of", width=150)
        self._window = pn.widgets.IntInput(label="Window (days)", start=1, end=MAX_WINDOW_DAYS,
                                           css_classes=["opeval-window"],
                                           width=120)
        self._focus = pn.widgets.Select(label="System in detail", width=320)
        self._status = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["opeval-status"],
                                    styles={"padding-top": "22px"})
        self._period = pn.pane.HTML("", sizing_mode="stretch_width",
                                    css_classes=["opeval-period-note"])
        self._error = error("")
        self._error.visible = False
        self._empty = empty(NO_SYSTEMS)
        # overview
        self._fleet = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_CSS],
                                   css_classes=["opeval-fleet"])
        # every selected system in one scrolling table (no pages of ten)
        self._overview = table(
            s.overview(Result(dt.date.today(), 1)), pagination=None, max_height=520,
            css_classes=["opeval-table-overview"], frozen_columns=["system_id"],
            widths={"classification": 180},
            formatters={"expected_failures_next_cycle": TWO,
                        "days_since_maintenance": {"type": "plaintext"},
                        "risk_level": {"type": "plaintext"}})
        self._overview.style.map(_class_colour, subset=["classification"])
        self._overview.on_click(self._overview_clicked)
        # one system
        self._verdict = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_CSS],
                                     css_classes=["opeval-verdict"])
        self._cards = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_CSS],
                                   css_classes=["opeval-indicators"])
        self._report = pn.widgets.FileDownload(
            callback=self._report_bytes, filename="evaluation.html", label="Download HTML report",
            color="primary", embed=False, width=220, css_classes=["opeval-report"])
        self._pdf = pdf_download(self._pdf_bytes, "evaluation.pdf", "opeval-report-pdf")
        self._findings = table(s.findings(Result(dt.date.today(), 1)), css_classes=["opeval-table-findings"],
                               sortable=False, widths={"requirement": 230, "evidence": 290,
                                                       "corrective_action": 220},
                               formatters={**{c: {"type": "textarea"} for c in
                                              ("requirement", "evidence", "corrective_action")},
                                           "see": {"type": "html"}})
        self._findings.on_click(self._finding_clicked)
        self._findings.style.apply(_row_colour, axis=1)
        self._cycle = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_CSS],
                                   css_classes=["opeval-cycle"])
        # charts: one DynamicMap per pane fed by a Pipe, so a change of system updates the
        # plot's data and axes in place instead of building a new Bokeh figure
        self._pipes = {k: hv.streams.Pipe(data=None) for k in ("faults", "mttr", "life", "exposure")}
        self._elements: dict = {}
        self._panes: dict[str, pn.pane.HoloViews] = {}
        self._shapes: dict[str, tuple] = {}       # rows and columns each chart was drawn with
        self._faults_plot = self._plot("faults", self._faults_element, height=260)
        self._mttr_plot = self._plot("mttr", self._mttr_element, height=260)
        self._monthly = table(s.monthly(Result(dt.date.today(), 1)), css_classes=["opeval-table-monthly"],
                              pagination="remote", page_size=12)
        self._life_plot = self._plot("life", self._life_element, height=200)
        self._life_note = pn.pane.HTML("", sizing_mode="stretch_width")
        self._devices = table(s.devices(Result(dt.date.today(), 1)), css_classes=["opeval-table-devices"],
                              pagination="remote", page_size=10,
                              formatters={"age_years": TWO,
                                          "life_years": {"type": "plaintext"}})
        self._devices.style.map(lambda v: f"color: {LIFE_COLOURS[v]}; font-weight: 600"
                                if v in ("past", "due") else "", subset=["life_status"])
        self._exposure_plot = self._plot("exposure", self._exposure_element, height=200)
        self._no_zones = empty("No zone with intrusion detection or video devices in this system: "
                               "give the devices a `zone` to measure exposure.")
        self._never_exposed = pn.pane.HTML(
            '<span class="opeval-never-exposed">No zone was ever left without any working '
            "intrusion detector or camera in the window.</span>", sizing_mode="stretch_width")
        self._exposure = table(s.exposure(Result(dt.date.today(), 1)), css_classes=["opeval-table-exposure"],
                               pagination="remote", page_size=10)
        self._expected = table(s.expected(Result(dt.date.today(), 1)), css_classes=["opeval-table-expected"],
                               pagination="remote", page_size=10,
                               formatters={"expected_failures": TWO})
        self._expected_note = pn.pane.HTML("", sizing_mode="stretch_width")

        self._link_widgets()
        if pn.state.location is not None:
            pn.state.location.sync(s, URL_PARAMS, on_error=self._url_error)
        s.param.watch(lambda _e: self.request(), ["as_of", "window_days"])
        s.param.watch(lambda _e: self.show(), ["systems", "system"])
        self._body = self._layout()
        self.request()

    # ------------------------------------------------------------------ wiring
    def _link_widgets(self) -> None:
        s = self.state
        has = self._has_systems()
        # MultiChoice (Choices.js) renders option labels as HTML: escape names from the data.
        options = {html.escape(k): v for k, v in s.system_options().items()} if has else {}
        self._systems.options = options
        self._systems.value = [v for v in s.systems if v in options.values()]
        self._window.value = s.window_days
        self._as_of.value = s.as_of if s.as_of else (s.default_as_of() if has else None)

        def set_state(name, event):
            value = event.new
            if self._quiet or (name == "system" and value is None):
                return
            if getattr(s, name) != value:
                setattr(s, name, value)

        self._systems.param.watch(functools.partial(set_state, "systems"), "value")
        self._focus.param.watch(functools.partial(set_state, "system"), "value")
        self._window.param.watch(functools.partial(set_state, "window_days"), "value")
        self._as_of.param.watch(self._as_of_changed, "value")

        def to_widgets(event):
            if event.name == "systems" and self._systems.value != list(event.new):
                self._systems.value = [v for v in event.new if v in self._systems.options.values()]
            elif event.name == "window_days" and self._window.value != event.new:
                self._window.value = event.new
            elif event.name == "as_of":
                shown = event.new or (s.default_as_of() if has else None)
                if self._as_of.value != shown:
                    self._as_of.value = shown

        s.param.watch(to_widgets, ["systems", "window_days", "as_of"])

    def _as_of_changed(self, event) -> None:
        s = self.state
        if event.new is None or event.new == s.as_of:
            return
        if s.as_of is None and event.new == s.default_as_of():
            return          # the default shown in the picker: nothing changes (keeps the URL short)
        s.as_of = event.new

    def _url_error(self, values: dict) -> None:
        """A URL value the state refuses (e.g. window=0): keep the current value, say so."""
        log.info("evaluation page: ignoring URL values %s", values)

    def _overview_clicked(self, event) -> None:
        frame = self._overview.value
        if event.row is not None and 0 <= event.row < len(frame):
            self.state.system = str(frame.iloc[event.row]["system_id"])

    def _finding_clicked(self, event) -> None:
        """A click on a finding's "Evidence in" cell opens the tab that shows its evidence."""
        keys = self._finding_keys
        if event.column == "see" and event.row is not None and 0 <= event.row < len(keys):
            tab = EVIDENCE_TAB.get(keys[event.row])
            if tab is not None:
                self._tabs.active = tab

    def _has_systems(self) -> bool:
        try:
            return self.state.has_systems()
        except (OpevalError, duckdb.Error):
            return False

    # ------------------------------------------------------------------ evaluation
    @_guarded
    def request(self) -> None:
        """Ask for the evaluation of the current as-of date and window; show it when it is there."""
        s = self.state
        if not s.has_systems():
            self._res = None
            self.show()
            return
        job = s.job()
        if job.done():
            self._apply(job.result())
            return
        token = self._token = object()
        self._status.object = (f'<span class="opeval-busy">Evaluating every system as of '
                               f'{s.effective_as_of() or "the last day with data"} over '
                               f'{s.window_days} days…</span>')
        self._body.loading = True
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:     # no server (tests, notebooks): wait here
            self._apply(job.result())
            return

        def finished(fut):
            try:
                doc.add_next_tick_callback(lambda: self._apply(fut.result(), token))
            except Exception:   # noqa: BLE001 (the session was closed meanwhile)
                log.debug("evaluation finished after its session closed")
        job.add_done_callback(finished)

    def _apply(self, res: Result, token=None) -> None:
        if token is not None and token is not self._token:
            return              # a later request superseded this one
        self._res = res
        self._body.loading = False
        self.show()

    def _show_error(self, message: str) -> None:
        self._error.object = message
        self._error.visible = True
        self._body.loading = False

    @_guarded
    def show(self) -> None:
        """Update every view from the current result and selection (no query when cached)."""
        s, res = self.state, self._res
        has = res is not None and s.has_systems()
        self._empty.visible = not s.has_systems()
        self._content.visible = has and res.ok
        if res is None:
            self._status.object = self._period.object = ""
            self._error.visible = False
            return
        if not res.ok:
            self._show_error(f"No evaluation: {html.escape(res.error)}")
            self._status.object = self._period.object = ""
            return
        self._error.visible = False
        ev = res.evaluation
        self._status.object = (
            f'<span class="opeval-done">{len(res.by_id)} systems evaluated as of '
            f'<b>{ev["as_of"]}</b>, window {ev["window"]["start"]} to {ev["window"]["end"]} '
            f'({ev["window"]["days"]} days), in {res.seconds:.1f} s.</span>')
        self._period.object = period_note(ev["period"], ev["warnings"])
        sel = s.selected()
        labels = {v: html.unescape(k) for k, v in self._systems.options.items()}  # Select: plain text
        focus = s.focus()
        self._quiet = True
        try:
            if self._shown is None or self._shown[0] is not res or self._shown[1] != sel:
                # the overview only changes with the result or the selection
                self._focus.options = {labels.get(sid, sid): sid for sid in sel}
                self._overview.value = s.overview(res)
                self._fleet.object = self._fleet_html(s.fleet(res))
                self._shown = (res, sel)
            if focus is not None and self._focus.value != focus:
                self._focus.value = focus
        finally:
            self._quiet = False
        self._show_system(res)

    def _show_system(self, res: Result) -> None:
        s = self.state
        ind = s.indicators(res)
        if ind is None:
            return
        self._report.filename = s.report_filename()
        self._pdf.filename = s.report_filename("pdf")
        self._verdict.object = self._verdict_html(ind)
        self._cards.object = self._cards_html(ind)
        for update in self._tab_updates:      # every tab, shown or not
            update(res, ind)

    def _show_findings(self, res: Result, ind: dict) -> None:
        self._finding_keys = self.state.finding_keys(res)
        frame = self.state.findings(res)
        frame.insert(frame.columns.get_loc("evidence"), "see",   # beside the evidence
                     [_evidence_html(k, ind["system_id"]) for k in self._finding_keys])
        self._findings.value = frame
        self._cycle.object = self._cycle_html(self.state.cycle(res), ind["cycle"])

    @staticmethod
    def _cycle_html(cycle: pd.DataFrame, length: str) -> str:
        """The 5.1.2 cycle of each subsystem in service (5.1.5): last visit, next due date, status."""
        head = "".join(f"<th>{h}</th>" for h in ("Subsystem", "Devices", "Cycle from",
                                                 "Last periodic maintenance", "Next due", "Status"))
        rows = "".join(
            f'<tr data-subsystem="{html.escape(str(r.subsystem))}"><td>{html.escape(value_label(r.subsystem))}</td>'
            f"<td>{r.devices}</td><td>{r.cycle_start or MISSING}</td>"
            f"<td>{r.last_maintenance or 'none recorded'}</td><td>{r.due or MISSING}</td>"
            f'<td class="{"overdue" if r.status == "overdue" else ""}">{html.escape(r.status)}</td></tr>'
            for r in cycle.itertuples())
        return (f"<div><b>Maintenance cycle per subsystem</b> (5.1.2, 5.1.5; cycle {html.escape(length)})"
                f'<table class="cycle"><tr>{head}</tr>{rows}</table></div>')

    def _show_monthly(self, res: Result, ind: dict) -> None:
        monthly = self.state.monthly(res)
        self._monthly.value = monthly
        self._send("faults", monthly, len(monthly))
        self._send("mttr", (monthly, ind["sla_limits_h"]["repair"]), len(monthly))

    def _show_devices(self, res: Result, ind: dict) -> None:
        devices = self.state.devices(res)
        self._devices.value = devices
        self._send("life", devices, min(len(devices), DEVICE_BARS), empty=devices.empty)
        height = max(200, 60 + 18 * min(len(devices), DEVICE_BARS))
        if self._life_plot.height != height:
            self._life_plot.height = height
        past, due = (devices["life_status"] == "past").sum(), (devices["life_status"] == "due").sum()
        self._life_note.object = (
            f'<span class="opeval-life-note">{len(devices)} active devices: <b>{past}</b> past their '
            f'service life, <b>{due}</b> reaching it within the next cycle ({ind["cycle_days"]} days)'
            + (f"; the chart shows the {DEVICE_BARS} most worn" if len(devices) > DEVICE_BARS else "")
            + ".</span>")

    def _show_exposure(self, res: Result, ind: dict) -> None:
        s = self.state
        exposure = s.exposure(res)
        self._exposure.value = exposure
        exposed = int((exposure["exposure_h"] > 0).sum())
        self._no_zones.visible = exposure.empty
        self._never_exposed.visible = not exposure.empty and exposed == 0
        self._send("exposure", (exposure, s.exposure_limit_h(res)), min(len(exposure), EXPOSURE_BARS),
                   empty=exposed == 0)
        height = max(160, 80 + 22 * min(len(exposure), EXPOSURE_BARS))
        if self._exposure_plot.height != height:
            self._exposure_plot.height = height

    def _show_expected(self, res: Result, ind: dict) -> None:
        self._expected.value = self.state.expected(res)
        self._expected_note.object = (
            f'<span class="opeval-expected-note">About <b>{ind["expected_failures_next_cycle"]:.1f}</b> '
            f'devices expected to fail at least once in the next cycle of {ind["cycle_days"]} days '
            "(survival model per device type, fitted on every system).</span>")

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _verdict_html(ind: dict) -> str:
        cls, disp = ind["classification"], ind["disposition"]
        reasons = "; ".join(ind["disposition_reasons"]) or "every requirement conforms"
        why = ("6.1: " + ind["evidence_reason"]) if ind["evidence_reason"] else "worst nonconformity decides"
        valid = (ind["valid_until"], f'as of {ind["as_of"]}') if ind["valid_until"] else (
            "none", "no validity without enough evidence")
        name = html.escape(f'{ind["system_id"]}' + (f' · {ind["name"]}' if ind["name"] else ""))
        return (
            f'<div class="verdict cards" data-system="{html.escape(ind["system_id"])}">'
            f'<div class="card" data-key="system"><div class="label">System</div>'
            f'<div class="value">{name}</div><div class="sub">site {html.escape(str(ind["site"] or MISSING))}, '
            f'risk level {ind["risk_level"] if ind["risk_level"] is not None else MISSING}</div></div>'
            f'<div class="card" data-key="classification"><div class="label">Classification</div>'
            f'<div class="value" style="color:{CLASS_COLOURS.get(cls, "#1d232a")}">{value_label(cls)}</div>'
            f'<div class="sub">{html.escape(why)}</div></div>'
            f'<div class="card" data-key="disposition" style="flex: 2 1 240px"><div class="label">'
            f'Disposition (6.3)</div><div class="value">{value_label(disp)}</div>'
            f'<div class="reasons">{html.escape(reasons)}</div></div>'
            f'<div class="card" data-key="valid_until"><div class="label">Valid until (6.1)</div>'
            f'<div class="value">{valid[0]}</div><div class="sub">{valid[1]}</div></div>'
            "</div>")

    @staticmethod
    def _fleet_html(f: dict) -> str:
        """The selected systems together, above the table of them."""
        classes = ", ".join(f"{n} {value_label(c).lower()}" for c, n in f["classification"].items() if n)
        return '<div class="cards">' + "".join((
            _card("fleet_systems", "Systems", f'{f["systems"]}', classes or "none evaluated"),
            _card("fleet_availability", "Device availability", percent(f["availability"], 2),
                  "up device-hours over device-hours in service, all systems pooled"),
            _card("fleet_faults", "Faults in the window", f'{f["faults"]:,}',
                  f'{f["open_faults"]:,} open at the as-of date'),
            _card("fleet_overdue", "Maintenance overdue", f'{f["maintenance_overdue"]}',
                  "systems past their maintenance cycle", "bad" if f["maintenance_overdue"] else ""),
            _card("fleet_past_life", "Devices past service life", f'{f["devices_past_life"]:,}',
                  "to replace (5.1.2)", "bad" if f["devices_past_life"] else ""),
            _card("fleet_nonconforming", "Nonconforming findings", f'{f["nonconforming"]:,}',
                  "over every selected system", "bad" if f["nonconforming"] else ""),
        )) + "</div>"

    @staticmethod
    def _cards_html(ind: dict) -> str:
        lim = ind["sla_limits_h"]

        def tone(v, target):
            return "" if v is None else ("good" if v >= target - 1e-12 else "bad")
        av = ind["availability"]
        if ind["records_in_window"]:
            availability = _card("availability", "Availability", percent(av, 2),
                                 f'{ind["faults"]} faults in the window; target {percent(ind["availability_target"])}',
                                 tone(av, ind["availability_target"]))
        else:       # nothing shows the system's faults are recorded: no figure (the analysis gives none)
            availability = _card("availability", "Availability", "no evidence",
                                 "no fault and no maintenance record in the window")
        cards = [
            availability,
            _card("mtbf", "MTBF per device", hours(ind["mtbf_h"]), _mtbf_sub(ind)),
            _card("mttr", "MTTR", hours(ind["mttr_h"]), f'{ind["open_faults"]} open at the as-of date'),
        ]
        for step, label in (("response", "Response"), ("arrival", "Arrival"), ("repair", "Repair")):
            missing = ind["sla_unrecorded"][step]
            sub = (f'from the fault (5.1.1); from the report {percent(ind["sla_from_report"][step])}'
                   + (f"; {missing} not recorded" if missing else ""))
            cards.append(_card(f"sla_{step}", f"{label} ≤ {lim[step]:g} h", percent(ind["sla"][step]), sub,
                               FINDING_TONE.get(ind["sla_status"][step], "")))
        return '<div class="cards">' + "".join(cards) + "</div>"

    def _plot(self, key: str, element, height: int) -> pn.Column:
        """A chart holder: an empty pane whose DynamicMap is made with the first data (so its
        axes get the right type). Visibility and height are set on the holder, never on the
        HoloViews pane itself (changing them on a drawn pane trips Panel's stylesheet sync)."""
        self._elements[key] = element
        self._panes[key] = pn.pane.HoloViews(None, sizing_mode="stretch_both",
                                             css_classes=[f"opeval-plot-{key}"])
        return pn.Column(self._panes[key], height=height, sizing_mode="stretch_width")

    def _send(self, key: str, data, rows: int, empty: bool = False) -> None:
        """Show ``data`` (``rows`` drawn) in the chart ``key``: update its plot in place, or hide it."""
        holder, pane = getattr(self, f"_{key}_plot"), self._panes[key]
        if holder.visible == empty:
            holder.visible = not empty
        if empty:
            return
        frame = data[0] if isinstance(data, tuple) else data
        shape = (rows, tuple(frame.columns))
        # BokehJS fails ("Size mismatch") when a drawn glyph's source changes length in
        # place: a new number of rows gets a new plot (and pipe), the same number is updated
        if pane.object is None or self._shapes.get(key) != shape:
            self._pipes[key] = hv.streams.Pipe(data=data)
            pane.object = hv.DynamicMap(self._elements[key], streams=[self._pipes[key]])
        else:
            self._pipes[key].send(data)
        self._shapes[key] = shape

    @staticmethod
    def _months(monthly) -> pd.DataFrame:
        m = monthly if monthly is not None else pd.DataFrame(columns=["month", "faults", "mttr_h"])
        return m.assign(label=pd.to_datetime(m["month"]).dt.strftime("%Y-%m"),
                        faults=m["faults"].astype(float), mttr_h=m["mttr_h"].astype(float))

    @classmethod
    def _faults_element(cls, data):
        m = cls._months(data)
        return hv.Bars(m, hv.Dimension("label", label="month"), [
            hv.Dimension("faults", label="faults"), hv.Dimension("mttr_h", label="MTTR (h)")]).opts(
            color=ACCENT, tools=["hover"], title="Faults per month", responsive=True, xrotation=45,
            ylabel="faults", toolbar=None, default_tools=[], framewise=True)

    @classmethod
    def _mttr_element(cls, data):
        monthly, limit_h = data if data is not None else (None, DEFAULT.repair_h)
        m = cls._months(monthly)
        kd = hv.Dimension("label", label="month")
        vd = [hv.Dimension("mttr_h", label="MTTR (h)"), hv.Dimension("faults", label="faults")]
        # every month on the axis; a month without a restored fault has no MTTR (a gap in the line)
        curve = hv.Curve(m, kd, vd).opts(color="#b35900", line_width=2, framewise=True)
        dots = hv.Scatter(m, kd, vd).opts(color="#b35900", size=7, tools=["hover"], framewise=True)
        limit = hv.HLine(limit_h).opts(color="#a12622", line_dash="dashed", line_width=1)
        return (curve * dots * limit).opts(
            title=f"MTTR per month (repair limit {limit_h:g} h dashed)", responsive=True,
            xrotation=45, ylabel="hours", toolbar=None, default_tools=[])

    @staticmethod
    def _life_element(data):
        devices = data
        cols = ["device_id", "life", "age", "type", "installed", "end", "life_status", "colour"]
        if devices is None or devices.empty:
            d = pd.DataFrame({c: pd.Series(dtype=float if c in ("life", "age") else object) for c in cols})
        else:
            d = devices.head(DEVICE_BARS).iloc[::-1]      # most worn at the top
            d = d.assign(
                colour=d["life_status"].map(LIFE_COLOURS).fillna("#9aa5b1"),
                life=d["life_years"].astype(float), age=d["age_years"].astype(float),
                installed=d["installed_on"].astype(str), end=d["end_of_life"].astype(str),
                type=d["device_type"].map(value_label), life_status=d["life_status"].map(value_label))[cols]
        kd = hv.Dimension("device_id", label="device")
        extra = ["type", "installed", "end", "life_status"]
        life = hv.Bars(d, kd, [hv.Dimension("life", label="service life (years)"), "age"] + extra).opts(
            color="#dfe4ea", line_color="#b8c2cc", bar_width=0.85, framewise=True)
        age = hv.Bars(d, kd, [hv.Dimension("age", label="age (years)"), "life"] + extra + ["colour"]).opts(
            color="colour", bar_width=0.45, line_alpha=0, tools=["hover"], framewise=True)
        return (life * age).opts(
            invert_axes=True, responsive=True, title="Age (coloured) against service life (grey)",
            xlabel="", ylabel="years", toolbar=None, default_tools=[], show_legend=False)

    @staticmethod
    def _exposure_element(data):
        exposure, limit_h = data if data is not None else (None, DEFAULT.exposure_limit_h)
        cols = ["place", "exposure_h", "devices", "episodes", "over", "colour"]
        # the longest exposures, zeros included: most systems then always draw as many bars,
        # so a change of system updates the plot in place
        shown = None if exposure is None else exposure.head(EXPOSURE_BARS)
        if shown is None or shown.empty:
            e = pd.DataFrame({c: pd.Series(dtype=float if c == "exposure_h" else object) for c in cols})
            top = limit_h * 1.08
        else:
            e = shown.iloc[::-1].assign(
                place=shown["zone"].astype(str) + " · " + shown["subsystem"].map(SUBSYSTEM_SHORT),
                over=shown["over_limit"].map({True: "yes", False: "no"}),
                colour=shown["subsystem"].map(EXPOSURE_COLOURS).fillna("#6c8ebf"))[cols]
            top = max(float(e["exposure_h"].max()), limit_h) * 1.08
        bars = hv.Bars(e, hv.Dimension("place", label="zone · subsystem"),
                       [hv.Dimension("exposure_h", label="hours without any working device"),
                        "devices", "episodes", "over", "colour"]).opts(
            tools=["hover"], color="colour", line_alpha=0, framewise=True)
        line = hv.HLine(limit_h).opts(color="#a12622", line_dash="dashed", line_width=1)
        return (bars * line).opts(
            invert_axes=True, title=f"Hours without detection / video (limit {limit_h:g} h dashed)",
            ylim=(0, top), responsive=True, xlabel="", ylabel="hours", toolbar=None, default_tools=[])

    def _report_bytes(self) -> io.BytesIO:
        res = self._res
        if res is None:
            raise OpevalError("no evaluation yet")
        return io.BytesIO(self.state.report_html(res).encode("utf-8"))

    def _pdf_bytes(self) -> bytes:
        res = self._res
        if res is None:
            raise OpevalError("no evaluation yet")
        return self.state.report_pdf(res)

    def _csv(self, make) -> callable:
        def build() -> bytes:
            res = self._res or Result(dt.date.today(), 1)
            return self.state.csv(make(res))
        return build

    # ------------------------------------------------------------------ layout
    def _layout(self) -> pn.Column:
        s = self.state
        # the rest in tabs built only when opened (dynamic): of these, BokehJS makes only the
        # Findings table at the first render, not three more tables and four plots. Every view
        # is still updated on each change, hidden or not (on the server only: a tab never
        # opened has no Bokeh model yet, one opened before keeps its models and they are sent
        # again, current, when it is reopened), so a tab opened later shows the current system.
        self._tabs = pn.Tabs(
            (TABS[0], section("Findings (audit checklist)", self._findings,
                                  download("evaluation_findings.csv", self._csv(s.findings)),
                                  self._cycle, anchor="findings")),
            (TABS[1], section(
                "Faults and MTTR by month", pn.Row(self._faults_plot, self._mttr_plot,
                                                   sizing_mode="stretch_width"),
                download("evaluation_monthly.csv", self._csv(s.monthly)), anchor="monthly")),
            (TABS[2], section(
                "Devices and service life (5.1.2)", self._life_note, pn.Row(
                    pn.Column(self._life_plot, sizing_mode="stretch_width"),
                    pn.Column(self._devices, download("evaluation_devices.csv", self._csv(s.devices)),
                              sizing_mode="stretch_width"), sizing_mode="stretch_width"),
                anchor="devices")),
            (TABS[3], section(
                "Exposure by zone", self._no_zones, pn.Row(
                    pn.Column(self._exposure_plot, self._never_exposed, sizing_mode="stretch_width"),
                    pn.Column(self._exposure, download("evaluation_exposure.csv", self._csv(s.exposure)),
                              sizing_mode="stretch_width"), sizing_mode="stretch_width"),
                anchor="exposure")),
            (TABS[4], section(
                "Expected failures in the next cycle", self._expected_note, self._expected,
                download("evaluation_expected.csv", self._csv(s.expected)), anchor="expected")),
            dynamic=True, sizing_mode="stretch_width", css_classes=["opeval-evaluation-tabs"],
            margin=(10, 0, 0, 0))
        self._tab_updates = (self._show_findings, self._show_monthly, self._show_devices,
                             self._show_exposure, self._show_expected)     # one per tab, in order
        self._content = pn.Column(
            section("Systems", self._fleet, pn.pane.HTML(
                "<small>One row per selected system; click a row to see it in detail.</small>"),
                self._overview, download("evaluation_systems.csv", self._csv(s.overview)),
                anchor="overview"),
            section("System in detail", pn.Row(self._focus, self._report, self._pdf,
                                                 styles={"align-items": "flex-end"}),
                     self._verdict, self._cards, anchor="detail"),
            self._tabs, sizing_mode="stretch_width", visible=False)
        return pn.Column(
            pn.pane.Markdown(
                "Chapter 6 operation evaluation (DB33/T 830-2011) of each security system as of a "
                "date: performance, timeliness (5.1.1), periodicity and service life (5.1.2), "
                "device effectiveness and potential threats, as an audit with a classification, a "
                "disposition (6.3) and a validity (6.1). Same figures as `opeval evaluate` with the "
                "same as-of date and window (by default the last day with data), the thresholds of "
                "the settings file beside the database.",
                margin=(10, 5), sizing_mode="stretch_width"),
            pn.Row(self._systems, self._as_of, self._window, self._status,
                   sizing_mode="stretch_width"),
            self._period, self._error, self._empty, self._content, sizing_mode="stretch_width")

    def __panel__(self):
        return self._body


def create(store: ReadOnlyStore) -> EvaluationPage:
    return EvaluationPage(state=EvaluationState(store))
