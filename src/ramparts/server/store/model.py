"""The store's row types, token format and shared constants."""

from __future__ import annotations

import hashlib
import re
from typing import Literal, NamedTuple

TokenKind = Literal["host", "admin"]
Scope = Literal["session", "user", "all"]
DEFAULT_SCHEMA = "ramparts_server"
TOKEN_PREFIX = "rpt_"  # noqa: S105 - a prefix, not a secret
_TOKEN = re.compile(r"rpt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_RANK = {"low": 0, "medium": 1, "high": 2}
_DUMMY_HASH: dict[str, str] = {}  # an unknown user's check costs one argon2 verify, like a known one


class TokenInfo(NamedTuple):
    id: str
    kind: TokenKind
    name: str
    created: float
    revoked: float | None


class KillOrder(NamedTuple):
    scope: Scope
    target: str
    reason: str
    by: str
    at: float


OrderKind = Literal["end", "reauth"]
MAX_GRANT_MINUTES = 480.0
"""The longest re-auth grant an order may give (as ``ramparts reauth``'s limit)."""


class SessionOrder(NamedTuple):
    """An order for one session, given in the dashboard (or the API) and applied by the host that runs it:
    ``end`` closes the session (its next tool call is denied), ``reauth`` grants the step-up for
    ``minutes``. ``state`` is ``pending`` until a host acknowledges it, then ``applied``."""

    id: str
    kind: OrderKind
    session: str
    reason: str
    minutes: float
    by: str
    created: float
    state: str
    applied_at: float | None
    applied_by: str
    outcome: str


_ORDER_COLUMNS = (
    "id, kind, session, reason, minutes, by_whom, created, state, applied_at, applied_by, outcome"
)


class Alert(NamedTuple):
    id: int
    at: float
    severity: str
    rule: str
    host: str
    user: str
    session: str
    log_id: str
    message: str
    response: str
    acknowledged: float | None


class LogInfo(NamedTuple):
    log_id: str
    host: str
    state: str
    problem: str
    size: int
    verified_size: int
    first_seen: float
    last_seen: float


class Approval(NamedTuple):
    id: str
    created: float
    host: str
    session: str
    user: str
    tool: str
    summary: str
    """The tool input as the hook's record holds it (redacted), as JSON."""
    reasons: str
    state: str
    """``pending``, ``allow``, ``deny`` or ``expired``."""
    decided_by: str
    decided_at: float | None
    reason: str
    expires: float


_APPROVAL_COLUMNS = "id, created, host, session, user_name, tool, summary, reasons, state, decided_by, decided_at, reason, expires"


UNKNOWN_KEY = "unknown signing key"
_UNKNOWN_REASON = re.compile(r"unknown signing key of token ([0-9a-f]+): (\S+)")


class HostKey(NamedTuple):
    """A log signing key bound to a host token: ``enrolled`` (the token's first batch), ``pinned`` (an
    admin), ``existing`` (a log the token shipped before keys were bound) or ``unknown`` (seen, not bound:
    its batches are quarantined)."""

    token_id: str
    host: str
    verifier: str
    source: str
    by: str
    at: float


class IngestResult(NamedTuple):
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    checkpoints: int = 0
    alerts: int = 0
    kills: int = 0
    state: str = "ok"


class ForeignLogError(Exception):
    """The batch's log was first shipped with another token (another host's log)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
