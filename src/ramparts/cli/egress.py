"""``ramparts egress --listen HOST:PORT [--allow-host P] [--allow-range CIDR]`` and
``ramparts egress credential --session ID``.

The proxy's lists come from the policy's ``egress:`` section (``--policy`` or ``RAMPARTS_POLICY``;
the built-in defaults without one); the flags extend them. Nothing heavy is imported at parse time.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any

from .._locations import state_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "egress",
        help="run the egress proxy (CONNECT, absolute-form HTTP and SOCKS5 on one port)",
        description="Point clients at it with HTTPS_PROXY/HTTP_PROXY=http://ID:SECRET@HOST:PORT (a "
        "per-session credential from `ramparts egress credential`) or ALL_PROXY=socks5h://ID:SECRET@HOST:PORT.",
    )
    common(p)
    p.add_argument(
        "--listen", default="127.0.0.1:8789", help="HOST:PORT (port 0: a free port; default %(default)s)"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="PATTERN",
        help="also allow this host pattern (name, *.suffix, *)",
    )
    p.add_argument(
        "--allow-range", action="append", default=[], metavar="CIDR", help="also allow this address range"
    )
    p.add_argument(
        "--allow-port",
        action="append",
        default=[],
        type=int,
        metavar="PORT",
        help="also allow this port for names and public addresses (the policy's egress.ports: 80, 443)",
    )
    p.add_argument("--mode", choices=["enforce", "report", "open"], help="override the policy's egress.mode")
    p.add_argument(
        "--no-auth",
        action="store_true",
        help="serve clients without a per-session credential (tests, a single-user box)",
    )
    p.add_argument(
        "--no-dlp",
        action="store_true",
        help="do not scan plain-HTTP requests for secrets and personal data (outbound DLP is on by default)",
    )
    p.add_argument(
        "--audit-url",
        metavar="URL",
        help="a postgresql:// audit store (else RAMPARTS_AUDIT_URL, else <state dir>/audit.db)",
    )
    p.add_argument(
        "--dns",
        metavar="HOST:PORT",
        help="also serve the DNS stub on UDP HOST:PORT (allowed names only, tunnel shapes flagged)",
    )
    p.add_argument(
        "--ready-file",
        metavar="PATH",
        help="once listening, write {proxy, url, dns, pid, mode} as JSON here (removed on exit): the "
        "readiness signal for scripts (with --listen 127.0.0.1:0, the port it picked)",
    )
    p.add_argument("--max-lifetime", type=float, help=argparse.SUPPRESS)  # tests and benchmarks
    p.set_defaults(func=cmd_egress)
    actions = p.add_subparsers(metavar="ACTION")
    c = actions.add_parser("credential", help="mint a per-session proxy credential (prints the proxy URL)")
    c.add_argument("--session", help="the Claude Code session id (required without --hook)")
    c.add_argument(
        "--hook",
        action="store_true",
        help="run as Claude Code's SessionStart hook: the session id from the hook input on stdin, the "
        "credential written into $CLAUDE_ENV_FILE (the proxy URLs of later Bash commands), nothing printed",
    )
    c.add_argument("--user", default="", help="the user (default: the current OS user)")
    c.add_argument(
        "--proxy", default="127.0.0.1:8789", metavar="HOST:PORT", help="the proxy's address for the URL"
    )
    c.add_argument("--state-dir", dest="cred_state_dir", help="state directory (as for the proxy)")
    c.set_defaults(func=cmd_credential)


def _raise_open_file_limit() -> None:
    """Two descriptors per tunnel: take the hard limit on open files (often 1,024 soft)."""
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen takes HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def cmd_egress(args: argparse.Namespace) -> int:
    import asyncio

    from ..egress.proxy import serve
    from ..egress.service import Ready, audit_writer, build_config, write_ready_file
    from ..errors import PolicyError

    try:
        listen = _listen(args.listen)
        dns = _listen(args.dns) if args.dns else None
        config = build_config(
            state_dir(args.state_dir),
            policy=args.policy or os.environ.get("RAMPARTS_POLICY"),
            allow_hosts=args.allow_host,
            allow_ranges=args.allow_range,
            allow_ports=args.allow_port,
            mode=args.mode,
            auth=not args.no_auth,
            dlp=not args.no_dlp,
        )
    except (PolicyError, ValueError) as exc:
        print(f"ramparts egress: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _raise_open_file_limit()
    # the audit writer's thread must not keep the event loop waiting for the interpreter: hand it over
    # within 0.5 ms rather than CPython's default 5 ms
    sys.setswitchinterval(0.0005)
    writer = audit_writer(config.state_dir, args.audit_url)
    wrote: list[str] = []

    def ready(bound: tuple[str, int], dns_bound: tuple[str, int] | None) -> None:
        if args.ready_file:
            write_ready_file(
                args.ready_file, Ready(bound[0], bound[1], dns_bound, config.acl.mode, os.getpid())
            )
            wrote.append(args.ready_file)
        shown = f", DNS on {dns_bound[0]}:{dns_bound[1]}" if dns_bound else ""
        print(
            f"ramparts egress: listening on {bound[0]}:{bound[1]} (mode {config.acl.mode}){shown}",
            file=sys.stderr,
            flush=True,
        )

    try:
        import uvloop  # the egress extra: a faster event loop for many tunnels

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = asyncio.new_event_loop
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(
                serve(
                    config,
                    listen,
                    records=writer.append,
                    lazy_records=writer.append_built,
                    audit_healthy=lambda: bool(writer.healthy),
                    audit_room=writer.has_room,
                    ready=ready,
                    max_lifetime=args.max_lifetime,
                    dns=dns,
                )
            )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"ramparts egress: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    finally:
        for path in wrote:  # not ready any more
            with contextlib.suppress(OSError):
                os.unlink(path)
        writer.close()
    return EXIT_OK


def cmd_credential(args: argparse.Namespace) -> int:
    from ..egress.credentials import mint
    from ..errors import StoreError

    state = os.path.abspath(state_dir(args.cred_state_dir or args.state_dir))
    if args.hook:
        return _credential_hook(state, args.user or getpass.getuser())
    if not args.session:
        print("ramparts egress credential: --session ID (or --hook) is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        host, port = _listen(args.proxy)
        cred = mint(state, user=args.user or getpass.getuser(), session=args.session)
    except (StoreError, ValueError) as exc:
        print(f"ramparts egress credential: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(cred.proxy_url(host, port))
    print(
        f"credential {cred.client} for session {args.session}: use it as HTTPS_PROXY/HTTP_PROXY",
        file=sys.stderr,
    )
    return EXIT_OK


def _credential_hook(state: str, user: str) -> int:
    """SessionStart: mint the session's credential and append it to ``$CLAUDE_ENV_FILE``. Its stdout would
    reach the model, so nothing is printed there; a failure leaves Bash without a credential, and the
    proxy then refuses it (407): closed, not open."""
    import json

    from ..egress.credentials import env_lines, mint
    from ..errors import StoreError

    try:
        payload = json.loads(sys.stdin.read(1 << 20) or "{}")
    except ValueError:
        payload = {}
    session = payload.get("session_id") if isinstance(payload, dict) else None
    target = os.environ.get("CLAUDE_ENV_FILE", "")
    if not isinstance(session, str) or not session or not target:
        print("ramparts egress credential --hook: no session_id or no CLAUDE_ENV_FILE", file=sys.stderr)
        return EXIT_PROBLEMS
    try:
        cred = mint(state, user=user, session=session)
        descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
            handle.write(env_lines(cred))
    except (StoreError, OSError) as exc:
        print(f"ramparts egress credential --hook: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK
