"""The OI's rules on reception of M1, M3 and M5, applied in memory, message by message.

:class:`Reception` holds the state the rules need — the OI codes of this
database, the known PMs, the interventions by DO reference, the M5 reports —
and :meth:`Reception.receive` turns one checked line (:class:`.fields.Parsed`)
into its answer, updating the state. Nothing here touches the database:
:mod:`.reception` loads the state before and writes the changed records after.

Rules (spec 2.1.3, 2.1.5, 2.1.6 and chapter 4 "Gestion de l'OI à la réception
de M1/M3", "Cas du pb SI provoquant l'envoi de M3 avant M1"):

- answer code precedence 1 > 2 > 3 > 4 (:func:`.fields.describe` for 1 and 2);
  3 CODE_OI_INCONNU when Code_OI is not an OI of this database; 4 PM_INCONNU
  when the PM is not a loaded PM of that OI;
- one Ref_Interv_OI per (Code_DO, Ref_Interv_DO), created on M1, or on M3 when
  no M1 came before; it is derived from a hash so a log re-loaded elsewhere
  yields the same references;
- a duplicate (same fields, whatever its reception time) changes nothing; a
  modified re-emission updates the intervention and replaces its targets;
- an M1 after the M3 of the same intervention keeps everything M3 brought;
  it only fills the M1 reception time when that is still empty;
- a message answered KO leaves the interventions untouched;
- M5: the Ref_Interv_OI must be known (code 3); one report per (reference,
  Code_OC_impacte); a re-sent M5 replaces that OC's list.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from .fields import (
    CODE_OI_UNKNOWN,
    LIBELLES_DO,
    LIBELLES_M5,
    OK,
    PM_UNKNOWN,
    REF_OI_UNKNOWN,
    Parsed,
    clean,
    describe,
)

INSERTED, UPDATED, UNCHANGED, REJECTED = "inserted", "updated", "unchanged", "rejected"


@dataclass(slots=True)
class Intervention:
    """One row of ``interventions`` with its targets (nature word, PBO, PTO)."""

    ref_interv_oi: str
    ref_interv_do: str | None
    code_do: str | None
    code_oi: str
    pm_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    m1_received_at: dt.datetime | None
    m3_received_at: dt.datetime | None
    targets: tuple
    stored: bool = False      # in the store before this load
    changed: bool = False     # changed by a message of this load
    original: tuple | None = None   # state() as stored before the load

    def state(self) -> tuple:
        return (self.code_oi, self.pm_id, self.started_at, self.ended_at,
                self.m1_received_at, self.m3_received_at, self.targets)


@dataclass(slots=True)
class Report:
    """One ``outage_reports`` row with its clients (PTO, PBO, Tube, Fibre, Position, cut)."""

    ref_interv_oi: str
    code_oc: str
    received_at: dt.datetime | None
    clients: tuple
    stored: bool = False
    changed: bool = False
    original: tuple | None = None   # (received_at, clients) as stored before the load


@dataclass(slots=True)
class Answer:
    """The OI's answer to one line, and what the line did to the store."""

    line: int
    message: str | None
    code: int
    libelle: str
    description: str | None
    ref_interv_oi: str | None
    effect: str

    def as_json(self) -> dict:
        out = {"line": self.line, "message": self.message, "Code_Reponse": self.code,
               "Libelle_Reponse": self.libelle}
        if self.description:
            out["Description_Reponse"] = self.description
        if self.code == OK:
            out["Ref_Interv_OI"] = self.ref_interv_oi
        out["effect"] = self.effect
        return out


def make_ref(code_oi: str, code_do: str, ref_do: str, salt: int = 0) -> str:
    """The OI reference of a DO presence period: ``<Code_OI>-<16 hex digits>``.

    Derived from a hash of Code_OI|Code_DO|Ref_Interv_DO (spec 2.1.6: one OI
    reference per DO reference) so that it is the same on every re-load; 21
    characters of [0-9A-Z-], within the 50 allowed. ``salt`` moves off a clash.
    """
    key = f"{code_oi}|{code_do}|{ref_do}" + (f"|{salt}" if salt else "")
    return f"{code_oi}-{hashlib.blake2b(key.encode(), digest_size=8).hexdigest().upper()}"


