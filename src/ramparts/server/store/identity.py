"""Host and admin tokens (stored as hashes) and the dashboard's people (argon2id hashes)."""

from __future__ import annotations

import secrets
import time

from .base import StoreBase
from .model import (
    _DUMMY_HASH,
    _TOKEN,
    _UNKNOWN_REASON,
    TOKEN_PREFIX,
    HostKey,
    TokenInfo,
    TokenKind,
    token_hash,
)


class IdentityStore(StoreBase):
    """Tokens and people."""

    # -- tokens ----------------------------------------------------------------------------------------------

    def create_token(self, kind: TokenKind, name: str, now: float | None = None) -> tuple[TokenInfo, str]:
        """A new token; returns its info and the secret, shown once (only its hash is stored)."""
        if kind not in ("host", "admin") or not name or len(name) > 200:
            raise ValueError("a token is host or admin and has a name of 1 to 200 characters")
        token_id = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        when = time.time() if now is None else now
        with self._tx() as tx:
            tx.x(
                "INSERT INTO tokens (id, hash, kind, name, created) VALUES (?, ?, ?, ?, ?)",
                (token_id, token_hash(secret), kind, name, when),
            )
        return TokenInfo(token_id, kind, name, when, None), secret

    def tokens(self) -> list[TokenInfo]:
        with self._tx(write=False) as tx:
            rows = tx.q("SELECT id, kind, name, created, revoked FROM tokens ORDER BY created, id")
        return [TokenInfo(*row) for row in rows]

    def revoke_token(self, token_id: str, now: float | None = None) -> bool:
        with self._tx() as tx:
            return (
                tx.x(
                    "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                    (time.time() if now is None else now, token_id),
                )
                > 0
            )

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token's info if it exists and is not revoked; None otherwise."""
        if not _TOKEN.fullmatch(secret):
            return None
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT id, kind, name, created, revoked FROM tokens WHERE hash = ?", (token_hash(secret),)
            )
        if row is None or row[4] is not None:
            return None
        return TokenInfo(*row)

    # -- people (the dashboard) ----------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, now: float | None = None) -> None:
        """Add or replace a person; the password is kept as an argon2id hash."""
        from argon2 import PasswordHasher

        if role not in ("admin", "viewer") or not name or len(name) > 100 or len(password) < 12:
            raise ValueError(
                "a user has a name (1-100 characters), role admin or viewer, a password of 12+ characters"
            )
        digest = PasswordHasher().hash(password)
        with self._tx() as tx:
            tx.x(
                "INSERT INTO users (name, role, hash, created) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET role = excluded.role, hash = excluded.hash",
                (name, role, digest, time.time() if now is None else now),
            )

    def check_password(self, name: str, password: str) -> str | None:
        """The user's role when the password is right; None otherwise (the same work either way)."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        with self._tx(write=False) as tx:
            row = tx.one("SELECT role, hash FROM users WHERE name = ?", (name,))
        hasher = PasswordHasher()
        digest = (
            str(row[1]) if row else _DUMMY_HASH.get("h") or _DUMMY_HASH.setdefault("h", hasher.hash("x" * 16))
        )
        try:
            hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        return str(row[0]) if row else None

    def users(self) -> list[tuple[str, str, float]]:
        with self._tx(write=False) as tx:
            return [
                (str(n), str(r), float(c))
                for n, r, c in tx.q("SELECT name, role, created FROM users ORDER BY name")
            ]

    # -- log signing keys bound to host tokens ---------------------------------------------------------------------

    def pin_key(self, token_id: str, verifier: str, by: str, now: float | None = None) -> HostKey:
        """Bind a log signing key (a note verifier, ``name+hash+key``) to a host token: an admin's pin."""
        from ...audit.checkpoint import NoteError, Verifier

        try:
            key = str(Verifier.parse(verifier))
        except NoteError as exc:
            raise ValueError(str(exc)) from exc
        when = time.time() if now is None else now
        with self._tx() as tx:
            row = tx.one("SELECT kind, name, revoked FROM tokens WHERE id = ?", (token_id,))
            if row is None or row[0] != "host" or row[2] is not None:
                raise ValueError(f"no live host token {token_id}")
            tx.x(
                "INSERT INTO host_keys (token_id, verifier, source, by_whom, at) VALUES (?, ?, 'pinned', ?, ?) "
                "ON CONFLICT (token_id, verifier) DO UPDATE SET source = 'pinned', by_whom = excluded.by_whom, "
                "at = excluded.at",
                (token_id, key, by, when),
            )
        return HostKey(token_id, str(row[1]), key, "pinned", by, when)

    def unpin_key(self, token_id: str, verifier: str) -> bool:
        with self._tx() as tx:
            return tx.x("DELETE FROM host_keys WHERE token_id = ? AND verifier = ?", (token_id, verifier)) > 0

    def host_keys(self) -> list[HostKey]:
        """The bound keys, then the unknown ones (quarantined), by host."""
        with self._tx(write=False) as tx:
            bound = tx.q(
                "SELECT k.token_id, t.name, k.verifier, k.source, k.by_whom, k.at FROM host_keys k "
                "JOIN tokens t ON t.id = k.token_id ORDER BY t.name, k.at"
            )
            unknown = tx.q(
                "SELECT q.reason, max(q.received) FROM quarantine q WHERE q.kind = 'unknown_key' GROUP BY q.reason"
            )
            names = {str(i): str(n) for i, n in tx.q("SELECT id, name FROM tokens")}
        out = [HostKey(str(a), str(b), str(c), str(d), str(e), float(f)) for a, b, c, d, e, f in bound]
        known = {(k.token_id, k.verifier) for k in out}
        for reason, at in unknown:
            match = _UNKNOWN_REASON.fullmatch(str(reason))
            if match and (match.group(1), match.group(2)) not in known:
                token_id, verifier = match.groups()
                out.append(HostKey(token_id, names.get(token_id, ""), verifier, "unknown", "", float(at)))
        return out
