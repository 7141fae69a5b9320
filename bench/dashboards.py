"""Browser benchmark of the dashboards: first render and filter response of every page.

``python -m bench --only dashboards`` (scale ``full``: the MEDIUM demo database,
~1M rows; scale ``small``: the small one, for development).

What is measured, in Debian's Chromium driven by Playwright against one
``opeval serve`` on a simulated closed network:

* **first render** — from the start of the navigation (the page's
  ``performance.timeOrigin``) to the moment the page's main content is visible
  and no Panel loading spinner (``.pn-loading``) is shown anywhere. "Main
  content" is given per page by a :class:`PageSpec` (e.g. the evaluation's
  "N systems evaluated" status, the alarm load plot's canvas). The first visit
  of a page is *cold*: a new browser profile (every script fetched) and the
  page's first session in the server, once the server has finished its start-up
  warm-up (``/health`` says ``ready``; the warm-up imports each page and
  computes what it shows first, and its duration is printed); the next visits
  are *warm* (a new session, results cached in the server on the database
  stamp, Bokeh's and Panel's scripts in the browser's cache).
* **filter response** — from the moment a widget is changed (a ``<select>``
  option picked, as a user would) to the moment the dependent view shows the
  new content (the text of a watched element changed) with no spinner left,
  measured inside the page with ``performance.now()``. Each filter is changed
  to two values and back again: the first two changes are *new* (computed), the
  later ones *repeat* (served from the cache).

Targets (issue 6): first render under 3 s, filter response under 0.5 s.

References measured in the same run:

* **server build** (every page): the same page built in a fresh Python process
  without a browser (``evaluation.serve.build_page``, caches empty) — the raw
  query and computation time of the page; first render minus this is what the
  network, Bokeh and the browser add.
* **pandas** (``/alarms``): the page's main views (load per hour, bad-actor
  Pareto, false alarms by definition and hour, handling per operator) computed
  the straightforward way, from the full ``alarms`` table read into pandas;
  and again for one system, as a filter change would.

A page registered in :data:`evaluation.views.pages.PAGES` without a spec here is
still measured, with a generic readiness signal (a table row or a plot canvas
visible, no spinner) and no filter. ``OPEVAL_BENCH_PAGES=/alarms,/data`` limits
the run to some pages (e.g. while working on one).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("OPEVAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIRST_RENDER_TARGET_S = 3.0
FILTER_TARGET_S = 0.5
WARM_VISITS = 3
TIMEOUT_MS = 120_000          # a page that is never ready
FILTER_TIMEOUT_MS = 60_000    # a view that never changes
VIEWPORT = {"width": 1366, "height": 768}


# ------------------------------------------------------------------ page specs
@dataclass(frozen=True)
class Filter:
    """Pick options of the ``<select>`` labelled ``widget`` and watch ``watch`` change.

    ``choices`` are option indexes (robust across databases) or option labels;
    they are picked in order, then picked again (repeats, served from caches).
    ``watch`` is a selector path: each selector is searched inside the matches
    of the previous one, through shadow roots (Bokeh renders in shadow DOM).
    """

    label: str
    widget: str
    choices: tuple = (1, 2)
    watch: tuple[str, ...] = ()
    tab: str | None = None      # a tab to open first (text of the tab header)


@dataclass(frozen=True)
class PageSpec:
    path: str
    ready: tuple[tuple[str, ...], ...]           # selector paths that must all be visible
    filters: tuple[Filter, ...] = ()
    note: str = ""


GENERIC_READY = ((".tabulator-row, canvas",),)

SPECS: dict[str, PageSpec] = {s.path: s for s in (
    PageSpec("/", ready=((".opeval-table-summary", ".tabulator-row"), (".opeval-pages",)),
             note="no filter on this page"),
    PageSpec("/data", ready=((".opeval-table-tables", ".tabulator-row"),
                             (".opeval-table-loads", ".tabulator-row")),
             filters=(Filter("KO answers: message type", "Message",
                             watch=(".opeval-pager[data-page='ko_page']",)),
                      Filter("quarantine: load", "Load", choices=(1, 0),
                             watch=(".opeval-pager[data-page='quarantine_page']",)))),
    PageSpec("/evaluation", ready=((".opeval-done",), (".opeval-table-overview", ".tabulator-row"),
                                   (".opeval-verdict",)),
             filters=(Filter("system in detail", "System in detail",
                             watch=(".opeval-verdict",)),),
             note="ready when the whole-database evaluation is shown (its status line)"),
    PageSpec("/alarms", ready=((".opeval-load-plot", "canvas"), (".opeval-kpis",)),
             filters=(Filter("system", "System", watch=(".opeval-kpis",)),
                      Filter("priority", "Priority", watch=(".opeval-kpis",)))),
    PageSpec("/outages", ready=((".opeval-outages-headline",), (".opeval-funnel-plot", "canvas")),
             filters=(Filter("zone", "Zone", watch=(".opeval-outages-headline",)),)),
    # no alert selected yet: its "select an alert" state is drawn with the list (rows or
    # none: a database whose rules never ran has no alert, and no row ever comes)
    PageSpec("/alerts", ready=((".opeval-empty",),), note="ready when the list is drawn"),
)}

# ------------------------------------------------------------------ in-page JavaScript
_JS_LIB = """
const roots = () => {
  const out = [document];
  for (let i = 0; i < out.length; i++)
    for (const e of out[i].querySelectorAll('*')) if (e.shadowRoot) out.push(e.shadowRoot);
  return out;
};
// shadow roots recorded as they are attached (TRACK_ROOTS_JS), else found by a walk
const R = window.__opevalRoots
  ? [document, ...window.__opevalRoots.filter((r) => r.host.isConnected)] : roots();
