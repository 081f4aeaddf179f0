"""The compiled, frozen policy. Built once by :mod:`ramparts.policy.load`; read by the engine and compilers."""

# No `from __future__ import annotations`: typing.NamedTuple would compile each string annotation
# into a ForwardRef on every hook start; evaluated annotations cost little.

from typing import Any, Literal, NamedTuple

from .rules import Rule

Mode = Literal["enforce", "report"]


class HookSettings(NamedTuple):
    timeout: int = 10
    """Seconds, written into the settings' hook handlers (Claude Code's unit)."""
    deadline_ms: int = 4000
    """The hook's own deadline: past it, it denies. Kept well under ``timeout``."""
    max_input_bytes: int = 16 * 1024 * 1024
    resident: bool = True
    """Install the thin client of a resident ``ramparts hook-server`` (falling back to the plain hook
    command whenever the server cannot take an event); false: the plain hook command only."""


class CompileSettings(NamedTuple):
    disable_bypass_permissions: bool = True
    allow_managed_hooks_only: bool = True
    allow_managed_permission_rules_only: bool = False
    default_mode: str = ""
    env: tuple[tuple[str, str], ...] = ()


class CustomEntity(NamedTuple):
    """A kind of personal or confidential data the policy defines (``detect.pii.custom``)."""

    name: str
    pattern: str
    context: tuple[str, ...] = ()
    validator: str = ""
    confidence: float = 0.6
    severity: str = "medium"


InjectionSurface = Literal["prompt", "tool_result", "mcp_tool_description"]
"""Where screened text comes from: a user's prompt (jailbreaks), a tool's result (PostToolUse, the
gateway's ``tool_result`` blocks), or an MCP tool's description (the gateway's ``tools`` list)."""
INJECTION_SURFACES: tuple[InjectionSurface, ...] = ("prompt", "tool_result", "mcp_tool_description")


class DetectSettings(NamedTuple):
    custom_entities: tuple[CustomEntity, ...] = ()
    ip_addresses: bool = True
    injection_block: float = 0.8
    """Injection scores at or above this block."""
    injection_warn: float = 0.5
    """... at or above this warn; below, they are only recorded."""
    injection_surfaces: tuple[tuple[InjectionSurface, float, float], ...] = ()
    """Per-surface (surface, block, warn) from ``detect.injection.surfaces``; a surface not listed
    uses ``injection_block`` and ``injection_warn``."""
    injection_prompt_action: Literal["off", "warn", "block"] = "warn"
    """What a user's own prompt (UserPromptSubmit, the gateway's last user message) scoring at the
    ``prompt`` surface's thresholds gets: ``warn`` (default) only warns and records, even above
    ``block``; ``block`` refuses it at ``block``; ``off`` does not screen prompts for injection."""

    def injection_thresholds(self, surface: InjectionSurface) -> tuple[float, float]:
        """(block, warn) for text seen on ``surface``: the hook and the gateway both ask here, so
        they flag the same text the same way."""
        for name, block, warn in self.injection_surfaces:
            if name == surface:
                return block, warn
        return self.injection_block, self.injection_warn


class OutboundException(NamedTuple):
    """A value that may travel to a sink after all, named by its keyed fingerprint (``b2mac:…``)."""

    fingerprint: str
    reason: str = ""


OutboundAction = Literal["deny", "ask", "allow"]


class OutboundSettings(NamedTuple):
    """Outbound DLP (``dlp.outbound``): what a tool call may carry to a sink (``ramparts.sinks``).

    A high-confidence secret bound for a sink is always denied; only an exception by fingerprint lets
    one through. The rest is the policy's to choose.
    """

    pii: tuple[tuple[str, OutboundAction], ...] = ()
    """(detector id, action) for personal data and custom entities; unlisted ones travel."""
    possible_secrets: Literal["deny", "warn", "allow"] = "warn"
    """Secret findings below ``dlp.secret_confidence`` (never ``ask``: the prompt would show the value)."""
    local_mcp: tuple[str, ...] = ()
    """MCP servers that keep their data on this machine: not sinks."""
    sync_paths: tuple[str, ...] = ()
    """Paths (``Edit(...)`` syntax without the tool) whose files are synced out: writing there is a sink."""
    exceptions: tuple[OutboundException, ...] = ()

    def pii_action(self, detector: str) -> OutboundAction:
        return next((action for name, action in self.pii if name == detector), "allow")


