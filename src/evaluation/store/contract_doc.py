"""Render the data contract (docs/data-contract.md) from :mod:`evaluation.store.schema`.

``python -m evaluation.store.contract_doc > docs/data-contract.md`` regenerates
it; a test fails when the document and the schema disagree.
"""
from __future__ import annotations

from .schema import LOAD_ORDER, SCHEMA_VERSION, TABLES, Column

INTRO = f"""# Data contract (schema version {SCHEMA_VERSION})

Generated from `src/evaluation/store/schema.py` by
`python -m evaluation.store.contract_doc`; do not edit by hand.

Every table can be loaded from CSV (comma, semicolon or tab separated, header
on the first line, double quotes), Parquet or NDJSON (one JSON object per
line) with `opeval ingest KIND PATH…`. Column names are matched ignoring case
and surrounding blanks; unknown extra columns are ignored and reported. Empty
values are NULL. Times are ISO 8601; a time without offset is a wall time of the
database's time zone (`opeval config timezone`, UTC when unset), one with an
offset keeps it; all are stored in UTC. Line references (PTO) are stored
trimmed, in upper case, an unknown marker (`inconnu`, `unknown`, `n/a`, …) as
empty. Booleans accept true/false, t/f, 1/0, yes/no.
Enumerations are the lower-case words listed (input is matched ignoring case).

Text files are UTF-8 (a byte-order mark is allowed; UTF-16 is read when its
byte-order mark says so); another encoding is given with `--encoding NAME`
(e.g. `latin-1`, `cp1252`), and a UTF-8 file's lines that are not UTF-8 are
quarantined. A row with a field longer than 65,536 bytes (`--max-field-bytes`)
is quarantined. In NDJSON a column takes a single value (a string, number,
boolean or null): an array or an object is quarantined, and so is an object
that gives a key twice.

A row that breaks a rule below is quarantined with its file, line, the columns
at fault and the reasons (`opeval quarantine`); the others are loaded. Counts
reconcile per file: read = accepted + quarantined, accepted = inserted +
updated + unchanged. Rows are matched on the table's key: loading the same
rows again changes nothing, a row whose key exists with other values updates
it. Within one load the last row of a key wins; an earlier row of the same key
with other values is quarantined. With `--strict`, any rejected row fails the
whole load and nothing is applied.

Load the tables in this order so that references resolve:
{", ".join(f"`{t}`" for t in LOAD_ORDER)}. The e-Intervention message log
(`opeval ingest messages`, see docs/eintervention.md) fills `interventions`,
`intervention_targets`, `outage_reports` and `outages` from M1/M3/M5.
"""


def _rules(c: Column) -> str:
    parts = []
    if c.required:
        parts.append("required")
    if c.enum:
        parts.append("one of " + ", ".join(f"`{e}`" for e in c.enum))
    if c.pattern:
        parts.append(f"matches `{c.pattern[1:-1]}`")
    if c.min is not None:
        parts.append(f"{c.min:g} to {c.max:g}")
    if c.ref:
        parts.append(f"must exist in `{c.ref}`")
    if c.reference:
        parts.append("line reference (normalised)")
    if c.default is not None:
        parts.append(f"default {c.default}")
    return "; ".join(parts)


def render() -> str:
    out = [INTRO]
    for name in LOAD_ORDER:
        t = TABLES[name]
        out.append(f"\n## `{name}`\n\n{t.doc}\n")
        key = ", ".join(f"`{k}`" for k in t.key)
        enforced = "primary key" if t.primary_key else "natural key, matched null-safe by the loader"
        out.append(f"Key: {key} ({enforced}).\n")
        out.append("| column | type | rules | meaning |\n|---|---|---|---|")
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.type} | {_rules(c)} | {c.doc} |")
        extra = [f"{', '.join(k.columns)}: rejected when {k.reason}" for k in t.checks]
        extra += [f"`{col}` must belong to the row's `{agree}` in `{rt}`"
                  for col, rt, agree in t.same_owner]
        if extra:
            out.append("\nRow rules: " + "; ".join(extra) + ".")
    out.append("""
## Bookkeeping tables

- `meta` (key, value): `schema_version`, and settings such as `oi_codes`.
- `load_log`: one row per file of each load — load id, file index, kind,
  source path, start and end, status (`applied` or `rejected` under
  `--strict`), strict flag, rows read / accepted / quarantined / inserted /
  updated / unchanged, message (e.g. ignored columns).
- `quarantine`: one row per rejected input row — load id, kind, source file,
  line (physical line for CSV/NDJSON, counting the header as line 1; row number
  for Parquet), columns at fault, reasons, and the raw row as JSON.
- `messages`: every e-Intervention message received with the OI's answer
  (keyed by load, file index and line).
- `audit_log`: each purge (`opeval purge --before DATE`) and erasure of a
  customer line (`opeval erase --pto REF`), with the rows affected per table;
  an erased line appears only by its keyed pseudonym.
""")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
