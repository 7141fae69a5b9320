"""The dashboards while a daily load runs (issue #14, item 3).

``python -m bench --only loads`` (scale ``full``: a copy of the MEDIUM demo
database and a load of 1 000 000 alarms; scale ``small``: the small demo and
100 000 alarms).

One ``opeval serve`` on the copy, warmed up; then ``opeval ingest alarms`` of a
CSV file of new alarms (one system, spread over a month) runs against the same
file while Chromium (as in :mod:`bench.dashboards`) keeps opening every page in
a fresh browser context and changing the ``/alarms`` system filter. Figures:

* **load** — its phases from its progress lines: reading and validating (the
  store read-only: pages are served as usual), then the apply transaction (the
  only time the file is written; readers are held back and pages serve what
  the server already holds) up to its commit, then the alert rules the load
  checks (the store read-only, at a lower CPU priority) up to its end;
* **first render during the load** — per page, every visit made while the load
  ran (target < 5 s), and the filter response on ``/alarms``;
* **errors** — any page showing an error text ("Cannot show this page",
  "Cannot read the database", a lock message) or a browser error: target none;
* **fresh data** — from the load's commit (and checkpoint) until a newly opened
  ``/`` shows the new number of rows: target < 10 s. A second browser on a
  thread of its own starts looking the moment the load says it committed, while
  the visits go on (during the apply only one visit is made).

Reference in the same run: the same pages' first render before the load.
"""
from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.dashboards import (
    _JS_LIB,
    CHROMIUM,
    CHROMIUM_ARGS,
    GENERIC_READY,
    SPECS,
    PageResult,
    PageSpec,
    Server,
    _context,
    _load,
    demo_database,
    filter_response,
    first_render,
)
from evaluation.store import turns

FIRST_RENDER_TARGET_S = 5.0
FRESH_TARGET_S = 10.0
COMMITTED = "committed; checking the alert rules"
ERROR_TEXTS = ("Cannot show this page", "Cannot read the database", "being written",
               "Could not set lock", "Conflicting lock", "(PID")
PAGE_TEXT_JS = ("() => {" + _JS_LIB + " return R.map((r) => r === document ? "
                "document.body.innerText : r.textContent).join(' '); }")


def _spec(path: str) -> PageSpec:
    return SPECS.get(path) or PageSpec(path, GENERIC_READY)


