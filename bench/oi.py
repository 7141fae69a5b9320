"""Bench: the OI's live endpoint (`opeval oi serve`) under sustained load, while the
dashboards (`opeval serve`) serve pages from the same database.

Target (issue 18): at least 500 messages per second with p99 latency under 100 ms
while the dashboards serve.

Set-up: the small demo database (its pages have data to show) plus the 3 000 PMs
of the messages bench (``bench.messages.pm_rows``), ``oi_codes`` including OI01; a
token for each DO and OC of the log. The log is ``bench.messages.generate``'s: M1,
M3, M5 with duplicates, modified re-emissions, M3 before M1 and about 4 % KO lines.
Its lines whose sender code is malformed ('do1') have no token and are not sent.

While it runs, a client loads `/`, `/outages` and `/data` from the dashboards one
after the other without pause (each load builds the page on the server); their
times and failures are reported.

Phases, each on its own part of the log:

1. **offered 500/s** with 16 senders: achieved rate, latency p50 / p99 (the time
   from sending the request to reading the whole answer, at the simulator);
2. **saturation**: offered 3 000/s: the sustained rate the endpoint manages.

After each phase: how long until every message answered is in the store
(``/health`` ``waiting_for_store`` = 0), i.e. visible to the dashboards.
The reference is the straightforward design the endpoint avoids: one DuckDB write
transaction per message, committed before the answer (measured in-process on the same
store and messages, without HTTP), which the dashboards' readers would also block.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.dashboards import Server, _free_port, demo_database
from bench.messages import OURS, generate, pm_rows
from bench.messages import _prepare as prepare_pms

SIZES = {"small": (3_000, 3_000), "full": (15_000, 30_000)}
RATES = (500.0, 3_000.0)
TARGET_RATE, TARGET_P99_MS = 500.0, 100.0
PAGES = ("/", "/outages", "/data")


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _prepare(workdir: Path, scale: str) -> tuple[Path, dict[str, str]]:
    """The bench store (a copy of the small demo plus the bench PMs) and the tokens."""
    import shutil

    from evaluation.eintervention import journal, partners
    from evaluation.store import db

    demo, how = demo_database("small", workdir)
    print(f"  store: {how}, plus {len(pm_rows())} PMs of OI01/OI02", flush=True)
    path = workdir / "oi-bench.duckdb"
    shutil.copy(demo, path)
    con = prepare_pms(str(path))
    codes = db.get_setting(con, "oi_codes") or ""
    db.set_setting(con, "oi_codes", ",".join(filter(None, [codes, OURS])))
    con.close()
    jcon = journal.connect(path)
    tokens = {c: partners.add(jcon, c, role, rate=100_000, burst=100_000)
              for c, role in [("DO01", "do"), ("DO02", "do"), ("DO03", "do"), ("OC01", "oc"),
                              ("OC02", "oc"), ("OC03", "oc")]}
    jcon.close()
    shutil.copy(path, workdir / "pristine.duckdb")     # for the reference
    return path, tokens


class PageLoader(threading.Thread):
    """Loads the dashboards' pages one after the other until stopped."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base, self.times, self.errors = base, [], 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for page in PAGES:
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(self.base + page, timeout=120) as r:
                        r.read()
                    self.times.append(time.perf_counter() - t0)
                except OSError:
                    self.errors += 1


def _wait_store(root: str, timeout: float = 300) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        with urllib.request.urlopen(root + "/health", timeout=30) as r:
            if json.loads(r.read())["waiting_for_store"] == 0:
                return time.perf_counter() - t0
        time.sleep(0.1)
    return float("nan")


def _reference(path: Path, lines: list[str], n: int) -> float:
    """Messages per second with one DuckDB write transaction per message (the same rules:
    :func:`store_parsed` of one line), on a copy of the store."""
    import shutil

    from evaluation.eintervention.fields import parse_line
    from evaluation.eintervention.reception import resolve_oi_codes, store_parsed
    from evaluation.store import db
    from evaluation.store.ingest import FileResult

    copy = path.with_name("reference.duckdb")
    shutil.copy(path.with_name("pristine.duckdb"), copy)
    con = db.connect(copy)
    codes = resolve_oi_codes(con, None)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    t0 = time.perf_counter()
    for i, text in enumerate(lines[:n], start=1):
        store_parsed(con, codes, [parse_line(i, text)], [0], [FileResult("ref")], ["ref"],
                     started, [0])
    elapsed = time.perf_counter() - t0
    con.close()
    return n / elapsed


def main(scale: str = "full") -> None:
    from evaluation.eintervention import simulate

    n_a, n_b = SIZES[scale]
    with tempfile.TemporaryDirectory(prefix="bench-oi-") as tmp:
        workdir = Path(tmp)
        path, tokens = _prepare(workdir, scale)
        log = workdir / "messages.ndjson"
        generate(log, n_a + n_b)
        lines = log.read_text().splitlines()
        print(f"  load average before: {_load()} ({os.cpu_count()} cores, shared)", flush=True)
        dash = Server(path, workdir / "serve.log")
        up, ready, _ = dash.wait()
        print(f"  dashboards up in {up:.1f} s, warm in {ready:.1f} s", flush=True)
        port = _free_port()
        with open(workdir / "oi.log", "wb") as out:
            endpoint = subprocess.Popen(
                [sys.executable, "-m", "evaluation.cli", "--db", str(path), "oi", "serve",
                 "--port", str(port), "--apply-every", "1"], stdout=out, stderr=subprocess.STDOUT)
        root = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(root + "/health", timeout=5).read()
                break
            except OSError:
                time.sleep(0.1)
        loader = PageLoader(dash.url)
        loader.start()
        try:
            parts = (lines[:n_a], lines[n_a:])
            for rate, part in zip(RATES, parts):
                summary = simulate.replay(f"{root}/v1", part, tokens, rate=rate,
                                          concurrency=16, timeout=30)
                drain = _wait_store(root)
                sent = len(summary.results)
                achieved = sent / summary.seconds
                p50, p99 = summary.percentile(0.5), summary.percentile(0.99)
                ok = (rate == RATES[0] and achieved >= 0.97 * TARGET_RATE
                      and p99 < TARGET_P99_MS)
                verdict = (f"target >= {TARGET_RATE:g}/s, p99 < {TARGET_P99_MS:g} ms: "
                           f"{'met' if ok else 'MISSED'}") if rate == RATES[0] else "capacity"
                print(f"  offered {rate:>6,.0f}/s: {sent:>7,} messages in {summary.seconds:6.1f} s"
                      f" = {achieved:6,.0f} msg/s, latency p50 {p50:6.1f} ms, p99 {p99:6.1f} ms;"
                      f" in the store {drain:.1f} s after the last answer; {verdict}",
                      flush=True)
                print(f"    {summary.text()}", flush=True)
                print(f"    load average now: {_load()}", flush=True)
        finally:
            loader.halt.set()
            loader.join(180)
            endpoint.terminate()
            endpoint.wait(60)
            dash.stop()
        if loader.times:
            print(f"  dashboards meanwhile: {len(loader.times)} page loads, median "
                  f"{statistics.median(loader.times):.2f} s, max {max(loader.times):.2f} s, "
                  f"{loader.errors} failed", flush=True)
        n_ref = 300 if scale == "small" else 1_000
        ref_rate = _reference(path, lines, n_ref)
        print(f"  reference: one DuckDB transaction per message (no HTTP, no dashboards), "
              f"{n_ref} messages: {ref_rate:,.0f} msg/s", flush=True)
        print(f"  load average after: {_load()}", flush=True)
