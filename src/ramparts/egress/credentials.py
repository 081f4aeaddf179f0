"""Per-session proxy credentials: minted at SessionStart, checked by the proxy on every connection.

A credential is a random id and secret; the state directory's ``egress.db`` keeps the id, a SHA-256 of
the secret (never the secret), the user and the session. The proxy reads the session store too, so the
kill switch (``ramparts kill``) and a closed session refuse the credential at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from typing import NamedTuple

from ..errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    user TEXT NOT NULL,
    session TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS credentials_session ON credentials(session);
"""


class Identity(NamedTuple):
    """Who a credential stands for."""

    client: str
    """The credential's id (safe to record)."""
    user: str
    session: str


class Credential(NamedTuple):
    client: str
    secret: str

    def proxy_url(self, host: str, port: int) -> str:
        """``http://ID:SECRET@HOST:PORT`` for HTTPS_PROXY/HTTP_PROXY (a secret: do not log it)."""
        return f"http://{self.client}:{self.secret}@{host}:{port}"


PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy")


def env_lines(cred: Credential) -> str:
    """Shell lines for ``$CLAUDE_ENV_FILE`` that put the credential into whatever proxy URL each Bash
    command already has (inside Claude Code's sandbox: its bridge to the proxy, ``localhost:3128``), so
    the port never has to be known here. A URL that already carries credentials is left alone."""
    auth = f"{cred.client}:{cred.secret}"
    lines = ["# Ramparts egress: this session's proxy credential"]
    for var in PROXY_VARIABLES:
        lines.append(
            f'case "${{{var}:-}}" in *://*@*|"") ;; *://*) '
            f'{var}="${{{var}%%://*}}://{auth}@${{{var}#*://}}"; export {var} ;; esac'
        )
    return "\n".join(lines) + "\n"


def db_path(state_dir: str) -> str:
    return os.path.join(state_dir, "egress.db")


def _connect(state_dir: str) -> sqlite3.Connection:
    path = db_path(state_dir)
    try:
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        db = sqlite3.connect(path, timeout=2, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=2000")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")  # the proxy's reads never wait for a SessionStart's mint
        db.executescript(_SCHEMA)
        os.chmod(path, 0o600)
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open the egress credential store {path}: {exc}") from exc
    return db


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint(state_dir: str, *, user: str, session: str, now: float | None = None) -> Credential:
    """A new credential for (user, session); the hook calls this at SessionStart."""
    cred = Credential("rp" + secrets.token_hex(8), secrets.token_urlsafe(24))
    db = _connect(state_dir)
    try:
        db.execute(
            "INSERT INTO credentials (id, secret_sha256, user, session, created) VALUES (?, ?, ?, ?, ?)",
            (cred.client, _digest(cred.secret), user, session, time.time() if now is None else now),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot write the egress credential store: {exc}") from exc
    finally:
        db.close()
    return cred


class Verifier:
    """Checks credentials against ``egress.db`` and the session store (one per proxy process)."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self._db = _connect(state_dir)

    def close(self) -> None:
        self._db.close()

    def identify(self, client: str, secret: str) -> Identity | None:
        """The identity of a valid credential, or None."""
        try:
            row = self._db.execute(
                "SELECT secret_sha256, user, session FROM credentials WHERE id = ?", (client,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the egress credential store: {exc}") from exc
        expected = row[0] if row else _digest("")
        match = hmac.compare_digest(expected, _digest(secret))  # same work whether the id exists or not
        if row is None or not match:
            return None
        return Identity(client, row[1], row[2])

    def stopped(self, identity: Identity) -> str:
        """Why the session may not reach the network ('' when it may): the kill switch, a closed session."""
        from ..session.store import SessionStore

        path = os.path.join(self.state_dir, "sessions.db")
        if not os.path.exists(path):
            return ""
        with SessionStore(path, busy_timeout_ms=500) as store:
            info = store.get(identity.session)
            killed = store._killed(store.orders(), identity.session, identity.user)
        if killed:
            return f"session {identity.session} was stopped: {killed}"
        if info is not None and info.closed:
            return f"session {identity.session} is closed ({info.closed})"
        return ""
