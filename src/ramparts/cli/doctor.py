"""``ramparts doctor`` (is Ramparts installed and working here?) and ``ramparts uninstall``.

Doctor reads the settings files Claude Code reads, runs the installed hook command once with a harmless
event (and ends the probe's session with a SessionEnd through the same command), verifies the audit log,
loads the injection model the hook's policy names (``detect.injection.model``: present, pinned digest,
loadable, on the contract),
checks that the gateway, egress proxy and OTLP collector the settings point at accept connections, and
compares the installed Claude Code with ``requiredMinimumVersion``. Exit 1 when anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from .._locations import policy_ref, state_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
SCOPES = ("managed", "user")


class Check(NamedTuple):
    name: str
    ok: bool | None
    """True passed, False a problem, None not applicable (shown, never a failure)."""
    detail: str


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check that Ramparts is installed where Claude Code reads it and that it works (exit 1: a problem)",
    )
    where(p)
    p.add_argument(
        "--state-dir", help="state directory (default: the installed hook's, else per-user default)"
    )
    p.add_argument(
        "--claude-bin", help="the claude binary to check (default: RAMPARTS_CLAUDE_BIN, else PATH)"
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=cmd_doctor)
    p = sub.add_parser(
        "uninstall",
        help="remove the settings `ramparts install` wrote for a scope (the audit log and state are kept)",
    )
    p.add_argument("--scope", choices=SCOPES, default="managed", help="the scope to remove (default managed)")
    p.add_argument("--root", help="below this folder instead of / (as for install)")
    p.add_argument("--platform", choices=["linux", "darwin", "win32"], help="target platform's paths")
    p.add_argument("--force", action="store_true", help="remove a settings file changed since install too")
    p.set_defaults(func=cmd_uninstall)


def where(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scope", choices=SCOPES, action="append", help="only this scope (repeatable; default both)"
    )
    p.add_argument("--root", help="read below this folder instead of / (as for install)")
    p.add_argument("--platform", choices=["linux", "darwin", "win32"], help="target platform's paths")


# -- doctor --------------------------------------------------------------------------------------------------


def _ramparts_handlers(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Event name -> the command handlers that run Ramparts."""
    out: dict[str, list[dict[str, Any]]] = {}
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return out
    for event, groups in hooks.items():
        for group in groups if isinstance(groups, list) else []:
            for handler in group.get("hooks", []) if isinstance(group, dict) else []:
                command = handler.get("command", "") if isinstance(handler, dict) else ""
                if isinstance(command, str) and "ramparts" in command:
                    out.setdefault(str(event), []).append(handler)
    return out


