"""Lake mode: the contract's tables as partitioned Parquet, readable by DuckDB and Spark.

Layout of a lake directory (hive-style partitions, one directory per table)::

    DIR/_opeval_lake.json                          the manifest (written last)
    DIR/systems/data_0.parquet                     small tables: no partitions
    DIR/faults/month=2024-03/data_0.parquet        events: month of their time column
    DIR/outages/month=2024-03/pm_id=FI-1/...       + id level only when the files stay big

Partitioning rules (the reasons are in docs/spark.md):

* event tables are partitioned by ``month`` (``YYYY-MM``) of their main time
  column (:data:`TIME_COLUMNS`); ``month`` is derived, so readers drop it and
  the tables come back with exactly the contract's columns and types;
* a second level by ``system_id`` / ``pm_id`` (:data:`ID_COLUMNS`) is added only
  when every partition would hold at least ``min_rows_per_partition`` rows on
  average and every id is a safe path segment; otherwise the rows of each month
  are written sorted by that id, so Parquet row-group statistics still let both
  engines skip row groups when filtering on the id (the id stays a real column);
* dimension tables and tables without a time column are single unpartitioned
  datasets (split in files of at most ``FILE_SIZE``).

Partition values come back with their contract types: readers give DuckDB
``hive_types`` and Spark an explicit schema, so an id such as ``007`` stays the
string ``007``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .. import localtime
from ..errors import OpevalError
from .schema import LOAD_ORDER, SCHEMA_VERSION, TABLES

MANIFEST = "_opeval_lake.json"
LAKE_FORMAT = "opeval-lake"
LAKE_FORMAT_VERSION = 1
MONTH = "month"
FILE_SIZE = "256MB"
MIN_ROWS_PER_PARTITION = 250_000

# The column whose month partitions each event table (contract's main time column).
TIME_COLUMNS = {
    "faults": "occurred_at",
    "maintenance": "started_at",
    "alarms": "raised_at",
    "interventions": "started_at",
    "outages": "cut_at",
}
# Candidate second partition level (required columns only: a NULL id would need a
# sentinel directory name that DuckDB and Spark do not spell the same way).
ID_COLUMNS = {
    "faults": "system_id",
    "maintenance": "system_id",
    "interventions": "pm_id",
    "outages": "pm_id",
}
# An id used as a directory name: letters, digits, '-', '_', '.', not starting with
# '.' or '_' (Spark hides such paths), no '%', '/', '=' or spaces (escaping differs
# between engines), and not the word null (DuckDB reads ``x=NULL`` as a NULL).
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")


class LakeError(OpevalError):
    """A lake directory that cannot be written or read."""


@dataclass
class LakeTable:
    """One table of a lake, as recorded in the manifest."""

    name: str
    rows: int
    partition_by: list[str] = field(default_factory=list)
    sorted_by: list[str] = field(default_factory=list)
    files: int = 0

    @property
    def derived(self) -> list[str]:
        """Partition columns that are not contract columns (dropped by readers)."""
        return [c for c in self.partition_by if c not in TABLES[self.name].column_names]


@dataclass
class Manifest:
    schema_version: int
    exported_at: str
    tables: dict[str, LakeTable]
    source: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    """The store's settings the analyses need (its time zone)."""

    def as_dict(self) -> dict:
        return {"format": LAKE_FORMAT, "format_version": LAKE_FORMAT_VERSION,
                "schema_version": self.schema_version, "exported_at": self.exported_at,
                "source": self.source, "settings": self.settings,
                "tables": {n: {"rows": t.rows, "partition_by": t.partition_by,
                               "sorted_by": t.sorted_by, "files": t.files}
                           for n, t in self.tables.items()}}

    @classmethod
    def from_dict(cls, d: dict, where: str = "") -> Manifest:
        if not isinstance(d, dict) or d.get("format") != LAKE_FORMAT:
            raise LakeError(f"{where}: not an opeval lake manifest")
        if d.get("format_version") != LAKE_FORMAT_VERSION:
            raise LakeError(f"{where}: lake format version {d.get('format_version')!r}, "
                            f"this opeval reads version {LAKE_FORMAT_VERSION}")
        if d.get("schema_version") != SCHEMA_VERSION:
            raise LakeError(f"{where}: lake has schema version {d.get('schema_version')!r}, "
                            f"this opeval expects {SCHEMA_VERSION}; export it again")
        tables = {}
        for name, t in (d.get("tables") or {}).items():
            if name not in TABLES:
                raise LakeError(f"{where}: unknown table {name!r} in the manifest")
            parts = [str(c) for c in t.get("partition_by", [])]
            if any(c not in (MONTH, ID_COLUMNS.get(name)) for c in parts):
                raise LakeError(f"{where}: unexpected partition columns {parts} for {name}")
            tables[name] = LakeTable(name, int(t["rows"]), parts,
                                     [str(c) for c in t.get("sorted_by", [])], int(t.get("files", 0)))
        settings = d.get("settings") or {}
        if not isinstance(settings, dict):
            raise LakeError(f"{where}: settings of the manifest are not an object")
        return cls(int(d["schema_version"]), str(d.get("exported_at", "")), tables,
                   str(d.get("source", "")), {str(k): str(v) for k, v in settings.items()})


