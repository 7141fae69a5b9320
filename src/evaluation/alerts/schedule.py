"""The alerts' schedule inside the server: every few minutes, one run of the rules and the
digests that are due (the same calls as ``opeval alerts watch``).

``opeval serve --alerts-every MINUTES`` (default 15; 0: no schedule) starts it as a daemon
thread beside the pages, at a lower CPU priority than theirs. A failed tick (a locked
store, an unreadable delivery file) is logged and the next tick tries again; it never
stops the server.
"""
from __future__ import annotations

import logging
import os
import threading

from ..errors import OpevalError

log = logging.getLogger(__name__)
COMMAND = "opeval serve (alerts schedule)"


def tick(db_path: str | os.PathLike) -> list[str]:
    """One scheduled run: the rules (delivering what fired) and the due digests, with the
    delivery file beside the database; one line per thing done."""
    from .digest import send_due
    from .engine import run
    from .recipients import load
    delivery = load(db_path)
    result = run(db_path, delivery=delivery, command=COMMAND)
    return [f"alerts: {result.summary()}", *send_due(db_path, delivery)]


class Schedule:
    """A daemon thread calling :func:`tick` every ``every_s`` seconds until :meth:`stop`."""

    def __init__(self, db_path: str | os.PathLike, every_s: float) -> None:
        self.db_path = os.fspath(db_path)
        self.every_s = every_s
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="opeval-alerts", daemon=True)

    def _loop(self) -> None:
        from .engine import BACKGROUND_NICENESS, lower_priority
        lower_priority(BACKGROUND_NICENESS)    # the pages first (engine.after_load)
        while not self.done.wait(self.every_s):
            try:
                for line in tick(self.db_path):
                    log.info(line, extra={"event": "alerts"})
            except (OpevalError, OSError) as exc:
                log.warning("alerts schedule: %s", exc, extra={"event": "alerts"})
            except Exception:              # a bug must not stop the server: logged in full
                log.exception("alerts schedule failed", extra={"event": "alerts"})

    def start(self) -> Schedule:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.done.set()