const q = (sel) => R.flatMap((r) => Array.from(r.querySelectorAll(sel)));
const inside = (e, set) => {
  for (let n = e.parentNode || e.host; n; n = n.parentNode || n.host) if (set.has(n)) return true;
  return false;
};
// a selector path: each selector matched inside (light or shadow DOM) a match of the previous one
const find = (path) => {
  let found = q(path[0]);
  for (const sel of path.slice(1)) { const prev = new Set(found); found = q(sel).filter((e) => inside(e, prev)); }
  return found;
};
const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const text = (e) => {
  let t = e.textContent || '';
  const host = new Set([e]);
  for (const r of R) if (r !== document && (r.host === e || inside(r.host, host))) t += r.textContent;
  return t;
};
const busy = () => q('.pn-loading').length > 0;
const signature = (path) => find(path).map(text).join('\\u241e');
"""

# Run before any script of the page: remember every shadow root, so the checks below
# need not walk the whole DOM to find them (a walk costs milliseconds on a big page).
TRACK_ROOTS_JS = """(() => {
  const roots = window.__opevalRoots = [];
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    roots.push(root);
    return root;
  };
})();"""

READY_JS = "(paths) => {" + _JS_LIB + """
  if (busy()) return false;
  for (const p of paths) if (!find(p).some(visible)) return false;
  return performance.now();
}"""

SIGNATURE_JS = "(path) => {" + _JS_LIB + " return signature(path); }"

CHANGED_JS = "([path, before]) => {" + _JS_LIB + """
  if (busy()) return false;
  const now = signature(path);
  return (now !== before && now.length > 0) ? performance.now() : false;
}"""

SELECT_LABELS_JS = """(sel) => {
  const root = sel.getRootNode();
  const label = root.querySelector ? root.querySelector('label') : null;
  return label ? label.textContent.trim() : '';
}"""


# ------------------------------------------------------------------ database and server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_database(scale: str, workdir: Path) -> tuple[Path, str]:
    """The demo database to measure: (path, how it was obtained)."""
    demo_scale = "medium" if scale == "full" else "small"
    existing = ROOT / "data" / f"demo-{demo_scale}.duckdb"
    if existing.exists():
        import duckdb

        from evaluation.errors import OpevalError
        from evaluation.store import db as store_db
        try:
            store_db.connect(existing, read_only=True).close()
            return existing, f"reused {existing.relative_to(ROOT)}"
        except (OpevalError, duckdb.Error) as exc:   # e.g. an older schema: build a fresh one
            print(f"not reusing {existing}: {exc}", flush=True)
    db = workdir / f"demo-{demo_scale}.duckdb"
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(db), "demo",
                          "--scale", demo_scale, "--via-messages", "--out", str(workdir / "files"),
                          "--no-progress"], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"demo build failed: {run.stderr.strip()}")
    shutil.rmtree(workdir / "files", ignore_errors=True)
    return db, f"built {demo_scale} demo (--via-messages) in {time.perf_counter() - t0:.0f} s"


class Server:
    """``opeval serve`` on a free loopback port, as a child process."""

    def __init__(self, db: Path, log: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log, "wb")
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evaluation.cli", "--db", str(db), "serve", "--port",
             str(self.port), "--address", "127.0.0.1", "--no-show"],
            stdout=self._log, stderr=subprocess.STDOUT)

    def wait(self, timeout_s: float = 300) -> tuple[float, float, dict]:
        """(seconds until the server answers, seconds until its warm-up is done, the
        warm-up's report from ``/health``)."""
        t0 = time.perf_counter()
        up = None
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"opeval serve exited:\n{self.log.read_text()}")
            try:
                # not a page: /health answers without building one
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    warm = json.loads(r.read()).get("warm_up", {"state": "ready"})
                up = up if up is not None else time.perf_counter() - t0
                if warm["state"] == "ready":
                    return up, time.perf_counter() - t0, warm
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout_s:
                raise SystemExit(f"opeval serve was not ready in {timeout_s:.0f} s")
            time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


