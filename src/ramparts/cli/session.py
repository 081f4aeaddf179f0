"""``ramparts session list|clear|replay|changes``, ``ramparts kill`` and ``ramparts reauth``.

Orders that relax a control (lifting a kill, clearing a taint, a step-up grant) are written to the
audit store first and applied only once the record is durable: nothing is relaxed unaudited. Orders
that tighten one (a kill) take effect first, then are audited, so a broken audit store cannot delay
them. Everything printed from the stores goes through :func:`ramparts.audit.render.escape`: a session
id, a path or a command cannot forge or hide terminal lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import rule_ids as rids
from .._locations import state_dir
from .._util import utc_stamp
from ._args import float_range, int_range

if TYPE_CHECKING:
    from ..audit.record import AuditRecord
    from ..model import Verdict

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
MAX_GRANT_MINUTES = 480
FILE_TOOLS = {
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}
READ_ONLY_TOOLS = {
    "Read",
    "Glob",
    "Grep",
    "LS",
    "WebFetch",
    "WebSearch",
    "TodoWrite",
    "TodoRead",
    "Task",
    "NotebookRead",
    "ExitPlanMode",
    "BashOutput",
}
_SUMMARY_KEYS = (
    "command",
    "file_path",
    "notebook_path",
    "url",
    "pattern",
    "query",
    "path",
    "prompt",
    "content",
    "description",
    "source",
    "reason",
)

Common = Callable[..., None]


def add_parsers(sub: Any, common: Common) -> None:
    """Add ``session``, ``kill`` and ``reauth`` to the ``ramparts`` parser (``common`` adds --state-dir)."""
    ses = sub.add_parser("session", help="list agent sessions, review one, clear a taint").add_subparsers(
        metavar="ACTION"
    )
    p = ses.add_parser("list", help="live sessions and their state")
    common(p, policy=False)
    p.add_argument("--all", action="store_true", help="closed and ended sessions too")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_session_list)
    p = ses.add_parser("clear", help="clear a session's prompt-injection taint (audited)")
    common(p, policy=False)
    p.add_argument("id", metavar="ID", help="the session id (ramparts session list)")
    p.set_defaults(func=cmd_session_clear)
    p = ses.add_parser(
        "end",
        help="end a finished or abandoned session, e.g. one holding the max_concurrent limit (audited)",
        description="Ends the session as its agent would with SessionEnd: it no longer counts against "
        "session.max_concurrent, and resuming the conversation later reopens it. To stop a session "
        "that is still working, use `ramparts kill --session ID`.",
    )
    common(p, policy=False)
    p.add_argument("id", metavar="ID", help="the session id (ramparts session list)")
    p.add_argument("--reason", help="why, for the audit trail")
    p.set_defaults(func=cmd_session_end)
    p = ses.add_parser("replay", help="a session's timeline from the audit trail")
    common(p, policy=False)
    p.add_argument("id", metavar="ID", help="the session id")
    p.add_argument("--json", action="store_true", help="one JSON record a line")
    p.set_defaults(func=cmd_session_replay)
    p = ses.add_parser("changes", help="files a session wrote and commands it ran, for incident review")
    common(p, policy=False)
    p.add_argument("id", metavar="ID", help="the session id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_session_changes)

    p = sub.add_parser(
        "kill",
        help="kill switch: stop a session, a user's sessions or all (audited; stands until --lift)",
        description="Every later tool call of the sessions named is denied, new sessions of a user or of "
        "all included, until the order is lifted. --terminate also ends the agent's process tree when it "
        "runs on this host.",
    )
    common(p, policy=False)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--session", metavar="ID", help="one session (see ramparts session list)")
    target.add_argument("--user", metavar="NAME", help="every session of this user, later ones included")
    target.add_argument("--all", action="store_true", help="every session of every user")
    p.add_argument("--lift", action="store_true", help="withdraw the kill order for the target")
    p.add_argument("--terminate", action="store_true", help="also end the agents' process trees (this host)")
    p.add_argument(
        "--grace",
        type=float_range(0, 600),
        default=5.0,
        help="seconds from SIGTERM to SIGKILL (0..600, default 5)",
    )
    p.add_argument("--reason", help="the incident, quoted to the agent and in the audit trail")
    p.add_argument(
        "--force",
        action="store_true",
        help="record an order for a session id this host has not seen (e.g. one that has not started yet)",
    )
    p.set_defaults(func=cmd_kill)

    p = sub.add_parser("reauth", help="step-up grant for a session's sensitive operations (audited)")
    common(p, policy=False)
    p.add_argument("--session", metavar="ID", required=True, help="the session to grant")
    p.add_argument(
        "--minutes", type=int_range(1, MAX_GRANT_MINUTES), required=True, help=f"1..{MAX_GRANT_MINUTES}"
    )
    p.set_defaults(func=cmd_reauth)


# -- helpers ---------------------------------------------------------------------------------------------


def _esc(text: object) -> str:
    from ..audit.render import escape

    return escape(str(text))


def _sessions(args: argparse.Namespace, *, create: bool = True) -> Any:
    from ..session.store import SessionStore

    path = Path(state_dir(args.state_dir)) / "sessions.db"
    if not create and not path.exists():
        return None
    # An administrator's order must survive a power loss: FULL, unlike the hook's NORMAL.
    return SessionStore(path, synchronous="FULL")


def _who() -> str:
    user = ""
    for var in ("USER", "LOGNAME"):
        if os.environ.get(var):
            user = os.environ[var]
            break
    if not user:
        try:
            import pwd

            user = pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError):
            user = str(os.getuid())
    sudo = os.environ.get("SUDO_USER")
    return f"{user} (sudo from {sudo})" if sudo and sudo != user else user


def _iso(when: float | None) -> str:
    return "-" if when is None else utc_stamp(when)


def _audit(
    args: argparse.Namespace,
    event: str,
    *,
    session: str | None,
    decision: str,
    rule: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    """Append one record of an administrator's order to the audit store (durable on return)."""
    from ..audit.record import AdminDetail, build_record, to_json
    from ..audit.store import AuditStore
    from ..model import Decision
    from ..session.store import this_host

    verdict: Verdict = "allow" if decision == "allow" else "deny"
    record = build_record(
        Decision(verdict, (reason,), (rule,), decision_id=os.urandom(12).hex()),
        surface="admin",
        event=event,
        time=utc_stamp(),
        user=_who(),
        host=this_host(),
        session=session or "",
        agent="ramparts",
        detail=AdminDetail(action=event, details=details),
    )
    with AuditStore.open(state_dir(args.state_dir)) as store:  # $RAMPARTS_AUDIT_URL, else the state dir's
        store.append(to_json(record))


