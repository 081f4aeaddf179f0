"""The compiled, frozen policy, and the one declaration of every policy key.

Each field says with its default, ``timeout: int = key(10, minimum=1)`` (:mod:`ramparts.policy.decl`),
where it sits in the policy file, its JSON Schema keywords and how layers merge.
From this module alone :mod:`ramparts.policy.schema` derives the schema, :mod:`ramparts.policy.load`
merges and builds the config, and :func:`policy_from_json` reads the hook's cache. Adding a policy key
is one field here (plus its docs and tests).
"""

from __future__ import annotations

# Annotations are strings (the hook only reads values; typing is not imported on its path): the
# schema and the merge evaluate them with ramparts.policy.decl.type_hints, in this module's namespace
# plus the TYPE_CHECKING block below, where the type aliases live.
from .._tuples import NamedTuple
from .decl import DERIVED, RECORDS, Key, declare, key, lazy_alias
from .rules import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Annotated, Any, Literal

    Mode = Literal["enforce", "report"]
    Verdict = Literal["deny", "ask", "allow"]
    InjectionSurface = Literal["prompt", "tool_result", "mcp_tool_description"]
    """Where screened text comes from: a user's prompt (jailbreaks), a tool's result (PostToolUse, the
    gateway's ``tool_result`` blocks), or an MCP tool's description (the gateway's ``tools`` list)."""
    OutboundAction = Literal["deny", "ask", "allow"]
    GatewayAction = Literal["mask", "redact", "block"]
else:

    def __getattr__(name: str) -> object:  # the aliases above, for a run-time import of one
        return lazy_alias(__name__, name)


HOST_PATTERN = r"^(\*|(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?\.?|[0-9A-Fa-f:.]+)$"
"""An egress host pattern: ``*``, ``name``, ``*.name`` (subdomains) or a literal address."""
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
HOST_PORT_PATTERN = r"^(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?:" + _PORT + "$"
"""An egress per-host port: ``name:PORT`` or ``*.name:PORT`` (port 1-65535)."""
GIT_SSH_HOSTS = ("github.com:22", "gitlab.com:22", "bitbucket.org:22", "ssh.dev.azure.com:22")
"""The default ``egress.host_ports``: git over SSH to the public git hosts (reached only once the
host itself is allowed)."""
STORE_URL_PATTERN = r"^postgres(ql)?://(?![^/?#]*:[^/?#@]*@)(?!.*[?&]password=)\S+$"
"""A PostgreSQL URL without a password (neither ``user:password@`` nor ``?password=``)."""
_NAME = "^[A-Za-z0-9_.-]+$"
_STRINGS: dict[str, Any] = {"type": "string", "minLength": 1}
_UNIT: dict[str, Any] = {"minimum": 0, "maximum": 1}


@declare
class HookSettings(NamedTuple):
    timeout: int = key(10, minimum=1, maximum=600)
    """Seconds, written into the settings' hook handlers (Claude Code's unit)."""
    deadline_ms: int = key(4000, minimum=100, maximum=600000)
    """The hook's own deadline: past it, it denies. Kept well under ``timeout``."""
    max_input_bytes: int = key(16 * 1024 * 1024, minimum=1024, maximum=268435456)
    resident: bool = True
    """Install the thin client of a resident ``ramparts hook-server`` (falling back to the plain hook
    command whenever the server cannot take an event); false: the plain hook command only."""


@declare
class CompileSettings(NamedTuple):
    disable_bypass_permissions: bool = True
    allow_managed_hooks_only: bool = True
    allow_managed_permission_rules_only: bool = False
    default_mode: str = key("", schema={"enum": ["default", "acceptEdits", "plan", "dontAsk"]})
    env: tuple[tuple[str, str], ...] = key(
        (),
        is_map=True,
        merge="map",
        special="sorted_items",
        propertyNames={"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
    )


@declare
class CustomEntity(NamedTuple):
    """A kind of personal or confidential data the policy defines (``detect.pii.custom``)."""

    name: Annotated[str, Key(pattern="^[a-z0-9][a-z0-9-]*$")]
    pattern: Annotated[str, Key(minLength=1)]
    context: tuple[str, ...] = key((), items=_STRINGS)
    validator: str = key("", schema={"enum": ["luhn", "iban", "ssn", "card", "email", "phone", "ip"]})
    confidence: float = key(0.6, **_UNIT)
    severity: str = key("medium", schema={"enum": ["low", "medium", "high", "critical"]})


INJECTION_SURFACES: tuple[InjectionSurface, ...] = ("prompt", "tool_result", "mcp_tool_description")
_THRESHOLDS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"block": {"type": "number", **_UNIT}, "warn": {"type": "number", **_UNIT}},
}

