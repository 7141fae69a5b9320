"""Checks of one message-log line: the envelope and the body of M1, M3 or M5.

A log line is ``{"message": "M1"|"M3"|"M5", "received_at": "<ISO 8601>",
"body": {...}}``; the body carries the fields of the lot 1 OpenAPI schemas
``intervention_DO`` (M1, M3) and ``client_HS_OC_Par_Inter`` (M5). A body
wrapped in an object whose only key is the schema name is unwrapped.

:func:`parse_line` never raises: every problem becomes a :class:`Fault`
(answer code, field, what is wrong). Code 1 CHAMPS_NON_RENSEIGNE is for a
required field that is absent, null or the empty string; code 2 MAUVAIS_FORMAT
for any other breach. Codes 3 and 4 need reference data and belong to
:mod:`.rules`. Extra, unknown fields are ignored.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..localtime import UTC, to_utc
from ..store.schema import UNKNOWN_MARKERS, normalise_reference

# ------------------------------------------------------------------ answer codes
# R M1 / R M3 (spec 2.1.3, OpenAPI reponse_Intervention_DO) and R M5 (spec 2.1.5,
# OpenAPI reponse_Client_HS_OC_Par_Inter). Codes 0-2 are common to both.
OK, MISSING, BAD_FORMAT = 0, 1, 2
# Codes after those of the lot 1 tables are the rejections its §6 lists as evolutions
# (MAUVAIS_OI, CODE_DO_INCONNU, CODE_OC_INCONNU), numbered after the existing ones.
LIBELLES_DO = {0: "OK", 1: "CHAMPS_NON_RENSEIGNE", 2: "MAUVAIS_FORMAT",
               3: "CODE_OI_INCONNU", 4: "PM_INCONNU", 5: "MAUVAIS_OI", 6: "CODE_DO_INCONNU"}
LIBELLES_M5 = {0: "OK", 1: "CHAMPS_NON_RENSEIGNE", 2: "MAUVAIS_FORMAT",
               3: "REF_INTERV_OI_INCONNUE", 4: "CODE_OC_INCONNU"}
CODE_OI_UNKNOWN, PM_UNKNOWN, WRONG_OI, CODE_DO_UNKNOWN = 3, 4, 5, 6      # M1/M3
REF_OI_UNKNOWN, CODE_OC_UNKNOWN = 3, 4                                     # M5
DESCRIPTION_MAX = 100                       # OpenAPI Description_Reponse maxLength

MESSAGE_KINDS = ("M1", "M3", "M5")
BODY_SCHEMAS = {"M1": "intervention_DO", "M3": "intervention_DO", "M5": "client_HS_OC_Par_Inter"}

# Nature_PBO_PTO.nature (spec 2.1.3): 1 RACC, 2 SAV, 3 AUCUNE ACTION (M3 only), 4 NON FOURNIE.
NATURES = {1: "racc", 2: "sav", 3: "aucune_action", 4: "non_fournie"}
NATURE_M3_ONLY = 3
IDENTIFIERS = ("Code_DO", "Ref_Interv_DO", "Code_OC_impacte", "Ref_Interv_OI")

# Formats (spec 2.1.3 / 2.1.5 tables, OpenAPI maxLength).
OPERATOR_CODE = re.compile(r"[0-9A-Z]{4}", re.ASCII)          # Code_DO, Code_OI, Code_OC_impacte
REFERENCE = re.compile(r"[0-9A-Z_-]{1,50}", re.ASCII)          # Ref_Interv_DO, PM, Ref_Interv_OI
MAX_LEN = {"PBO": 100, "PTO": 50, "Tube": 50, "Fibre": 50, "Position_PM_Module_OI": 100}
# Fields of a client out of service that the count does not need (spec 2.1.5: an OC
# that cannot get one sends "inconnu"); unknown or unusable values are stored empty.
M5_OPTIONAL = ("PBO", "Tube", "Fibre", "Position_PM_Module_OI")

# ISO 8601 date-time: extended (2024-01-31T10:15:00) or basic (20240131T101500)
# date and time, T or space between, optional seconds and fraction, optional
# offset (Z, +01:00, +0100, +01). Without offset the time is a wall time of the
# database's zone (evaluation.localtime).
_TIMESTAMP = re.compile(
    r"([0-9]{4})(-?)([0-9]{2})\2([0-9]{2})[Tt ]"
    r"([0-9]{2})(:?)([0-9]{2})(?:\6([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)?", re.ASCII)


def parse_timestamp(text: str, zone: str = UTC) -> dt.datetime | None:
    """An ISO 8601 date-time as a naive UTC datetime, or None when it is not one; a time
    without offset is a wall time of ``zone`` (:func:`evaluation.localtime.to_utc`)."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    y, _, mo, d, h, _, mi, s, frac, zulu, sign, oh, om = m.groups()
    try:
        value = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0),
                            int((frac or "0")[:6].ljust(6, "0")))
        if sign:
            hours, minutes = int(oh), int(om or 0)
            if hours > 23 or minutes > 59:
                return None
            delta = dt.timedelta(hours=hours, minutes=minutes)
            value = value - delta if sign == "+" else value + delta
        elif not zulu:
            value = to_utc(value, zone)
    except (ValueError, OverflowError):
        return None
    return value