def _duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- session list / clear ------------------------------------------------------------------------------------


def cmd_session_list(args: argparse.Namespace) -> int:
    from ..session.process import pid_alive
    from ..session.store import this_host

    store = _sessions(args, create=False)
    if store is None:
        sessions, orders = [], []
    else:
        with store:
            sessions, orders = store.list(live_only=not args.all), store.orders()
    now, local = time.time(), this_host()
    rows = []
    for s in sessions:
        alive = pid_alive(s.pid, s.pid_start) if s.pid is not None and s.host == local else None
        last = s.last_event if s.last_event is not None else s.started
        rows.append((s, alive, now - last))
    if args.json:
        out = {
            "sessions": [
                dict(s._asdict(), idle_seconds=round(idle, 3), process_alive=alive) for s, alive, idle in rows
            ],
            "kill_orders": [o._asdict() for o in orders],
        }
        print(json.dumps(out, indent=2, ensure_ascii=True))
        return EXIT_OK
    if not rows:
        print("no live sessions" if not args.all else "no sessions")
    for s, alive, idle in rows:
        pid = "pid -" if s.pid is None else f"pid {s.pid}" + {None: "", True: "", False: " (gone)"}[alive]
        parts = [
            s.id,
            f"{s.user}@{s.host}",
            pid,
            f"started {_iso(s.started)}",
            f"idle {_duration(idle)}",
            f"{s.events} events",
            f"cwd={s.cwd!r}",
        ]
        if s.closed:
            parts.append(f"CLOSED: {s.closed}")
        if s.killed:
            parts.append(f"KILLED: {s.killed}")
        if s.tainted:
            parts.append(f"TAINTED: {s.tainted}")
        if s.grant_until > now:
            parts.append(f"grant until {_iso(s.grant_until)}")
        print(_esc("  ".join(parts)))
    for o in orders:
        target = {"session": f"session {o.target}", "user": f"user {o.target}", "all": "all sessions"}[
            o.scope
        ]
        print(_esc(f"kill order: {target}: {o.reason} (by {o.by} at {_iso(o.at)})"))
    return EXIT_OK