# ------------------------------------------------------------------ export


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parse_table_list(values: Iterable[str] | None) -> list[str]:
    """``["faults,alarms", "pms"]`` -> contract names in load order; unknown names are an error."""
    if not values:
        return list(LOAD_ORDER)
    wanted = {w.strip() for v in values for w in v.split(",") if w.strip()}
    unknown = sorted(wanted - set(TABLES))
    if unknown:
        raise LakeError(f"unknown table(s): {', '.join(unknown)} (known: {', '.join(LOAD_ORDER)})")
    return [n for n in LOAD_ORDER if n in wanted]


def _plan(con: duckdb.DuckDBPyConnection, name: str, min_rows: int) -> tuple[int, list[str], list[str]]:
    """(rows, partition columns, sort columns) for one table (module docstring rules)."""
    rows = con.execute(f"SELECT count(*) FROM {_q(name)}").fetchone()[0]
    time_col = TIME_COLUMNS.get(name)
    if time_col is None:
        return rows, [], []
    id_col = ID_COLUMNS.get(name)
    if id_col is None:
        return rows, [MONTH], [time_col]
    n_parts, unsafe = con.execute(
        f"""SELECT count(DISTINCT (strftime({_q(time_col)}, '%Y-%m'), {_q(id_col)})),
                   count(*) FILTER (WHERE NOT regexp_full_match({_q(id_col)}, ?)
                                    OR lower({_q(id_col)}) = 'null')
            FROM {_q(name)}""", [_SAFE_SEGMENT.pattern[1:-1]]).fetchone()
    if rows and not unsafe and rows / max(n_parts, 1) >= min_rows:
        return rows, [MONTH, id_col], [time_col]
    return rows, [MONTH], [id_col, time_col]


