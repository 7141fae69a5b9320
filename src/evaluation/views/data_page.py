"""The ``/data`` page: tables and row counts, the load log, quarantine, e-Intervention answers
and the live endpoint's M2/M4 deliveries to the OCs.

A thin Viewer over :class:`~evaluation.views.data_state.DataState`: widgets write
the state's parameters, watchers update the tables in place, the filters and
page numbers live in the URL (``?load=3&kind=faults&qpage=2&message=M1&kopage=1``).
"""
from __future__ import annotations

import panel as pn
import param

from .data_state import DataState
from .display import section
from .layout import PAGE_SIZE, Pager, download, empty, error, frame_csv, table
from .queries import ReadOnlyStore
from .widgets import ALL, guarded

NO_LOADS = ("**No loads yet.** Run `opeval demo` to build the demo database, or "
            "`opeval ingest KIND FILE…` to load your own files, then reload this page.")
NO_QUARANTINE = "No quarantined rows for this filter: every row read met the data contract."
NO_MESSAGES = ("**No e-Intervention messages yet.** Load some with "
               "`opeval ingest messages FILE.ndjson` (one M1, M3 or M5 per line).")
NO_KO = "No KO answers for this filter: every message was answered OK (Code_Reponse 0)."
NO_DELIVERIES = ("No M2/M4 deliveries: the live endpoint (`opeval oi serve --ocs FILE`) relays "
                 "them to the OCs present at the PM.")

_guarded = guarded()

URL_PARAMS = {"load_id": "load", "kind": "kind", "quarantine_page": "qpage",
              "message": "message", "ko_page": "kopage"}


def _wrap(column: str, width: int = 460) -> dict:
    """Tabulator options that give a long text column a fixed width and wrap it."""
    return {"widths": {column: width}, "formatters": {column: {"type": "textarea"}}}


