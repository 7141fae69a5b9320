"""Operations of `opeval serve`: startup errors, the open-network guard, OAuth settings,
ingest while serving, many sessions, and killing the server.

Servers run as child processes on loopback (tests/_serve_proc.py).
"""
from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.parse

import duckdb
import pytest

import _security_db
from _serve_proc import Client, pull_document, start
from conftest import holding
from evaluation.auth import server as auth_server
from evaluation.auth.server import Access
from evaluation.errors import OpevalError
from evaluation.store import db


@pytest.fixture
def planted(tmp_path):
    return _security_db.build(tmp_path / "db.duckdb", tmp_path / "in")


# ------------------------------------------------------------------ startup errors


def test_missing_database_is_a_one_line_error(run_cli, tmp_path):
    code, _, err = run_cli("--db", str(tmp_path / "none.duckdb"), "serve")
    assert code == 1
    assert err.strip().count("\n") == 0 and "does not exist" in err


def test_newer_schema_is_a_one_line_error(run_cli, planted):
    con = duckdb.connect(str(planted))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    code, _, err = run_cli("--db", str(planted), "serve")
    assert code == 1 and "schema version 99" in err and err.strip().count("\n") == 0


def test_locked_database_is_a_one_line_error(run_cli, planted, monkeypatch):
    monkeypatch.setenv(db.LOCK_WAIT_ENV, "0.5")
    with holding(planted):
        code, _, err = run_cli("--db", str(planted), "serve")
    assert code == 1 and "cannot open database" in err and "lock" in err.lower()


def test_users_file_problems_stop_the_start(run_cli, planted, tmp_path):
    code, _, err = run_cli("--db", str(planted), "serve", "--auth", "basic",
                           "--users", str(tmp_path / "none.json"))
    assert code == 1 and "does not exist" in err and "opeval users add" in err
    f = tmp_path / "u.json"
    assert run_cli("users", "--users", str(f), "add", "ext", "--role", "analyst",
                   "--no-password")[0] == 0
    code, _, err = run_cli("--db", str(planted), "serve", "--auth", "basic", "--users", str(f))
    assert code == 1 and "no user has a password" in err
    f.write_text('{"format": "opeval-users", "version": 1, "users": {"x": {"role": "boss"}}}')
    code, _, err = run_cli("--db", str(planted), "serve", "--auth", "basic", "--users", str(f))
    assert code == 1 and "unknown role 'boss'" in err


def test_open_server_refuses_a_public_address(run_cli, planted):
    code, _, err = run_cli("--db", str(planted), "serve", "--address", "0.0.0.0")
    assert code == 1 and "without authentication" in err and "--auth" in err


# ------------------------------------------------------------------ OAuth settings


def test_oauth_options_come_from_panel_settings(tmp_path, planted):
    users = tmp_path / "u.json"
    users.write_text('{"format": "opeval-users", "version": 1, '
                     '"users": {"a@corp": {"role": "analyst"}}}')
    access = Access(planted, "oauth", users)
    try:
        env = {"PANEL_OAUTH_KEY": "client-id", "PANEL_OAUTH_SECRET": "client-secret",
               "PANEL_OAUTH_REDIRECT_URI": "https://opeval.example/login",
               "PANEL_OAUTH_ENCRYPTION": "k" * 32, "PANEL_COOKIE_SECRET": "cookie",
               "PANEL_OAUTH_EXTRA_PARAMS": '{"tenant": "t1"}'}
        opts = auth_server.auth_options(access, "azure", env)
        assert opts.pop("logout_template").endswith("logout.html")
        assert opts.pop("oauth_error_template").endswith("error.html")
        assert opts == {"oauth_provider": "azure", "oauth_key": "client-id",
                        "oauth_secret": "client-secret",
                        "oauth_redirect_uri": "https://opeval.example/login",
                        "oauth_encryption_key": b"k" * 32, "cookie_secret": "cookie",
                        "oauth_extra_params": {"tenant": "t1"}}
        with pytest.raises(OpevalError, match="PANEL_OAUTH_SECRET"):
            auth_server.auth_options(access, "azure", {"PANEL_OAUTH_KEY": "x"})
        with pytest.raises(OpevalError, match="--oauth-provider"):
            auth_server.auth_options(access, None, env)
        # The provider's user name gets its role from the users file; others get nothing.
        assert access.principal("a@corp").role == "analyst"
        assert access.principal("b@corp") is None
    finally:
        access.close()


