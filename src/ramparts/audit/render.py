"""One-line rendering of audit records for terminals and logs, safe against control characters."""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Escape CR/LF, ANSI escapes and bidi controls so a record cannot forge or hide log lines."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def render_line(seq: int, data: dict[str, Any]) -> str:
    session = str(data.get("session") or "-")[:8]
    parts = [
        f"#{seq}",
        str(data.get("time", "?")),
        f"{data.get('user', '?')}@{data.get('host', '?')}",
        f"session={session}",
        str(data.get("event", "?")),
    ]
    if data.get("tool"):
        parts.append(str(data["tool"]))
    verdict = str(data.get("decision", "?")).upper()
    if data.get("enforced") is False:
        verdict += f"(report:{data.get('would')})"
    parts.append(verdict)
    summary = data.get("input") or {}
    if isinstance(summary, dict):
        main = (
            summary.get("command") or summary.get("file_path") or summary.get("url") or summary.get("pattern")
        )
        if isinstance(main, str):
            parts.append(repr(main[:120]))
    if data.get("rule_ids"):
        parts.append("rules=" + ",".join(str(r) for r in data["rule_ids"]))
    return escape(" ".join(parts))
