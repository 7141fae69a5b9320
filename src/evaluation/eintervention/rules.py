"""The OI's rules on reception of M1, M3 and M5, applied in memory, message by message.

:class:`Reception` holds the state the rules need — the OI codes of this
database, the known PMs, the interventions by DO reference, the M5 reports —
and :meth:`Reception.receive` turns one checked line (:class:`.fields.Parsed`)
into its answer, updating the state. Nothing here touches the database:
:mod:`.reception` loads the state before and writes the changed records after.

Rules (spec 2.1.3, 2.1.5, 2.1.6, chapter 4 "Gestion de l'OI à la réception
de M1/M3", "Cas du pb SI provoquant l'envoi de M3 avant M1", and the rejections
of §6):

- answer code precedence: 1 > 2 (:func:`.fields.describe`), then the OI
  (3 CODE_OI_INCONNU, or 5 MAUVAIS_OI when the message is about this network —
  its PM or its DO reference is known here — but names another OI), then the
  DO (6 CODE_DO_INCONNU, only when the database lists its DOs: setting
  ``do_codes``), then the PM (4 PM_INCONNU when it is not a loaded PM of that OI);
- one Ref_Interv_OI per (Code_OI, Code_DO, Ref_Interv_DO), created on M1, or on
  M3 when no M1 came before; it is derived from a hash so a log re-loaded
  elsewhere yields the same references. The OI code is part of the key, so a DO
  reference reused under another OI never moves an intervention between OIs;
- a duplicate (same fields, whatever its reception time) changes nothing; a
  modified re-emission updates the intervention;
- the lines the DO works on are every line declared in M1 and in M3: each
  message's list replaces that message's earlier list only (an M3 that omits
  a PTO, which is optional, does not lose the one its M1 declared);
- an M1 after the M3 of the same intervention keeps everything M3 brought;
  it fills the M1 reception time when that is still empty and adds its lines;
- a message answered KO leaves the interventions untouched;
- M5: the OC must be known when the database lists its OCs (4 CODE_OC_INCONNU,
  setting ``oc_codes``), the Ref_Interv_OI must be known (3); one report per
  (reference, Code_OC_impacte); a re-sent M5 replaces that OC's list; clients
  that cannot count (unknown PTO or cut time) are set aside and the others kept;
  an M5 for an intervention without HF yet is accepted and says so.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from .fields import (
    CODE_DO_UNKNOWN,
    CODE_OC_UNKNOWN,
    CODE_OI_UNKNOWN,
    DESCRIPTION_MAX,
    LIBELLES_DO,
    LIBELLES_M5,
    OK,
    PM_UNKNOWN,
    REF_OI_UNKNOWN,
    WRONG_OI,
    Parsed,
    clean,
    describe,
)

INSERTED, UPDATED, UNCHANGED, REJECTED = "inserted", "updated", "unchanged", "rejected"


@dataclass(slots=True)
class Intervention:
    """One row of ``interventions`` with its targets (nature word, PBO, PTO) by the
    message that declared them: ``"m1"``, ``"m3"``, or None for lines loaded as a table."""

    ref_interv_oi: str
    ref_interv_do: str | None
    code_do: str | None
    code_oi: str
    pm_id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    m1_received_at: dt.datetime | None
    m3_received_at: dt.datetime | None
    targets: dict
    stored: bool = False      # in the store before this load
    changed: bool = False     # changed by a message of this load
    original: tuple | None = None   # state() as stored before the load

    def state(self) -> tuple:
        return (self.code_oi, self.pm_id, self.started_at, self.ended_at,
                self.m1_received_at, self.m3_received_at,
                tuple(sorted(((k or "", v) for k, v in self.targets.items() if v))))

    def target_rows(self) -> list[tuple]:
        """(declared_in, nature, PBO, PTO) of every line declared."""
        return [(src, *t) for src, rows in self.targets.items() for t in rows]


@dataclass(slots=True)
class Report:
    """One ``outage_reports`` row with its clients (PTO, PBO, Tube, Fibre, Position, cut)
    and the number of clients of the M5 that were set aside."""

    ref_interv_oi: str
    code_oc: str
    received_at: dt.datetime | None
    clients: tuple
    set_aside: int = 0
    stored: bool = False
    changed: bool = False
    original: tuple | None = None   # state() as stored before the load

    def state(self) -> tuple:
        return (self.received_at, self.clients, self.set_aside)


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


def _fit(text: str) -> str:
    """A description within the OpenAPI's 100 characters, valid UTF-8."""
    if len(text) > DESCRIPTION_MAX:
        text = text[:DESCRIPTION_MAX - 1] + "…"
    return clean(text)