def test_oauth_server_sends_the_browser_to_the_provider(planted, tmp_path):
    users = tmp_path / "u.json"
    users.write_text('{"format": "opeval-users", "version": 1, '
                     '"users": {"a@corp": {"role": "analyst"}}}')
    served = start(planted, "--oauth-provider", "generic", "--users", str(users), env={
        "PANEL_OAUTH_KEY": "opeval-client", "PANEL_OAUTH_SECRET": "s3",
        "PANEL_OAUTH_REDIRECT_URI": "http://127.0.0.1/login",
        "PANEL_OAUTH_AUTHORIZE_URL": "https://idp.invalid/authorize",
        "PANEL_OAUTH_TOKEN_URL": "https://idp.invalid/token",
        "PANEL_OAUTH_USER_URL": "https://idp.invalid/user",
        "PANEL_OAUTH_ENCRYPTION": "a" * 43 + "=", "PANEL_COOKIE_SECRET": "c"})
    try:
        c = Client(served.url)
        status, headers, _ = c.request("/alarms")
        assert status == 302 and "/login" in headers["Location"]
        status, headers, _ = c.request("/login")
        assert status == 302
        target = urllib.parse.urlparse(headers["Location"])
        query = urllib.parse.parse_qs(target.query)
        assert (target.netloc, target.path) == ("idp.invalid", "/authorize")
        assert query["client_id"] == ["opeval-client"]
        assert query["redirect_uri"] == ["http://127.0.0.1/login"]
    finally:
        served.stop()


# ------------------------------------------------------------------ concurrency


def _headline(doc: str) -> int:
    m = re.search(r"([\d,]+) input rows in", doc)
    return int(m.group(1).replace(",", ""))


def test_ingest_while_serving(planted, tmp_path):
    """Pages load continuously while `opeval ingest` writes; both succeed; a refresh shows it."""
    served = start(planted)
    try:
        before = _headline(pull_document(served.url, "/", Client(served.url).request("/")[2]))
        csv = tmp_path / "alarms_new.csv"
        csv.write_text("alarm_id,system_id,definition,resource_id,raised_at\n" + "".join(
            f"N{i},S1,door_forced,D1,2024-04-01 10:{i:02d}\n" for i in range(5)))
        stop = False
        statuses: list[int] = []

        def browse():
            while not stop:
                statuses.append(Client(served.url).request("/")[0])

        with cf.ThreadPoolExecutor(2) as pool:
            readers = [pool.submit(browse) for _ in range(2)]
            time.sleep(1.0)
            r = subprocess.run([sys.executable, "-m", "evaluation.cli", "--db", str(planted),
                                "ingest", "alarms", str(csv)], capture_output=True, check=False, text=True)
            time.sleep(1.0)
            stop = True
            for f in readers:
                f.result()
        assert r.returncode == 0, r.stderr
        assert statuses and set(statuses) == {200}
        after = _headline(pull_document(served.url, "/", Client(served.url).request("/")[2]))
        # 5 alarms more; the rest of the database is unchanged.
        assert after == before + 5
        status, _, body = Client(served.url).request("/health")
        assert status == 200 and json.loads(body)["rows"]["alarms"] == 3 + 5
    finally:
        served.stop()


BUSY_WORDS = ("Cannot show this page", "Cannot read the database", "being written",
              "Could not set lock", "Conflicting lock", "(PID", "Traceback")


