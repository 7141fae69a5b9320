"""CSV for people: every CSV opeval writes to be opened by a person goes through :func:`to_csv`.

Formula injection (OWASP, "CSV Injection"): a spreadsheet opening a CSV file
runs a cell starting with ``=``, ``+``, ``-`` or ``@`` as a formula (and
treats a leading tab or carriage return the same way), so a value written by
another operator — a PM reference, an alarm comment, a raw rejected line —
can run ``=HYPERLINK(…)`` or worse on the reader's machine. OWASP's advice,
followed here: a text cell starting with one of those characters gets a
leading single quote, which spreadsheets read as "this is text" (OWASP ASVS
1.2.10 adds the NUL character to the list), and every text cell is wrapped in
double quotes (quotes inside doubled), so no separator — a comma, or the
semicolon a French spreadsheet splits on — and no line break inside a value
can start a new cell that would begin with a formula.

Only text cells are changed; numbers are written as they are, unquoted (a
negative number in a number column stays a number). The single quote shows in
a text editor; that is the price of the protection.

Writers: the downloads of every page (:func:`evaluation.views.layout.frame_csv`,
:meth:`evaluation.views.queries.ReadOnlyStore.csv` and the pages' own) and
``--format csv`` of ``opeval outages`` and ``opeval blacklist``. Input files
opeval itself generates for loading (the demo's, the Azure conversion) are data
for the loader, not for people, and are written unchanged.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value):
    """``value`` with a leading single quote when it is text starting with a trigger."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise, na_action="ignore")
    return out


def to_csv(frames: pd.DataFrame | Iterable[pd.DataFrame], **options) -> str:
    """The frames (one, or several parts of one table) as one CSV text with one header;
    text cells neutralised and quoted. ``options`` go to :meth:`pandas.DataFrame.to_csv`
    (``index=False`` unless given)."""
    options.setdefault("index", False)
    options["quoting"] = csv.QUOTE_NONNUMERIC
    parts = [frames] if isinstance(frames, pd.DataFrame) else frames
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(safe_frame(part).to_csv(header=(i == 0), **options))
    return "".join(out)
