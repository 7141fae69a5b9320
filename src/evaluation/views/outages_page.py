"""The ``/outages`` page (network operator): interventions × customer cuts, the PM blacklist.

A thin Viewer over :class:`~evaluation.views.outages_state.OutagesState`:
widgets write the state's parameters, watchers push the new (small, cached)
frames into HoloViews pipes and tables in place. Three tabs, only the shown one
rendered in the browser:

* **PMs and blacklist** — funnel plot of the incident rate (impacted / covered
  interventions) against covered interventions with the control limits, the
  blacklist (most urgent first) and every PM in scope; clicking a point or a
  row selects the PM;
* **Selected PM** — its timeline (intervention windows [HD, HF] as spans, cuts
  as points by category; aggregated counts when there are too many) and the
  evidence: its interventions and the counted cuts;
* **DOs** — incident rate per DO and the timestamp-quality charts (cuts within the
  tolerance before HD / after HF, 5 minutes by §4 unless the settings say otherwise,
  HD→M1-reception delay, missing HF).

Filters and the selected PM live in the URL
(``?since=2025-03-01&as_of=2025-06-30&oi=OI01&zone=…&do=RAPI&min=10&pm=FI-…&oc=true``).
Text from the data is never rendered as HTML: tables use Tabulator's
``plaintext`` formatter, Bokeh tooltips escape by default.
"""
from __future__ import annotations

import html

import holoviews as hv
import pandas as pd
import panel as pn
import param
from bokeh.models import HoverTool

from .display import number_format, percent_ticks, section
from .layout import bokeh_plots, download, empty, error, frame_csv, pdf_download, pdf_name, table
from .outages_state import CUT_CATEGORIES, INNER_LEVEL, M1_DELAY_BINS, OutagesState
from .queries import ReadOnlyStore
from .widgets import ALL, guarded, link_text, period_note, shown

bokeh_plots()

NO_DATA = ("**No interventions or cuts in this database yet.** Load `pms`, `interventions`, "
           "`intervention_targets`, `outage_reports` and `outages` "
           "(`opeval ingest KIND FILE…`) or the e-Intervention `messages` "
           "(`opeval ingest messages FILE.ndjson`) — or run `opeval demo` to build the demo "
           "database — then reload this page.")
NO_PM = "Click a PM in the funnel plot, the blacklist or the PM table to see its evidence."
NO_CANDIDATES = ("No PM is on the blacklist for these filters: no incident rate is credibly "
                 "above the network's (funnel limit and shrinkage).")
URL_PARAMS = {"since": "since", "as_of": "as_of", "oi_code": "oi", "zone": "zone",
              "code_do": "do", "min_covered": "min", "pm_id": "pm", "oc_view": "oc"}
TEXT_COLUMNS = ("pm_id", "oi_code", "zone", "code_do", "ref_interv_oi", "code_oc", "pto",
                "source", "list", "attribution", "hd", "hf", "cut_at", "restored_at",
                "m1_received_at", "delay")
NUM2 = number_format("0.00")
NUM3 = number_format("0.000")
CATEGORY_COLORS = dict(zip(CUT_CATEGORIES, ("#d62728", "#ff7f0e", "#1f77b4", "#9467bd",
                                            "#7f7f7f", "#bcbd22")))
DO_TAB = 2
"""Index of the "DOs and timestamp quality" tab."""
PLOT_OPTS = {"responsive": True, "show_grid": True, "toolbar": "above", "active_tools": []}


_guarded = guarded(html.escape)


def _table(frame: pd.DataFrame, css: str, formatters: dict | None = None, **kw):
    fmt = {c: {"type": "plaintext"} for c in TEXT_COLUMNS}
    fmt.update(formatters or {})
    opts = {"pagination": "remote", "page_size": 10}
    opts.update(kw)
    return table(shown(frame), formatters=fmt, css_classes=[css], **opts)


