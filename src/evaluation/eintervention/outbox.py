"""Flow 2: the M2 and M4 the OI sends to every OC present at the PM, from the journal's
durable outbox, with the spec's automatic and manual retries.

Spec 2.1.4: an M1 answered OK calls for an M2, an M3 answered OK for an M4, to each
OC present at the PM; the body is the OpenAPI ``intervention_OI`` (``Code_OI``,
``Ref_Interv_OI``, ``PM``, ``PBO`` list, ``Debut_Inter``, ``Fin_Inter`` for M4):
anonymised, without the DO's code, reference or the PTOs. A duplicate changes nothing
and sends nothing; a modified re-emission sends the message again with the new
values; an M1 received after its M3 "ne déclenchera aucun autre flux" (chapter 4) and
sends nothing; an M3 that created the intervention (no M1 before) sends its M4,
which carries both times.

Spec chapter 3: a sender that finds its partner unavailable retries automatically
"dans la limite de 5 retry et sur une période maximale de 24h" (its example: after 1
min, 2 min, 5 min, 10 min, 20 h — :data:`DEFAULT_DELAYS`), and offers a manual retry
"sur une période donnée" (:func:`retry`). Chapter 4: an OC that answers KO (R M2/R M4
code 1–3) has refused the message as sent; it is not retried automatically (the OI may
correct it and send it again by hand within 48 h).

Which OCs are present at which PM, and where they listen, is configuration: a TOML
file given to ``opeval oi serve --ocs FILE`` (:class:`Directory`, docs/eintervention.md).
"""
from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import threading
import tomllib
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import OpevalError
from . import journal
from .fields import OK, Parsed
from .rules import Answer, Reception

log = logging.getLogger(__name__)

DEFAULT_DELAYS = (60.0, 120.0, 300.0, 600.0, 72_000.0)
"""Seconds before each automatic retry (spec chapter 3's example: 1, 2, 5, 10 min, 20 h)."""
WINDOW = dt.timedelta(hours=24)
TIMEOUT = 10.0


@dataclass(frozen=True)
class OC:
    """An OC present on the network: its code, the base URL of its lot 1 API, the
    environment variable holding the bearer token it gave the OI, its PMs (None: all)."""

    code: str
    url: str
    token_env: str | None
    pms: frozenset[str] | None

    def token(self) -> str | None:
        return os.environ.get(self.token_env) if self.token_env else None


class Directory:
    """The OCs of the ``--ocs`` file::

        [[oc]]
        code = "OCA1"                        # Code_OC (4 characters [0-9A-Z])
        url = "https://oc-a.example/v1"      # the OI posts to <url>/intervention_OI
        token_env = "OPEVAL_OC_OCA1_TOKEN"   # optional: its bearer token, from this variable
        pms = ["FI-35238-0012"]              # optional: the PMs it is present at (all if absent)
    """

    def __init__(self, ocs: list[OC]):
        self.ocs = ocs

    @classmethod
    def read(cls, path: str | os.PathLike | None) -> Directory:
        if path is None:
            return cls([])
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise OpevalError(f"--ocs {path}: cannot read it ({exc})") from None
        entries = data.get("oc", [])
        if not isinstance(entries, list):
            raise OpevalError(f"--ocs {path}: expected [[oc]] tables")
        ocs = []
        for i, e in enumerate(entries):
            where = f"--ocs {path}: oc #{i + 1}"
            if not isinstance(e, dict):
                raise OpevalError(f"{where}: not a table")
            code, url, env, pms = e.get("code"), e.get("url"), e.get("token_env"), e.get("pms")
            if not isinstance(code, str) or len(code) != 4 or not code.isalnum() \
                    or code != code.upper() or not code.isascii():
                raise OpevalError(f"{where}: code {code!r} is not 4 characters [0-9A-Z]")
            parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise OpevalError(f"{where} ({code}): url {url!r} is not an http(s) URL")
            if env is not None and not isinstance(env, str):
                raise OpevalError(f"{where} ({code}): token_env must be a variable name")
            if pms is not None and (not isinstance(pms, list)
                                    or not all(isinstance(p, str) for p in pms)):
                raise OpevalError(f"{where} ({code}): pms must be a list of PM references")
            ocs.append(OC(code, url.rstrip("/"), env, None if pms is None else frozenset(pms)))
        return cls(ocs)

    def at(self, pm: str) -> list[OC]:
        """The OCs present at ``pm``."""
        return [oc for oc in self.ocs if oc.pms is None or pm in oc.pms]

    def by_code(self, code: str) -> OC | None:
        return next((oc for oc in self.ocs if oc.code == code), None)


def _time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def flow(p: Parsed, answer: Answer, reception: Reception) -> tuple[str, dict] | None:
    """(M2 or M4, its ``intervention_OI`` body) for an accepted M1/M3 that inserted or
    updated its intervention, or None when it calls for nothing (an M1 after its M3)."""
    iv = reception.by_ref[answer.ref_interv_oi]
    if p.kind == "M1" and iv.m3_received_at is not None:
        return None
    pbos = sorted({t[1] for rows in iv.targets.values() for t in rows if t[1] is not None})
    body = {"Code_OI": iv.code_oi, "Ref_Interv_OI": iv.ref_interv_oi, "PM": iv.pm_id,
            "PBO": [{"PBO": pbo} for pbo in pbos], "Debut_Inter": _time(iv.started_at)}
    if p.kind == "M3":
        body["Fin_Inter"] = _time(iv.ended_at)
    return ("M2" if p.kind == "M1" else "M4"), body


