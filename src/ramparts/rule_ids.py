"""Every rule id a built-in control puts into a Decision or an alert, in one place.

Policy rules carry their own ids (``self:…``, ``sensitive:…``, or the ``id`` a policy gives a rule);
these are the ids of the controls built into Ramparts. Records, the control plane, the monitor and
the dashboard match on them, so a site names the constant, never the string.
"""

# Monitor rules (monitor/)
ANOMALY_USER_BASELINE = "anomaly.user_baseline"

# Secrets and personal data (controls.py) and the monitor's outbound rule
DLP_OUTBOUND = "dlp.outbound"
DLP_OUTBOUND_BURST = "dlp.outbound_burst"
DLP_OUTBOUND_PII = "dlp.outbound_pii"
DLP_OUTBOUND_PLACEHOLDER = "dlp.outbound_placeholder"
DLP_OUTBOUND_POSSIBLE_SECRET = "dlp.outbound_possible_secret"
DLP_OUTBOUND_SECRET = "dlp.outbound_secret"
DLP_OUTBOUND_UNSCANNED = "dlp.outbound_unscanned"
DLP_PROMPT_PII = "dlp.prompt_pii"
DLP_PROMPT_SECRET = "dlp.prompt_secret"
DLP_READ_PARTIAL = "dlp.read_partial"
DLP_READ_POSSIBLE_SECRET = "dlp.read_possible_secret"
DLP_READ_SECRET = "dlp.read_secret"
DLP_READ_UNSCANNED = "dlp.read_unscanned"
DLP_RESULT_SECRET = "dlp.result_secret"

# The egress proxy (egress/)
EGRESS_ADDRESS_PREFIX = "egress.address."
EGRESS_ADDRESS_PUBLIC = "egress.address.public"
EGRESS_ALLOWED = "egress.allowed"
EGRESS_ALLOWED_RANGE = "egress.allowed_range"
EGRESS_ANOMALY_FIRST_SEEN = "egress.anomaly.first_seen"
EGRESS_ANOMALY_RATE = "egress.anomaly.rate"
EGRESS_ANOMALY_TUNNEL_NAME = "egress.anomaly.tunnel_name"
EGRESS_ANOMALY_TUNNEL_ZONE = "egress.anomaly.tunnel_zone"
EGRESS_ANOMALY_TXT_FLOOD = "egress.anomaly.txt_flood"
EGRESS_ANOMALY_UPLOAD_SIZE = "egress.anomaly.upload_size"
EGRESS_AUDIT = "egress.audit"
EGRESS_AUTH = "egress.auth"
EGRESS_BUSY = "egress.busy"
EGRESS_CONNECT_FAILED = "egress.connect_failed"
EGRESS_DENIED_HOST = "egress.denied_host"
EGRESS_DISGUISED_ADDRESS = "egress.disguised_address"
EGRESS_DLP_OUTBOUND_UNSCANNED = "egress.dlp.outbound_unscanned"
EGRESS_DNS_TYPE = "egress.dns_type"
EGRESS_DOH = "egress.doh"
EGRESS_DOT = "egress.dot"
EGRESS_HOST_MISMATCH = "egress.host_mismatch"
EGRESS_KILLED = "egress.killed"
EGRESS_MALFORMED = "egress.malformed"
EGRESS_METADATA = "egress.metadata"
EGRESS_NOT_ALLOWED = "egress.not_allowed"
EGRESS_PORT = "egress.port"
EGRESS_RESOLVE_FAILED = "egress.resolve_failed"
EGRESS_SNI_MISMATCH = "egress.sni_mismatch"

# Monitor rules (monitor/)
ERRORS_RATE = "errors.rate"

# The LLM gateway (gateway/decide.py, gateway/mask.py, cli/gateway.py)
GATEWAY_AUDIT = "gateway.audit"
GATEWAY_AUTH = "gateway.auth"
GATEWAY_BODY_TIMEOUT = "gateway.body_timeout"
GATEWAY_BUDGET = "gateway.budget"
GATEWAY_DLP = "gateway.dlp"
GATEWAY_DOCUMENTS_UNREADABLE = "gateway.documents.unreadable"
GATEWAY_INJECTION_PROMPT = "gateway.injection.prompt"
GATEWAY_INJECTION_TOOL_DEFINITION = "gateway.injection.tool_definition"
GATEWAY_JSON = "gateway.json"
GATEWAY_MAX_TOKENS = "gateway.max_tokens"
GATEWAY_MODEL = "gateway.model"
GATEWAY_RATE = "gateway.rate"
GATEWAY_SCAN_FAILED = "gateway.scan_failed"
GATEWAY_SHAPE = "gateway.shape"
GATEWAY_SHAPE_PREFIX = "gateway.shape."
GATEWAY_SIZE = "gateway.size"
GATEWAY_STORE = "gateway.store"
GATEWAY_TOKEN = "gateway.token"