def _hover(tooltips, formatters=None) -> HoverTool:
    return HoverTool(tooltips=tooltips, formatters=formatters or {})


# ------------------------------------------------------------------ plots
FUNNEL_COLS = ["covered_interventions", "incident_rate", "pm_id", "impacted_interventions",
               "interventions", "funnel_p_value", "status"]
FUNNEL_TIPS = [("PM", "@pm_id"), ("incident rate", "@incident_rate{0.0%}"),
               ("impacted / covered", "@impacted_interventions / @covered_interventions"),
               ("interventions", "@interventions"),
               ("funnel p-value", "@funnel_p_value{0.0000}"), ("", "@status")]


def _funnel_points(pts: pd.DataFrame) -> pd.DataFrame:
    status = pts["candidate"].map({True: "blacklist candidate", False: "other"})
    return pts.assign(status=status)[FUNNEL_COLS]


def funnel_plot(pts: pd.DataFrame, limits: pd.DataFrame, p0: float,
                levels: tuple[float, float]) -> hv.Overlay:
    """Incident rate against covered interventions, the network rate and control limits."""
    data = _funnel_points(pts)
    cols = FUNNEL_COLS
    other = hv.Scatter(data[data["status"] == "other"], cols[0], cols[1:],
                       label="PM").opts(color="#1f4e79", size=6, alpha=0.7,
                                        tools=[_hover(FUNNEL_TIPS), "tap"])
    cand = hv.Scatter(data[data["status"] != "other"], cols[0], cols[1:],
                      label="blacklist candidate").opts(color="#d62728", size=9,
                                                        tools=[_hover(FUNNEL_TIPS), "tap"])
    inner, outer = (f"{lv * 100:g} %" for lv in levels)
    lim_tips = [("covered", "@covered")]
    curves = [
        hv.Curve(limits, "covered", "upper_outer", label=f"{outer} limit").opts(
            color="#d62728", line_dash="dashed", tools=[_hover(lim_tips + [
                ("upper limit", "@upper_outer{0.0%}")])]),
        hv.Curve(limits, "covered", "lower_outer").opts(color="#d62728", line_dash="dashed"),
        hv.Curve(limits, "covered", "upper_inner", label=f"{inner} limit").opts(
            color="#e07b00", line_dash="dotted", tools=[_hover(lim_tips + [
                ("upper limit", "@upper_inner{0.0%}")])]),
        hv.Curve(limits, "covered", "lower_inner").opts(color="#e07b00", line_dash="dotted"),
    ]
    net = hv.HLine(p0, label="network rate").opts(color="#555555", line_width=1.5)
    return (curves[0] * curves[1] * curves[2] * curves[3] * net * other * cand).opts(
        title=f"Funnel plot — network rate {p0:.1%}")


FUNNEL_OPTS = dict(height=360, padding=0.06,
                   title="Funnel plot: incident rate against covered interventions",
                   xlabel="covered interventions (with at least one M5), log scale",
                   ylabel="incident rate (impacted / covered, %)", logx=True,
                   legend_position="right",
                   framewise=True, **PLOT_OPTS)


def _funnel_points_empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in (
        "covered_interventions", "incident_rate", "funnel_p_value") else object)
        for c in FUNNEL_COLS[:-1]} | {"candidate": pd.Series(dtype=bool)})


def funnel_marker(selected: pd.DataFrame) -> hv.Scatter:
    """A ring around the selected PM (its own layer, so selecting redraws only it)."""
    return hv.Scatter(_funnel_points(selected), FUNNEL_COLS[0], FUNNEL_COLS[1:],
                      label="selected PM").opts(fill_alpha=0, line_color="black", line_width=2,
                                                size=16, tools=[_hover(FUNNEL_TIPS)])


