"""Redacted excerpts: the text around a finding, with every finding in it masked.

An excerpt is what a person reading a report or an audit record sees: enough of the line to know
where the value was (``password = «secret-generic-password b2mac:…»``), never the value itself nor
any other value found nearby, and no control, bidi or invisible characters that could rewrite a
terminal or hide text.
"""

from __future__ import annotations

from collections.abc import Sequence

from .redact import fingerprint, redact_text

WIDTH = 40
"""Characters of context on each side of a value (within its line)."""


def excerpts(text: str, spans: Sequence[tuple[int, int, str]], key: bytes, width: int = WIDTH) -> list[str]:
    """One excerpt per ``(start, end, label)`` span; each masks every span it overlaps."""
    ordered = sorted(spans)
    out = []
    for start, end, _label in spans:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        lo, hi = max(line_start, start - width), min(line_end, end + width)
        parts: list[str] = []
        cursor = lo
        for s, e, label in ordered:
            if e <= cursor or s >= hi:
                continue  # outside the window, or already masked with an overlapping span
            parts.append(redact_text(text[cursor : max(cursor, s)], key, limit=width * 4))
            parts.append(f"«{label} {fingerprint(text[s:e], key)}»")
            cursor = e
        parts.append(redact_text(text[cursor : max(cursor, hi)], key, limit=width * 4))
        out.append(visible("".join(parts)))
    return out


def visible(text: str) -> str:
    """Escape control, bidi and invisible characters (``\\u202e``, ``\\u200b``, tag characters)."""
    return "".join(
        ch
        if ch.isprintable()
        and not (0x200B <= ord(ch) <= 0x206F or 0xE0000 <= ord(ch) <= 0xE007F or ch == "\ufeff")
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
