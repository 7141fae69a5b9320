"""State and queries of the ``/data`` page: what was loaded, what was rejected and why.

Plain ``param.Parameterized`` (no Panel import): the page's Viewer and the unit
tests drive the same object. The filters (load, kind, message type) and the
page numbers are parameters, so the Viewer can sync them with the URL.
Quarantined rows and KO answers are fetched one page at a time with
``LIMIT``/``OFFSET`` in DuckDB: a large quarantine never travels whole.
"""
from __future__ import annotations

import math

import pandas as pd
import param

from .queries import ReadOnlyStore

# Code_Reponse 0 is OK for every answer (R M1, R M3, R M5); any other code is a KO.
OK_CODE = 0

_LOAD_FILTER = "($1::BIGINT IS NULL OR load_id = $1) AND ($2::VARCHAR IS NULL OR kind = $2)"
_KO_FILTER = f"code_reponse <> {OK_CODE} AND ($1::VARCHAR IS NULL OR message = $1)"

QUARANTINE_COLUMNS = ("load_id", "kind", "source_file", "line", "columns", "reason")
# On the page the file is shown by its name (the CSV download keeps the full path).
_FILE_NAME = r"regexp_extract(source_file, '[^/\\]*$') AS file"
KO_COLUMNS = ("message", "code_reponse", "libelle_reponse", "description_reponse", "load_id",
              "line", "received_at", "code_do", "ref_interv_do")


def page_count(total: int, page_size: int) -> int:
    """Pages needed for ``total`` rows; at least 1 so an empty result still has page 1."""
    return max(1, math.ceil(total / page_size))