def timeline_plot(windows: pd.DataFrame, cuts: pd.DataFrame, aggregated: bool,
                  pm_id: str) -> hv.Overlay:
    """The PM's windows [HD, HF] as spans over every row, its cuts as points by category."""
    n = len(CUT_CATEGORIES)
    w = windows.assign(y0=-0.5, y1=n - 0.5)[["hd", "y0", "hf", "y1", "ref_interv_oi", "code_do",
                                            "cuts", "m5_received", "impacted"]]
    rect = hv.Rectangles(w, kdims=["hd", "y0", "hf", "y1"],
                         vdims=["ref_interv_oi", "code_do", "cuts", "m5_received",
                                "impacted"], label="intervention window [HD, HF]").opts(
        color="#9ecae1", alpha=0.35, line_color="#3182bd", line_width=1, framewise=True,
        tools=[_hover([("intervention", "@ref_interv_oi"), ("DO", "@code_do"),
                       ("HD", "@hd{%F %T}"), ("HF", "@hf{%F %T}"),
                       ("counted cuts", "@cuts"), ("M5 received", "@m5_received")],
                      {"@hd": "datetime", "@hf": "datetime"})])
    ypos = {cat: i for i, cat in enumerate(CUT_CATEGORIES)}
    data = cuts.assign(row=cuts["category"].map(ypos))
    color = hv.dim("category").categorize(CATEGORY_COLORS, default="#333333")
    if aggregated:
        pts = hv.Scatter(data, "cut_at", ["row", "cuts", "category"]).opts(
            size=hv.dim("cuts").norm() * 10 + 4,
            tools=[_hover([("", "@category"), ("from", "@cut_at{%F %H:%M}"),
                           ("cuts", "@cuts")], {"@cut_at": "datetime"})])
    else:
        data = data.assign(restored=shown(data[["restored_at"]])["restored_at"],
                           window=data["window_ref"].fillna(""),
                           source=data["source"].fillna(""), why=data["reason"].fillna(""))
        pts = hv.Scatter(data, "cut_at", ["row", "category", "code_oc", "pto", "window", "source",
                                          "why", "restored"]).opts(
            size=7, tools=[_hover([("", "@category"), ("cut at", "@cut_at{%F %T}"),
                                   ("OC", "@code_oc"), ("PTO", "@pto"),
                                   ("in window of", "@window"), ("reported by", "@source"),
                                   ("not counted", "@why"), ("restored", "@restored")],
                                  {"@cut_at": "datetime"})])
    layers = [rect, pts.opts(color=color, line_color="white", framewise=True)]
    what = "cuts per bucket (aggregated)" if aggregated else "cuts"
    return hv.Overlay(layers).opts(
        height=330, xlabel="time (UTC)", ylabel="category", yticks=list(enumerate(CUT_CATEGORIES)),
        ylim=(-0.6, n - 0.4), title=f"{pm_id}: intervention windows and {what}",
        show_legend=False, tools=["xwheel_zoom", "xpan"], framewise=True, **PLOT_OPTS)


def _empty_timeline() -> tuple:
    windows = pd.DataFrame({"hd": pd.Series(dtype="datetime64[ns]"),
                            "hf": pd.Series(dtype="datetime64[ns]"),
                            **{c: pd.Series(dtype=object) for c in (
                                "ref_interv_oi", "code_do", "cuts", "m5_received",
                                "impacted")}})
    cuts = pd.DataFrame({"cut_at": pd.Series(dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype=object) for c in (
                             "category", "code_oc", "pto", "restored_at", "reason", "source",
                             "window_ref")}})
    return windows, cuts, False, ""


def _bars(frame: pd.DataFrame, kdims, vdim: str, title: str, ylabel: str, tips,
          color="#1f4e79", **opts) -> hv.Bars:
    if color is not None:
        opts["color"] = color
    return hv.Bars(frame, kdims, [vdim] + [c for c in frame.columns
                                           if c not in kdims and c != vdim]).opts(
        title=title, ylabel=ylabel, xlabel="DO", height=250,
        tools=[_hover(tips)], framewise=True, **PLOT_OPTS, **opts)