def _info(args: argparse.Namespace, session_id: str) -> Any:
    store = _sessions(args, create=False)
    if store is None:
        return None
    with store:
        return store.get(session_id)


def cmd_session_end(args: argparse.Namespace) -> int:
    info = _info(args, args.id)
    if info is None:
        print(
            _esc(f"ramparts: unknown session {args.id} (see `ramparts session list --all`)"), file=sys.stderr
        )
        return EXIT_USAGE
    if info.closed:
        print(_esc(f"session {args.id} is already over: {info.closed}"))
        return EXIT_OK
    reason = args.reason or f"ended by {_who()} with ramparts session end"
    _audit(  # ending one frees a concurrency slot: a relaxation, so the record comes first
        args,
        "SessionEnded",
        session=args.id,
        decision="allow",
        rule=rids.SESSION_END,
        reason=reason,
        details={"user": info.user, "host": info.host, "pid": info.pid, "events": info.events},
    )
    with _sessions(args) as store:
        store.end(args.id, time.time(), reason)
    print(_esc(f"ended session {args.id} ({info.user}@{info.host}): {reason}"))
    return EXIT_OK


def cmd_session_clear(args: argparse.Namespace) -> int:
    info = _info(args, args.id)
    if info is None:
        print(_esc(f"ramparts: unknown session {args.id}"), file=sys.stderr)
        return EXIT_USAGE
    if not info.tainted:
        print(_esc(f"session {args.id} is not tainted; nothing to clear"))
        return EXIT_OK
    _audit(
        args,
        "TaintCleared",
        session=args.id,
        decision="allow",
        rule=rids.SESSION_CLEAR,
        reason=f"taint cleared by {_who()}",
        details={"tainted": info.tainted},
    )
    with _sessions(args) as store:
        store.clear_taint(args.id)
    print(_esc(f"cleared the taint of session {args.id}: {info.tainted}"))
    return EXIT_OK


# -- replay / changes ------------------------------------------------------------------------------------------


def _records(args: argparse.Namespace, session_id: str) -> list[tuple[int, AuditRecord]]:
    from ..audit.record import RecordError, from_json
    from ..audit.store import AuditStore

    needle = json.dumps(session_id, ensure_ascii=False)  # as canonical() writes it, quotes included
    out = []
    with AuditStore.open(state_dir(args.state_dir), must_exist=True) as store:
        for rec in store.records():
            if needle not in rec.body:  # cheap: most records are other sessions'
                continue
            try:
                record = from_json(rec.data())
            except (ValueError, RecordError):
                continue
            if record.session == session_id:
                out.append((rec.seq, record))
    return out


def _input(record: AuditRecord) -> dict[str, Any]:
    if record.hook is not None and record.hook.input is not None:
        return record.hook.input
    if record.admin is not None and record.admin.details is not None:
        return record.admin.details
    return {}


def summary(record: AuditRecord) -> str:
    """A short description of what a record's (already redacted) input summary names."""
    inputs = _input(record)
    for key in _SUMMARY_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return f"{key}={_short(value)!r}"
        if isinstance(value, dict) and isinstance(value.get("chars"), int):
            return f"{key}=<{value['chars']} chars>"
    for key, value in inputs.items():  # anything else, e.g. a kill order's scope
        if isinstance(value, (str, int, float, bool)):
            return f"{key}={_short(str(value))!r}"
    return ""


