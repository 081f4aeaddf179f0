"""``ramparts mcp wrap``: a stdio MCP server inside the sandbox, behind a JSON-RPC guard (MED-04, CRIT-02).

The guard (:class:`Guard`, no I/O) sees every message each way:

- ``tools/list`` answers: each tool's description and input schema are screened for injection and
  pinned by the SHA-256 of their canonical JSON (RFC 8785). A tool seen for the first time is pinned
  (trust on first use) when the pin file is writable, and held for approval when it is not. A tool
  whose pinned hash changed (a "rug pull") is withheld until an administrator approves the new one
  (``ramparts mcp approve``). Tools the policy does not allow are withheld too.
- ``tools/call`` requests: refused with a JSON-RPC error unless the policy allows the tool and its
  current description is the approved one.
- ``tools/call`` results: screened for injection; a result that scores as one is replaced by an error.

Malformed messages are dropped (fail closed), never forwarded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import rfc8785

from ..errors import RampartsError
from ..policy.types import InjectionSurface, Policy
from .bwrap import Spec, start

if TYPE_CHECKING:
    from ..detect.injection import InjectionResult

REFUSED = -32001


class PinError(RampartsError):
    """The pin file cannot be read or written."""


def tool_hash(tool: dict[str, Any]) -> str:
    pinned = {
        k: tool.get(k) for k in ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
    }
    return hashlib.sha256(rfc8785.dumps(pinned)).hexdigest()


@dataclass
class Pins:
    """``{"servers": {server: {"tools": {name: sha256}, "pending": {name: sha256}}}}`` in a JSON file."""

    path: Path
    data: dict[str, Any] = field(default_factory=lambda: {"servers": {}})

    @classmethod
    def load(cls, path: Path) -> Pins:
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError) as exc:
            raise PinError(f"cannot read the MCP pin file {path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            raise PinError(f"{path} is not a Ramparts MCP pin file")
        return cls(path, data)

    def server(self, name: str) -> dict[str, dict[str, str]]:
        entry = self.data["servers"].setdefault(name, {})
        entry.setdefault("tools", {})
        entry.setdefault("pending", {})
        return entry  # type: ignore[no-any-return]

    def writable(self) -> bool:
        target = self.path if self.path.exists() else self.path.parent
        return os.access(target, os.W_OK) if target.exists() else os.access(self.path.parent.parent, os.W_OK)

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", "utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise PinError(f"cannot write the MCP pin file {self.path}: {exc}") from exc

    def approve(self, server: str, tool: str | None = None) -> list[str]:
        """Move pending hashes (all of ``server``'s, or ``tool``'s) into the pins; the tools approved."""
        entry = self.server(server)
        names = [tool] if tool else sorted(entry["pending"])
        done = []
        for name in names:
            if name in entry["pending"]:
                entry["tools"][name] = entry["pending"].pop(name)
                done.append(name)
        if done:
            self.save()
        return done


def _allowed_by_policy(policy: Policy, server: str, tool: str) -> bool:
    """The hook's own MCP rule (``controls.mcp_hits``): refused only when it would deny. An ``ask`` passes
    here, since the PreToolUse hook asks for the same call before Claude Code sends it."""
    from ..controls import mcp_hits
    from ..model import Event, ToolCall

    call = ToolCall(name=f"mcp__{server}__{tool}", input={})
    event = Event(kind="pre_tool_use", session_id="", cwd="/", home="/", tool=call, mcp_server=server)
    hits, _ = mcp_hits(policy, call, event)
    return not any(hit.list == "deny" for hit in hits)


class Guard:
    """The JSON-RPC screening for one server (pure apart from saving pins)."""

    def __init__(self, server: str, policy: Policy, pins: Pins, *, log: IO[str] | None = None) -> None:
        self.server, self.policy, self.pins = server, policy, pins
        self.log = log or sys.stderr
        self.pending_methods: dict[str, str] = {}
        self.approved: set[str] = set()
        self.tofu = pins.writable()

    def note(self, text: str) -> None:
        print(f"ramparts mcp wrap [{self.server}]: {text}", file=self.log, flush=True)

    def _score(self, text: str, surface: InjectionSurface) -> InjectionResult:
        """The injection score at ``surface``'s thresholds (the hook and the gateway use the same ones),
        with the policy's model slot, if it names one. A model that cannot score (file, digest,
        contract, run) counts as a block, with the reason noted: fail closed."""
        from ..detect.injection import InjectionResult, score
        from ..detect.injection_model import ModelError, load_slot

        detect = self.policy.detect
        try:
            model = load_slot(detect.injection_model)
            block, warn = detect.injection_thresholds(surface)
            return score(text, high=block, medium=warn, model=model)
        except ModelError as exc:
            self.note(f"the injection model cannot score, so this is withheld: {exc}")
            return InjectionResult(1.0, (), "block")

    @staticmethod
    def _key(msg_id: Any) -> str:
        return json.dumps(msg_id, sort_keys=True)

    def from_client(self, msg: Any) -> tuple[list[Any], list[Any]]:
        """(messages for the server, replies for the client)."""
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            self.note("dropped a malformed message from the client")
            return [], []
        method = msg.get("method")
        if "id" in msg and isinstance(method, str):
            self.pending_methods[self._key(msg["id"])] = method
        if method == "tools/call":
            params = msg.get("params")
            name = str(params.get("name", "")) if isinstance(params, dict) else ""
            why = ""
            if not _allowed_by_policy(self.policy, self.server, name):
                why = f"the policy does not allow tool {name!r} of MCP server {self.server!r}"
            elif name not in self.approved:
                why = f"tool {name!r} has no approved description (list the tools first, or an admin must approve it)"
            if why:
                self.pending_methods.pop(self._key(msg.get("id")), None)
                self.note(f"refused tools/call: {why}")
                if "id" not in msg:
                    return [], []
                error = {"code": REFUSED, "message": f"Ramparts refused this call: {why}"}
                return [], [{"jsonrpc": "2.0", "id": msg["id"], "error": error}]
        return [msg], []

    def from_server(self, msg: Any) -> list[Any]:
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            self.note("dropped a malformed message from the server")
            return []
        if "id" in msg and "method" not in msg:
            method = self.pending_methods.pop(self._key(msg["id"]), "")
            result = msg.get("result")
            if method == "tools/list" and isinstance(result, dict):
                return [{**msg, "result": self._screen_list(result)}]
            if method == "tools/call" and isinstance(result, dict):
                return [{**msg, "result": self._screen_result(result)}]
        return [msg]

    def _screen_list(self, result: dict[str, Any]) -> dict[str, Any]:
        entry = self.pins.server(self.server)
        kept: list[Any] = []
        changed = False
        for tool in result.get("tools") or []:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            name = tool["name"]
            if not _allowed_by_policy(self.policy, self.server, name):
                self.note(f"withheld tool {name!r}: not allowed by the policy")
                continue
            text = f"{tool.get('description', '')}\n{json.dumps(tool.get('inputSchema', {}), sort_keys=True)}"
            verdict = self._score(text, "mcp_tool_description")
            if verdict.verdict != "log":
                self.note(
                    f"withheld tool {name!r}: its description reads as a prompt injection (score {verdict.score:.2f})"
                )
                self.approved.discard(name)
                continue
            digest = tool_hash(tool)
            pinned = entry["tools"].get(name)
            if pinned == digest:
                kept.append(tool)
                self.approved.add(name)
            elif pinned is None and self.tofu:
                entry["tools"][name] = digest
                changed = True
                kept.append(tool)
                self.approved.add(name)
            else:
                if entry["pending"].get(name) != digest:
                    entry["pending"][name] = digest
                    changed = True
                self.approved.discard(name)
                what = "changed since it was pinned" if pinned else "is new and the pin file is read-only"
                self.note(
                    f"withheld tool {name!r}: its description {what}; "
                    f"an admin approves it with `ramparts mcp approve --server {self.server} --tool {name}`"
                )
        if changed:
            try:
                self.pins.save()
            except PinError as exc:
                self.note(str(exc))
        return {**result, "tools": kept}

    def _screen_result(self, result: dict[str, Any]) -> dict[str, Any]:
        parts = [str(c.get("text", "")) for c in result.get("content") or [] if isinstance(c, dict)]
        if "structuredContent" in result:
            parts.append(json.dumps(result["structuredContent"]))
        verdict = self._score("\n".join(parts), "tool_result")
        if verdict.verdict == "block":
            self.note(f"withheld a tool result: it reads as a prompt injection (score {verdict.score:.2f})")
            text = f"Ramparts withheld this tool result: it carries a prompt injection (score {verdict.score:.2f})."
            kept = {k: v for k, v in result.items() if k not in ("content", "structuredContent")}
            return {**kept, "content": [{"type": "text", "text": text}], "isError": True}
        return result


def wrap(
    guard: Guard,
    spec: Spec,
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | None = None,
    egress_proxy: str | None = None,
) -> int:
    """Run the server in the sandbox and relay newline-delimited JSON-RPC through ``guard``."""
    source = stdin or sys.stdin.buffer
    sink = stdout or sys.stdout.buffer
    process, forwarder = start(spec, egress_proxy=egress_proxy, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    to_server, from_server = process.stdin, process.stdout
    lock = threading.Lock()

    def emit(messages: list[Any]) -> None:
        with lock:
            for message in messages:
                sink.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
            sink.flush()

    def client_loop() -> None:
        try:
            for line in source:
                if not line.strip():
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    guard.note("dropped a line from the client that is not JSON")
                    continue
                forward, replies = guard.from_client(msg)
                emit(replies)
                for message in forward:
                    to_server.write(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")
                    to_server.flush()
        except (OSError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                to_server.close()

    reader = threading.Thread(target=client_loop, daemon=True)
    reader.start()
    try:
        for line in from_server:
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                guard.note("dropped a line from the server that is not JSON")
                continue
            emit(guard.from_server(msg))
        return process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if forwarder is not None:
            forwarder.close()
