"""``ramparts up`` (``make up``): the control plane with its dashboard, the gateway, the egress proxy and
their agents on 127.0.0.1, demo Claude Code sessions reporting to them; Ctrl-C stops it all
(:mod:`ramparts.up`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._args import int_range, listen_address


def loopback(text: str) -> str:
    """``127.0.0.1:PORT``: the stack stays on loopback."""
    listen_address(text)
    host, _, port = text.rpartition(":")
    if host != "127.0.0.1" or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"give 127.0.0.1:PORT (the stack stays on loopback), not {text!r}")
    return text


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "up",
        help="bring up the whole stack on 127.0.0.1 with demo sessions (make up); Ctrl-C stops it",
        description="Starts the control plane and dashboard (SQLite), the LLM gateway, the egress proxy and "
        "one agent per state directory, creates a demo admin (password printed once), then runs demo "
        "Claude Code sessions (the real CLI against a scripted model) that report to it.",
    )
    p.add_argument(
        "--dir", default=".state/up", help="state of this run; emptied first (default %(default)s)"
    )
    p.add_argument(
        "--listen",
        default="127.0.0.1:8790",
        type=loopback,
        help="the dashboard's 127.0.0.1:PORT (another free port when that one is taken; default %(default)s)",
    )
    p.add_argument("--claude-bin", help="the claude binary (default: the project-local pinned CLI)")
    p.add_argument(
        "--sessions", type=int_range(1, 8), default=2, help="demo sessions to run (default %(default)s)"
    )
    p.add_argument(
        "--exit-after-demo",
        action="store_true",
        help="check that the records reached the control plane, print a summary, stop everything, exit "
        "(0: all arrived)",
    )
    p.set_defaults(func=cmd_up)


def cmd_up(args: argparse.Namespace) -> int:
    from ..up import run_up

    return run_up(
        root=Path(args.dir),
        claude_bin=args.claude_bin,
        listen=args.listen,
        sessions=args.sessions,
        exit_after_demo=args.exit_after_demo,
    )