def alarms_file(db: Path, path: Path, rows: int) -> Path:
    """``rows`` new alarms of the database's first system, as the day's CSV file."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    system = con.execute("SELECT min(system_id) FROM systems").fetchone()[0]
    con.close()
    out = duckdb.connect()
    out.execute(f"""COPY (SELECT 'LOAD-' || range AS alarm_id, '{system}' AS system_id,
            'door_forced' AS definition, 'LOAD-DEV-' || (range % 50) AS resource_id,
            1 + range % 5 AS priority,
            TIMESTAMP '2025-06-01' + to_seconds(range * 2) AS raised_at,
            TIMESTAMP '2025-06-01' + to_seconds(range * 2 + 30) AS cleared_at,
            'bench load ' || range AS comment
        FROM range({rows})) TO '{path}' (HEADER, DELIMITER ',')""")
    out.close()
    return path


@dataclass
class Load:
    """The load child process and the times of its progress lines."""

    proc: subprocess.Popen
    started: float
    steps: list[tuple[float, str]] = field(default_factory=list)
    ended: float | None = None

    def follow(self) -> None:
        for line in self.proc.stderr:
            self.steps.append((time.perf_counter() - self.started, line.strip()))
        self.proc.wait()
        self.ended = time.perf_counter()

    def at(self, word: str) -> float | None:
        return next((t for t, line in self.steps if word in line), None)

    @property
    def committed(self) -> float | None:
        """Seconds from the start to the commit (the load's progress line after it)."""
        return self.at(COMMITTED)

    def phase(self, writer) -> str:
        """What the load is doing now: its writer's turn, else "alert rules" once it has
        committed (:func:`evaluation.alerts.engine.after_load`), else "starting"."""
        if writer:
            return writer.phase
        return "alert rules" if self.committed is not None else "starting"


def _headline(page) -> int | None:
    m = re.search(r"([\d,]+) input rows in", page.evaluate(PAGE_TEXT_JS))
    return int(m.group(1).replace(",", "")) if m else None


def _visit(browser, base: str, path: str, result: PageResult) -> float | None:
    """A first render of ``path`` in a new browser context (and, on ``/alarms``, a change of
    its system filter); error texts the page shows are recorded."""
    context, page = _context(browser, result)
    try:
        seconds, _ = first_render(page, base + path, _spec(path))
        if path == "/alarms":
            times, _ = filter_response(page, SPECS["/alarms"].filters[0], rounds=1)
            result.filters.setdefault("system", []).extend(times)
        shown = page.evaluate(PAGE_TEXT_JS)
        result.errors += [f"page shows {t!r}" for t in ERROR_TEXTS if t in shown]
        return seconds
    except Exception as exc:  # noqa: BLE001 (reported, the run goes on)
        result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        return None
    finally:
        context.close()


def _fresh(browser, base: str, expected: int, result: PageResult, since: float
           ) -> tuple[float | None, list[tuple[float, float, int | None]]]:
    """Seconds from ``since`` until a new visit of ``/`` shows ``expected`` rows, and each
    visit made meanwhile: (start, first render, rows shown), seconds after ``since``."""
    visits = []
    while time.perf_counter() - since < 120:
        start = time.perf_counter() - since
        context, page = _context(browser, result)
        try:
            seconds, _ = first_render(page, base + "/", SPECS["/"])
            shown = _headline(page)
            visits.append((start, seconds, shown))
            if shown == expected:
                return time.perf_counter() - since, visits
        except Exception as exc:  # noqa: BLE001 (reported, the run goes on)
            result.errors.append(f"fresh: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        finally:
            context.close()
        time.sleep(0.2)
    return None, visits


class FreshProbe(threading.Thread):
    """Looks for the new data from the moment the load commits, with a browser of its own
    (Playwright's sync API belongs to one thread), while the main thread goes on visiting
    pages: the figure does not wait for a visit in progress to end."""

    def __init__(self, load: Load, base: str, expected: int, result: PageResult) -> None:
        super().__init__(daemon=True)
        self.load, self.base, self.expected, self.result = load, base, expected, result
        self.fresh: float | None = None
        self.visits: list[tuple[float, float, int | None]] = []

    def run(self) -> None:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            while self.load.committed is None and self.load.ended is None:
                time.sleep(0.02)
            if self.load.committed is not None:
                self.fresh, self.visits = _fresh(browser, self.base, self.expected, self.result,
                                                 self.load.started + self.load.committed)
            browser.close()


def main(scale: str = "full") -> None:
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} is absent (make browser installs Debian's Chromium)")
        return
    from playwright.sync_api import sync_playwright

    from evaluation.views.pages import PAGES

    rows = 1_000_000 if scale == "full" else 100_000
    workdir = Path(tempfile.mkdtemp(prefix="opeval-bench-loads-"))
    try:
        source, how = demo_database(scale, workdir)
        db = workdir / "served.duckdb"
        shutil.copyfile(source, db)
        print(f"database: a copy of {source} ({how}); load: {rows:,} alarms", flush=True)
        csv = alarms_file(db, workdir / "alarms.csv", rows)
        print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at the start", flush=True)
        server = Server(db, workdir / "serve.log")
        before = {p: PageResult(p) for p in PAGES}
        during = {p: PageResult(p) for p in PAGES}
        try:
            up, ready, _ = server.wait()
            print(f"server up in {up:.1f} s, warm-up done after {ready:.1f} s", flush=True)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for p in PAGES:
                    before[p].cold_s = _visit(browser, server.url, p, before[p])
                context, page = _context(browser, before["/"])
                first_render(page, server.url + "/", SPECS["/"])
                rows_before = _headline(page)
                context.close()
                load = Load(subprocess.Popen(
                    [sys.executable, "-m", "evaluation.cli", "--db", str(db), "ingest", "alarms",
                     str(csv), "--progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                    text=True), time.perf_counter())
                visits: list[tuple[str, float, str, float]] = []
                follower = threading.Thread(target=load.follow, daemon=True)
                follower.start()
                probe = FreshProbe(load, server.url, rows_before + rows, during["/"])
                probe.start()
                while load.proc.poll() is None:
                    # the page visited least so far, the heaviest first
                    p = min(reversed(PAGES), key=lambda k: len(during[k].warm_s))
                    writer = turns.status(db)
                    if writer and writer.phase == turns.APPLYING and any(
                            v[2] == turns.APPLYING for v in visits):
                        # one visit during the apply is enough: be ready to look for
                        # the new data the moment the load ends
                        time.sleep(0.05)
                        continue
                    at = time.perf_counter() - load.started
                    seconds = _visit(browser, server.url, p, during[p])
                    if seconds is not None and load.proc.poll() is None:
                        during[p].warm_s.append(seconds)
                        visits.append((p, at, load.phase(writer), seconds))
                follower.join()
                probe.join()
                fresh, fresh_visits = probe.fresh, probe.visits
                browser.close()
        finally:
            server.stop()
        print(report(load, before, during, fresh, rows, visits), flush=True)
        print("visits of / after the commit (start s, first render s, rows shown): "
              + "; ".join(f"{a:.1f}, {b:.2f}, {c}" for a, b, c in fresh_visits)
              + f" (rows before the load: {rows_before})", flush=True)
        print(f"load average {_load()} at the end (other work shares the CPUs)", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(load: Load, before: dict[str, PageResult], during: dict[str, PageResult],
           fresh: float | None, rows: int, visits: list[tuple[str, float, str, float]]) -> str:
    total = load.ended - load.started
    applying = load.at("transaction open")
    committed = load.committed or total
    lines = [(f"load of {rows:,} alarms: {total:.1f} s in all (exit {load.proc.returncode}); "
             f"reading and validating with the store read-only until {applying or float('nan'):.1f} s, "
             f"then the apply (write lock held) for {committed - (applying or committed):.1f} s, "
             f"then the alert rules (store read-only, lower CPU priority) for "
             f"{total - committed:.1f} s"),
             "", f"first render (s) of a new visit; target < {FIRST_RENDER_TARGET_S:g} s during the load",
             f"{'page':<13} {'before':>7} {'during (each visit)':<40} {'max':>6}  target  errors"]
    for p, r in during.items():
        worst = max(r.warm_s) if r.warm_s else None
        verdict = "n/a" if worst is None else ("met" if worst < FIRST_RENDER_TARGET_S else "MISSED")
        shown = ", ".join(f"{t:.2f}" for t in r.warm_s) or "—"
        b = before[p].cold_s
        lines.append(f"{p:<13} {'—' if b is None else f'{b:.2f}':>7} {shown:<40} "
                     f"{'—' if worst is None else f'{worst:.2f}':>6}  {verdict:<6}  {len(r.errors)}")
    lines.append("visits in order (s after the load started, the load's phase, first render): "
                 + "; ".join(f"{p} at {at:.0f} ({phase}) {s:.2f}" for p, at, phase, s in visits))
    times = during["/alarms"].filters.get("system", [])
    if times:
        lines.append(f"/alarms system filter during the load: "
                     f"{', '.join(f'{t:.2f}' for t in times)} s (median "
                     f"{statistics.median(times):.2f} s)")
    lines.append("")
    lines.append(f"fresh data: a new visit of / shows the new rows {fresh:.1f} s after the "
                 f"commit; target < {FRESH_TARGET_S:g} s: "
                 f"{'met' if fresh < FRESH_TARGET_S else 'MISSED'}" if fresh is not None
                 else "fresh data: NOT shown within 120 s of the commit")
    errors = [(p, e) for p, r in {**{f'{k} (before)': v for k, v in before.items()},
                                  **during}.items() for e in r.errors]
    lines.append("errors: none" if not errors else "errors:")
    lines += [f"  {p}: {e[:160]}" for p, e in errors]
    return "\n".join(lines)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "small")
