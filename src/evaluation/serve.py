"""Build and run the dashboard server: one Panel server, one page per registered path.

:func:`build_page` makes one page (template + content) for a session; it is
what ``opeval serve`` runs for each request and what the thin entry files in
``dashboards/`` call, so ``panel serve dashboards/data.py`` shows the same page.
"""
from __future__ import annotations

import html
import logging
import os
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from .config import default_db
from .errors import OpevalError, public_message
from .store import turns
from .store.db import StoreError
from .views.pages import PAGES, page
from .views.queries import ReadOnlyStore

log = logging.getLogger(__name__)


def check_database(db_path: str | Path) -> ReadOnlyStore:
    """A store on ``db_path``; :class:`StoreError` (one line) if it cannot be read."""
    store = ReadOnlyStore(db_path)
    store.check()
    return store


def build_page(path: str, db_path: str | Path | None = None, access=None):
    """The page registered at ``path`` inside the common template, for one session.

    With ``access`` (``opeval serve --auth``) the page is built for the logged-in
    principal: a page its role may not open shows only a refusal (the server
    already answered 403), and the content reads the principal's scoped database
    (:mod:`evaluation.auth.scope`), so every query of the page is restricted.
    While a load runs, the page shows the last committed data and says so
    (:func:`load_notice`); a database that cannot be read at this moment gives a
    page that says so in words anyone may read (no path, no process id), never a
    traceback.
    """
    import duckdb

    from .auth.roles import LOCAL_ADMIN, reset_current_principal, set_current_principal
    from .views import layout

    layout.configure_offline()
    db_path = os.fspath(db_path) if db_path is not None else default_db()
    entry = page(path)
    who = access.current() if access is not None else LOCAL_ADMIN
    token = set_current_principal(who)
    try:
        if who is None or not who.may_open(entry.path):
            content = layout.error("You are not allowed to open this page (403).")
        else:
            try:
                data_path = access.scopes.path_for(who) if access is not None else db_path
                store = ReadOnlyStore(data_path, principal=who, source=db_path)
                with store.session():
                    content = entry.load_factory()(store)
            except (OpevalError, duckdb.Error) as exc:
                log.warning("page %s: %s", entry.path, exc)
                content = layout.error(f"Cannot show this page: "
                                       f"{html.escape(public_message(exc))}")
        # The file's name only: where it lives is the operator's business, not the page's.
        return layout.page_template(entry.path, content, Path(db_path).name,
                                    load_notice(db_path))
    finally:
        reset_current_principal(token)


def load_notice(db_path: str | Path) -> str | None:
    """What a page built while a load runs says about it (None when no load runs)."""
    writer = turns.status(db_path)
    if writer is None:
        return None
    return (f"A data load ({writer.what}) is running: this page shows the data of the last "
            "completed load. Reload the page once the load is done to see the new data.")


def make_apps(db_path: str | Path, access=None) -> dict[str, object]:
    """URL path -> session factory for every registered page."""
    db_path = os.fspath(db_path)

    def factory(path: str):
        return lambda: build_page(path, db_path, access)

    return {p.path: factory(p.path) for p in PAGES.values()}


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_tls(cert: str | None, key: str | None) -> bool:
    """Whether to serve HTTPS; a certificate and key that cannot be used are a one-line
    error now rather than a traceback at the first connection."""
    if cert is None and key is None:
        return False
    if cert is None or key is None:
        raise OpevalError("--tls-cert and --tls-key go together")
    import ssl
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise OpevalError(f"--tls-cert {cert} / --tls-key {key}: cannot use them "
                          f"({exc.strerror or exc})") from None
    return True


class WarmUp:
    """The server's start-up warm-up: each page's module imported (its plotting
    libraries) and its ``warm`` function run, one page after the other, in a
    background thread. ``/health`` reports it (:meth:`as_dict`)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.finished: float | None = None
        self.pages: dict[str, str] = {}
        self._thread: threading.Thread | None = None

    def run(self, db_path: str) -> None:
        for entry in PAGES.values():
            self.pages[entry.path] = "running"
            try:
                entry.load_factory()
                warm = entry.load_warm()
                result = warm(db_path) if warm is not None else None
                if isinstance(result, Future):
                    result.result()
                self.pages[entry.path] = "ok"
            except Exception as exc:  # noqa: BLE001 - warming is best effort, the page still works
                self.pages[entry.path] = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                log.warning("could not warm %s: %s", entry.path, exc)
        self.finished = time.monotonic()

    def start(self, db_path: str) -> WarmUp:
        self._thread = threading.Thread(target=self.run, args=(db_path,), name="opeval-warm-up",
                                        daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the warm-up has finished (True) or ``timeout`` seconds (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished is not None

    def as_dict(self) -> dict:
        end = self.finished if self.finished is not None else time.monotonic()
        return {"state": "ready" if self.finished is not None else "warming",
                "seconds": round(end - self.started, 2), "pages": dict(self.pages)}


def warm_pages(db_path: str | Path) -> WarmUp:
    """Start the warm-up of every page in the background, so that the first visitor of
    a page finds its expensive first computation (and its imports) done; a failure
    only costs that head start. Returns the warm-up's status."""
    return WarmUp().start(os.fspath(db_path))


