"""Gateway-issued client tokens: ``ramparts gateway token create --user NAME`` prints one; only its
SHA-256 is stored (table ``gateway_tokens`` in the gateway's state store: the state directory's
``gateway.db``, or PostgreSQL when configured).

A token is 32 random bytes, so a plain hash is enough (nothing to brute-force, unlike a password);
lookups compare hashes, never tokens. The client sends it as ``ANTHROPIC_AUTH_TOKEN``
(``Authorization: Bearer``) or ``ANTHROPIC_API_KEY`` (``x-api-key``).

Revocation (``ramparts gateway token revoke``/``rotate``) is a row update in the shared store; every
running replica re-reads a token's row once its cached answer is older than ``REVALIDATE_SECONDS``, so a
revoked token stops working everywhere within that time, with no restart and no message between replicas.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple

from ..errors import GatewayError
from ._db import Tables

PREFIX = "rgw_"
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
_TOKEN_ID = re.compile(r"[0-9a-f]{6,12}")
REVALIDATE_SECONDS = 2.0


class Identity(NamedTuple):
    user: str
    token_id: str
    """The first 12 hex digits of the token's hash: names the token in audit records and logs."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def valid_user(user: str) -> bool:
    return _USER.fullmatch(user) is not None


class TokenInfo(NamedTuple):
    token_id: str
    user: str
    created: float
    revoked: bool


class TokenStore(Tables):
    """Token hashes and their users in the gateway's state store: a SQLite file (the state directory's
    ``gateway.db``) or a ``postgresql://`` URL (shared by replicas on several machines)."""

    DDL = (
        "CREATE TABLE IF NOT EXISTS {schema}gateway_tokens ("
        ' hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, created {real} NOT NULL,'
        " revoked INTEGER NOT NULL DEFAULT 0)",
    )

    def __init__(
        self,
        location: str,
        *,
        revalidate: float = REVALIDATE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(location)
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._revalidate = revalidate
        self._clock = clock

    def create(self, user: str) -> str:
        """A new token for ``user``; the token itself is returned once and never stored."""
        if not _USER.fullmatch(user):
            raise GatewayError(f"user name {user!r}: letters, digits and ._@+- only, at most 128")
        token = PREFIX + secrets.token_urlsafe(32)
        self._db.execute(
            'INSERT INTO gateway_tokens (hash, "user", created) VALUES (?, ?, ?)',
            (token_hash(token), user, time.time()),
        )
        return token

    def revoke_user(self, user: str) -> int:
        """Revoke every live token of ``user``; the number revoked."""
        count = self._db.execute(
            'UPDATE gateway_tokens SET revoked = 1 WHERE "user" = ? AND revoked = 0', (user,)
        ).changed
        self._cache.clear()
        return count

    def revoke_id(self, token_id: str) -> list[TokenInfo]:
        """Revoke the live token whose id starts with ``token_id`` (6 to 12 hex digits). Returns the live
        tokens that matched: one (revoked now), none (unknown), or several (ambiguous: nothing revoked)."""
        wanted = token_id.lower()
        if not _TOKEN_ID.fullmatch(wanted):
            return []
        matches = [t for t in self.list() if t.token_id.startswith(wanted) and not t.revoked]
        if len(matches) == 1:
            self._db.execute(
                "UPDATE gateway_tokens SET revoked = 1 WHERE hash LIKE ?", (matches[0].token_id + "%",)
            )
            self._cache.clear()
        return matches

    def rotate(self, user: str) -> tuple[str, int]:
        """A new token for ``user`` and the number of their old tokens revoked (after the new one exists)."""
        old = {t.token_id for t in self.list() if t.user == user and not t.revoked}
        token = self.create(user)
        for token_id in old:
            self._db.execute("UPDATE gateway_tokens SET revoked = 1 WHERE hash LIKE ?", (token_id + "%",))
        self._cache.clear()
        return token, len(old)

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first, named by its id (never the token, which is not stored)."""
        rows = self._db.execute(
            'SELECT hash, "user", created, revoked FROM gateway_tokens ORDER BY created'
        ).rows
        return [TokenInfo(str(h)[:12], str(u), float(c), bool(r)) for h, u, c, r in rows]

    def identify(self, token: str | None) -> Identity | None:
        """The user a presented token belongs to, or ``None`` (unknown, revoked, missing).

        Positive answers are cached for ``REVALIDATE_SECONDS``: a revocation in the shared store reaches
        every running replica within that time."""
        if not token or len(token) > 512:
            return None
        digest = token_hash(token)
        held = self._cache.get(digest)
        now = self._clock()
        if held is not None and now - held[1] < self._revalidate:
            return held[0]
        self._cache.pop(digest, None)
        rows = self._db.execute(
            'SELECT "user" FROM gateway_tokens WHERE hash = ? AND revoked = 0', (digest,)
        ).rows
        if not rows:
            return None
        identity = Identity(str(rows[0][0]), digest[:12])
        if len(self._cache) > 10_000:  # a bound, whatever the number of clients
            self._cache.clear()
        self._cache[digest] = (identity, now)
        return identity
