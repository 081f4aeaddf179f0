"""The policy file's JSON Schema (draft 2020-12). ``ramparts policy schema`` prints it for editors."""

from __future__ import annotations

from typing import Any

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

_VERDICT = {"enum": ["deny", "ask", "allow"]}
STORE_URL_PATTERN = r"^postgres(ql)?://(?![^/?#]*:[^/?#@]*@)(?!.*[?&]password=)\S+$"
"""A PostgreSQL URL without a password (neither ``user:password@`` nor ``?password=``)."""

HOST_PATTERN = r"^(\*|(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?\.?|[0-9A-Fa-f:.]+)$"
"""An egress host pattern: ``*``, ``name``, ``*.name`` (subdomains) or a literal address."""

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Ramparts policy",
    "type": "object",
    "additionalProperties": False,
    "required": ["version"],
    "properties": {
        "version": {"const": 1},
        "extends": {"enum": ["baseline", "strict", "readonly", "none"]},
        "mode": {"enum": ["enforce", "report"]},
        "permissions": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default": _VERDICT,
                "deny": {"type": "array", "items": _RULE},
                "ask": {"type": "array", "items": _RULE},
                "allow": {"type": "array", "items": _RULE},
                "drop": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "paths_ignore_case": {"type": "boolean"},
            },
        },
        "sensitive_paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "shell": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "opaque": {"enum": ["deny", "ask"]},
                "inline_code": {"enum": ["deny", "ask"]},
                "allow_read_only": {"type": "boolean"},
            },
        },
        "detect": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "pii": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "ip_addresses": {"type": "boolean"},
                        "custom": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name", "pattern"],
                                "properties": {
                                    "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                                    "pattern": {"type": "string", "minLength": 1},
                                    "context": {"type": "array", "items": {"type": "string", "minLength": 1}},
                                    "validator": {
                                        "enum": ["luhn", "iban", "ssn", "card", "email", "phone", "ip"]
                                    },
                                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                                    "severity": {"enum": ["low", "medium", "high", "critical"]},
                                },
                            },
                        },
                    },
                },
                "injection": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "block": {"type": "number", "minimum": 0, "maximum": 1},
                        "warn": {"type": "number", "minimum": 0, "maximum": 1},
                        "surfaces": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                surface: {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "properties": {
                                        "block": {"type": "number", "minimum": 0, "maximum": 1},
                                        "warn": {"type": "number", "minimum": 0, "maximum": 1},
                                    },
                                }
                                for surface in ("prompt", "tool_result", "mcp_tool_description")
                            },
                        },
                    },
                },
            },
        },
        "dlp": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_scan_bytes": {"type": "integer", "minimum": 1024, "maximum": 268435456},
                "secret_confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "reads": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "high": {"enum": ["deny", "ask"]},
                        "low": {"enum": ["ask", "warn", "allow"]},
                    },
                },
                "prompts": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "secrets": {"enum": ["block", "warn", "allow"]},
                        "pii": {"type": "array", "items": {"type": "string", "pattern": "^pii-[a-z0-9-]+$"}},
                    },
                },
                "tool_results": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"secrets": {"enum": ["block", "warn", "allow"]}},
                },
                "outbound": {
                    "type": "object",
                    "description": "what tool calls may carry to sinks (MCP, web, network, git push, synced "
                    "paths); a secret is always denied unless excepted by fingerprint (docs/policy.md)",
                    "additionalProperties": False,
                    "properties": {
                        "pii": {
                            "type": "object",
                            "description": "detector id (pii-email, pii-custom-NAME) -> deny | ask | allow",
                            "propertyNames": {"pattern": "^pii-[a-z0-9-]+$"},
                            "additionalProperties": _VERDICT,
                        },
                        "possible_secrets": {"enum": ["deny", "warn", "allow"]},
                        "local_mcp": {
                            "type": "array",
                            "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
                        },
                        "sync_paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
                        "exceptions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["fingerprint", "reason"],
                                "properties": {
                                    "fingerprint": {"type": "string", "pattern": "^b2mac:[0-9a-f]{16}$"},
                                    "reason": {"type": "string", "minLength": 1},
                                },
                            },
                        },
                    },
                },
            },
        },
        "session": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_duration_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                "idle_timeout_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                "max_concurrent": {"type": "integer", "minimum": 0, "maximum": 1000},
                "taint": {"enum": ["ask", "deny"]},
                "reauth": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
                        "hosts": {"type": "array", "items": {"type": "string", "minLength": 1}},
                    },
                },
            },
        },
        "mcp": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "default": _VERDICT,
                "managed_only": {"type": "boolean"},
                "denied": {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}},
                "servers": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"},
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "tools": {"type": "array", "items": {"type": "string", "minLength": 1}},
                            "approval": {"type": "boolean"},
                            "managed": {
                                "type": "object",
                                "description": "the server's entry in managed-mcp.json (command/args/env or type/url)",
                            },
                        },
                    },
                },
            },
        },
        "git": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "protected_branches": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "push": _VERDICT,
            },
        },
        "ship": {
            "type": "object",
            "description": "audit shipping: sinks and checkpoint sinks (docs/shipping.md); checked when loaded",
        },
        "server": {
            "type": "object",
            "description": "the control plane hosts report to and take kill orders from (docs/server.md); "
            "checked when loaded",
        },
        "monitor": {
            "type": "object",
            "description": "behaviour rules the control plane applies to every session (docs/server.md); "
            "checked when loaded",
        },
        "hook": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "timeout": {"type": "integer", "minimum": 1, "maximum": 600},
                "deadline_ms": {"type": "integer", "minimum": 100, "maximum": 600000},
                "max_input_bytes": {"type": "integer", "minimum": 1024, "maximum": 268435456},
                "resident": {"type": "boolean"},
            },
        },
        "gateway": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "upstream": {"type": "string", "pattern": "^https?://[^/\\s]+(/\\S*)?$"},
                "models": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "max_tokens": {"type": ["integer", "null"], "minimum": 1},
                "max_tokens_mode": {"enum": ["clamp", "reject"]},
                "max_request_bytes": {"type": "integer", "minimum": 1024, "maximum": 1073741824},
                "rate_per_minute": {"type": ["integer", "null"], "minimum": 1},
                "daily_tokens": {"type": ["integer", "null"], "minimum": 1},
                "bedrock": {
                    "type": ["object", "null"],
                    "description": "models routed to Amazon Bedrock (docs/gateway.md); null: none",
                    "additionalProperties": False,
                    "required": ["region", "models"],
                    "properties": {
                        "region": {"type": "string", "pattern": "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"},
                        "endpoint_url": {"type": "string", "pattern": "^https?://[^/\\s?#]+(/[^\\s?#]*)?$"},
                        "models": {
                            "type": "object",
                            "description": "Anthropic model id glob -> Bedrock model id, inference "
                            "profile id or ARN",
                            "minProperties": 1,
                            "propertyNames": {"minLength": 1, "maxLength": 200},
                            "additionalProperties": {
                                "type": "string",
                                "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,2047}$",
                            },
                        },
                    },
                },
                "vault_retention_hours": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 87600,
                    "description": "hours a session's placeholders are kept in the vault (from its first "
                    "one); older sessions' rows are deleted, and their placeholders are no longer restored",
                },
                "store": {
                    "type": ["string", "null"],
                    "description": "postgresql:// URL of the store shared by gateway replicas (vault, "
                    "tokens, budget); no password: the policy is read on every machine",
                    "pattern": STORE_URL_PATTERN,
                },
                "images": {
                    "enum": ["allow", "refuse"],
                    "description": "images are never inspected; refuse answers 400 to a request with one",
                },
                "documents": {
                    "type": "object",
                    "description": "base64 PDF documents: their text is extracted and scanned",
                    "additionalProperties": False,
                    "properties": {
                        "findings": {
                            "enum": ["block", "drop"],
                            "description": "a PDF holding a value a mask/redact rule names: drop (a "
                            "notice in its place; default) or block (400); a block rule always blocks",
                        },
                        "unreadable": {
                            "enum": ["block", "drop", "pass"],
                            "description": "a PDF that cannot be parsed (or another binary document): "
                            "refuse (fail closed), drop, or send unscreened",
                        },
                        "max_pages": {"type": "integer", "minimum": 1, "maximum": 10000},
                    },
                },
                "unknown_blocks": {
                    "type": "object",
                    "description": "content block types the gateway does not know -> pass (sent "
                    "unscreened) | screen (every string masked); others are refused",
                    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "additionalProperties": {"enum": ["pass", "screen"]},
                },
                "unknown_fields": {
                    "type": "object",
                    "description": "top-level request fields the gateway does not know -> pass | screen; "
                    "others are refused",
                    "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "additionalProperties": {"enum": ["pass", "screen"]},
                },
                "dlp": {
                    "type": "object",
                    "description": "secrets, pii, a detector id (pii-email, aws-access-key-id) or a "
                    "prefix* -> mask | redact | block",
                    "propertyNames": {"pattern": "^[a-z0-9][a-z0-9-]*\\*?$"},
                    "additionalProperties": {"enum": ["mask", "redact", "block"]},
                },
            },
        },
        "egress": {
            "type": "object",
            "description": "the egress proxy's lists and limits (docs/egress.md); the hook applies its denials",
            "additionalProperties": False,
            "properties": {
                "mode": {"enum": ["enforce", "report", "open"]},
                "allow": {"type": "array", "items": {"type": "string", "pattern": HOST_PATTERN}},
                "deny": {"type": "array", "items": {"type": "string", "pattern": HOST_PATTERN}},
                "allow_ranges": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 2, "maxLength": 64},
                },
                "doh": {"enum": ["deny", "allow"]},
                "proxy": {
                    "type": "string",
                    "description": "HOST:PORT of `ramparts egress`: compile points Claude Code's sandbox at it",
                    "pattern": "^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$",
                },
                "anomalies": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "max_upload_bytes": {"type": "integer", "minimum": 1024},
                        "max_requests_per_minute": {"type": "integer", "minimum": 1},
                        "first_seen": {"type": "boolean"},
                        "tunnel_label_length": {"type": "integer", "minimum": 16, "maximum": 63},
                        "tunnel_entropy": {"type": "number", "minimum": 2, "maximum": 6},
                        "tunnel_subdomains": {"type": "integer", "minimum": 2},
                    },
                },
            },
        },
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "disable_bypass_permissions": {"type": "boolean"},
                "allow_managed_hooks_only": {"type": "boolean"},
                "allow_managed_permission_rules_only": {"type": "boolean"},
                "default_mode": {"enum": ["default", "acceptEdits", "plan", "dontAsk"]},
                "env": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                    "additionalProperties": {"type": "string"},
                },
            },
        },
    },
}