class DataPage(pn.viewable.Viewer):
    """What was loaded, what was rejected and why, and the answers to e-Intervention messages."""

    state = param.ClassSelector(class_=DataState)

    def __init__(self, **params):
        super().__init__(**params)
        s = self.state
        # Tables and loads: small, held whole, paged in the browser remotely.
        self._tables = table(s.table_counts(), css_classes=["opeval-table-tables"])
        self._loads = table(s.loads(), pagination="remote", page_size=10,
                            css_classes=["opeval-table-loads"], **_wrap("source", 320))
        self._no_loads = empty(NO_LOADS)
        # Quarantine: filters, one page of rows from DuckDB, pager, download of the filter.
        self._load_select = pn.widgets.Select(label="Load", width=360)
        self._kind_select = pn.widgets.Select(label="Kind", width=220)
        self._q_table = table(s.quarantine_rows(), pagination=None, sortable=False,
                              css_classes=["opeval-table-quarantine"], **_wrap("reason"))
        self._q_pager = Pager(s.quarantine_total, s.quarantine_pages, state=s,
                              page_param="quarantine_page")
        self._q_empty = empty(NO_QUARANTINE)
        # Answers: counts per message type and code, then the KO ones, paged from DuckDB.
        self._answers = table(s.answer_counts(), css_classes=["opeval-table-answers"])
        self._message_select = pn.widgets.Select(label="Message", width=220)
        self._ko_table = table(s.ko_rows(), pagination=None, sortable=False,
                              css_classes=["opeval-table-ko"],
                              **_wrap("description_reponse"))
        self._ko_pager = Pager(s.ko_total, s.ko_pages, state=s, page_param="ko_page")
        self._ko_empty = empty(NO_KO)
        self._no_messages = empty(NO_MESSAGES)
        self._deliveries = table(s.deliveries(), css_classes=["opeval-table-deliveries"])
        self._no_deliveries = empty(NO_DELIVERIES)
        self._refresh = pn.widgets.Button(label="Reload from the database", width=220)
        self._error = error("")
        self._error.visible = False
        self._refresh.on_click(lambda _e: self.refresh())

        self._choices: dict = {}
        self._link(self._load_select, "load_id", s.load_choices)
        self._link(self._kind_select, "kind", s.kind_choices)
        self._link(self._message_select, "message", s.message_choices)
        s.param.watch(self._update_quarantine, ["load_id", "kind", "quarantine_page"])
        s.param.watch(self._update_ko, ["message", "ko_page"])
        if pn.state.location is not None:
            pn.state.location.sync(s, URL_PARAMS)
        self._update_visibility()

    # ------------------------------------------------------------------ wiring
    def _link(self, widget: pn.widgets.Select, name: str, choices) -> None:
        """Two-way link between a Select (label -> value) and a state parameter.

        None (no filter) is shown as the first choice; the widget holds the
        sentinel ``ALL`` for it because a Select cannot display a None value.
        """
        def options() -> dict:
            return {label: ALL if value is None else value for label, value in choices().items()}

        def to_state(event):
            setattr(self.state, name, None if event.new == ALL else event.new)

        def to_widget(event):
            value = ALL if event.new is None else event.new
            if value in widget.options.values():
                widget.value = value
            else:  # e.g. a URL naming a load that does not exist: show everything
                setattr(self.state, name, None)

        self._choices[widget] = options
        widget.options = options()
        current = getattr(self.state, name)
        widget.value = current if current in widget.options.values() else ALL
        widget.param.watch(to_state, "value")
        self.state.param.watch(to_widget, name)

    @_guarded
    def _update_quarantine(self, *_events) -> None:
        with self.state.store.session(), self._q_table.param.update(loading=True):
            self._q_table.value = self.state.quarantine_rows()
            self._q_pager.refresh()
            self._update_visibility()

    @_guarded
    def _update_ko(self, *_events) -> None:
        with self.state.store.session(), self._ko_table.param.update(loading=True):
            self._ko_table.value = self.state.ko_rows()
            self._ko_pager.refresh()
            self._update_visibility()

    def _update_visibility(self) -> None:
        s = self.state
        has_loads, has_messages = s.has_loads(), s.has_messages()
        self._no_loads.visible = not has_loads
        self._loads.visible = has_loads
        q_rows = s.quarantine_total() > 0
        self._q_table.visible = self._q_pager.visible = q_rows
        self._q_empty.visible = has_loads and not q_rows
        self._no_messages.visible = not has_messages
        self._answers.visible = self._message_select.visible = has_messages
        ko_rows = s.ko_total() > 0
        self._ko_table.visible = self._ko_pager.visible = ko_rows
        self._ko_empty.visible = has_messages and not ko_rows
        self._deliveries.visible = not self._deliveries.value.empty
        self._no_deliveries.visible = self._deliveries.value.empty

    @_guarded
    def refresh(self) -> None:
        """Re-read everything (after a load made while the page was open)."""
        s = self.state
        with s.store.session():
            self._refresh_all()

    def _refresh_all(self) -> None:
        s = self.state
        self._tables.value = s.table_counts()
        self._loads.value = s.loads()
        self._answers.value = s.answer_counts()
        self._deliveries.value = s.deliveries()
        for widget, options in self._choices.items():
            widget.options = options()
        self._update_quarantine()
        self._update_ko()

    # ------------------------------------------------------------------ layout
    def __panel__(self):
        s = self.state
        return pn.Column(
            pn.pane.Markdown(
                "What the database holds, every load with its counts "
                "(read = accepted + quarantined), the rows that were rejected and why, and "
                "the answers given to e-Intervention messages.", margin=(10, 5),
                sizing_mode="stretch_width"),
            self._refresh, self._error,
            section("Tables", self._tables,
                     download("tables.csv", frame_csv(s.table_counts)), anchor="tables"),
            section("Loads (newest first)", self._no_loads, self._loads,
                     download("load_log.csv", frame_csv(s.loads)), anchor="loads"),
            section("Quarantined rows", pn.Row(self._load_select, self._kind_select),
                     self._q_empty, self._q_table, self._q_pager,
                     download("quarantine.csv", s.quarantine_csv), anchor="quarantine"),
            section("e-Intervention answers by code", self._no_messages, self._answers,
                     download("answers.csv", frame_csv(s.answer_counts)), anchor="answers"),
            section("KO answers", self._message_select, self._ko_empty, self._ko_table,
                     self._ko_pager, download("ko_answers.csv", s.ko_csv), anchor="ko"),
            section("M2/M4 deliveries to the OCs (flow 2)", self._no_deliveries,
                     self._deliveries, anchor="deliveries"),
            sizing_mode="stretch_width",
        )


def create(store: ReadOnlyStore) -> DataPage:
    return DataPage(state=DataState(store, page_size=PAGE_SIZE))
