"""Ingest throughput: `opeval ingest outages` from Parquet and CSV against a row-insert reference.

Targets (issue 2, this 2-core machine): 1M outage rows from Parquet under
10 s, from CSV under 20 s, peak memory under 2 GB. The reference is what one
would write first: pandas reads the file, validates row by row in Python, and
inserts row by row with ``executemany``. It is far too slow to run on 1M rows
in a benchmark, so it runs on a slice and its rate (rows/s) is compared with
the loader's rate on the full file; the printout says so.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.measure import line, measure

FULL = 1_000_000
REF_ROWS = 20_000
PM_COUNT = 5_000


def make_outages(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pms = pd.DataFrame({"pm_id": [f"FI-{i:05d}-0001" for i in range(PM_COUNT)],
                        "oi_code": "OI01", "lines": rng.integers(50, 800, PM_COUNT)})
    start = np.datetime64("2024-01-01T00:00:00")
    cut = start + rng.integers(0, 365 * 86400, n).astype("timedelta64[s]")
    frame = pd.DataFrame({
        "code_oc": rng.choice(["OC01", "OC02", "OC03", "OC04"], n),
        "pm_id": pms.pm_id.to_numpy()[rng.integers(0, PM_COUNT, n)],
        "pto": [f"FI-{i:04d}-{i % 9999:04d}" for i in range(n)],
        "pbo": "PT" + pd.Series(rng.integers(0, 10**7, n)).astype(str),
        "cut_at": cut,
        "restored_at": cut + rng.integers(60, 86400, n).astype("timedelta64[s]"),
        "cause": rng.choice(["", "power", "other"], n, p=[0.7, 0.1, 0.2]),
        "churned": rng.random(n) < 0.02,
    })
    return pms, frame


def _fresh_db(folder: Path, pms_csv: Path) -> Path:
    from evaluation.store import db
    from evaluation.store.ingest import ingest
    path = folder / f"bench-{np.random.default_rng().integers(1 << 30)}.duckdb"
    con = db.connect(path)
    ingest(con, "pms", [pms_csv])
    con.close()
    return path


def run_loader(db_path: str, source: str) -> int:
    from evaluation.store import db
    from evaluation.store.ingest import ingest
    con = db.connect(db_path)
    res = ingest(con, "outages", [source])
    con.close()
    return res.total("accepted")


def run_reference(db_path: str, source: str) -> int:
    """pandas read, Python row checks, row-by-row INSERT."""
    import duckdb
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    con = duckdb.connect(db_path)
    con.execute("SET TimeZone = 'UTC'")
    known = {r[0] for r in con.execute("SELECT pm_id FROM pms").fetchall()}
    code = re.compile(r"[0-9A-Z]{4}")
    good = []
    for r in frame.itertuples(index=False):
        if not code.fullmatch(r.code_oc) or r.pm_id not in known:
            continue
        try:
            cut = pd.Timestamp(r.cut_at)
            restored = pd.Timestamp(r.restored_at) if r.restored_at else None
        except ValueError:
            continue
        if r.cause not in ("", "power", "other"):
            continue
        good.append((r.code_oc, r.pm_id, r.pto or None, r.pbo or None, cut.to_pydatetime(),
                     restored.to_pydatetime() if restored is not None else None,
                     r.cause or None, r.churned.lower() == "true"))
    con.executemany("INSERT INTO outages (code_oc, pm_id, pto, pbo, cut_at, restored_at, cause, "
                    "churned) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", good)
    con.close()
    return len(good)


def main(scale: str) -> None:
    n = FULL if scale == "full" else 100_000
    with tempfile.TemporaryDirectory(prefix="opeval-bench-") as tmp:
        folder = Path(tmp)
        pms, frame = make_outages(n)
        pms_csv = folder / "pms.csv"
        pms.to_csv(pms_csv, index=False)
        parquet, csv = folder / "outages.parquet", folder / "outages.csv"
        frame.to_parquet(parquet, index=False)
        frame.to_csv(csv, index=False)
        ref_csv = folder / "outages_ref.csv"
        frame.head(REF_ROWS).to_csv(ref_csv, index=False)
        print(f"{n:,} outage rows over {PM_COUNT:,} PMs; files: parquet "
              f"{parquet.stat().st_size / 1e6:.0f} MB, csv {csv.stat().st_size / 1e6:.0f} MB")

        ref_s, ref_mb, ref_rows = measure(run_reference, str(_fresh_db(folder, pms_csv)), str(ref_csv))
        ref_rate = ref_rows / ref_s
        print(line(f"reference (pandas + row insert, {REF_ROWS:,} rows)", ref_rows, ref_s, ref_mb))
        for label, src, target in (("opeval ingest outages, Parquet", parquet, 10),
                                    ("opeval ingest outages, CSV", csv, 20)):
            secs, mb, rows = measure(run_loader, str(_fresh_db(folder, pms_csv)), str(src))
            assert rows == n, f"loader accepted {rows} of {n}"
            print(line(label, rows, secs, mb, target_s=target if n == FULL else None,
                       reference_s=n / ref_rate))
            print(f"{'':<44} peak memory target < 2048 MB: {'met' if mb < 2048 else 'MISSED'}")
        db_path = _fresh_db(folder, pms_csv)
        measure(run_loader, str(db_path), str(parquet))
        secs, mb, rows = measure(run_loader, str(db_path), str(parquet))
        print(line("re-load of the same Parquet (all unchanged)", rows, secs, mb))
        print("(reference speed-up is by rate: the reference's rows/s on its slice vs the "
              "loader's on the full file)")
