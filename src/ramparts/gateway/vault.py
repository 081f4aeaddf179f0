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
import threading
import time
from collections.abc import Iterator, Mapping
from hashlib import sha256
from typing import Protocol

from ._db import Database, GatewayStoreError, PostgresDatabase, SQLiteDatabase

PREFIX = "[[RAMPARTS:"
SUFFIX = "]]"
LABEL_MAX = 32
DIGEST_LENGTHS = (8, 12, 16, 20, 24, 28, 32)
PLACEHOLDER_MAX = len(PREFIX) + LABEL_MAX + 1 + DIGEST_LENGTHS[-1] + len(SUFFIX)
PLACEHOLDER = re.compile(r"\[\[RAMPARTS:([A-Z][A-Z0-9_]{0,31}):([0-9a-f]{8,32})\]\]")
_CACHE_MAX = 100_000


class VaultError(GatewayStoreError):
    """The vault cannot store or read a value (store failure, wrong key, digest space exhausted)."""


class VaultKeyMismatch(VaultError):
    """The vault's store was sealed with another key (a replica with a key of its own)."""


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
        self.check = hmac.new(master, b"ramparts-vault-key-check", sha256).hexdigest()
        """Stored in the store's ``gateway_meta``: tells a wrong key at start, reveals nothing of it."""

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


