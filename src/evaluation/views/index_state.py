"""State of the ``/`` page: what the database holds (no Panel import)."""
from __future__ import annotations

import pandas as pd
import param

from ..store.schema import TABLES
from .pages import PAGES, Page
from .queries import ReadOnlyStore

_BOOKKEEPING_DOCS = {
    "load_log": "One row per file of each load: counts and outcome.",
    "quarantine": "Input rows rejected by loads, with file, line and reason.",
    "messages": "e-Intervention messages received and the answer given to each.",
}


class IndexState(param.Parameterized):
    """The registered pages and a summary of the tables in the database."""

    def __init__(self, store: ReadOnlyStore, **params):
        self.store = store
        super().__init__(**params)

    def pages(self) -> list[Page]:
        """The registered pages the store's principal may open, except the index itself."""
        return [p for p in PAGES.values() if p.path != "/" and self.store.may_open(p.path)]

    def summary(self) -> pd.DataFrame:
        """Table name, row count and what the table holds, contract tables first."""
        out = self.store.table_counts()
        out["holds"] = [TABLES[t].doc if t in TABLES else _BOOKKEEPING_DOCS[t]
                        for t in out["table"]]
        return out

    def headline(self) -> dict[str, int]:
        """Counts for the one-line summary: input rows, tables holding rows, bookkeeping."""
        counts = dict(zip(self.store.table_counts()["table"], self.store.table_counts()["rows"]))
        contract = {t: int(n) for t, n in counts.items() if t in TABLES}
        return {
            "rows": sum(contract.values()),
            "tables_with_rows": sum(1 for n in contract.values() if n > 0),
            "tables": len(contract),
            "loads": int(self.store.value("SELECT count(DISTINCT load_id) FROM load_log")),
            "quarantined": int(counts["quarantine"]),
            "messages": int(counts["messages"]),
        }