# ------------------------------------------------------------------ browser side
@dataclass
class PageResult:
    path: str
    cold_s: float | None = None
    warm_s: list[float] = field(default_factory=list)
    cold_cpu: tuple[float, float] | None = None                       # (server, browser) CPU s
    warm_cpu: list[tuple[float, float]] = field(default_factory=list)
    filter_cpu: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    filters: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    phase: str = "cold visit"   # what the browser was doing, to tell where an error came from
    external: list[str] = field(default_factory=list)
    reference_build_s: float | None = None


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in {"127.0.0.1", "localhost"}


def _watched_page(context, result: PageResult):
    page = context.new_page()
    page.on("request", lambda r: None if _is_local(r.url) else result.external.append(r.url))
    page.on("console", lambda m: m.type == "error"
            and result.errors.append(f"{result.phase}: console error: {m.text}"))
    page.on("pageerror", lambda e: result.errors.append(f"{result.phase}: page error: {e}"))
    return page


def _context(browser, result: PageResult):
    """A new browser context (empty cache) on a simulated closed network, and a watched page."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(TRACK_ROOTS_JS)
    context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                  else route.abort("internetdisconnected"))
    return context, _watched_page(context, result)


class CpuMeter:
    """CPU seconds used by the server and by the browser (Playwright's driver and Chromium's
    processes) between two snapshots: what a page costs, whatever else loads the machine."""

    def __init__(self, server_pid: int):
        import psutil
        self._psutil, self.server_pid, self.me = psutil, server_pid, os.getpid()

    def snapshot(self) -> dict[int, float]:
        out = {}
        for p in self._psutil.Process(self.me).children(recursive=True):
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except self._psutil.Error:
                pass
        return out

    def since(self, before: dict[int, float]) -> tuple[float, float]:
        after = self.snapshot()
        server = after.get(self.server_pid, 0.0) - before.get(self.server_pid, 0.0)
        browser = sum(v - before.get(pid, 0.0) for pid, v in after.items() if pid != self.server_pid)
        return server, browser


METER: CpuMeter | None = None


def _cpu_start() -> dict[int, float]:
    return METER.snapshot() if METER else {}


def _cpu_since(before: dict[int, float]) -> tuple[float, float] | None:
    return METER.since(before) if METER else None


def first_render(page, url: str, spec: PageSpec) -> tuple[float, tuple[float, float] | None]:
    """Seconds from the start of navigation to the page being ready (measured in the page),
    and the CPU seconds (server, browser) it took."""
    before = _cpu_start()
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    handle = page.wait_for_function(READY_JS, arg=[list(p) for p in spec.ready],
                                    polling=50, timeout=TIMEOUT_MS)
    return float(handle.json_value()) / 1000, _cpu_since(before)


def _select(page, label: str):
    selects = page.locator("select")
    for i in range(selects.count()):
        if selects.nth(i).evaluate(SELECT_LABELS_JS) == label:
            return selects.nth(i)
    raise LookupError(f"no <select> labelled {label!r}")


def filter_response(page, f: Filter, rounds: int = 2) -> tuple[list[float], list[tuple]]:
    """Seconds from each option change to the watched view showing new content, and the CPU
    seconds (server, browser) of each change."""
    if f.tab:
        page.get_by_text(f.tab, exact=True).first.click()
    widget = _select(page, f.widget)
    n_options = widget.evaluate("s => s.options.length")
    choices = [c for c in f.choices if not isinstance(c, int) or c < n_options]
    if len(choices) < 2:
        raise LookupError(f"{f.widget!r} offers {n_options} option(s): nothing to change")
    times, cpu = [], []
    for choice in choices * rounds:
        before = page.evaluate(SIGNATURE_JS, list(f.watch))
        current = widget.evaluate("s => s.selectedIndex" if isinstance(choice, int)
                                  else "s => s.options[s.selectedIndex].text")
        if current == choice:
            continue
        before_cpu = _cpu_start()
        t0 = page.evaluate("performance.now()")
        if isinstance(choice, int):
            widget.select_option(index=choice)
        else:
            widget.select_option(label=choice)
        handle = page.wait_for_function(CHANGED_JS, arg=[list(f.watch), before], polling=20,
                                        timeout=FILTER_TIMEOUT_MS)
        times.append((float(handle.json_value()) - t0) / 1000)
        used = _cpu_since(before_cpu)
        if used:
            cpu.append(used)
    return times, cpu


def measure_page(browser, base: str, spec: PageSpec, result: PageResult) -> None:
    """One cold visit (fresh browser context), then warm visits in one context (static files
    cached by the browser, as for a user coming back); filters on the last warm page."""
    url = base + spec.path
    context, page = _context(browser, result)
    try:
        result.cold_s, result.cold_cpu = first_render(page, url, spec)
    finally:
        context.close()
    result.phase = "warm visit"
    context, page = _context(browser, result)
    try:
        for visit in range(WARM_VISITS):
            if visit:
                page.close()
                page = _watched_page(context, result)
            seconds, cpu = first_render(page, url, spec)
            result.warm_s.append(seconds)
            if cpu:
                result.warm_cpu.append(cpu)
        for f in spec.filters:
            result.phase = f"filter {f.label}"
            try:
                result.filters[f.label], result.filter_cpu[f.label] = filter_response(page, f)
            except Exception as exc:  # noqa: BLE001 (reported in the table, run goes on)
                result.errors.append(f"filter {f.label}: {type(exc).__name__}: "
                                     f"{str(exc).splitlines()[0]}")
    finally:
        context.close()


# ------------------------------------------------------------------ references
_BUILD = textwrap.dedent("""
    import json, os, sys, time
    from evaluation.serve import build_page
    from evaluation.views import layout
    from evaluation.views.pages import page
    layout.configure_offline()
    page(sys.argv[1]).load_factory()   # imports are not part of the build time
    t0 = time.perf_counter()
    build_page(sys.argv[1], sys.argv[2])
    print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
    os._exit(0)   # background workers of a page must not keep this process alive
