"""Behavioural monitoring (CRIT-02 L3): rules as policy data, evaluated over audit records. Pure: no I/O.

The control plane calls :func:`step` for every record it ingests, in log order, with the record's
session's :class:`SessionFeatures` (kept in its store between batches) and gets back the features after
the record and the rules it trips. Each rule has a severity; the caller turns a ``high`` hit into an
automatic kill order, a ``medium`` one into an alert, and logs every hit.

The ``monitor:`` section of the policy (parsed by :func:`parse_monitor`) replaces the default rules
below as a whole when it lists ``rules``::

    monitor:
      rules:
        - {id: rate.tool_calls, kind: rate, threshold: 30, window_seconds: 60, severity: high}
        - {id: network.outside_allowlist, kind: network, allow: [api.anthropic.com], severity: medium}
        - {id: sequence.secret_then_network, kind: sequence, within: 5, severity: high}

What counts (all read from the record, never from anything it does not hold):

* a *tool call* is a ``PreToolUse`` record with a tool name; its time is the record's ``time``;
* a *read* is a tool call of ``Read``, ``Grep``, ``Glob``, ``NotebookRead`` or ``LS``; its directory is
  the folder of its ``file_path`` (or its ``path``), relative paths joined to the record's ``cwd``;
* a *network request* is a ``WebFetch`` (its ``url``'s host), a ``WebSearch`` (host ``web-search``) or an
  egress record (its target host);
* an *error* is a tool call the hook denied (the hook's records do not yet say whether a tool failed);
* a *sensitive read* is a read whose path matches the rule's ``paths`` globs or whose scanned content
  carried a finding;
* a *blocked outbound attempt* is a ``DLPBlock`` record of an outbound DLP rule (``dlp.outbound*``): a
  secret or listed personal data the hook kept from a sink; more than ``threshold`` in one session is a
  burst (``dlp_blocks``, default: more than 2, an alert).
"""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from .. import rule_ids as rids
from ..errors import PolicyError

Severity = Literal["high", "medium", "low"]
Kind = Literal["rate", "reads", "directories", "network", "error_rate", "sequence", "baseline", "dlp_blocks"]

READ_TOOLS = frozenset({"Read", "Grep", "Glob", "NotebookRead", "LS"})
NETWORK_TOOLS = frozenset({"WebFetch", "WebSearch"})
DEFAULT_SENSITIVE = (
    "*.env",
    ".env*",
    "*id_rsa*",
    "*id_ed25519*",
    "*.pem",
    "*.key",
    "*credentials*",
    "*secret*",
    "*.kube/config",
    "*.aws/*",
)
DEFAULT_ALLOW = ("api.anthropic.com", "*.anthropic.com")


class Rule(NamedTuple):
    id: str
    kind: Kind
    severity: Severity
    threshold: float = 0.0
    """rate: calls per window; reads, directories: per session; error_rate: a fraction."""
    window_seconds: float = 60.0
    min_calls: int = 10
    """error_rate: tool calls needed before the rate is judged."""
    within: int = 5
    """sequence: the network request comes at most this many events after the sensitive read."""
    allow: tuple[str, ...] = ()
    """network: hosts (``*.`` globs) that raise nothing."""
    paths: tuple[str, ...] = ()
    """sequence: globs naming sensitive paths."""
    days: int = 7
    """baseline: how many past days make a user's baseline (at least 3 of them with activity)."""


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(rids.RATE_TOOL_CALLS, "rate", "high", threshold=30, window_seconds=60),
    Rule(rids.VOLUME_READS, "reads", "medium", threshold=500),
    Rule(rids.SPREAD_DIRECTORIES, "directories", "medium", threshold=20),
    Rule(rids.NETWORK_OUTSIDE_ALLOWLIST, "network", "medium", allow=DEFAULT_ALLOW),
    Rule(rids.ERRORS_RATE, "error_rate", "medium", threshold=0.2, min_calls=10),
    Rule(rids.SEQUENCE_SENSITIVE_READ_THEN_NETWORK, "sequence", "high", within=5, paths=DEFAULT_SENSITIVE),
    Rule(rids.ANOMALY_USER_BASELINE, "baseline", "medium", threshold=0.8, days=7),
    Rule(rids.DLP_OUTBOUND_BURST, "dlp_blocks", "medium", threshold=2),
)


