"""Read an input file (CSV, Parquet, NDJSON) into a staging table of text columns.

Every reader is a DuckDB bulk reader; nothing is parsed row by row in Python.
The staging table has ``__line`` (the row's position in the file) and one
VARCHAR column per contract column (NULL where the file lacks it), so the
validation in :mod:`evaluation.store.ingest` is the same for every format.
Rows the reader cannot even split into fields (a CSV line with the wrong
number of fields, bytes that are not UTF-8, a line that is not a JSON object,
a JSON value that is an array or an object where the contract wants one value,
a key given twice in one object) and rows with a field longer than
``max_field_bytes`` (64 KB by default) go to a rejects table with their
physical line and the reason. Every record of the file is either staged or
rejected: ``read = accepted + quarantined`` holds for every file.

Text files are read as UTF-8 (:mod:`.text`: byte-order marks, UTF-16,
``--encoding``).
"""
from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import InputError
from . import text
from .schema import Table

DEFAULT_MAX_FIELD_BYTES = 65_536


@dataclass(frozen=True)
class ReadOptions:
    """How to read the input files of a load: their text ``encoding`` (None: UTF-8, or
    UTF-16 with its byte-order mark) and the longest field accepted, in bytes."""

    encoding: str | None = None
    max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES

FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".gz": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson",
}


def detect_format(path: Path) -> str:
    """File format from the extension (``.csv.gz`` is CSV, ``.json.gz`` NDJSON)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InputError(f"{path}: unknown file type (expected .csv, .parquet or .ndjson)")
    return fmt


@dataclass
class Staged:
    """A staged file: its table name, row count, rejects, the contract columns it has
    and the columns it ignored."""

    path: Path
    fmt: str
    table: str
    rows: int
    rejects: int
    ignored_columns: list[str]
    columns: frozenset[str] = frozenset()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_columns(con: duckdb.DuckDBPyConnection, relation_sql: str) -> list[str]:
    return [d[0] for d in con.execute(f"DESCRIBE {relation_sql}").fetchall()]


def _project(spec: Table, present: dict[str, str], path: Path, check: bool = True) -> str:
    """SELECT list giving every contract column as text from the file's expressions.

    ``present`` maps contract column -> SQL expression reading it from the file.
    A file without a required column cannot be loaded as this kind at all.
    """
    missing = [c.name for c in spec.columns if c.required and c.name not in present]
    if missing and check:
        raise InputError(f"{path}: missing required column(s) {', '.join(missing)} "
                         f"for {spec.name}")
    return ", ".join(f"CAST({present[c.name]} AS VARCHAR) AS {_q(c.name)}" if c.name in present
                     else f"CAST(NULL AS VARCHAR) AS {_q(c.name)}" for c in spec.columns)


def _match(names: list[str], spec: Table) -> tuple[dict[str, str], list[str]]:
    """Contract column -> the file's own column name (case and blanks ignored); extras."""
    wanted = set(spec.column_names)
    present: dict[str, str] = {}
    ignored: list[str] = []
    for n in names:
        key = n.strip().lower()
        if key in wanted and key not in present:
            present[key] = n
        else:
            ignored.append(n)
    return present, ignored


