"""Where Ramparts finds its policy and keeps its state, the same way for every command and the hook.

Policy: ``--policy`` > ``RAMPARTS_POLICY`` > the installed default (``/etc/ramparts/ramparts.yaml``,
then ``$XDG_CONFIG_HOME/ramparts/ramparts.yaml``). State: ``--state-dir`` > ``RAMPARTS_STATE_DIR`` >
``$XDG_STATE_HOME/ramparts`` (``~/.local/state/ramparts``).
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_POLICY = Path("/etc/ramparts/ramparts.yaml")


def user_policy_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ramparts" / "ramparts.yaml"


def policy_ref(explicit: str | None) -> str:
    """The policy to use; when nothing is configured, the path the error message should name."""
    if explicit:
        return explicit
    env = os.environ.get("RAMPARTS_POLICY")
    if env:
        return env
    if SYSTEM_POLICY.exists():
        return str(SYSTEM_POLICY)
    return str(user_policy_path())


def state_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("RAMPARTS_STATE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ramparts"