class Delivery(NamedTuple):
    """Where the control plane sends alerts (``monitor.deliver``): a webhook in Slack's, Teams' or plain
    JSON shape; syslog (RFC 5424 over UDP, TCP or TLS, the audit shipper's sink) with the alert as JSON or
    as CEF; or OpenTelemetry logs over OTLP/HTTP; for alerts at or above ``min_severity``."""

    name: str
    url: str
    """webhook: the URL; otlp: the collector's logs endpoint (``…/v1/logs``); '' for syslog."""
    format: Literal["slack", "teams", "json", "cef"] = "json"
    min_severity: Severity = "medium"
    token_env: str = ""
    """An environment variable holding a bearer token for the webhook ('' for none)."""
    timeout_seconds: float = 10.0
    type: Literal["webhook", "syslog", "otlp"] = "webhook"
    syslog: tuple[tuple[str, Any], ...] = ()
    """syslog: ``host``, ``port``, ``transport`` (udp, tcp, tls), ``ca_file``, ``facility``."""
    ca_file: str = ""
    """otlp: a CA bundle for an https endpoint ('' for the system's)."""


class MonitorConfig(NamedTuple):
    rules: tuple[Rule, ...] = DEFAULT_RULES
    deliver: tuple[Delivery, ...] = ()


class SessionFeatures(NamedTuple):
    """What the rules need to remember about one session (JSON-ready via ``_asdict``)."""

    calls: int = 0
    errors: int = 0
    reads: int = 0
    events: int = 0
    recent_calls: tuple[float, ...] = ()
    """Times (epoch seconds) of the tool calls inside the longest rate window."""
    dirs: tuple[str, ...] = ()
    """Distinct directories read (kept up to the largest threshold + 1)."""
    sensitive_at: int = -1
    """``events`` when the last sensitive read happened, -1 for none."""
    fired: tuple[str, ...] = ()
    """Rules already tripped in this session (each fires once per session)."""
    dlp_blocks: int = 0
    """Blocked outbound attempts (``DLPBlock`` records of the outbound rules) in the session."""


class Hit(NamedTuple):
    rule: str
    severity: Severity
    message: str


class RecordView(NamedTuple):
    """The parts of an audit record the rules read (built by :func:`view`)."""

    time: float
    surface: str
    event: str
    tool: str
    decision: str
    cwd: str
    path: str
    host: str
    """The network host the record's request reaches, '' for none."""
    findings: int
    outbound: bool = False
    """The record blocks data bound for a sink (an outbound DLP rule, ``dlp.outbound*``)."""


_KEYS_TOP = {"rules", "deliver"}
_KEYS_DELIVER = {"name", "type", "url", "format", "min_severity", "token_env", "timeout_seconds"}
_KEYS_SYSLOG = {
    "name",
    "type",
    "min_severity",
    "host",
    "port",
    "transport",
    "ca_file",
    "facility",
    "timeout_seconds",
    "format",
}
_KEYS_OTLP = {"name", "type", "min_severity", "url", "token_env", "ca_file", "timeout_seconds"}
_KEYS_RULE = {
    "id",
    "kind",
    "severity",
    "threshold",
    "window_seconds",
    "min_calls",
    "within",
    "allow",
    "paths",
    "days",
}
_KINDS = ("rate", "reads", "directories", "network", "error_rate", "sequence", "baseline", "dlp_blocks")


def parse_monitor(data: Any, where: str = "monitor") -> MonitorConfig:
    """The ``monitor:`` section; errors name the key's path."""
    if data is None:
        return MonitorConfig()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: must be a mapping")
    extra = sorted(set(data) - _KEYS_TOP)
    if extra:
        raise PolicyError(f"{where}.{extra[0]}: unknown key")
    deliver = tuple(
        _delivery(item, f"{where}.deliver[{i}]") for i, item in enumerate(_list(data, "deliver", where))
    )
    if len({d.name for d in deliver}) != len(deliver):
        raise PolicyError(f"{where}.deliver: names must be unique")
    rules_data = data.get("rules")
    if rules_data is None:
        return MonitorConfig(deliver=deliver)
    rules = [_rule(item, f"{where}.rules[{i}]") for i, item in enumerate(_list(data, "rules", where))]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"{where}.rules: rule ids must be unique")
    return MonitorConfig(tuple(rules), deliver)


def _list(data: Mapping[str, Any], key: str, where: str) -> Sequence[Any]:
    value = data.get(key, [])
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise PolicyError(f"{where}.{key}: must be a list")
    return value


