"""The live OI: messages received over HTTP answered with the rules of the log files,
made durable in the journal before the answer, and applied to the store within seconds.

Two steps, both with the one implementation of the reception (:mod:`.fields`,
:class:`.rules.Reception`, :func:`.reception.store_parsed`):

1. **Receive** (:meth:`Live.receive`, a batch of the requests waiting): each request
   becomes the log line ``opeval ingest messages`` would read (``message``,
   ``received_at`` = now, ``body``) and is checked by :func:`.fields.parse_line`. The
   state the lines refer to is read from the store (a short read-only connection, as
   the dashboards do) and laid under the *overlay*: a :class:`.rules.Reception` that
   holds what the messages received but not yet applied did. The rules answer each
   line; the lines, their answers and the M2/M4 they call for (flow 2, one per OC
   present at the PM) are committed to the journal (:mod:`.journal`, one ``fsync``);
   only then are the answers sent.
2. **Apply** (:meth:`Live.apply`, every ``apply_every`` seconds while lines wait, and
   at start for lines a killed endpoint left): the waiting lines are loaded into the
   store exactly as a log file is — :func:`.reception.store_parsed` over the stored
   state, in one transaction, in a writer turn (:mod:`evaluation.store.turns`) — with
   how far the journal is applied (``meta.oi_applied_seq``) in the same transaction.
   The lines checked on receipt are not checked again (the same text, the same zone:
   the same result); a line the journal holds from a previous run is.

Because the apply runs the same rules over the same state in the same order, its
answers are those given; the one way they can differ is another program writing the
store between the two (a load of a log file touching the same interventions). The
endpoint applies at once when it sees the store changed by another, and counts any
answer that still differs (``mismatches`` in ``/health``; the store keeps the apply's).

A kill (even ``kill -9``) loses nothing answered: the journal has it, and the next
start applies it. The store never holds a message twice: the applied mark moves in
the same transaction as the rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from ..errors import OpevalError
from ..store import db, settings, turns
from ..store.ingest import FileResult
from . import journal
from .fields import OK, Parsed, parse_line
from .reception import load_state, resolve_oi_codes, store_parsed
from .rules import INSERTED, UPDATED, Answer, Reception, make_ref
from .wire import http_status

log = logging.getLogger(__name__)

APPLIED_KEY = "oi_applied_seq"
CACHE_LIMIT = 200_000
"""Interventions the overlay may hold before it is emptied (when nothing waits)."""
SOURCE = "e-Intervention endpoint (opeval oi serve)"


DO_OPERATION, OC_OPERATION = "intervention_DO", "client_HS_OC_Par_Inter"


def log_line(operation: str, received_at: dt.datetime, body: bytes) -> tuple[str, str]:
    """(message kind, the message-log line) of a request body posted to ``operation``.

    ``intervention_DO`` carries M1 or M3: an M3 is the one with ``Fin_Inter`` ("Valeur
    NULL si M1", OpenAPI), so a body whose ``Fin_Inter`` is absent, null or empty is an
    M1; ``client_HS_OC_Par_Inter`` carries M5. A body that is not one JSON text is kept
    as a JSON string, so the line stays one line of JSON and the checks answer
    "body: not a JSON object" (MAUVAIS_FORMAT)."""
    try:
        text = body.decode("utf-8")
        obj = json.loads(text)
        if "\n" in text or "\r" in text:
            text = json.dumps(obj, ensure_ascii=False)
    except (UnicodeDecodeError, ValueError, RecursionError):
        obj = None
        text = json.dumps(body.decode("utf-8", "replace"), ensure_ascii=False)
    if operation == OC_OPERATION:
        kind = "M5"
    else:
        if isinstance(obj, dict) and len(obj) == 1 and isinstance(obj.get(DO_OPERATION), dict):
            obj = obj[DO_OPERATION]       # a body wrapped in its schema name, as in the logs
        end = obj.get("Fin_Inter") if isinstance(obj, dict) else None
        kind = "M1" if end is None or end == "" else "M3"
    stamp = received_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return kind, f'{{"message": "{kind}", "received_at": "{stamp}", "body": {text}}}'


@dataclass
class Incoming:
    """One request for :meth:`Live.receive`: the operation, the raw body, who sent it."""

    operation: str
    body: bytes
    partner: str
    received_at: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))


@dataclass
class Outcome:
    """What :meth:`Live.receive` decided for one request: the answer (None when the
    request was refused before the rules: ``forbidden`` says why) and its journal seq."""

    answer: Answer | None
    seq: int | None = None
    forbidden: str | None = None


@dataclass
class _Load:
    """The store's load of the endpoint for one UTC day of this run (one ``load_log`` row
    whose counts grow with each apply)."""

    load_id: int | None
    day: dt.date
    started: dt.datetime
    file: FileResult = dataclasses.field(default_factory=lambda: FileResult(SOURCE))
    set_aside: list[int] = dataclasses.field(default_factory=lambda: [0])


class Live:
    """The receive and apply steps above, for the store at ``db_path``.

    ``oi_codes``: as ``opeval ingest messages --oi-code`` (None: the setting, else the
    PMs' OIs). ``flows(parsed, answer, reception)`` returns the (code_oc, url, message,
    body) of the M2/M4 a newly accepted M1/M3 calls for (:mod:`.outbox`).

    The overlay is kept after an apply as a cache of what the store holds (reading the
    store costs milliseconds per query, and nobody can read it while it is written):
    with its directory of the keys stored (:meth:`_start_overlay`), a batch reads the
    store only for a stored DO reference, OI reference or M5 report that no earlier
    batch looked up — never for a new intervention. It is emptied when another program
    writes the store, and when it holds more than :data:`CACHE_LIMIT` interventions
    with nothing waiting.

    Locks: ``lock`` guards the overlay and the journal writes; ``store_lock`` the
    DuckDB connections (the receiver's read-only one, the applier's). A batch takes
    ``lock`` then, only when it must read the store, ``store_lock``; the applier takes
    only ``store_lock``, so batches whose keys are known go on while it applies.
    """

    def __init__(self, db_path: str | os.PathLike, oi_codes=None, flows: Callable | None = None,
                 command: str = "opeval oi serve", apply_wait: float = 10.0,
                 read_wait: float = 30.0):
        self.db_path = os.fspath(db_path)
        self._alone = self._only_endpoint(self.db_path)
        self.oi_codes = oi_codes
        self.flows = flows or (lambda p, a, r: [])
        self.command = command
        self.apply_wait, self.read_wait = apply_wait, read_wait
        self.journal = journal.connect(self.db_path)         # the receiver's
        self._apply_journal = journal.connect(self.db_path)  # the applier's
        self.journal_id = journal.identity(self.journal)
        self.lock = threading.Lock()
        self.store_lock = threading.Lock()
        self._reader: duckdb.DuckDBPyConnection | None = None
        self._context: tuple | None = None                   # (zone, OI codes) of the reader
        self.overlay: Reception | None = None
        self.looked: set[tuple] = set()
        self._checked: dict[int, Parsed] = {}   # seq -> the line as checked on receipt
        self.directory: dict[str, set] | None = None
        self.applied_seq = self._stored_mark()
        self.stamp = db.stamp(self.db_path)
        self.load: _Load | None = None
        self.mismatches = 0
        self.applies = 0
        self.last_apply: str | None = None

    @staticmethod
    def _only_endpoint(db_path: str) -> int:
        """An exclusive lock on ``<database>.oi.lock`` for the life of this endpoint: two
        endpoints on one store would answer from two overlays (the kernel drops the lock
        when the process dies, even by ``kill -9``)."""
        fd = os.open(f"{db_path}.oi.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OpevalError(f"another OI endpoint (`opeval oi serve`) runs on {db_path}; "
                              "one endpoint per database") from None
        return fd

    # ---------------------------------------------------------------- the store

    def _connect_read(self) -> duckdb.DuckDBPyConnection:
        turns.wait_while_applying(self.db_path, self.read_wait)
        con = db.retry_locked(lambda: duckdb.connect(self.db_path, read_only=True),
                              self.db_path, self.read_wait, reader=True)
        db.configure(con, self.db_path)
        con.execute("SET threads = 1")     # point queries: no use for a thread pool
        return con

    def _stored_mark(self) -> int:
        if not os.path.exists(self.db_path):
            db.connect(self.db_path).close()        # a new store: created now
        con = self._connect_read()
        try:
            return self._mark(con)
        finally:
            con.close()

    def _mark(self, con: duckdb.DuckDBPyConnection) -> int:
        """How far the store holds this journal (``<journal id>:<seq>``; 0 when the mark
        is of another journal, or there is none)."""
        ident, _, seq = (db.get_setting(con, APPLIED_KEY) or "").partition(":")
        return int(seq) if ident == self.journal_id and seq.isdigit() else 0

    def _read(self) -> tuple[duckdb.DuckDBPyConnection, str, set[str]]:
        """The receiver's read-only connection with the zone and OI codes, opened when
        needed (under ``store_lock``)."""
        if self._reader is None:
            self._reader = self._connect_read()
            self._context = (settings.timezone(self._reader),
                             resolve_oi_codes(self._reader, self.oi_codes))
        return self._reader, *self._context

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def release_idle(self) -> None:
        """Let go of the store while no request comes (called by the receiver when idle):
        a load waiting for the write lock is not held up by the endpoint."""
        if self.store_lock.acquire(blocking=False):
            try:
                self._close_reader()
            finally:
                self.store_lock.release()

    def _yield_to_writers(self) -> None:
        """Close the reader when another writer wants the file (it applies, or waits for
        the readers to let go); the next read waits for it (up to ``read_wait``)."""
        writer = turns.status(self.db_path)
        if writer is not None and writer.pid != os.getpid() and writer.phase in (
                turns.APPLYING, turns.WAITING):
            self._close_reader()
            deadline = time.monotonic() + self.read_wait
            while time.monotonic() < deadline:
                writer = turns.status(self.db_path)
                if writer is None or writer.phase not in (turns.APPLYING, turns.WAITING):
                    break
                time.sleep(0.05)

    def _forget(self) -> None:
        self.overlay = None
        self.looked = set()
        self.directory = None

    def _start_overlay(self) -> None:
        """A new overlay over the store as it is now, with its directory: every DO
        reference, OI reference and M5 report key stored, and every PM (under both locks).
        A key the directory lacks is not in the store, so the rules need no look-up for
        it: a new intervention is answered without reading the store."""
        con, _, codes = self._read()
        _finish = load_state(con, codes, [])          # the partner settings, no record
        self.directory = {
            "do": set(con.execute("SELECT code_do, ref_interv_do FROM interventions WHERE "
                                  "code_do IS NOT NULL AND ref_interv_do IS NOT NULL").fetchall()),
            "ref": {r for (r,) in con.execute("SELECT ref_interv_oi FROM interventions")
                    .fetchall()},
            "m5": {r for (r,) in con.execute("SELECT DISTINCT ref_interv_oi FROM "
                                            "outage_reports").fetchall()}}
        _finish.pm_owner = dict(con.execute("SELECT pm_id, oi_code FROM pms").fetchall())
        self.overlay, self.looked = _finish, set()

    def _unknown(self, p: Parsed) -> bool:
        """Whether the line names a stored record the overlay has not looked up yet."""
        d = self.directory
        for key in self._keys(p):
            if key not in self.looked and (key[1:] if key[0] == "do" else key[1]) in d[key[0]]:
                return True
        return False

    @staticmethod
    def _keys(p: Parsed) -> tuple:
        """The store keys a checked line's rules read (none for a line with faults)."""
        if p.faults:
            return ()
        if p.kind == "M5":
            return ("ref", p.ref_oi), ("m5", p.ref_oi)
        return ("do", p.code_do, p.ref_do), ("ref", make_ref(p.code_oi, p.code_do, p.ref_do))

    # ---------------------------------------------------------------- receive

    def receive(self, items: list[Incoming], requests: list[tuple] = ()) -> list[Outcome]:
        """Answer ``items`` in order and commit them (and ``requests``, rows for the
        request log) to the journal before returning."""
        with self.lock:
            self._follow_store()
            if self.overlay is None:
                with self.store_lock:
                    self._yield_to_writers()
                    self._start_overlay()
            zone = self._context[0]
            lines = [log_line(i.operation, i.received_at, i.body) for i in items]
            parsed = [parse_line(0, line, zone) for _, line in lines]
            outcomes = [Outcome(None, forbidden=self._foreign(p, i))
                        for p, i in zip(parsed, items)]
            allowed = [p for p, o in zip(parsed, outcomes) if o.forbidden is None]
            unknown = [p for p in allowed if self._unknown(p)]
            if unknown:
                with self.store_lock:
                    self._yield_to_writers()
                    con, _, codes = self._read()
                    self.overlay.absorb(load_state(con, codes, unknown))
            for p in allowed:
                self.looked.update(self._keys(p))
            try:
                self._answer(items, lines, parsed, outcomes)
                journal.log_requests(self.journal, requests)
                self.journal.commit()
                self._checked.update((o.seq, p) for o, p in zip(outcomes, parsed)
                                     if o.seq is not None)
            except BaseException:
                self.journal.rollback()
                self._forget()          # the overlay may hold what the journal does not
                raise
            return outcomes

    def _answer(self, items, lines, parsed, outcomes) -> None:
        cur = self.journal.cursor()
        for item, (_, line), p, out in zip(items, lines, parsed, outcomes):
            if out.forbidden is not None:
                continue
            a = self.overlay.receive(p)
            cur.execute("INSERT INTO inbox (received_at, partner, message, line, code, libelle, "
                        "ref_interv_oi, http_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [journal.iso(item.received_at), item.partner, p.kind, line, a.code,
                         a.libelle, a.ref_interv_oi, http_status(p.kind, a.code)])
            out.seq = a.line = p.line = cur.lastrowid
            out.answer = a
            if a.code == OK and a.effect in (INSERTED, UPDATED):
                for code_oc, url, message, body in self.flows(p, a, self.overlay):
                    stamp = journal.now()
                    cur.execute("INSERT INTO outbox (seq, message, ref_interv_oi, code_oc, url, "
                                "body, state, created_at, series_at, next_at) VALUES "
                                "(?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
                                [out.seq, message, a.ref_interv_oi, code_oc, url, body, stamp,
                                 stamp, stamp])

    def _follow_store(self) -> None:
        """When another program wrote the store since the endpoint last looked, apply the
        messages waiting over it and start the overlay afresh (under ``lock``)."""
        if not self.store_lock.acquire(blocking=False):
            return                  # the applier is at work; it records the stamp after
        try:
            if db.stamp(self.db_path) == self.stamp:
                return
            log.info("the store was written by another program: the messages waiting are "
                     "applied over it first")
            self._close_reader()
            self._context = None
            self._apply()
            self.stamp = db.stamp(self.db_path)
        finally:
            self.store_lock.release()
        self._forget()

    @staticmethod
    def _foreign(p: Parsed, item: Incoming) -> str | None:
        """Why a partner may not send this message: a DO only under its own Code_DO, an
        OC only under its own Code_OC_impacte (whatever the rest of the message holds)."""
        name = "Code_OC_impacte" if p.kind == "M5" else "Code_DO"
        sent = p.ids.get(name)
        if sent is not None and sent != item.partner:
            return f"{name} {sent[:8]!r} is not the partner's own code {item.partner}"
        return None

    # ---------------------------------------------------------------- apply

    def pending(self) -> int:
        """Messages received and not yet applied to the store."""
        with self.store_lock:
            return journal.last_seq(self._apply_journal) - self.applied_seq

    def apply(self) -> int:
        """Apply the waiting messages to the store; returns how many (0 when none waited,
        or when another writer has the turn: the next call tries again)."""
        with self.store_lock:
            n = self._apply()
            self.stamp = db.stamp(self.db_path)
        if n and self.overlay is not None and len(self.overlay.by_ref) > CACHE_LIMIT:
            with self.lock:
                if self.pending() == 0:
                    self._forget()
        return n

    def _apply(self) -> int:
        """Under ``store_lock``."""
        rows = journal.pending(self._apply_journal, self.applied_seq)
        if not rows:
            return 0
        turn = turns.Turn(self.db_path, self.command, "e-Intervention endpoint")
        if not turn.try_acquire():
            return 0
        self._close_reader()
        try:
            turn.phase(turns.APPLYING)
            con = db.connect(self.db_path, wait=self.apply_wait)
            try:
                mark = self._mark(con)
                rows = [r for r in rows if r[0] > mark]
                if rows:
                    self._store(con, rows)
            finally:
                con.close()
        except db.StoreBusy as exc:
            log.warning("apply postponed: %s", exc)
            return 0
        finally:
            turn.release()
        self.applied_seq = max(self.applied_seq, mark, rows[-1][0] if rows else 0)
        for seq in list(self._checked):      # list(): one step, the receiver may add meanwhile
            if seq <= self.applied_seq:
                self._checked.pop(seq, None)
        self.applies += 1
        self.last_apply = journal.now()
        return len(rows)

    def _store(self, con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str]]) -> None:
        zone = settings.timezone(con)
        codes = resolve_oi_codes(con, self.oi_codes)
        parsed = [self._checked.pop(seq, None) or parse_line(seq, line, zone)
                  for seq, line in rows]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if self.load is None or self.load.day != now.date():
            self.load = _Load(None, now.date(), now)
        load = self.load
        load.file.rows_read += len(parsed)
        last = f"{self.journal_id}:{rows[-1][0]}"
        try:
            load.load_id, answers, _ = store_parsed(
                con, codes, parsed, [0] * len(parsed), [load.file], [SOURCE], load.started,
                load.set_aside, load_id=load.load_id,
                also=lambda c: db.set_setting(c, APPLIED_KEY, last))
        except BaseException:
            self.load = None       # its counters took this batch: a new load next time
            raise
        given = dict(self._apply_journal.execute(
            "SELECT seq, code FROM inbox WHERE seq BETWEEN ? AND ?",
            [rows[0][0], rows[-1][0]]).fetchall())
        differ = [a.line for a in answers if given.get(a.line) != a.code]
        if differ:
            self.mismatches += len(differ)
            log.warning("%d message(s) applied with another answer than the one given "
                        "(the store was written meanwhile): seq %s", len(differ), differ[:10])

    def run_applier(self, every: float, stop: threading.Event) -> None:
        """Apply every ``every`` seconds until ``stop`` is set, then once more."""
        while not stop.wait(every):
            try:
                self.apply()
            except Exception:  # the journal keeps the lines; try again
                log.exception("apply failed; the messages stay in the journal")
                time.sleep(every)
        self.apply()

    def close(self) -> None:
        with self.store_lock:
            self._close_reader()
        self.journal.close()
        self._apply_journal.close()
        os.close(self._alone)
