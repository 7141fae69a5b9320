"""The rationalisation tabs of the ``/alarms`` page (issue 17): avalanches,
consequential alarms with suppression advice, sequences, standing alarms over
time with the nuisance score, and the hour × weekday load pattern.

Every figure comes from :meth:`AlarmsState.rationalisation` — the keys of
``opeval alarms --format json``, computed by the same ``alarm_report`` for the
page's filters — and is computed only once one of these tabs is opened (a
report over the whole range is heavier than the other tabs' group-bys).
Clicking an avalanche lists its raises; clicking an advice or a pair lists
the trigger's episodes and whether the consequence followed. Text from the
data is shown as plain text (Tabulator's ``plaintext`` formatter escapes).
"""
from __future__ import annotations

import html

import holoviews as hv
import pandas as pd
import panel as pn

from ..analyses.alarms.rules import AlarmRules
from .alarms_state import AlarmsState
from .display import number
from .layout import download, frame_csv, table
from .widgets import guarded, shown

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TITLES = ("Avalanches", "Consequences", "Sequences", "Standing & nuisance", "Load pattern")
TEXT = ("definition", "resource_id", "system_id", "alarm_id", "status", "advice", "evidence",
        "initiator_definition", "initiator_resource_id", "trigger_definition",
        "trigger_resource_id", "consequence_definition", "consequence_resource_id",
        "step1_definition", "step2_definition", "step3_definition", "from_definition",
        "to_definition", "start", "end", "raised_at", "cleared_at", "episode_start",
        "followed_at", "initiator_raised_at")
NO_LOGO = {"plot.toolbar.logo": None}

_guarded = guarded(lambda text: "<div class='opeval-error'>" + html.escape(text) + "</div>")


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    """JSON rows as a table of ``columns`` (ISO times shown with a space)."""
    df = pd.DataFrame(rows, columns=columns)
    for c in df.columns:
        if df[c].dtype == object and len(df) and df[c].astype(str).str.match(
                r"^\d{4}-\d\d-\d\dT\d\d:\d\d").any():
            df[c] = df[c].str.replace("T", " ", n=1, regex=False)
    return df


def _table(css: str, **kw) -> pn.widgets.Tabulator:
    return table(pd.DataFrame(), formatters={c: {"type": "plaintext"} for c in TEXT},
                 css_classes=[css], pagination="remote", page_size=kw.pop("page_size", 10), **kw)


def _label(definition, resource) -> str:
    return definition if not resource or resource == definition else f"{definition} / {resource}"


def transition_plot(transitions: pd.DataFrame, rules: AlarmRules) -> hv.HeatMap:
    """Share of each busy alarm's raises followed next by each other (rows: from); the
    window and the number of alarms in the title are the rules in force."""
    d = transitions.assign(
        source=[_label(a, b) for a, b in zip(transitions.from_definition,
                                             transitions.from_resource_id)],
        target=[_label(a, b) for a, b in zip(transitions.to_definition,
                                             transitions.to_resource_id)],
        share_pct=transitions.share.astype(float) * 100)
    n = max(1, d.source.nunique())
    return hv.HeatMap(d, ["target", "source"], ["share_pct", "transitions"]).opts(
        cmap="Blues", colorbar=True, clim=(0, 100), responsive=True,
        height=min(650, 120 + 24 * n), xrotation=45, xlabel="followed by", ylabel="alarm",
        hover_tooltips=[("alarm", "@source"), ("followed by", "@target"),
                        ("share of its raises", "@share_pct{0.0}%"),
                        ("transitions", "@transitions")],
        tools=["hover"], toolbar="above", backend_opts=NO_LOGO,
        title=f"Which alarm follows which within {rules.follow_window_s:g} s "
              f"({rules.sequence_top_n} busiest alarms)")


def standing_plot(series: pd.DataFrame, step_s: int, rules: AlarmRules) -> hv.Overlay:
    """Alarms standing, and stale (``rules.stale_after_h``), at the end of each step, summed
    over the systems."""
    s = series.assign(step_start=pd.to_datetime(series.step_start))
    tot = s.groupby("step_start")[["standing_at_end", "stale_at_end"]].sum().reset_index()
    standing = hv.Curve(tot, "step_start", "standing_at_end", label="standing").opts(
        color="#1f77b4", tools=["hover"])
    stale = hv.Curve(tot, "step_start", "stale_at_end",
                     label=f"stale (> {rules.stale_after_h:g} h)").opts(
        color="#d62728", tools=["hover"])
    return (standing * stale).opts(
        responsive=True, height=300, xlabel="step start (UTC)", ylabel="alarms",
        legend_position="top", toolbar="above", backend_opts=NO_LOGO, show_grid=True,
        title=f"Alarms standing at the end of each {_step(step_s)}, all systems of the "
              "selection")


def _step(step_s: int) -> str:
    return {600: "10 minutes", 3600: "hour", 86400: "day", 604800: "week"}.get(
        step_s, f"{step_s} s")