def do_rate_plot(dos: pd.DataFrame, p0: float) -> hv.Overlay:
    data = dos[["code_do", "incident_rate", "impacted_interventions",
                "covered_interventions", "interventions"]].fillna({"incident_rate": 0})
    bars = _bars(data, ["code_do"], "incident_rate", "Incident rate per DO",
                 "incident rate (impacted / covered, %)",
                 [("DO", "@code_do"), ("incident rate", "@incident_rate{0.0%}"),
                  ("impacted / covered", "@impacted_interventions / @covered_interventions"),
                  ("interventions", "@interventions")], yformatter=percent_ticks())
    return (bars * hv.HLine(p0).opts(color="#d62728", line_dash="dashed")).opts(
        title=f"Incident rate per DO (dashed: network {p0:.1%})")


def do_window_cuts_plot(dos: pd.DataFrame, tolerance_min: float) -> hv.Bars:
    """Counted cuts within the tolerance (in force, minutes) before HD and after HF, per DO."""
    before, after = f"≤ {tolerance_min:g} min before HD", f"≤ {tolerance_min:g} min after HF"
    long = dos.melt(id_vars=["code_do"], value_vars=["cuts_before_hd", "cuts_after_hf"],
                    var_name="side", value_name="cuts")
    long["side"] = long["side"].map({"cuts_before_hd": before, "cuts_after_hf": after})
    return _bars(long, ["code_do", "side"], "cuts",
                 "Counted cuts just outside the window (timestamp quality)", "cuts",
                 [("DO", "@code_do"), ("", "@side"), ("cuts", "@cuts")], color=None,
                 cmap={before: "#ff7f0e", after: "#9467bd"},
                 multi_level=False, show_legend=True, legend_position="right")


def m1_delay_plot(hist: pd.DataFrame) -> hv.Bars:
    labels = [b[2] for b in M1_DELAY_BINS]
    palette = ["#7f7f7f", "#2ca02c", "#98df8a", "#ffbb78", "#ff7f0e", "#d62728"]
    data = hist[["code_do", "delay", "interventions"]]
    return _bars(data, ["code_do", "delay"], "interventions",
                 "HD → M1 reception delay (interventions)", "interventions",
                 [("DO", "@code_do"), ("delay", "@delay"), ("interventions", "@interventions")],
                 color=None, cmap=dict(zip(labels, palette)),
                 stacked=True, show_legend=True, legend_position="right")


def missing_hf_plot(dos: pd.DataFrame) -> hv.Bars:
    data = dos[["code_do", "missing_hf_share", "missing_hf", "interventions"]].fillna(
        {"missing_hf_share": 0})
    return _bars(data, ["code_do"], "missing_hf_share", "Interventions without HF",
                 "share of interventions (%)",
                 [("DO", "@code_do"), ("without HF", "@missing_hf / @interventions"),
                  ("share", "@missing_hf_share{0.0%}")], color="#8c564b",
                 yformatter=percent_ticks())


