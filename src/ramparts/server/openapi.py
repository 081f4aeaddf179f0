"""The API's OpenAPI 3.1 document, built from the audit record's JSON Schema and small schemas here."""

from __future__ import annotations

import functools
import json
from typing import Any

from ..audit.record import schema as record_schema

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_SCOPE = {"type": "string", "enum": ["session", "user", "all"]}
_ORDER = {
    "type": "object",
    "required": ["scope", "target", "reason", "by", "at"],
    "properties": {
        "scope": _SCOPE,
        "target": {"type": "string"},
        "reason": {"type": "string"},
        "by": {"type": "string"},
        "at": {"type": "number"},
    },
}


_SESSION_ORDER = {
    "type": "object",
    "required": [
        "id",
        "kind",
        "session",
        "reason",
        "minutes",
        "by",
        "created",
        "state",
        "applied_at",
        "applied_by",
        "outcome",
    ],
    "properties": {
        "id": {"type": "string"},
        "kind": {"type": "string", "enum": ["end", "reauth"]},
        "session": {"type": "string"},
        "reason": {"type": "string"},
        "minutes": {"type": "number"},
        "by": {"type": "string"},
        "created": {"type": "number"},
        "state": {"type": "string", "enum": ["pending", "applied"]},
        "applied_at": {"type": ["number", "null"]},
        "applied_by": {"type": "string"},
        "outcome": {"type": "string"},
    },
}
_ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string"}}
_APPROVAL_ID = {"name": "approval_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "malformed request; the message names the field",
        401: "unknown or revoked token",
        403: "the token may not do this",
        404: "not found",
        413: "body too large",
        503: "the store is unavailable",
    }
    return {str(c): _json(_ref("Error"), text[c]) for c in codes}


def _record_components() -> dict[str, Any]:
    """The record's schema with its ``$defs`` moved to components (refs rewritten)."""
    data = record_schema()
    defs = data.pop("$defs", {})
    for key in ("$schema", "$id"):
        data.pop(key, None)
    text = json.dumps({"AuditRecord": data, **defs}).replace('"#/$defs/', '"#/components/schemas/')
    out: dict[str, Any] = json.loads(text)
    return out