# ------------------------------------------------------------------ results

@dataclass(frozen=True, slots=True)
class Fault:
    """One problem of a message: the answer code it calls for, the field, what is wrong."""

    code: int
    field: str
    text: str

    def __str__(self) -> str:
        return f"{self.field}: {self.text}"


@dataclass(slots=True)
class Parsed:
    """One log line after the checks of this module.

    ``kind`` is M1/M3/M5 when the envelope names one; ``faults`` is empty when the
    line may go on to the OI rules. Targets are (nature word, PBO, PTO); clients
    are (PTO, PBO, Tube, Fibre, Position, cut time) with None for an unknown value.
    An M5 client that cannot be counted is set aside (``set_aside``) without
    rejecting the message; ``notes`` say what else was read as unknown.
    """

    line: int
    raw: str
    zone: str = UTC
    message: str | None = None
    kind: str | None = None
    received_at: dt.datetime | None = None
    faults: list[Fault] = field(default_factory=list)
    code_do: str | None = None
    code_oi: str | None = None
    ref_do: str | None = None
    pm: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    targets: tuple = ()
    code_oc: str | None = None
    ref_oi: str | None = None
    clients: tuple = ()
    clients_listed: int = 0
    set_aside: list[SetAside] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ids: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetAside:
    """A client of an M5 that cannot be counted: its fields at fault, why, what was sent."""

    field: str
    reason: str
    raw: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def _shown(value: Any, limit: int = 20) -> str:
    """A short quoted rendering of a bad value for a description."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


def clean(text: str) -> str:
    """``text`` with lone surrogates (possible in JSON escapes) replaced, so it encodes as UTF-8."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _absent(value: Any) -> bool:
    return value is None or value == ""


def describe(faults: list[Fault]) -> tuple[int, str]:
    """The answer code (lowest code among the faults) and a description of at most 100 chars.

    Precedence 1 > 2 > 3 > 4: a message missing a field is answered
    CHAMPS_NON_RENSEIGNE even if another field is also badly formatted. The
    description names the faults of the winning code, as many whole ones as fit,
    then ``(+N more)``.
    """
    code = min(f.code for f in faults)
    items = [str(f) for f in faults if f.code == code]
    text = items[0]
    if len(text) > DESCRIPTION_MAX:
        return code, text[:DESCRIPTION_MAX - 1] + "…"
    for i, item in enumerate(items[1:], start=1):
        rest = len(items) - i - 1
        tail = f" (+{rest} more)" if rest else ""
        if len(text) + 2 + len(item) + len(tail) <= DESCRIPTION_MAX:
            text += "; " + item
        else:
            more = f" (+{len(items) - i} more)"
            if len(text) + len(more) > DESCRIPTION_MAX:
                text = text[:DESCRIPTION_MAX - len(more) - 1] + "…"
            return code, text + more
    return code, text


# ------------------------------------------------------------------ field checks

def _code(body: dict, name: str, faults: list[Fault]) -> str | None:
    value = body.get(name)
    if _absent(value):
        faults.append(Fault(MISSING, name, "missing"))
    elif not isinstance(value, str) or OPERATOR_CODE.fullmatch(value) is None:
        faults.append(Fault(BAD_FORMAT, name, f"{_shown(value)} is not 4 chars [0-9A-Z]"))
    else:
        return value
    return None


def _reference(body: dict, name: str, faults: list[Fault]) -> str | None:
    value = body.get(name)
    if _absent(value):
        faults.append(Fault(MISSING, name, "missing"))
    elif not isinstance(value, str) or REFERENCE.fullmatch(value) is None:
        what = ("longer than 50 chars" if isinstance(value, str) and len(value) > 50
                else "not [0-9A-Z_-]{1,50}")
        faults.append(Fault(BAD_FORMAT, name, f"{_shown(value)} {what}"))
    else:
        return value
    return None


