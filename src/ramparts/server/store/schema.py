"""The tables, one DDL for both databases (``{blob}`` and ``{serial}`` differ)."""

from __future__ import annotations

_DDL = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS logs (
    log_id TEXT PRIMARY KEY, host TEXT NOT NULL, token_id TEXT NOT NULL, verifier TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'ok', problem TEXT NOT NULL DEFAULT '',
    size BIGINT NOT NULL DEFAULT 0, frontier {blob} NOT NULL,
    verified_size BIGINT NOT NULL DEFAULT 0, verified_frontier {blob} NOT NULL,
    checkpoint TEXT NOT NULL DEFAULT '', first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    log_id TEXT NOT NULL, seq BIGINT NOT NULL, leaf {blob} NOT NULL, body TEXT NOT NULL,
    time TEXT NOT NULL, surface TEXT NOT NULL, event TEXT NOT NULL, decision TEXT NOT NULL,
    session TEXT NOT NULL, user_name TEXT NOT NULL, host TEXT NOT NULL, tool TEXT NOT NULL,
    tool_use_id TEXT NOT NULL DEFAULT '', received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (log_id, seq)
);
CREATE INDEX IF NOT EXISTS records_by_session ON records (session, log_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    log_id TEXT NOT NULL, size BIGINT NOT NULL, note TEXT NOT NULL, status TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL, PRIMARY KEY (log_id, size)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id {serial}, log_id TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
    reason TEXT NOT NULL, received DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id {serial}, at DOUBLE PRECISION NOT NULL, severity TEXT NOT NULL, rule TEXT NOT NULL,
    host TEXT NOT NULL, user_name TEXT NOT NULL, session TEXT NOT NULL, log_id TEXT NOT NULL,
    message TEXT NOT NULL, response TEXT NOT NULL DEFAULT '', acknowledged DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id BIGINT NOT NULL, sink TEXT NOT NULL, attempts INTEGER NOT NULL, next_try DOUBLE PRECISION NOT NULL,
    last_error TEXT NOT NULL, delivered DOUBLE PRECISION, gave_up DOUBLE PRECISION, PRIMARY KEY (alert_id, sink)
);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, host TEXT NOT NULL, session TEXT NOT NULL,
    user_name TEXT NOT NULL, tool TEXT NOT NULL, summary TEXT NOT NULL, reasons TEXT NOT NULL,
    state TEXT NOT NULL, decided_by TEXT NOT NULL DEFAULT '', decided_at DOUBLE PRECISION,
    reason TEXT NOT NULL DEFAULT '', expires DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS user_days (
    user_name TEXT NOT NULL, day TEXT NOT NULL, calls BIGINT NOT NULL, alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_name, day)
);
CREATE TABLE IF NOT EXISTS kills (
    scope TEXT NOT NULL, target TEXT NOT NULL, reason TEXT NOT NULL, by_whom TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, target)
);
CREATE TABLE IF NOT EXISTS session_orders (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, session TEXT NOT NULL, reason TEXT NOT NULL,
    minutes DOUBLE PRECISION NOT NULL, by_whom TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL, applied_at DOUBLE PRECISION, applied_by TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS session_orders_by_session ON session_orders (session, created);
CREATE TABLE IF NOT EXISTS telemetry (
    id {serial}, session TEXT NOT NULL, event TEXT NOT NULL, tool TEXT NOT NULL, tool_use_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, host TEXT NOT NULL, received DOUBLE PRECISION NOT NULL, attrs TEXT NOT NULL,
    checked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS telemetry_unchecked ON telemetry (checked, received);
CREATE TABLE IF NOT EXISTS host_keys (
    token_id TEXT NOT NULL, verifier TEXT NOT NULL, source TEXT NOT NULL, by_whom TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (token_id, verifier)
);
CREATE TABLE IF NOT EXISTS monitor_state (
    session TEXT PRIMARY KEY, features TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL
);
"""
