"""Find every Claude Code settings scope on a machine and read it (the only I/O in ``posture``).

Claude Code 2.1.328 reads, on Linux: the managed file ``/etc/claude-code/managed-settings.json`` and its
drop-ins ``managed-settings.d/*.json`` (alphabetically), ``managed-mcp.json`` beside them, the user's
``~/.claude/settings.json`` (or ``$CLAUDE_CONFIG_DIR/settings.json``) and ``~/.claude.json`` (MCP
servers), the project's ``<cwd>/.claude/settings.json`` and ``<cwd>/.mcp.json``, and the local
``.claude/settings.local.json`` at the git repository's root. The macOS plist, the Windows registry
keys and server-managed settings cannot be read from a Linux machine; they are reported as such, so
that a report never claims more than it saw.

With ``root`` every absolute path is read below that folder instead of ``/`` (a fixture tree in tests).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Scope = Literal[
    "remote",
    "mdm",
    "managed",
    "managed-dropin",
    "managed-mcp",
    "hkcu",
    "user",
    "user-state",
    "project",
    "project-mcp",
    "local",
]
Status = Literal["ok", "absent", "invalid", "unreadable"]

MANAGED_DIR = "/etc/claude-code"
MACOS_PLIST = "/Library/Managed Preferences/com.anthropic.claudecode.plist"
WINDOWS_HKLM = r"HKLM\SOFTWARE\Policies\ClaudeCode (value Settings)"
SIDECAR = ".ramparts-install.json"
WINDOWS_HKCU = r"HKCU\SOFTWARE\Policies\ClaudeCode (value Settings)"


@dataclass(frozen=True)
class Source:
    """One place Claude Code reads settings from, and what was found there."""

    scope: Scope
    path: str
    """The path as Claude Code sees it (``/etc/...``), not the fixture path it was read from."""
    status: Status
    data: dict[str, Any] | None = None
    text: str = ""
    """The file's text (to point findings at a line); empty unless the file was read."""
    error: str = ""


@dataclass(frozen=True)
class Discovery:
    sources: tuple[Source, ...]
    home: str
    project: str
    platform: str = "linux"
    install_record: dict[str, str] = field(default_factory=dict)
    """File name -> SHA-256 that ``ramparts install`` recorded beside the managed settings."""

    def get(self, scope: Scope) -> list[Source]:
        return [s for s in self.sources if s.scope == scope]


def _read(scope: Scope, shown: str, real: Path) -> Source:
    try:
        text = real.read_text("utf-8")
    except FileNotFoundError:
        return Source(scope, shown, "absent")
    except (OSError, UnicodeDecodeError) as exc:
        return Source(
            scope,
            shown,
            "unreadable",
            error=f"{type(exc).__name__}: {exc.strerror or exc}" if isinstance(exc, OSError) else "not UTF-8",
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Source(scope, shown, "invalid", text=text, error=f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Source(scope, shown, "invalid", text=text, error="the top level is not a JSON object")
    return Source(scope, shown, "ok", data=data, text=text)


def _git_root(project: str, root: Path | None) -> str:
    """The repository root above ``project`` (where the local settings file lives); ``project`` if none."""
    current = project
    while True:
        real = _under(current, root)
        if (real / ".git").exists():
            return current
        parent = os.path.dirname(current.rstrip("/")) or "/"
        if parent == current:
            return project
        current = parent


def _under(path: str, root: Path | None) -> Path:
    return root.joinpath(*Path(path).parts[1:]) if root is not None else Path(path)


def discover(
    *,
    root: Path | None = None,
    home: str | None = None,
    project: str | None = None,
    config_dir: str | None = None,
) -> Discovery:
    """Read every settings scope; ``home``/``project``/``config_dir`` are paths as seen inside ``root``."""
    home = home or os.path.expanduser("~")
    project = os.path.normpath(project or os.getcwd())
    if config_dir is None and root is None:
        config_dir = os.environ.get("CLAUDE_CONFIG_DIR") or None
    user_dir = config_dir or os.path.join(home, ".claude")
    sources: list[Source] = [
        Source(
            "remote",
            "server-managed settings (api.anthropic.com)",
            "unreadable",
            error="fetched by Claude Code itself when it signs in to Anthropic; not readable from here",
        ),
        Source("mdm", MACOS_PLIST, "unreadable", error="macOS managed preferences; not present on Linux"),
        Source("mdm", WINDOWS_HKLM, "unreadable", error="Windows registry; not readable on Linux"),
    ]
    managed = MANAGED_DIR
    sources.append(
        _read("managed", f"{managed}/managed-settings.json", _under(f"{managed}/managed-settings.json", root))
    )
    dropins = _under(f"{managed}/managed-settings.d", root)
    try:
        names = sorted(
            p.name for p in dropins.iterdir() if p.name.endswith(".json") and not p.name.startswith(".")
        )
    except OSError:
        names = []
    for name in names:
        shown = f"{managed}/managed-settings.d/{name}"
        sources.append(_read("managed-dropin", shown, _under(shown, root)))
    sources.append(
        _read("managed-mcp", f"{managed}/managed-mcp.json", _under(f"{managed}/managed-mcp.json", root))
    )
    sources.append(
        Source("hkcu", WINDOWS_HKCU, "unreadable", error="Windows registry; not readable on Linux")
    )
    sources.append(_read("user", f"{user_dir}/settings.json", _under(f"{user_dir}/settings.json", root)))
    state = os.path.join(home, ".claude.json") if not config_dir else os.path.join(config_dir, ".claude.json")
    sources.append(_read("user-state", state, _under(state, root)))
    sources.append(
        _read("project", f"{project}/.claude/settings.json", _under(f"{project}/.claude/settings.json", root))
    )
    sources.append(_read("project-mcp", f"{project}/.mcp.json", _under(f"{project}/.mcp.json", root)))
    repo = _git_root(project, root)
    local = f"{repo}/.claude/settings.local.json"
    sources.append(_read("local", local, _under(local, root)))
    return Discovery(
        tuple(sources),
        home=home,
        project=project,
        install_record=_install_record(_under(f"{managed}/{SIDECAR}", root)),
    )


def _install_record(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        name: str(entry["sha256"])
        for name, entry in data.items()
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
    }