def _time(obj: dict, name: str, label: str, faults: list[Fault], zone: str,
          required: bool = True) -> dt.datetime | None:
    value = obj.get(name)
    if _absent(value):
        if required:
            faults.append(Fault(MISSING, label, "missing"))
        return None
    parsed = parse_timestamp(value, zone) if isinstance(value, str) else None
    if parsed is None:
        faults.append(Fault(BAD_FORMAT, label, f"{_shown(value)} not an ISO 8601 date-time"))
    return parsed


def _text(obj: dict, name: str, label: str, faults: list[Fault], required: bool) -> str | None:
    value = obj.get(name)
    if _absent(value):
        if required:
            faults.append(Fault(MISSING, label, "missing"))
        return None
    if not isinstance(value, str):
        faults.append(Fault(BAD_FORMAT, label, f"{_shown(value)} is not text"))
        return None
    if len(value) > MAX_LEN[name]:
        faults.append(Fault(BAD_FORMAT, label, f"longer than {MAX_LEN[name]} chars"))
        return None
    if clean(value) != value:
        faults.append(Fault(BAD_FORMAT, label, "not valid Unicode text"))
        return None
    return value


def _unwrap(body: Any, kind: str) -> Any:
    """``{"intervention_DO": {...}}`` → ``{...}`` (a body may carry its schema name)."""
    if isinstance(body, dict) and len(body) == 1:
        inner = body.get(BODY_SCHEMAS[kind])
        if isinstance(inner, dict):
            return inner
    return body


def _check_intervention(p: Parsed, body: dict) -> None:
    """M1 / M3 body (spec 2.1.3, OpenAPI ``intervention_DO``)."""
    faults = p.faults
    p.code_do = _code(body, "Code_DO", faults)
    p.code_oi = _code(body, "Code_OI", faults)
    p.ref_do = _reference(body, "Ref_Interv_DO", faults)
    p.pm = _reference(body, "PM", faults)
    p.started_at = _time(body, "Debut_Inter", "Debut_Inter", faults, p.zone)
    if p.kind == "M3":
        p.ended_at = _time(body, "Fin_Inter", "Fin_Inter", faults, p.zone)
        if p.started_at and p.ended_at and p.ended_at < p.started_at:
            faults.append(Fault(BAD_FORMAT, "Fin_Inter", "before Debut_Inter"))
    elif not _absent(body.get("Fin_Inter")):
        faults.append(Fault(BAD_FORMAT, "Fin_Inter", "must be null in M1"))
    items = body.get("Nature_PBO_PTO")
    if items is None or items == []:
        # An empty list declares no line at all: treated as a field not filled.
        faults.append(Fault(MISSING, "Nature_PBO_PTO", "missing" if items is None else "empty list"))
        return
    if not isinstance(items, list):
        faults.append(Fault(BAD_FORMAT, "Nature_PBO_PTO", "not a list"))
        return
    targets = set()
    for i, item in enumerate(items):
        label = f"Nature_PBO_PTO[{i}]"
        if not isinstance(item, dict):
            faults.append(Fault(BAD_FORMAT, label, "not an object"))
            continue
        nature = item.get("nature")
        word = None
        if _absent(nature):
            faults.append(Fault(MISSING, label + ".nature", "missing"))
        elif type(nature) is not int or nature not in NATURES:
            faults.append(Fault(BAD_FORMAT, label + ".nature", f"{_shown(nature)} not 1, 2, 3 or 4"))
        elif nature == NATURE_M3_ONLY and p.kind != "M3":
            faults.append(Fault(BAD_FORMAT, label + ".nature", "3 AUCUNE ACTION only in M3"))
        else:
            word = NATURES[nature]
        pbo = _unknown_as_none(_text(item, "PBO", label + ".PBO", faults, required=False))
        pto = normalise_reference(_text(item, "PTO", label + ".PTO", faults, required=False))
        targets.add((word, pbo, pto))
    p.targets = canonical(targets)


def _unknown_as_none(value: str | None) -> str | None:
    """An optional text as stored: None for an unknown marker (spec 2.1.5 "inconnu")."""
    if value is None or value.strip().lower() in UNKNOWN_MARKERS or not value.strip():
        return None
    return value


