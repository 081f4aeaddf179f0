"""One-line rendering of audit records for terminals and logs, safe against control characters."""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Escape CR/LF, ANSI escapes and bidi controls so a record cannot forge or hide log lines."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def render_line(seq: int, data: dict[str, Any]) -> str:
    """One record on one line; a record that does not fit the schema is shown as such, not guessed at."""
    from .record import RecordError, from_json

    try:
        record = from_json(data)
    except (RecordError, ValueError) as exc:
        return escape(f"#{seq} (a record that does not fit the schema: {str(exc)[:120]})")
    parts = [
        f"#{seq}",
        record.time or "?",
        f"{record.user or '?'}@{record.host or '?'}",
        f"session={(record.session or '-')[:8]}",
        record.event or "?",
    ]
    if record.tool:
        parts.append(record.tool)
    verdict = str(record.decision or "?").upper()
    if not record.enforced:
        verdict += f"(report:{record.would})"
    parts.append(verdict)
    summary = (record.hook.input if record.hook is not None else None) or {}
    main = summary.get("command") or summary.get("file_path") or summary.get("url") or summary.get("pattern")
    if isinstance(main, str):
        parts.append(repr(main[:120]))
    if record.gateway is not None:
        parts.append(f"{record.gateway.method} {record.gateway.route} {record.gateway.status}")
    if record.rule_ids:
        parts.append("rules=" + ",".join(record.rule_ids))
    return escape(" ".join(parts))
