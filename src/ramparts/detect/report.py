"""What ``ramparts scan`` prints: text, JSON or SARIF 2.1.0, and the baseline of accepted findings.

Every form carries detector ids, positions, fingerprints and redacted excerpts; none carries a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from ..model import Finding

SEVERITY_ORDER = {"low": 0, "medium": 1, "high": 2, "critical": 3}
_SARIF_LEVEL = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}


class Located(NamedTuple):
    path: str
    column: int
    finding: Finding


def column(text: str, offset: int) -> int:
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


def as_dict(item: Located) -> dict[str, Any]:
    f = item.finding
    return {
        "path": item.path,
        "line": f.line,
        "column": item.column,
        "detector": f.detector,
        "category": f.category,
        "severity": f.severity,
        "confidence": f.confidence,
        "fingerprint": f.fingerprint,
        "excerpt": f.excerpt,
    }


def text_report(items: Sequence[Located]) -> str:
    lines = [
        f"{i.path}:{i.finding.line}:{i.column}: {i.finding.severity} {i.finding.detector} "
        f"(confidence {i.finding.confidence:.2f}, {i.finding.fingerprint}): {i.finding.excerpt}"
        for i in items
    ]
    return "\n".join(lines)


def json_report(items: Sequence[Located], skipped: Sequence[tuple[str, str]], scanned: int) -> str:
    return json.dumps(
        {
            "version": 1,
            "scanned_files": scanned,
            "skipped": [{"path": p, "why": w} for p, w in skipped],
            "findings": [as_dict(i) for i in items],
        },
        indent=2,
    )


def sarif_report(items: Sequence[Located], rule_names: dict[str, str], version: str) -> str:
    """SARIF 2.1.0 (OASIS): one run, one rule per detector seen, one result per finding."""
    detectors = sorted({i.finding.detector for i in items})
    index = {d: n for n, d in enumerate(detectors)}
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ramparts",
                        "version": version,
                        "informationUri": "https://example.invalid/ramparts",
                        "rules": [
                            {
                                "id": d,
                                "name": d,
                                "shortDescription": {"text": rule_names.get(d, d)},
                            }
                            for d in detectors
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": i.finding.detector,
                        "ruleIndex": index[i.finding.detector],
                        "level": _SARIF_LEVEL.get(i.finding.severity, "warning"),
                        "message": {
                            "text": f"{rule_names.get(i.finding.detector, i.finding.detector)} "
                            f"({i.finding.category}, confidence {i.finding.confidence:.2f})"
                        },
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": i.path.replace("\\", "/")},
                                    "region": {
                                        "startLine": i.finding.line,
                                        "startColumn": i.column,
                                        "snippet": {"text": i.finding.excerpt},
                                    },
                                }
                            }
                        ],
                        "partialFingerprints": {"rampartsFingerprint/v1": i.finding.fingerprint},
                    }
                    for i in items
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2)


def baseline_keys(data: Any) -> set[tuple[str, str, str]]:
    """The accepted findings of a baseline file: (path, detector, fingerprint)."""
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise ValueError("a baseline is a JSON object with a 'findings' list")
    out = set()
    for item in data["findings"]:
        if not isinstance(item, dict):
            raise ValueError("baseline findings are objects with path, detector and fingerprint")
        out.add((str(item.get("path", "")), str(item.get("detector", "")), str(item.get("fingerprint", ""))))
    return out


def baseline_doc(items: Iterable[Located]) -> str:
    findings = sorted({(i.path, i.finding.detector, i.finding.fingerprint) for i in items})
    return json.dumps(
        {"version": 1, "findings": [{"path": p, "detector": d, "fingerprint": f} for p, d, f in findings]},
        indent=2,
    )