def _client(p: Parsed, item: Any, label: str) -> tuple | None:
    """One client out of service (spec 2.1.5), or None when it is set aside.

    A client counts only if its PTO and its cut time (HMS_Coupure) are known
    (criteria of 2.1.5): without either, or with either unreadable, it is set
    aside with the reason, and the other clients of the M5 are kept. PBO, Tube,
    Fibre and Position are not needed to count it: unknown or unusable, they are
    stored empty and noted.
    """
    raw = json.dumps(item, ensure_ascii=False, default=str)[:1000]
    if not isinstance(item, dict):
        p.set_aside.append(SetAside(label, "not an object", raw))
        return None
    faults: list[Fault] = []
    pto = _text(item, "PTO", label + ".PTO", faults, required=True)
    cut = _time(item, "HMS_Coupure", label + ".HMS_Coupure", faults, p.zone)
    if pto is not None and normalise_reference(pto) is None:
        faults.append(Fault(MISSING, label + ".PTO", f"unknown ({_shown(pto)})"))
    if faults:
        p.set_aside.append(SetAside(
            ", ".join(f.field for f in faults),
            "; ".join(f"{f.field.rsplit('.', 1)[1]} "
                      + ("unknown" if f.text == "missing" else f.text) for f in faults), raw))
    values = [normalise_reference(pto)]
    unusable = 0
    for name in M5_OPTIONAL:
        kept: list[Fault] = []
        v = _text(item, name, f"{label}.{name}", kept, required=False)
        unusable += bool(kept)
        values.append(_unknown_as_none(v))
    if faults:
        return None
    if unusable:
        p.notes.append(f"{label}: {unusable} unusable field(s) stored as unknown")
    values.append(cut)
    return tuple(values)


def _check_outage_report(p: Parsed, body: dict) -> None:
    """M5 body (spec 2.1.5, OpenAPI ``client_HS_OC_Par_Inter``)."""
    faults = p.faults
    p.code_oc = _code(body, "Code_OC_impacte", faults)
    p.ref_oi = _reference(body, "Ref_Interv_OI", faults)
    items = body.get("Liste_Clients_HS")
    if items is None:
        items = []          # no client out of service: the list is not sent (2.1.5)
    if not isinstance(items, list):
        faults.append(Fault(BAD_FORMAT, "Liste_Clients_HS", "not a list"))
        return
    clients = [_client(p, item, f"Liste_Clients_HS[{i}]") for i, item in enumerate(items)]
    p.clients = canonical(c for c in clients if c is not None)
    p.clients_listed = len(items)


def _order(row: tuple) -> tuple:
    return tuple((v is not None, v) for v in row)


def canonical(rows) -> tuple:
    """Distinct rows in a fixed order (None sorts first), so equal lists compare equal."""
    distinct = set(rows)
    return tuple(distinct) if len(distinct) < 2 else tuple(sorted(distinct, key=_order))


# ------------------------------------------------------------------ a whole line

def parse_line(line: int, raw: str, zone: str = UTC) -> Parsed:
    """Check one log line; the returned :class:`Parsed` lists every fault found. Times
    without offset are wall times of ``zone``."""
    p = Parsed(line, raw, zone)
    faults = p.faults
    if not raw.strip():
        faults.append(Fault(MISSING, "line", "empty, no message"))
        return p
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        reason = (exc.msg if isinstance(exc, json.JSONDecodeError)
                  else "nested too deeply" if isinstance(exc, RecursionError)
                  else "number too long")
        faults.append(Fault(BAD_FORMAT, "line", f"not valid JSON ({reason})"))
        return p
    if not isinstance(obj, dict):
        faults.append(Fault(BAD_FORMAT, "line", "not a JSON object"))
        return p
    message = obj.get("message")
    if isinstance(message, str):
        p.message = clean(message[:10])
    if _absent(message):
        faults.append(Fault(MISSING, "message", "missing"))
    elif message not in MESSAGE_KINDS:
        faults.append(Fault(BAD_FORMAT, "message", f"{_shown(message, 10)} not M1, M3 or M5"))
    else:
        p.kind = message
    p.received_at = _time(obj, "received_at", "received_at", faults, p.zone)
    body = obj.get("body")
    if body is None:
        faults.append(Fault(MISSING, "body", "missing"))
        return p
    if p.kind is not None:
        body = _unwrap(body, p.kind)
    if not isinstance(body, dict):
        faults.append(Fault(BAD_FORMAT, "body", "not a JSON object"))
        return p
    # What identifies the sender, kept for the messages table even when rejected.
    p.ids = {name: clean(v[:100]) for name in IDENTIFIERS if isinstance(v := body.get(name), str)}
    if p.kind == "M5":
        _check_outage_report(p, body)
    elif p.kind is not None:
        _check_intervention(p, body)
    return p