def _result(record: AuditRecord) -> str:
    parts = []
    if record.hook is not None and record.hook.result_chars is not None:
        parts.append(f"{record.hook.result_chars} chars")
    found = [f for c in record.content if c.source == "tool_result" for f in c.findings]
    findings = [f for f in found if f.category != "injection"]
    if findings:
        kinds = sorted({f.detector or f.category or "?" for f in findings})
        parts.append(f"{len(findings)} finding(s)" + (f" ({', '.join(kinds)})" if kinds else ""))
    scores = [f.confidence for f in found if f.category == "injection"]
    if scores:
        parts.append(f"injection {max(scores):.2f}")
    return "result: " + ", ".join(parts) if parts else ""


def replay_line(seq: int, record: AuditRecord) -> str:
    verdict = str(record.decision or "?").upper()
    if not record.enforced:
        verdict += f"(report:{record.would})"
    parts = [f"#{seq}", record.time or "?", record.event or "?", record.tool or "-"]
    text = summary(record)
    if text:
        parts.append(text)
    parts.append(verdict)
    if record.rule_ids:
        parts.append("rules=" + ",".join(record.rule_ids))
    extra = _result(record)
    if extra:
        parts.append(extra)
    if verdict != "ALLOW" and record.reasons:
        parts.append("— " + _short("; ".join(record.reasons), 160))
    return _esc(" ".join(parts))


def cmd_session_replay(args: argparse.Namespace) -> int:
    from ..audit.record import to_json

    records = _records(args, args.id)
    if not records:
        print(_esc(f"ramparts: no audit records for session {args.id}"), file=sys.stderr)
        return EXIT_PROBLEMS
    for seq, record in records:
        if args.json:
            print(json.dumps(dict(to_json(record), seq=seq), ensure_ascii=True))
        else:
            print(replay_line(seq, record))
    return EXIT_OK


def changes(records: list[tuple[int, AuditRecord]]) -> dict[str, list[dict[str, Any]]]:
    """Files written, commands run and other tools used (a PostToolUse record shows the call ran), and
    calls that were let through but never confirmed (failed, declined at a prompt, interrupted)."""
    ran: dict[str, AuditRecord] = {}
    for _, record in records:
        if record.event == "PostToolUse" and record.tool_use_id:
            ran[record.tool_use_id] = record
    pre: dict[str, AuditRecord] = {}
    files: list[dict[str, Any]] = []
    commands: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    unconfirmed: list[dict[str, Any]] = []
    for seq, record in records:
        event, tool, use_id = record.event, record.tool, record.tool_use_id or None
        if event == "PreToolUse":
            if use_id:
                pre[use_id] = record
            let_through = record.decision != "deny" or not record.enforced
            if let_through and not (use_id and use_id in ran):
                unconfirmed.append(
                    {
                        "seq": seq,
                        "time": record.time,
                        "tool": tool,
                        "summary": summary(record),
                        "decision": record.decision,
                        "tool_use_id": use_id,
                    }
                )
            continue
        if event != "PostToolUse":
            continue
        inputs = _input(record) or (_input(pre[use_id]) if use_id and use_id in pre else {})
        base = {"seq": seq, "time": record.time, "tool": tool, "tool_use_id": use_id}
        if tool in FILE_TOOLS:
            path = inputs.get(FILE_TOOLS[tool]) or inputs.get("file_path")
            files.append(dict(base, path=path if isinstance(path, str) else None))
        elif tool == "Bash":
            command = inputs.get("command")
            commands.append(dict(base, command=command if isinstance(command, str) else None))
        elif tool not in READ_ONLY_TOOLS:
            other.append(dict(base, summary=summary(record)))
    return {"files": files, "commands": commands, "other": other, "unconfirmed": unconfirmed}


