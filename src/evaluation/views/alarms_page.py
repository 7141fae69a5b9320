"""The ``/alarms`` page (alarm operator / supervisor): load, floods, bad actors,
chattering and repeats, false alarms, handling times, open alarms ranked by the
false-alarm model, the history review of one alarm, and the rationalisation
tabs (avalanches, consequential alarms and suppression advice, sequences,
standing alarms and nuisance score, load pattern: :mod:`.alarms_rationalisation`).

A thin Viewer over :class:`~evaluation.views.alarms_state.AlarmsState`: widgets
write the state's parameters, one watcher recomputes the views (cached per
database stamp and filters) and updates every pane in place. The filters live
in the URL (``?from=2025-06-01&to=2025-06-30&system=SYS-0003&priority=2&
definition=…&operator=…&bucket=1h&history=…&resource=…``).

Text from the data (definitions, resources, operators, comments) is never
rendered as HTML: tables use Tabulator's ``plaintext`` formatter (it escapes),
HTML panes escape with :func:`html.escape`, Bokeh tooltips escape by default.
"""
from __future__ import annotations

import contextlib
import functools
import html
from urllib.parse import urlencode

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from ..analyses.alarms.rules import AlarmRules
from .alarms_rationalisation import RationalisationTabs
from .alarms_state import PARETO_TOP, AlarmsState
from .display import MISSING, duration, number_format, percent, section
from .layout import PAGE_SIZE, Pager, bokeh_plots, download, frame_csv, pdf_download, pdf_name, table
from .queries import ReadOnlyStore
from .widgets import ALL, guarded, link_text, period_note, shown

bokeh_plots()

NO_ALARMS = ("<b>No alarms in this database yet.</b> Load alarms or an alarm_log — "
             "<code>opeval ingest alarms FILE…</code> or <code>opeval ingest alarm_log "
             "FILE…</code> — or run <code>opeval demo</code> to build the demo database, "
             "then reload this page.")
NO_MATCH = "No alarm matches these filters: widen the time range or clear a filter."
URL_PARAMS = {"start": "from", "end": "to", "system": "system", "priority": "priority",
              "definition": "definition", "operator": "operator", "bucket": "bucket",
              "measure": "measure", "history_definition": "history",
              "history_resource": "resource", "history_page": "hpage", "search": "q",
              "open_status": "status", "mine": "mine"}
TEXT_COLUMNS = ("definition", "resource_id", "system_id", "status", "close_reason",
                "assigned_to", "comment", "alarm_id", "position", "raised_at", "first_raised",
                "last_raised", "handled_at", "closed_at", "start", "end", "bucket")
NUM = number_format("0,0")
PROB = number_format("0.000")
NO_LOGO = {"plot.toolbar.logo": None}
def bucket_labels(rules: AlarmRules) -> dict[str, str]:
    """The load plot's buckets as labelled for the rules in force (the fine one is the
    rules' interval, 10 minutes by ISA-18.2)."""
    return {"auto": "auto", "10min": f"{rules.interval_s // 60} min", "1h": "hour"}
OPEN_TAB, HISTORY_TAB = 5, 6
RATIONALISATION_TAB = 7
"""The first of the rationalisation tabs (avalanches, consequences, sequences,
standing & nuisance, load pattern: :mod:`.alarms_rationalisation`)."""
MODEL_LATER = ("<p>The false-alarm model saved for this database (<code>opeval alarms "
               "--fit-model</code>) is loaded when this tab is opened.</p>")
MEASURE_LABELS = {"handle": "time to handle", "close": "time to close"}
REFRESH_S = 20
"""While the open-alarm tab is shown, the page looks for a new load this often (seconds)
and redraws with it: an operator's screen follows the alarms without a reload."""
OPEN_STATUS_LABELS = {"every status": ALL, "new": "new", "in progress": "in_progress",
                      "escalated": "escalated"}


_guarded = guarded(lambda text: "<div class='opeval-error'>" + html.escape(text) + "</div>")


def _table(frame: pd.DataFrame, css: str, formatters: dict | None = None, **kw):
    fmt = {c: {"type": "plaintext"} for c in TEXT_COLUMNS}
    fmt.update(formatters or {})
    return table(shown(frame), formatters=fmt, css_classes=[css], **kw)


def empty(message_html: str) -> pn.pane.HTML:
    """An empty state (HTML written here, never data) in the look of layout.empty."""
    return pn.pane.HTML(f"<div class='opeval-empty'>{message_html}</div>",
                        sizing_mode="stretch_width")


