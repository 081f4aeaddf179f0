"""Redacted excerpts: the text around a finding, with every finding in it masked.

An excerpt is what a person reading a report or an audit record sees: enough of the line to know
where the value was (``password = «secret-generic-password b2mac:…»``), never the value itself nor
any other value found nearby, and no control, bidi or invisible characters that could rewrite a
terminal or hide text.
"""

from __future__ import annotations

import bisect

from .._recache import compile as re_compile
from .redact import fingerprint, redact_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

WIDTH = 40
"""Characters of context on each side of a value (within its line)."""


def excerpts(text: str, spans: Sequence[tuple[int, int, str]], key: bytes, width: int = WIDTH) -> list[str]:
    """One excerpt per ``(start, end, label)`` span; each masks every span it overlaps."""
    if not spans:
        return []
    ordered = sorted(spans)
    starts = [s for s, _e, _l in ordered]
    longest = max(e - s for s, e, _l in ordered)
    prints: dict[tuple[int, int], str] = {}  # a span masked in several excerpts is hashed once
    limit = width * 4
    out = []
    for start, end, _label in spans:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end == -1 else line_end
        lo, hi = max(line_start, start - width), min(line_end, end + width)
        parts: list[str] = []
        cursor = lo
        first = bisect.bisect_left(starts, lo - longest)  # no span starting earlier can reach lo
        for s, e, label in ordered[first : bisect.bisect_left(starts, hi)]:
            if e <= cursor:
                continue  # outside the window, or already masked with an overlapping span
            parts.append(redact_text(text[cursor : max(cursor, s)], key, limit=limit))
            mark = prints.get((s, e))
            if mark is None:
                mark = prints[(s, e)] = fingerprint(text[s:e], key)
            parts.append(f"«{label} {mark}»")
            cursor = e
        parts.append(redact_text(text[cursor : max(cursor, hi)], key, limit=limit))
        out.append(visible("".join(parts)))
    return out


_HIDDEN = "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\U000e0000-\U000e007f]"
"""Compiled on the first excerpt (:func:`_hidden`), not on import: a hook that finds nothing never
needs it (0.4 ms)."""


def _hidden() -> re.Pattern[str]:
    return re_compile(_HIDDEN)  # compiled once a process (kept by ramparts._recache)


def visible(text: str) -> str:
    """Escape control, bidi and invisible characters (``\\u202e``, ``\\u200b``, tag characters)."""
    return _hidden().sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