def serve(db_path: str | Path, port: int = 5006, address: str = "127.0.0.1",
          show: bool = False, allow_origins: list[str] | None = None, auth: str = "none",
          users_file: str | Path | None = None, oauth_provider: str | None = None,
          log_format: str = "text", allow_unauthenticated: bool = False,
          session_lifetime_ms: int = 15_000, check_sessions_ms: int = 5_000,
          tls_cert: str | None = None, tls_key: str | None = None, insecure: bool = False,
          behind_proxy: bool = False, alerts_every_s: float = 0.0) -> None:
    """Serve every registered page until interrupted; StoreError first if the db is unusable.

    ``auth`` is ``none`` (open: only on a loopback address unless
    ``allow_unauthenticated``), ``basic`` (users file with hashed passwords) or
    ``oauth`` (Panel's OAuth provider ``oauth_provider``); see docs/security.md.
    With ``tls_cert``/``tls_key`` the server speaks HTTPS; ``--auth`` beyond
    loopback needs it (or a TLS proxy in front on this machine) unless ``insecure``.
    ``behind_proxy`` trusts the proxy's ``X-Forwarded-For``/``X-Forwarded-Proto``.
    With ``alerts_every_s`` > 0 the alert rules and due digests run on that schedule
    (:mod:`evaluation.alerts.schedule`).
    Sessions whose browser went away are destroyed after ``session_lifetime_ms``.
    """
    from .auth import hardening
    from .auth import server as auth_server
    from .auth.credentials import default_users_file

    if not Path(db_path).exists():
        raise StoreError(f"database {db_path} does not exist (build it with `opeval demo` "
                         f"or load data with `opeval ingest`)")
    check_database(db_path)
    tls = check_tls(tls_cert, tls_key)
    if auth == "none" and address not in LOOPBACK:
        if not allow_unauthenticated:
            raise OpevalError(f"refusing to serve on {address} without authentication: anyone "
                              "who reaches this address would read every record; use --auth "
                              "basic|oauth, or --allow-unauthenticated if the network is trusted")
        print(f"opeval: WARNING: serving WITHOUT AUTHENTICATION on {address}: everyone who "
              "can reach it reads every record", file=sys.stderr, flush=True)
    if auth != "none" and address not in LOOPBACK and not tls:
        if not insecure:
            raise OpevalError(f"refusing to serve --auth {auth} on {address} without TLS: "
                              "passwords and session cookies would cross the network in clear; "
                              "give --tls-cert and --tls-key, or serve on 127.0.0.1 behind a TLS "
                              "reverse proxy (docs/security.md), or --insecure if the network "
                              "is trusted")
        print(f"opeval: WARNING: --auth {auth} on {address} WITHOUT TLS: passwords and session "
              "cookies cross the network in clear", file=sys.stderr, flush=True)
    access = auth_server.Access(db_path, auth, users_file or default_users_file(db_path)
                                if auth != "none" else None)
    try:
        options = auth_server.auth_options(access, oauth_provider)
    except OpevalError:
        access.close()
        raise
    auth_server.configure_logging(log_format)
    os.environ["BOKEH_RESOURCES"] = "server"
    import panel as pn

    if auth != "none":
        pn.config.authorize_callback = access.authorize
        pn.config.auth_template = auth_server.TEMPLATES["error_template"]
    if "oauth_provider" in options:       # Panel's provider, with server-side sessions
        pn.config.oauth_provider = options.pop("oauth_provider")
        options["auth_provider"] = auth_server.oauth_provider_with_sessions(access)
    if tls:
        options.update(ssl_certfile=tls_cert, ssl_keyfile=tls_key)
    hardening.cookie_defaults()
    auth_server.log_sessions()
    warm_up = warm_pages(db_path)
    from .alerts.schedule import Schedule
    schedule = Schedule(db_path, alerts_every_s).start() if alerts_every_s > 0 else None
    origins = {f"localhost:{port}", f"127.0.0.1:{port}", f"{address}:{port}",
               *(allow_origins or [])}
    scheme = "https" if tls else "http"
    print(f"opeval: serving {db_path} at {scheme}://{address}:{port}/ — pages: "
          + ", ".join(PAGES) + f" — authentication: {auth}", flush=True)
    log.info("server started", extra={"event": "started", "port": port, "address": address,
                                      "auth": auth})
    try:
        pn.serve(make_apps(db_path, access if auth != "none" else None), port=port,
                 address=address, show=show, threaded=False,
                 title={p.path: f"opeval · {p.title}" for p in PAGES.values()},
                 websocket_origin=sorted(origins), print=False,
                 extra_patterns=[(r"/health", auth_server.HealthHandler,
                                  {"db_path": os.fspath(db_path),
                                   "warm_up": warm_up.as_dict}),
                                 (r"/components/(.*)", hardening.component_handler(), {})],
                 unused_session_lifetime_milliseconds=session_lifetime_ms,
                 check_unused_sessions_milliseconds=check_sessions_ms,
                 xsrf_cookies=True, transforms=[hardening.SecurityHeaders],
                 use_xheaders=behind_proxy, **options)
    finally:
        if schedule is not None:
            schedule.stop()
        access.close()
