"""The users file of ``opeval serve --auth``: names, roles, salted password hashes.

The file is JSON, written with mode 0600 and replaced atomically::

    {"format": "opeval-users", "version": 1,
     "users": {"alice": {"role": "oc", "oc": "OC01", "systems": [],
                          "password": "scrypt$16384$8$1$<salt hex>$<hash hex>"}}}

No password is ever stored: only ``hashlib.scrypt`` of it under a random
16-byte salt (N=2**14, r=8, p=1, 32-byte key). Checking compares in constant
time. A password below the minimum strength (:func:`password_problem`) is
refused when a user is added. A user with no ``password`` cannot log in with basic auth; such entries
give a role to users who log in through an OAuth provider (matched by the
name the provider returns).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path

from ..errors import OpevalError
from .roles import Principal

FORMAT = "opeval-users"
SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_LEN = 2 ** 14, 8, 1, 32
USERS_ENV = "OPEVAL_USERS"


def default_users_file(db_path: str | os.PathLike) -> Path:
    """``$OPEVAL_USERS``, else ``opeval-users.json`` beside the database."""
    env = os.environ.get(USERS_ENV)
    return Path(env) if env else Path(db_path).absolute().parent / "opeval-users.json"


MIN_LENGTH = 12
MIN_DISTINCT = 6
# Words that make a password guessable whatever digits and signs surround them; and
# the keyboard rows and the alphabet, any run of which is guessed early too.
COMMON_WORDS = ("password", "passwort", "motdepasse", "secret", "letmein", "welcome", "admin",
                "administrator", "opeval", "changeme", "iloveyou", "dragon", "monkey", "master",
                "login", "user", "test", "root")
RUNS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qsdfghjklm", "wxcvbn",
        "qwertzuiop", "yxcvbnm", "abcdefghijklmnopqrstuvwxyz", "01234567890")


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` is too weak for user ``name``, or None when it will do.

    At least 12 characters and 6 different ones; not containing the user name;
    not a common password word or a run of keyboard or alphabet letters padded
    with digits and signs ("Password2024!", "qwertyuiop12"). Length matters more
    than character classes (NIST SP 800-63B 5.1.1.2): no class is required.
    """
    if len(password) < MIN_LENGTH:
        return f"shorter than {MIN_LENGTH} characters"
    if len(set(password)) < MIN_DISTINCT:
        return f"fewer than {MIN_DISTINCT} different characters"
    low = password.lower()
    if len(name.strip()) >= 3 and name.strip().lower() in low:
        return "it contains the user name"
    letters = "".join(ch for ch in low if ch.isalpha())
    if not letters:
        return "digits and signs only"
    if letters in COMMON_WORDS or any(letters in run or letters in run[::-1] for run in RUNS):
        return "a common word or a keyboard run with digits and signs around it"
    return None


def hash_password(password: str, salt: bytes | None = None) -> str:
    if not password:
        raise OpevalError("empty password")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=KEY_LEN, maxmem=64 * 1024 * 1024)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    if not stored or not isinstance(password, str):
        return False
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        n, r, p = int(n), int(r), int(p)
        if n > 2 ** 20 or r > 32 or p > 16:
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=n, r=r, p=p,
                             dklen=len(digest) // 2, maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


class Users:
    """The users file, read whole; :meth:`save` writes it back atomically (0600)."""

    def __init__(self, path: str | os.PathLike, entries: dict | None = None):
        self.path = Path(path)
        self.entries: dict[str, dict] = entries or {}

    @classmethod
    def load(cls, path: str | os.PathLike, missing_ok: bool = False) -> Users:
        path = Path(path)
        if not path.exists():
            if missing_ok:
                return cls(path)
            raise OpevalError(f"users file {path} does not exist (create it with "
                              f"`opeval users add NAME --role ROLE`)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OpevalError(f"users file {path}: cannot read it ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != 1:
            raise OpevalError(f"users file {path}: not an opeval users file")
        users = data.get("users")
        if not isinstance(users, dict):
            raise OpevalError(f"users file {path}: no users")
        out = cls(path, users)
        for name in users:
            out.principal(name)  # validates every entry now, not at the first login
        return out

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "version": 1, "users": self.entries},
                          indent=2, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".users-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, name: str, role: str, password: str | None, systems=(), oc: str | None = None
            ) -> Principal:
        name = name.strip()
        if not name or len(name) > 200 or any(ch in name for ch in "\x00\r\n\t"):
            raise OpevalError(f"bad user name {name!r}")
        principal = Principal(name, role, tuple(systems), oc)
        entry = {"role": role, "systems": list(principal.systems), "oc": oc}
        if password is not None:
            problem = password_problem(name, password)
            if problem:
                raise OpevalError(f"password for {name} refused: {problem} (at least "
                                  f"{MIN_LENGTH} characters; docs/security.md)")
            entry["password"] = hash_password(password)
        self.entries[name] = entry
        return principal

    def remove(self, name: str) -> None:
        if name not in self.entries:
            raise OpevalError(f"no user {name!r} in {self.path}")
        del self.entries[name]

    def principal(self, name: str) -> Principal | None:
        entry = self.entries.get(name)
        if not isinstance(entry, dict):
            return None
        try:
            return Principal(name, str(entry.get("role")), tuple(entry.get("systems") or ()),
                             entry.get("oc") or None)
        except OpevalError as exc:
            raise OpevalError(f"users file {self.path}: {exc}") from None

    def verify(self, name: str, password: str) -> Principal | None:
        """The principal when ``name``/``password`` match an entry with a password, else None."""
        entry = self.entries.get(name)
        if not isinstance(entry, dict):
            # Spend the same time as a real check so user names cannot be probed by timing.
            check_password(password, _DUMMY)
            return None
        return self.principal(name) if check_password(password, entry.get("password")) else None


_DUMMY = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32


class UsersCache:
    """The users file re-read when it changes (so `opeval users add` applies without a restart)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._stamp: tuple | None = None
        self._users: Users | None = None

    def get(self) -> Users:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if self._users is None or stamp != self._stamp:
            self._users = Users.load(self.path)
            self._stamp = stamp
        return self._users