def make_ref(code_oi: str, code_do: str, ref_do: str, salt: int = 0) -> str:
    """The OI reference of a DO presence period: ``<Code_OI>-<16 hex digits>``.

    Derived from a hash of Code_OI|Code_DO|Ref_Interv_DO (spec 2.1.6: one OI
    reference per DO reference) so that it is the same on every re-load; 21
    characters of [0-9A-Z-], within the 50 allowed. ``salt`` moves off a clash.
    """
    key = f"{code_oi}|{code_do}|{ref_do}" + (f"|{salt}" if salt else "")
    return f"{code_oi}-{hashlib.blake2b(key.encode(), digest_size=8).hexdigest().upper()}"


class Reception:
    """The OI side of flows 1 and 3 for one load.

    ``do_codes`` / ``oc_codes``: the partners this OI knows (None: any code is
    accepted, as the lot 1 tables define no such check).
    """

    def __init__(self, oi_codes: set[str], pm_owner: dict[str, str],
                 interventions: list[Intervention] = (), reports: list[Report] = (),
                 do_codes: set[str] | None = None, oc_codes: set[str] | None = None):
        self.oi_codes = set(oi_codes)
        self.do_codes = None if do_codes is None else set(do_codes)
        self.oc_codes = None if oc_codes is None else set(oc_codes)
        self.pm_owner = dict(pm_owner)      # pm_id -> oi_code
        self.by_do: dict[tuple[str, str, str], Intervention] = {}
        self.do_refs: dict[tuple[str, str], str] = {}   # (Code_DO, Ref_Interv_DO) -> an OI code
        self.by_ref: dict[str, Intervention] = {}
        for iv in interventions:
            iv.original = iv.state()
            self._index(iv)
        self.reports = {}
        for r in reports:
            r.original = r.state()
            self.reports[(r.ref_interv_oi, r.code_oc)] = r

    def absorb(self, loaded: Reception) -> None:
        """Take in ``loaded`` (state just read from the store for a new batch), keeping
        what this reception already holds: its records are newer (the live endpoint keeps
        one reception over the messages not yet applied to the store, :mod:`.live`)."""
        self.oi_codes, self.do_codes, self.oc_codes = (loaded.oi_codes, loaded.do_codes,
                                                       loaded.oc_codes)
        self.pm_owner.update(loaded.pm_owner)     # PMs are reference data: the store's
        for iv in loaded.by_ref.values():
            if iv.ref_interv_oi not in self.by_ref and (iv.code_oi, iv.code_do,
                                                        iv.ref_interv_do) not in self.by_do:
                self._index(iv)
        for key, report in loaded.reports.items():
            self.reports.setdefault(key, report)

    def _index(self, iv: Intervention) -> None:
        self.by_ref[iv.ref_interv_oi] = iv
        if iv.code_do is not None and iv.ref_interv_do is not None:
            self.by_do[(iv.code_oi, iv.code_do, iv.ref_interv_do)] = iv
            self.do_refs.setdefault((iv.code_do, iv.ref_interv_do), iv.code_oi)

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
        return Answer(p.line, p.message, code, libelles[code], _fit(text), None, REJECTED)

    def _m1_m3(self, p: Parsed) -> Answer:
        if p.code_oi not in self.oi_codes:
            return self._other_oi(p)
        if self.do_codes is not None and p.code_do not in self.do_codes:
            return self._ko(p, CODE_DO_UNKNOWN, f"Code_DO: '{p.code_do}' is not a DO known to "
                            "this OI", LIBELLES_DO)
        if self.pm_owner.get(p.pm) != p.code_oi:
            return self._ko(p, PM_UNKNOWN, f"PM: '{p.pm}' unknown for Code_OI {p.code_oi}",
                            LIBELLES_DO)
        key = (p.code_oi, p.code_do, p.ref_do)
        iv = self.by_do.get(key)
        m1 = p.kind == "M1"
        part = "m1" if m1 else "m3"
        if iv is None:
            iv = Intervention(self._new_ref(p), p.ref_do, p.code_do, p.code_oi, p.pm,
                              p.started_at, p.ended_at, p.received_at if m1 else None,
                              None if m1 else p.received_at, {part: p.targets}, changed=True)
            self._index(iv)
            text = "intervention created" if m1 else "intervention created by M3 (no M1 before)"
            return self._ok(p, iv.ref_interv_oi, INSERTED, text)
        before = iv.state()
        text = None
        if m1 and iv.m3_received_at is not None:
            # M1 after M3: nothing that M3 brought may be erased (chapter 4); the M1
            # still declares the lines it was about.
            if iv.m1_received_at is None:
                iv.m1_received_at = p.received_at
            iv.targets["m1"] = p.targets
            text = "M1 after M3: the data of M3 are kept"
        else:
            same = (iv.pm_id, iv.started_at, iv.targets.get(part, ())) == (
                p.pm, p.started_at, p.targets)
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
            iv.pm_id, iv.started_at = p.pm, p.started_at
            iv.targets[part] = p.targets
        if iv.state() == before:
            return self._ok(p, iv.ref_interv_oi, UNCHANGED,
                            text or "duplicate: already recorded, nothing changed")
        iv.changed = True
        return self._ok(p, iv.ref_interv_oi, UPDATED,
                        text or "re-emission with changes: intervention updated")

    def _other_oi(self, p: Parsed) -> Answer:
        """A Code_OI that is not this database's: MAUVAIS_OI when the message is about
        this network (its PM, or its DO reference under one of our OIs, is known here),
        else CODE_OI_INCONNU (spec 2.1.3 and the §6 rejections)."""
        owner = self.pm_owner.get(p.pm)
        known_under = self.do_refs.get((p.code_do, p.ref_do))
        if owner in self.oi_codes:
            return self._ko(p, WRONG_OI, f"Code_OI: '{p.code_oi}' is not this OI; PM "
                            f"{p.pm} belongs to {owner}", LIBELLES_DO)
        if known_under is not None:
            return self._ko(p, WRONG_OI, f"Code_OI: '{p.code_oi}' is not this OI; "
                            f"Ref_Interv_DO {p.ref_do} is known here under {known_under}",
                            LIBELLES_DO)
        return self._ko(p, CODE_OI_UNKNOWN,
                        f"Code_OI: '{p.code_oi}' is not an OI of this database", LIBELLES_DO)

    def _new_ref(self, p: Parsed) -> str:
        salt = 0
        while True:
            ref = make_ref(p.code_oi, p.code_do, p.ref_do, salt)
            if ref not in self.by_ref:
                return ref
            salt += 1

    def _m5(self, p: Parsed) -> Answer:
        if self.oc_codes is not None and p.code_oc not in self.oc_codes:
            return self._ko(p, CODE_OC_UNKNOWN, f"Code_OC_impacte: '{p.code_oc}' is not an OC "
                            "known to this OI", LIBELLES_M5)
        iv = self.by_ref.get(p.ref_oi)
        if iv is None:
            return self._ko(p, REF_OI_UNKNOWN, f"Ref_Interv_OI: '{p.ref_oi}' unknown", LIBELLES_M5)
        key = (p.ref_oi, p.code_oc)
        report = self.reports.get(key)
        n, aside = len(p.clients), len(p.set_aside)
        listed = f"{n} client(s) out of service" if n else "no client out of service"
        if aside:
            first = p.set_aside[0]
            where = first.field.split(".")[0].removeprefix("Liste_Clients_HS")
            listed += f", {aside} set aside ({where} {first.reason})"
        if iv.ended_at is None:
            listed += "; no M3 yet"
        new = Report(p.ref_oi, p.code_oc, p.received_at, p.clients, aside, changed=True)
        if report is None:
            self.reports[key] = new
            return self._ok(p, p.ref_oi, INSERTED, f"report recorded: {listed}", LIBELLES_M5)
        if (report.clients, report.set_aside) == (new.clients, new.set_aside):
            return self._ok(p, p.ref_oi, UNCHANGED, "duplicate: already recorded, nothing changed",
                            LIBELLES_M5)
        report.clients, report.set_aside = new.clients, new.set_aside
        report.received_at, report.changed = p.received_at, True
        return self._ok(p, p.ref_oi, UPDATED, f"list replaced: {listed}", LIBELLES_M5)

    @staticmethod
    def _ok(p: Parsed, ref: str, effect: str, text: str, libelles: dict = LIBELLES_DO) -> Answer:
        return Answer(p.line, p.message, OK, libelles[OK], _fit(text), ref, effect)

    # -------------------------------------------------------------- results

    def changed_interventions(self) -> list[Intervention]:
        """Interventions to write: changed by this load and, in the end, not as stored
        (a log replayed over its own result rewrites nothing)."""
        return [iv for iv in self.by_ref.values() if iv.changed and iv.state() != iv.original]

    def changed_reports(self) -> list[Report]:
        return [r for r in self.reports.values() if r.changed and r.state() != r.original]