class DlpSettings(NamedTuple):
    """What found secrets and personal data do to reads, prompts and tool results (``dlp``)."""

    max_scan_bytes: int = 4 * 1024 * 1024
    """A file is scanned up to this many bytes before a read; the rest is not looked at."""
    secret_confidence: float = 0.7
    """Secret findings at or above this confidence are "high confidence"."""
    read_high: Literal["deny", "ask"] = "deny"
    read_low: Literal["ask", "warn", "allow"] = "warn"
    prompt_secrets: Literal["block", "warn", "allow"] = "block"
    prompt_pii: tuple[str, ...] = ("pii-us-ssn", "pii-payment-card", "pii-iban")
    """Detector ids of personal data that block a prompt."""
    result_secrets: Literal["block", "warn", "allow"] = "warn"
    outbound: OutboundSettings = OutboundSettings()


class SessionSettings(NamedTuple):
    """HIGH-04: session limits, taint and step-up re-authentication (``session``)."""

    max_duration_minutes: int = 480
    idle_timeout_minutes: int = 30
    max_concurrent: int = 1
    """Per user; 0 means no limit."""
    taint: Literal["ask", "deny"] = "ask"
    """What a write, an execution or a network call gets after a tool result carried an injection."""
    reauth: bool = True
    """Sensitive operations are asked (a human confirms each) unless a ``ramparts reauth`` grant holds."""
    reauth_paths: tuple[str, ...] = ()
    """Edit-rule paths whose writes need re-authentication (``Edit(...)`` syntax without the tool)."""
    reauth_hosts: tuple[str, ...] = ("api.anthropic.com",)
    """Hosts (and their subdomains; ``*`` globs allowed) reached without re-authentication: the APIs."""


class McpServer(NamedTuple):
    name: str
    tools: tuple[str, ...] = ("*",)
    """Tool names (globs) of this server that may be called."""
    approval: bool = False
    """Each call is asked."""


class McpSettings(NamedTuple):
    """MED-04: which MCP servers and tools the agent may use (``mcp``)."""

    default: Literal["deny", "ask", "allow"] = "deny"
    servers: tuple[McpServer, ...] = ()
    managed_only: bool = False
    """Compile ``allowManagedMcpServersOnly``: only the servers in ``managed-mcp.json`` load."""
    managed_servers: tuple[tuple[str, str], ...] = ()
    """(name, JSON of the server's config) written into ``managed-mcp.json``."""
    denied: tuple[str, ...] = ()
    """Servers denied outright (compiled into ``deniedMcpServers``)."""


class GitPolicy(NamedTuple):
    """HIGH-03: branches the agent may not push to or delete, and what other pushes get (``git``)."""

    protected_branches: tuple[str, ...] = ("main", "master", "release/*")
    push: Literal["deny", "ask", "allow"] = "ask"


GatewayAction = Literal["mask", "redact", "block"]

GATEWAY_BASELINE_DLP: tuple[tuple[str, GatewayAction], ...] = (
    ("secret", "mask"),
    ("pii-email", "mask"),
    ("pii-phone", "mask"),
    ("pii-us-ssn", "mask"),
    ("pii-payment-card", "mask"),
)


class BedrockSettings(NamedTuple):
    """``gateway.bedrock``: models the gateway sends to Amazon Bedrock instead of ``upstream``."""

    region: str
    models: tuple[tuple[str, str], ...]
    """(Anthropic model id glob, Bedrock model id / inference profile id / ARN), in file order."""
    endpoint_url: str | None = None


