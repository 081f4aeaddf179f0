"""The masking vault: placeholder ⇄ real value, per session, deterministic and shared by replicas.

Placeholder shape: ``[[RAMPARTS:EMAIL:1a2b3c4d]]`` (see ``docs/gateway.md``):

- only ``[``, ``]``, ``:``, ``A-Z``, ``0-9``, ``_`` and lowercase hex: nothing any JSON encoder escapes
  (not even HTML-safe ones, which escape ``<``, ``>``, ``&``), nothing shells, Markdown or YAML quote
  differently in practice, so it reaches the model and comes back inside ``input_json_delta`` as-is;
- the type label tells the model what stands there (an e-mail address, an AWS key), so it can still
  reason about it and write it where such a value belongs;
- the ``RAMPARTS`` namespace and the keyed digest make an accidental match in normal text implausible,
  and a placeholder only restores to a value the vault holds *for that session*.

The digest is HMAC-SHA256(key, session ‖ value), cut to 8 hex digits: the same value gets the same
placeholder in a session, every time and on every replica sharing the key, so earlier turns of a
conversation re-mask to the same bytes (prompt caching keeps hitting); different sessions get unrelated
placeholders. Should two values of one session share 8 digits, the later one takes 12, then 16 … 32
digits; the store decides who was first, so replicas still agree.
"""

from __future__ import annotations

import hmac
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from hashlib import sha256
from typing import Protocol

from ..errors import GatewayError

PREFIX = "[[RAMPARTS:"
SUFFIX = "]]"
LABEL_MAX = 32
DIGEST_LENGTHS = (8, 12, 16, 20, 24, 28, 32)
PLACEHOLDER_MAX = len(PREFIX) + LABEL_MAX + 1 + DIGEST_LENGTHS[-1] + len(SUFFIX)
PLACEHOLDER = re.compile(r"\[\[RAMPARTS:([A-Z][A-Z0-9_]{0,31}):([0-9a-f]{8,32})\]\]")
_CACHE_MAX = 100_000


class VaultError(GatewayError):
    """The vault cannot store or read a value (store failure, wrong key, digest space exhausted)."""


def label(entity_type: str) -> str:
    """A placeholder label from a detector id or entity name: ``pii-email`` → ``EMAIL``,
    ``aws-access-key-id`` → ``AWS_ACCESS_KEY_ID``."""
    name = entity_type.removeprefix("pii-").upper()
    name = re.sub(r"[^A-Z0-9]+", "_", name).strip("_") or "VALUE"
    if not name[0].isalpha():
        name = "V_" + name
    return name[:LABEL_MAX].rstrip("_")


class Vault(Protocol):
    def placeholder_for(self, session_id: str, entity_type: str, value: str) -> str:
        """The placeholder standing for ``value`` in the session, stored on first use."""
        ...

    def value_for(self, session_id: str, placeholder: str) -> str | None:
        """The value a placeholder of the session stands for; ``None`` when it is not one of its."""
        ...

    def known(self, session_id: str) -> Mapping[str, str]:
        """Every placeholder of the session and its value (to restore a response, and to re-mask
        values the detectors miss in a new context)."""
        ...


class _Keys:
    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise VaultError("the vault key must be at least 32 bytes")
        self.digest = hmac.new(master, b"ramparts-vault-placeholder", sha256).digest()
        self.encrypt = hmac.new(master, b"ramparts-vault-encrypt", sha256).digest()

    def candidates(self, session_id: str, entity_type: str, value: str) -> Iterator[str]:
        message = session_id.encode("utf-8", "surrogatepass") + b"\0" + value.encode("utf-8", "surrogatepass")
        digest = hmac.new(self.digest, message, sha256).hexdigest()
        name = label(entity_type)
        for n in DIGEST_LENGTHS:
            yield f"{PREFIX}{name}:{digest[:n]}{SUFFIX}"


class _Cache:
    """Rows are never changed once stored, so what a process has seen can be kept (bounded)."""

    def __init__(self) -> None:
        self.by_placeholder: dict[tuple[str, str], str] = {}

    def get(self, session_id: str, placeholder: str) -> str | None:
        return self.by_placeholder.get((session_id, placeholder))

    def put(self, session_id: str, placeholder: str, value: str) -> None:
        if len(self.by_placeholder) >= _CACHE_MAX:
            self.by_placeholder.clear()
        self.by_placeholder[(session_id, placeholder)] = value


