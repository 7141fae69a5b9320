"""Load an e-Intervention message log: one answer per line, the OI rules, one transaction.

``opeval ingest messages LOG… [--responses OUT] [--oi-code CODE…] [--strict]``
calls :func:`ingest_messages`. The work is done in four passes so that a log of
100 000 messages loads in seconds:

1. read and check every line in Python (:func:`.fields.parse_line`, precompiled
   regular expressions, no database round trip);
2. load from the store only the state these lines need — the PMs they name, the
   interventions of their DO references or OI references, the M5 reports of
   those references — with a few set-based queries;
3. apply the OI rules line by line in memory (:class:`.rules.Reception`), in
   file order, so an M1 followed by its M3 in the same log works;
4. write the changed interventions, targets, reports and outages, every
   message with its answer (table ``messages``), the KO lines (table
   ``quarantine``) and the load (``load_log``) as Arrow tables with set-based
   SQL, in one transaction, then the answers file.

Counts per file: ``rows_read`` lines = ``accepted`` (OK answers, split into
inserted / updated / unchanged by their effect) + ``quarantined`` (KO answers).
Under ``strict`` any KO answer rejects the load: nothing but the load log and
the quarantined lines is stored, the answers file is still written, and
:class:`~evaluation.errors.LoadRejected` is raised.
"""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
from tqdm import tqdm

from ..errors import InputError, LoadRejected, OpevalError
from ..store import db, settings
from ..store.ingest import FileResult, LoadResult
from ..store.writer import writing
from .fields import BAD_FORMAT, OPERATOR_CODE, Fault, Parsed, canonical, clean, parse_line
from .rules import (
    INSERTED,
    REJECTED,
    UNCHANGED,
    UPDATED,
    Answer,
    Intervention,
    Reception,
    Report,
    make_ref,
)

KIND = "messages"
TS = pa.timestamp("us")
STR = pa.string()


# ------------------------------------------------------------------ OI codes

def resolve_oi_codes(con: duckdb.DuckDBPyConnection, oi_codes: Sequence[str] | None) -> set[str]:
    """The OI codes of this database: ``oi_codes``, else the ``oi_codes`` setting
    (comma-separated), else the distinct ``pms.oi_code``."""
    if oi_codes:
        codes = [c.strip() for c in oi_codes]
        source = "--oi-code"
    else:
        setting = db.get_setting(con, "oi_codes")
        if setting:
            codes = [c.strip() for c in setting.split(",") if c.strip()]
            source = "setting oi_codes"
        else:
            return {r[0] for r in con.execute(
                "SELECT DISTINCT oi_code FROM pms WHERE oi_code IS NOT NULL").fetchall()}
    bad = [c for c in codes if OPERATOR_CODE.fullmatch(c) is None]
    if bad:
        raise OpevalError(f"{source}: {bad[0]!r} is not an OI code (4 characters [0-9A-Z])")
    return set(codes)


# ------------------------------------------------------------------ pass 1: read

def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def read_lines(path: Path, bar: tqdm | None = None, zone: str = "UTC") -> Iterator[Parsed]:
    """Every line of ``path`` checked, numbered from 1 (a final newline ends the last line);
    times without offset are wall times of ``zone``."""
    with _open(path) as fh:
        pending = 0
        for number, data in enumerate(fh, start=1):
            pending += len(data)
            if bar is not None and pending > 1 << 20:
                bar.update(pending)
                pending = 0
            if data.endswith(b"\n"):
                data = data[:-1]
            if data.endswith(b"\r"):
                data = data[:-1]
            if number == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                p = Parsed(number, data.decode("utf-8", "replace"))
                p.faults.append(Fault(BAD_FORMAT, "line", "not UTF-8 text"))
                yield p
                continue
            yield parse_line(number, text, zone)
        if bar is not None:
            bar.update(pending)


# ------------------------------------------------------------------ pass 2: state

def _finish_pending(con: duckdb.DuckDBPyConnection) -> None:
    """Close a result left open by an earlier ``fetchone()`` (DuckDB refuses ``register``
    while one is pending)."""
    con.execute("SELECT 1").fetchall()


