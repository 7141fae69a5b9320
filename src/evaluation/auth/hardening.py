"""HTTP hardening of ``opeval serve``, whatever the page or handler: headers, cookies, paths.

* :class:`SecurityHeaders` — a Tornado output transform (``transforms=`` of the
  Tornado application, passed through Panel and Bokeh): every response says it
  may not be framed by another site (``X-Frame-Options: DENY``, CSP
  ``frame-ancestors 'none'``), that its type is not to be sniffed, to send no
  referrer outside this server, and, over HTTPS, to keep to HTTPS
  (``Strict-Transport-Security``). The CSP stops at framing, forms, ``<base>``
  and plugins: Bokeh and Panel run inline scripts, so no script policy here.
* :func:`cookie_defaults` — every cookie this server sets (Panel's login and
  OAuth cookies, opeval's session and XSRF cookies) is ``HttpOnly`` and
  ``SameSite=Lax``, and ``Secure`` when the request came over HTTPS (directly
  with ``--tls-cert``, or through a proxy that says so, ``--behind-proxy``).
  Tornado has no default cookie attributes; this wraps its ``set_cookie`` once,
  in the server process only.
* :class:`ComponentHandler` — Panel's ``/components/<module>/…`` handler imports
  the module named in the URL: ``/components/..%2f..`` made it raise (HTTP 500
  and a traceback in the log) and any installed module could be imported by
  anyone. Here only an already imported module with a plain dotted name is
  looked at; anything else is 404.
"""
from __future__ import annotations

import re
import sys

import tornado.web

HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; "
                               "object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"


class SecurityHeaders(tornado.web.OutputTransform):
    """Adds :data:`HEADERS` (and HSTS over HTTPS) to every response of the server."""

    def __init__(self, request):
        super().__init__(request)
        self._https = request.protocol == "https"

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        for name, value in HEADERS.items():
            headers.setdefault(name, value)
        if self._https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return status_code, headers, chunk


def cookie_defaults() -> None:
    """Make ``HttpOnly``, ``SameSite=Lax`` and (over HTTPS) ``Secure`` the defaults of every
    cookie set in this process (idempotent)."""
    original = tornado.web.RequestHandler.set_cookie
    if getattr(original, "opeval_defaults", False):
        return

    def set_cookie(self, name, value, *args, **kwargs):
        kwargs.setdefault("httponly", True)
        kwargs.setdefault("samesite", "Lax")
        if self.request.protocol == "https":
            kwargs.setdefault("secure", True)
        return original(self, name, value, *args, **kwargs)

    set_cookie.opeval_defaults = True
    tornado.web.RequestHandler.set_cookie = set_cookie


_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def component_handler():
    """Panel's component resource handler, refusing (404) a module that is not a plain
    dotted name already imported by the server."""
    from panel.io.server import ComponentResourceHandler

    class ComponentHandler(ComponentResourceHandler):
        def parse_url_path(self, path: str) -> str:
            module = path.split("/", 1)[0]
            if not _MODULE.fullmatch(module) or module not in sys.modules:
                raise tornado.web.HTTPError(404)
            return super().parse_url_path(path)

    return ComponentHandler