@functools.cache
def document() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    item = {
        "type": "object",
        "required": ["kind", "log_id", "seq"],
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": ["record", "checkpoint"]},
            "log_id": {"type": "string"},
            "seq": {"type": "integer", "minimum": 0},
            "time": {"type": "string"},
            "record": {
                "type": "object",
                "description": "the record's stored envelope, byte for byte: {log, rec, seq}",
                "required": ["log", "rec", "seq"],
                "additionalProperties": False,
                "properties": {
                    "log": {"type": "string"},
                    "rec": _ref("AuditRecord"),
                    "seq": {"type": "integer"},
                },
            },
            "checkpoint": {"type": "string", "description": "a signed checkpoint note (C2SP)"},
        },
    }
    schemas = {
        **_record_components(),
        "Error": _ERROR,
        "IngestBatch": {
            "type": "object",
            "required": ["log_id", "items"],
            "additionalProperties": False,
            "properties": {
                "log_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
                "verifier": {"type": "string", "description": "the log's checkpoint verifier key"},
                "items": {"type": "array", "maxItems": 5000, "items": item},
            },
        },
        "IngestResult": {
            "type": "object",
            "required": ["accepted", "duplicates", "quarantined", "checkpoints", "alerts", "kills", "state"],
            "properties": {
                "accepted": {"type": "integer"},
                "duplicates": {"type": "integer"},
                "quarantined": {"type": "integer"},
                "checkpoints": {"type": "integer"},
                "alerts": {"type": "integer"},
                "kills": {"type": "integer"},
                "state": {"type": "string", "enum": ["ok", "rewritten", "unknown_key"]},
                "error": {"type": "string"},
            },
        },
        "KillOrder": _ORDER,
        "SessionOrder": _SESSION_ORDER,
        "SessionOrderRequest": {
            "type": "object",
            "required": ["kind", "session"],
            "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "enum": ["end", "reauth"]},
                "session": {"type": "string", "minLength": 1, "maxLength": 256},
                "reason": {"type": "string", "maxLength": 1000},
                "minutes": {"type": "number", "description": "reauth: 1 to 480 (default 15)"},
            },
        },
        "OrderAck": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"outcome": {"type": "string", "maxLength": 1000}},
        },
        "Approval": {
            "type": "object",
            "required": [
                "id",
                "created",
                "host",
                "session",
                "user",
                "tool",
                "summary",
                "reasons",
                "state",
                "expires",
            ],
            "properties": {
                "id": {"type": "string"},
                "created": {"type": "number"},
                "host": {"type": "string"},
                "session": {"type": "string"},
                "user": {"type": "string"},
                "tool": {"type": "string"},
                "summary": {"type": "string"},
                "reasons": {"type": "string"},
                "state": {"type": "string", "enum": ["pending", "allow", "deny", "expired"]},
                "decided_by": {"type": "string"},
                "decided_at": {"type": ["number", "null"]},
                "reason": {"type": "string"},
                "expires": {"type": "number"},
            },
        },
        "ApprovalRequest": {
            "type": "object",
            "required": ["session"],
            "additionalProperties": False,
            "properties": {
                "session": {"type": "string", "minLength": 1, "maxLength": 256},
                "user": {"type": "string", "maxLength": 256},
                "tool": {"type": "string", "maxLength": 256},
                "summary": {"type": "string", "maxLength": 4000},
                "reasons": {"type": "string", "maxLength": 2000},
                "wait_seconds": {"type": "number", "minimum": 1, "maximum": 3600},
            },
        },
        "ApprovalDecision": {
            "type": "object",
            "required": ["decision"],
            "additionalProperties": False,
            "properties": {
                "decision": {"type": "string", "enum": ["allow", "deny"]},
                "reason": {"type": "string", "maxLength": 1000},
            },
        },
        "KillRequest": {
            "type": "object",
            "required": ["scope"],
            "additionalProperties": False,
            "properties": {
                "scope": _SCOPE,
                "target": {"type": "string", "maxLength": 256},
                "reason": {"type": "string", "maxLength": 1000},
            },
        },
        "LiftRequest": {
            "type": "object",
            "required": ["scope"],
            "additionalProperties": False,
            "properties": {"scope": _SCOPE, "target": {"type": "string", "maxLength": 256}},
        },
        "Alert": {
            "type": "object",
            "required": ["id", "at", "severity", "rule", "host", "user", "session", "log_id", "message"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "number"},
                "severity": {"type": "string", "enum": ["high", "medium", "low"]},
                "rule": {"type": "string"},
                "host": {"type": "string"},
                "user": {"type": "string"},
                "session": {"type": "string"},
                "log_id": {"type": "string"},
                "message": {"type": "string"},
                "response": {"type": "string"},
                "acknowledged": {"type": ["number", "null"]},
            },
        },
        "Session": {
            "type": "object",
            "required": ["session", "user", "host", "records", "first", "last", "last_decision", "state"],
            "properties": {
                "session": {"type": "string"},
                "user": {"type": "string"},
                "host": {"type": "string"},
                "records": {"type": "integer"},
                "first": {"type": "string"},
                "last": {"type": "string"},
                "last_decision": {"type": "string"},
                "state": {"type": "string", "enum": ["live", "killed"]},
            },
        },
        "LogInfo": {
            "type": "object",
            "required": ["log_id", "host", "state", "size", "verified_size"],
            "properties": {
                "log_id": {"type": "string"},
                "host": {"type": "string"},
                "state": {"type": "string", "enum": ["ok", "rewritten"]},
                "problem": {"type": "string"},
                "size": {"type": "integer"},
                "verified_size": {"type": "integer"},
                "first_seen": {"type": "number"},
                "last_seen": {"type": "number"},
            },
        },
    }
    obj = {"type": "object"}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "liveness",
                "responses": {
                    "200": _json(
                        {**obj, "required": ["status"], "properties": {"status": {"const": "ok"}}}, "up"
                    )
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "this document",
                "responses": {"200": _json(obj, "the OpenAPI document")},
            }
        },
        "/v1/ingest": {
            "post": {
                "operationId": "ingest",
                "summary": "a batch of audit records and checkpoints from one host log (host token)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("IngestBatch")}},
                },
                "responses": {
                    "200": _json(
                        _ref("IngestResult"), "stored (duplicates dropped, contradictions stored apart)"
                    ),
                    "409": _json(
                        _ref("IngestResult"),
                        "the log's signing key is not bound to the host's token: quarantined, not stored",
                    ),
                    **_errors(400, 401, 403, 413, 503),
                },
            }
        },
        "/v1/kills": {
            "get": {
                "operationId": "listKills",
                "summary": "the standing kill orders (any token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["orders"],
                            "properties": {"orders": {"type": "array", "items": _ref("KillOrder")}},
                        },
                        "orders",
                    ),
                    **_errors(401, 503),
                },
            },
            "post": {
                "operationId": "kill",
                "summary": "give a kill order (admin token)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("KillRequest")}},
                },
                "responses": {"201": _json(_ref("KillOrder"), "the order"), **_errors(400, 401, 403, 503)},
            },
        },
        "/v1/kills/lift": {
            "post": {
                "operationId": "liftKill",
                "summary": "withdraw a kill order (admin token)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("LiftRequest")}},
                },
                "responses": {
                    "200": _json(
                        {**obj, "required": ["lifted"], "properties": {"lifted": {"type": "boolean"}}},
                        "lifted",
                    ),
                    **_errors(400, 401, 403, 404, 503),
                },
            }
        },
        "/v1/orders": {
            "get": {
                "operationId": "listSessionOrders",
                "summary": "pending session orders (end, grant re-auth) for the hosts to apply (any token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["orders"],
                            "properties": {"orders": {"type": "array", "items": _ref("SessionOrder")}},
                        },
                        "orders",
                    ),
                    **_errors(401, 503),
                },
            },
            "post": {
                "operationId": "orderSession",
                "summary": "order a session ended or its step-up granted (admin token)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("SessionOrderRequest")}},
                },
                "responses": {
                    "201": _json(_ref("SessionOrder"), "the order, pending"),
                    **_errors(400, 401, 403, 503),
                },
            },
        },
        "/v1/orders/{order_id}/ack": {
            "post": {
                "operationId": "acknowledgeSessionOrder",
                "summary": "the host that applied a pending order says so (host token)",
                "security": secured,
                "parameters": [_ORDER_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("OrderAck")}},
                },
                "responses": {
                    "200": _json(_ref("SessionOrder"), "the order, applied"),
                    **_errors(400, 401, 403, 404, 503),
                },
            }
        },
        "/otlp/v1/logs": {
            "post": {
                "operationId": "otlpLogs",
                "summary": "Claude Code's telemetry: an OTLP/HTTP ExportLogsServiceRequest (host token)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "resourceLogs": {"type": "array", "items": {"type": "object"}}
                                },
                            }
                        },
                        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "responses": {
                    "200": {
                        "description": "accepted",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    **_errors(400, 401, 403, 413, 503),
                },
            }
        },
        "/v1/approvals": {
            "post": {
                "operationId": "askApproval",
                "summary": "a hook asks a person to allow or deny a call (host token; server.approvals: remote)",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ApprovalRequest")}},
                },
                "responses": {
                    "201": _json(_ref("Approval"), "the pending request"),
                    **_errors(400, 401, 403, 503),
                },
            },
            "get": {
                "operationId": "listApprovals",
                "summary": "approval requests, newest first (admin token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["approvals"],
                            "properties": {"approvals": {"type": "array", "items": _ref("Approval")}},
                        },
                        "requests",
                    ),
                    **_errors(401, 403, 503),
                },
            },
        },
        "/v1/approvals/{approval_id}": {
            "get": {
                "operationId": "getApproval",
                "summary": "one request's state (the host that asked, or an admin)",
                "security": secured,
                "parameters": [_APPROVAL_ID],
                "responses": {"200": _json(_ref("Approval"), "the request"), **_errors(401, 404, 503)},
            }
        },
        "/v1/approvals/{approval_id}/decide": {
            "post": {
                "operationId": "decideApproval",
                "summary": "allow or deny a pending request (admin token)",
                "security": secured,
                "parameters": [_APPROVAL_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ApprovalDecision")}},
                },
                "responses": {
                    "200": _json(_ref("Approval"), "answered"),
                    "409": _json(_ref("Error"), "no longer pending"),
                    **_errors(400, 401, 403, 404, 503),
                },
            }
        },
        "/v1/alerts": {
            "get": {
                "operationId": "listAlerts",
                "summary": "alerts, newest first (admin token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["alerts"],
                            "properties": {"alerts": {"type": "array", "items": _ref("Alert")}},
                        },
                        "alerts",
                    ),
                    **_errors(401, 403, 503),
                },
            }
        },
        "/v1/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "sessions the records show, most recently active first (admin token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["sessions"],
                            "properties": {"sessions": {"type": "array", "items": _ref("Session")}},
                        },
                        "sessions",
                    ),
                    **_errors(401, 403, 503),
                },
            }
        },
        "/v1/logs": {
            "get": {
                "operationId": "listLogs",
                "summary": "each host log's state: size, last verified checkpoint, rewritten or not (admin token)",
                "security": secured,
                "responses": {
                    "200": _json(
                        {
                            **obj,
                            "required": ["logs"],
                            "properties": {"logs": {"type": "array", "items": _ref("LogInfo")}},
                        },
                        "logs",
                    ),
                    **_errors(401, 403, 503),
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ramparts control plane", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": paths,
    }