""")


def reference_build(path: str, db: Path) -> float | None:
    """The page built without a browser in a fresh process (caches empty): its raw compute."""
    run = subprocess.run([sys.executable, "-c", _BUILD, path, str(db)], capture_output=True,
                         text=True, timeout=1200, check=False)
    for line in reversed(run.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)["seconds"]
    print(f"  reference build of {path} failed: {run.stderr.strip()[-300:]}")
    return None


def _alarm_views_pandas(alarms, system_id=None) -> dict:
    """The /alarms page's main views, the straightforward way in pandas (reference only)."""
    a = alarms if system_id is None else alarms[alarms.system_id == system_id]
    load = a.set_index("raised_at").resample("1h").size()
    counts = a.groupby("definition").size().sort_values(ascending=False)
    pareto = (counts.cumsum() / counts.sum()).head(20)
    false = a[a.close_reason == "false_alarm"]
    heat = false.groupby([false.definition, false.raised_at.dt.hour]).size().unstack(fill_value=0)
    handle_s = (a.handled_at - a.raised_at).dt.total_seconds()
    operators = handle_s.groupby(a.assigned_to).median()
    return {"load": len(load), "pareto": len(pareto), "heat": heat.shape, "ops": len(operators)}


def reference_alarms_pandas(db: Path) -> tuple[float, float, int]:
    """(seconds for the full views from the full table, seconds for one system's views, rows)."""
    import duckdb
    t0 = time.perf_counter()
    con = duckdb.connect(str(db), read_only=True)
    alarms = con.sql("SELECT * FROM alarms").df()
    con.close()
    _alarm_views_pandas(alarms)
    full = time.perf_counter() - t0
    system = alarms.system_id.mode().iat[0]
    t0 = time.perf_counter()
    _alarm_views_pandas(alarms, system)
    return full, time.perf_counter() - t0, len(alarms)


# ------------------------------------------------------------------ report
def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def _verdict(v: float | None, target: float) -> str:
    if v is None:
        return "n/a"
    return "met" if v < target else "MISSED"


def _cpu(pairs: list[tuple[float, float]] | tuple[float, float] | None) -> str:
    """'server + browser' CPU seconds (median of several)."""
    if not pairs:
        return "—"
    if isinstance(pairs, tuple):
        pairs = [pairs]
    return (f"{statistics.median(p[0] for p in pairs):.2f} + "
            f"{statistics.median(p[1] for p in pairs):.2f}")