_SURFACES: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": dict.fromkeys(INJECTION_SURFACES, _THRESHOLDS),
}


@declare
class InjectionModel(NamedTuple):
    """An ONNX classifier the admin provides (``detect.injection.model``), combined with the built-in
    injection score on every surface; the surfaces' thresholds apply to the combined score. The I/O
    contract is in docs/detectors.md ("The model slot"); :mod:`ramparts.detect.injection_model` loads
    and checks it, and any failure (missing file, digest mismatch, wrong signature, runtime error)
    fails closed."""

    path: str = key("", pattern="^(/.*)?$")
    """Absolute path of the ``.onnx`` file on each machine that scores (hook and gateway); empty: no
    model, the built-in scorer alone."""
    sha256: str = key("", pattern="^([0-9a-f]{64})?$")
    """The file's SHA-256, pinned: a file that does not match is refused (required with ``path``)."""
    combine: Literal["max", "weighted"] = "max"
    """``max``: the higher of the two scores; ``weighted``: ``(1 - weight) * built-in + weight * model``."""
    weight: float = key(0.5, **_UNIT)
    """The model's share of the score with ``combine: weighted``."""


@declare
class DetectSettings(NamedTuple):
    custom_entities: tuple[CustomEntity, ...] = key((), "pii.custom", merge="append", item="custom_entity")
    ip_addresses: bool = key(True, "pii.ip_addresses")
    injection_block: float = key(0.8, "injection.block", **_UNIT)
    """Injection scores at or above this block."""
    injection_warn: float = key(0.5, "injection.warn", **_UNIT)
    """... at or above this warn; below, they are only recorded."""
    injection_surfaces: tuple[tuple[InjectionSurface, float, float], ...] = key(
        (),
        "injection.surfaces",
        merge="map_deep",
        special="injection_surfaces",
        schema=_SURFACES,
    )
    """Per-surface (surface, block, warn) from ``detect.injection.surfaces``; a surface not listed
    uses ``injection_block`` and ``injection_warn``."""
    injection_prompt_action: Literal["off", "warn", "block"] = key(
        "warn", "injection.prompt_action", item="yaml_off", schema={"enum": ["off", "warn", "block", False]}
    )
    """What a user's own prompt (UserPromptSubmit, the gateway's last user message) scoring at the
    ``prompt`` surface's thresholds gets: ``warn`` (default) only warns and records, even above
    ``block``; ``block`` refuses it at ``block``; ``off`` does not screen prompts for injection (a
    bare ``off`` is YAML's false, read as ``off``)."""

    injection_model: InjectionModel = key(
        InjectionModel(),
        "injection.model",
        description="an ONNX classifier combined with the built-in injection score (docs/detectors.md)",
    )
    """The optional model slot; the default (no ``path``) scores with the built-in scorer alone."""

    def injection_thresholds(self, surface: InjectionSurface) -> tuple[float, float]:
        """(block, warn) for text seen on ``surface``: the hook and the gateway both ask here, so
        they flag the same text the same way."""
        for name, block, warn in self.injection_surfaces:
            if name == surface:
                return block, warn
        return self.injection_block, self.injection_warn


@declare
class OutboundException(NamedTuple):
    """A value that may travel to a sink after all, named by its keyed fingerprint (``b2mac:…``)."""

    fingerprint: Annotated[str, Key(pattern="^b2mac:[0-9a-f]{16}$")]
    reason: Annotated[str, Key(minLength=1)]


