"""Panel/Bokeh hooks of ``opeval serve``: login, authorisation, ``/health``, structured logs.

* **Basic auth with hashed passwords.** Panel's own basic auth compares plain
  passwords (``--basic-auth`` / ``pn.config.basic_auth``). :class:`HashedBasicAuthProvider`
  is Panel's :class:`~panel.auth.BasicAuthProvider` (same login and logout pages,
  same signed ``user`` cookie) whose login handler checks the users file's scrypt
  hashes instead (:mod:`evaluation.auth.credentials`).
* **OAuth.** ``--oauth-provider NAME`` hands login to Panel's OAuth support; the
  client key, secret, redirect URI and cookie encryption key come from Panel's
  own environment variables (``PANEL_OAUTH_KEY``, ``PANEL_OAUTH_SECRET``,
  ``PANEL_OAUTH_REDIRECT_URI``, ``PANEL_OAUTH_ENCRYPTION``; docs/security.md).
  The name the provider returns is looked up in the users file for its role.
* **Authorisation.** :meth:`Access.authorize` is Panel's ``authorize_callback``:
  a user with no role, or a page the role may not open, gets HTTP 403 before
  any session is built.
* **/health** (:class:`HealthHandler`): JSON status, schema version, whether the
  database can be read, row counts; 200 when readable, 503 otherwise.
* **Logs** (:func:`configure_logging`): with ``--log-format json`` every line on
  stderr is one JSON object — one per HTTP request (``event: request``), per
  page session created/destroyed, per error.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import sys
from pathlib import Path

import tornado.escape
import tornado.web

from ..errors import OpevalError, public_message
from ..store.schema import SCHEMA_VERSION
from .credentials import UsersCache
from .roles import LOCAL_ADMIN, Principal
from .scope import ScopedStores
from .sessions import SESSION_COOKIE, LoginBackoff, Sessions

log = logging.getLogger("evaluation.serve")

AUTH_MODES = ("none", "basic", "oauth")
# opeval's own login, logout and error pages: no CDN logo, no web font (closed networks),
# and every value HTML-escaped (Panel's default login page echoes ``?error=`` as markup).
_TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATES = {"login_template": str(_TEMPLATE_DIR / "login.html"),
             "logout_template": str(_TEMPLATE_DIR / "logout.html"),
             "error_template": str(_TEMPLATE_DIR / "error.html")}
OAUTH_ENV = {
    "oauth_key": "PANEL_OAUTH_KEY",
    "oauth_secret": "PANEL_OAUTH_SECRET",
    "oauth_redirect_uri": "PANEL_OAUTH_REDIRECT_URI",
    "oauth_encryption_key": "PANEL_OAUTH_ENCRYPTION",
}


class Access:
    """Who may use this server and what they see: the users file + the per-scope stores."""

    def __init__(self, db_path: str | os.PathLike, mode: str = "none",
                 users_file: str | os.PathLike | None = None,
                 scopes: ScopedStores | None = None):
        if mode not in AUTH_MODES:
            raise OpevalError(f"unknown --auth {mode!r}; expected one of {', '.join(AUTH_MODES)}")
        self.db_path = os.fspath(db_path)
        self.mode = mode
        self.users = UsersCache(users_file) if mode != "none" else None
        if self.users is not None:
            users = self.users.get()  # fails now, with a clear message, if the file is bad
            if mode == "basic" and not any("password" in e for e in users.entries.values()):
                raise OpevalError(f"users file {users_file}: no user has a password "
                                  "(add one with `opeval users add NAME --role ROLE`)")
        self.scopes = scopes or ScopedStores(self.db_path)
        from panel.config import config
        self.sessions = Sessions(lifetime_s=float(config.oauth_expiry) * 86_400)
        self.backoff = LoginBackoff()

    def principal(self, user: str | None) -> Principal | None:
        """The principal of a logged-in user name (None: unknown user, no access)."""
        if self.users is None:
            return LOCAL_ADMIN
        if not user:
            return None
        try:
            return self.users.get().principal(user)
        except OpevalError as exc:
            log.error("users file: %s", exc)
            return None

    def current(self) -> Principal | None:
        """The principal of the session being built (from Panel's signed user cookie)."""
        if self.users is None:
            return LOCAL_ADMIN
        import panel as pn
        return self.principal(pn.state.user)

    def authorize(self, user_info, path: str) -> bool:
        """Panel ``authorize_callback``: False (-> 403) for no role or a page the role may not open."""
        who = self.current()
        allowed = who is not None and who.may_open(path)
        if not allowed:
            import panel as pn
            log.warning("forbidden", extra={"event": "forbidden", "path": path,
                                            "user": pn.state.user})
        return allowed

    def close(self) -> None:
        self.scopes.close()


class _XsrfTemplate:
    """The login template rendered with this request's XSRF token (Tornado's ``_xsrf``)."""

    def __init__(self, template, token: str):
        self.template, self.token = template, token

    def render(self, **values):
        return self.template.render(xsrf_token=self.token, **values)


def _session_user(handler, sessions: Sessions) -> str | None:
    from panel.config import config

    sid = handler.get_secure_cookie(SESSION_COOKIE, max_age_days=config.oauth_expiry)
    return sessions.user(sid.decode("ascii", "replace") if sid else None)


def _sessions_mixin(sessions: Sessions):
    """Login handlers: the ``user`` cookie Panel sets comes with an opened server-side
    session (:mod:`.sessions`), whichever way the user logged in."""
    class OpensSession:
        def set_secure_cookie(self, name, value, *args, **kwargs):
            super().set_secure_cookie(name, value, *args, **kwargs)
            if name == "user":
                user = value.decode() if isinstance(value, bytes) else str(value)
                super().set_secure_cookie(SESSION_COOKIE, sessions.open(user), *args, **kwargs)
    return OpensSession


def _logout_handler(base, sessions: Sessions):
    """Panel's logout handler that also closes the server-side session."""
    class Logout(base):
        def get(self):
            sid = self.get_secure_cookie(SESSION_COOKIE)
            sessions.close(sid.decode("ascii", "replace") if sid else None)
            self.clear_cookie(SESSION_COOKIE)
            log.info("logout", extra={"event": "logout"})
            super().get()
    return Logout


def hashed_login_handler(access: Access):
    """Panel's :class:`~panel.auth.BasicLoginHandler` checking the users file's hashes,
    with an XSRF token in its form, back-off after failed logins
    (:class:`.sessions.LoginBackoff`) and a server-side session per login."""
    from panel.auth import BasicLoginHandler

    class HashedLoginHandler(_sessions_mixin(access.sessions), BasicLoginHandler):
        def get(self):
            self._login_template = _XsrfTemplate(type(self)._login_template,
                                                 self.xsrf_token.decode("ascii"))
            super().get()

        def post(self):
            user, address = self.get_argument("username", ""), self.request.remote_ip
            wait = access.backoff.wait(user, address)
            if wait > 0:
                log.warning("login refused: too many failures",
                            extra={"event": "login", "user": user, "accepted": False,
                                   "throttled": True})
                self.set_status(429)
                self.set_header("Retry-After", str(math.ceil(wait)))
                self._login_template = _XsrfTemplate(type(self)._login_template,
                                                     self.xsrf_token.decode("ascii"))
                self.write(self._login_template.render(
                    login_endpoint=self._login_endpoint, PANEL_CDN="",
                    errormessage=f"Too many failed sign-ins: try again in {math.ceil(wait)} s."))
                return
            super().post()

        def _validate(self, username, password):
            try:
                ok = access.users.get().verify(username, password) is not None
            except OpevalError as exc:
                log.error("users file: %s", exc)
                ok = False
            (access.backoff.succeeded if ok else access.backoff.failed)(
                username, self.request.remote_ip)
            log.info("login %s", "accepted" if ok else "refused",
                     extra={"event": "login", "user": username, "accepted": ok})
            return ok

    return HashedLoginHandler


def _checks_sessions(provider_class, access: Access):
    """A Panel auth provider whose users are signed in only while their session is open."""
    class Provider(provider_class):
        @property
        def get_user(self):
            inner = super().get_user
            if inner is None:
                return None

            def get_user(handler):
                user = _session_user(handler, access.sessions)
                return user if user is not None and inner(handler) == user else None
            return get_user

        @property
        def get_user_async(self):
            inner = super().get_user_async
            if inner is None:
                return None

            async def get_user(handler):
                user = _session_user(handler, access.sessions)
                return user if user is not None and await inner(handler) == user else None
            return get_user

        @property
        def logout_handler(self):
            return _logout_handler(super().logout_handler, access.sessions)

    return Provider


def hashed_basic_auth_provider(access: Access):
    from panel.auth import BasicAuthProvider

    class HashedBasicAuthProvider(_checks_sessions(BasicAuthProvider, access)):
        @property
        def login_handler(self):
            handler = hashed_login_handler(access)
            handler._login_endpoint = self._login_endpoint
            handler._login_template = self._login_template
            return handler

    return HashedBasicAuthProvider(**TEMPLATES)


def oauth_provider_with_sessions(access: Access):
    """Panel's OAuth provider (the one named by ``panel.config.oauth_provider``) with
    server-side sessions: logging out closes the session."""
    from panel.auth import OAuthProvider

    class SessionOAuthProvider(_checks_sessions(OAuthProvider, access)):
        @property
        def login_handler(self):
            base = super().login_handler
            return type(base.__name__, (_sessions_mixin(access.sessions), base), {})

    return SessionOAuthProvider(logout_template=TEMPLATES["logout_template"],
                                error_template=TEMPLATES["error_template"])


def auth_options(access: Access, oauth_provider: str | None = None,
                 environ: dict | None = None) -> dict:
    """Keyword arguments for ``pn.serve`` that set up ``access.mode`` (none, basic, oauth)."""
    env = os.environ if environ is None else environ
    if access.mode == "none":
        return {}
    opts: dict = {"cookie_secret": env.get("PANEL_COOKIE_SECRET") or os.urandom(32).hex()}
    if access.mode == "basic":
        opts["auth_provider"] = hashed_basic_auth_provider(access)
    else:
        provider = oauth_provider or env.get("PANEL_OAUTH_PROVIDER")
        if not provider:
            raise OpevalError("--auth oauth needs --oauth-provider NAME (or PANEL_OAUTH_PROVIDER)")
        opts["oauth_provider"] = provider
        opts["logout_template"] = TEMPLATES["logout_template"]
        opts["oauth_error_template"] = TEMPLATES["error_template"]
        for option, var in OAUTH_ENV.items():
            if env.get(var):
                opts[option] = env[var]
        missing = [OAUTH_ENV[o] for o in ("oauth_key", "oauth_secret") if o not in opts]
        if missing:
            raise OpevalError("OAuth needs the client key and secret: set " + " and ".join(missing))
        if "oauth_encryption_key" in opts:
            opts["oauth_encryption_key"] = opts["oauth_encryption_key"].encode()
        extra = env.get("PANEL_OAUTH_EXTRA_PARAMS")
        if extra:
            try:
                opts["oauth_extra_params"] = json.loads(extra)
            except ValueError:
                raise OpevalError("PANEL_OAUTH_EXTRA_PARAMS: not a JSON object") from None
    return opts


# ------------------------------------------------------------------ /health


_last_rows: dict[str, tuple[str, dict]] = {}   # db path -> (when, rows) of the last good read


def health(db_path: str) -> tuple[int, dict]:
    """(HTTP status, body) of the health check: can the database be read, and what it holds.

    Every call opens the file (read-only) and reads the schema version and the row
    count of every table — a few milliseconds, no cache — so a damaged or replaced
    file shows at the next call. While an opeval writer is at work the status is
    ``loading`` (200) with what it does; while it applies its transaction the file
    is not opened (nobody may) and ``rows`` are those of the last read, as of
    ``rows_as_of``. Errors say nothing of paths or processes: ``/health`` is open.
    """
    import duckdb

    from ..store import db, turns
    from ..store.schema import LOAD_ORDER
    from ..views.queries import BOOKKEEPING

    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    body: dict = {"status": "ok", "database": Path(db_path).name, "database_readable": False,
                  "schema_version": None, "expected_schema_version": SCHEMA_VERSION,
                  "time": now}
    writer = turns.status(db_path)
    if writer is not None:
        body.update(status="loading", load=writer.public())
        if writer.phase == turns.APPLYING:
            when, rows = _last_rows.get(db_path, (None, None))
            body.update(database_readable=None, rows=rows, rows_as_of=when)
            return 200, body
    try:
        con = db.connect(db_path, read_only=True)
        try:
            body["schema_version"] = int(con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
            names = LOAD_ORDER + BOOKKEEPING
            counts = con.execute(" UNION ALL ".join(
                f"SELECT {i}, '{n}', count(*) FROM \"{n}\"" for i, n in enumerate(names))
                + " ORDER BY 1").fetchall()
        finally:
            con.close()
    except (OpevalError, duckdb.Error) as exc:
        log.error("health: %s", exc)
        body.update(status="error", error=public_message(exc))
        return 503, body
    body["database_readable"] = True
    body["rows"] = {str(t): int(n) for _, t, n in counts}
    _last_rows[db_path] = (now, body["rows"])
    return 200, body


class HealthHandler(tornado.web.RequestHandler):
    """``/health``: :func:`health`, plus the start-up warm-up's state when the server
    gives one (``warm_up``: ``warming`` or ``ready``, seconds, per page)."""

    def initialize(self, db_path: str, warm_up=None):
        self.db_path = db_path
        self.warm_up = warm_up

    def get(self):
        status, body = health(self.db_path)
        if self.warm_up is not None:
            body["warm_up"] = self.warm_up()
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.write(json.dumps(body))


# ------------------------------------------------------------------ logs

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, event fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC)
               .isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name,
               "message": record.getMessage()}
        if record.name == "tornado.access" and isinstance(record.args, tuple) and len(record.args) == 3:
            status, summary, ms = record.args
            method, _, rest = str(summary).partition(" ")
            out.update(event="request", status=int(status), method=method,
                       path=rest.rsplit(" (", 1)[0], duration_ms=round(float(ms), 2))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out.setdefault("event", "error")
            out["error"] = self.formatException(record.exc_info)
        elif record.levelno >= logging.ERROR:
            out.setdefault("event", "error")
        return json.dumps(out, default=str)


def configure_logging(fmt: str = "text") -> None:
    """Send opeval's, Bokeh's and Tornado's logs to stderr as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in ("tornado.access", "tornado.application", "tornado.general", "bokeh", "evaluation"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.INFO)
    # Bokeh's per-connection chatter is not a request: keep warnings and errors only.
    logging.getLogger("bokeh.server").setLevel(logging.WARNING)


def log_sessions() -> None:
    """One log line per page session created and destroyed (Panel's session hooks)."""
    import panel as pn

    def created(ctx):
        req = getattr(ctx, "request", None)
        log.info("session created", extra={"event": "session_created", "session": ctx.id,
                                           "path": getattr(req, "path", None),
                                           "user": pn.state.user})

    def destroyed(ctx):
        log.info("session destroyed", extra={"event": "session_destroyed", "session": ctx.id})

    pn.state.on_session_created(created)
    pn.state.on_session_destroyed(destroyed)


def quote(text: str) -> str:
    return tornado.escape.xhtml_escape(text)