# Git guard (shell/git.py)
GIT_ALIAS = "git.alias"
GIT_BRANCH_DELETE_PROTECTED = "git.branch_delete_protected"
GIT_BRANCH_FORCE_PROTECTED = "git.branch_force_protected"
GIT_CLEAN = "git.clean"
GIT_COMMIT_NO_VERIFY = "git.commit_no_verify"
GIT_DISCARD_CHANGES = "git.discard_changes"
GIT_HISTORY_REWRITE = "git.history_rewrite"
GIT_HOOKS_PATH = "git.hooks_path"
GIT_OPAQUE = "git.opaque"
GIT_PUSH = "git.push"
GIT_PUSH_CONFIG = "git.push_config"
GIT_PUSH_DELETE = "git.push_delete"
GIT_PUSH_FORCE = "git.push_force"
GIT_PUSH_MIRROR = "git.push_mirror"
GIT_PUSH_NO_VERIFY = "git.push_no_verify"
GIT_PUSH_PLUMBING = "git.push_plumbing"
GIT_PUSH_PROTECTED = "git.push_protected"
GIT_PUSH_UNKNOWN = "git.push_unknown"
GIT_REBASE = "git.rebase"
GIT_REMOTE = "git.remote"
GIT_RESET_HARD = "git.reset_hard"
GIT_UPDATE_REF_DELETE = "git.update_ref_delete"

# The hook adapter itself
HOOK_DEADLINE = "hook.deadline"
HOOK_ERROR = "hook.error"

# Prompt injection (controls.py)
INJECTION_PROMPT = "injection.prompt"
INJECTION_TOOL_RESULT = "injection.tool_result"

# Control plane: audit log integrity
INTEGRITY_REWRITTEN = "integrity.rewritten"
INTEGRITY_UNKNOWN_KEY = "integrity.unknown_key"

# MCP servers and tools (controls.py, engine.py)
MCP_ALLOWLIST = "mcp.allowlist"
MCP_APPROVAL = "mcp.approval"
MCP_DENIED_SERVER = "mcp.denied_server"
MCP_UNLISTED_SERVER = "mcp.unlisted_server"
MCP_UNLISTED_TOOL = "mcp.unlisted_tool"

# Monitor rules (monitor/)
NETWORK_OUTSIDE_ALLOWLIST = "network.outside_allowlist"

# Monitor rules (monitor/)
RATE_TOOL_CALLS = "rate.tool_calls"

# Monitor rules (monitor/)
SEQUENCE_SENSITIVE_READ_THEN_NETWORK = "sequence.sensitive_read_then_network"

# Control plane
SERVER_APPROVAL = "server.approval"

# Session limits, taint, re-authentication, kill switch, admin commands
SESSION_CLEAR = "session.clear"
SESSION_CLOSED = "session.closed"
SESSION_CONCURRENT = "session.concurrent"
SESSION_END = "session.end"
SESSION_IDLE_TIMEOUT = "session.idle_timeout"
SESSION_KILL = "session.kill"
SESSION_KILLED = "session.killed"
SESSION_MAX_DURATION = "session.max_duration"
SESSION_REAUTH = "session.reauth"
SESSION_TAINTED = "session.tainted"

# Shell analysis (engine.py, shell/catastrophic.py)
SHELL_CATASTROPHIC_BLOCK_DEVICE = "shell.catastrophic.block_device"
SHELL_CATASTROPHIC_FORK_BOMB = "shell.catastrophic.fork_bomb"
SHELL_CATASTROPHIC_KILL_ALL = "shell.catastrophic.kill_all"
SHELL_CATASTROPHIC_MKFS = "shell.catastrophic.mkfs"
SHELL_CATASTROPHIC_RECURSIVE_PERMISSIONS = "shell.catastrophic.recursive_permissions"
SHELL_CATASTROPHIC_WIPE = "shell.catastrophic.wipe"
SHELL_EXFILTRATION = "shell.exfiltration"
SHELL_INLINE_CODE = "shell.inline_code"
SHELL_OPAQUE = "shell.opaque"
SHELL_READ_ONLY = "shell.read_only"

# Monitor rules (monitor/)
SPREAD_DIRECTORIES = "spread.directories"

# Control plane: telemetry join
TELEMETRY_NO_HOOK = "telemetry.no_hook"

# Monitor rules (monitor/)
VOLUME_READS = "volume.reads"