@declare
class OutboundSettings(NamedTuple):
    """Outbound DLP (``dlp.outbound``): what a tool call may carry to a sink (``ramparts.sinks``).

    A high-confidence secret bound for a sink is always denied; only an exception by fingerprint lets
    one through. The rest is the policy's to choose.
    """

    pii: tuple[tuple[str, OutboundAction], ...] = key(
        (),
        is_map=True,
        merge="map",
        description="detector id (pii-email, pii-custom-NAME) -> deny | ask | allow",
        propertyNames={"pattern": "^pii-[a-z0-9-]+$"},
    )
    """(detector id, action) for personal data and custom entities; unlisted ones travel."""
    possible_secrets: Literal["deny", "warn", "allow"] = "warn"
    """Secret findings below ``dlp.secret_confidence`` (never ``ask``: the prompt would show the value)."""
    local_mcp: tuple[str, ...] = key((), merge="union", items={"type": "string", "pattern": _NAME})
    """MCP servers that keep their data on this machine: not sinks."""
    sync_paths: tuple[str, ...] = key((), merge="union", item="sync_path", items=_STRINGS)
    """Paths (``Edit(...)`` syntax without the tool) whose files are synced out: writing there is a sink."""
    exceptions: tuple[OutboundException, ...] = key((), merge="union")
    """Later layers replace an exception with the same fingerprint."""

    def pii_action(self, detector: str) -> OutboundAction:
        return next((action for name, action in self.pii if name == detector), "allow")


@declare
class DlpSettings(NamedTuple):
    """What found secrets and personal data do to reads, prompts and tool results (``dlp``)."""

    max_scan_bytes: int = key(4 * 1024 * 1024, minimum=1024, maximum=268435456)
    """A file is scanned up to this many bytes before a read; the rest is not looked at."""
    secret_confidence: float = key(0.7, **_UNIT)
    """Secret findings at or above this confidence are "high confidence"."""
    read_high: Literal["deny", "ask"] = key("deny", "reads.high")
    read_low: Literal["ask", "warn", "allow"] = key("warn", "reads.low")
    prompt_secrets: Literal["block", "warn", "allow"] = key("block", "prompts.secrets")
    prompt_pii: tuple[str, ...] = key(
        ("pii-us-ssn", "pii-payment-card", "pii-iban"),
        "prompts.pii",
        items={"type": "string", "pattern": "^pii-[a-z0-9-]+$"},
    )
    """Detector ids of personal data that block a prompt."""
    result_secrets: Literal["block", "warn", "allow"] = key("warn", "tool_results.secrets")
    outbound: OutboundSettings = key(
        OutboundSettings(),
        description="what tool calls may carry to sinks (MCP, web, network, git push, synced "
        "paths); a secret is always denied unless excepted by fingerprint (docs/policy.md)",
    )


@declare
class SessionSettings(NamedTuple):
    """HIGH-04: session limits, taint and step-up re-authentication (``session``)."""

    max_duration_minutes: int = key(480, minimum=1, maximum=10080)
    idle_timeout_minutes: int = key(30, minimum=1, maximum=10080)
    max_concurrent: int = key(1, minimum=0, maximum=1000)
    """Per user; 0 means no limit."""
    taint: Literal["ask", "deny"] = "ask"
    """What a write, an execution or a network call gets after a tool result carried an injection."""
    reauth: bool = key(True, "reauth.enabled")
    """Sensitive operations are asked (a human confirms each) unless a ``ramparts reauth`` grant holds."""
    reauth_paths: tuple[str, ...] = key((), "reauth.paths", items=_STRINGS)
    """Edit-rule paths whose writes need re-authentication (``Edit(...)`` syntax without the tool)."""
    reauth_hosts: tuple[str, ...] = key(("api.anthropic.com",), "reauth.hosts", item="host", items=_STRINGS)
    """Hosts (and their subdomains; ``*`` globs allowed) reached without re-authentication: the APIs."""


@declare
class McpServer(NamedTuple):
    name: str
    tools: tuple[str, ...] = ("*",)
    """Tool names (globs) of this server that may be called."""
    approval: bool = False
    """Each call is asked."""


_MCP_SERVERS: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": _NAME},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "tools": {"type": "array", "items": _STRINGS},
            "approval": {"type": "boolean"},
            "managed": {
                "type": "object",
                "description": "the server's entry in managed-mcp.json (command/args/env or type/url)",
            },
        },
    },
}


@declare
class McpSettings(NamedTuple):
    """MED-04: which MCP servers and tools the agent may use (``mcp``)."""

    default: Verdict = "deny"
    servers: tuple[McpServer, ...] = key((), merge="map", special="mcp_servers", schema=_MCP_SERVERS)
    managed_only: bool = False
    """Compile ``allowManagedMcpServersOnly``: only the servers in ``managed-mcp.json`` load."""
    managed_servers: tuple[tuple[str, str], ...] = key((), None, special="mcp_managed")
    """(name, JSON of the server's config) written into ``managed-mcp.json`` (from ``servers``)."""
    denied: tuple[str, ...] = key((), items={"type": "string", "pattern": _NAME})
    """Servers denied outright (compiled into ``deniedMcpServers``)."""


