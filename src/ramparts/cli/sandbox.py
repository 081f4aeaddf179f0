"""``ramparts sandbox -- CMD``, ``ramparts mcp wrap -- CMD``, ``ramparts mcp approve``, ``ramparts mcp pins``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._locations import policy_ref, state_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
PINS_ENV = "RAMPARTS_MCP_PINS"


def _isolation(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-write",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the command may write (repeatable)",
    )
    p.add_argument(
        "--net",
        choices=["none", "proxy"],
        default="none",
        help="none: no network at all; proxy: only Ramparts' egress proxy (default %(default)s)",
    )
    p.add_argument(
        "--keep-env",
        action="append",
        default=[],
        metavar="NAME",
        help="pass this variable in (repeatable); otherwise only PATH, HOME, USER, LANG, LC_*, TERM and TZ are",
    )
    p.add_argument(
        "--egress-proxy",
        default=os.environ.get("RAMPARTS_EGRESS_PROXY", "http://127.0.0.1:8789"),
        help="with --net proxy: the egress proxy's http://HOST:PORT (else RAMPARTS_EGRESS_PROXY)",
    )


def _pins_path(args: argparse.Namespace) -> Path:
    explicit = getattr(args, "pins", None) or os.environ.get(PINS_ENV)
    return Path(explicit) if explicit else Path(state_dir(args.state_dir)) / "mcp-pins.json"


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "sandbox",
        help="run a command under bubblewrap (read-only root, private /tmp, no network)",
        description="Everything is read-only except the --allow-write folders and a private /tmp; new PID, IPC, "
        "UTS, user and network namespaces, every capability dropped; the command dies with this process.",
    )
    _isolation(p)
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(func=cmd_sandbox)

    mcp = sub.add_parser(
        "mcp", help="MCP servers: run one sandboxed behind the JSON-RPC guard; approve tools"
    )
    actions = mcp.add_subparsers(metavar="ACTION")
    p = actions.add_parser(
        "wrap",
        help="run a stdio MCP server in the sandbox, screening tools/list, tools/call and results",
    )
    common(p)
    _isolation(p)
    p.add_argument("--server", required=True, help="the server's name in the policy's mcp.servers")
    p.add_argument("--pins", help=f"the pin file (else {PINS_ENV}, else <state dir>/mcp-pins.json)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    p.set_defaults(func=cmd_mcp_wrap)
    p = actions.add_parser(
        "approve", help="approve a tool's changed description (all pending ones without --tool)"
    )
    common(p, policy=False)
    p.add_argument("--server", required=True)
    p.add_argument("--tool")
    p.add_argument("--pins", help=f"the pin file (else {PINS_ENV}, else <state dir>/mcp-pins.json)")
    p.set_defaults(func=cmd_mcp_approve)
    p = actions.add_parser("pins", help="print the pinned and pending tool hashes")
    common(p, policy=False)
    p.add_argument("--pins", help=f"the pin file (else {PINS_ENV}, else <state dir>/mcp-pins.json)")
    p.set_defaults(func=cmd_mcp_pins)


def cmd_sandbox(args: argparse.Namespace) -> int:
    from ..sandbox.bwrap import Spec, commands, run

    command = commands(args.command)
    if not command:
        print("ramparts sandbox: give the command after --", file=sys.stderr)
        return EXIT_USAGE
    spec = Spec(
        command,
        allow_write=tuple(args.allow_write),
        net=args.net,
        cwd=os.getcwd(),
        keep_env=tuple(args.keep_env),
    )
    return run(spec, egress_proxy=args.egress_proxy if args.net == "proxy" else None)


def cmd_mcp_wrap(args: argparse.Namespace) -> int:
    from ..policy.load import load_policy
    from ..sandbox.bwrap import Spec, commands
    from ..sandbox.mcp import Guard, Pins, wrap

    command = commands(args.command)
    if not command:
        print("ramparts mcp wrap: give the server's command after --", file=sys.stderr)
        return EXIT_USAGE
    policy = load_policy(policy_ref(args.policy))
    guard = Guard(args.server, policy, Pins.load(_pins_path(args)))
    spec = Spec(
        command,
        allow_write=tuple(args.allow_write),
        net=args.net,
        cwd=os.getcwd(),
        keep_env=tuple(args.keep_env),
    )
    return wrap(guard, spec, egress_proxy=args.egress_proxy if args.net == "proxy" else None)


def cmd_mcp_approve(args: argparse.Namespace) -> int:
    from ..sandbox.mcp import Pins

    pins = Pins.load(_pins_path(args))
    done = pins.approve(args.server, args.tool)
    if not done:
        what = f"tool {args.tool!r}" if args.tool else "any tool"
        print(f"ramparts: nothing pending for {what} of MCP server {args.server!r}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"approved {', '.join(done)} of MCP server {args.server} in {pins.path}")
    return EXIT_OK


def cmd_mcp_pins(args: argparse.Namespace) -> int:
    from ..sandbox.mcp import Pins

    print(json.dumps(Pins.load(_pins_path(args)).data, indent=2, sort_keys=True))
    return EXIT_OK