# ------------------------------------------------------------------ the page
class OutagesPage(pn.viewable.Viewer):
    """Funnel, blacklist, PM evidence and timeline, DO comparison — one set of filters."""

    state = param.ClassSelector(class_=OutagesState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        self._error = error("")
        self._error.visible = False
        self._empty = empty(NO_DATA)
        self._has_data = s.has_data()
        if not self._has_data:
            return
        # Filters.
        self._since = pn.widgets.DatePicker(label="Since", width=120)
        self._as_of = pn.widgets.DatePicker(label="As of", width=120)
        self._oi = pn.widgets.Select(label="OI", width=100,
                                     options={"every OI": ALL, **{v: v for v in s.oi_choices()}})
        self._zone = pn.widgets.Select(label="Zone", width=120, options={
            "every zone": ALL, **{v: v for v in s.zone_choices()}})
        self._do = pn.widgets.Select(label="DO", width=110)
        self._min = pn.widgets.IntInput(label="Min. covered", start=1, step=1, width=100)
        self._oc = pn.widgets.Checkbox(label="OC view (DO pseudonyms)", margin=(30, 10, 5, 10),
                                       width=230)
        self._pm = pn.widgets.AutocompleteInput(label="Selected PM", width=190,
                                                min_characters=1, case_sensitive=False,
                                                restrict=False, search_strategy="includes")
        self._link_day(self._since, "since", 0)
        self._link_day(self._as_of, "as_of", 1)
        link_text(self.state, self._oi, "oi_code")
        link_text(self.state, self._zone, "zone")
        self._fill_dos()
        link_text(self.state, self._do, "code_do")
        self._link(self._min, "min_covered")
        self._link(self._oc, "oc_view")
        self._link(self._pm, "pm_id")
        self._busy = pn.indicators.LoadingSpinner(value=False, size=28,
                                                  margin=(28, 5, 5, 5), color="primary",
                                                  css_classes=["opeval-outages-busy"])
        # Views.
        self._headline = pn.pane.HTML("", sizing_mode="stretch_width")
        self._pdf = pdf_download(self.state.report_pdf, "outages.pdf", "opeval-outages-pdf")
        self._period = pn.pane.HTML("", sizing_mode="stretch_width",
                                    css_classes=["opeval-period-note"])
        self._pts: pd.DataFrame | None = None
        self._drawn: dict[str, tuple] = {}
        self._funnel_pipe = hv.streams.Pipe(data=None)
        self._timeline_pipe = hv.streams.Pipe(data=_empty_timeline())
        self._do_pipe = hv.streams.Pipe(data=None)
        self._marker_pipe = hv.streams.Pipe(data=_funnel_points_empty())
        self._marker_shown = False
        self._funnel = (hv.DynamicMap(lambda data: funnel_plot(*data),
                                      streams=[self._funnel_pipe])
                        * hv.DynamicMap(lambda data: funnel_marker(data),
                                        streams=[self._marker_pipe])).opts(
            **FUNNEL_OPTS, yformatter=percent_ticks())
        self._tap = hv.streams.Tap(source=self._funnel, x=None, y=None)
        self._tap.add_subscriber(self._tapped)
        self._blacklist = _table(pd.DataFrame(), "opeval-table-blacklist", page_size=8,
                                 formatters=self._pm_formats(), selectable=1)
        self._no_candidates = empty(NO_CANDIDATES)
        self._pms = _table(pd.DataFrame(), "opeval-table-pms", formatters=self._pm_formats(),
                           selectable=1)
        self._blacklist.on_click(lambda e: self._pick(self._blacklist, e))
        self._pms.on_click(lambda e: self._pick(self._pms, e))
        self._no_pm = empty(NO_PM)
        self._pm_title = pn.pane.HTML("", sizing_mode="stretch_width")
        self._timeline = pn.pane.HoloViews(
            hv.DynamicMap(lambda data: timeline_plot(*data), streams=[self._timeline_pipe]),
            sizing_mode="stretch_width", linked_axes=False, css_classes=["opeval-timeline-plot"])
        self._interventions = _table(pd.DataFrame(), "opeval-table-pm-interventions",
                                     formatters={"m1_delay_s": {"type": "plaintext"}})
        self._cuts = _table(pd.DataFrame(), "opeval-table-pm-cuts")
        self._dos = _table(pd.DataFrame(), "opeval-table-dos")
        self._exclusions = _table(pd.DataFrame(), "opeval-table-exclusions", pagination=None)
        self._do_plots = [pn.pane.HoloViews(hv.DynamicMap(lambda data, f=f: f(data),
                                                          streams=[self._do_pipe]),
                                            sizing_mode="stretch_width", linked_axes=False,
                                            css_classes=[f"opeval-do-plot-{i}"])
                          for i, f in enumerate((lambda d: do_rate_plot(d[0], d[2]),
                                                 lambda d: do_window_cuts_plot(
                                                     d[0], self.state.tolerance_min()),
                                                 lambda d: m1_delay_plot(d[1]),
                                                 lambda d: missing_hf_plot(d[0])))]
        # Shown only with a PM selected (the Column is toggled: a HoloViews pane's own
        # ``visible`` cannot be changed once rendered in Panel 1.9).
        self._pm_box = pn.Column(
            self._pm_title, self._timeline,
            section("Its interventions", self._interventions,
                     download("pm_interventions.csv", frame_csv(self.state.pm_interventions)),
                     anchor="pm-interventions", level=4),
            section("Counted cuts of its covered interventions", self._cuts,
                     download("pm_cuts.csv", frame_csv(self.state.pm_counted_cuts)),
                     anchor="pm-cuts", level=4),
            sizing_mode="stretch_width")
        self._tabs = pn.Tabs(
            ("PMs and blacklist", pn.Column(
                pn.Row(pn.pane.HoloViews(self._funnel, linked_axes=False,
                                         sizing_mode="stretch_width",
                                         css_classes=["opeval-funnel-plot"]),
                       sizing_mode="stretch_width"),
                section("Blacklist — most urgent first", self._no_candidates, self._blacklist,
                         download("blacklist.csv", frame_csv(self._blacklist_csv)),
                         anchor="blacklist", level=4),
                section("Every PM in scope", self._pms,
                         download("pms.csv", frame_csv(self._pms_csv)), anchor="pms", level=4),
                sizing_mode="stretch_width")),
            ("Selected PM", pn.Column(self._no_pm, self._pm_box, sizing_mode="stretch_width")),
            ("DOs and timestamp quality", pn.Column(
                pn.Row(self._do_plots[0], self._do_plots[1], sizing_mode="stretch_width"),
                pn.Row(self._do_plots[2], self._do_plots[3], sizing_mode="stretch_width"),
                section("Per DO", self._dos, download("dos.csv", frame_csv(
                    self.state.do_table)), anchor="dos", level=4),
                section("Cuts not counted (whole network, period)", self._exclusions,
                         download("excluded_cuts.csv", frame_csv(self.state.exclusions)),
                         anchor="exclusions", level=4),
                sizing_mode="stretch_width")),
            sizing_mode="stretch_width", css_classes=["opeval-outages-tabs"], dynamic=True)
        self._tabs.param.watch(self._tab_opened, "active")
        s.param.watch(self._update, ["since", "as_of", "oi_code", "zone", "code_do",
                                     "min_covered", "oc_view"])
        s.param.watch(self._select_pm, ["pm_id"])
        if pn.state.location is not None:
            pn.state.location.sync(s, URL_PARAMS)
        self._update()

    @staticmethod
    def _pm_formats() -> dict:
        return {"score": NUM2, "posterior_prob_above": NUM3, "funnel_p_value": NUM3,
                "rate_ratio": NUM2}

    def _blacklist_csv(self) -> pd.DataFrame:
        return self.state.blacklist()

    def _pms_csv(self) -> pd.DataFrame:
        return self.state.pm_table()

    # ------------------------------------------------------------ wiring
    def _link(self, widget, name: str) -> None:
        widget.value = getattr(self.state, name)

        def w2s(event):
            if getattr(self.state, name) != event.new:
                setattr(self.state, name, event.new)

        def s2w(event):
            if widget.value != event.new:
                widget.value = event.new

        widget.param.watch(w2s, "value")
        self.state.param.watch(s2w, name)

    def _link_day(self, widget, name: str, side: int) -> None:
        """A date field of the period: it shows the day in force (the data's first or last
        day while the filter is left to its default, so the picker opens on the data's
        months); choosing that same day leaves the filter, and the address, as they are."""
        widget.value = self.state.days_in_force()[side]

        def w2s(event):
            if event.new != self.state.days_in_force()[side]:
                setattr(self.state, name, event.new)

        widget.param.watch(w2s, "value")
        self.state.param.watch(lambda _e: self._show_days(), name)

    def _show_days(self) -> None:
        """Both date fields on the days in force (a start not before the end is dropped)."""
        self._since.value, self._as_of.value = self.state.days_in_force()

    def _fill_dos(self) -> None:
        """The DO choices; in OC view the DO filter is cleared and not offered (flow 2)."""
        s = self.state
        if s.oc_view and s.code_do:
            s.code_do = ""
        codes = [] if s.oc_view else s.do_choices()
        self._do.options = {"every DO": ALL, **{v: v for v in codes}}
        self._do.disabled = s.oc_view

    def _pick(self, tbl, event) -> None:
        frame = tbl.value
        if event.row is None or event.row >= len(frame):
            return
        self._tabs.active = 1
        self.state.pm_id = str(frame.iloc[event.row]["pm_id"])

    def _tapped(self, x=None, y=None) -> None:
        """A click on the funnel: the nearest PM (in screen-like log/linear units) is selected."""
        if x is None or y is None or self._pts is None or not len(self._pts):
            return
        import numpy as np
        pts = self._pts
        cx = np.log10(pts["covered_interventions"].clip(lower=1).to_numpy(float))
        dx = (cx - np.log10(max(float(x), 1.0))) / max(np.ptp(cx), 0.5)
        dy = (pts["incident_rate"].fillna(0).to_numpy(float) - float(y)) / max(
            float(pts["incident_rate"].max() or 0), 0.05)
        i = int(np.argmin(dx * dx + dy * dy))
        if (dx[i] ** 2 + dy[i] ** 2) ** 0.5 < 0.05:
            self.state.pm_id = str(pts.iloc[i]["pm_id"])

    # ------------------------------------------------------------ updates
    @_guarded
    def _changed(self, part: str, *names: str) -> bool:
        """Whether the state parameters ``names`` differ from when ``part`` was last drawn.

        Each view is redrawn only when what it depends on changed: a new
        minimum of covered interventions does not redraw the DO charts, a new
        zone does not redraw the PM timeline.
        """
        key = tuple(getattr(self.state, n) for n in names)
        if self._drawn.get(part) == key:
            return False
        self._drawn[part] = key
        return True

    def _update(self, *events) -> None:
        # The spinner beside the filters says the views are being recomputed. (Panel's
        # loading overlay on the tabs would restyle everything in them twice: a third
        # of the browser's work on a zone change.)
        with self._busy.param.update(value=True):
            self._update_views(*events)
            self._update_pm()

    @_guarded
    def _update_views(self, *events) -> None:
        s = self.state
        if any(e.name == "oc_view" for e in events):
            self._fill_dos()
        period = ("since", "as_of")
        if self._changed("funnel", *period, "oi_code", "zone", "code_do", "min_covered"):
            pts, limits, p0 = s.funnel()
            self._pts = pts
            levels = (INNER_LEVEL, s.config().funnel_level)
            self._funnel_pipe.send((pts, limits, p0, levels))
            black = s.blacklist()
            if len(black):   # an empty list is not sent: the table hides, the message shows
                self._blacklist.value = shown(black)
            self._blacklist.visible = len(black) > 0
            self._no_candidates.visible = len(black) == 0
            self._pms.value = shown(pts)
            self._pm.options = pts["pm_id"].sort_values().tolist()
        # Hidden DO charts wait for their tab, except that DO codes must follow the OC view.
        if (self._tabs.active == DO_TAB or self._drawn.get("dos") is None
                or any(e.name == "oc_view" for e in events)):
            self._update_dos()
        sm = s.summary()
        self._headline.object = '<div class="opeval-outages-headline">' + (
            f"<b>{sm['start']:%Y-%m-%d %H:%M}</b> → <b>{sm['end']:%Y-%m-%d %H:%M}</b> UTC · "
            f"{sm['pms']} PMs with activity ({sm['pms_shown']} with ≥ {s.min_covered} covered) · "
            f"{sm['interventions']} interventions, {sm['covered']} covered (with an M5), "
            f"{sm['impacted']} impacted · network incident rate <b>{sm['rate']:.1%}</b> · "
            f"<b>{sm['candidates']}</b> blacklist candidate(s)"
            + (" · DO codes pseudonymised (OC view)" if s.oc_view else "")) + "</div>"
        note, warns = s.period_note()
        self._period.object = period_note(note, warns)
        self._pdf.filename = pdf_name("outages", note, "-oc" if s.oc_view else "")

    def _tab_opened(self, event) -> None:
        if event.new == DO_TAB:
            with self._tabs.param.update(loading=True):
                self._update_dos()

    @_guarded
    def _update_dos(self) -> None:
        """The DO charts and tables: drawn once with the page, then brought up to date
        only while their tab is shown (a filter change does not pay for them when
        hidden; opening the tab shows the last data, then updates it in place)."""
        s = self.state
        period = ("since", "as_of")
        if self._changed("dos", *period, "oi_code", "zone", "code_do", "oc_view"):
            dos, hist = s.do_table(), s.m1_delay_histogram()
            self._do_pipe.send((dos, hist, s.network_rate()))
            self._dos.value = shown(dos)
        if self._changed("exclusions", *period):
            self._exclusions.value = s.exclusions()

    def _select_pm(self, *_events) -> None:
        with self._pm_box.param.update(loading=True):
            self._update_pm()

    @_guarded
    def _update_pm(self, *_events) -> None:
        s = self.state
        period = ("since", "as_of")
        if self._changed("marker", *period, "oi_code", "zone", "code_do", "min_covered",
                         "pm_id"):
            table = s.pm_table()
            row = table[table["pm_id"] == s.pm_id]
            if len(row) or self._marker_shown:   # an empty marker is not redrawn empty
                self._marker_pipe.send(row)
            self._marker_shown = len(row) > 0
            facts = ""
            if len(row):
                r = row.iloc[0]
                facts = (f" — {int(r.impacted_interventions)} impacted of "
                         f"{int(r.covered_interventions)} covered "
                         f"({r.incident_rate:.1%}), {int(r.interventions)} interventions, "
                         f"{int(r.clients_hs)} counted cuts in covered windows")
            self._pm_title.object = (f'<div class="opeval-pm-title" style="font-size:1.05rem">'
                                     f"<b>{html.escape(s.pm_id)}</b>{html.escape(facts)}</div>")
        has = bool(s.pm_id)
        self._no_pm.visible = not has
        self._pm_box.visible = has
        if not has or not self._changed("pm", *period, "code_do", "oc_view", "pm_id"):
            return
        cuts, aggregated = s.pm_timeline_cuts()
        self._timeline_pipe.send((s.pm_windows(), cuts, aggregated, s.pm_id))
        self._interventions.value = shown(s.pm_interventions())
        self._cuts.value = shown(s.pm_counted_cuts())

    # ------------------------------------------------------------------ layout
    def __panel__(self):
        if not self._has_data:
            return pn.Column(self._empty, sizing_mode="stretch_width")
        return pn.Column(
            pn.pane.Markdown(
                "Do interventions at a PM cut other customers? Incident rate = interventions "
                "with at least one counted cut / interventions covered by an M5 "
                "(e-Intervention lot 1, flow 3); blacklist = funnel limit and shrinkage "
                "(see docs/outages.md).", margin=(5, 5), sizing_mode="stretch_width"),
            pn.FlexBox(self._since, self._as_of, self._oi, self._zone, self._do, self._min,
                       self._pm, self._oc, self._busy, self._pdf, sizing_mode="stretch_width",
                       css_classes=["opeval-outages-filters"]),
            self._error, self._headline, self._period, self._tabs,
            sizing_mode="stretch_width")


def create(store: ReadOnlyStore) -> OutagesPage:
    return OutagesPage(state=OutagesState(store.path))