def _probe(command: str, timeout: float, event: dict[str, Any]) -> tuple[int | None, str, str]:
    try:
        proc = subprocess.run(  # noqa: S602 - the hook command exactly as Claude Code runs it (sh -c)
            command,
            shell=True,
            input=json.dumps(event),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "", f"no answer within {timeout:g} s"
    return proc.returncode, proc.stdout, proc.stderr


def _hook_answers(command: str, timeout: float) -> Check:
    session = "ramparts-doctor-" + os.urandom(4).hex()
    base = {"session_id": session, "transcript_path": "", "cwd": os.getcwd(), "permission_mode": "default"}
    event = dict(
        base,
        hook_event_name="PreToolUse",
        tool_name="Bash",
        tool_input={"command": "true", "description": "ramparts doctor probe"},
    )
    code, out, err = _probe(command, timeout, event)
    _probe(command, timeout, dict(base, hook_event_name="SessionEnd", reason="other"))  # close the probe
    if code is None:
        return Check("hook answers", False, f"{err}; Claude Code would block every tool call")
    try:
        answer = json.loads(out) if out.strip() else {}
    except ValueError:
        answer = None
    specific = answer.get("hookSpecificOutput") if isinstance(answer, dict) else None
    specific = specific if isinstance(specific, dict) else {}
    if code == 0 and isinstance(answer, dict):
        decision = specific.get("permissionDecision", "allow")
        return Check("hook answers", True, f"a probe Bash call: {decision} ({session})")
    reason = specific.get("permissionDecisionReason") or err.strip() or f"not a hook answer: {out[:100]!r}"
    return Check("hook answers", False, f"exit {code}: {str(reason)[:300]}")


def _state_of(command: str) -> str | None:
    return _flag_of(command, "--state-dir")


def _flag_of(command: str, flag: str) -> str | None:
    """The value the hook command gives ``flag`` (``--state-dir``, ``--policy``), if any."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def _injection_model(policy: str) -> Check:
    """The ONNX model the policy names (``detect.injection.model``): present, its digest the pinned one,
    loadable by onnxruntime, on the contract, and scoring a probe, as the hook and the gateway load it
    (a model that fails there fails closed: every screened text would be refused)."""
    from ..detect.injection_model import load_slot
    from ..errors import RampartsError
    from ..policy.load import load_policy

    name = "injection model"
    try:
        settings = load_policy(policy).detect.injection_model
    except RampartsError as exc:
        return Check(name, False, f"the policy {policy} cannot be loaded: {exc}")
    if not settings.path:
        return Check(name, None, "none named (detect.injection.model): the built-in scorer alone")
    try:
        slot = load_slot(settings)
    except RampartsError as exc:  # ModelError: missing, digest, not a model, off the contract, no answer
        return Check(name, False, str(exc))
    digest = slot.digest if slot is not None else settings.sha256
    return Check(
        name,
        True,
        f"{settings.path}: sha256 {digest[:16]}… as pinned; loads and scores a probe (combine {settings.combine})",
    )


def _audit(folder: str) -> Check:
    from ..audit.store import AuditStore
    from ..errors import RampartsError

    try:
        with AuditStore.open(folder, must_exist=True) as store:
            report = store.report()
    except RampartsError as exc:
        return Check("audit log", False, str(exc))
    lines = report.lines()
    return Check("audit log", bool(report.ok), lines[-1] if lines else "verified")


def _reachable(name: str, url: str) -> Check:
    parts = urlsplit(url if "//" in url else "//" + url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not parts.hostname:
        return Check(name, False, f"{url!r} is not a URL")
    try:
        with socket.create_connection((parts.hostname, port), timeout=2):
            pass
    except OSError as exc:
        return Check(name, False, f"{url} does not accept connections: {exc.strerror or exc}")
    return Check(name, True, f"{url} accepts connections")


def _version(text: str) -> tuple[int, ...] | None:
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in found.groups()) if found else None


def _claude_version(claude_bin: str | None, required: str) -> Check:
    binary = claude_bin or os.environ.get("RAMPARTS_CLAUDE_BIN") or shutil.which("claude")
    if not binary:
        return Check("claude version", None, "no claude on PATH (give --claude-bin to check one)")
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("claude version", False, f"{binary} --version failed: {exc}")
    have, need = _version(proc.stdout), _version(required)
    if have is None or need is None:
        return Check(
            "claude version", False, f"cannot read the version of {binary}: {proc.stdout.strip()[:80]}"
        )
    text = ".".join(map(str, have))
    if have < need:
        return Check(
            "claude version", False, f"{text} is below requiredMinimumVersion {required}; upgrade Claude Code"
        )
    return Check("claude version", True, f"{text} (required at least {required})")


def doctor(
    scopes: tuple[str, ...],
    *,
    root: Path | None,
    platform: str | None,
    state: str | None,
    claude_bin: str | None,
) -> list[Check]:
    from ..agents.claude_code.install import SIDECAR, _recorded, settings_path
    from ..posture.lint import PINNED_VERSION, RAMPARTS_HOOK_EVENTS

    checks: list[Check] = []
    installed: list[tuple[str, dict[str, Any]]] = []
    for scope in scopes:
        path = settings_path(scope, root=root, platform=platform)  # type: ignore[arg-type]
        name = f"{scope} settings"
        if not path.exists():
            checks.append(Check(name, None, f"not installed ({path})"))
            continue
        try:
            settings = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            checks.append(Check(name, False, f"{path} cannot be read as JSON: {exc}"))
            continue
        handlers = _ramparts_handlers(settings if isinstance(settings, dict) else {})
        if not handlers:
            checks.append(Check(name, None, f"{path} runs no Ramparts hook"))
            continue
        import hashlib

        ours = _recorded(path.parent / SIDECAR).get(path.name, {})
        changed = ours and hashlib.sha256(path.read_bytes()).hexdigest() != ours.get("sha256")
        detail = f"{path} ({ours.get('note') or 'not written by ramparts install'})"
        checks.append(Check(name, not changed, detail + ("; changed since install" if changed else "")))
        missing = [e for e in RAMPARTS_HOOK_EVENTS if e not in handlers]
        loose = [e for e, hs in handlers.items() if any(h.get("onFailure") != "block" for h in hs)]
        problems = ([f"no Ramparts hook on {', '.join(missing)}"] if missing else []) + (
            [f'no "onFailure": "block" on {", ".join(loose)}'] if loose else []
        )
        checks.append(
            Check(
                f"{scope} hooks",
                not problems,
                "; ".join(problems) or "every event, each with onFailure: block",
            )
        )
        installed.append((scope, settings))
    if not installed:
        checks.append(
            Check("installed", False, "Ramparts is not installed in any scope: run `ramparts install`")
        )
        return checks
    scope, settings = installed[0]
    handler = _ramparts_handlers(settings).get("PreToolUse", [{}])[0]
    command = str(handler.get("command", ""))
    if command:
        check = _hook_answers(command, float(handler.get("timeout") or 10))
        checks.append(check._replace(name=f"{scope} hook answers"))
    folder = state or _state_of(command) or state_dir(None)
    checks.append(_audit(folder))
    checks.append(_injection_model(_flag_of(command, "--policy") or policy_ref(None)))
    env: dict[str, str] = {}
    for _scope, found in reversed(installed):  # managed wins
        values = found.get("env")
        env.update({str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {})
    for key, label in (
        ("ANTHROPIC_BASE_URL", "gateway"),
        ("HTTPS_PROXY", "egress proxy"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP collector"),
    ):
        if env.get(key):
            checks.append(_reachable(label, env[key]))
    required = next(
        (str(s["requiredMinimumVersion"]) for _, s in installed if s.get("requiredMinimumVersion")), None
    )
    checks.append(_claude_version(claude_bin, required or PINNED_VERSION))
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..audit.render import escape

    checks = doctor(
        tuple(args.scope or SCOPES),
        root=Path(args.root) if args.root else None,
        platform=args.platform,
        state=args.state_dir,
        claude_bin=args.claude_bin,
    )
    failed = [c for c in checks if c.ok is False]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c._asdict() for c in checks]}, indent=2))
    else:
        for c in checks:
            mark = {True: "ok  ", False: "FAIL", None: "--  "}[c.ok]
            print(escape(f"{mark} {c.name}: {c.detail}"))
        print(f"{len(failed)} problem(s)" if failed else "no problems found")
    return EXIT_PROBLEMS if failed else EXIT_OK


# -- uninstall -----------------------------------------------------------------------------------------------


def cmd_uninstall(args: argparse.Namespace) -> int:
    from ..agents.claude_code.install import uninstall_settings

    removed = uninstall_settings(
        args.scope, root=Path(args.root) if args.root else None, platform=args.platform, force=args.force
    )
    if not removed:
        print(f"nothing to remove: ramparts install wrote no {args.scope} settings here")
    for line in removed:
        print(line)
    print("the audit log and the state directory are kept (remove them by hand when no longer needed)")
    return EXIT_OK


__all__ = ["Check", "add_parsers", "doctor"]
