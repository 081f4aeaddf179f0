"""``ramparts posture``: what this machine's Claude Code really enforces, as a report."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "posture",
        help="lint every Claude Code settings scope on this machine against the review's controls",
        description="Reads the managed file and drop-ins, managed-mcp.json, user, project and local settings "
        "and .mcp.json, computes the configuration Claude Code applies, and reports what weakens it. "
        "Exit 1 when a finding at or above --fail-on exists.",
    )
    p.add_argument("--root", help="read a tree that mirrors / (fixtures, images) instead of /")
    p.add_argument("--home", help="the user's home as seen inside --root (default: $HOME)")
    p.add_argument("--project", help="the project folder as seen inside --root (default: the current folder)")
    p.add_argument("--format", choices=["text", "json", "sarif", "html"], default="text")
    p.add_argument("-o", "--output", help="write the report here instead of stdout")
    p.add_argument(
        "--fail-on",
        choices=["critical", "high", "medium", "low", "info", "never"],
        default="high",
        help="exit 1 when a finding of this severity or above exists (default %(default)s)",
    )
    p.add_argument(
        "--egress-proxy", help="the URL Ramparts' egress proxy listens on (default: the compiled one)"
    )
    p.set_defaults(func=cmd_posture)


def cmd_posture(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..posture import DEFAULT_EGRESS_PROXY, Options, discover, lint, rank, report

    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        print(f"ramparts: --root {args.root} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    discovery = discover(root=root, home=args.home, project=args.project)
    findings = lint(discovery, Options(egress_proxy=args.egress_proxy or DEFAULT_EGRESS_PROXY))
    if args.format == "json":
        out = report.as_json(findings, discovery)
    elif args.format == "sarif":
        out = report.sarif(findings, discovery, version=__version__)
    elif args.format == "html":
        out = report.html_report(
            findings, discovery, generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        )
    else:
        out = report.text(findings, discovery)
    if args.output:
        Path(args.output).write_text(out, "utf-8")
        print(f"wrote {args.output} ({len(findings)} findings)", file=sys.stderr)
    else:
        sys.stdout.write(out)
    if args.fail_on != "never" and any(rank(f.severity) >= rank(args.fail_on) for f in findings):
        return EXIT_PROBLEMS
    return EXIT_OK