def _rows_for(con, name: str, columns: dict[str, list], sql: str) -> list[tuple]:
    """The rows of ``sql``, which joins the keys ``columns`` registered as table ``name``;
    no query at all when there is no key (a batch of the live endpoint often needs only
    some of the lookups)."""
    if not next(iter(columns.values())):
        return []
    con.register(name, pa.table({c: pa.array(v, STR) for c, v in columns.items()}))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.unregister(name)


def load_state(con: duckdb.DuckDBPyConnection, oi_codes: set[str],
               parsed: Sequence[Parsed]) -> Reception:
    """A :class:`Reception` holding the stored records that the checked lines refer to,
    and the partner lists of the database (settings ``do_codes``, ``oc_codes``)."""
    do_keys, refs, m5_refs, pm_ids = set(), set(), set(), set()
    for p in parsed:
        if p.faults:
            continue
        if p.kind == "M5":
            m5_refs.add(p.ref_oi)
        else:
            do_keys.add((p.code_do, p.ref_do))
            refs.add(make_ref(p.code_oi, p.code_do, p.ref_do))
            pm_ids.add(p.pm)
    refs |= m5_refs
    _finish_pending(con)
    pm_owner = dict(_rows_for(con, "__k_pm", {"pm_id": sorted(pm_ids)},
                              "SELECT pm_id, oi_code FROM pms SEMI JOIN __k_pm k USING (pm_id)"))
    cols = ("ref_interv_oi, ref_interv_do, code_do, code_oi, pm_id, started_at, ended_at, "
            "m1_received_at, m3_received_at")
    rows = {r[0]: r for r in _rows_for(
        con, "__k_do", {"code_do": [k[0] for k in do_keys], "ref_do": [k[1] for k in do_keys]},
        f"""SELECT {cols} FROM interventions i SEMI JOIN __k_do k
            ON k.code_do = i.code_do AND k.ref_do = i.ref_interv_do""")}
    rows.update((r[0], r) for r in _rows_for(
        con, "__k_ref", {"ref": sorted(refs - rows.keys())},
        f"SELECT {cols} FROM interventions i SEMI JOIN __k_ref k ON k.ref = i.ref_interv_oi"))
    targets: dict[str, dict[str | None, set]] = {}
    for ref, source, nature, pbo, pto in _rows_for(
            con, "__k_iv", {"ref": sorted(rows)},
            """SELECT ref_interv_oi, declared_in, nature, pbo, pto FROM intervention_targets t
               SEMI JOIN __k_iv k ON k.ref = t.ref_interv_oi"""):
        targets.setdefault(ref, {}).setdefault(source, set()).add((nature, pbo, pto))
    interventions = [Intervention(*r, targets={k: canonical(v) for k, v in
                                               targets.get(r[0], {}).items()}, stored=True)
                     for r in rows.values()]
    clients: dict[tuple, set] = {}
    for ref, oc, *client in _rows_for(
            con, "__k_m5", {"ref": sorted(m5_refs)},
            """SELECT ref_interv_oi, code_oc, pto, pbo, tube, fibre, position_pm, cut_at
               FROM outages SEMI JOIN __k_m5 k ON k.ref = outages.ref_interv_oi"""):
        clients.setdefault((ref, oc), set()).add(tuple(client))
    reports = [Report(ref, oc, received, canonical(clients.get((ref, oc), ())), aside or 0,
                      stored=True)
               for ref, oc, received, aside in _rows_for(
                   con, "__k_m5", {"ref": sorted(m5_refs)},
                   """SELECT ref_interv_oi, code_oc, received_at, clients_set_aside
                      FROM outage_reports SEMI JOIN __k_m5 k
                      ON k.ref = outage_reports.ref_interv_oi""")]
    return Reception(oi_codes, pm_owner, interventions, reports,
                     do_codes=settings.codes(con, "do_codes"),
                     oc_codes=settings.codes(con, "oc_codes"))


# ------------------------------------------------------------------ pass 4: write

def _ts(values) -> pa.Array:
    return pa.array(values, TS)