def _delivery(item: Any, path: str) -> Delivery:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{path}: must be a mapping")
    kind = item.get("type", "webhook")
    if kind not in ("webhook", "syslog", "otlp"):
        raise PolicyError(f"{path}.type: must be webhook, syslog or otlp")
    keys = {"webhook": _KEYS_DELIVER, "syslog": _KEYS_SYSLOG, "otlp": _KEYS_OTLP}[kind]
    extra = sorted(set(item) - keys)
    if extra:
        raise PolicyError(f"{path}.{extra[0]}: unknown key")
    name, url = item.get("name"), item.get("url")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{path}.name: must be a non-empty string")
    if item.get("min_severity", "medium") not in ("high", "medium", "low"):
        raise PolicyError(f"{path}.min_severity: must be high, medium or low")
    if kind == "syslog":
        return _syslog(item, path, name)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PolicyError(f"{path}.url: must be an http(s) URL")
    if kind == "webhook" and item.get("format", "json") not in ("slack", "teams", "json"):
        raise PolicyError(f"{path}.format: must be slack, teams or json")
    token_env = item.get("token_env", "")
    if not isinstance(token_env, str):
        raise PolicyError(f"{path}.token_env: must be a string")
    timeout = _timeout(item, path)
    if kind == "otlp":
        ca_file = item.get("ca_file", "")
        if not isinstance(ca_file, str):
            raise PolicyError(f"{path}.ca_file: must be a string")
        return Delivery(
            name,
            url,
            "json",
            item.get("min_severity", "medium"),
            token_env,
            timeout,
            type="otlp",
            ca_file=ca_file,
        )
    return Delivery(
        name, url, item.get("format", "json"), item.get("min_severity", "medium"), token_env, timeout
    )