class GatewaySettings(NamedTuple):
    """CRIT-01 layer 2: what ``ramparts gateway`` does (``gateway``). Read by the gateway only."""

    upstream: str = "https://api.anthropic.com"
    models: tuple[str, ...] = ()
    """Allowed model ids (fnmatch globs); empty: every model."""
    max_tokens: int | None = None
    """``max_tokens`` cap; ``None``: no cap."""
    max_tokens_mode: Literal["clamp", "reject"] = "clamp"
    max_request_bytes: int = 32 * 1024 * 1024
    rate_per_minute: int | None = None
    """Requests per user per minute (per replica); ``None``: no limit."""
    daily_tokens: int | None = None
    """Tokens per user per UTC day (shared by replicas); ``None``: no budget."""
    store: str | None = None
    """A ``postgresql://`` URL (no password) for the state replicas share; ``None``: the state dir's file."""
    vault_retention_hours: int = 720
    """A session's vault rows are deleted this long after its first placeholder (30 days by default)."""
    dlp: tuple[tuple[str, GatewayAction], ...] = GATEWAY_BASELINE_DLP
    """(key, action): key a detector id, a ``prefix*`` or a category (``secret``, ``pii``)."""
    bedrock: BedrockSettings | None = None
    images: Literal["allow", "refuse"] = "allow"
    """Images are not inspected; ``refuse`` answers 400 to a request carrying one."""
    documents_findings: Literal["block", "drop"] = "drop"
    """A base64 PDF whose text holds a value a ``dlp`` rule names: drop the document, or refuse."""
    documents_unreadable: Literal["block", "drop", "pass"] = "block"
    """A PDF that cannot be parsed, or another binary document: refuse (fail closed), drop, or pass."""
    documents_max_pages: int = 200
    unknown_blocks: tuple[tuple[str, Literal["pass", "screen"]], ...] = ()
    """Block types the gateway does not know that may go through (unscreened, or screened); others: 400."""
    unknown_fields: tuple[tuple[str, Literal["pass", "screen"]], ...] = ()
    """Top-level fields the gateway does not know that may go through; others: 400."""


class EgressSettings(NamedTuple):
    """HIGH-02: what the egress proxy lets out (``egress``); the hook applies its denials too.

    ``allow`` and ``deny`` extend the built-in lists (``ramparts.egress.acl``: the model API; paste
    sites, tunnels, request bins). Ranges are CIDR strings, checked when the policy is loaded."""

    mode: Literal["enforce", "report", "open"] = "enforce"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    allow_ranges: tuple[str, ...] = ()
    doh: Literal["deny", "allow"] = "deny"
    max_upload_bytes: int = 1024 * 1024
    max_requests_per_minute: int = 100
    first_seen: bool = True
    tunnel_label_length: int = 40
    tunnel_entropy: float = 3.5
    tunnel_subdomains: int = 50
    proxy: str = ""
    """``HOST:PORT`` of ``ramparts egress``: when set, ``ramparts compile`` writes Claude Code's sandbox
    keys pointing at it and ``HTTPS_PROXY``/``HTTP_PROXY`` for the Claude Code process."""


class Policy(NamedTuple):
    revision: str
    """Content hash of the policy file and the profiles it extends."""
    source: str
    base_dir: str
    mode: Mode = "enforce"
    default: Literal["deny", "ask", "allow"] = "ask"
    deny: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    allow: tuple[Rule, ...] = ()
    sensitive_paths: tuple[str, ...] = ()
    opaque_shell: Literal["deny", "ask"] = "ask"
    inline_code: Literal["deny", "ask"] = "ask"
    """What code handed to an interpreter inline (``python3 -c``, ``perl -e``) gets at most."""
    allow_read_only: bool = False
    """Allow commands the built-in read-only table knows cannot change anything (``shell/readonly.py``)."""
    paths_ignore_case: bool = True
    """Deny and ask path rules match regardless of letter case (``.ENV`` is ``.env`` on macOS and Windows)."""
    hook: HookSettings = HookSettings()
    settings: CompileSettings = CompileSettings()
    extends: tuple[str, ...] = ()
    detect: DetectSettings = DetectSettings()
    dlp: DlpSettings = DlpSettings()
    session: SessionSettings = SessionSettings()
    mcp: McpSettings = McpSettings()
    git: GitPolicy = GitPolicy()
    ship: str = ""
    """The ``ship:`` section as canonical JSON ('' when absent): parsed by ``ramparts.audit.ship_config``."""
    server: str = ""
    """The ``server:`` section as canonical JSON ('' when absent): parsed by ``ramparts.server.config``."""
    monitor: str = ""
    """The ``monitor:`` section as canonical JSON ('' when absent): parsed by ``ramparts.monitor``."""
    gateway: GatewaySettings = GatewaySettings()
    egress: EgressSettings = EgressSettings()


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """A JSON-ready form of a compiled policy (for the hook's cache)."""
    data = policy._asdict()
    for key in ("deny", "ask", "allow"):
        data[key] = [list(rule) for rule in data[key]]
    data["hook"] = policy.hook._asdict()
    data["settings"] = policy.settings._asdict()
    data["detect"] = policy.detect._asdict()
    data["detect"]["custom_entities"] = [list(e) for e in policy.detect.custom_entities]
    data["dlp"] = policy.dlp._asdict()
    outbound = policy.dlp.outbound
    data["dlp"]["outbound"] = {
        **outbound._asdict(),
        "pii": [list(item) for item in outbound.pii],
        "exceptions": [list(item) for item in outbound.exceptions],
    }
    data["session"] = policy.session._asdict()
    data["mcp"] = policy.mcp._asdict()
    data["mcp"]["servers"] = [list(server) for server in policy.mcp.servers]
    data["git"] = policy.git._asdict()
    data["gateway"] = policy.gateway._asdict()
    data["gateway"]["dlp"] = [list(item) for item in policy.gateway.dlp]
    data["gateway"]["unknown_blocks"] = [list(item) for item in policy.gateway.unknown_blocks]
    data["gateway"]["unknown_fields"] = [list(item) for item in policy.gateway.unknown_fields]
    bedrock = policy.gateway.bedrock
    data["gateway"]["bedrock"] = (
        None if bedrock is None else {**bedrock._asdict(), "models": [list(m) for m in bedrock.models]}
    )
    data["egress"] = policy.egress._asdict()
    return data


