"""Write the demo files and build the demo database from them with the ordinary loader.

:func:`generate` writes one file per contract table (CSV for the small
reference tables, Parquet for the others, so both readers are used), the
e-Intervention message log ``messages.ndjson`` the network tables came from,
and ``patterns.json`` (what was planted where). :func:`build` then loads the
tabular files with :func:`evaluation.store.ingest.ingest` in ``LOAD_ORDER``
into a new database file that replaces the target only once complete.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OpevalError
from ..store import db
from ..store.ingest import LoadResult, ingest
from ..store.schema import LOAD_ORDER
from . import network, security
from .common import AS_OF, SCALES, Shard, ids, write_csv, write_parquet

FILES = {
    "systems": "systems.csv", "devices": "devices.csv", "faults": "faults.parquet",
    "maintenance": "maintenance.csv", "alarms": "alarms.parquet", "pms": "pms.csv",
    "interventions": "interventions.parquet",
    "intervention_targets": "intervention_targets.parquet",
    "outage_reports": "outage_reports.parquet", "outages": "outages.parquet",
}
MESSAGES_FILE = "messages.ndjson"
PATTERNS_FILE = "patterns.json"
OI_CODES_SETTING = ",".join(network.OI_CODES)
DEFAULT_SEED = 42

Progress = Callable[[str], None]


@dataclass
class Generated:
    """The files of one demo dataset (several per table when the scale has shards)."""

    out: Path
    paths: dict[str, list[Path]]
    rows: dict[str, int]
    messages: list[Path]
    message_count: int
    patterns: Path
    seconds: float


@dataclass
class Built:
    """A demo database: its files, the load of each table, the timings."""

    db_path: Path
    generated: Generated
    loads: dict[str, LoadResult] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def quarantined(self) -> int:
        """Rows quarantined by the tabular loads (KO messages are not counted here)."""
        return sum(r.total("quarantined") for k, r in self.loads.items() if k != "messages")


def default_out(db_path: str | Path, scale: str) -> Path:
    """Where the demo files of the database at ``db_path`` go: ``demo/<scale>`` beside
    it (``data/demo/small`` for ``data/opeval.duckdb``) — never the current folder."""
    return Path(db_path).parent / "demo" / scale


def _name(file: str, shard: int, shards: int) -> str:
    """``alarms.parquet`` for a single shard, ``alarms.03.parquet`` for shard 3 of several."""
    if shards == 1:
        return file
    stem, ext = file.split(".", 1)
    return f"{stem}.{shard:02d}.{ext}"


# Identifiers numbered in time order within a shard and continued across shards.
_RENUMBER = {"faults": ("fault_id", "F-", 6), "maintenance": ("maintenance_id", "M-", 6),
             "alarms": ("alarm_id", "ALM-", 8)}


def generate(scale: str, seed: int, out: str | Path, progress: Progress | None = None
             ) -> Generated:
    """Write the demo files of ``scale`` for ``seed`` into ``out`` (same seed, same bytes)."""
    if scale not in SCALES:
        raise OpevalError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    step = progress or (lambda _m: None)
    t0 = time.perf_counter()
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpevalError(f"cannot create {out}: {exc.strerror or exc}") from None
    sc = SCALES[scale]
    paths: dict[str, list[Path]] = {name: [] for name in LOAD_ORDER}
    rows = dict.fromkeys(LOAD_ORDER, 0)
    messages: list[Path] = []
    n_messages = 0
    planted: dict = {}
    line_base = 0
    for k in range(sc.shards):
        shard = Shard(k, system_base=k * sc.systems, pm_base=k * sc.pms, line_base=line_base)
        of = f" (shard {k + 1} of {sc.shards})" if sc.shards > 1 else ""
        step(f"generating security systems ({scale}, seed {seed}){of}")
        tables = security.build(sc, seed, shard)
        step(f"generating the fibre network and its message log{of}")
        net, lines, planted_k = network.build(sc, seed, shard)
        tables.update(net)
        if shard.planted:
            planted = planted_k
        line_base += int(net["pms"]["lines"].sum())
        for name, (col, prefix, width) in _RENUMBER.items():
            if k:
                tables[name][col] = ids(prefix, len(tables[name]), width, start=rows[name] + 1)
        for name in LOAD_ORDER:
            path = out / _name(FILES[name], k, sc.shards)
            step(f"writing {path.name} ({len(tables[name])} rows)")
            (write_csv if path.suffix == ".csv" else write_parquet)(tables[name], path)
            paths[name].append(path)
            rows[name] += len(tables[name])
        path = out / _name(MESSAGES_FILE, k, sc.shards)
        step(f"writing {path.name} ({len(lines)} messages)")
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        messages.append(path)
        n_messages += len(lines)
        del tables, net, lines
    patterns = out / PATTERNS_FILE
    patterns.write_text(json.dumps({
        "scale": scale, "seed": seed, "as_of": AS_OF.isoformat(),
        "oi_codes": list(network.OI_CODES), "rows": rows, "messages": n_messages,
        "files": {name: [p.name for p in ps] for name, ps in paths.items()}
        | {"messages": [p.name for p in messages]},
        "security": security.PATTERNS, "network": planted,
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Generated(out, paths, rows, messages, n_messages, patterns, time.perf_counter() - t0)


def _merged(kind: str, results: list[LoadResult]) -> LoadResult:
    """The loads of one table's shard files as one result (first load id, every file)."""
    status = "applied" if all(r.status == "applied" for r in results) else "rejected"
    return LoadResult(results[0].load_id, kind, status, [f for r in results for f in r.files])