@declare
class GitPolicy(NamedTuple):
    """HIGH-03: branches the agent may not push to or delete, and what other pushes get (``git``)."""

    protected_branches: tuple[str, ...] = key(("main", "master", "release/*"), items=_STRINGS)
    push: Verdict = "ask"


GATEWAY_BASELINE_DLP: tuple[tuple[str, GatewayAction], ...] = (
    ("secret", "mask"),
    ("pii-email", "mask"),
    ("pii-phone", "mask"),
    ("pii-us-ssn", "mask"),
    ("pii-payment-card", "mask"),
)


@declare
class BedrockSettings(NamedTuple):
    """``gateway.bedrock``: models the gateway sends to Amazon Bedrock instead of ``upstream``."""

    region: str
    models: tuple[tuple[str, str], ...]
    """(Anthropic model id glob, Bedrock model id / inference profile id / ARN), in file order."""
    endpoint_url: str | None = None


_BEDROCK: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "models routed to Amazon Bedrock (docs/gateway.md); null: none",
    "additionalProperties": False,
    "required": ["region", "models"],
    "properties": {
        "region": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"},
        "endpoint_url": {"type": "string", "pattern": "^https?://[^/\\s?#]+(/[^\\s?#]*)?$"},
        "models": {
            "type": "object",
            "description": "Anthropic model id glob -> Bedrock model id, inference profile id or ARN",
            "minProperties": 1,
            "propertyNames": {"minLength": 1, "maxLength": 200},
            "additionalProperties": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,2047}$"},
        },
    },
}
_PASS_OR_SCREEN: dict[str, Any] = {"pattern": "^[a-z][a-z0-9_]{0,63}$"}


@declare
class GatewaySettings(NamedTuple):
    """CRIT-01 layer 2: what ``ramparts gateway`` does (``gateway``). Read by the gateway only."""

    upstream: str = key("https://api.anthropic.com", item="url", pattern="^https?://[^/\\s]+(/\\S*)?$")
    models: tuple[str, ...] = key((), items=_STRINGS)
    """Allowed model ids (fnmatch globs); empty: every model."""
    max_tokens: int | None = key(None, minimum=1)
    """``max_tokens`` cap; ``None``: no cap."""
    max_tokens_mode: Literal["clamp", "reject"] = "clamp"
    max_request_bytes: int = key(32 * 1024 * 1024, minimum=1024, maximum=1073741824)
    rate_per_minute: int | None = key(None, minimum=1)
    """Requests per user per minute (per replica); ``None``: no limit."""
    daily_tokens: int | None = key(None, minimum=1)
    """Tokens per user per UTC day (shared by replicas); ``None``: no budget."""
    store: str | None = key(
        None,
        description="postgresql:// URL of the store shared by gateway replicas (vault, tokens, budget); "
        "no password: the policy is read on every machine",
        pattern=STORE_URL_PATTERN,
    )
    """A ``postgresql://`` URL (no password) for the state replicas share; ``None``: the state dir's file."""
    vault_retention_hours: int = key(
        720,
        minimum=1,
        maximum=87600,
        description="hours a session's placeholders are kept in the vault (from its first one); older "
        "sessions' rows are deleted, and their placeholders are no longer restored",
    )
    """A session's vault rows are deleted this long after its first placeholder (30 days by default)."""
    dlp: tuple[tuple[str, GatewayAction], ...] = key(
        GATEWAY_BASELINE_DLP,
        is_map=True,
        merge="map",
        special="gateway_dlp",
        description="secrets, pii, a detector id (pii-email, aws-access-key-id) or a prefix* -> "
        "mask | redact | block",
        propertyNames={"pattern": "^[a-z0-9][a-z0-9-]*\\*?$"},
    )
    """(key, action): key a detector id, a ``prefix*`` or a category (``secret``, ``pii``)."""
    bedrock: BedrockSettings | None = key(None, special="bedrock", schema=_BEDROCK)
    images: Literal["allow", "refuse"] = key(
        "allow", description="images are never inspected; refuse answers 400 to a request with one"
    )
    """Images are not inspected; ``refuse`` answers 400 to a request carrying one."""
    documents_findings: Literal["block", "drop"] = key(
        "drop",
        "documents.findings",
        description="a PDF holding a value a mask/redact rule names: drop (a notice in its place; "
        "default) or block (400); a block rule always blocks",
    )
    """A base64 PDF whose text holds a value a ``dlp`` rule names: drop the document, or refuse."""
    documents_unreadable: Literal["block", "drop", "pass"] = key(
        "block",
        "documents.unreadable",
        description="a PDF that cannot be parsed (or another binary document): refuse (fail "
        "closed), drop, or send unscreened",
    )
    """A PDF that cannot be parsed, or another binary document: refuse (fail closed), drop, or pass."""
    documents_max_pages: int = key(200, "documents.max_pages", minimum=1, maximum=10000)
    unknown_blocks: tuple[tuple[str, Literal["pass", "screen"]], ...] = key(
        (),
        is_map=True,
        merge="map",
        description="content block types the gateway does not know -> pass (sent unscreened) | "
        "screen (every string masked); others are refused",
        propertyNames=_PASS_OR_SCREEN,
    )
    """Block types the gateway does not know that may go through (unscreened, or screened); others: 400."""
    unknown_fields: tuple[tuple[str, Literal["pass", "screen"]], ...] = key(
        (),
        is_map=True,
        merge="map",
        description="top-level request fields the gateway does not know -> pass | screen; others are refused",
        propertyNames=_PASS_OR_SCREEN,
    )
    """Top-level fields the gateway does not know that may go through; others: 400."""