def _timeout(item: Mapping[str, Any], path: str) -> float:
    timeout = item.get("timeout_seconds", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0.1 <= timeout <= 120:
        raise PolicyError(f"{path}.timeout_seconds: must be a number from 0.1 to 120")
    return float(timeout)


def _syslog(item: Mapping[str, Any], path: str, name: str) -> Delivery:
    host, transport = item.get("host"), item.get("transport", "tcp")
    if not isinstance(host, str) or not host:
        raise PolicyError(f"{path}.host: must be a non-empty string")
    if transport not in ("udp", "tcp", "tls"):
        raise PolicyError(f"{path}.transport: must be udp, tcp or tls")
    port = item.get("port", 6514 if transport == "tls" else 514)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise PolicyError(f"{path}.port: must be an integer from 1 to 65535")
    facility = item.get("facility", 13)
    if isinstance(facility, bool) or not isinstance(facility, int) or not 0 <= facility <= 23:
        raise PolicyError(f"{path}.facility: must be an integer from 0 to 23")
    ca_file = item.get("ca_file", "")
    if not isinstance(ca_file, str):
        raise PolicyError(f"{path}.ca_file: must be a string")
    if item.get("format", "json") not in ("json", "cef"):
        raise PolicyError(f"{path}.format: must be json or cef")
    options = {"host": host, "port": port, "transport": transport, "facility": facility}
    if ca_file:
        options["ca_file"] = ca_file
    return Delivery(
        name,
        "",
        item.get("format", "json"),
        item.get("min_severity", "medium"),
        timeout_seconds=_timeout(item, path),
        type="syslog",
        syslog=tuple(sorted(options.items())),
    )


def _rule(item: Any, path: str) -> Rule:
    if not isinstance(item, Mapping):
        raise PolicyError(f"{path}: must be a mapping")
    extra = sorted(set(item) - _KEYS_RULE)
    if extra:
        raise PolicyError(f"{path}.{extra[0]}: unknown key")
    rid, kind, severity = item.get("id"), item.get("kind"), item.get("severity", "medium")
    if not isinstance(rid, str) or not rid:
        raise PolicyError(f"{path}.id: must be a non-empty string")
    if kind not in _KINDS:
        raise PolicyError(f"{path}.kind: must be one of {', '.join(_KINDS)}")
    if severity not in ("high", "medium", "low"):
        raise PolicyError(f"{path}.severity: must be high, medium or low")
    defaults = next((r for r in DEFAULT_RULES if r.kind == kind), None)
    base = defaults._replace(id=rid, severity=severity) if defaults else Rule(rid, kind, severity)
    changes: dict[str, Any] = {}
    for key in ("threshold", "window_seconds"):
        if key in item:
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PolicyError(f"{path}.{key}: must be a number >= 0")
            changes[key] = float(value)
    for key in ("min_calls", "within", "days"):
        if key in item:
            value = item[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PolicyError(f"{path}.{key}: must be an integer >= 1")
            changes[key] = value
    for key in ("allow", "paths"):
        if key in item:
            value = item[key]
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise PolicyError(f"{path}.{key}: must be a list of non-empty strings")
            changes[key] = tuple(v.lower() if key == "allow" else v for v in value)
    out = base._replace(**changes)
    if kind in ("error_rate", "baseline") and out.threshold > 1:
        raise PolicyError(f"{path}.threshold: a rate or a score is a fraction from 0 to 1")
    if kind == "rate" and out.window_seconds <= 0:
        raise PolicyError(f"{path}.window_seconds: must be > 0")
    return out


# -- reading records -------------------------------------------------------------------------------------------


def epoch(stamp: str) -> float:
    """An ISO 8601 UTC stamp (``2026-01-02T03:04:05.678Z``) as epoch seconds; 0.0 when unreadable."""
    try:
        when = datetime.fromisoformat(stamp)
    except (ValueError, TypeError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return 0.0


def view(record: Any) -> RecordView:
    """The rule-relevant parts of an :class:`~ramparts.audit.record.AuditRecord`."""
    hook = record.hook
    cwd = hook.cwd if hook is not None else ""
    inputs: Mapping[str, Any] = hook.input if hook is not None and isinstance(hook.input, dict) else {}
    path = ""
    for key in ("file_path", "notebook_path", "path"):
        value = inputs.get(key)
        if isinstance(value, str) and value:
            path = value
            break
    host = ""
    if record.tool == "WebFetch":
        url = inputs.get("url")
        if isinstance(url, str):
            try:
                host = (urlsplit(url).hostname or "").lower()
            except ValueError:
                host = "?"
    elif record.tool == "WebSearch":
        host = "web-search"
    if record.egress is not None:
        host = egress_host(record.egress.target)
    findings = len(record.findings) + sum(len(c.findings) for c in record.content)
    return RecordView(
        time=epoch(record.time),
        surface=record.surface,
        event=record.event,
        tool=record.tool,
        decision=record.decision or "",
        cwd=cwd,
        path=path,
        host=host,
        findings=findings,
        outbound=any(str(r).startswith(rids.DLP_OUTBOUND) for r in record.rule_ids),
    )


def egress_host(target: str) -> str:
    """The host an egress record's target names: ``host:port`` (CONNECT, SOCKS) or a URL (plain HTTP's
    absolute form, whose scheme is not a host)."""
    if "://" in target:
        try:
            return (urlsplit(target).hostname or "?").lower()
        except ValueError:
            return "?"
    return target.rsplit(":", 1)[0].strip("[]").lower()


def _host_allowed(host: str, allow: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in allow)


def _directory(v: RecordView) -> str:
    if not v.path:
        return v.cwd or ""
    path = v.path if posixpath.isabs(v.path) or not v.cwd else posixpath.join(v.cwd, v.path)
    path = posixpath.normpath(path)
    return (
        path
        if v.tool in ("LS", "Glob", "Grep") and "." not in os.path.basename(path)
        else posixpath.dirname(path)
    )


def _sensitive(v: RecordView, rule: Rule) -> bool:
    if v.findings:
        return True
    name = v.path.lower()
    return bool(name) and any(fnmatch.fnmatch(name, p.lower()) for p in rule.paths)


# -- the step ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _limits(config: MonitorConfig) -> tuple[float, int]:
    """The longest rate window, and how many directories to remember (the largest threshold + 1)."""
    window = max((r.window_seconds for r in config.rules if r.kind == "rate"), default=60.0)
    dirs = int(max((r.threshold for r in config.rules if r.kind == "directories"), default=0)) + 1
    return window, dirs


def step(
    config: MonitorConfig, features: SessionFeatures, v: RecordView
) -> tuple[SessionFeatures, list[Hit]]:
    """The session's features after one more record, and the rules it trips (each once per session)."""
    is_call = v.event == "PreToolUse" and bool(v.tool)
    is_read = is_call and v.tool in READ_TOOLS
    window, dir_limit = _limits(config)
    recent = features.recent_calls
    if is_call:
        recent = (*(t for t in recent if t > v.time - window), v.time)
    dirs = features.dirs
    if is_read and len(dirs) < dir_limit:
        folder = _directory(v)
        if folder and folder not in dirs:
            dirs = (*dirs, folder)
    events = features.events + 1
    outbound_block = v.event == "DLPBlock" and v.outbound
    f = features._replace(
        dlp_blocks=features.dlp_blocks + int(outbound_block),
        calls=features.calls + int(is_call),
        errors=features.errors + int(is_call and v.decision == "deny"),
        reads=features.reads + int(is_read),
        events=events,
        recent_calls=recent,
        dirs=dirs,
    )
    hits: list[Hit] = []
    sensitive_now = False
    for rule in config.rules:
        hit = _check(rule, f, v, is_call, is_read)
        if rule.kind == "sequence" and is_read and _sensitive(v, rule):
            sensitive_now = True
        if hit is not None and rule.id not in f.fired:
            hits.append(Hit(rule.id, rule.severity, hit))
    if sensitive_now:
        f = f._replace(sensitive_at=events)
    if hits:
        f = f._replace(fired=(*f.fired, *(h.rule for h in hits)))
    return f, hits


def _check(rule: Rule, f: SessionFeatures, v: RecordView, is_call: bool, is_read: bool) -> str | None:
    if rule.kind == "rate":
        if not is_call:
            return None
        count = sum(1 for t in f.recent_calls if t > v.time - rule.window_seconds)
        if count > rule.threshold:
            return f"{count} tool calls in {rule.window_seconds:g} s (limit {rule.threshold:g})"
    elif rule.kind == "reads":
        if is_read and f.reads > rule.threshold:
            return f"{f.reads} file reads in the session (limit {rule.threshold:g})"
    elif rule.kind == "directories":
        if is_read and len(f.dirs) > rule.threshold:
            return f"reads in {len(f.dirs)} distinct directories (limit {rule.threshold:g})"
    elif rule.kind == "network":
        if v.host and not _host_allowed(v.host, rule.allow):
            return f"network request to {v.host}, outside the allowlist"
    elif rule.kind == "error_rate":
        if is_call and f.calls >= rule.min_calls and f.errors / f.calls > rule.threshold:
            share = 100 * f.errors / f.calls
            return (
                f"{f.errors} of {f.calls} tool calls denied ({share:.0f} %, limit {100 * rule.threshold:g} %)"
            )
    elif rule.kind == "dlp_blocks":
        if v.event == "DLPBlock" and v.outbound and f.dlp_blocks > rule.threshold:
            return (
                f"{f.dlp_blocks} outbound attempts blocked by DLP in the session (limit {rule.threshold:g})"
            )
    elif (
        rule.kind == "sequence"
        and v.host
        and f.sensitive_at >= 0
        and f.events - f.sensitive_at <= rule.within
    ):
        return f"network request to {v.host} {f.events - f.sensitive_at} event(s) after a sensitive read"
    return None


def features_to_json(f: SessionFeatures) -> dict[str, Any]:
    data = f._asdict()
    for key in ("recent_calls", "dirs", "fired"):
        data[key] = list(data[key])
    return data


def features_from_json(data: Mapping[str, Any]) -> SessionFeatures:
    return SessionFeatures(
        calls=int(data.get("calls", 0)),
        errors=int(data.get("errors", 0)),
        reads=int(data.get("reads", 0)),
        events=int(data.get("events", 0)),
        recent_calls=tuple(float(t) for t in data.get("recent_calls", ())),
        dirs=tuple(str(d) for d in data.get("dirs", ())),
        sensitive_at=int(data.get("sensitive_at", -1)),
        fired=tuple(str(r) for r in data.get("fired", ())),
        dlp_blocks=int(data.get("dlp_blocks", 0)),
    )


# -- the per-user baseline --------------------------------------------------------------------------------------


def anomaly_score(history: Sequence[int], today: int, *, min_days: int = 3) -> float | None:
    """How unusual ``today``'s tool calls are for a user whose past days (with activity) are ``history``:
    0 for at or below the mean, rising towards 1 with the distance in standard deviations (z / (z + 2):
    0.8 at 8 standard deviations). The deviation is at least 1 call and 10 % of the mean, so a very steady
    user is not flagged for a few extra calls. ``None`` until ``min_days`` days of history exist."""
    days = [d for d in history if d > 0]
    if len(days) < min_days:
        return None
    mean = sum(days) / len(days)
    spread = (sum((d - mean) ** 2 for d in days) / len(days)) ** 0.5
    z = (today - mean) / max(spread, 1.0, 0.1 * mean)
    return 0.0 if z <= 0 else z / (z + 2)