def error(message: str) -> pn.pane.HTML:
    return pn.pane.HTML("", css_classes=["opeval-error-box"], sizing_mode="stretch_width")


# ------------------------------------------------------------------ plots
def load_plot(series: pd.DataFrame, floods: pd.DataFrame, bucket: str,
              rules: AlarmRules) -> hv.Overlay:
    """Alarms per bucket, the busiest system's peak per interval (10 minutes by ISA-18.2),
    the flood line and the floods; every number in a label from ``rules``."""
    iv = f"{rules.interval_s // 60} min"
    per = iv if bucket == "10min" else "hour"
    data = series.rename(columns={"bucket": "time"})
    total = hv.Curve(data, "time", ["alarms", "peak_10min"], label="alarms per bucket").opts(
        color="#8fb0d3", line_width=1.5,
        hover_tooltips=[("time", "@time{%F %H:%M}"), (f"alarms per {per}", "@alarms"),
                        (f"busiest system, per {iv}", "@peak_10min")],
        hover_formatters={"@time": "datetime"}, tools=["hover"])
    peak = hv.Curve(data, "time", ["peak_10min", "alarms"],
                    label=f"busiest system, most in {iv}").opts(
        color="#e07b00", line_width=2,
        hover_tooltips=[("time", "@time{%F %H:%M}"), (f"busiest system, per {iv}",
                                                       "@peak_10min")],
        hover_formatters={"@time": "datetime"}, tools=["hover"])
    line = hv.HLine(rules.flood_threshold, label="flood threshold").opts(
        color="#d62728", line_dash="dashed", line_width=1.5)
    spans = floods.rename(columns={"position": "system_id"})[["start", "end"]] if len(floods) \
        else pd.DataFrame({"start": pd.Series(dtype="datetime64[ns]"),
                           "end": pd.Series(dtype="datetime64[ns]")})
    marked = hv.VSpans(spans, ["start", "end"], label="flood periods").opts(
        color="#d62728", alpha=0.25)
    top = float(max(series["alarms"].max() if len(series) else 0,
                    rules.flood_threshold * 1.2)) * 1.05   # the flood line always in view
    return (marked * total * peak * line).opts(
        responsive=True, height=300, ylim=(0, top), xlabel="raise time (UTC)", ylabel=f"alarms per {per}",
        title=f"Alarms per {per}; flood line: more than {rules.flood_threshold} in "
              f"{iv} for one system",
        framewise=True,
        legend_position="top", legend_cols=4, show_grid=True, toolbar="above",
        active_tools=[], backend_opts=NO_LOGO)


def pareto_plot(pareto: pd.DataFrame) -> hv.Overlay:
    """Bars of the definitions by load, bad actors in red, with the cumulative share."""
    top = pareto.head(PARETO_TOP).copy()
    top["kind"] = np.where(top["bad_actor"], "bad actor", "other")
    top["cumulative_pct"] = top["cumulative_share"] * 100
    top["share_pct"] = top["share"] * 100
    bars = hv.Bars(top, "definition", ["alarms", "kind", "share_pct", "cumulative_pct",
                                        "false_alarm_rate"]).opts(
        color="kind", cmap={"bad actor": "#d62728", "other": "#7f9fbf"},
        hover_tooltips=[("definition", "@definition"), ("alarms", "@alarms"),
                        ("share", "@share_pct{0.0}%"), ("cumulative", "@cumulative_pct{0.0}%"),
                        ("false-alarm rate", "@false_alarm_rate{0.0%}"), ("", "@kind")],
        tools=["hover"], xrotation=35, ylabel="alarms", show_legend=False)
    cum = hv.Curve(top, "definition", "cumulative_pct", label="cumulative share (%)").opts(
        color="#333333", line_width=2, ylim=(0, 105), ylabel="cumulative share (%)")
    dots = hv.Scatter(top, "definition", ["cumulative_pct", "alarms"]).opts(
        color="#333333", size=5, hover_tooltips=[("definition", "@definition"),
                                                  ("cumulative", "@cumulative_pct{0.0}%")],
        tools=["hover"])
    return (bars * cum * dots).opts(multi_y=True, responsive=True, height=340, framewise=True,
                                    xlabel="", toolbar="above", show_legend=False,
                                    backend_opts=NO_LOGO, xrotation=30,
                                    title="Bad actors: alarms per definition (red) and "
                                          "cumulative share of the load")


