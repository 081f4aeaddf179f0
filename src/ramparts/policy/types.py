"""The compiled, frozen policy. Built once by :mod:`ramparts.policy.load`; read by the engine and compilers."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from .rules import Rule

Mode = Literal["enforce", "report"]


class HookSettings(NamedTuple):
    timeout: int = 10
    """Seconds, written into the settings' hook handlers (Claude Code's unit)."""
    deadline_ms: int = 4000
    """The hook's own deadline: past it, it denies. Kept well under ``timeout``."""
    max_input_bytes: int = 16 * 1024 * 1024


class CompileSettings(NamedTuple):
    disable_bypass_permissions: bool = True
    allow_managed_hooks_only: bool = True
    allow_managed_permission_rules_only: bool = False
    default_mode: str = ""
    env: tuple[tuple[str, str], ...] = ()


class CustomEntity(NamedTuple):
    """A kind of personal or confidential data the policy defines (``detect.pii.custom``)."""

    name: str
    pattern: str
    context: tuple[str, ...] = ()
    validator: str = ""
    confidence: float = 0.6
    severity: str = "medium"


class DetectSettings(NamedTuple):
    custom_entities: tuple[CustomEntity, ...] = ()
    ip_addresses: bool = True
    injection_block: float = 0.8
    """Injection scores at or above this block."""
    injection_warn: float = 0.5
    """... at or above this warn; below, they are only recorded."""


class Policy(NamedTuple):
    revision: str
    """Content hash of the policy file and the profiles it extends."""
    source: str
    base_dir: str
    mode: Mode = "enforce"
    default: Literal["deny", "ask", "allow"] = "ask"
    deny: tuple[Rule, ...] = ()
    ask: tuple[Rule, ...] = ()
    allow: tuple[Rule, ...] = ()
    sensitive_paths: tuple[str, ...] = ()
    opaque_shell: Literal["deny", "ask"] = "ask"
    inline_code: Literal["deny", "ask"] = "ask"
    """What code handed to an interpreter inline (``python3 -c``, ``perl -e``) gets at most."""
    allow_read_only: bool = False
    """Allow commands the built-in read-only table knows cannot change anything (``shell/readonly.py``)."""
    hook: HookSettings = HookSettings()
    settings: CompileSettings = CompileSettings()
    extends: tuple[str, ...] = ()
    detect: DetectSettings = DetectSettings()


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """A JSON-ready form of a compiled policy (for the hook's cache)."""
    data = policy._asdict()
    for key in ("deny", "ask", "allow"):
        data[key] = [list(rule) for rule in data[key]]
    data["hook"] = policy.hook._asdict()
    data["settings"] = policy.settings._asdict()
    data["detect"] = policy.detect._asdict()
    data["detect"]["custom_entities"] = [list(e) for e in policy.detect.custom_entities]
    return data


def policy_from_json(data: dict[str, Any]) -> Policy:
    fields: dict[str, Any] = dict(data)
    for key in ("deny", "ask", "allow"):
        fields[key] = tuple(Rule(*item) for item in data[key])
    fields["sensitive_paths"] = tuple(data["sensitive_paths"])
    fields["extends"] = tuple(data["extends"])
    fields["hook"] = HookSettings(**data["hook"])
    settings = dict(data["settings"])
    settings["env"] = tuple((k, v) for k, v in settings["env"])
    fields["settings"] = CompileSettings(**settings)
    detect = dict(data.get("detect") or {})
    detect["custom_entities"] = tuple(
        CustomEntity(e[0], e[1], tuple(e[2]), *e[3:]) for e in detect.get("custom_entities", ())
    )
    fields["detect"] = DetectSettings(**detect)
    return Policy(**fields)
