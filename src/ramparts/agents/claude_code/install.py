"""Where Claude Code reads settings, and writing Ramparts' compiled settings there safely.

Ramparts keeps a sidecar ``.ramparts-install.json`` beside each file it writes, holding the
SHA-256 of what it wrote. It overwrites a settings file only when the file is absent or still
exactly what Ramparts wrote; anything else (a file someone else wrote, or one edited since) is
refused unless ``force`` is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

from ...errors import RampartsError

Scope = Literal["managed", "user"]
MANAGED_DIRS = {
    "linux": "/etc/claude-code",
    "darwin": "/Library/Application Support/ClaudeCode",
    "win32": r"C:\Program Files\ClaudeCode",
}
SIDECAR = ".ramparts-install.json"


class InstallError(RampartsError):
    """The settings file cannot be written (or must not be overwritten)."""


def settings_path(scope: Scope, *, root: Path | None = None, platform: str | None = None) -> Path:
    """The settings file for a scope; with ``root``, the same layout below that folder (for tests)."""
    plat = platform or sys.platform
    if scope == "managed":
        key = "linux" if plat.startswith("linux") else plat
        if key not in MANAGED_DIRS:
            raise InstallError(f"no managed-settings location known for platform {plat!r}")
        base = MANAGED_DIRS[key]
        if root is not None:
            parts = PureWindowsPath(base).parts[1:] if key == "win32" else Path(base).parts[1:]
            return root.joinpath(*parts, "managed-settings.json")
        return Path(base) / "managed-settings.json"
    if root is not None:
        return root / ".claude" / "settings.json"
    config = os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(config) if config else Path.home() / ".claude") / "settings.json"


def render(settings: dict[str, Any]) -> bytes:
    return (json.dumps(settings, indent=2, sort_keys=False) + "\n").encode("utf-8")


def write_settings(target: Path, settings: dict[str, Any], *, force: bool = False, note: str = "") -> Path:
    """Write ``settings`` to ``target`` atomically; refuse to replace a file Ramparts did not write."""
    data = render(settings)
    sidecar = target.parent / SIDECAR
    if target.exists() and not force:
        current = hashlib.sha256(target.read_bytes()).hexdigest()
        ours = _recorded(sidecar).get(target.name, {}).get("sha256")
        if current != ours:
            why = "was changed since Ramparts wrote it" if ours else "was not written by Ramparts"
            raise InstallError(f"{target} {why}; refusing to overwrite it (use --force to replace it)")
    backup = ""
    if target.exists() and force:
        current = hashlib.sha256(target.read_bytes()).hexdigest()
        held = _recorded(sidecar).get(target.name, {})
        backup = held.get("backup", "")
        if current != held.get("sha256"):  # someone else's file: keep it for uninstall to put back
            backup = f"{target.name}.before-ramparts"
            try:
                os.replace(target, target.with_name(backup))
            except OSError as exc:
                raise InstallError(f"cannot keep a copy of {target}: {exc}") from exc
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        records = _recorded(sidecar)
        records[target.name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "note": note,
            **({"backup": backup} if backup else {}),
        }
        sidecar.write_text(json.dumps(records, indent=2) + "\n", "utf-8")
    except OSError as exc:
        raise InstallError(f"cannot write {target}: {exc}") from exc
    return target


def uninstall_settings(
    scope: Scope, *, root: Path | None = None, platform: str | None = None, force: bool = False
) -> list[str]:
    """Remove what ``ramparts install`` wrote for ``scope`` (the settings file, and managed-mcp.json for
    the managed scope), exactly: a file changed since is refused unless ``force``; a file install
    replaced with --force is put back. Returns one line per file handled; ``[]`` when nothing was ours."""
    target = settings_path(scope, root=root, platform=platform)
    sidecar = target.parent / SIDECAR
    records = _recorded(sidecar)
    names = [target.name] + (["managed-mcp.json"] if scope == "managed" else [])
    done: list[str] = []
    for name in names:
        entry = records.get(name)
        if not isinstance(entry, dict):
            continue
        path = target.parent / name
        try:
            if path.exists():
                if hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256") and not force:
                    raise InstallError(
                        f"{path} was changed since Ramparts wrote it; refusing to remove it (--force removes it)"
                    )
                path.unlink()
            backup = path.with_name(str(entry.get("backup") or "")) if entry.get("backup") else None
            if backup is not None and backup.exists():
                os.replace(backup, path)
                done.append(f"removed Ramparts' {path} and put back the file it had replaced")
            else:
                done.append(f"removed {path}")
            del records[name]
            if records:
                sidecar.write_text(json.dumps(records, indent=2) + "\n", "utf-8")
            else:
                sidecar.unlink(missing_ok=True)
        except OSError as exc:
            raise InstallError(f"cannot remove {path}: {exc}") from exc
    return done


def _recorded(sidecar: Path) -> dict[str, Any]:
    try:
        value = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