@pytest.mark.slow
def test_every_page_answers_during_a_long_load_and_shows_its_rows_after(planted, tmp_path):
    """Issue #14, "Done when": serve the planted database, load 500 000 alarms into it
    (about 10 s reading and validating, then the apply) and keep requesting every page and
    /health meanwhile. Every request answers 200; every page's document (what a browser
    receives over the websocket) is free of lock errors, paths and PIDs; "/" shows the
    old or the new count and nothing else; /health says "loading" while the load runs;
    within 10 s of the load's end "/" and /health show 3 + 500 000 alarms."""
    from evaluation.views.pages import PAGES

    n = 500_000
    served = start(planted)
    try:
        deadline = time.monotonic() + 120
        while json.loads(Client(served.url).request("/health")[2])["warm_up"]["state"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        before = _headline(pull_document(served.url, "/", Client(served.url).request("/")[2]))
        csv = tmp_path / "big_alarms.csv"
        with csv.open("w") as fh:
            fh.write("alarm_id,system_id,definition,resource_id,priority,raised_at,comment\n")
            fh.writelines(f"B{i},S1,door_forced,D1,{1 + i % 5},2024-03-{1 + i % 28:02d} "
                          f"{i // 28 % 24:02d}:{i % 60:02d}:{i % 59:02d},bulk {i}\n" for i in range(n))
        load = subprocess.Popen([sys.executable, "-m", "evaluation.cli", "--db", str(planted),
                                 "ingest", "alarms", str(csv)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        statuses, headlines, health, problems = [], [], [], []

        def browse():       # what a browser gets: each page and its document, in turn
            paths = sorted(PAGES, key=lambda p: p in ("/", "/data"))   # the busiest pages first
            i = 0
            while load.poll() is None:
                path = paths[i % len(paths)]
                i += 1
                status, _, html = Client(served.url).request(path)
                statuses.append((path, status))
                if status == 200:
                    doc = pull_document(served.url, path, html)
                    problems.extend((path, w) for w in BUSY_WORDS if w in doc)
                    if path == "/":
                        headlines.append(_headline(doc))

        def monitor():      # a load balancer, polling on its own (a page can take seconds)
            while load.poll() is None:
                status, _, body = Client(served.url).request("/health")
                statuses.append(("/health", status))
                health.append(json.loads(body)["status"])
                time.sleep(0.25)

        def overview():     # the overview now and then
            while load.poll() is None:
                status, _, html = Client(served.url).request("/")
                statuses.append(("/", status))
                if status == 200:
                    doc = pull_document(served.url, "/", html)
                    problems.extend(("/", w) for w in BUSY_WORDS if w in doc)
                    headlines.append(_headline(doc))
                time.sleep(1.0)

        with cf.ThreadPoolExecutor(3) as pool:
            for f in [pool.submit(browse), pool.submit(monitor), pool.submit(overview)]:
                f.result()
        out, err = load.communicate()
        ended = time.monotonic()
        assert load.returncode == 0, err
        assert f"read {n}, accepted {n}" in out
        assert statuses and {s for _, s in statuses} == {200}, statuses
        assert not problems, problems
        assert {p for p, _ in statuses} >= set(PAGES)
        assert set(headlines) <= {before, before + n} and headlines
        assert "loading" in health
        while True:
            now = _headline(pull_document(served.url, "/", Client(served.url).request("/")[2]))
            if now == before + n:
                break
            assert time.monotonic() - ended < 10, now
            time.sleep(0.2)
        body = json.loads(Client(served.url).request("/health")[2])
        assert body["status"] == "ok" and body["rows"]["alarms"] == 3 + n
    finally:
        served.stop()


def test_many_sessions_stay_bounded(planted):
    """Rounds of 30 simultaneous page loads: no errors, sessions destroyed, memory levels off."""
    import psutil

    served = start(planted, "--session-lifetime", "1", "--log-format", "json")
    try:
        proc = psutil.Process(served.proc.pid)
        rss, loads = [], 0
        for _round in range(4):
            with cf.ThreadPoolExecutor(30) as pool:
                statuses = list(pool.map(lambda _: Client(served.url).request("/")[0], range(30)))
            loads += len(statuses)
            assert statuses == [200] * 30
            time.sleep(4)  # > session lifetime + check interval: unused sessions are gone
            rss.append(proc.memory_info().rss)
        events = [json.loads(ln).get("event") for ln in served.log_lines()]
        created, destroyed = events.count("session_created"), events.count("session_destroyed")
        assert created >= loads
        assert destroyed >= created - 30       # at most the last round may still be alive
        assert not [e for e in events if e == "error"]
        # The first round warms caches; afterwards memory must level off (leaking
        # 30 sessions a round would add tens of MB each round).
        growth = rss[-1] - rss[1]
        assert growth < 40 * 2**20, [r // 2**20 for r in rss]
    finally:
        served.stop()


# ------------------------------------------------------------------ crash safety


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.mark.parametrize("after_s", [0.0, 2.5])
def test_killing_the_server_leaves_the_database_untouched(planted, after_s):
    """The server only reads: SIGKILL at start-up or during page loads changes no byte."""
    before = _digest(planted)
    served = start(planted, wait_path="/health" if after_s else "/nowhere", timeout=120)
    try:
        with cf.ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(Client(served.url).request, "/")
            time.sleep(after_s)
            os.kill(served.proc.pid, signal.SIGKILL)
        served.proc.wait()
    finally:
        served.stop()
    assert _digest(planted) == before
    assert not os.path.exists(f"{planted}.wal")
    db.connect(planted).close()                   # opens for writing
    con = db.connect(planted, read_only=True)
    assert con.execute("SELECT count(*) FROM alarms").fetchone()[0] == 3
    con.close()


def test_json_log_lines_carry_errors_on_one_line():
    import logging

    formatter = auth_server.JsonFormatter()
    logger = logging.getLogger("evaluation.test")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = logger.makeRecord("evaluation.test", logging.ERROR, __file__, 1,
                                   "page %s failed", ("/alarms",), sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["event"] == "error" and data["message"] == "page /alarms failed"
    assert "RuntimeError: boom" in data["error"] and data["level"] == "error"
    access = logging.LogRecord("tornado.access", logging.INFO, __file__, 1, "%d %s %.2fms",
                               (200, "GET /data?x=1 (127.0.0.1)", 12.345), None)
    data = json.loads(formatter.format(access))
    assert (data["event"], data["status"], data["method"], data["path"], data["duration_ms"]) == (
        "request", 200, "GET", "/data?x=1", 12.35)


def test_a_load_waits_for_a_dashboard_query_to_finish(planted):
    """DuckDB gives one process the write lock: a writer retries while a reader holds the file."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        c = duckdb.connect({str(planted)!r}, read_only=True); print('ready', flush=True)
        time.sleep(1.5); c.close(); time.sleep(30)""")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(db.StoreError, match="lock"):
            db.connect(planted, wait=0)                 # no waiting: refused at once
        t0 = time.monotonic()
        db.connect(planted, wait=20).close()            # waits for the reader to go
        assert 0.3 < time.monotonic() - t0 < 20
    finally:
        holder.kill()
        holder.wait()