def stage(con: duckdb.DuckDBPyConnection, path: Path, spec: Table, name: str,
          options: ReadOptions = ReadOptions()) -> Staged:
    """Read ``path`` into temp table ``name`` (+ ``name_rejects``); return what was read."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = detect_format(path)
    rejects = f"{name}_rejects"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {rejects} "
                "(line BIGINT, reason VARCHAR, raw VARCHAR)")
    try:
        if fmt == "parquet":
            found, ignored = _stage_parquet(con, path, spec, name)
        else:
            with text.as_utf8(path, options.encoding) as utf8:
                if fmt == "csv":
                    found, ignored = _stage_csv(con, utf8, spec, name, rejects, path)
                else:
                    found, ignored = _stage_ndjson(con, utf8, spec, name, rejects, path)
        _reject_long_fields(con, spec, name, rejects, options.max_field_bytes)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"{path}: cannot read as {fmt}: {first}") from None
    rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    n_rej = con.execute(f"SELECT count(*) FROM {rejects}").fetchone()[0]
    return Staged(path, fmt, name, rows, n_rej, ignored, frozenset(found))


def _reject_long_fields(con, spec: Table, name: str, rejects: str, cap: int) -> None:
    """Move the staged rows with a field longer than ``cap`` bytes to the rejects, each
    with the fields at fault and their sizes; the raw record keeps their first 200
    characters only (the quarantine is no place for 50 MB)."""
    cols = [_q(c) for c in spec.column_names]
    long = [f"strlen({c}) > {cap}" for c in cols]
    reasons = ", ".join(
        f"CASE WHEN strlen({c}) > {cap} THEN {_lit(n + ': longer than ')} || {cap} || "
        f"' bytes (' || strlen({c}) || ')' END" for c, n in zip(cols, spec.column_names))
    shown = ", ".join(f"{c} := CASE WHEN strlen({c}) > {cap} THEN left({c}, 200) || '...' "
                      f"ELSE {c} END" for c in cols)
    where = " OR ".join(long)
    con.execute(f"""INSERT INTO {rejects}
        SELECT __line, concat_ws('; ', {reasons}), to_json(struct_pack({shown}))::VARCHAR
        FROM {name} WHERE {where}""")
    con.execute(f"DELETE FROM {name} WHERE {where}")


def _csv_header(path: Path, shown: Path) -> tuple[list[str], str]:
    """The header's column names and the delimiter (comma, semicolon or tab).

    The dialect is fixed rather than sniffed so that any content is read the
    same way: double quotes, quotes escaped by doubling, header on line 1.
    """
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        first = fh.readline().removeprefix(text.UTF8_BOM)
    delim = max([",", ";", "\t"], key=first.count) if first.strip() else ","
    names = next(csv.reader([first], delimiter=delim), []) if first.strip() else []
    if not names:
        raise InputError(f"{shown}: empty file or no header line")
    seen: dict[str, int] = {}
    unique = []
    for i, n in enumerate(names):
        n = n.strip() or f"column{i + 1}"
        seen[n] = seen.get(n, 0) + 1
        unique.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return unique, delim


def _stage_csv(con, path: Path, spec: Table, name: str, rejects: str, shown: Path
               ) -> tuple[list[str], list[str]]:
    """``path`` (UTF-8) as CSV; ``shown`` is the file named in errors (the input itself)."""
    names, delim = _csv_header(path, shown)
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    # No line can be longer than the file: with that as DuckDB's line limit, every record
    # is read whole and an over-long field is rejected with its reason (_reject_long_fields).
    # Under a smaller limit DuckDB drops lines far over it without a trace.
    longest = max(2_000_000, text.size_bound(path) + 1)
    src = (f"read_csv({_lit(str(path))}, columns = {columns}, header = true, "
           f"auto_detect = false, delim = {_lit(delim)}, quote = '\"', escape = '\"', "
           f"max_line_size = {longest}, store_rejects = true, rejects_table = '{name}_rt', "
           f"rejects_scan = '{name}_rs')")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_raw AS SELECT * FROM {src}")
    present, ignored = _match(_file_columns(con, f"{name}_raw"), spec)
    select = _project(spec, {k: _q(v) for k, v in present.items()}, shown)
    reason = (f"CASE WHEN error_type = 'INVALID ENCODING' THEN {_lit(text.NOT_UTF8)} "
              "ELSE error_type || ': ' || coalesce(error_message, '') END")
    con.execute(f"""INSERT INTO {rejects}
        SELECT line, arg_min({reason}, coalesce(column_idx, -1)), left(any_value(csv_line), 10000)
        FROM {name}_rt GROUP BY line""")
    # DuckDB numbers the records it keeps in file order; their physical line is
    # their ordinal + 1 (header) + the rejected lines before them. Lines are
    # exact for files with one record per line and no blank lines.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        WITH rej AS (SELECT line - row_number() OVER (ORDER BY line) AS s FROM {rejects}),
        base AS (SELECT rowid + 2 AS b, * FROM {name}_raw)
        SELECT b + (SELECT count(*) FROM rej WHERE rej.s < b) AS __line, {select} FROM base""")
    con.execute(f"DROP TABLE {name}_raw")
    con.execute(f"DROP TABLE IF EXISTS {name}_rt")
    con.execute(f"DROP TABLE IF EXISTS {name}_rs")
    return list(present), ignored