def policy_from_json(data: dict[str, Any]) -> Policy:
    fields: dict[str, Any] = dict(data)
    for key in ("deny", "ask", "allow"):
        fields[key] = tuple(Rule(*item) for item in data[key])
    fields["sensitive_paths"] = tuple(data["sensitive_paths"])
    fields["extends"] = tuple(data["extends"])
    fields["hook"] = HookSettings(**data["hook"])
    settings = dict(data["settings"])
    settings["env"] = tuple((k, v) for k, v in settings["env"])
    fields["settings"] = CompileSettings(**settings)
    detect = dict(data.get("detect") or {})
    detect["custom_entities"] = tuple(
        CustomEntity(e[0], e[1], tuple(e[2]), *e[3:]) for e in detect.get("custom_entities", ())
    )
    detect["injection_surfaces"] = tuple(tuple(item) for item in detect.get("injection_surfaces", ()))
    fields["detect"] = DetectSettings(**detect)
    outbound = dict(data["dlp"].get("outbound") or {})
    fields["dlp"] = DlpSettings(
        **{
            **data["dlp"],
            "prompt_pii": tuple(data["dlp"]["prompt_pii"]),
            "outbound": OutboundSettings(
                pii=tuple((d, a) for d, a in outbound.get("pii", ())),
                possible_secrets=outbound.get("possible_secrets", "warn"),
                local_mcp=tuple(outbound.get("local_mcp", ())),
                sync_paths=tuple(outbound.get("sync_paths", ())),
                exceptions=tuple(OutboundException(*e) for e in outbound.get("exceptions", ())),
            ),
        }
    )
    fields["session"] = SessionSettings(
        **{
            **data["session"],
            "reauth_paths": tuple(data["session"]["reauth_paths"]),
            "reauth_hosts": tuple(data["session"]["reauth_hosts"]),
        }
    )
    mcp = dict(data["mcp"])
    mcp["servers"] = tuple(McpServer(s[0], tuple(s[1]), s[2]) for s in mcp["servers"])
    mcp["managed_servers"] = tuple((n, c) for n, c in mcp["managed_servers"])
    mcp["denied"] = tuple(mcp["denied"])
    fields["mcp"] = McpSettings(**mcp)
    fields["git"] = GitPolicy(
        **{**data["git"], "protected_branches": tuple(data["git"]["protected_branches"])}
    )
    gateway = dict(data["gateway"])
    gateway["models"] = tuple(gateway["models"])
    gateway["dlp"] = tuple((k, a) for k, a in gateway["dlp"])
    for key in ("unknown_blocks", "unknown_fields"):
        gateway[key] = tuple((k, a) for k, a in gateway.get(key, ()))
    bedrock = gateway.get("bedrock")
    gateway["bedrock"] = (
        None
        if bedrock is None
        else BedrockSettings(
            bedrock["region"], tuple((g, m) for g, m in bedrock["models"]), bedrock.get("endpoint_url")
        )
    )
    fields["gateway"] = GatewaySettings(**gateway)
    egress = dict(data.get("egress") or {})
    for key in ("allow", "deny", "allow_ranges"):
        if key in egress:
            egress[key] = tuple(egress[key])
    fields["egress"] = EgressSettings(**egress)
    return Policy(**fields)