def _copy(con: duckdb.DuckDBPyConnection, name: str, target: Path, parts: list[str],
          sort: list[str], column_sql: Mapping[str, str] | None = None) -> None:
    column_sql = column_sql or {}
    cols = ", ".join(f"{column_sql[c]} AS {_q(c)}" if c in column_sql else _q(c)
                     for c in TABLES[name].column_names)
    select = f"SELECT {cols}"
    if MONTH in parts:
        select += f", strftime({_q(TIME_COLUMNS[name])}, '%Y-%m') AS {MONTH}"
    select += f" FROM {_q(name)}"
    if sort:
        select += " ORDER BY " + ", ".join(_q(c) for c in sort)
    options = ["FORMAT parquet", "COMPRESSION zstd", f"FILE_SIZE_BYTES {_lit(FILE_SIZE)}"]
    if parts:
        options.append("PARTITION_BY (" + ", ".join(_q(c) for c in parts) + ")")
    con.execute(f"COPY ({select}) TO {_lit(str(target))} ({', '.join(options)})")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def export_lake(con: duckdb.DuckDBPyConnection, dest: str | Path, tables: Sequence[str] | None = None,
                *, min_rows_per_partition: int = MIN_ROWS_PER_PARTITION, source: str = "",
                progress: Callable[[str], None] | None = None,
                column_sql: Mapping[str, Mapping[str, str]] | None = None) -> Manifest:
    """Write ``tables`` (default: all) of the store behind ``con`` as a lake in ``dest``.

    ``column_sql`` replaces some columns by SQL expressions (table -> column -> SQL),
    e.g. customer line references by their pseudonyms (``opeval export --pseudonymise``).

    ``dest`` must be missing, empty or an existing lake (whose exported tables are
    replaced; the others are kept). Each table is written to a hidden staging
    directory and moved into place; the manifest is replaced last, atomically.
    """
    dest = Path(dest).expanduser().absolute()
    names = parse_table_list(tables)
    old: Manifest | None = None
    if dest.exists():
        if not dest.is_dir():
            raise LakeError(f"{dest} exists and is not a directory")
        if (dest / MANIFEST).exists():
            try:
                old = read_manifest(dest)
            except LakeError:
                # A lake of another version is replaced only by a full export.
                if set(names) != set(TABLES):
                    raise
                old = None
        elif any(dest.iterdir()):
            raise LakeError(f"{dest} is not empty and holds no opeval lake; choose a new directory")
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    out: dict[str, LakeTable] = dict(old.tables) if old else {}
    try:
        for name in names:
            rows, parts, sort = _plan(con, name, min_rows_per_partition)
            if progress:
                progress(f"{name}: {rows} rows" + (f", partitioned by {', '.join(parts)}" if parts else ""))
            target = staging / name
            if rows:
                _copy(con, name, target, parts, sort, (column_sql or {}).get(name))
            else:
                # An empty table still gets one (empty) file so readers know its schema.
                target.mkdir()
                cols = ", ".join(_q(c) for c in TABLES[name].column_names)
                con.execute(f"COPY (SELECT {cols} FROM {_q(name)}) TO "
                            f"{_lit(str(target / 'data_0.parquet'))} (FORMAT parquet)")
                parts = []
            files = sum(1 for _ in target.rglob("*.parquet"))
            out[name] = LakeTable(name, rows, parts, sort, files)
        for name in names:
            final = dest / name
            if final.exists():
                trash = staging / f".old-{name}"
                final.rename(trash)
            (staging / name).rename(final)
        zone = con.execute("SELECT value FROM meta WHERE key = ?", [localtime.SETTING]).fetchall()
        manifest = Manifest(SCHEMA_VERSION, _now(), {n: out[n] for n in LOAD_ORDER if n in out},
                            source=source,
                            settings={localtime.SETTING: zone[0][0]} if zone else {})
        tmp = dest / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest.as_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, dest / MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


# ------------------------------------------------------------------ read


def is_uri(location: str | Path) -> bool:
    """True for ``scheme://...`` locations (hdfs, s3a, abfss, file...) that only Spark opens."""
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(location)))


def join(location: str | Path, *parts: str) -> str:
    base = str(location)
    if is_uri(base):
        return base.rstrip("/") + "/" + "/".join(parts)
    return str(Path(base).expanduser().absolute().joinpath(*parts))