def _write_records(con: duckdb.DuckDBPyConnection, reception: Reception) -> None:
    """Apply the changed interventions (with targets) and M5 reports (with outages)."""
    ivs = reception.changed_interventions()
    con.register("__w_iv", pa.table({
        "ref_interv_oi": pa.array([i.ref_interv_oi for i in ivs], STR),
        "ref_interv_do": pa.array([i.ref_interv_do for i in ivs], STR),
        "code_do": pa.array([i.code_do for i in ivs], STR),
        "code_oi": pa.array([i.code_oi for i in ivs], STR),
        "pm_id": pa.array([i.pm_id for i in ivs], STR),
        "started_at": _ts([i.started_at for i in ivs]),
        "ended_at": _ts([i.ended_at for i in ivs]),
        "m1_received_at": _ts([i.m1_received_at for i in ivs]),
        "m3_received_at": _ts([i.m3_received_at for i in ivs]),
    }))
    t_rows = [(i.ref_interv_oi, *t) for i in ivs for t in i.target_rows()]
    con.register("__w_t", pa.table({
        name: pa.array([r[k] for r in t_rows], STR)
        for k, name in enumerate(("ref_interv_oi", "declared_in", "nature", "pbo", "pto"))}))
    reports = reception.changed_reports()
    con.register("__w_rep", pa.table({
        "ref_interv_oi": pa.array([r.ref_interv_oi for r in reports], STR),
        "code_oc": pa.array([r.code_oc for r in reports], STR),
        "received_at": _ts([r.received_at for r in reports]),
        "clients_hs": pa.array([len(r.clients) for r in reports], pa.int32()),
        "clients_set_aside": pa.array([r.set_aside for r in reports], pa.int32()),
    }))
    o_rows = [(r.code_oc, reception.by_ref[r.ref_interv_oi].pm_id, *c, r.ref_interv_oi)
              for r in reports for c in r.clients]
    names = ("code_oc", "pm_id", "pto", "pbo", "tube", "fibre", "position_pm", "cut_at",
             "ref_interv_oi")
    con.register("__w_out", pa.table({
        name: (_ts if name == "cut_at" else lambda v: pa.array(v, STR))([r[k] for r in o_rows])
        for k, name in enumerate(names)}))
    try:
        con.execute("""INSERT OR REPLACE INTO interventions
            (ref_interv_oi, ref_interv_do, code_do, code_oi, pm_id, started_at, ended_at,
             m1_received_at, m3_received_at)
            SELECT * FROM __w_iv""")
        con.execute("""DELETE FROM intervention_targets
            WHERE ref_interv_oi IN (SELECT ref_interv_oi FROM __w_iv)""")
        con.execute("""INSERT INTO intervention_targets
            (ref_interv_oi, declared_in, nature, pbo, pto) SELECT * FROM __w_t""")
        con.execute("""INSERT OR REPLACE INTO outage_reports
            (ref_interv_oi, code_oc, received_at, clients_hs, clients_set_aside)
            SELECT * FROM __w_rep""")
        con.execute("""DELETE FROM outages USING __w_rep r
            WHERE outages.ref_interv_oi = r.ref_interv_oi AND outages.code_oc = r.code_oc""")
        con.execute(f"""INSERT INTO outages ({', '.join(names)}) SELECT * FROM __w_out""")
        # A re-emitted M1/M3 may move an intervention to another PM: the cuts its
        # M5s reported belong to the intervention's PM, so they follow it.
        con.execute("""UPDATE outages SET pm_id = w.pm_id FROM __w_iv w
            WHERE outages.ref_interv_oi = w.ref_interv_oi AND outages.pm_id <> w.pm_id""")
    finally:
        for name in ("__w_iv", "__w_t", "__w_rep", "__w_out"):
            con.unregister(name)


def _write_messages(con, load_id: int, parsed: list[Parsed], answers: list[Answer],
                    file_of: list[int]) -> None:
    """Every line with its answer and effect into ``messages`` (keyed by load, file, line)."""
    ids = [p.ids for p in parsed]
    con.register("__w_msg", pa.table({
        "load_id": pa.array([load_id] * len(parsed), pa.int64()),
        "file_index": pa.array(file_of, pa.int32()),
        "line": pa.array([p.line for p in parsed], pa.int64()),
        "message": pa.array([a.message for a in answers], STR),
        "received_at": _ts([p.received_at for p in parsed]),
        "code_do": pa.array([i.get("Code_DO") for i in ids], STR),
        "ref_interv_do": pa.array([i.get("Ref_Interv_DO") for i in ids], STR),
        "code_oc": pa.array([i.get("Code_OC_impacte") for i in ids], STR),
        "ref_interv_oi": pa.array([a.ref_interv_oi or i.get("Ref_Interv_OI")
                                   for a, i in zip(answers, ids)], STR),
        "code_reponse": pa.array([a.code for a in answers], pa.int32()),
        "libelle_reponse": pa.array([a.libelle for a in answers], STR),
        "description_reponse": pa.array([a.description for a in answers], STR),
        "effect": pa.array([a.effect for a in answers], STR),
        "body": pa.array([p.raw for p in parsed], STR),
    }))
    try:
        con.execute("""INSERT INTO messages (load_id, file_index, line, message, received_at, code_do,
            ref_interv_do, code_oc, ref_interv_oi, code_reponse, libelle_reponse,
            description_reponse, effect, body) SELECT * FROM __w_msg""")
    finally:
        con.unregister("__w_msg")