def heat_plot(heat: pd.DataFrame, zone: str) -> hv.HeatMap:
    """False-alarm rate per definition and hour of the raise on the clock of ``zone``."""
    data = heat.assign(rate_pct=heat["false_alarm_rate"] * 100)
    n_defs = max(1, data["definition"].nunique())
    return hv.HeatMap(data, ["hour", "definition"],
                      ["rate_pct", "alarms", "closed", "false_alarms"]).opts(
        cmap="Reds", colorbar=True, clim=(0, 100), responsive=True,
        height=min(600, 90 + 24 * n_defs), xlabel=f"hour of day ({zone})", ylabel="",
        hover_tooltips=[("definition", "@definition"), ("hour", "@hour"),
                        ("false-alarm rate", "@rate_pct{0.0}%"), ("closed", "@closed"),
                        ("false alarms", "@false_alarms"), ("alarms", "@alarms")],
        tools=["hover"], toolbar="above", xticks=list(range(0, 24, 2)), framewise=True,
        clabel="false alarms (% of closed)", backend_opts=NO_LOGO,
        title="False-alarm rate per definition and hour of the raise")


def handling_plot(h: pd.DataFrame, measure: str) -> hv.Overlay:
    """Box per operator: p25–p75 box, p10–p90 whisker, median mark (log time axis)."""
    label = MEASURE_LABELS[measure]
    d = h.sort_values("median").reset_index(drop=True).copy()
    for c in ("p10", "p25", "median", "p75", "p90"):
        d[c] = d[c].clip(lower=1.0)
        d[f"{c}_text"] = d[c].map(duration)
    tips = [("operator", "@assigned_to"), ("alarms", "@n"), ("p10", "@p10_text"),
            ("p25", "@p25_text"), ("median", "@median_text"), ("p75", "@p75_text"),
            ("p90", "@p90_text")]
    extra = ["n", "p10_text", "p25_text", "median_text", "p75_text", "p90_text"]
    d["op"] = d["assigned_to"]
    whisk = hv.Segments(d, ["p10", "assigned_to", "p90", "op"], extra).opts(
        color="#555555", line_width=1)
    boxes = hv.Segments(d, ["p25", "assigned_to", "p75", "op"], extra).opts(
        color="#7f9fbf", line_width=14, hover_tooltips=tips, tools=["hover"])
    med = hv.Scatter(d, "median", ["assigned_to"] + extra).opts(
        color="#d62728", marker="square", size=9, hover_tooltips=tips, tools=["hover"])
    return (whisk * boxes * med).opts(
        logx=True, responsive=True, height=max(220, 70 + 26 * len(d)), framewise=True,
        xlabel=f"{label} (log scale; box p25–p75, whisker p10–p90, red: median)",
        ylabel="", toolbar="above", show_legend=False, backend_opts=NO_LOGO,
        title=f"{label.capitalize()} per operator")