def pattern_plot(pattern: pd.DataFrame, zone: str) -> hv.HeatMap:
    """Alarms per observed hour, hour of day × day of week on the clock of ``zone``."""
    d = pattern.assign(day=[WEEKDAYS[int(w)] for w in pattern.weekday],
                       avg=pattern.avg_per_hour.astype(float))
    return hv.HeatMap(d, ["hour", "day"], ["avg", "alarms", "hours"]).opts(
        cmap="Oranges", colorbar=True, responsive=True, height=300, invert_yaxis=True,
        xlabel=f"hour of day ({zone})", ylabel="", xticks=list(range(0, 24, 2)),
        hover_tooltips=[("day", "@day"), ("hour", "@hour"), ("alarms per hour", "@avg{0.0}"),
                        ("alarms", "@alarms"), ("hours observed", "@hours")],
        tools=["hover"], toolbar="above", backend_opts=NO_LOGO,
        title="Alarms per observed hour, by hour of day and day of week")


class RationalisationTabs:
    """The five tabs, filled on demand from the state's rationalisation."""

    def __init__(self, state: AlarmsState):
        self.state = state
        self.seen = False
        self.data: dict | None = None
        self._error = pn.pane.HTML("", sizing_mode="stretch_width")
        self._head = pn.pane.HTML("", sizing_mode="stretch_width",
                                  css_classes=["opeval-rationalisation-head"])
        # avalanches
        self.episodes = _table("opeval-table-avalanches")
        self.initiators = _table("opeval-table-initiators", page_size=8)
        self.avalanche_title = pn.pane.HTML("", sizing_mode="stretch_width")
        self.avalanche_raises = _table("opeval-table-avalanche-raises", page_size=15)
        self.episodes.on_click(self._pick_avalanche)
        # consequences
        self.advice = _table("opeval-table-suppression", widths={"evidence": 420})
        self.pairs = _table("opeval-table-pairs")
        self.pair_title = pn.pane.HTML("", sizing_mode="stretch_width")
        self.pair_episodes = _table("opeval-table-pair-episodes", page_size=15)
        self.advice.on_click(lambda e: self._pick_pair(self.advice, e))
        self.pairs.on_click(lambda e: self._pick_pair(self.pairs, e))
        # sequences, standing, load pattern
        self._pipe = hv.streams.Pipe(data=None)
        self.sequences = _table("opeval-table-sequences")
        self.nuisance = _table("opeval-table-nuisance-scores")
        self.pattern_note = pn.pane.HTML("", sizing_mode="stretch_width")

    def _plot(self, make, css: str) -> pn.pane.HoloViews:
        def draw(data):
            return make(data) if data is not None else hv.Curve([])
        return pn.pane.HoloViews(hv.DynamicMap(draw, streams=[self._pipe]),
                                 sizing_mode="stretch_width", css_classes=[css])

    def tabs(self) -> list[tuple[str, pn.Column]]:
        """(title, content) of each tab, in :data:`TITLES` order."""
        r = self.state.rules
        col = {"sizing_mode": "stretch_width"}
        return [
            (TITLES[0], pn.Column(
                self._error, self._head,
                pn.pane.HTML(f"<p>An avalanche: clock minutes with at least "
                             f"{r.avalanche_min_alarms} alarms in {r.avalanche_window_s} s for "
                             "one system, consecutive ones together; its first alarm is the "
                             "likely initiator. Click an avalanche for its raises.</p>"),
                self.episodes, download("alarm_avalanches.csv", frame_csv(
                    lambda: self._frame("avalanches", "episodes"))),
                pn.pane.HTML("<h4>Initiators: how often each alarm started an avalanche</h4>"),
                self.initiators, self.avalanche_title, self.avalanche_raises, **col)),
            (TITLES[1], pn.Column(
                pn.pane.HTML(
                    f"<p>Suppress B while A is active: B followed at least "
                    f"{r.consequence_min_confidence:.0%} of A's episodes within "
                    f"{r.follow_window_s:g} s, at least {r.consequence_min_lift:g} times as "
                    f"often as chance, significant after Holm's correction for every pair "
                    f"tried (family-wise error {r.consequence_alpha:.0%}). Click a row for "
                    "A's episodes.</p>"),
                self.advice, download("alarm_suppression_advice.csv", frame_csv(
                    lambda: self._frame("consequences", "suppression"))),
                pn.pane.HTML("<h4>Consequential pairs (significant)</h4>"),
                self.pairs, self.pair_title, self.pair_episodes, **col)),
            (TITLES[2], pn.Column(
                self._plot(lambda d: transition_plot(self._transitions(d), r),
                           "opeval-transition-plot"),
                pn.pane.HTML("<h4>Most frequent sequences</h4>"), self.sequences,
                download("alarm_sequences.csv", frame_csv(
                    lambda: self._frame("sequences", "top"))), **col)),
            (TITLES[3], pn.Column(
                self._plot(lambda d: standing_plot(
                    pd.DataFrame(d["standing_series"]["series"]),
                    d["standing_series"]["step_s"], r), "opeval-standing-plot"),
                download("alarm_standing_series.csv", frame_csv(
                    lambda: self._frame("standing_series", "series"))),
                pn.pane.HTML("<h4>Nuisance score per alarm (mean of its chatter, fleeting, "
                             "repeat and standing shares)</h4>"), self.nuisance, **col)),
            (TITLES[4], pn.Column(
                self.pattern_note,
                self._plot(lambda d: pattern_plot(pd.DataFrame(d["load_pattern"]),
                                                 self.state.filters().zone),
                           "opeval-pattern-plot"),
                download("alarm_load_pattern.csv", frame_csv(
                    lambda: self._frame("load_pattern"))), **col)),
        ]

    def _frame(self, key: str, part: str | None = None) -> pd.DataFrame:
        """A download's rows, for the filters in force (the report is cached, and a
        download may come before any tab of these was opened)."""
        d = self.state.rationalisation()
        rows = d[key] if part is None else d[key][part]
        return pd.DataFrame(rows)

    @staticmethod
    def _transitions(d: dict) -> pd.DataFrame:
        return pd.DataFrame(d["sequences"]["transitions"],
                            columns=["from_definition", "from_resource_id", "to_definition",
                                     "to_resource_id", "transitions", "share"])

    # -------------------------------------------------------------- updates
    @_guarded
    def update(self) -> None:
        """Recompute for the state's filters (once a tab of these was opened)."""
        if not self.seen:
            return
        d = self.data = self.state.rationalisation()
        k, c = d["kpis"], d["consequences"]
        self._head.object = (
            f"<p>{k['avalanches']} avalanche(s), {k['avalanche_alarms']:,} alarms in "
            f"{k['avalanche_minutes']} avalanche minute(s); {k['suppression_advice']} "
            f"suppression advice(s) from {c['pairs_tested']} pairs tested of "
            f"{c['pairs_tried']:,} that could be tried.</p>")
        self.episodes.value = frame(d["avalanches"]["episodes"], [
            "system_id", "start", "end", "minutes", "alarms", "peak_per_minute",
            "distinct_alarms", "initiator_definition", "initiator_resource_id",
            "initiator_raised_at", "initiator_ties"])
        self.initiators.value = frame(d["avalanches"]["initiators"], [
            "rank", "definition", "resource_id", "avalanches", "share", "systems"])
        self.advice.value = frame(c["suppression"], [
            "trigger_definition", "trigger_resource_id", "consequence_definition",
            "consequence_resource_id", "trigger_episodes", "together", "confidence", "lift",
            "removed", "without_trigger", "mutual", "evidence"])
        self.pairs.value = frame(c["pairs"], [
            "trigger_definition", "trigger_resource_id", "consequence_definition",
            "consequence_resource_id", "trigger_episodes", "together", "expected",
            "support", "confidence", "lift", "p_adjusted"])
        self.sequences.value = frame(d["sequences"]["top"], [
            "length", "rank", "step1_definition", "step2_definition", "step3_definition",
            "occurrences", "systems"])
        self.nuisance.value = frame(d["nuisance_scores"], [
            "rank", "definition", "resource_id", "alarms", "chatter_share", "fleeting_share",
            "repeat_share", "standing_share", "score"])
        ratio, iv = k.get("peak_to_average"), f"{self.state.rules.interval_s // 60} min"
        self.pattern_note.object = (
            f"<p>Peak-to-average: the busiest {iv} interval held "
            + number(ratio)
            + f" times the average interval's alarms (peak {k['peak_per_10min']} in {iv}, "
            f"average {k['avg_per_10min']:.2f}).</p>")
        self.avalanche_raises.visible = self.pair_episodes.visible = False
        self.avalanche_title.object = self.pair_title.object = ""
        self._pipe.send(d)

    def open(self) -> None:
        """A tab of these was opened: compute from now on."""
        if not self.seen:
            self.seen = True
            self.update()

    @_guarded
    def _pick_avalanche(self, event) -> None:
        row = self.data["avalanches"]["episodes"][int(event.row)]
        raises = self.state.avalanche_raises(row["system_id"], row["start"], row["end"])
        self.avalanche_title.object = (
            f"<h4>Avalanche of {html.escape(str(row['system_id']))}, "
            f"{html.escape(row['start'].replace('T', ' '))} – "
            f"{html.escape(row['end'].replace('T', ' '))}: {len(raises)} raise(s)</h4>")
        self.avalanche_raises.value = shown(raises)
        self.avalanche_raises.visible = True

    @_guarded
    def _pick_pair(self, tbl, event) -> None:
        row = tbl.value.iloc[int(event.row)]
        a = (row["trigger_definition"], row["trigger_resource_id"])
        b = (row["consequence_definition"], row["consequence_resource_id"])
        ep = self.state.advice_episodes(a, b)
        followed = int(ep.followed_at.notna().sum())
        self.pair_title.object = (
            f"<h4>Episodes of {html.escape(_label(*a))}: {followed} of {len(ep)} followed by "
            f"{html.escape(_label(*b))} within {self.state.rules.follow_window_s:g} s</h4>")
        self.pair_episodes.value = shown(ep)
        self.pair_episodes.visible = True
