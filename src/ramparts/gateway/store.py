"""Where the gateway keeps its shared state, and opening it: the vault, the client tokens, the budget.

The location is a ``postgresql://`` URL (``--store-url``, else ``$RAMPARTS_GATEWAY_STORE_URL``, else
the policy's ``gateway.store``) or, by default, ``<state_dir>/gateway.db``. On PostgreSQL every replica
behind one address reads and writes the same rows (schema ``ramparts_gateway``, or ``?schema=NAME``), so
one replica restores the placeholders another made and the daily budget is counted once.

The vault key is a file: ``--vault-key FILE``, else ``$RAMPARTS_GATEWAY_VAULT_KEY``, else
``<state_dir>/vault.key`` (32 random bytes, created mode 0600 on first use). Replicas sharing a store
must hold the same file; the store keeps a check value, and a replica with another key refuses to start.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from ._db import GatewayStoreError, is_postgres_url
from .limits import UsageStore
from .tokens import TokenStore
from .vault import PostgresVault, SQLiteVault, StoreVault

STORE_URL_ENV = "RAMPARTS_GATEWAY_STORE_URL"
VAULT_KEY_ENV = "RAMPARTS_GATEWAY_VAULT_KEY"


def store_location(state_dir: str, url: str | None = None) -> str:
    """``url``, else ``$RAMPARTS_GATEWAY_STORE_URL``, else ``<state_dir>/gateway.db``."""
    url = url or os.environ.get(STORE_URL_ENV) or None
    if url is None:
        return os.path.join(state_dir, "gateway.db")
    if not is_postgres_url(url):
        raise GatewayStoreError(
            f"the gateway store URL must start with postgresql:// (got {url.split(':', 1)[0]!r})"
        )
    return url


def vault_key_path(state_dir: str, path: str | None = None) -> str:
    """``path``, else ``$RAMPARTS_GATEWAY_VAULT_KEY``, else ``<state_dir>/vault.key``."""
    return os.path.abspath(path or os.environ.get(VAULT_KEY_ENV) or os.path.join(state_dir, "vault.key"))


class Stores(NamedTuple):
    vault: StoreVault
    tokens: TokenStore
    usage: UsageStore

    def close(self) -> None:
        for store in self:
            store.close()


def open_stores(location: str, *, key_path: str) -> Stores:
    """The vault, token store and usage store at ``location`` (a SQLite path or a PostgreSQL URL), each
    with its own connection. Raises :class:`GatewayStoreError` (the vault's :class:`VaultError`, e.g. a
    key that does not match the store) and leaves nothing open when one of them fails."""
    opened: list[StoreVault | TokenStore | UsageStore] = []
    try:
        vault: StoreVault = (
            PostgresVault(location, key_path=key_path)
            if is_postgres_url(location)
            else SQLiteVault(location, key_path=key_path)
        )
        opened.append(vault)
        tokens = TokenStore(location)
        opened.append(tokens)
        usage = UsageStore(location)
    except BaseException:
        for store in opened:
            store.close()
        raise
    return Stores(vault, tokens, usage)


def open_token_store(state_dir: str, url: str | None = None) -> TokenStore:
    """The token store ``ramparts gateway token create`` writes to: the gateway's own."""
    location = store_location(state_dir, url)
    if not is_postgres_url(location):
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
    return TokenStore(location)


__all__ = [
    "STORE_URL_ENV",
    "VAULT_KEY_ENV",
    "GatewayStoreError",
    "Stores",
    "open_stores",
    "open_token_store",
    "store_location",
    "vault_key_path",
]