_HOSTS: dict[str, Any] = {"type": "string", "pattern": HOST_PATTERN}


@declare
class EgressSettings(NamedTuple):
    """HIGH-02: what the egress proxy lets out (``egress``); the hook applies its denials too.

    ``allow`` and ``deny`` extend the built-in lists (``ramparts.egress.acl``: the model API; paste
    sites, tunnels, request bins). Ranges are CIDR strings, checked when the policy is loaded."""

    mode: Literal["enforce", "report", "open"] = "enforce"
    allow: tuple[str, ...] = key((), merge="union", items=_HOSTS)
    deny: tuple[str, ...] = key((), merge="union", items=_HOSTS)
    allow_ranges: tuple[str, ...] = key(
        (), merge="union", item="cidr", items={"type": "string", "minLength": 2, "maxLength": 64}
    )
    doh: Literal["deny", "allow"] = "deny"
    max_upload_bytes: int = key(1024 * 1024, "anomalies.max_upload_bytes", minimum=1024)
    max_requests_per_minute: int = key(100, "anomalies.max_requests_per_minute", minimum=1)
    first_seen: bool = key(True, "anomalies.first_seen")
    tunnel_label_length: int = key(40, "anomalies.tunnel_label_length", minimum=16, maximum=63)
    tunnel_entropy: float = key(3.5, "anomalies.tunnel_entropy", minimum=2, maximum=6)
    tunnel_subdomains: int = key(50, "anomalies.tunnel_subdomains", minimum=2)
    ports: tuple[int, ...] = key(
        (80, 443),
        description="the ports a name or public address may be reached on (allowed ranges: any)",
        items={"type": "integer", "minimum": 1, "maximum": 65535},
        uniqueItems=True,
    )
    """The ports a name or a public address may be reached on (a later layer replaces the list); an
    address in ``allow_ranges`` (an internal service the policy names) may be reached on any port."""
    host_ports: tuple[str, ...] = key(
        GIT_SSH_HOSTS,
        description="NAME:PORT pairs: one more port for hosts the allow list already lets through",
        items={"type": "string", "pattern": HOST_PORT_PATTERN},
        uniqueItems=True,
    )
    """``name:PORT`` (or ``*.name:PORT``): that port too, for that host only, when the allow list lets the
    host through (it allows no host). The default is git over SSH to the public git hosts; a later
    layer replaces the list (``host_ports: []`` takes them away)."""
    proxy: str = key(
        "",
        description="HOST:PORT of `ramparts egress`: compile points Claude Code's sandbox at it",
        pattern="^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
    )
    """``HOST:PORT`` of ``ramparts egress``: when set, ``ramparts compile`` writes Claude Code's sandbox
    keys pointing at it and ``HTTPS_PROXY``/``HTTP_PROXY`` for the Claude Code process."""


