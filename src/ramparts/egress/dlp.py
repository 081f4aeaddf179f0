"""Outbound DLP at the egress proxy (issue 23): what a plain-HTTP request the proxy can read carries
(request line, headers, body; the first message of a tunnel that is not TLS) is scanned with the same
detectors and judged by the same outbound policy as a tool call's input
(:func:`ramparts.controls.content_outbound_hits`). A secret is a deny; personal data follows the policy
per entity, an ``ask`` becoming a deny (there is nobody to ask at the proxy); data too large to scan
whole is a deny. Reasons carry fingerprints, never values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model import Content, Decision, Finding

Checker = Callable[[bytes, str], "Decision | None"]


def judge(policy: Any, findings: tuple[Finding, ...], where: str, *, truncated: bool) -> Decision | None:
    """The proxy's decision on data bound for ``where`` (pure): None lets it through."""
    from ..controls import content_outbound_hits

    content = Content("tool_input", where, findings, truncated=truncated)
    hits = [h for h in content_outbound_hits(policy, content, where) if h.list in ("deny", "ask")]
    if not hits:
        return None
    return Decision(
        "deny",
        tuple(h.reason.replace("the call would send", "the request would send") for h in hits),
        tuple(f"egress.{h.rule_id}" for h in hits),
    )


def make_checker(policy: Any, detectors: Any, key: bytes) -> Checker:
    """A checker for the proxy: scans every decoded view of the bytes (URL encoding, JSON escapes, base64
    parameters: :func:`ramparts.sinks.decoded_views`) and judges what it found."""
    from ..sinks import decoded_views

    limit = policy.dlp.max_scan_bytes

    def check(data: bytes, where: str) -> Decision | None:
        text = data.decode("utf-8", "replace")
        seen: set[tuple[str, str]] = set()
        found: list[Finding] = []
        for view in decoded_views(text[:limit]):
            for finding in detectors.scan(view, key, limit=limit, categories=("secret", "pii")):
                if (finding.detector, finding.fingerprint) not in seen:
                    seen.add((finding.detector, finding.fingerprint))
                    found.append(finding)
        return judge(policy, tuple(found), where, truncated=len(text) > limit)

    return check
