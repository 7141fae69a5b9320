"""Screenshots of every registered dashboard page, for docs/screenshots.

    .venv/bin/python tests/browser/shoot.py --db data/opeval.duckdb --out docs/screenshots

Starts ``opeval serve`` on the database, opens each page of the registry in
Debian's Chromium on a simulated closed network, fails (exit 1) if a page
asks for anything outside the server, logs a console error or shows a
traceback, and writes ``<slug or index>.png`` for each page.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _browser import CHROMIUM, CHROMIUM_ARGS, Watch, route_local_only

from evaluation.views.pages import PAGES

# Tall enough for the template's scrolling main area to show whole.
_CONTENT_HEIGHT = "() => Math.max(...Array.from(document.querySelectorAll('*'), e => e.scrollHeight))"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--out", default="docs/screenshots")
    ap.add_argument("--width", type=int, default=1400)
    args = ap.parse_args(argv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "evaluation.cli", "--db", args.db, "serve",
                               "--port", str(port)])
    base = f"http://127.0.0.1:{port}"
    failures = 0
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None:
                    return 1
                time.sleep(0.3)
        from playwright.sync_api import sync_playwright

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for entry in PAGES.values():
                context = browser.new_context(viewport={"width": args.width, "height": 900})
                route_local_only(context)
                page = context.new_page()
                watch = Watch()
                page.on("request", lambda r, w=watch: w.requests.append(r.url))
                page.on("console", lambda m, w=watch: m.type == "error"
                        and w.console_errors.append(m.text))
                page.on("pageerror", lambda e, w=watch: w.page_errors.append(str(e)))
                page.goto(base + entry.path, wait_until="networkidle")
                page.wait_for_timeout(1000)
                height = min(int(page.evaluate(_CONTENT_HEIGHT)) + 40, 6000)
                page.set_viewport_size({"width": args.width, "height": height})
                page.wait_for_timeout(500)
                target = out / f"{entry.slug or 'index'}.png"
                page.screenshot(path=str(target))
                try:
                    watch.assert_clean(page)
                    print(f"{entry.path}: {len(watch.requests)} requests, all local -> {target}")
                except AssertionError as exc:
                    failures += 1
                    print(f"{entry.path}: {exc}", file=sys.stderr)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