class MemoryVault:
    """A vault in this process only (tests, single-process use)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._keys = _Keys(key if key is not None else os.urandom(32))
        self._rows: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def placeholder_for(self, session_id: str, entity_type: str, value: str) -> str:
        with self._lock:
            rows = self._rows.setdefault(session_id, {})
            for candidate in self._keys.candidates(session_id, entity_type, value):
                held = rows.setdefault(candidate, value)
                if held == value:
                    return candidate
        raise VaultError("no free placeholder for a value (digest collisions)")

    def value_for(self, session_id: str, placeholder: str) -> str | None:
        return self._rows.get(session_id, {}).get(placeholder)

    def known(self, session_id: str) -> Mapping[str, str]:
        with self._lock:
            return dict(self._rows.get(session_id, {}))


class SQLiteVault:
    """A vault in a SQLite file, values encrypted with AES-256-GCM; safe for several processes.

    The key comes from ``key`` or from ``key_path`` (32 random bytes, created mode 0600 on first use);
    replicas sharing the database must share the key. Each value is sealed with a fresh nonce and the
    row's (session, placeholder) as associated data, so a value copied to another row does not open.
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS gateway_vault ("
        " session TEXT NOT NULL,"
        " placeholder TEXT NOT NULL,"
        " sealed BLOB NOT NULL,"
        " PRIMARY KEY (session, placeholder))"
    )

    def __init__(
        self,
        path: str,
        *,
        key: bytes | None = None,
        key_path: str | None = None,
        busy_timeout_ms: int = 5000,
    ) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if key is None:
            if key_path is None:
                key_path = os.path.join(os.path.dirname(os.path.abspath(path)), "vault.key")
            from ..detect.redact import load_key

            key = load_key(key_path)
        self._keys = _Keys(key)
        self._aead = AESGCM(self._keys.encrypt)
        self._cache = _Cache()
        self._lock = threading.Lock()
        self.path = path
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(self.SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise VaultError(f"cannot open the vault {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise VaultError(f"vault {self.path}: {exc}") from exc

    @staticmethod
    def _aad(session_id: str, placeholder: str) -> bytes:
        return session_id.encode("utf-8", "surrogatepass") + b"\0" + placeholder.encode("ascii")

    def _seal(self, session_id: str, placeholder: str, value: str) -> bytes:
        nonce = os.urandom(12)
        data = value.encode("utf-8", "surrogatepass")
        return nonce + self._aead.encrypt(nonce, data, self._aad(session_id, placeholder))

    def _open(self, session_id: str, placeholder: str, sealed: bytes) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            data = self._aead.decrypt(sealed[:12], sealed[12:], self._aad(session_id, placeholder))
        except InvalidTag as exc:
            raise VaultError("a vault value does not decrypt (wrong key or altered row)") from exc
        return data.decode("utf-8", "surrogatepass")

    def placeholder_for(self, session_id: str, entity_type: str, value: str) -> str:
        for candidate in self._keys.candidates(session_id, entity_type, value):
            held = self._cache.get(session_id, candidate)
            if held is None:
                with self._guard() as db:
                    db.execute(
                        "INSERT INTO gateway_vault (session, placeholder, sealed) VALUES (?, ?, ?)"
                        " ON CONFLICT (session, placeholder) DO NOTHING",
                        (session_id, candidate, self._seal(session_id, candidate, value)),
                    )
                    row = db.execute(
                        "SELECT sealed FROM gateway_vault WHERE session = ? AND placeholder = ?",
                        (session_id, candidate),
                    ).fetchone()
                held = self._open(session_id, candidate, row[0])
                self._cache.put(session_id, candidate, held)
            if held == value:
                return candidate
        raise VaultError("no free placeholder for a value (digest collisions)")

    def value_for(self, session_id: str, placeholder: str) -> str | None:
        held = self._cache.get(session_id, placeholder)
        if held is not None:
            return held
        with self._guard() as db:
            row = db.execute(
                "SELECT sealed FROM gateway_vault WHERE session = ? AND placeholder = ?",
                (session_id, placeholder),
            ).fetchone()
        if row is None:
            return None
        held = self._open(session_id, placeholder, row[0])
        self._cache.put(session_id, placeholder, held)
        return held

    def known(self, session_id: str) -> Mapping[str, str]:
        with self._guard() as db:
            rows = db.execute(
                "SELECT placeholder, sealed FROM gateway_vault WHERE session = ?", (session_id,)
            ).fetchall()
        out: dict[str, str] = {}
        for placeholder, sealed in rows:
            held = self._cache.get(session_id, placeholder)
            if held is None:
                held = self._open(session_id, placeholder, sealed)
                self._cache.put(session_id, placeholder, held)
            out[placeholder] = held
        return out


def is_placeholder(text: str) -> bool:
    return PLACEHOLDER.fullmatch(text) is not None


__all__ = [
    "PLACEHOLDER",
    "PLACEHOLDER_MAX",
    "MemoryVault",
    "SQLiteVault",
    "Vault",
    "VaultError",
    "is_placeholder",
    "label",
]
