"""The control plane's store: one layer over SQLite (default, ``<state_dir>/server.db``) or PostgreSQL.

Tables: ``tokens`` (hashes only), ``logs`` (one per host audit log: its verifier, the Merkle frontier of
the records received in order, the last verified checkpoint, ``state`` ``ok`` or ``rewritten``),
``records`` (each by ``(log_id, seq)``: the envelope bytes and leaf hash, with a few columns for queries),
``checkpoints``, ``quarantine`` (what contradicted a log's history: stored apart, never merged),
``alerts``, ``kills`` (the central kill orders), ``session_orders`` (end and re-auth orders for one
session, pending until its host applies them) and ``monitor_state`` (the behaviour rules' per-session
features).

An ingest runs in ONE transaction holding the log's row lock (``SELECT … FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE``): duplicates are dropped by ``(log_id, seq)``, a record whose leaf differs from the one
already held, a checkpoint whose root is not the root of the records held, or one not signed by the log's
key, puts the log in state ``rewritten`` (alerted) and what contradicted it in ``quarantine``; from then on
that log's batches go to quarantine too. The behaviour rules (:mod:`ramparts.monitor`) run on the new
records in the same transaction, so an alert and an automatic kill order commit with the records that
caused them.

Layout: ``schema`` (the tables), ``model`` (row types, token format), ``base`` (connections, transactions,
the shared alert and kill writers), ``identity`` (tokens, people), ``orders`` (kill orders, approvals),
``ingest`` (batches and the behaviour rules), ``telemetry``, ``delivery`` (the alerts' outbox) and
``queries`` (the read side). :class:`ServerStore` is all of them over one pool.
"""

from __future__ import annotations

from .base import StoreBase, _Tx
from .delivery import DeliveryStore
from .identity import IdentityStore
from .ingest import IngestStore
from .model import (
    DEFAULT_SCHEMA,
    TOKEN_PREFIX,
    Alert,
    Approval,
    ForeignLogError,
    HostKey,
    IngestResult,
    KillOrder,
    LogInfo,
    Scope,
    SessionOrder,
    TokenInfo,
    TokenKind,
    token_hash,
)
from .orders import OrderStore
from .queries import QueryStore
from .telemetry import TelemetryStore

__all__ = [
    "DEFAULT_SCHEMA",
    "TOKEN_PREFIX",
    "Alert",
    "Approval",
    "ForeignLogError",
    "HostKey",
    "IngestResult",
    "KillOrder",
    "LogInfo",
    "Scope",
    "ServerStore",
    "SessionOrder",
    "StoreBase",
    "TokenInfo",
    "TokenKind",
    "_Tx",
    "token_hash",
]


class ServerStore(IdentityStore, OrderStore, IngestStore, TelemetryStore, DeliveryStore, QueryStore):
    """``ServerStore(path_or_url)``: safe to share between threads (a small connection pool)."""