# ------------------------------------------------------------------ page
class AlarmsPage(pn.viewable.Viewer):
    """Alarm load, nuisance alarms, false alarms, handling and history review."""

    state = param.ClassSelector(class_=AlarmsState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        self._error = error("")
        self._error.visible = False
        self._has_alarms = s.has_alarms()
        self._no_alarms = empty(NO_ALARMS)
        self._no_match = empty(NO_MATCH)
        self._no_match.visible = False
        if not self._has_alarms:
            return
        self._apply_request_args()
        opts = s.options()
        first, last = s.data_range()
        # Filters.
        self._start = pn.widgets.DatePicker(label="From", start=first, end=last, width=110)
        self._end = pn.widgets.DatePicker(label="To", start=first, end=last, width=110)
        def select(label, css, width, options):
            return pn.widgets.Select(label=label, css_classes=[f"opeval-filter-{css}"],
                                     width=width, options=options)

        def choices(values, all_value=ALL):
            return {"all": all_value, **{str(v): v for v in values}}

        self._system = select("System", "system", 120, choices(opts["system"]))
        self._priority = select("Priority", "priority", 75, choices(opts["priority"], 0))
        self._definition = select("Definition", "definition", 180, choices(opts["definition"]))
        self._operator = select("Operator", "operator", 115, choices(opts["operator"]))
        self._bucket = select("Load per", "bucket", 115,
                              {v: k for k, v in bucket_labels(s.rules).items()})
        self._reset = pn.widgets.Button(label="Clear", width=64, margin=(24, 5, 5, 5))
        self._pdf = pdf_download(self.state.report_pdf, "alarms.pdf", "opeval-alarms-pdf")
        self._reset.on_click(lambda _e: self._clear())
        for widget, name in ((self._system, "system"), (self._definition, "definition"),
                             (self._operator, "operator")):
            link_text(self.state, widget, name)
        self._link(self._priority, "priority", lambda v: v, lambda v: v)
        self._link(self._bucket, "bucket", lambda v: v, lambda v: v)
        self._link(self._start, "start", lambda v: v, lambda v: v)
        self._link(self._end, "end", lambda v: v, lambda v: v)
        # Views.
        rules = s.rules
        self._kpis = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["opeval-kpis"])
        self._period = pn.pane.HTML("", sizing_mode="stretch_width",
                                    css_classes=["opeval-period-note"])
        self._v = s.views()
        self._pipe = hv.streams.Pipe(data=self._v)
        self._hpipe = hv.streams.Pipe(data=(s.handling(), s.measure))
        self._load = self._plot(lambda v: load_plot(v.series, v.floods, v.bucket, rules),
                                "opeval-load-plot")
        self._floods = _table(pd.DataFrame(), "opeval-table-floods", pagination="remote",
                              page_size=5, formatters=_fmt(peak_per_10min=NUM))
        self._no_floods = pn.pane.HTML("<p>No flood in this selection: no system got more "
                                       f"than {rules.flood_threshold} alarms in any "
                                       f"{rules.interval_s // 60} minutes.</p>",
                                       sizing_mode="stretch_width")
        self._pareto = self._plot(lambda v: pareto_plot(v.pareto), "opeval-pareto-plot")
        self._pareto_table = _table(pd.DataFrame(), "opeval-table-pareto", pagination="remote",
                                    page_size=8, formatters=_fmt())
        self._chattering = _table(pd.DataFrame(), "opeval-table-chattering",
                                  pagination="remote", page_size=10,
                                  formatters=_fmt(chatter_index=PROB, chatter_raises=NUM))
        self._repeats = _table(pd.DataFrame(), "opeval-table-repeats", pagination="remote",
                               page_size=10, formatters=_fmt(repeat_alarms=NUM))
        self._heat = self._plot(lambda v: heat_plot(v.heat, s.filters().zone),
                                "opeval-heat-plot")
        self._measure = pn.widgets.RadioButtonGroup(
            options={v: k for k, v in MEASURE_LABELS.items()}, value=s.measure,
            color="light", width=260)
        self._link(self._measure, "measure", lambda v: v, lambda v: v)
        self._handling = pn.pane.HoloViews(
            hv.DynamicMap(lambda data: handling_plot(*data), streams=[self._hpipe]),
            sizing_mode="stretch_width", css_classes=["opeval-handling-plot"])
        self._operators = _table(pd.DataFrame(), "opeval-table-operators", pagination="remote",
                                 page_size=15, formatters=_fmt(
                                     handled=NUM, closed=NUM, false_alarms=NUM, escalated=NUM))
        self._model_info = pn.pane.HTML("", sizing_mode="stretch_width",
                                        css_classes=["opeval-model"])
        self._open = _table(pd.DataFrame(), "opeval-table-open", pagination="remote",
                            page_size=15, hidden_columns=["history_link"],
                            formatters=_fmt(p_false=PROB, baseline=PROB, alarm_id={
                                "type": "link", "urlField": "history_link",
                                "target": "_blank"}))
        self._open.visible = False
        self._open_empty = empty("No open alarm matches these filters.")
        self._open_empty.visible = False
        self._search = pn.widgets.TextInput(
            label="Search", placeholder="id, definition, resource, system, operator, status",
            value=s.search, width=300, css_classes=["opeval-filter-search"])
        self._search.param.watch(lambda e: setattr(s, "search", e.new), "value")
        s.param.watch(lambda e: setattr(self._search, "value", e.new), "search")
        self._status = select("Status", "open-status", 130, OPEN_STATUS_LABELS)
        link_text(s, self._status, "open_status")
        self._mine = pn.widgets.Checkbox(
            label=f"assigned to me ({s.user})" if s.user else "assigned to me (sign in to use)",
            disabled=not s.user, css_classes=["opeval-filter-mine"], margin=(30, 5, 5, 10))
        self._link(self._mine, "mine", bool, bool)
        self._refreshed = pn.pane.HTML("", sizing_mode="stretch_width",
                                       css_classes=["opeval-refreshed"])
        self._refresh = None
        self._hist_def = pn.widgets.Select(label="Alarm definition", width=260,
                                           css_classes=["opeval-filter-history-definition"])
        self._hist_res = pn.widgets.Select(label="Resource", width=220,
                                           css_classes=["opeval-filter-history-resource"])
        self._hist_title = pn.pane.HTML("", sizing_mode="stretch_width")
        self._history = _table(pd.DataFrame(), "opeval-table-history", pagination=None,
                               sortable=False, formatters=_fmt(),
                               widths={"comment": 260})
        self._hist_pager = Pager(s.history_total, s.history_pages, state=s,
                                 page_param="history_page")
        self._hist_empty = empty("Pick an alarm definition above, or click a row of the "
                                 "chattering, repeat or open-alarm tables, to review every "
                                 "raise of that alarm.")
        for t in (self._chattering, self._repeats, self._open):
            t.on_click(functools.partial(self._pick_history, t))
        self._hist_def.param.watch(self._hist_def_changed, "value")
        self._hist_res.param.watch(self._hist_res_changed, "value")
        self._rat = RationalisationTabs(s)
        self._tabs = pn.Tabs(
            ("Load", pn.Column(self._load, section(
                f"Flood periods (more than {rules.flood_threshold} alarms in "
                f"{rules.interval_s // 60} minutes for one system)",
                self._no_floods, self._floods,
                download("alarm_floods.csv", frame_csv(lambda: self._v.floods),
                         label="Download floods CSV"), anchor="floods", level=4),
                download("alarm_load.csv", frame_csv(lambda: self._v.series),
                         label="Download load CSV"),
                sizing_mode="stretch_width")),
            ("Bad actors", pn.Column(self._pareto, self._pareto_table,
                                     download("alarm_bad_actors.csv",
                                              frame_csv(lambda: self._v.pareto)),
                                     sizing_mode="stretch_width")),
            ("Chattering & repeats", pn.Row(
                section(f"Chattering ({rules.chatter_raises} or more raises within "
                         f"{rules.chatter_window_s:g} s)", self._chattering,
                         download("alarm_chattering.csv", frame_csv(lambda: self._v.chattering)),
                         anchor="chattering", level=4),
                section(f"Repeats (raised again within {rules.repeat_window_s:g} s)",
                         self._repeats, download("alarm_repeats.csv",
                                                 frame_csv(lambda: self._v.repeats)),
                         anchor="repeats", level=4), sizing_mode="stretch_width")),
            ("False alarms", pn.Column(self._heat, download(
                "alarm_false_by_hour.csv", frame_csv(lambda: self._v.heat)),
                sizing_mode="stretch_width")),
            ("Handling", pn.Column(self._measure, self._handling, self._operators,
                                   download("alarm_operators.csv", frame_csv(self._operator_csv)),
                                   sizing_mode="stretch_width")),
            ("Open alarms", pn.Column(self._model_info,
                                      pn.Row(self._search, self._status, self._mine),
                                      self._refreshed, self._open_empty, self._open,
                                      download("alarm_open_ranked.csv",
                                               frame_csv(self._open_frame)),
                                      sizing_mode="stretch_width")),
            ("History review", pn.Column(pn.Row(self._hist_def, self._hist_res),
                                         self._hist_title, self._hist_empty, self._history,
                                         self._hist_pager,
                                         download("alarm_history.csv", s.history_csv),
                                         sizing_mode="stretch_width")),
            *self._rat.tabs(),
            sizing_mode="stretch_width", css_classes=["opeval-alarm-tabs"], dynamic=True)
        s.param.watch(self._update, ["start", "end", "system", "priority", "definition",
                                     "operator", "bucket"])
        s.param.watch(self._update_handling, ["measure"])
        s.param.watch(self._update_history, ["history_definition", "history_resource",
                                             "history_page"])
        s.param.watch(self._update_open, ["search", "open_status", "mine"])
        if pn.state.location is not None:
            pn.state.location.sync(s, URL_PARAMS)
        self._open_seen = False     # the ranked list is scored once its tab was opened
        self._update()
        self._model_info.object = MODEL_LATER
        self._tabs.param.watch(self._tab_opened, "active")
        if s.history_definition:        # a link to an alarm's history opens it
            self._tabs.active = HISTORY_TAB

    def _apply_request_args(self) -> None:
        """Filters named in the address, applied before the widgets are made.

        ``pn.state.location.sync`` alone applies them only once the browser has
        connected, and a browser then shows only some of the widgets changed at
        once; reading the request here makes the first render right. Values that
        do not parse or validate are ignored (the filter keeps its default).
        """
        from panel.util import parse_query

        args = pn.state.session_args or {}
        raw = {key: values[0].decode("utf-8", "replace") for key, values in args.items()
               if values and key in URL_PARAMS.values()}
        if not raw:
            return
        query = parse_query("?" + urlencode(raw))
        for name, key in URL_PARAMS.items():
            if key not in query:
                continue
            value = query[key]
            with contextlib.suppress(Exception):  # as Location does: keep the raw value
                value = self.state.param[name].deserialize(value)
            try:
                self.state.param.update(**{name: value})
            except (ValueError, TypeError):
                pass

    def _plot(self, make, css: str) -> pn.pane.HoloViews:
        """A plot redrawn in place (new data into its sources) when the views change."""
        return pn.pane.HoloViews(hv.DynamicMap(lambda data: make(data), streams=[self._pipe]),
                                 sizing_mode="stretch_width", css_classes=[css])

    # ------------------------------------------------------------ wiring
    def _link(self, widget, name: str, to_state, to_widget) -> None:
        widget.value = to_widget(getattr(self.state, name))

        def w2s(event):
            setattr(self.state, name, to_state(event.new))

        def s2w(event):
            value = to_widget(event.new)
            if widget.value != value:
                widget.value = value

        widget.param.watch(w2s, "value")
        self.state.param.watch(s2w, name)

    def _clear(self) -> None:
        start, end = self.state.default_range()
        self.state.param.update(system="", priority=0, definition="", operator="",
                                start=start, end=end)

    def _pick_history(self, tbl, event) -> None:
        row = tbl.value.iloc[event.row]
        self.state.param.update(history_definition=str(row["definition"]),
                                history_resource=str(row["resource_id"]))
        self._tabs.active = HISTORY_TAB

    def _hist_def_changed(self, event) -> None:
        value = "" if event.new == ALL else event.new
        if value != self.state.history_definition:
            self.state.param.update(history_definition=value, history_resource="")

    def _hist_res_changed(self, event) -> None:
        value = "" if event.new == ALL else event.new
        if value != self.state.history_resource:
            self.state.history_resource = value

    # ------------------------------------------------------------ updates
    @_guarded
    def _update(self, *_events) -> None:
        s = self.state
        v = self._v = s.views()
        has = v.kpis["alarms"] > 0
        self._no_match.visible = not has
        self._tabs.visible = self._kpis.visible = has
        self._kpis.object = _kpi_html(v.kpis, s.filters(), s.rules)
        note, warns = s.period_note()
        self._period.object = period_note(note, warns)
        self._pdf.filename = pdf_name("alarms", note)
        if has:
            self._pipe.send(v)
            self._floods.visible = len(v.floods) > 0
            self._no_floods.visible = len(v.floods) == 0
            self._floods.value = shown(v.floods.rename(columns={"position": "system_id"})[
                ["system_id", "start", "end", "minutes", "peak_per_10min", "alarms"]]
                if len(v.floods) else pd.DataFrame(
                    columns=["system_id", "start", "end", "minutes", "peak_per_10min",
                             "alarms"]))
            self._pareto_table.value = shown(v.pareto)
            self._chattering.value = shown(v.chattering)
            self._repeats.value = shown(v.repeats)
            self._operators.value = shown(v.operators)
            self._update_handling()
            self._rat.update()
        self._update_open()
        self._update_history()

    @_guarded
    def _update_handling(self, *_events) -> None:
        self._hpipe.send((self.state.handling(), self.state.measure))

    def _operator_csv(self) -> pd.DataFrame:
        h = self._v.handling.pivot_table(index="assigned_to", columns="measure",
                                         values=["p10", "p25", "median", "p75", "p90"])
        h.columns = [f"{m}_{q}" for q, m in h.columns]
        return self._v.operators.merge(h.reset_index(), on="assigned_to", how="left")

    def _open_frame(self) -> pd.DataFrame:
        return self.state.open_list()

    def _tab_opened(self, event) -> None:
        """Opening the open-alarm tab loads the saved model, if any (a visit that does not
        open it pays nothing); no tab ever trains a model or writes a file. While it is
        shown, the page follows new loads (:meth:`_follow`)."""
        self._follow(event.new == OPEN_TAB)
        if event.new == OPEN_TAB:
            self._open_seen = True
            self._update_model()
        elif event.new >= RATIONALISATION_TAB:
            self._rat.open()

    def _update_model(self) -> None:
        self._model_info.object = _model_html(self.state.model_summary())
        self._update_open()

    def _follow(self, on: bool) -> None:
        """Look for new loads every :data:`REFRESH_S` s while the open-alarm tab is shown.
        A session that ends with the tab shown needs nothing more: Panel's session hook,
        which the template's ``server_doc`` registers, stops the periodic callbacks of the
        session's document (tests/test_views_alarms.py shows it)."""
        if on and self._refresh is None:
            self._refresh = pn.state.add_periodic_callback(self._refresh_now,
                                                           period=REFRESH_S * 1000)
        elif not on and self._refresh is not None:
            self._refresh.stop()
            self._refresh = None

    def _refresh_now(self) -> None:
        if self.state.refresh():
            self._update()

    @_guarded
    def _update_open(self, *_events) -> None:
        if not self._open_seen:
            return
        frame = self.state.open_list()
        self._open.value = shown(frame.assign(history_link=[
            self._history_link(d, r) for d, r in zip(frame["definition"], frame["resource_id"])]))
        self._open.visible = len(frame) > 0
        self._open_empty.visible = len(frame) == 0
        data = self.state.data()
        self._refreshed.object = (
            f"<p class='opeval-period'>{len(frame):,} of the open alarms; data up to "
            f"{data.last:%Y-%m-%d %H:%M} UTC. This list follows new loads every {REFRESH_S} s "
            "while this tab is open. An alarm's id opens its history in a new tab.</p>"
            if data.last is not None else "")

    def _history_link(self, definition: str, resource: str) -> str:
        """This page with its filters and the history review of one alarm."""
        s = self.state
        q = {}
        for name, key in URL_PARAMS.items():
            value = getattr(s, name)
            if name.startswith("history") or value in ("", None, 0, False, s.param[name].default):
                continue
            q[key] = value.isoformat() if hasattr(value, "isoformat") else value
        return "?" + urlencode({**q, "history": definition, "resource": resource})

    @_guarded
    def _update_history(self, *_events) -> None:
        s = self.state
        defs = self._v.pareto["definition"].tolist() if self._v is not None else []
        if s.history_definition and s.history_definition not in defs:
            defs = [s.history_definition] + defs
        self._hist_def.options = {"(pick a definition)": ALL, **{d: d for d in defs}}
        self._hist_def.value = s.history_definition or ALL
        resources = s.history_resources()
        if s.history_resource and s.history_resource not in resources:
            resources = [s.history_resource] + resources
        self._hist_res.options = {"every resource": ALL, **{r: r for r in resources}}
        self._hist_res.value = s.history_resource or ALL
        self._hist_res.visible = bool(s.history_definition)
        rows = s.history_rows()
        total = s.history_total()
        self._history.value = shown(rows)
        picked = bool(s.history_definition)
        self._history.visible = self._hist_pager.visible = picked
        self._hist_empty.visible = not picked
        what = html.escape(s.history_definition) + (
            f" on {html.escape(s.history_resource)}" if s.history_resource else "")
        self._hist_title.object = (
            f"<p class='opeval-history-title'><b>{what}</b>: {total:,} raise"
            f"{'s' if total != 1 else ''} matching the filters, oldest first, with the gap to "
            f"the previous raise, how it was handled and closed.</p>" if picked else "")
        self._hist_pager.refresh()

    # ------------------------------------------------------------ layout
    def __panel__(self):
        if not self._has_alarms:
            return pn.Column(self._no_alarms, sizing_mode="stretch_width")
        filters = pn.Row(self._start, self._end, self._system, self._priority, self._definition,
                         self._operator, self._bucket, self._reset, self._pdf,
                         sizing_mode="stretch_width", css_classes=["opeval-alarm-filters"])
        return pn.Column(filters, self._period, self._error, self._no_match, self._kpis, self._tabs,
                         sizing_mode="stretch_width")