class Reception:
    """The OI side of flows 1 and 3 for one load."""

    def __init__(self, oi_codes: set[str], pm_owner: dict[str, str],
                 interventions: list[Intervention] = (), reports: list[Report] = ()):
        self.oi_codes = set(oi_codes)
        self.pm_owner = dict(pm_owner)      # pm_id -> oi_code
        self.by_do: dict[tuple[str, str], Intervention] = {}
        self.by_ref: dict[str, Intervention] = {}
        for iv in interventions:
            iv.original = iv.state()
            self.by_ref[iv.ref_interv_oi] = iv
            if iv.code_do is not None and iv.ref_interv_do is not None:
                self.by_do[(iv.code_do, iv.ref_interv_do)] = iv
        self.reports = {}
        for r in reports:
            r.original = (r.received_at, r.clients)
            self.reports[(r.ref_interv_oi, r.code_oc)] = r

    # -------------------------------------------------------------- answers

    def receive(self, p: Parsed) -> Answer:
        """Answer one line and apply it to the state (never raises for any input)."""
        libelles = LIBELLES_M5 if p.kind == "M5" else LIBELLES_DO
        if p.faults:
            code, text = describe(p.faults)
            return Answer(p.line, p.message, code, libelles[code], clean(text), None, REJECTED)
        if p.kind == "M5":
            return self._m5(p)
        return self._m1_m3(p)

    def _ko(self, p: Parsed, code: int, text: str, libelles: dict) -> Answer:
        return Answer(p.line, p.message, code, libelles[code], text, None, REJECTED)

    def _m1_m3(self, p: Parsed) -> Answer:
        if p.code_oi not in self.oi_codes:
            return self._ko(p, CODE_OI_UNKNOWN,
                            f"Code_OI: '{p.code_oi}' is not an OI of this database", LIBELLES_DO)
        if self.pm_owner.get(p.pm) != p.code_oi:
            return self._ko(p, PM_UNKNOWN, f"PM: '{p.pm}' unknown for Code_OI {p.code_oi}",
                            LIBELLES_DO)
        key = (p.code_do, p.ref_do)
        iv = self.by_do.get(key)
        m1 = p.kind == "M1"
        if iv is None:
            iv = Intervention(self._new_ref(p), p.ref_do, p.code_do, p.code_oi, p.pm,
                              p.started_at, p.ended_at, p.received_at if m1 else None,
                              None if m1 else p.received_at, p.targets, changed=True)
            self.by_do[key] = iv
            self.by_ref[iv.ref_interv_oi] = iv
            text = "intervention created" if m1 else "intervention created by M3 (no M1 before)"
            return self._ok(p, iv.ref_interv_oi, INSERTED, text)
        before = iv.state()
        text = None
        if m1 and iv.m3_received_at is not None:
            # M1 after M3: nothing that M3 brought may be erased (chapter 4).
            if iv.m1_received_at is None:
                iv.m1_received_at = p.received_at
            text = "M1 after M3: the data of M3 are kept"
        else:
            same = (iv.code_oi, iv.pm_id, iv.started_at, iv.targets) == (
                p.code_oi, p.pm, p.started_at, p.targets)
            if m1:
                if not same or iv.m1_received_at is None:
                    iv.m1_received_at = p.received_at
            else:
                same = same and iv.ended_at == p.ended_at
                if iv.m3_received_at is None:
                    text = "end of intervention recorded"
                if not same or iv.m3_received_at is None:
                    iv.m3_received_at = p.received_at
                iv.ended_at = p.ended_at
            iv.code_oi, iv.pm_id, iv.started_at, iv.targets = (
                p.code_oi, p.pm, p.started_at, p.targets)
        if iv.state() == before:
            return self._ok(p, iv.ref_interv_oi, UNCHANGED,
                            text or "duplicate: already recorded, nothing changed")
        iv.changed = True
        return self._ok(p, iv.ref_interv_oi, UPDATED,
                        text or "re-emission with changes: intervention updated")

    def _new_ref(self, p: Parsed) -> str:
        salt = 0
        while True:
            ref = make_ref(p.code_oi, p.code_do, p.ref_do, salt)
            if ref not in self.by_ref:
                return ref
            salt += 1

    def _m5(self, p: Parsed) -> Answer:
        iv = self.by_ref.get(p.ref_oi)
        if iv is None:
            return self._ko(p, REF_OI_UNKNOWN, f"Ref_Interv_OI: '{p.ref_oi}' unknown", LIBELLES_M5)
        key = (p.ref_oi, p.code_oc)
        report = self.reports.get(key)
        n = len(p.clients)
        listed = f"{n} client(s) out of service" if n else "no client out of service"
        if report is None:
            self.reports[key] = Report(p.ref_oi, p.code_oc, p.received_at, p.clients, changed=True)
            return self._ok(p, p.ref_oi, INSERTED, f"report recorded: {listed}", LIBELLES_M5)
        if report.clients == p.clients:
            return self._ok(p, p.ref_oi, UNCHANGED, "duplicate: already recorded, nothing changed",
                            LIBELLES_M5)
        report.clients, report.received_at, report.changed = p.clients, p.received_at, True
        return self._ok(p, p.ref_oi, UPDATED, f"list replaced: {listed}", LIBELLES_M5)

    @staticmethod
    def _ok(p: Parsed, ref: str, effect: str, text: str, libelles: dict = LIBELLES_DO) -> Answer:
        return Answer(p.line, p.message, OK, libelles[OK], text, ref, effect)

    # -------------------------------------------------------------- results

    def changed_interventions(self) -> list[Intervention]:
        """Interventions to write: changed by this load and, in the end, not as stored
        (a log replayed over its own result rewrites nothing)."""
        return [iv for iv in self.by_ref.values() if iv.changed and iv.state() != iv.original]

    def changed_reports(self) -> list[Report]:
        return [r for r in self.reports.values()
                if r.changed and (r.received_at, r.clients) != r.original]