def report(results: list[PageResult], pandas_ref: tuple | None) -> str:
    lines = [("first render (s): cold = first visit (new browser profile, first session after the "
              "server's warm-up), warm = median of "
              f"{WARM_VISITS} later visits; target < {FIRST_RENDER_TARGET_S:g} s; CPU = CPU "
              "seconds used meanwhile by the server + the browser"),
             (f"{'page':<13} {'cold':>7} {'warm':>7} {'server build (ref)':>19}  "
              f"{'cold CPU':>13} {'warm CPU':>13}  target (cold / warm)")]
    for r in results:
        warm = statistics.median(r.warm_s) if r.warm_s else None
        lines.append(f"{r.path:<13} {_fmt(r.cold_s):>7} {_fmt(warm):>7} "
                     f"{_fmt(r.reference_build_s):>19}  {_cpu(r.cold_cpu):>13} "
                     f"{_cpu(r.warm_cpu):>13}  "
                     f"{_verdict(r.cold_s, FIRST_RENDER_TARGET_S)} / "
                     f"{_verdict(warm, FIRST_RENDER_TARGET_S)}")
    lines += ["", ("filter response (s): new = first change to each value, repeat = the same "
                   f"values again (cached); target < {FILTER_TARGET_S:g} s"),
              (f"{'page':<13} {'filter':<28} {'new':>12} {'repeat':>7}  {'CPU (median)':>13}  "
               "target (new / repeat)")]
    for r in results:
        for label, times in r.filters.items():
            n_new = len(times) // 2
            new, rep = times[:n_new], times[n_new:]
            new_s = max(new) if new else None
            rep_s = statistics.median(rep) if rep else None
            lines.append(f"{r.path:<13} {label:<28} {' / '.join(f'{t:.2f}' for t in new):>12} "
                         f"{_fmt(rep_s):>7}  {_cpu(r.filter_cpu.get(label)):>13}  "
                         f"{_verdict(new_s, FILTER_TARGET_S)} / {_verdict(rep_s, FILTER_TARGET_S)}")
    if pandas_ref:
        full, one, rows = pandas_ref
        lines += ["", (f"reference /alarms in pandas from the full table ({rows:,} alarms): "
                       f"all views {full:.2f} s (read + compute), one system's views {one:.2f} s")]
    problems: dict[tuple[str, str], int] = {}
    for r in results:
        for e in r.errors + [f"external request {u}" for u in r.external]:
            problems[(r.path, e[:160])] = problems.get((r.path, e[:160]), 0) + 1
    if problems:
        lines += ["", "problems seen in the browser (page: what it was doing: message, times seen):"]
        lines += [f"  {p}: {e} (x{n})" for (p, e), n in problems.items()]
    return "\n".join(lines)


def main(scale: str = "full") -> None:
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} is absent (make browser installs Debian's Chromium)")
        return
    from playwright.sync_api import sync_playwright

    from evaluation.views.pages import PAGES

    workdir = Path(tempfile.mkdtemp(prefix="opeval-bench-dash-"))
    try:
        db, how = demo_database(scale, workdir)
        print(f"database: {db} ({how})", flush=True)
        print(f"machine: {os.cpu_count()} CPUs, load average {_load()} at the start", flush=True)
        only = [p.strip() for p in os.environ.get("OPEVAL_BENCH_PAGES", "").split(",") if p.strip()]
        results = [PageResult(p) for p in PAGES if not only or p in only]
        print("references: building each page without a browser (fresh process each)", flush=True)
        for r in results:
            r.reference_build_s = reference_build(r.path, db)
        pandas_ref = reference_alarms_pandas(db) if "/alarms" in PAGES else None
        server = Server(db, workdir / "serve.log")
        global METER
        METER = CpuMeter(server.proc.pid)
        try:
            up, ready, warm = server.wait()
            print(f"server up in {up:.1f} s at {server.url}; start-up warm-up done after "
                  f"{ready:.1f} s ({warm.get('pages')})", flush=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for r in results:
                    spec = SPECS.get(r.path) or PageSpec(r.path, GENERIC_READY,
                                                         note="generic readiness, no filter")
                    try:
                        measure_page(browser, server.url, spec, r)
                    except Exception as exc:  # noqa: BLE001 (one page failing must not hide the others)
                        r.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
                    print(f"  {r.path}: cold {_fmt(r.cold_s)} s, warm "
                          f"{', '.join(f'{t:.2f}' for t in r.warm_s)} s", flush=True)
                browser.close()
        finally:
            server.stop()
        print(report(results, pandas_ref), flush=True)
        print(f"load average {_load()} at the end (other work shares the CPUs)", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "small")
