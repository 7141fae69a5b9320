"""Who is signed in, and who is trying too hard: server-side sessions and login back-off.

* :class:`Sessions` — a login opens a session: a random id kept by the server and
  sent to the browser in a signed cookie beside Panel's ``user`` cookie. A request
  is signed in only when both agree and the session is open. Logging out closes it,
  so a copy of the cookies taken before the logout opens nothing (Panel's own
  logout only asks the browser to forget its cookie). Sessions live in the
  server's memory: a restart signs everyone out.
* :class:`LoginBackoff` — failed logins are counted per user name and per client
  address. After ``free`` failures in a row the key is refused for 1 s, then 2 s,
  4 s, … up to ``most`` seconds after each further failure, whatever password comes
  meanwhile (the right one too: otherwise guessing goes on at full speed). A
  success clears the user's count (not the address's: one good account must not
  reset the guessing of others); counts are forgotten ``forget`` seconds after the
  last failure. A user name is given fewer free tries (5) than an address (20),
  which many users may share behind one proxy or NAT.

No Panel or Tornado here; :mod:`.server` wires both into the login handlers.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "opeval_session"


class Sessions:
    """Open sessions: id -> (user, expiry as ``clock()`` seconds)."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic):
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._open: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, user: str) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            for old in [k for k, (_, until) in self._open.items() if until <= now]:
                del self._open[old]
            self._open[sid] = (user, now + self.lifetime_s)
        return sid

    def user(self, sid: str | None) -> str | None:
        """The user of open session ``sid`` (None: unknown, closed or expired)."""
        if not sid:
            return None
        with self._lock:
            entry = self._open.get(sid)
            if entry is None or entry[1] <= self._clock():
                self._open.pop(sid, None)
                return None
            return entry[0]

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._open.pop(sid or "", None)


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


class LoginBackoff:
    """Failed logins per key (``user:NAME``, ``addr:IP``) and the refusals they earn."""

    def __init__(self, free_per_user: int = 5, free_per_address: int = 20, most_s: float = 300.0,
                 forget_s: float = 900.0, keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.free = {"user": free_per_user, "addr": free_per_address}
        self.most_s, self.forget_s, self.keys = most_s, forget_s, keys
        self._clock = clock
        self._seen: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _keys(user: str, address: str) -> tuple[str, str]:
        return f"user:{user.strip().lower()}", f"addr:{address}"

    def _get(self, key: str, now: float) -> _Failures | None:
        f = self._seen.get(key)
        if f is not None and now - f.last > self.forget_s and now >= f.blocked_until:
            del self._seen[key]
            return None
        return f

    def wait(self, user: str, address: str) -> float:
        """Seconds this user, from this address, must still wait before a try (0: go)."""
        now = self._clock()
        with self._lock:
            waits = [f.blocked_until - now for k in self._keys(user, address)
                     if (f := self._get(k, now)) is not None]
        return max([0.0, *waits])

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            for key in self._keys(user, address):
                f = self._get(key, now) or _Failures()
                f.count += 1
                f.last = now
                extra = f.count - self.free[key.split(":", 1)[0]]
                if extra >= 0:
                    f.blocked_until = now + min(2.0 ** extra, self.most_s)
                self._seen[key] = f
                self._seen.move_to_end(key)
            while len(self._seen) > self.keys:
                self._seen.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._seen.pop(self._keys(user, address)[0], None)