class StoreVault:
    """A vault in the gateway's state store, values encrypted with AES-256-GCM; safe for several
    processes and, on PostgreSQL, several machines. :class:`SQLiteVault` and :class:`PostgresVault`
    differ only in the store they open.

    Each value is sealed with a fresh nonce and the row's (session, placeholder) as associated data, so
    a value copied to another row does not open. A placeholder is claimed with ``INSERT … ON CONFLICT
    DO NOTHING`` and read back: the first writer wins and every replica agrees on what it stands for.

    Replicas sharing the store must share the key. The store keeps a key check (an HMAC of a constant
    under the key) in ``gateway_meta``; a vault opened with another key is refused at once
    (:class:`VaultKeyMismatch`) instead of minting a second set of placeholders next to rows it cannot
    open. A store from before the check gets one when one of its rows opens with the key.
    """

    DDL = (
        "CREATE TABLE IF NOT EXISTS {schema}gateway_vault ("
        " session TEXT NOT NULL,"
        " placeholder TEXT NOT NULL,"
        " sealed {blob} NOT NULL,"
        " PRIMARY KEY (session, placeholder))",
        "CREATE TABLE IF NOT EXISTS {schema}gateway_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # when each session's first placeholder was made: its rows expire together (gateway.vault_retention_hours)
        "CREATE TABLE IF NOT EXISTS {schema}gateway_vault_sessions (session TEXT PRIMARY KEY, first {real} NOT NULL)",
    )

    def __init__(self, db: Database, key: bytes, key_name: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._db = db
        self.name = db.name
        try:
            self._keys = _Keys(key)
            self._aead = AESGCM(self._keys.encrypt)
            self._cache = _Cache()
            self._dated: set[str] = set()
            self._check_key(key_name)
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def _check_key(self, key_name: str) -> None:
        rows = self._db.execute("SELECT value FROM gateway_meta WHERE key = 'vault_key_check'").rows
        if not rows:
            sample = self._db.execute("SELECT session, placeholder, sealed FROM gateway_vault LIMIT 1").rows
            if sample and not self._opens(str(sample[0][0]), str(sample[0][1]), bytes(sample[0][2])):
                rows = [("(rows sealed with another key)",)]
            else:
                self._db.execute(
                    "INSERT INTO gateway_meta (key, value) VALUES ('vault_key_check', ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    (self._keys.check,),
                )
                rows = self._db.execute("SELECT value FROM gateway_meta WHERE key = 'vault_key_check'").rows
        if not rows or rows[0][0] != self._keys.check:
            raise VaultKeyMismatch(
                f"the vault key {key_name} is not the key the vault {self.name} was sealed with: every "
                "replica sharing a store needs the same key file (copy it from the first replica; "
                "a new key would make new placeholders and leave the stored ones unreadable)"
            )

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

    def _opens(self, session_id: str, placeholder: str, sealed: bytes) -> bool:
        try:
            self._open(session_id, placeholder, sealed)
        except VaultError:
            return False
        return True

    def _sealed(self, session_id: str, placeholder: str) -> bytes | None:
        rows = self._db.execute(
            "SELECT sealed FROM gateway_vault WHERE session = ? AND placeholder = ?",
            (session_id, placeholder),
        ).rows
        return bytes(rows[0][0]) if rows else None

    def expire(self, before: float, now: float | None = None) -> int:
        """Delete every row of the sessions whose first placeholder was made before ``before`` (a time
        stamp); the number of rows deleted. Sessions stored before their date was kept are dated now."""
        now = time.time() if now is None else now
        self._db.execute(
            "INSERT INTO gateway_vault_sessions (session, first) SELECT DISTINCT session, ? FROM gateway_vault"
            " WHERE session NOT IN (SELECT session FROM gateway_vault_sessions) ON CONFLICT (session) DO NOTHING",
            (now,),
        )
        count = self._db.execute(
            "DELETE FROM gateway_vault WHERE session IN (SELECT session FROM gateway_vault_sessions WHERE first < ?)",
            (before,),
        ).changed
        self._db.execute("DELETE FROM gateway_vault_sessions WHERE first < ?", (before,))
        self._cache = _Cache()
        self._dated.clear()
        return max(count, 0)

    def placeholder_for(self, session_id: str, entity_type: str, value: str) -> str:
        if session_id not in self._dated:
            self._db.execute(
                "INSERT INTO gateway_vault_sessions (session, first) VALUES (?, ?) ON CONFLICT (session) DO NOTHING",
                (session_id, time.time()),
            )
            if len(self._dated) > 100_000:
                self._dated.clear()
            self._dated.add(session_id)
        for candidate in self._keys.candidates(session_id, entity_type, value):
            held = self._cache.get(session_id, candidate)
            if held is None:
                self._db.execute(
                    "INSERT INTO gateway_vault (session, placeholder, sealed) VALUES (?, ?, ?)"
                    " ON CONFLICT (session, placeholder) DO NOTHING",
                    (session_id, candidate, self._seal(session_id, candidate, value)),
                )
                sealed = self._sealed(session_id, candidate)
                if sealed is None:
                    raise VaultError(f"vault {self.name}: a claimed placeholder is not there")
                held = self._open(session_id, candidate, sealed)
                self._cache.put(session_id, candidate, held)
            if held == value:
                return candidate
        raise VaultError("no free placeholder for a value (digest collisions)")

    def value_for(self, session_id: str, placeholder: str) -> str | None:
        held = self._cache.get(session_id, placeholder)
        if held is not None:
            return held
        sealed = self._sealed(session_id, placeholder)
        if sealed is None:
            return None
        held = self._open(session_id, placeholder, sealed)
        self._cache.put(session_id, placeholder, held)
        return held

    def known(self, session_id: str) -> Mapping[str, str]:
        rows = self._db.execute(
            "SELECT placeholder, sealed FROM gateway_vault WHERE session = ?", (session_id,)
        ).rows
        out: dict[str, str] = {}
        for placeholder, sealed in rows:
            held = self._cache.get(session_id, placeholder)
            if held is None:
                held = self._open(session_id, placeholder, bytes(sealed))
                self._cache.put(session_id, placeholder, held)
            out[placeholder] = held
        return out


def _vault_key(key: bytes | None, key_path: str) -> bytes:
    if key is not None:
        return key
    from ..detect.redact import load_key

    try:
        return load_key(key_path)
    except OSError as exc:
        raise VaultError(f"cannot read the vault key {key_path}: {exc}") from exc


class SQLiteVault(StoreVault):
    """The vault in a SQLite file (the state directory's ``gateway.db``): replicas on one machine.

    The key comes from ``key`` or from ``key_path`` (32 random bytes, created mode 0600 on first use;
    default: ``vault.key`` next to the database)."""

    def __init__(
        self,
        path: str,
        *,
        key: bytes | None = None,
        key_path: str | None = None,
        busy_timeout_ms: int = 5000,
    ) -> None:
        if key_path is None:
            key_path = os.path.join(os.path.dirname(os.path.abspath(path)), "vault.key")
        master = _vault_key(key, key_path)
        self.path = path
        db = SQLiteDatabase(path, self.DDL, busy_timeout_ms=busy_timeout_ms, error=VaultError)
        super().__init__(db, master, "given" if key is not None else key_path)


class PostgresVault(StoreVault):
    """The vault in PostgreSQL (``postgresql://…[?schema=NAME]``, schema ``ramparts_gateway`` by
    default): replicas on several machines. ``key`` or ``key_path`` as for :class:`SQLiteVault`; every
    replica must hold the same key (a key file created on a second machine is refused)."""

    def __init__(
        self,
        url: str,
        *,
        key: bytes | None = None,
        key_path: str | None = None,
        connect_timeout_s: float = 3,
        statement_timeout_ms: int = 5000,
    ) -> None:
        if key is None and key_path is None:
            raise VaultError("a PostgreSQL vault needs its key or key file (shared by every replica)")
        master = _vault_key(key, key_path or "")
        db = PostgresDatabase(
            url,
            self.DDL,
            connect_timeout_s=connect_timeout_s,
            statement_timeout_ms=statement_timeout_ms,
            error=VaultError,
        )
        super().__init__(db, master, "given" if key is not None else str(key_path))


def is_placeholder(text: str) -> bool:
    return PLACEHOLDER.fullmatch(text) is not None


__all__ = [
    "PLACEHOLDER",
    "PLACEHOLDER_MAX",
    "MemoryVault",
    "PostgresVault",
    "SQLiteVault",
    "StoreVault",
    "Vault",
    "VaultError",
    "VaultKeyMismatch",
    "is_placeholder",
    "label",
]
