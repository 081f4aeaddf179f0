"""``ramparts gateway --listen HOST:PORT --upstream URL`` and ``ramparts gateway token create --user NAME``.

Imports nothing heavy at parse time: aiohttp and the detectors load only when the gateway starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from .._locations import state_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "gateway",
        help="run the LLM gateway (Anthropic Messages API proxy with DLP masking)",
        description="Point Claude Code at it with ANTHROPIC_BASE_URL=http://HOST:PORT and "
        "ANTHROPIC_AUTH_TOKEN=<a token from `ramparts gateway token create`>. The upstream key comes "
        "from the gateway's own ANTHROPIC_API_KEY.",
    )
    common(p)
    p.add_argument(
        "--listen", default="127.0.0.1:8788", help="HOST:PORT (port 0: a free port; default %(default)s)"
    )
    p.add_argument("--upstream", help="Messages API base URL, e.g. https://api.anthropic.com")
    p.add_argument("--model", action="append", default=[], help="allowed model (fnmatch pattern; repeatable)")
    p.add_argument("--max-tokens", type=int, help="max_tokens cap")
    p.add_argument(
        "--max-tokens-mode",
        choices=["clamp", "reject"],
        default="clamp",
        help="over the cap (default: clamp)",
    )
    p.add_argument("--max-request-bytes", type=int, help="request size cap (default 32 MiB)")
    p.add_argument("--rate-per-minute", type=int, help="requests per user per minute (per replica)")
    p.add_argument("--daily-tokens", type=int, help="tokens per user per UTC day (shared by replicas)")
    p.add_argument("--max-lifetime", type=float, help=argparse.SUPPRESS)  # tests and benchmarks
    p.set_defaults(func=cmd_gateway)
    actions = p.add_subparsers(metavar="ACTION")
    tok = actions.add_parser("token", help="client tokens").add_subparsers(metavar="ACTION")
    t = tok.add_parser("create", help="print a new client token for a user (only its hash is stored)")
    t.add_argument("--user", required=True)
    t.add_argument("--state-dir", dest="token_state_dir", help="state directory (as for the gateway)")
    t.set_defaults(func=cmd_token_create)


def _state(args: argparse.Namespace) -> str:
    return os.path.abspath(state_dir(getattr(args, "token_state_dir", None) or args.state_dir))


def cmd_token_create(args: argparse.Namespace) -> int:
    from .tokens import TokenStore

    state = _state(args)
    os.makedirs(state, mode=0o700, exist_ok=True)
    store = TokenStore(os.path.join(state, "gateway.db"))
    try:
        token = store.create(args.user)
    finally:
        store.close()
    print(token)
    print(f"token for {args.user}: set ANTHROPIC_AUTH_TOKEN to it on the client", file=sys.stderr)
    return EXIT_OK


def cmd_gateway(args: argparse.Namespace) -> int:
    if not args.upstream:
        print("ramparts gateway: --upstream URL is required", file=sys.stderr)
        return EXIT_USAGE
    from .config import GatewayConfig
    from .server import run

    options: dict[str, Any] = {
        "models": tuple(args.model),
        "max_tokens": args.max_tokens,
        "max_tokens_mode": args.max_tokens_mode,
        "rate_per_minute": args.rate_per_minute,
        "daily_tokens": args.daily_tokens,
    }
    if args.max_request_bytes:
        options["max_request_bytes"] = args.max_request_bytes
    if args.policy or os.environ.get("RAMPARTS_POLICY"):
        from .._locations import policy_ref
        from ..policy.load import load_policy

        detect = load_policy(policy_ref(args.policy)).detect
        options["injection_block"] = detect.injection_block
        options["injection_warn"] = detect.injection_warn
    try:
        config = GatewayConfig.from_env(args.upstream, _state(args), **options)
    except ValueError as exc:
        print(f"ramparts gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run(config, args.listen, max_lifetime=args.max_lifetime)
