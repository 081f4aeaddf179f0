"""The ``ramparts`` subcommands other than ``hook``: each is a thin call into a module."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from .._locations import policy_ref, state_dir
from ._args import float_range, int_range

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def run(args_list: list[str]) -> int:
    """Every command but the hook: one line on stderr for any failure, never a traceback (set
    ``RAMPARTS_DEBUG=1`` for one); exit 0 done, 1 a check failed or something broke, 2 bad usage or
    input."""
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, or a usage error already reported in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at interpreter exit
    except BaseException as exc:  # noqa: BLE001 - translated into one line and an exit code
        return _failed(exc)
    finally:
        if "state_dir" in vars(args):
            give_back(state_dir(args.state_dir))
    return code


def _failed(exc: BaseException) -> int:
    """One line for the person at the terminal, and the exit code the failure calls for."""
    import errno

    from ..errors import PolicyError, RampartsError, UsageError

    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
        # the reader went away (`… | head`): stop quietly, as a shell pipeline would
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    if isinstance(exc, KeyboardInterrupt):
        print("ramparts: interrupted", file=sys.stderr)
        return 130
    if os.environ.get("RAMPARTS_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, (PolicyError, UsageError)) or (
        isinstance(exc, RampartsError) and isinstance(exc.__cause__, _PATH_ERRORS)
    ):  # a RampartsError raised from a missing or unwritable path is bad input too
        print(f"ramparts: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, RampartsError):
        print(f"ramparts: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    if isinstance(exc, json.JSONDecodeError):
        print(f"ramparts: not valid JSON: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, _PATH_ERRORS):
        where = f" {exc.filename}" if exc.filename else ""
        what = {
            FileNotFoundError: "no such file or folder",
            IsADirectoryError: "is a folder, not a file",
            NotADirectoryError: "a part of the path is not a folder",
            PermissionError: "permission denied",
        }[type(exc)]
        print(f"ramparts: cannot use{where}: {what}; check the path", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        print(f"ramparts: I/O error{where}: {exc.strerror or exc}", file=sys.stderr)
        with contextlib.suppress(OSError):  # what stdout still holds would fail again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PROBLEMS
    if isinstance(exc, ValueError):
        print(f"ramparts: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"ramparts: internal error: {type(exc).__name__}: {exc} (RAMPARTS_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return EXIT_PROBLEMS


_PATH_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def give_back(folder: str) -> None:
    """Run as root on a user's state directory (an administrator's `ramparts kill`, `audit checkpoint`…),
    hand every file root created there back to the directory's owner: a root-owned ``sessions.db-wal`` or
    key would leave that user's hook unable to write, and so denying every tool call."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    try:
        owner = os.stat(folder)
    except OSError:
        return
    if owner.st_uid == 0:
        return
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
                if st.st_uid != owner.st_uid:
                    os.lchown(path, owner.st_uid, owner.st_gid)
            except OSError:
                continue


class Parser(argparse.ArgumentParser):
    """argparse with a usage error in one line (what is wrong and where the help is), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(prog="ramparts", description="Defense in depth for AI coding agents.")
    parser.add_argument("--version", action="version", version=f"ramparts {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")
    _build(sub)
    _groups_print_their_help(parser)
    return parser


def _groups_print_their_help(parser: argparse.ArgumentParser) -> None:
    """A command made only of actions (``ramparts policy``, ``audit``, ``gateway token`` …) given no
    action prints its own help and exits 2, instead of the top-level help or its parent's default."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for child in dict.fromkeys(action.choices.values()):
            has_actions = any(isinstance(a, argparse._SubParsersAction) for a in child._actions)
            if has_actions and child.get_default("func") is None:
                child.set_defaults(func=_helper(child))
            _groups_print_their_help(child)


