"""The ``/alerts`` page: the alerts the user may see, with their evidence and history, and
the buttons to acknowledge or resolve one.

A thin Viewer over :class:`~evaluation.views.alerts_state.AlertsState`: the state filter
and the selected alert live in the URL (``?show=all&alert=12``); a click on a row
selects it; the link of the alert opens the page and filter that show its evidence.
What is listed and what may be changed is decided by the role's scope, in the service
the CLI calls too (``opeval alerts list|ack|resolve|history``).
"""
from __future__ import annotations

import html

import panel as pn
import param

from ..errors import OpevalError
from .alerts_state import SHOW, AlertsState
from .layout import download, empty, error, frame_csv, table
from .queries import ReadOnlyStore
from .widgets import guarded, shown

NO_ALERTS = ("**No alert for this filter.** Alerts fire when a rule starts to hold (after "
             "every load, on the server's schedule, or with `opeval alerts run`); "
             "docs/alerts.md lists the rules.")
NO_SELECTION = "Select an alert in the table to see its evidence and history."

_guarded = guarded()

URL_PARAMS = {"show": "show", "alert_id": "alert"}


class AlertsPage(pn.viewable.Viewer):
    """Open alerts with their evidence, acknowledge / resolve, history."""

    state = param.ClassSelector(class_=AlertsState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        self._show = pn.widgets.Select(label="Show", options=list(SHOW), value=s.show, width=260)
        self._table = table(shown(s.frame()), selectable=1, pagination="remote", page_size=20,
                            css_classes=["opeval-table-alerts"],
                            widths={"title": 520}, formatters={"title": {"type": "textarea"}})
        self._empty = empty(NO_ALERTS)
        self._title = pn.pane.HTML("", sizing_mode="stretch_width")
        self._evidence = pn.pane.JSON({}, depth=3, sizing_mode="stretch_width",
                                      css_classes=["opeval-alert-evidence"])
        self._history = table(s.history(), css_classes=["opeval-table-alert-history"])
        self._note = pn.widgets.TextInput(label="Note (optional)", width=420,
                                          placeholder="what was seen or done")
        self._ack = pn.widgets.Button(label="Acknowledge", color="primary", width=140)
        self._resolve = pn.widgets.Button(label="Resolve", width=140)
        self._done = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._no_selection = empty(NO_SELECTION)
        self._error = error("")
        self._error.visible = False
        self._show.param.watch(lambda e: setattr(s, "show", e.new), "value")
        s.param.watch(lambda e: setattr(self._show, "value", e.new), "show")
        self._table.param.watch(self._select, "selection")
        self._ack.on_click(lambda _e: self._act(s.acknowledge, "acknowledged"))
        self._resolve.on_click(lambda _e: self._act(s.resolve, "resolved"))
        s.param.watch(self._update_list, "show")
        s.param.watch(self._update_detail, "alert_id")
        if pn.state.location is not None:
            pn.state.location.sync(s, URL_PARAMS)
        self._update_list()
        self._update_detail()

    def _select(self, event) -> None:
        rows = event.new
        if rows:
            self.state.alert_id = int(self._table.value.iloc[rows[0]]["alert_id"])

    @_guarded
    def _update_list(self, *_events) -> None:
        frame = shown(self.state.frame())
        self._table.value = frame
        self._table.visible = len(frame) > 0
        self._empty.visible = len(frame) == 0

    @_guarded
    def _update_detail(self, *_events) -> None:
        a = self.state.selected()
        self._no_selection.visible = a is None
        for w in (self._title, self._evidence, self._history, self._note, self._ack,
                  self._resolve):
            w.visible = a is not None
        if a is None:
            return
        who = (f" by {a.acknowledged_by}" if a.state == "acknowledged" else
               f" by {a.resolved_by}" if a.state == "resolved" else "")
        self._title.object = (
            f"<h4>#{a.alert_id} {html.escape(a.title)}</h4>"
            f"<p>{html.escape(a.state)}{html.escape(who)} · rule <code>{html.escape(a.rule)}"
            f"</code> · fired {a.fired_at:%Y-%m-%d %H:%M} UTC · condition "
            f"{'still holds' if a.active else 'cleared'} · "
            f'<a href=".{html.escape(a.link)}">see it on its page</a></p>')
        self._evidence.object = a.evidence
        self._history.value = self.state.history()
        self._ack.disabled = a.state != "open"
        self._resolve.disabled = a.state == "resolved"

    def _act(self, action, word: str) -> None:
        try:
            a = action(self._note.value)
        except OpevalError as exc:
            self._done.object = f"**Not {word}:** {html.escape(str(exc))}"
            return
        self._note.value = ""
        self._done.object = f"Alert #{a.alert_id} {word} by {html.escape(self.state.who.name)}."
        self._update_list()
        self._update_detail()

    def __panel__(self):
        s = self.state
        return pn.Column(
            pn.pane.Markdown(
                "The alerts you may see (your role's scope): each fired once when its rule "
                "started to hold, with the evidence that fired it and a link to the page "
                "that shows it. Acknowledge one to say you have seen it; resolve it when "
                "it is dealt with (an alert whose condition clears is resolved by opeval).",
                margin=(10, 5), sizing_mode="stretch_width"),
            self._error, self._show, self._empty, self._table,
            download("alerts.csv", frame_csv(s.frame)),
            pn.pane.HTML('<h3 id="alert">Selected alert</h3>', margin=(10, 5, 0, 5)),
            self._no_selection, self._title, self._evidence,
            pn.Row(self._note, self._ack, self._resolve), self._done,
            pn.pane.HTML("<h4>History</h4>", margin=(10, 5, 0, 5)), self._history,
            sizing_mode="stretch_width")


def create(store: ReadOnlyStore) -> AlertsPage:
    return AlertsPage(state=AlertsState(store))
