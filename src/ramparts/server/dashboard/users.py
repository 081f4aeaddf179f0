"""The dashboard's people, sign-in sessions and sign-in rate limit, kept in the control plane's store.

Tables (in ``server.db`` or the PostgreSQL schema): the store's ``users`` (argon2id hashes only, written
by ``ramparts server user add`` through :meth:`ServerStore.add_user` or by :meth:`Users.add`), and, created
on first use, ``dashboard_sessions`` (the SHA-256 of each cookie's secret, the role and the CSRF token) and
``dashboard_failures`` (failed sign-ins by user and by client address, for the rate limit). Keeping them in
the store makes sessions and the limit hold across ``--workers`` processes and restarts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Literal, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..store import ServerStore

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 12
SESSION_SECONDS = 8 * 3600
FAILURE_WINDOW = 60.0
MAX_FAILURES = 5
SSO_HASH = "!sso"  # not an argon2 hash: a password sign-in as an sso: person always fails

_DDL = (
    "CREATE TABLE IF NOT EXISTS dashboard_sessions (id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, "
    "csrf TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS dashboard_failures (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS dashboard_failures_by_key ON dashboard_failures (key, at)",
)


class UserError(ValueError):
    """A bad user name, role or password (the message says which)."""


class SignedIn(NamedTuple):
    name: str
    role: Role
    csrf: str
    expires: float


class LoginResult(NamedTuple):
    ok: bool
    limited: bool = False
    session: str = ""
    """The cookie's secret (only its hash is stored)."""
    user: SignedIn | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Users:
    """The dashboard's users and sessions over a :class:`ServerStore`."""

    def __init__(self, store: ServerStore, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults
        self._dummy = ""  # unknown users cost the same time as wrong passwords
        with store._tx() as tx:
            for statement in _DDL:
                tx.x(statement)

    def add(self, name: str, role: str, password: str, now: float | None = None) -> None:
        """Add a person, or set an existing person's role and password."""
        if not NAME.fullmatch(name):
            raise UserError("a user name is 1 to 64 letters, digits, '.', '_', '@' or '-'")
        if role not in ROLES:
            raise UserError("the role is admin or viewer")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
        digest = self.hasher.hash(password)
        with self.store._tx() as tx:
            tx.x(
                "INSERT INTO users (name, role, hash, created) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET role = excluded.role, hash = excluded.hash",
                (name, role, digest, time.time() if now is None else now),
            )
            tx.x("DELETE FROM dashboard_sessions WHERE name = ?", (name,))  # a new password ends old sessions

    def remove(self, name: str) -> bool:
        with self.store._tx() as tx:
            tx.x("DELETE FROM dashboard_sessions WHERE name = ?", (name,))
            return tx.x("DELETE FROM users WHERE name = ?", (name,)) > 0

    def list(self) -> list[tuple[str, str, float]]:
        with self.store._tx(write=False) as tx:
            rows = tx.q("SELECT name, role, created FROM users ORDER BY name")
        return [(str(n), str(r), float(c)) for n, r, c in rows]

    def login(self, name: str, password: str, client: str, now: float | None = None) -> LoginResult:
        """Check a sign-in. More than :data:`MAX_FAILURES` failures in a minute for the user name or the
        client address refuse further attempts (``limited``) without checking the password."""
        now = time.time() if now is None else now
        keys = (f"user:{name[:64]}", f"addr:{client[:64]}")
        with self.store._tx(write=False) as tx:
            for key in keys:
                row = tx.one(
                    "SELECT count(*) FROM dashboard_failures WHERE key = ? AND at > ?",
                    (key, now - FAILURE_WINDOW),
                )
                if row is not None and int(row[0]) >= MAX_FAILURES:
                    return LoginResult(ok=False, limited=True)
            found = tx.one("SELECT role, hash FROM users WHERE name = ?", (name,))
        ok = False
        try:
            if found is None and not self._dummy:
                self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
            ok = self.hasher.verify(str(found[1]) if found else self._dummy, password) and found is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        with self.store._tx() as tx:
            if not ok:
                tx.many("INSERT INTO dashboard_failures (key, at) VALUES (?, ?)", [(k, now) for k in keys])
                tx.x("DELETE FROM dashboard_failures WHERE at < ?", (now - 10 * FAILURE_WINDOW,))
                return LoginResult(ok=False)
            assert found is not None
            secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            user = SignedIn(name, str(found[0]), csrf, now + SESSION_SECONDS)  # type: ignore[arg-type]
            tx.x(
                "INSERT INTO dashboard_sessions (id, name, role, csrf, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(secret), name, user.role, csrf, now, user.expires),
            )
            tx.x("DELETE FROM dashboard_sessions WHERE expires < ?", (now,))
        return LoginResult(ok=True, session=secret, user=user)

    def sso_login(self, name: str, role: str, now: float | None = None) -> LoginResult:
        """A sign-in the identity provider vouched for (``oidc.py``): the ``sso:`` person is kept in
        ``users`` with the role the provider's claim gave this time and a hash no password matches, then
        gets a session as a password sign-in does."""
        if not name.startswith("sso:") or role not in ROLES:
            raise UserError("an SSO person is named sso:… and is an admin or a viewer")
        now = time.time() if now is None else now
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        user = SignedIn(name, role, csrf, now + SESSION_SECONDS)
        with self.store._tx() as tx:
            tx.x(
                "INSERT INTO users (name, role, hash, created) VALUES (?, ?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET role = excluded.role, hash = excluded.hash",
                (name, role, SSO_HASH, now),
            )
            tx.x(
                "INSERT INTO dashboard_sessions (id, name, role, csrf, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(secret), name, role, csrf, now, user.expires),
            )
        return LoginResult(ok=True, session=secret, user=user)

    def session(self, secret: str, now: float | None = None) -> SignedIn | None:
        """The signed-in person a cookie names, or None (unknown, expired, or the user was removed)."""
        if not secret or len(secret) > 100:
            return None
        now = time.time() if now is None else now
        with self.store._tx(write=False) as tx:
            row = tx.one(
                "SELECT s.name, u.role, s.csrf, s.expires FROM dashboard_sessions s JOIN users u "
                "ON u.name = s.name WHERE s.id = ?",
                (_digest(secret),),
            )
        if row is None or float(row[3]) < now:
            return None
        return SignedIn(str(row[0]), str(row[1]), str(row[2]), float(row[3]))  # type: ignore[arg-type]

    def logout(self, secret: str) -> None:
        with self.store._tx() as tx:
            tx.x("DELETE FROM dashboard_sessions WHERE id = ?", (_digest(secret),))