class DataState(param.Parameterized):
    """Filters and paged queries behind the ``/data`` page."""

    load_id = param.Integer(default=None, allow_None=True,
                            doc="Show the quarantine of this load only (None: every load).")
    kind = param.String(default=None, allow_None=True,
                        doc="Show the quarantine of this kind (table) only (None: every kind).")
    quarantine_page = param.Integer(default=1, bounds=(1, None), doc="1-based page of quarantine.")
    message = param.String(default=None, allow_None=True,
                           doc="Show the KO answers of this message type only (M1, M3, M5).")
    ko_page = param.Integer(default=1, bounds=(1, None), doc="1-based page of KO answers.")
    page_size = param.Integer(default=20, bounds=(1, 1000), doc="Rows per page.")

    def __init__(self, store: ReadOnlyStore, **params):
        self.store = store
        super().__init__(**params)

    # ------------------------------------------------------------ what is loaded
    def table_counts(self) -> pd.DataFrame:
        """Rows per table, with the number of applied loads and the last one's end time."""
        counts = self.store.table_counts()
        loads = self.store.df("""
            SELECT kind AS "table", count(DISTINCT load_id) AS loads, max(finished_at) AS last_load
            FROM load_log WHERE status = 'applied' GROUP BY kind""")
        out = counts.merge(loads, on="table", how="left")
        out["loads"] = out["loads"].fillna(0).astype("int64")
        return out

    def has_loads(self) -> bool:
        return bool(self.store.value("SELECT count(*) FROM load_log"))

    def loads(self) -> pd.DataFrame:
        """The load log, newest load first, one row per file."""
        return self.store.df("""
            SELECT load_id, kind, status, rows_read, accepted, quarantined, inserted, updated,
                   unchanged, source, started_at, finished_at, strict, message, file_index
            FROM load_log ORDER BY load_id DESC, file_index""")

    def load_choices(self) -> dict[str, int | None]:
        """Label -> load id for the load filter, newest first, with its quarantined count."""
        rows = self.store.df("""
            SELECT load_id, any_value(kind) AS kind, min(started_at) AS started_at,
                   sum(quarantined) AS quarantined
            FROM load_log GROUP BY load_id ORDER BY load_id DESC""")
        choices: dict[str, int | None] = {"every load": None}
        for r in rows.itertuples():
            label = (f"#{r.load_id} {r.kind} {r.started_at:%Y-%m-%d %H:%M} "
                     f"({int(r.quarantined)} quarantined)")
            choices[label] = int(r.load_id)
        return choices

    def kind_choices(self) -> dict[str, str | None]:
        """Label -> kind for the kind filter: every kind that was ever loaded."""
        kinds = self.store.df("SELECT DISTINCT kind FROM load_log ORDER BY kind")["kind"]
        return {"every kind": None, **{k: k for k in kinds}}

    # ---------------------------------------------------------------- quarantine
    def _load_params(self) -> list:
        return [self.load_id, self.kind]

    def quarantine_total(self) -> int:
        return int(self.store.value(f"SELECT count(*) FROM quarantine WHERE {_LOAD_FILTER}",
                                    self._load_params()))

    def quarantine_pages(self) -> int:
        return page_count(self.quarantine_total(), self.page_size)

    def quarantine_rows(self) -> pd.DataFrame:
        """The current page of quarantined rows (newest load first, then file and line)."""
        offset = (self.quarantine_page - 1) * self.page_size
        return self.store.df(
            f"""SELECT load_id, kind, {_FILE_NAME}, line, columns, reason
                FROM quarantine WHERE {_LOAD_FILTER}
                ORDER BY load_id DESC, source_file, line LIMIT $3 OFFSET $4""",
            self._load_params() + [self.page_size, offset])

    def quarantine_csv(self) -> bytes:
        """Every quarantined row of the current filter, with its raw input, as CSV."""
        return self.store.csv(
            f"""SELECT {', '.join(QUARANTINE_COLUMNS)}, raw FROM quarantine WHERE {_LOAD_FILTER}
                ORDER BY load_id DESC, source_file, line""", self._load_params())

    @param.depends("load_id", "kind", "page_size", watch=True)
    def _reset_quarantine_page(self):
        self.quarantine_page = 1

    # ------------------------------------------------------ e-Intervention answers
    def has_messages(self) -> bool:
        return bool(self.store.value("SELECT count(*) FROM messages"))

    def deliveries(self) -> pd.DataFrame:
        """Flow 2 of the live endpoint (`opeval oi serve`): M2/M4 deliveries to the OCs by
        OC, message and state (pending, delivered, rejected by the OC, failed after the
        automatic retries), read from the endpoint's journal beside the database."""
        from ..eintervention.journal import delivery_summary
        return pd.DataFrame(delivery_summary(self.store.path),
                            columns=["code_oc", "message", "state", "deliveries",
                                     "last_attempt", "next_attempt"])

    def answer_counts(self) -> pd.DataFrame:
        """Answers per message type and Code_Reponse, with their share of that type."""
        return self.store.df("""
            SELECT message, code_reponse, libelle_reponse, count(*) AS answers,
                   count(*) / sum(count(*)) OVER (PARTITION BY message) AS share
            FROM messages GROUP BY message, code_reponse, libelle_reponse
            ORDER BY message, code_reponse""")

    def message_choices(self) -> dict[str, str | None]:
        types = self.store.df("SELECT DISTINCT message FROM messages WHERE message IS NOT NULL "
                              "ORDER BY message")["message"]
        return {"every message": None, **{m: m for m in types}}

    def ko_total(self) -> int:
        return int(self.store.value(f"SELECT count(*) FROM messages WHERE {_KO_FILTER}",
                                    [self.message]))

    def ko_pages(self) -> int:
        return page_count(self.ko_total(), self.page_size)

    def ko_rows(self) -> pd.DataFrame:
        """The current page of KO answers with their Description_Reponse, newest load first."""
        offset = (self.ko_page - 1) * self.page_size
        return self.store.df(
            f"""SELECT {', '.join(KO_COLUMNS)} FROM messages WHERE {_KO_FILTER}
                ORDER BY load_id DESC, line LIMIT $2 OFFSET $3""",
            [self.message, self.page_size, offset])

    def ko_csv(self) -> bytes:
        return self.store.csv(
            f"""SELECT {', '.join(KO_COLUMNS)} FROM messages WHERE {_KO_FILTER}
                ORDER BY load_id DESC, line""", [self.message])

    @param.depends("message", "page_size", watch=True)
    def _reset_ko_page(self):
        self.ko_page = 1
