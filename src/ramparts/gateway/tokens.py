"""Gateway-issued client tokens: ``ramparts gateway token create --user NAME`` prints one; only its
SHA-256 is stored (table ``gateway_tokens`` in the gateway's state store: the state directory's
``gateway.db``, or PostgreSQL when configured).

A token is 32 random bytes, so a plain hash is enough (nothing to brute-force, unlike a password);
lookups compare hashes, never tokens. The client sends it as ``ANTHROPIC_AUTH_TOKEN``
(``Authorization: Bearer``) or ``ANTHROPIC_API_KEY`` (``x-api-key``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import NamedTuple

from ..errors import GatewayError
from ._db import Tables

PREFIX = "rgw_"
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


class Identity(NamedTuple):
    user: str
    token_id: str
    """The first 12 hex digits of the token's hash: names the token in audit records and logs."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore(Tables):
    """Token hashes and their users in the gateway's state store: a SQLite file (the state directory's
    ``gateway.db``) or a ``postgresql://`` URL (shared by replicas on several machines)."""

    DDL = (
        "CREATE TABLE IF NOT EXISTS {schema}gateway_tokens ("
        ' hash TEXT PRIMARY KEY, "user" TEXT NOT NULL, created {real} NOT NULL,'
        " revoked INTEGER NOT NULL DEFAULT 0)",
    )

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self._cache: dict[str, Identity] = {}

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
        count = self._db.execute('UPDATE gateway_tokens SET revoked = 1 WHERE "user" = ?', (user,)).changed
        self._cache.clear()
        return count

    def identify(self, token: str | None) -> Identity | None:
        """The user a presented token belongs to, or ``None`` (unknown, revoked, missing).

        Positive answers are cached for the process's life (a revocation reaches a running replica
        when it restarts; the kill switch is the session store's job)."""
        if not token or len(token) > 512:
            return None
        digest = token_hash(token)
        held = self._cache.get(digest)
        if held is not None:
            return held
        rows = self._db.execute(
            'SELECT "user" FROM gateway_tokens WHERE hash = ? AND revoked = 0', (digest,)
        ).rows
        if not rows:
            return None
        identity = Identity(str(rows[0][0]), digest[:12])
        self._cache[digest] = identity
        return identity