def _write_quarantine(con, load_id: int, sources: list[str], file_of: list[int],
                      parsed: list[Parsed], answers: list[Answer]) -> None:
    """KO lines into ``quarantine`` (file, line, fields at fault, every reason, raw line),
    and each client set aside from an accepted M5 (its field, why, the client as sent)."""
    rows = []
    for p, a, f in zip(parsed, answers, file_of):
        if a.code == 0:
            rows.extend((sources[f], p.line, s.field, f"client set aside (the M5 was accepted): "
                         f"{s.reason}", s.raw) for s in p.set_aside)
            continue
        if p.faults:
            at_fault = [x for x in p.faults if x.code == a.code]
            columns = ", ".join(dict.fromkeys(x.field for x in at_fault))
            reason = f"{a.libelle}: " + "; ".join(str(x) for x in p.faults)
        else:
            columns = a.description.split(":", 1)[0]
            reason = f"{a.libelle}: {a.description}"
        rows.append((sources[f], p.line, columns, reason, p.raw))
    con.register("__w_q", pa.table({
        "source_file": pa.array([r[0] for r in rows], STR),
        "line": pa.array([r[1] for r in rows], pa.int64()),
        "columns": pa.array([clean(r[2]) for r in rows], STR),
        "reason": pa.array([clean(r[3]) for r in rows], STR),
        "raw": pa.array([r[4] for r in rows], STR),
    }))
    try:
        con.execute("""INSERT INTO quarantine (load_id, kind, source_file, line, columns, reason, raw)
            SELECT ?, ?, source_file, line, columns, reason, raw FROM __w_q""", [load_id, KIND])
    finally:
        con.unregister("__w_q")