def _stage_parquet(con, path: Path, spec: Table, name: str) -> tuple[list[str], list[str]]:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name}_raw AS "
                f"SELECT * FROM read_parquet({_lit(str(path))})")
    present, ignored = _match(_file_columns(con, f"{name}_raw"), spec)
    select = _project(spec, {k: _q(v) for k, v in present.items()}, path)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                f"SELECT rowid + 1 AS __line, {select} FROM {name}_raw")
    con.execute(f"DROP TABLE {name}_raw")
    return list(present), ignored


def _stage_ndjson(con, path: Path, spec: Table, name: str, rejects: str, shown: Path
                  ) -> tuple[list[str], list[str]]:
    """``path`` (UTF-8) as NDJSON; ``shown`` is the file named in errors (the input itself).

    Contract columns take single values: a value that is an array or an object is
    rejected, and so is an object that gives a key twice (JSON readers disagree on
    which one wins; DuckDB would silently take the first) or gives one contract
    column under two keys differing in case or blanks."""
    # Split the text ourselves so that every line keeps its exact number and a
    # broken line is reported instead of silently skipped.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name}_lines AS
        SELECT line, CASE WHEN line = 1 THEN ltrim(j, {_lit(text.UTF8_BOM)}) ELSE j END AS j
        FROM (SELECT unnest(range(1, len(l) + 1)) AS line, rtrim(unnest(l), chr(13)) AS j
              FROM (SELECT string_split(content, chr(10)) AS l
                    FROM read_text({_lit(str(path))})))""")
    con.execute(f"""INSERT INTO {rejects}
        SELECT line, CASE WHEN NOT json_valid(j) THEN 'not valid JSON'
                          ELSE 'not a JSON object' END, left(j, 1000)
        FROM {name}_lines
        WHERE trim(j) <> '' AND (NOT json_valid(j) OR json_type(j) <> 'OBJECT')""")
    con.execute(f"""DELETE FROM {name}_lines
        WHERE trim(j) = '' OR NOT json_valid(j) OR json_type(j) <> 'OBJECT'""")
    keys = con.execute(f"SELECT DISTINCT unnest(json_keys(j)) FROM {name}_lines").fetchall()
    names = sorted(k[0] for k in keys)
    # Objects may spell a column differently ("System_ID" in one, "system_id" in the
    # next): each contract column reads whichever of its spellings the object has.
    wanted, spellings, ignored = set(spec.column_names), {}, []
    for n in names:
        key = n.strip().lower()
        (spellings.setdefault(key, []) if key in wanted else ignored).append(n)
    paths = {k: [_lit("$." + _q(v)) for v in vs] for k, vs in spellings.items()}
    keys_ = "json_keys(j)"
    checks = [f"""CASE WHEN len({keys_}) <> len(list_distinct({keys_}))
        THEN 'key given twice in one object: ' || array_to_string(list_filter(
            list_distinct({keys_}), lambda k: len(list_filter({keys_}, lambda x: x = k)) > 1), ', ')
        END"""]
    for k, ps in paths.items():
        checks.append(f"""CASE WHEN len(list_filter({keys_}, lambda x: lower(trim(x)) = {_lit(k)})) > 1
            AND len({keys_}) = len(list_distinct({keys_}))
            THEN {_lit(k + ': given twice in one object (keys differing in case or blanks)')} END""")
        kind = "coalesce(" + ", ".join(f"json_type(j, {p})" for p in ps) + ")"
        checks.append(f"""CASE WHEN {kind} IN ('ARRAY', 'OBJECT')
            THEN {_lit(k + ': an ')} || lower({kind}) || ', not a single value' END""")
    con.execute(f"""INSERT INTO {rejects}
        SELECT line, reason, left(j, 1000) FROM (
            SELECT line, j, NULLIF(concat_ws('; ', {', '.join(checks)}), '') AS reason
            FROM {name}_lines) WHERE reason IS NOT NULL""")
    exprs = {k: "coalesce(" + ", ".join(f"json_extract_string(j, {p})" for p in ps) + ")"
             for k, ps in paths.items()}
    # A file of nothing but broken lines is all rejects, not a missing column.
    select = _project(spec, exprs, shown, check=bool(names))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT line AS __line, {select} FROM {name}_lines
        WHERE line NOT IN (SELECT line FROM {rejects})""")
    con.execute(f"DROP TABLE {name}_lines")
    return list(spellings), ignored