def read_manifest(location: str | Path, text_reader: Callable[[str], str] | None = None) -> Manifest:
    """The manifest of the lake at ``location``; ``text_reader`` reads a URI (Spark's file systems)."""
    path = join(location, MANIFEST)
    try:
        if is_uri(location):
            if text_reader is None:
                raise LakeError(f"{location}: only the Spark engine reads a lake at a URI")
            text = text_reader(path)
        else:
            if not Path(location).expanduser().is_dir():
                raise LakeError(f"{location}: no such lake directory")
            text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LakeError(f"{location}: not an opeval lake ({MANIFEST} is missing; "
                        f"write one with `opeval export --to DIR`)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LakeError(f"{path}: unreadable manifest ({exc.msg})") from None
    return Manifest.from_dict(data, str(location))


def _read_options(info: LakeTable) -> tuple[bool, dict[str, str]]:
    """(hive partitioning on?, partition column -> DuckDB type) for one table."""
    cols = {c.name: c.type for c in TABLES[info.name].columns}
    return bool(info.partition_by), {p: cols.get(p, "VARCHAR") for p in info.partition_by}


def duckdb_view_sql(location: str | Path, info: LakeTable, view: str | None = None) -> str:
    """CREATE VIEW over one lake table giving exactly the contract's columns, order and types."""
    hive, types = _read_options(info)
    glob = join(location, info.name, "**", "*.parquet") if hive else join(location, info.name, "*.parquet")
    args = [_lit(glob), f"hive_partitioning = {'true' if hive else 'false'}"]
    if hive:
        args.append("hive_types = {" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in types.items()) + "}")
        args.append("hive_types_autocast = false")
    cols = ", ".join(f"CAST({_q(c.name)} AS {c.type}) AS {_q(c.name)}" for c in TABLES[info.name].columns)
    return (f"CREATE OR REPLACE VIEW {_q(view or info.name)} AS "
            f"SELECT {cols} FROM read_parquet({', '.join(args)})")


def attach_duckdb(con: duckdb.DuckDBPyConnection, location: str | Path) -> Manifest:
    """Create one view per lake table on ``con`` (named as the contract's tables)."""
    manifest = read_manifest(location)
    for info in manifest.tables.values():
        con.execute(duckdb_view_sql(location, info))
    return manifest


def spark_schema(name: str, partition_by: Sequence[str] = ()):
    """The Spark read schema of one table: contract columns, then derived partition columns."""
    from pyspark.sql import types as T

    kinds = {"VARCHAR": T.StringType(), "INTEGER": T.IntegerType(), "BIGINT": T.LongType(),
             "DOUBLE": T.DoubleType(), "DATE": T.DateType(), "BOOLEAN": T.BooleanType(),
             "TIMESTAMP": T.TimestampType()}
    table = TABLES[name]
    fields = [T.StructField(c.name, kinds[c.type], True) for c in table.columns]
    fields += [T.StructField(p, T.StringType(), True) for p in partition_by
               if p not in table.column_names]
    return T.StructType(fields)


def spark_manifest(session, location: str | Path) -> Manifest:
    """The manifest of the lake at ``location``, read through Spark's file systems."""
    def text_reader(path: str) -> str:
        rows = session.read.text(path, wholetext=True).collect()
        if not rows:
            raise FileNotFoundError(path)
        return rows[0][0]
    try:
        return read_manifest(location, text_reader)
    except LakeError:
        raise
    except Exception as exc:  # Spark's own "path does not exist" and friends
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise LakeError(f"{location}: not an opeval lake ({MANIFEST} is missing)") from None
        raise


def spark_dataframes(session, location: str | Path, manifest: Manifest | None = None) -> dict:
    """Spark DataFrames of every lake table: the contract's columns and types only."""
    if manifest is None:
        manifest = spark_manifest(session, location)
    out = {}
    for name, info in manifest.tables.items():
        reader = session.read.schema(spark_schema(name, info.partition_by))
        df = reader.option("basePath", join(location, name)).parquet(join(location, name))
        out[name] = df.select(*TABLES[name].column_names)
    return out


__all__ = [
    "ID_COLUMNS",
    "MANIFEST",
    "TIME_COLUMNS",
    "LakeError",
    "LakeTable",
    "Manifest",
    "attach_duckdb",
    "duckdb_view_sql",
    "export_lake",
    "parse_table_list",
    "read_manifest",
    "spark_manifest",
    "spark_dataframes",
    "spark_schema",
]