def cmd_session_changes(args: argparse.Namespace) -> int:
    records = _records(args, args.id)
    if not records:
        print(_esc(f"ramparts: no audit records for session {args.id}"), file=sys.stderr)
        return EXIT_PROBLEMS
    found = changes(records)
    if args.json:
        print(json.dumps(dict(found, session=args.id), indent=2, ensure_ascii=True))
        return EXIT_OK
    print(_esc(f"session {args.id}: {len(records)} audit record(s)"))
    print(f"files written ({len(found['files'])}):")
    for f in found["files"]:
        print(_esc(f"  {f['time']} {f['tool']} {f['path']!r}"))
    print(f"commands run ({len(found['commands'])}):")
    for c in found["commands"]:
        print(_esc(f"  {c['time']} {c['command']!r}"))
    if found["other"]:
        print(f"other tools run ({len(found['other'])}):")
        for o in found["other"]:
            print(_esc(f"  {o['time']} {o['tool']} {o['summary']}"))
    if found["unconfirmed"]:
        print(f"let through, not confirmed as run ({len(found['unconfirmed'])}):")
        for u in found["unconfirmed"]:
            print(_esc(f"  {u['time']} {u['tool']} {u['summary']} ({u['decision']})"))
    print("Bash commands may have written files too: their targets are not in the audit summary.")
    return EXIT_OK


# -- kill / reauth ----------------------------------------------------------------------------------------------


def _target(args: argparse.Namespace) -> tuple[dict[str, Any], str, str]:
    if args.session is not None:
        return {"session_id": args.session}, "session", args.session
    if args.user is not None:
        return {"user": args.user}, "user", args.user
    return {"all_sessions": True}, "all", ""


def _known(args: argparse.Namespace, session_id: str) -> bool:
    """Whether the session store has seen ``session_id`` (live or not)."""
    store = _sessions(args, create=False)
    if store is None:
        return False
    with store:
        return store.get(session_id) is not None


def cmd_kill(args: argparse.Namespace) -> int:
    kwargs, scope, target = _target(args)
    what = {"session": f"session {target}", "user": f"user {target}", "all": "all sessions"}[scope]
    if (scope == "session" and not target) or (scope == "user" and not target):
        print("ramparts kill: the session id or user name is empty", file=sys.stderr)
        return EXIT_USAGE
    if args.lift:
        if args.terminate:
            print("ramparts kill: --lift and --terminate do not go together", file=sys.stderr)
            return EXIT_USAGE
        if _central_settings(args) is not None:
            with _sessions(args) as store:
                store.lift(**kwargs)
            return _central(args, scope, target, "", lift=True)
        return _lift(args, kwargs, scope, target, what)
    reason = args.reason or "stopped by the Ramparts kill switch"
    # with a control plane the order is for every host: the session may be running on another one
    central_plane = _central_settings(args) is not None
    if scope == "session" and not args.force and not central_plane and not _known(args, target):
        print(
            _esc(
                f"ramparts kill: no such session is known here: {target} (see `ramparts session list --all`;"
                " --force records the order anyway)"
            ),
            file=sys.stderr,
        )
        return EXIT_USAGE
    with _sessions(args) as store:
        affected = store.kill(**kwargs, reason=reason, now=time.time(), by=_who())
    print(_esc(f"kill order for {what}: {reason}"))
    print(_esc(f"{len(affected)} live session(s) stopped" + (": " + ", ".join(affected) if affected else "")))
    _audit(
        args,
        "Kill",
        session=target if scope == "session" else None,
        decision="deny",
        rule=rids.SESSION_KILL,
        reason=reason,
        details={"scope": scope, "target": target, "terminate": bool(args.terminate), "affected": affected},
    )
    central = _central(args, scope, target, reason, lift=False)
    if not args.terminate:
        return central
    return max(_terminate(args, affected), central)


def _central_settings(args: argparse.Namespace) -> Any:
    from .server import _settings

    return _settings(args)


def _central(args: argparse.Namespace, scope: str, target: str, reason: str, *, lift: bool) -> int:
    """Give (or lift) the order on the control plane too, when one is configured."""
    settings = _central_settings(args)
    if settings is None:
        return EXIT_OK
    from ..server.client import ServerError
    from ..server.config import client

    try:
        api = client(settings, timeout=10)
        if lift:
            api.lift(scope, target)
        else:
            api.kill(scope, target, reason)
    except ServerError as exc:
        print(_esc(f"ramparts kill: the control plane did not take the order: {exc}"), file=sys.stderr)
        return EXIT_PROBLEMS
    print(_esc(f"{'lifted the' if lift else 'gave the'} central kill order on {settings.url}"))
    return EXIT_OK


def _lift(args: argparse.Namespace, kwargs: dict[str, Any], scope: str, target: str, what: str) -> int:
    with _sessions(args) as store:
        standing = any(o.scope == scope and o.target == target for o in store.orders())
    if not standing:
        print(_esc(f"ramparts: no kill order for {what}"), file=sys.stderr)
        return EXIT_PROBLEMS
    reason = args.reason or f"kill order lifted by {_who()}"
    _audit(
        args,
        "KillLifted",
        session=target if scope == "session" else None,
        decision="deny",
        rule=rids.SESSION_KILL,
        reason=reason,
        details={"scope": scope, "target": target},
    )
    with _sessions(args) as store:
        store.lift(**kwargs)
    print(_esc(f"lifted the kill order for {what}"))
    return EXIT_OK


def _terminate(args: argparse.Namespace, affected: list[str]) -> int:
    from ..session.process import is_agent, pid_alive, terminate_tree
    from ..session.store import this_host

    local = this_host()
    signalled: dict[str, list[int]] = {}
    code = EXIT_OK
    with _sessions(args) as store:
        infos = [store.get(sid) for sid in affected]
    for info in infos:
        if info is None:
            continue
        if info.pid is None:
            print(_esc(f"{info.id}: no agent process recorded; not terminated"))
        elif info.host != local:
            print(_esc(f"{info.id}: runs on {info.host}; terminate it there"))
        elif not pid_alive(info.pid, info.pid_start):
            print(_esc(f"{info.id}: agent process {info.pid} has already ended"))
        elif not is_agent(info.pid):
            print(_esc(f"{info.id}: pid {info.pid} is no longer a claude process; not signalled"))
        else:
            try:
                pids = terminate_tree(info.pid, grace=args.grace)
            except (OSError, ValueError) as exc:
                print(_esc(f"{info.id}: cannot terminate pid {info.pid}: {exc}"), file=sys.stderr)
                code = EXIT_PROBLEMS
                continue
            signalled[info.id] = pids
            print(_esc(f"{info.id}: signalled {len(pids)} process(es): {' '.join(map(str, pids))}"))
    if signalled:
        _audit(
            args,
            "Terminate",
            session=next(iter(signalled)) if len(signalled) == 1 else None,
            decision="deny",
            rule=rids.SESSION_KILL,
            reason="agent process trees terminated",
            details={"signalled": signalled},
        )
    return code


def cmd_reauth(args: argparse.Namespace) -> int:
    if not 1 <= args.minutes <= MAX_GRANT_MINUTES:
        print(f"ramparts reauth: --minutes must be 1..{MAX_GRANT_MINUTES}", file=sys.stderr)
        return EXIT_USAGE
    store = _sessions(args, create=False)
    info = None
    if store is not None:
        with store:
            info = store.get(args.session)
    if info is None or info.closed:
        state = "unknown" if info is None else f"closed ({info.closed})"
        print(_esc(f"ramparts: session {args.session} is {state}; no grant"), file=sys.stderr)
        return EXIT_PROBLEMS
    now = time.time()
    until = now + args.minutes * 60
    who = _who()
    _audit(
        args,
        "Reauth",
        session=args.session,
        decision="allow",
        rule=rids.SESSION_REAUTH,
        reason=f"step-up grant by {who} for {args.minutes} minute(s)",
        details={"minutes": args.minutes, "until": _iso(until)},
    )
    with _sessions(args) as store:
        if not store.grant(args.session, until, who, now):
            print(_esc(f"ramparts: session {args.session} closed meanwhile; no grant"), file=sys.stderr)
            return EXIT_PROBLEMS
    print(_esc(f"granted session {args.session} step-up until {_iso(until)} ({args.minutes} minutes)"))
    return EXIT_OK