# Tables that receiving the message log fills (``via_messages``); ``outages`` is
# loaded after the log: it adds the cuts known from supervision and completes the
# M5-listed ones (restore time, cause, churn) that the M5s do not carry.
FROM_MESSAGES = ("interventions", "intervention_targets", "outage_reports")


def build(db_path: str | Path, scale: str = "small", seed: int = DEFAULT_SEED,
          out: str | Path | None = None, force: bool = False,
          progress: Progress | None = None, via_messages: bool = False) -> Built:
    """Generate the files and load them into a new database at ``db_path``.

    The files go to ``out``, else beside the database (:func:`default_out`). The
    tables are loaded with :func:`~evaluation.store.ingest.ingest` in
    ``LOAD_ORDER``. With ``via_messages`` the interventions, their targets and
    the outage reports come instead from receiving ``messages.ndjson`` as the OI
    (:func:`evaluation.eintervention.reception.ingest_messages`), which also
    fills the ``messages`` table with the OI's answers (and quarantines the KO
    lines); the resulting tables are the same.

    An existing database is replaced only with ``force``; the new one is built
    beside it under a temporary name and moved in place when complete, so a
    failure leaves the old file as it was.
    """
    t0 = time.perf_counter()
    db_path = Path(db_path)
    if str(db_path) == ":memory:":
        raise OpevalError("demo needs a database file, not :memory:")
    if db_path.exists() and not force:
        raise OpevalError(f"database {db_path} exists; use --force to replace it")
    step = progress or (lambda _m: None)
    gen = generate(scale, seed, default_out(db_path, scale) if out is None else out, progress)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(f".{db_path.name}.building-{os.getpid()}")
    for p in (tmp, Path(f"{tmp}.wal")):
        if p.exists():
            p.unlink()
    built = Built(db_path, gen)
    try:
        con = db.connect(tmp)
        try:
            for name in LOAD_ORDER:
                if via_messages and name in FROM_MESSAGES:
                    continue
                if via_messages and name == "outages":
                    from ..eintervention.reception import ingest_messages
                    step("receiving the e-Intervention message log")
                    built.loads["messages"] = _merged("messages", [ingest_messages(
                        con, [path], oi_codes=list(network.OI_CODES), progress=False)
                        for path in gen.messages])
                step(f"loading {name}")
                # One load per shard file keeps the loader's memory at one shard's size.
                built.loads[name] = _merged(name, [ingest(con, name, [path], progress=progress)
                                                   for path in gen.paths[name]])
            db.set_setting(con, "oi_codes", OI_CODES_SETTING)
            db.set_setting(con, "demo_as_of", AS_OF.isoformat())
            db.set_setting(con, "demo", json.dumps({"scale": scale, "seed": seed,
                                                    "files": str(gen.out.resolve())}))
            con.execute("CHECKPOINT")
        finally:
            con.close()
        for p in (db_path, Path(f"{db_path}.wal")):
            if p.exists():
                p.unlink()
        os.replace(tmp, db_path)
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            if p.exists():
                p.unlink()
        raise
    built.seconds = time.perf_counter() - t0
    return built