_RULE: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["rule"],
            "properties": {
                "rule": {"type": "string", "minLength": 1},
                "id": {"type": "string", "pattern": "^[A-Za-z0-9_.:\\-]+$"},
                "reason": {"type": "string"},
                "ask": {
                    "enum": ["local", "remote"],
                    "description": "ask rules only: remote sends the question to an approver through the "
                    "control plane (docs/server.md)",
                },
            },
        },
    ]
}
_RULES: dict[str, Any] = {"type": "array", "items": _RULE}


def _section(what: str) -> str:
    """``ship``, ``server`` and ``monitor``: kept as canonical JSON, checked by their owner's parser."""
    return key(
        "", special="section", schema={"type": "object", "description": f"{what}; checked when loaded"}
    )


@declare
class Policy(NamedTuple):
    revision: Annotated[str, DERIVED]
    """Content hash of the policy file and the profiles it extends."""
    source: Annotated[str, DERIVED]
    base_dir: Annotated[str, DERIVED]
    mode: Mode = "enforce"
    default: Verdict = key("ask", "permissions.default")
    deny: tuple[Rule, ...] = key((), "permissions.deny", special="rules", schema=_RULES)
    ask: tuple[Rule, ...] = key((), "permissions.ask", special="rules", schema=_RULES)
    allow: tuple[Rule, ...] = key((), "permissions.allow", special="rules", schema=_RULES)
    sensitive_paths: tuple[str, ...] = key((), merge="union", items=_STRINGS)
    opaque_shell: Literal["deny", "ask"] = key("ask", "shell.opaque")
    inline_code: Literal["deny", "ask"] = key("ask", "shell.inline_code")
    """What code handed to an interpreter inline (``python3 -c``, ``perl -e``) gets at most."""
    allow_read_only: bool = key(False, "shell.allow_read_only")
    """Allow commands the built-in read-only table knows cannot change anything (``shell/readonly.py``)."""
    paths_ignore_case: bool = key(True, "permissions.paths_ignore_case")
    """Deny and ask path rules match regardless of letter case (``.ENV`` is ``.env`` on macOS and Windows)."""
    hook: HookSettings = HookSettings()
    settings: CompileSettings = CompileSettings()
    extends: tuple[str, ...] = key((), None)
    """The profiles the file extends, base first (the file's ``extends`` names the nearest)."""
    detect: DetectSettings = DetectSettings()
    dlp: DlpSettings = DlpSettings()
    session: SessionSettings = SessionSettings()
    mcp: McpSettings = McpSettings()
    git: GitPolicy = GitPolicy()
    ship: str = _section("audit shipping: sinks and checkpoint sinks (docs/shipping.md)")
    """The ``ship:`` section as canonical JSON ('' when absent): parsed by ``ramparts.audit.ship_config``."""
    server: str = _section("the control plane hosts report to and take kill orders from (docs/server.md)")
    """The ``server:`` section as canonical JSON ('' when absent): parsed by ``ramparts.server.config``."""
    monitor: str = _section("behaviour rules the control plane applies to every session (docs/server.md)")
    """The ``monitor:`` section as canonical JSON ('' when absent): parsed by ``ramparts.monitor``."""
    gateway: GatewaySettings = GatewaySettings()
    egress: EgressSettings = key(
        EgressSettings(),
        description="the egress proxy's lists and limits (docs/egress.md); the hook applies its denials",
    )


FILE_ONLY: dict[str, dict[str, Any]] = {
    "version": {"const": 1},
    "extends": {"enum": ["baseline", "strict", "readonly", "none"]},
    "permissions.drop": {"type": "array", "items": _STRINGS},
}
"""Keys of the file that are not fields of the config: the format version, the profile a file
extends (``Policy.extends`` lists the resolved chain) and rules dropped from extended profiles."""
FILE_REQUIRED = ("version",)
FILE_OBJECTS: dict[str, dict[str, Any]] = {
    "gateway.documents": {"description": "base64 PDF documents: their text is extracted and scanned"},
}
"""Schema keywords for objects of the file that only group keys (``gateway.documents``)."""


# -- the hook's cache: the frozen config as marshal-ready data that needs no type to read back ------

RECORDS[Rule.__name__] = Rule
_SCALARS = (str, int, float, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)


def policy_to_cache(policy: Policy) -> list[Any]:
    """The compiled policy as data ``marshal`` writes (for the hook's cache): each NamedTuple a list of
    its class's name then its fields, each other tuple a tuple, scalars as they are. Raises
    ``TypeError`` on anything else (the cache is then not written)."""
    return _to_cache(policy)  # type: ignore[no-any-return]


