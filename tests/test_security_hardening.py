"""Hardening of `opeval serve` (issue #14, items 4-6): login, cookies, headers, TLS, errors.

Servers run as child processes on loopback (tests/_serve_proc.py), with one user
per role of interest and the real login form. What was wrong, per the issue:
40 wrong passwords in 3.6 s and then the right one accepted; cookies without
SameSite or Secure; a logged-out cookie still opening `/`; no CSRF token on the
login form; any password accepted by `opeval users add`; no framing, sniffing or
referrer headers; no TLS; `/components/..%2f..` a 500 with a traceback; errors
naming paths, interpreters and PIDs; `/health` not noticing a damaged file.
"""
from __future__ import annotations

import json
import os
import re
import ssl
import sys
import time

import pytest

import _security_db
from _serve_proc import Client, add_users, password, start
from conftest import holding, self_signed
from evaluation.auth.sessions import LoginBackoff, Sessions

USERS = {"root": ("admin", []), "ocuser": ("oc", ["--oc", "OC01"])}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    db = _security_db.build(root / "db.duckdb", root / "in")
    add_users(db, root / "users.json", USERS)
    return db, root / "users.json"


@pytest.fixture(scope="module")
def server(planted):
    db, users = planted
    served = start(db, "--auth", "basic", "--users", str(users), "--behind-proxy")
    yield served
    served.stop()


def _cookies(headers) -> dict[str, str]:
    """Set-Cookie lines by cookie name."""
    return {line.split("=", 1)[0]: line for line in headers.get_all("Set-Cookie") or []}


# ------------------------------------------------------------------ item 4: login


def test_backoff_doubles_per_user_and_counts_per_address():
    """Worked by hand with a clock we move. Per user: 5 free failures, then refused for
    1 s, and after the next failure 2 s, then 4 s; whatever is tried meanwhile is refused
    without being counted. Success clears the user's count. Per address: 20 free
    failures, whichever user names they try; the 21st user from that address is refused."""
    now = [0.0]
    b = LoginBackoff(clock=lambda: now[0])
    for _ in range(4):
        b.failed("alice", "10.0.0.1")
    assert b.wait("alice", "10.0.0.1") == 0          # 4 failures: still free
    b.failed("alice", "10.0.0.1")                     # the 5th: 2**0 = 1 s
    assert b.wait("alice", "10.0.0.2") == pytest.approx(1.0)   # the user, from anywhere
    now[0] = 1.0
    assert b.wait("alice", "10.0.0.1") == 0
    b.failed("alice", "10.0.0.1")                     # the 6th: 2 s
    assert b.wait("alice", "10.0.0.1") == pytest.approx(2.0)
    now[0] = 3.0
    b.failed("alice", "10.0.0.1")                     # the 7th: 4 s
    assert b.wait("alice", "10.0.0.1") == pytest.approx(4.0)
    now[0] = 7.0
    b.succeeded("alice", "10.0.0.1")
    assert b.wait("alice", "10.0.0.3") == 0           # the user's count is cleared
    for i in range(20):                               # 7 + 13 = 20 from 10.0.0.1
        if i < 13:
            b.failed(f"user{i}", "10.0.0.1")
    assert b.wait("somebody", "10.0.0.1") == pytest.approx(1.0)   # address blocked 1 s
    assert b.wait("somebody", "10.0.0.9") == 0
    now[0] = 7.0 + 900.5                              # forgotten 15 min after the last one
    assert b.wait("somebody", "10.0.0.1") == 0


def test_forty_quick_wrong_passwords_then_the_right_one_is_refused(server):
    """The issue's case: 40 wrong passwords, then the right one, as fast as possible.
    The first 5 are answered as usual (302 back to the form); then the user is held back
    (429, Retry-After) and the right password is refused too until the wait is over;
    after it, the right password signs in."""
    c = Client(server.url)
    c.opener.addheaders = [("X-Forwarded-For", "192.0.2.40")]    # one attacker's address
    statuses = [c.submit_login("ocuser", f"guess-{i}")[0] for i in range(40)]
    assert statuses[:5] == [302] * 5 and statuses.count(429) >= 30
    # The right password must arrive while a wait is in force. On a loaded machine a
    # wait of 1 or 2 s can be over before the next request is even sent (the CI run of
    # a3790ec), so go on guessing until a wait of at least 3 s holds: each failure let
    # through doubles it (1, 2, 4 s…).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, headers, _ = c.submit_login("ocuser", "guess-again")
        if status == 429 and int(headers["Retry-After"]) >= 3:
            break
        time.sleep(0.1)
    status, headers, page = c.submit_login("ocuser", password("ocuser"))
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert "Too many failed sign-ins" in page
    time.sleep(int(headers["Retry-After"]) + 0.2)
    assert c.login("ocuser", password("ocuser")) == 302
    assert c.request("/outages")[0] == 200


