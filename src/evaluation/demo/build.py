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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import OpevalError
from ..store import db
from ..store.ingest import LoadResult, ingest
from ..store.schema import LOAD_ORDER
from . import network, security
from .common import AS_OF, SCALES, write_csv, write_parquet

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
    """The files of one demo dataset."""

    out: Path
    paths: dict[str, Path]
    rows: dict[str, int]
    messages: Path
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
        return sum(r.total("quarantined") for r in self.loads.values())


def default_out(scale: str) -> Path:
    return Path("data") / "demo" / scale


def generate(scale: str = "small", seed: int = DEFAULT_SEED, out: str | Path | None = None,
             progress: Progress | None = None) -> Generated:
    """Write the demo files of ``scale`` for ``seed`` into ``out`` (same seed, same bytes)."""
    if scale not in SCALES:
        raise OpevalError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    step = progress or (lambda _m: None)
    t0 = time.perf_counter()
    out = Path(out) if out is not None else default_out(scale)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpevalError(f"cannot create {out}: {exc.strerror or exc}") from None
    sc = SCALES[scale]
    step(f"generating security systems ({scale}, seed {seed})")
    tables = security.build(sc, seed)
    step("generating the fibre network and its message log")
    net, lines, planted = network.build(sc, seed)
    tables.update(net)
    paths: dict[str, Path] = {}
    for name in LOAD_ORDER:
        path = out / FILES[name]
        step(f"writing {path.name} ({len(tables[name])} rows)")
        (write_csv if path.suffix == ".csv" else write_parquet)(tables[name], path)
        paths[name] = path
    messages = out / MESSAGES_FILE
    step(f"writing {messages.name} ({len(lines)} messages)")
    messages.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    rows = {name: len(tables[name]) for name in LOAD_ORDER}
    patterns = out / PATTERNS_FILE
    patterns.write_text(json.dumps({
        "scale": scale, "seed": seed, "as_of": AS_OF.isoformat(),
        "oi_codes": list(network.OI_CODES), "rows": rows, "messages": len(lines),
        "security": security.PATTERNS, "network": planted,
    }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return Generated(out, paths, rows, messages, len(lines), patterns, time.perf_counter() - t0)


def build(db_path: str | Path, scale: str = "small", seed: int = DEFAULT_SEED,
          out: str | Path | None = None, force: bool = False,
          progress: Progress | None = None) -> Built:
    """Generate the files and load them into a new database at ``db_path``.

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
    gen = generate(scale, seed, out, progress)
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
                step(f"loading {name}")
                built.loads[name] = ingest(con, name, [gen.paths[name]], progress=progress)
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
