"""Small pieces the page classes share: the read-error guard of an update, the
frame as the browser gets it, and the Select ↔ state link of a text filter."""
from __future__ import annotations

import functools
import html
from collections.abc import Callable

import duckdb
import pandas as pd
import panel as pn

from ..errors import OpevalError, public_message
from ..period import describe
from .display import MISSING

ALL = "*"
"""The Select value meaning "no filter" ('' in the state)."""


def guarded(render: Callable[[str], str] = str):
    """A decorator for a page's update methods: if the database cannot be read now, the
    page's ``_error`` pane shows ``render(message)`` and the update returns None;
    after an update that reads, the pane is hidden."""
    def decorate(update):
        @functools.wraps(update)
        def run(self, *args, **kwargs):
            try:
                result = update(self, *args, **kwargs)
            except (OpevalError, duckdb.Error) as exc:
                first = public_message(exc)
                self._error.object = render(f"Cannot read the database right now ({first}). "
                                            "A load may be running: try again in a moment.")
                self._error.visible = True
                return None
            self._error.visible = False
            return result
        return run
    return decorate


def period_note(p: dict | None, warnings: list[str]) -> str:
    """HTML: the period a page's figures cover (the ``period`` of the analysis' result,
    named as the CLI names it) and a warning for each side of it outside the data."""
    if p is None:
        return ""
    head = describe(p)
    out = f'<div class="opeval-period">{html.escape(head[0].upper() + head[1:])}.</div>'
    return out + "".join(f'<div class="opeval-warning">Warning: {html.escape(w)}.</div>'
                         for w in warnings)


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame as the browser gets it: times as text (UTC, to the second), a missing time
    as :data:`.display.MISSING`."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M:%S").where(out[c].notna(), MISSING)
    return out


def link_text(state, widget: pn.widgets.Select, name: str) -> None:
    """Link a Select to the text filter ``state.<name>``: '' in the state is :data:`ALL`
    in the widget; a value that is not among the options (e.g. from a hand-written
    URL) clears the filter."""
    def to_widget(v):
        return ALL if not v else v

    def s2w(event):
        value = to_widget(event.new)
        if value not in widget.options.values():
            setattr(state, name, "")
        elif widget.value != value:
            widget.value = value

    current = to_widget(getattr(state, name))
    if current not in widget.options.values():
        state.param.update(**{name: ""})
        current = ALL
    widget.value = current
    widget.param.watch(lambda e: setattr(state, name, "" if e.new == ALL else e.new), "value")
    state.param.watch(s2w, name)