def _to_cache(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple:
        return tuple(_to_cache(item) for item in value)
    if RECORDS.get(kind.__name__) is kind:
        return [kind.__name__, *(_to_cache(item) for item in value)]
    raise TypeError(f"not cached: {kind.__name__}")


def policy_from_cache(data: Any) -> Policy:
    """The compiled policy from :func:`policy_to_cache`'s form, checked shallowly (each record of a
    declared class and with its number of fields, nothing but tuples and scalars besides); raises
    ``TypeError``/``ValueError`` on any other form (a stale or damaged cache is then compiled afresh)."""
    policy = _from_cache(data)
    if type(policy) is not Policy:
        raise TypeError("not a compiled policy")
    return policy


def _from_cache(value: Any) -> Any:
    # The checks run in C where they can: a tuple or a record of scalars only (most of them: the rules)
    # is taken as marshal built it.
    kind = type(value)
    if kind in _SCALAR_TYPES:
        return value
    if kind is tuple:
        if _SCALAR_TYPES.issuperset(map(type, value)):
            return value
        return tuple([item if type(item) in _SCALAR_TYPES else _from_cache(item) for item in value])
    if kind is not list or not value:
        raise TypeError(f"not a cached value: {kind.__name__}")
    name = value[0]
    cls: Any = RECORDS.get(name) if type(name) is str else None
    if cls is None:
        raise ValueError(f"not a declared record: {name!r}")
    if len(value) != len(cls._fields) + 1:
        raise ValueError(f"{cls.__name__}: expected {len(cls._fields)} fields")
    fields = value[1:]
    if not _SCALAR_TYPES.issuperset(map(type, fields)):
        fields = [item if type(item) in _SCALAR_TYPES else _from_cache(item) for item in fields]
    return tuple.__new__(cls, fields)


# -- the same as nested JSON arrays, read back by the declared field types (not the hook's cache) ------


def policy_to_json(policy: Policy) -> list[Any]:
    """A JSON-ready form of a compiled policy: every NamedTuple an array."""
    return _plain(policy)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def policy_from_json(data: Any) -> Policy:
    """The compiled policy from :func:`policy_to_json`'s form; raises ``TypeError``/``ValueError`` on
    a form that does not fit the declaration."""
    return _reader(Policy)(data)  # type: ignore[no-any-return]


_READERS: dict[Any, Callable[[Any], Any]] = {}


def _same(value: Any) -> Any:
    return value


def _reader(tp: Any) -> Callable[[Any], Any]:
    """A function reading JSON data into values of type ``tp`` (built once per type, then reused)."""
    found = _READERS.get(tp)
    if found is not None:
        return found
    import types
    import typing

    origin = typing.get_origin(tp)
    reader: Callable[[Any], Any]
    if origin is typing.Annotated:
        reader = _reader(typing.get_args(tp)[0])
    elif isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields"):
        reader = _record_reader(tp)
    elif origin is tuple:
        reader = _tuple_reader(typing.get_args(tp))
    elif origin is typing.Union or origin is types.UnionType:
        inner = _reader(next(arg for arg in typing.get_args(tp) if arg is not type(None)))
        reader = lambda value: None if value is None else inner(value)  # noqa: E731
    elif tp is float:
        reader = _float
    else:  # str, int, bool, Literal[...]: JSON already gives the value
        reader = _same
    _READERS[tp] = reader
    return reader


def _float(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _record_reader(cls: Any) -> Callable[[Any], Any]:
    from .decl import type_hints

    fields = [_reader(tp) for tp in type_hints(cls).values()]
    count = len(fields)
    plain = all(read is _same for read in fields)  # a rule: strings only, read as they are

    def read(value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) != count:
            raise ValueError(f"{cls.__name__}: expected {count} fields")
        if plain:
            return cls._make(value)
        return cls._make([read_field(item) for read_field, item in zip(fields, value, strict=True)])

    return read


def _tuple_reader(args: tuple[Any, ...]) -> Callable[[Any], Any]:
    if len(args) == 2 and args[1] is Ellipsis:
        item = _reader(args[0])
        return lambda value: tuple(item(v) for v in value)
    items = [_reader(arg) for arg in args]

    def read(value: Any) -> tuple[Any, ...]:
        if len(value) != len(items):
            raise ValueError(f"expected {len(items)} items")
        return tuple(read_item(v) for read_item, v in zip(items, value, strict=True))

    return read
