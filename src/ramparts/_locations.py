"""Where Ramparts finds its policy and keeps its state, the same way for every command and the hook.

Policy: ``--policy`` > ``RAMPARTS_POLICY`` > the installed default (``/etc/ramparts/ramparts.yaml``,
then ``$XDG_CONFIG_HOME/ramparts/ramparts.yaml``). State: ``--state-dir`` > ``RAMPARTS_STATE_DIR`` >
``$XDG_STATE_HOME/ramparts`` (``~/.local/state/ramparts``). Plain ``os.path``: the hook imports this.
"""

from __future__ import annotations

import os

SYSTEM_POLICY = "/etc/ramparts/ramparts.yaml"


def user_policy_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "ramparts", "ramparts.yaml")


def policy_ref(explicit: str | None) -> str:
    """The policy to use; when nothing is configured, the path the error message should name."""
    if explicit:
        return explicit
    env = os.environ.get("RAMPARTS_POLICY")
    if env:
        return env
    if os.path.exists(SYSTEM_POLICY):
        return SYSTEM_POLICY
    return user_policy_path()


def state_dir(explicit: str | None) -> str:
    if explicit:
        return os.path.expanduser(explicit)
    env = os.environ.get("RAMPARTS_STATE_DIR")
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "ramparts")


def detector_cache_dir(state: str) -> str:
    """Where the compiled pattern databases live: ``RAMPARTS_CACHE_DIR`` when set (one warm cache shared
    by many state directories: test suites, image builds), else the state directory's ``cache``.

    The databases decide what the detectors can see, so the folder must be as protected as the state
    directory; the hook's self-protection rules cover both.
    """
    env = os.environ.get("RAMPARTS_CACHE_DIR")
    return os.path.expanduser(env) if env else os.path.join(state, "cache")