def _fmt(**kw) -> dict:
    out = {"alarms": NUM}
    out.update(kw)
    return out


def _kpi_html(k: dict, f, rules: AlarmRules) -> str:
    """The KPI cards; every threshold in a label comes from the rules in force."""
    b = rules.benchmarks
    iv = f"{rules.interval_s // 60} min"
    busiest = MISSING if k["busiest_position"] is None else f"{k['busiest_avg_per_10min']:.2f}"
    busiest_sub = ("" if k["busiest_position"] is None else
                   f"{k['busiest_position']}: {k['busiest_rate_grade'] or ''} (EEMUA 191)")
    open_at = k.get("open_at")
    cards = [
        ("alarms", f"{k['alarms']:,}", f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}"),
        ("avg per 10 min, busiest system", busiest, busiest_sub),
        (f"peak in {iv}", f"{k['peak_per_10min']}",
         f"one system; flood above {rules.flood_threshold}"),
        ("floods", f"{k['floods']}", f"{k['flood_minutes']} min in flood"),
        ("chattering alarms", f"{k['chattering']}",
         f"system and definition; benchmark: {b['chattering_max']}"),
        ("fleeting alarms", f"{k['fleeting']}",
         f"back to normal within {rules.fleeting_s:g} s; benchmark: {b['fleeting_max']}"),
        ("repeat raises", f"{k['repeat_alarms']:,}", f"within {rules.repeat_window_s:g} s"),
        ("false-alarm rate", percent(k["false_alarm_rate"]),
         f"{k['false_alarms']:,} of {k['closed']:,} closed"),
        ("median time to handle", duration(k["median_handle_s"]),
         f"to close: {duration(k['median_close_s'])}"),
        ("open alarms", f"{k['open']:,}",
         "on the list at " + (f"{open_at:%Y-%m-%d %H:%M}" if open_at is not None else MISSING)
         + f"; escalated: {percent(k['escalated_share'])}"),
    ]
    items = "".join(
        f'<div class="opeval-kpi" data-kpi="{html.escape(label)}"><div class="v">{value}</div>'
        f'<div class="l">{html.escape(label)}</div><div class="s">{html.escape(sub)}</div></div>'
        for label, value, sub in cards)
    style = ("<style>.opeval-kpi-row{display:flex;flex-wrap:wrap;gap:6px}"
             ".opeval-kpi{flex:1 1 92px;background:#f4f7fb;border-radius:4px;padding:4px 8px}"
             ".opeval-kpi .v{font-size:1.15rem;font-weight:600;color:#1f4e79}"
             ".opeval-kpi .l{font-size:.78rem;color:#333}.opeval-kpi .s{font-size:.7rem;"
             "color:#666}</style>")
    return f'{style}<div class="opeval-kpi-row">{items}</div>'