def _helper(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return EXIT_USAGE

    return show


def _build(sub: Any) -> None:

    def common(p: argparse.ArgumentParser, *, policy: bool = True, state: bool = True) -> None:
        if policy:
            p.add_argument(
                "--policy", help="policy file or profile:NAME (else RAMPARTS_POLICY, else installed)"
            )
        if state:
            p.add_argument(
                "--state-dir", help="state directory (else RAMPARTS_STATE_DIR, else per-user default)"
            )

    def audit_url(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--audit-url",
            metavar="URL",
            help="a postgresql:// audit store (else RAMPARTS_AUDIT_URL, else <state dir>/audit.db)",
        )

    p = sub.add_parser("hook", help="Claude Code command hook: event JSON on stdin, decision on stdout")
    common(p)

    p = sub.add_parser(
        "hook-server", help="resident hook: answer hook events over a Unix socket (see docs/hook.md)"
    )
    common(p)
    p.add_argument("--socket", help="socket path (default: STATE_DIR/hook.sock)")
    p.add_argument(
        "--idle-exit",
        type=float_range(1, 7 * 86400),
        default=900,
        help="exit after this many seconds without a request (1..604800; default 900)",
    )
    p.add_argument("--deadline-ms", type=int, help=argparse.SUPPRESS)  # the hook command's; per request
    p.set_defaults(func=cmd_hook_server)

    pol = sub.add_parser("policy", help="write, check or describe policy files").add_subparsers(
        metavar="ACTION"
    )
    p = pol.add_parser("init", help="write a commented policy file")
    p.add_argument(
        "--profile",
        choices=["baseline", "strict", "readonly"],
        default="baseline",
        help="the profile the file extends (default baseline)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("path", help="where to write the policy file")
    p.set_defaults(func=cmd_policy_init)
    p = pol.add_parser("check", help="validate a policy and warn about rules Claude Code cannot match")
    p.add_argument("path", nargs="?", help="the policy file (default: RAMPARTS_POLICY, else installed)")
    p.add_argument("--strict", action="store_true", help="exit non-zero on warnings too")
    p.set_defaults(func=cmd_policy_check)
    p = pol.add_parser("schema", help="print the policy file's JSON Schema")
    p.set_defaults(func=cmd_policy_schema)
    p = pol.add_parser("show", help="print a policy in YAML")
    p.add_argument(
        "path", nargs="?", help="the policy file or profile:NAME (default: RAMPARTS_POLICY, else installed)"
    )
    p.add_argument(
        "--effective",
        action="store_true",
        help="the merged policy after its profile and extends chain, every setting spelled out (the default)",
    )
    p.set_defaults(func=cmd_policy_show)

    p = sub.add_parser("compile", help="print or write the managed-settings.json for a policy")
    common(p)
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.add_argument("--mcp-output", help="also write managed-mcp.json (the policy's managed MCP servers) here")
    p.add_argument(
        "--all",
        metavar="DIR",
        help="write every deployment artefact into DIR (hardened managed settings, managed-mcp.json, pre-push "
        "hook, GitHub ruleset, Bedrock IAM policy, Terraform for the audit archive), each checked",
    )
    p.add_argument(
        "--egress-proxy", default="http://127.0.0.1:8789", help="with --all: Ramparts' egress proxy URL"
    )
    p.add_argument("--otel-endpoint", default="http://127.0.0.1:4318", help="with --all: the OTLP collector")
    p.add_argument(
        "--wrap-mcp",
        action="store_true",
        help="with --all: run managed stdio MCP servers in `ramparts mcp wrap`",
    )
    p.add_argument("--python", help="interpreter the hook runs with (default: this one)")
    resident_flags(p)
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("install", help="compile and write the settings for a scope")
    common(p)
    p.add_argument(
        "--scope", choices=["managed", "user"], default="managed", help="where to install (default managed)"
    )
    p.add_argument("--root", help="write below this folder instead of / (tests, image builds)")
    p.add_argument("--platform", choices=["linux", "darwin", "win32"], help="target platform's paths")
    p.add_argument("--force", action="store_true", help="overwrite a settings file Ramparts did not write")
    p.add_argument("--python", help="interpreter the hook runs with (default: this one)")
    resident_flags(p)
    p.set_defaults(func=cmd_install)

    aud = sub.add_parser("audit", help="read and verify the audit trail").add_subparsers(metavar="ACTION")
    p = aud.add_parser(
        "schema", help="print the audit record's JSON Schema (Draft 2020-12), what the control plane accepts"
    )
    p.set_defaults(func=cmd_audit_schema)
    p = aud.add_parser("tail", help="print the newest records")
    common(p, policy=False)
    audit_url(p)
    p.add_argument("-n", type=int_range(1), default=20, help="how many records (default 20)")
    p.add_argument("--json", action="store_true", help="one JSON record a line")
    p.set_defaults(func=cmd_audit_tail)
    p = aud.add_parser(
        "verify", help="check records, Merkle tree and signed checkpoints; one line per problem"
    )
    common(p, policy=False)
    audit_url(p)
    p.add_argument(
        "--anchor", metavar="CHECKPOINT_FILE", help="a checkpoint note kept elsewhere (truncation, rollback)"
    )
    p.add_argument(
        "--key", metavar="VERIFIER", help="the verifier key to trust (default: the one in the log)"
    )
    p.set_defaults(func=cmd_audit_verify)
    p = aud.add_parser("ship", help="deliver records and checkpoints to the configured sinks")
    common(p)
    audit_url(p)
    p.add_argument(
        "--config", help="YAML/JSON file with a ship: section (default: the policy's ship: section)"
    )
    p.add_argument("--once", action="store_true", help="deliver what is there, retry with backoff, then exit")
    p.add_argument("--sink", action="append", default=[], metavar="NAME", help="only this sink (repeatable)")
    p.set_defaults(func=cmd_audit_ship)
    p = aud.add_parser("checkpoint", help="sign and print a checkpoint of the log as it is now")
    common(p, policy=False)
    audit_url(p)
    p.set_defaults(func=cmd_audit_checkpoint)
    p = aud.add_parser("prove", help="inclusion proof of one record in the latest checkpoint (JSON)")
    common(p, policy=False)
    audit_url(p)
    p.add_argument("--record", type=int_range(1), required=True, metavar="SEQ", help="the record's number")
    p.set_defaults(func=cmd_audit_prove)
    p = aud.add_parser("consistency", help="consistency proof between two sizes of the log (JSON)")
    common(p, policy=False)
    audit_url(p)
    p.add_argument("old", type=int_range(0), help="the older size (records)")
    p.add_argument("new", type=int_range(0), help="the newer size (records)")
    p.set_defaults(func=cmd_audit_consistency)
    p = aud.add_parser("export", help="one session's records with the proofs to verify them offline")
    common(p, policy=False)
    audit_url(p)
    p.add_argument("--session", required=True, help="the session id")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="default jsonl")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    p.set_defaults(func=cmd_audit_export)
    p = aud.add_parser("verify-export", help="check an export file offline against a verifier key")
    common(p, policy=False)
    p.add_argument("file", help="the export file")
    p.add_argument("--key", required=True, metavar="VERIFIER", help="the verifier key to trust")
    p.add_argument("--format", choices=["jsonl", "csv"], help="default: from the file name")
    p.set_defaults(func=cmd_audit_verify_export)

    p = sub.add_parser("explain", help="dry-run one tool call and show the reasoning")
    common(p)
    p.add_argument("tool", nargs="?", help="tool name, e.g. Bash, Read, Edit, WebFetch")
    p.add_argument("argument", nargs="?", help="the command, path or URL")
    p.add_argument("--input", help="the whole tool_input as JSON")
    p.add_argument("--cwd", help="working directory of the call (default: current)")
    p.add_argument("--json", action="store_true", help='print {"decision", "reasons", "rules"}')
    p.add_argument(
        "--jsonl", action="store_true", help="read hook-style objects on stdin, one decision a line"
    )
    p.set_defaults(func=cmd_explain)

    gitp = sub.add_parser("git", help="git safeguards: hooks that back the git rules").add_subparsers(
        metavar="ACTION"
    )
    p = gitp.add_parser(
        "install-hooks", help="install the pre-push hook refusing agent pushes to protected branches"
    )
    p.add_argument("repo", nargs="?", default=".", help="the repository (default: current folder)")
    p.add_argument("--policy", help="policy whose git.protected_branches to use (default: the installed one)")
    p.add_argument(
        "--protect", action="append", default=[], metavar="BRANCH", help="also protect BRANCH (glob)"
    )
    p.add_argument("--force", action="store_true", help="replace a pre-push hook Ramparts did not write")
    p.set_defaults(func=cmd_git_install_hooks)

    from .scan import add_parser as add_scan_parser

    add_scan_parser(sub)
    from .session import add_parsers as add_session_parsers

    add_session_parsers(sub, common)
    from .gateway import add_parsers as add_gateway_parsers

    add_gateway_parsers(sub, common)
    from .posture import add_parsers as add_posture_parsers

    add_posture_parsers(sub, common)
    from .sandbox import add_parsers as add_sandbox_parsers

    add_sandbox_parsers(sub, common)
    from .egress import add_parsers as add_egress_parsers

    add_egress_parsers(sub, common)
    from .doctor import add_parsers as add_doctor_parsers

    add_doctor_parsers(sub, common)
    from .server import add_parsers as add_server_parsers

    add_server_parsers(sub, common)
    from .watch import add_parsers as add_watch_parsers

    add_watch_parsers(sub, common)
    from .up import add_parsers as add_up_parsers

    add_up_parsers(sub, common)

    p = sub.add_parser("demo", help="run a guarded Claude Code session against the scripted model")
    p.add_argument("--claude-bin", help="the claude binary (default: the project-local pinned CLI)")
    p.add_argument("--workdir", default=".demo", help="where the demo keeps its project, policy and state")
    p.add_argument(
        "--profile", choices=["baseline", "strict", "readonly"], default="baseline", help="default baseline"
    )
    p.set_defaults(func=cmd_demo)


def cmd_hook_server(args: argparse.Namespace) -> int:
    from ..agents.claude_code.hook_server import main

    return main(policy=args.policy, state=args.state_dir, socket_path=args.socket, idle_exit=args.idle_exit)


# -- policy -------------------------------------------------------------------------------------------


def cmd_policy_init(args: argparse.Namespace) -> int:
    from ..policy.template import render_template

    target = Path(args.path)
    if target.is_dir():
        print(
            f"ramparts: {target} is a folder; give a file name such as {target / 'ramparts.yaml'}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if target.exists() and not args.force:
        print(f"ramparts: {target} exists; use --force to overwrite it", file=sys.stderr)
        return EXIT_PROBLEMS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_template(args.profile, str(target)), "utf-8")
    print(f"wrote {target} (extends the {args.profile} profile)")
    return EXIT_OK


def cmd_policy_check(args: argparse.Namespace) -> int:
    from ..errors import PolicyError
    from ..policy.lint import lint
    from ..policy.load import load_policy

    ref = policy_ref(args.path)
    if not ref.startswith("profile:") and not Path(ref).is_file():
        what = "is a folder" if Path(ref).is_dir() else "does not exist"
        print(f"ramparts: {ref} {what}; give a policy file (or profile:NAME)", file=sys.stderr)
        return EXIT_USAGE
    try:
        policy = load_policy(ref)
    except PolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    warnings = lint(policy)
    for w in warnings:
        where = f"{w.source}:{w.line}" if w.line else w.source
        print(f"warning: {where}: {w.message}")
    print(
        f"{policy.source}: ok (revision {policy.revision}; {len(policy.deny)} deny, {len(policy.ask)} ask, "
        f"{len(policy.allow)} allow rules; {len(warnings)} warning(s))"
    )
    return EXIT_PROBLEMS if warnings and args.strict else EXIT_OK


def cmd_policy_schema(args: argparse.Namespace) -> int:
    from ..policy.schema import SCHEMA

    print(json.dumps(SCHEMA, indent=2))
    return EXIT_OK


# -- compile / install -------------------------------------------------------------------------------------------


def resident_flags(p: argparse.ArgumentParser) -> None:
    flags = p.add_mutually_exclusive_group()
    flags.add_argument(
        "--resident",
        dest="resident",
        action="store_const",
        const=True,
        default=None,
        help="install the resident hook's client, falling back to the plain hook (the default, unless "
        "the policy sets hook.resident: false)",
    )
    flags.add_argument(
        "--no-resident",
        dest="resident",
        action="store_const",
        const=False,
        help="install the plain hook command only (a fresh interpreter per event, as hook.resident: false)",
    )


def _compiled(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    import os

    from ..policy.compile import hook_command, managed_settings
    from ..policy.load import load_policy, resolve_ref

    ref = policy_ref(args.policy)
    policy = load_policy(ref)
    path, _ = resolve_ref(ref)
    policy_arg = ref if ref.startswith("profile:") else str(Path(path).resolve())
    explicit_state = args.state_dir or os.environ.get("RAMPARTS_STATE_DIR")
    command = hook_command(
        policy_arg,
        str(Path(explicit_state).expanduser().resolve()) if explicit_state else None,
        python=args.python,
        deadline_ms=policy.hook.deadline_ms,
    )
    # the client needs Unix sockets: on Windows it would only ever fall back (two interpreters an event)
    platform = getattr(args, "platform", None) or sys.platform
    resident = policy.hook.resident and platform != "win32"
    if getattr(args, "resident", None) is not None:
        resident = args.resident  # the command line wins over the policy's hook.resident
    if resident:
        from ..policy.compile import resident_command

        command = resident_command(
            command, python=args.python, timeout=policy.hook.timeout, deadline_ms=policy.hook.deadline_ms
        )
    egress_command = None
    if policy.egress.proxy:
        from ..policy.compile import credential_command

        egress_command = credential_command(
            str(Path(explicit_state).expanduser().resolve()) if explicit_state else None, python=args.python
        )
    return managed_settings(policy, command=command, egress_command=egress_command), policy.revision


def cmd_compile(args: argparse.Namespace) -> int:
    from ..agents.claude_code.install import render

    settings, _ = _compiled(args)
    if args.all:
        return _compile_all(args, settings)
    data = render(settings)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(data.decode("utf-8"))
    if args.mcp_output:
        from ..policy.compile import managed_mcp
        from ..policy.load import load_policy

        servers = managed_mcp(load_policy(policy_ref(args.policy)))
        if servers is None:
            print(
                "ramparts: the policy configures no managed MCP servers (mcp.servers.NAME.managed)",
                file=sys.stderr,
            )
            return EXIT_PROBLEMS
        Path(args.mcp_output).write_bytes(render(servers))
        print(f"wrote {args.mcp_output}", file=sys.stderr)
    return EXIT_OK


def _compile_all(args: argparse.Namespace, settings: dict[str, Any]) -> int:
    from ..policy.artefacts import Context, Options, write_all
    from ..policy.load import load_policy, resolve_ref

    ref = policy_ref(args.policy)
    policy = load_policy(ref)
    path, _ = resolve_ref(ref)
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    options = Options(
        hook_command=command,
        egress_proxy=args.egress_proxy,
        otel_endpoint=args.otel_endpoint,
        wrap_mcp=args.wrap_mcp,
        ramparts_bin=str(Path(sys.executable).with_name("ramparts")),
        policy_arg=ref if ref.startswith("profile:") else str(Path(path).resolve()),
    )
    for written in write_all(Context(policy, options), Path(args.all)):
        print(f"wrote {written}")
    return EXIT_OK


def cmd_install(args: argparse.Namespace) -> int:
    from ..agents.claude_code.install import settings_path, write_settings

    settings, revision = _compiled(args)
    target = settings_path(args.scope, root=Path(args.root) if args.root else None, platform=args.platform)
    write_settings(target, settings, force=args.force, note=f"policy revision {revision}")
    print(f"installed Ramparts ({args.scope} scope, policy revision {revision}) in {target}")
    if args.scope == "managed":
        from ..policy.compile import managed_mcp
        from ..policy.load import load_policy

        servers = managed_mcp(load_policy(policy_ref(args.policy)))
        if servers is not None:
            mcp_target = target.parent / "managed-mcp.json"
            write_settings(mcp_target, servers, force=args.force, note=f"policy revision {revision}")
            print(f"wrote the policy's MCP servers to {mcp_target}")
    if args.scope == "user":
        print("note: allowManagedHooksOnly and other lock keys only take effect in managed settings")
    return EXIT_OK


# -- audit ---------------------------------------------------------------------------------------------------------


def _store(args: argparse.Namespace) -> Any:
    from ..audit.store import AuditStore

    return AuditStore.open(state_dir(args.state_dir), url=getattr(args, "audit_url", None), must_exist=True)


def cmd_audit_schema(args: argparse.Namespace) -> int:
    from ..audit.record import schema

    print(json.dumps(schema(), indent=2, sort_keys=True))
    return EXIT_OK


def cmd_audit_tail(args: argparse.Namespace) -> int:
    from ..audit.render import render_line

    with _store(args) as store:
        for rec in store.tail(args.n):
            print(rec.body if args.json else render_line(rec.seq, rec.data()))
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ..audit.checkpoint import NoteError, Verifier

    anchor = Path(args.anchor).read_text(encoding="utf-8", errors="surrogateescape") if args.anchor else None
    try:
        key = Verifier.parse(args.key) if args.key else None
    except NoteError as exc:
        print(f"ramparts: --key: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with _store(args) as store:
        report = store.report(anchor=anchor, verifier=key)
    for line in report.lines():
        print(line)
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    with _store(args) as store:
        sys.stdout.write(store.checkpoint())
    return EXIT_OK


def cmd_audit_ship(args: argparse.Namespace) -> int:
    import json as json_

    from ..audit.ship_config import parse_ship_config, ship_command
    from ..errors import PolicyError
    from ..policy.load import load_policy

    config: Any = args.config
    if config is None:
        ref = policy_ref(args.policy)
        policy = load_policy(ref)
        if not policy.ship:
            raise PolicyError("the policy has no ship: section (or give --config FILE)", file=ref)
        config = parse_ship_config(json_.loads(policy.ship))
    return ship_command(state_dir(args.state_dir), config, once=args.once, only=args.sink, url=args.audit_url)


def cmd_audit_prove(args: argparse.Namespace) -> int:
    with _store(args) as store:
        print(json.dumps(store.log.prove(args.record), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_audit_consistency(args: argparse.Namespace) -> int:
    with _store(args) as store:
        print(json.dumps(store.log.consistency(args.old, args.new), indent=2))
    return EXIT_OK


def cmd_audit_export(args: argparse.Namespace) -> int:
    from ..audit.export import export_session

    with _store(args) as store:
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = export_session(store.log, args.session, args.format, out)
        else:
            count = export_session(store.log, args.session, args.format, sys.stdout)
    print(f"exported {count} record(s) of session {args.session}", file=sys.stderr)
    return EXIT_OK


def cmd_audit_verify_export(args: argparse.Namespace) -> int:
    from ..audit.checkpoint import Verifier
    from ..audit.export import verify_export

    fmt = args.format or ("csv" if args.file.endswith(".csv") else "jsonl")
    text = Path(args.file).read_text(encoding="utf-8")
    count, problems = verify_export(text, fmt, Verifier.parse(args.key))
    from ..audit.render import escape

    for problem in problems:
        print(escape(problem))
    print(f"{'FAILED' if problems else 'OK'}: {count} record(s), {len(problems)} problem(s)")
    return EXIT_PROBLEMS if problems else EXIT_OK


# -- explain -----------------------------------------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    from ..explain import explain_call, explain_jsonl, render_text
    from ..policy.load import load_policy, protect_own_files

    ref = policy_ref(args.policy)
    if not args.policy and not os.environ.get("RAMPARTS_POLICY") and not Path(ref).exists():
        # nothing installed yet: explain against the baseline, and say so
        print(f"ramparts explain: no policy at {ref}; using profile:baseline", file=sys.stderr)
        ref = "profile:baseline"
    policy = protect_own_files(load_policy(ref), policy_file=ref, state_dir=state_dir(args.state_dir))
    if args.jsonl:
        return explain_jsonl(policy, sys.stdin, sys.stdout, default_cwd=args.cwd, state_dir=args.state_dir)
    if not args.tool:
        print("ramparts explain: name a tool (e.g. Bash 'git push') or use --jsonl", file=sys.stderr)
        return EXIT_USAGE
    tool_input = json.loads(args.input) if args.input else None
    if tool_input is not None and not isinstance(tool_input, dict):
        print('ramparts explain: --input must be a JSON object, e.g. {"command": "ls"}', file=sys.stderr)
        return EXIT_USAGE
    decision = explain_call(
        policy, args.tool, args.argument, tool_input=tool_input, cwd=args.cwd, state_dir=args.state_dir
    )
    if args.json:
        result = {
            "decision": decision.verdict,
            "reasons": list(decision.reasons),
            "rules": list(decision.rule_ids),
        }
        print(json.dumps(result))
    else:
        print(render_text(policy, args.tool, decision))
    return EXIT_OK


# -- git -----------------------------------------------------------------------------------------------------------


def cmd_git_install_hooks(args: argparse.Namespace) -> int:
    from ..policy.githooks import install_hooks
    from ..policy.load import load_policy

    # the policy's git.protected_branches (the installed policy, else the baseline) plus --protect
    ref = policy_ref(args.policy)
    if not args.policy and not Path(ref).exists():
        ref = "profile:baseline"
    if not Path(args.repo).is_dir():
        print(f"ramparts: {args.repo} is not a folder; give the repository's folder", file=sys.stderr)
        return EXIT_USAGE
    branches = load_policy(ref).git.protected_branches
    protected = tuple(dict.fromkeys([*branches, *args.protect]))
    path = install_hooks(args.repo, protected, force=args.force)
    print(f"installed the Ramparts pre-push hook in {path} (protected: {', '.join(protected)})")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(workdir=Path(args.workdir), claude_bin=args.claude_bin, profile=args.profile)


# -- policy show ------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """NamedTuples, tuples and pairs-lists as YAML-friendly dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, frozenset):
        return sorted(_plain(v) for v in value)
    return value


def effective_document(policy: Any) -> dict[str, Any]:
    """The compiled policy, merged over its profile and ``extends`` chain, as one YAML-ready mapping:
    rules as written (with the id each decision names), every section with every setting spelled out."""
    doc: dict[str, Any] = {
        "source": policy.source,
        "revision": policy.revision,
        "extends": list(policy.extends),
        "mode": policy.mode,
        "default": policy.default,
        "permissions": {
            name: [
                r.raw if r.id == f"{name}:{r.raw}" else {"rule": r.raw, "id": r.id, "reason": r.reason}
                for r in getattr(policy, name)
            ]
            for name in ("deny", "ask", "allow")
        },
        "sensitive_paths": list(policy.sensitive_paths),
        "shell": {
            "opaque": policy.opaque_shell,
            "inline_code": policy.inline_code,
            "allow_read_only": policy.allow_read_only,
        },
    }
    for section in ("hook", "settings", "detect", "dlp", "session", "mcp", "git", "gateway"):
        doc[section] = _plain(getattr(policy, section))
    if policy.ship:
        doc["ship"] = json.loads(policy.ship)
    return doc


def cmd_policy_show(args: argparse.Namespace) -> int:
    import yaml

    from ..policy.load import load_policy

    policy = load_policy(policy_ref(args.path))
    sys.stdout.write(f"# the effective policy of {policy.source} (revision {policy.revision})\n")
    sys.stdout.write(
        yaml.safe_dump(effective_document(policy), sort_keys=False, allow_unicode=True, width=120)
    )
    return EXIT_OK
