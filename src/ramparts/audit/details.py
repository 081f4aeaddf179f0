"""The audit record's details of the surfaces other than the hook: the gateway's, the egress proxy's and
people's orders (:class:`~ramparts.audit.record.AuditRecord` holds at most one detail).

Apart from :mod:`ramparts.audit.record` so that the hook, which builds a record on every event and
only ever a ``HookDetail``, does not build these three classes each time (some 0.8 M instructions);
``ramparts.audit.record`` still names them (loaded on first use).
"""

from __future__ import annotations

from .._tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class GatewayDetail(NamedTuple):
    """What only the model-API gateway knows about one request."""

    route: str = ""
    method: str = ""
    status: int = 0
    outcome: str = ""
    """``ok``, ``denied``, ``upstream_error``, ``store_error``, ``partial``, ``client_aborted``."""
    replica: str = ""
    token_id: str = ""
    model: str = ""
    stream: bool = False
    request_bytes: int = 0
    upstream_bytes: int = 0
    response_bytes: int = 0
    max_tokens_asked: int = 0
    max_tokens_sent: int = 0
    masked: int = 0
    """How many values were masked, redacted or blocked (the findings list the first 100)."""
    screened_results: int = 0
    """How many tool results were screened for injection."""
    refused: str = ""
    """What the request walk refused: the kind (block, field, source, image, document), its name and
    where (``block 'x' at messages[1].content[0]``)."""
    restored: int = 0
    upstream_status: int = 0
    """The status the upstream answered, when the gateway answered another one."""
    upstream: str = ""
    """``bedrock`` when the request went to Amazon Bedrock; empty for the Anthropic upstream."""
    streamed: bool = False
    events: int = 0
    unknown_placeholders: int = 0
    malformed_events: int = 0
    withheld: int = 0
    """Placeholders left in a sink's tool input because the policy does not let them travel there."""
    usage: dict[str, int] | None = None
    prepare_ms: float = 0.0
    ttfb_ms: float = 0.0
    latency_ms: float = 0.0


class EgressDetail(NamedTuple):
    """What only the egress proxy knows about one connection or request."""

    protocol: str = ""
    """``connect``, ``http``, ``socks5``, ``dns``."""
    target: str = ""
    """The host (or address) and port the client asked for, as it asked."""
    address: str = ""
    """The address the proxy classified and dialled."""
    address_class: str = ""
    sni: str = ""
    method: str = ""
    bytes_up: int = 0
    bytes_down: int = 0
    mode: str = ""
    client: str = ""
    """The per-session proxy credential's id (never the credential)."""
    anomalies: tuple[str, ...] = ()


class AdminDetail(NamedTuple):
    """An order a person gave (kill, clear, re-auth, end) or an action of the control plane."""

    action: str = ""
    target: dict[str, str] | None = None
    details: dict[str, Any] | None = None
