"""Ramparts: defense in depth for AI coding agents (Claude Code first).

The stable public surface is this module, :mod:`ramparts.testing` and the ``ramparts`` command.
Names are loaded on first use so that the hook, which imports this package on every tool call,
pays only for what it needs.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: the hook imports this package on every event (issue 21)

__version__ = "0.1.0"

_EXPORTS = {
    "AuditError": "ramparts.errors",
    "AuditStore": "ramparts.audit.store",
    "Command": "ramparts.model",
    "Decision": "ramparts.model",
    "Event": "ramparts.model",
    "FileAccess": "ramparts.model",
    "Finding": "ramparts.model",
    "HookInputError": "ramparts.errors",
    "Policy": "ramparts.policy.types",
    "PolicyError": "ramparts.errors",
    "RampartsError": "ramparts.errors",
    "SessionState": "ramparts.model",
    "StoreError": "ramparts.errors",
    "Subject": "ramparts.model",
    "TamperError": "ramparts.errors",
    "ToolCall": "ramparts.model",
    "compile_policy": "ramparts.policy.load",
    "decide": "ramparts.engine",
    "load_policy": "ramparts.policy.load",
    "managed_settings": "ramparts.policy.compile",
}

__all__ = [
    "AuditError",
    "AuditStore",
    "Command",
    "Decision",
    "Event",
    "FileAccess",
    "Finding",
    "HookInputError",
    "Policy",
    "PolicyError",
    "RampartsError",
    "SessionState",
    "StoreError",
    "Subject",
    "TamperError",
    "ToolCall",
    "__version__",
    "compile_policy",
    "decide",
    "load_policy",
    "managed_settings",
]

if TYPE_CHECKING:
    from typing import Any

    from ramparts.audit.store import AuditStore
    from ramparts.engine import decide
    from ramparts.errors import (
        AuditError,
        HookInputError,
        PolicyError,
        RampartsError,
        StoreError,
        TamperError,
    )
    from ramparts.model import Command, Decision, Event, FileAccess, Finding, SessionState, Subject, ToolCall
    from ramparts.policy.compile import managed_settings
    from ramparts.policy.load import compile_policy, load_policy
    from ramparts.policy.types import Policy


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ramparts' has no attribute {name!r}")
    __import__(module)  # importlib.import_module is a wrapper of this; importlib's package is not preloaded
    value = getattr(sys.modules[module], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
