"""Posture reports: text, JSON, SARIF 2.1.0, and one self-contained HTML page (pure: strings in, strings out)."""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from .discovery import Discovery
from .findings import CHECKS, COMPLIANCE, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def summary(findings: list[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in ("critical", "high", "medium", "low", "info")}


def sources_table(discovery: Discovery) -> list[dict[str, str]]:
    return [
        {"scope": s.scope, "path": s.path, "status": s.status, "note": s.error} for s in discovery.sources
    ]


def text(findings: list[Finding], discovery: Discovery) -> str:
    lines = ["Settings sources:"]
    for s in discovery.sources:
        note = f" ({s.error})" if s.error else ""
        lines.append(f"  {s.status:<10} {s.scope:<14} {s.path}{note}")
    lines.append("")
    if not findings:
        lines.append("No findings.")
    for f in findings:
        where = f.file + (f" [{f.key}]" if f.key else "")
        lines.append(f"{f.severity.upper():<8} {f.check} {f.crbrs:<8} {where}")
        lines.append(f"         {f.message}")
        lines.append(f"         fix: {f.fix}")
    counts = summary(findings)
    lines.append("")
    lines.append("Summary: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines) + "\n"


def as_json(findings: list[Finding], discovery: Discovery) -> str:
    doc = {
        "summary": summary(findings),
        "sources": sources_table(discovery),
        "findings": [
            {
                "id": f.check,
                "title": f.title,
                "severity": f.severity,
                "crbrs": f.crbrs,
                "file": f.file,
                "key": f.key,
                "message": f.message,
                "fix": f.fix,
            }
            for f in findings
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def _line(discovery: Discovery, path: str, key: str) -> int:
    """The 1-based line where ``key``'s last segment first appears in ``path``'s text (1 when unknown)."""
    leaf = key.rsplit(".", 1)[-1] if key else ""
    for source in discovery.sources:
        if source.path == path and source.text and leaf:
            for number, line in enumerate(source.text.splitlines(), 1):
                if f'"{leaf}"' in line:
                    return number
    return 1


def sarif(findings: list[Finding], discovery: Discovery, *, version: str = "") -> str:
    used = sorted({f.check for f in findings})
    rules = [
        {
            "id": cid,
            "name": CHECKS[cid].title.replace(" ", ""),
            "shortDescription": {"text": CHECKS[cid].title},
            "fullDescription": {"text": CHECKS[cid].help},
            "help": {"text": CHECKS[cid].help},
            "properties": {"crbrs": CHECKS[cid].crbrs, "tags": ["security", CHECKS[cid].crbrs]},
        }
        for cid in used
    ]
    index = {cid: i for i, cid in enumerate(used)}
    results: list[dict[str, Any]] = []
    for f in findings:
        results.append(
            {
                "ruleId": f.check,
                "ruleIndex": index[f.check],
                "level": _LEVEL[f.severity],
                "message": {"text": f"{f.message}. Fix: {f.fix}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": "file://" + f.file if f.file.startswith("/") else f.file
                            },
                            "region": {"startLine": _line(discovery, f.file, f.key)},
                        },
                        "logicalLocations": [{"fullyQualifiedName": f.key or "(file)", "kind": "member"}],
                    }
                ],
                "properties": {
                    "severity": f.severity,
                    "crbrs": f.crbrs,
                    "security-severity": _SCORE[f.severity],
                },
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ramparts-posture",
                        "version": version or "0",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}
h1{font-size:1.5em}table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #d0d7de;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}.critical{color:#fff;background:#8b0000}.high{background:#f8c4c4}
.medium{background:#fbe6a2}.low{background:#dbeafe}.info{background:#eee}code{font-size:.9em}
"""


def html_report(findings: list[Finding], discovery: Discovery, *, generated: str = "") -> str:
    esc = html.escape
    counts = summary(findings)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Ramparts posture report</title>',
        f"<style>{_CSS}</style></head><body>",
        "<h1>Claude Code posture report</h1>",
        f"<p>Generated {esc(generated)} by <code>ramparts posture</code>. "
        + ", ".join(f"<b>{n}</b> {s}" for s, n in counts.items())
        + ".</p>",
        "<h2>Settings sources</h2><table><tr><th>Scope</th><th>Path</th><th>Status</th><th>Note</th></tr>",
    ]
    for s in discovery.sources:
        out.append(
            f"<tr><td>{esc(s.scope)}</td><td><code>{esc(s.path)}</code></td>"
            f"<td>{esc(s.status)}</td><td>{esc(s.error)}</td></tr>"
        )
    out.append("</table><h2>Findings</h2>")
    if not findings:
        out.append("<p>No findings.</p>")
    else:
        out.append(
            "<table><tr><th>Severity</th><th>Check</th><th>Control</th><th>Where</th>"
            "<th>Finding</th><th>Fix</th></tr>"
        )
        for f in findings:
            where = esc(f.file) + (f"<br><code>{esc(f.key)}</code>" if f.key else "")
            out.append(
                f'<tr><td class="{f.severity}">{f.severity}</td><td>{f.check}<br>{esc(f.title)}</td>'
                f"<td>{esc(f.crbrs)}</td><td>{where}</td><td>{esc(f.message)}</td><td>{esc(f.fix)}</td></tr>"
            )
        out.append("</table>")
    out.append(
        "<h2>Compliance mapping</h2><p>Each finding weakens the controls below: the agent's actions are "
        "logged, attributable and monitored only while these settings hold.</p>"
        "<table><tr><th>Check</th><th>Control</th><th>PCI DSS v4.0 Requirement 10</th>"
        "<th>ISO/IEC 27001:2022 A.8.15 Logging</th><th>SOC 2 CC7 System operations</th></tr>"
    )
    for cid in sorted({f.check for f in findings}):
        crbrs = CHECKS[cid].crbrs
        pci, iso, soc = COMPLIANCE[crbrs]
        out.append(
            f"<tr><td>{cid} {esc(CHECKS[cid].title)}</td><td>{esc(crbrs)}</td><td>{esc(pci)}</td>"
            f"<td>{esc(iso)}</td><td>{esc(soc)}</td></tr>"
        )
    out.append("</table></body></html>")
    return "\n".join(out) + "\n"
