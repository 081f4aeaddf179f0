"""The gateway's settings: parsed and checked once, then frozen (``ramparts gateway`` builds them from the
policy's ``gateway`` section and its flags)."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ..policy.types import DetectSettings, OutboundSettings
from .bedrock import BedrockConfig
from .decide import Limits, Mode
from .documents import DocumentPolicy
from .front import FrontLimits
from .mask import MaskPolicy
from .shapes import Shapes

MaxTokensMode = Literal["clamp", "reject"]

DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Anthropic's own limit for a Messages request is 32 MB."""


@dataclass(frozen=True)
class GatewayConfig:
    """What one gateway process does. Every limit is off (``None``/empty) unless set."""

    upstream: str
    """Base URL of the Anthropic Messages API (``https://api.anthropic.com``, a scripted server...)."""
    state_dir: str
    mask: MaskPolicy = field(default_factory=MaskPolicy)
    shapes: Shapes = field(default_factory=Shapes)
    """Unknown block types and fields (refused unless listed) and images (allowed, not inspected)."""
    documents: DocumentPolicy = field(default_factory=DocumentPolicy)
    """Base64 PDFs with findings (block or drop) and unreadable ones (block, drop or pass)."""
    models: tuple[str, ...] = ()
    """Allowed model ids, ``fnmatch`` patterns (``claude-sonnet-*``); empty: every model."""
    max_tokens: int | None = None
    max_tokens_mode: MaxTokensMode = "clamp"
    """``clamp`` lowers ``max_tokens`` to the cap (Claude Code asks for 128000 on every turn, so
    ``reject`` would refuse every turn); ``reject`` answers 400 instead."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    rate_per_minute: int | None = None
    """Requests per user per minute (a token bucket per replica)."""
    daily_tokens: int | None = None
    """Input + output tokens per user per UTC day (counted from responses' usage, shared by replicas)."""
    injection_block: float = 0.8
    injection_warn: float = 0.5
    """Thresholds for ``tool_result`` blocks (the policy's ``tool_result`` surface)."""
    description_block: float | None = None
    description_warn: float | None = None
    """Thresholds for MCP tool descriptions (the ``mcp_tool_description`` surface); ``None``: as above."""
    prompt_block: float | None = None
    prompt_warn: float | None = None
    """Thresholds for the user's own prompt, the last user message's text (the ``prompt`` surface);
    ``None``: as the tool results'."""
    prompt_action: Literal["off", "warn", "block"] = "warn"
    """``warn``: a prompt at ``prompt_warn`` or above is recorded, never refused; ``block``: refused
    (400) at ``prompt_block``; ``off``: prompts are not screened for injection."""
    upstream_key: str | None = field(default=None, repr=False)
    """Sent upstream as ``x-api-key``; from ``ANTHROPIC_API_KEY`` by default. Never logged."""
    upstream_timeout: float = 600.0
    """Seconds a whole upstream exchange may take (Claude Code's own timeout is 600 s)."""
    connect_timeout: float = 10.0
    detect: DetectSettings | None = None
    """The policy's ``detect`` section: custom entities (``pii-custom-NAME``) and IP addresses."""
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    """The policy's ``dlp.outbound``: which masked values may be restored into a sink's tool input."""
    front: FrontLimits = field(default_factory=FrontLimits)
    """Request-head deadline and size limits (:mod:`.front`)."""
    body_timeout: float = 120.0
    """Seconds a client may take to send a request body once its head has arrived (else 408)."""
    scan_workers: int | None = None
    """Detector worker processes (:mod:`.pool`); ``None``: one per CPU, at most 4; ``0``: scan on a
    thread of the gateway process itself."""
    scan_timeout: float = 30.0
    """Seconds one text's scan may take before the request is refused."""
    bedrock: BedrockConfig | None = None
    """Models routed to Amazon Bedrock (SigV4, credentials from botocore's default chain); the
    rest go to ``upstream``."""
    store_url: str | None = field(default=None, repr=False)
    """A ``postgresql://`` URL for the vault, tokens and budget (``--store-url``, the policy's
    ``gateway.store``); ``None``: ``$RAMPARTS_GATEWAY_STORE_URL``, else ``<state_dir>/gateway.db``."""
    vault_key: str | None = None
    """The vault key file; ``None``: ``$RAMPARTS_GATEWAY_VAULT_KEY``, else ``<state_dir>/vault.key``."""
    vault_retention_hours: int = 720
    """A session's vault rows are deleted this long after its first placeholder (swept hourly)."""
    mode: Mode = "enforce"
    """The policy's mode: in ``report`` the limits are recorded as would-deny, not enforced
    (:mod:`.decide` says which)."""
    audit_url: str | None = field(default=None, repr=False)
    """A ``postgresql://`` audit store; ``None``: ``$RAMPARTS_AUDIT_URL``, else ``<state_dir>/audit.db``."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, not {self.upstream!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens cap must be at least 1")
        if self.max_tokens_mode not in ("clamp", "reject"):
            raise ValueError("max_tokens_mode must be clamp or reject")
        if self.max_request_bytes < 1024:
            raise ValueError("max_request_bytes must be at least 1024")
        if self.rate_per_minute is not None and self.rate_per_minute < 1:
            raise ValueError("rate_per_minute must be at least 1")
        if self.daily_tokens is not None and self.daily_tokens < 1:
            raise ValueError("daily_tokens must be at least 1")
        if self.scan_workers is not None and not 0 <= self.scan_workers <= 64:
            raise ValueError("scan_workers must be between 0 and 64")
        if self.scan_timeout <= 0:
            raise ValueError("scan_timeout must be positive")
        if self.body_timeout <= 0:
            raise ValueError("body_timeout must be positive")
        if not 0.0 <= self.injection_warn <= self.injection_block <= 1.0:
            raise ValueError("injection thresholds must satisfy 0 <= warn <= block <= 1")
        d_block = self.injection_block if self.description_block is None else self.description_block
        d_warn = min(self.injection_warn, d_block) if self.description_warn is None else self.description_warn
        if not 0.0 <= d_warn <= d_block <= 1.0:
            raise ValueError("tool-description injection thresholds must satisfy 0 <= warn <= block <= 1")
        p_block = self.injection_block if self.prompt_block is None else self.prompt_block
        p_warn = min(self.injection_warn, p_block) if self.prompt_warn is None else self.prompt_warn
        if not 0.0 <= p_warn <= p_block <= 1.0:
            raise ValueError("prompt injection thresholds must satisfy 0 <= warn <= block <= 1")
        if self.prompt_action not in ("off", "warn", "block"):
            raise ValueError("prompt_action must be off, warn or block")
        for name, url in (("store_url", self.store_url), ("audit_url", self.audit_url)):
            if url is not None and not url.startswith(("postgresql://", "postgres://")):
                raise ValueError(f"{name} must be a postgresql:// URL (got {url.split(':', 1)[0]!r})")

    @classmethod
    def from_env(cls, upstream: str, state_dir: str, **options: Any) -> GatewayConfig:
        """A config whose upstream key comes from the environment (``ANTHROPIC_API_KEY``)."""
        options.setdefault("upstream_key", os.environ.get("ANTHROPIC_API_KEY") or None)
        return cls(upstream=upstream.rstrip("/"), state_dir=state_dir, **options)

    def workers(self) -> int:
        """How many detector processes to start."""
        if self.scan_workers is not None:
            return self.scan_workers
        return min(4, os.cpu_count() or 1)

    def limits(self) -> Limits:
        """The limits the engine's gateway decisions read."""
        return Limits(
            mode=self.mode,
            models=self.models,
            max_tokens=self.max_tokens,
            max_tokens_mode=self.max_tokens_mode,
            max_request_bytes=self.max_request_bytes,
            rate_per_minute=self.rate_per_minute,
            daily_tokens=self.daily_tokens,
            body_timeout=self.body_timeout,
        )

    def model_allowed(self, model: object) -> bool:
        if not self.models:
            return True
        return isinstance(model, str) and any(fnmatch.fnmatchcase(model, p) for p in self.models)