def _log(con, load_id: int, files: list[FileResult], started: dt.datetime, status: str,
         strict: bool, set_aside: list[int]) -> None:
    """One ``load_log`` row per file (a rejected load applied nothing: zero accepted);
    ``set_aside`` counts, per file, the clients of accepted M5s set aside."""
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    applied = status == "applied"
    for i, f in enumerate(files):
        notes = [f"{f.quarantined} message(s) answered KO"] if f.quarantined else []
        if set_aside[i]:
            notes.append(f"{set_aside[i]} client(s) of accepted M5s set aside")
        con.execute("""INSERT OR REPLACE INTO load_log (load_id, file_index, kind, source, started_at,
            finished_at, status, strict, rows_read, accepted, quarantined, inserted, updated,
            unchanged, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [load_id, i, KIND, f.source, started, finished, status, strict, f.rows_read,
                     f.accepted if applied else 0, f.quarantined, f.inserted if applied else 0,
                     f.updated if applied else 0, f.unchanged if applied else 0,
                     "; ".join(notes) or None])


def _answers_text(answers: list[Answer], file_of: list[int], sources: list[str]) -> Iterator[str]:
    several = len(sources) > 1
    for a, f in zip(answers, file_of):
        obj = a.as_json()
        if several:
            obj = {"file": sources[f], **obj}
        yield json.dumps(obj, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ the load

def _progress_enabled(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else bool(progress)


def store_parsed(con: duckdb.DuckDBPyConnection, codes: set[str], parsed: list[Parsed],
                 file_of: list[int], files: list[FileResult], sources: list[str],
                 started: dt.datetime, set_aside: list[int], strict: bool = False,
                 responses: str | Path | None = None, progress: bool = False,
                 load_id: int | None = None, also=None) -> tuple[int, list[Answer], str]:
    """Answer checked lines with the OI rules over the stored state and store them in one
    transaction (passes 2 to 4); the one path of every message received, from a log file
    (:func:`ingest_messages`) or from the live endpoint (:mod:`.live`).

    ``files`` and ``set_aside`` (clients of accepted M5s set aside, per file) are
    counters this call adds to, and ``load_log`` gets their totals: the endpoint keeps
    one load per day and passes the same counters and ``load_id`` to each batch.
    ``also(con)`` runs inside the transaction (the endpoint records there how far its
    journal is applied). Returns the load id, the answers in line order, and the status
    (``applied``, or ``rejected`` under ``strict`` when any line is answered KO).
    """
    reception = load_state(con, codes, parsed)
    answers = [reception.receive(p) for p in tqdm(
        parsed, desc="applying OI rules", unit="msg", file=sys.stderr, disable=not progress,
        leave=False)]
    ko = 0
    for p, a, f in zip(parsed, answers, file_of):
        fr = files[f]
        if a.effect == REJECTED:
            fr.quarantined += 1
            ko += 1
        elif a.effect == INSERTED:
            fr.inserted += 1
        elif a.effect == UPDATED:
            fr.updated += 1
        elif a.effect == UNCHANGED:
            fr.unchanged += 1
        if a.code == 0:
            set_aside[f] += len(p.set_aside)
    status = "rejected" if strict and ko else "applied"
    tmp = None
    if responses is not None:
        responses = Path(responses)
        tmp = responses.with_name(f".{responses.name}.{os.getpid()}.tmp")
    _finish_pending(con)
    with writing(con):   # the store is written from here only (evaluation.store.writer)
        if load_id is None:
            load_id = con.execute("SELECT nextval('load_id_seq')").fetchall()[0][0]
        con.execute("BEGIN TRANSACTION")
        try:
            _log(con, load_id, files, started, status, strict, set_aside)
            _write_quarantine(con, load_id, sources, file_of, parsed, answers)
            if status == "applied":
                _write_records(con, reception)
                _write_messages(con, load_id, parsed, answers, file_of)
            if also is not None:
                also(con)
            if tmp is not None:
                with open(tmp, "w", encoding="utf-8") as out:
                    out.writelines(_answers_text(answers, file_of, sources))
            con.execute("COMMIT")
        except BaseException:
            db.rollback(con)
            if tmp is not None and tmp.exists():
                tmp.unlink()
            raise
    if tmp is not None:
        os.replace(tmp, responses)
    return load_id, answers, status


def ingest_messages(con: duckdb.DuckDBPyConnection, paths: Sequence[str | Path],
                    responses: str | Path | None = None, oi_codes: Sequence[str] | None = None,
                    strict: bool = False, progress: bool | None = None) -> LoadResult:
    """Receive every message of ``paths`` (NDJSON logs, optionally gzipped) as the OI.

    Returns the per-file counts. Raises :class:`InputError` for a missing or
    unreadable file (nothing loaded), :class:`LoadRejected` under ``strict`` when
    any line is answered KO (nothing applied, load logged as rejected).
    """
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: not readable")
    codes = resolve_oi_codes(con, oi_codes)
    zone = settings.timezone(con)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    shown = _progress_enabled(progress)
    sources = [str(p.resolve()) for p in paths]

    parsed: list[Parsed] = []
    file_of: list[int] = []
    files: list[FileResult] = []
    total_bytes = sum(p.stat().st_size for p in paths)
    with tqdm(total=total_bytes, unit="B", unit_scale=True, desc="checking messages",
              file=sys.stderr, disable=not shown, leave=False) as bar:
        for i, path in enumerate(paths):
            offset = len(parsed)
            try:
                parsed.extend(read_lines(path, bar, zone))
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: cannot read ({exc})") from None
            n = len(parsed) - offset
            file_of.extend([i] * n)
            files.append(FileResult(sources[i], rows_read=n))

    load_id, _, status = store_parsed(
        con, codes, parsed, file_of, files, sources, started, [0] * len(files), strict=strict,
        responses=responses, progress=shown)
    result = LoadResult(load_id, KIND, status, files)
    if status == "rejected":
        rejected = sum(f.quarantined for f in files)
        raise LoadRejected(f"--strict: {rejected} of {result.total('rows_read')} messages answered "
                           f"KO, nothing applied (see `opeval quarantine --load {load_id}`)")
    return result