def _model_html(m: dict) -> str:
    status = m.get("status")
    if status == "failed":
        return ("<p class='opeval-model-failed'><b>The saved false-alarm model cannot be read:</b> "
                f"{html.escape(m.get('message') or 'unknown error')}. The open alarms are "
                "listed oldest first, unscored.</p>")
    if status != "ready":
        return ("<p>No false-alarm model saved for this database: the open alarms are listed "
                "oldest first, unscored. Train one with <code>opeval alarms --fit-model</code> "
                "(saved in <code>models/</code> beside the database); this tab loads it when "
                "opened next.</p>")
    ev = m.get("evaluation") or {}

    def line(name):
        e = ev.get(name) or {}
        auc = e.get("roc_auc")
        return (f"<td>{name}</td><td>{'–' if auc is None else f'{auc:.3f}'}</td>"
                f"<td>{e.get('precision', 0):.3f}</td><td>{e.get('recall', 0):.3f}</td>")

    beats = m.get("beats_baseline")
    verdict = ("beats" if beats else "does not beat" if beats is False else "cannot be compared "
               "with")
    return (
        "<div><p>Open alarms ranked by <b>P(false alarm)</b> from the model "
        f"<code>{html.escape(str(m.get('model_version')))}</code> "
        f"({html.escape(str(m.get('estimator', '')))}, created "
        f"{html.escape(str(m.get('created_at', ''))[:19])}; {html.escape(m.get('source', ''))}). "
        f"Trained on {m.get('train_rows', 0):,} closed alarms raised "
        f"{html.escape(str((m.get('train_period') or ['?'])[0])[:10])} – "
        f"{html.escape(str((m.get('train_period') or ['?', '?'])[-1])[:10])}, evaluated on the "
        f"{m.get('test_rows', 0):,} raised from {html.escape(str(m.get('split_at', ''))[:10])} on "
        f"(threshold {ev.get('threshold', 0.5)}); it {verdict} the baseline (each definition's "
        "past false-alarm rate).</p>"
        "<table class='opeval-model-eval'><tr><th></th><th>ROC-AUC</th><th>precision</th>"
        f"<th>recall</th></tr><tr>{line('model')}</tr><tr>{line('baseline')}</tr></table>"
        "<p>Click a row for the alarm's history.</p></div>")


def create(store: ReadOnlyStore) -> AlarmsPage:
    """The page for the store's principal: a signed-in user's name is "me" of the open-alarm
    list (without --auth the server's local administrator is nobody's name)."""
    from ..auth.roles import LOCAL_ADMIN
    who = store.principal
    user = who.name if who is not None and who != LOCAL_ADMIN else ""
    return AlarmsPage(state=AlarmsState(store.path, page_size=PAGE_SIZE, user=user))