def test_login_cookies_are_httponly_samesite_lax_and_secure_over_https(server):
    """Over plain HTTP on loopback: HttpOnly and SameSite=Lax, not Secure (the browser
    would never send it back). Through a TLS proxy (X-Forwarded-Proto: https, trusted
    with --behind-proxy): Secure as well."""
    c = Client(server.url)
    c.opener.addheaders = [("X-Forwarded-For", "192.0.2.41")]
    _, _, _ = c.request("/login")
    status, headers, _ = c.submit_login("root", password("root"))
    assert status == 302
    cookies = _cookies(headers)
    assert {"user", "opeval_session"} <= set(cookies)
    for line in cookies.values():
        assert "HttpOnly" in line and "SameSite=Lax" in line and "Secure" not in line
    proxied = Client(server.url)     # speaks HTTP to us, so the jar keeps Secure cookies back
    proxied.opener.addheaders = [("X-Forwarded-Proto", "https"),
                                 ("X-Forwarded-For", "192.0.2.42")]
    _, headers, page = proxied.request("/login")
    xsrf = _cookies(headers)["_xsrf"]
    token = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    proxied.opener.addheaders.append(("Cookie", xsrf.split(";")[0]))
    status, headers, _ = proxied.request("/login", {"username": "root", "_xsrf": token,
                                                    "password": password("root")})
    assert status == 302
    cookies = {**_cookies(headers), "_xsrf": xsrf}
    assert {"user", "opeval_session", "_xsrf"} <= set(cookies)
    for name, line in cookies.items():
        assert "Secure" in line and "HttpOnly" in line and "SameSite=Lax" in line, name


def test_logout_revokes_the_session_even_for_a_copied_cookie(server):
    """A copy of the cookies taken before logging out opened / afterwards (Panel's logout
    only asks the browser to forget them). Now the server closes the session: the copy
    is sent back to the login page."""
    c = Client(server.url)
    c.opener.addheaders = [("X-Forwarded-For", "192.0.2.43")]
    assert c.login("root", password("root")) == 302
    copied = c.cookie_header()
    assert c.request("/")[0] == 200
    assert c.request("/logout")[0] == 200
    thief = Client(server.url)
    thief.opener.addheaders = [("Cookie", copied)]
    status, headers, _ = thief.request("/")
    assert status == 302 and "/login" in headers["Location"]


def test_login_form_needs_its_xsrf_token(server):
    """A login posted from another site (no token from our form) is refused by Tornado's
    XSRF check (403) before any password is looked at."""
    c = Client(server.url)
    c.opener.addheaders = [("X-Forwarded-For", "192.0.2.44")]
    status, _, _ = c.submit_login("root", password("root"), xsrf=False)
    assert status == 403
    assert c.request("/")[0] == 302


@pytest.mark.parametrize("pw, why", [
    ("short-1!A", "shorter than 12"),
    ("abababababab", "fewer than 6 different"),
    ("my-alice-2024!", "user name"),
    ("Password2024!!", "common word"),
    ("qwertyuiop12", "keyboard run"),
    ("4815162342000000", "digits and signs only"),
])
def test_users_add_refuses_weak_passwords(run_cli, tmp_path, pw, why):
    users = tmp_path / "u.json"
    code, _, err = run_cli("users", "--users", users, "add", "alice", "--role", "analyst",
                           "--password-stdin", stdin=pw)
    assert code == 1 and why in err and err.count("\n") == 1
    assert not users.exists()
    code, _, err = run_cli("users", "--users", users, "add", "alice", "--role", "analyst",
                           "--password-stdin", stdin="correct horse battery")
    assert code == 0, err


# ------------------------------------------------------------------ item 5: headers, TLS


@pytest.mark.parametrize("path", ["/login", "/health", "/logout", "/no-such-page",
                                  "/static/js/bokeh.min.js"])
def test_every_response_carries_the_security_headers(server, path):
    _, headers, _ = Client(server.url).request(path)
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers          # plain HTTP


def test_auth_beyond_loopback_needs_tls_or_insecure(run_cli, planted, monkeypatch):
    """`--auth` on a non-loopback address without TLS is refused (one line saying why and
    what to do); `--insecure` lets it start with a warning. The server is not started for
    real here (tests bind loopback only): Panel's serve is replaced by a recorder."""
    import panel as pn

    db, users = planted
    code, _, err = run_cli("--db", db, "serve", "--auth", "basic", "--users", users,
                           "--address", "0.0.0.0")
    assert code == 1 and err.count("\n") == 1
    assert "without TLS" in err and "--tls-cert" in err and "--insecure" in err
    seen = {}
    monkeypatch.setattr(pn, "serve", lambda apps, **kw: seen.update(kw))
    code, _, err = run_cli("--db", db, "serve", "--auth", "basic", "--users", users,
                           "--address", "0.0.0.0", "--insecure")
    assert code == 0 and "WITHOUT TLS" in err
    assert seen["xsrf_cookies"] is True and seen["address"] == "0.0.0.0"
    assert "ssl_certfile" not in seen