def flows_for(directory: Directory):
    """The ``flows`` callback of :class:`.live.Live`: one delivery per OC at the PM."""
    def flows(p: Parsed, answer: Answer, reception: Reception) -> list[tuple]:
        if answer.code != OK or p.kind == "M5":
            return []
        made = flow(p, answer, reception)
        if made is None:
            return []
        message, body = made
        text = json.dumps(body, ensure_ascii=False)
        return [(oc.code, f"{oc.url}/intervention_OI", message, text)
                for oc in directory.at(body["PM"])]
    return flows


# ------------------------------------------------------------------ delivery

def _post(url: str, body: str, token: str | None, timeout: float,
          key: str) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Idempotency-Key": key}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", parts.path or "/", body=body.encode("utf-8"), headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(65_536)
    finally:
        conn.close()


def judge(status: int, payload: bytes) -> tuple[str, str]:
    """(``delivered`` | ``rejected`` | ``retry``, what happened) for the OC's answer."""
    try:
        answer = json.loads(payload.decode("utf-8")) if payload else None
    except (UnicodeDecodeError, ValueError):
        answer = None
    code = answer.get("Code_Reponse") if isinstance(answer, dict) else None
    label = answer.get("Libelle_Reponse") if isinstance(answer, dict) else None
    if status == 200 and code == OK:
        return "delivered", "HTTP 200, Code_Reponse 0 OK"
    if status in (200, 400, 404) and type(code) is int and 1 <= code <= 3:
        return "rejected", f"HTTP {status}, Code_Reponse {code} {str(label)[:40]}"
    return "retry", f"HTTP {status}" + (f", Code_Reponse {code}" if code is not None else "")


class Deliverer:
    """Sends the due deliveries of the outbox, one after the other (its own journal
    connection; ``wake`` is set by the endpoint when it queues new ones).

    Delivery is at least once: an attempt whose answer is lost (a timeout after the OC
    took the message) is made again. Each request carries ``Idempotency-Key:
    oi-<journal id>-<delivery id>``, the same on every attempt of one delivery, so an
    OC can recognise a message it already has."""

    def __init__(self, db_path: str | os.PathLike, directory: Directory,
                 delays: tuple[float, ...] = DEFAULT_DELAYS, timeout: float = TIMEOUT):
        self.con = journal.connect(db_path)
        self.prefix = f"oi-{journal.identity(self.con)[:12]}-"
        self.directory = directory
        self.delays, self.timeout = tuple(delays), timeout
        self.wake = threading.Event()

    def due(self, limit: int = 50) -> list[tuple]:
        return self.con.execute(
            "SELECT id, code_oc, url, body, attempts, series_at FROM outbox "
            "WHERE state = 'pending' AND next_at <= ? ORDER BY id LIMIT ?",
            [journal.now(), limit]).fetchall()

    def attempt(self, row: tuple) -> str:
        """One attempt of one delivery; returns its new state."""
        rid, code_oc, url, body, attempts, series = row
        oc = self.directory.by_code(code_oc)
        try:
            status, payload = _post(url, body, oc.token() if oc else None, self.timeout,
                                    f"{self.prefix}{rid}")
            verdict, what = judge(status, payload)
        except (OSError, http.client.HTTPException) as exc:
            verdict, what = "retry", f"{type(exc).__name__}: {str(exc)[:80]}"
        attempts += 1
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        next_at = None
        if verdict == "retry":
            first = dt.datetime.strptime(series, "%Y-%m-%dT%H:%M:%S.%fZ")
            retries = attempts - 1
            if retries < len(self.delays):
                when = now + dt.timedelta(seconds=self.delays[retries])
                if when <= first + WINDOW:
                    next_at = journal.iso(when)
            verdict = "pending" if next_at else "failed"
        self.con.execute("UPDATE outbox SET state = ?, attempts = ?, next_at = ?, last_at = ?, "
                         "last_result = ? WHERE id = ?",
                         [verdict, attempts, next_at, journal.iso(now), what, rid])
        self.con.commit()
        log.info("delivery %s to %s: %s (%s)", rid, code_oc, verdict, what)
        return verdict

    def run(self, stop: threading.Event, every: float = 1.0) -> None:
        """Deliver what is due until ``stop`` is set."""
        while not stop.is_set():
            rows = self.due()
            for row in rows:
                if stop.is_set():
                    break
                self.attempt(row)
            if not rows:
                self.wake.wait(every)
                self.wake.clear()

    def close(self) -> None:
        self.con.close()


def retry(con, ids: list[int] | None = None, states: tuple[str, ...] = ("failed", "rejected"),
          since: str | None = None, until: str | None = None) -> int:
    """The manual retry (spec chapter 3): deliveries in ``states`` (by ``ids``, and/or
    created within [since, until)) are due again now, with a new series of automatic
    retries. Returns how many."""
    sql = (f"UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?, series_at = ?, "
           f"last_result = coalesce(last_result, '') || ' (retried by hand)' "
           f"WHERE state IN ({', '.join('?' for _ in states)})")
    args: list = [journal.now(), journal.now(), *states]
    if ids:
        sql += f" AND id IN ({', '.join('?' for _ in ids)})"
        args += ids
    if since:
        sql += " AND created_at >= ?"
        args.append(since)
    if until:
        sql += " AND created_at < ?"
        args.append(until)
    n = con.execute(sql, args).rowcount
    con.commit()
    return n
