"""``ramparts compile --all DIR``: every deployable artefact a policy compiles to, from one registry.

An artefact is a relative file name, a pure ``build(context) -> bytes | None`` (None: nothing to
write for this policy) and a ``check(data)`` that raises :class:`ArtefactError` when the output is
not what its consumer accepts. Modules register theirs with :func:`artefact`; :data:`MODULES` lists
the modules loaded (another module, e.g. the egress controls' DNS firewall and proxy rules, adds its
name there and registers its own artefacts). Builds are deterministic: the same policy and options
give byte-identical files (no timestamps, sorted keys where order carries no meaning).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import PolicyError
from ..types import Policy


class ArtefactError(PolicyError):
    """A compiled artefact failed its own check."""


@dataclass(frozen=True)
class Options:
    hook_command: str
    egress_proxy: str = "http://127.0.0.1:8789"
    otel_endpoint: str = "http://127.0.0.1:4318"
    wrap_mcp: bool = False
    """Run every managed stdio MCP server inside ``ramparts mcp wrap`` (bubblewrap + JSON-RPC screening)."""
    ramparts_bin: str = "ramparts"
    policy_arg: str = ""
    """The ``--policy`` the wrapped MCP servers load (the same one the hook loads); empty: the installed one."""
    account_tag: tuple[str, str] = ("Department", "Engineering")
    """Principal tag (key, value) that may invoke Claude models on Bedrock."""
    audit_bucket: str = "ramparts-audit"
    status_checks: tuple[str, ...] = ("ci", "secret-scan")


@dataclass(frozen=True)
class Context:
    policy: Policy
    options: Options


@dataclass(frozen=True)
class Artefact:
    name: str
    description: str
    build: Callable[[Context], bytes | None]
    check: Callable[[bytes], None] = field(default=lambda data: None)
    mode: int = 0o644


REGISTRY: dict[str, Artefact] = {}
MODULES = (
    "ramparts.policy.artefacts.claude",
    "ramparts.policy.artefacts.git",
    "ramparts.policy.artefacts.aws",
)


def artefact(
    name: str, description: str, *, check: Callable[[bytes], None] | None = None, mode: int = 0o644
) -> Callable[[Callable[[Context], bytes | None]], Callable[[Context], bytes | None]]:
    """Register ``build`` as the artefact written to ``name`` (relative to the output folder)."""

    def register(build: Callable[[Context], bytes | None]) -> Callable[[Context], bytes | None]:
        if name in REGISTRY:
            raise ValueError(f"artefact {name} is registered twice")
        REGISTRY[name] = Artefact(name, description, build, check or (lambda data: None), mode)
        return build

    return register


def load() -> dict[str, Artefact]:
    for module in MODULES:
        importlib.import_module(module)
    return dict(sorted(REGISTRY.items()))


def build_all(context: Context) -> dict[str, bytes]:
    """Every artefact's bytes, each checked; raises :class:`ArtefactError` naming the one that fails."""
    out: dict[str, bytes] = {}
    for name, item in load().items():
        data = item.build(context)
        if data is None:
            continue
        try:
            item.check(data)
        except ArtefactError:
            raise
        except Exception as exc:
            raise ArtefactError(f"{name}: {exc}") from exc
        out[name] = data
    return out


def write_all(context: Context, folder: Path) -> list[Path]:
    """Build and check everything first, then write; nothing is written when one artefact fails."""
    built = build_all(context)
    registry = load()
    written: list[Path] = []
    for name, data in built.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, registry[name].mode)
        os.replace(tmp, target)
        written.append(target)
    return written