def test_tls_serves_https_with_secure_cookies_and_hsts(planted, tmp_path, run_cli):
    db, users = planted
    cert, key = self_signed(tmp_path)
    code, _, err = run_cli("--db", db, "serve", "--tls-cert", cert, "--tls-key", db)
    assert code == 1 and "cannot use them" in err and err.count("\n") == 1
    served = start(db, "--auth", "basic", "--users", str(users), "--tls-cert", str(cert),
                   "--tls-key", str(key), ssl_context=ssl.create_default_context(cafile=str(cert)))
    try:
        c = Client(served.url, ssl.create_default_context(cafile=str(cert)))
        status, headers, _ = c.submit_login("root", password("root"))
        assert status == 302
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        for name, line in _cookies(headers).items():
            assert "Secure" in line and "HttpOnly" in line and "SameSite=Lax" in line, name
        assert c.request("/")[0] == 200
        with pytest.raises(OSError):              # plain HTTP is not spoken on that port
            Client(served.url.replace("https", "http")).request("/health")
    finally:
        served.stop()


# ------------------------------------------------------------------ item 6: errors, health


@pytest.mark.parametrize("path", ["/components/..%2f..", "/components/..%2f..%2fetc%2fpasswd",
                                  "/components/%2e%2e/%2e%2e/x/y", "/components/antigravity/a/b/c"])
def test_component_paths_outside_panel_are_404_without_a_traceback(server, path):
    """Panel imported the module named in the URL: "..%2f..%2fetc" raised a TypeError
    (500, a traceback in the log) and any installed module ("antigravity") could be
    imported by anyone. Now: 404, nothing imported, nothing logged as an error."""
    before = len(server.log_lines())
    status, _, body = Client(server.url).request(path)
    assert status == 404 and "Traceback" not in body
    new = server.log_lines()[before:]
    assert not [ln for ln in new if "Traceback" in ln or "Uncaught exception" in ln], new


def test_a_locked_database_is_shown_without_path_interpreter_or_pid(tmp_path, monkeypatch):
    """Another program (a notebook, not an opeval writer) holds the file for writing: every
    page, the evaluation's background job and /health say the database cannot be read,
    naming no path, interpreter or process; the operator's log keeps the detail."""
    from evaluation.auth.server import health
    from evaluation.serve import build_page
    from evaluation.store import db as store_db
    from evaluation.views import evaluation_state
    from evaluation.views.pages import PAGES
    from test_security_access import _served

    path = _security_db.build(tmp_path / "db.duckdb", tmp_path / "in")
    monkeypatch.setenv(store_db.LOCK_WAIT_ENV, "0.3")
    with holding(path) as holder:
        (content,) = build_page("/data", path).main.objects
        shown = {p: _served(build_page(p, path))[0] for p in PAGES}
        status, body = health(str(path))
        job = evaluation_state._run(str(path), __import__("datetime").date(2024, 4, 1), 365)
    assert "being written by another program" in content.object and status == 503
    assert "being written by another program" in job.error
    shown.update(health=json.dumps(body), job=job.error)
    for where, text in shown.items():
        assert str(tmp_path) not in text and f"PID {holder.pid}" not in text, where
        assert sys.executable not in text and "python3" not in text, where


def test_health_reads_the_file_each_time_and_notices_damage(tmp_path):
    """/health answered from a cache keyed on the file's size and time: a file damaged
    in place with both kept the same still said "ok". Now every call opens the file;
    bytes overwritten in its header block (offset 100) give 503 and a reason without
    the path."""
    from evaluation.auth.server import health

    path = _security_db.build(tmp_path / "db.duckdb", tmp_path / "in")
    assert health(str(path))[0] == 200
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff" * 64)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    status, body = health(str(path))
    assert status == 503 and body["status"] == "error" and body["database_readable"] is False
    assert str(tmp_path) not in body["error"]


def test_sessions_close_and_expire():
    now = [0.0]
    s = Sessions(lifetime_s=10, clock=lambda: now[0])
    a, b = s.open("alice"), s.open("alice")
    assert a != b and s.user(a) == s.user(b) == "alice"
    s.close(a)
    assert s.user(a) is None and s.user(b) == "alice"
    now[0] = 10.0
    assert s.user(b) is None and s.user(None) is None and s.user("forged") is None
