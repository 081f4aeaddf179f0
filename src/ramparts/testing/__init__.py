"""Test helpers: a scripted fake Messages API and a hermetic runner for the real Claude Code CLI.

Standard library only, so any test suite (and Ramparts' own) can drive the real ``claude`` binary offline:
``ScriptedModelServer`` plays the model on 127.0.0.1, ``run_claude`` launches ``claude -p`` against it with
an isolated ``HOME``/``CLAUDE_CONFIG_DIR`` and a minimal environment.

Observed with Claude Code 2.1.328 (Linux x64, as root; proven by ``tests/integration/test_harness.py``):

- ``hermetic_env`` is enough to run offline: no ``~/.claude.json``, login or onboarding state is needed.
  A ``-p`` run with one tool call takes about 0.5-1 s (the whole CLI process).
- Traffic: exactly one ``POST /v1/messages?beta=true`` per model turn (``stream: true``, ``max_tokens``
  128000, ``tools`` present, ``x-api-key``); no side requests, no ``count_tokens``. ``HEAD /api/hello`` is
  *not* sent while ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC`` is set (the warm-up checks it first); it is
  sent when that variable is empty. The default model reported is ``claude-opus-5-5``.
- ``--settings`` is not required: ``$CLAUDE_CONFIG_DIR/settings.json`` is honoured as user settings
  (``permissions.allow`` and hooks). ``--settings FILE`` works as well, hooks included.
- ``echo`` is auto-approved as read-only (it runs with no allow rule at all); ``touch`` needs a rule, else
  ``-p`` denies it ("needs approval") and lists it in ``permission_denials``.
- ``"allowManagedHooksOnly": true`` in a ``--settings`` file is ignored: that file's own hooks still run
  (and so do user-settings hooks). The key only works from managed policy (``/etc/claude-code``).
- ``"permissions": {"disableBypassPermissionsMode": "disable"}`` in a ``--settings`` file is accepted and
  enforced: ``--permission-mode bypassPermissions`` (and ``--dangerously-skip-permissions``) is silently
  downgraded to ``default`` (init event ``permissionMode: "default"``, exit 0, nothing on stderr).
  As root, bypass mode is refused outright unless ``IS_SANDBOX=1``.
- A PreToolUse ``deny`` reaches the model as ``tool_result`` ``is_error: true`` with text
  ``"PreToolUse:<Tool> hook error: <reason>"``; the result event lists it in ``permission_denials``.
- Hooks run in their own session, so killing the CLI's process group leaves them running;
  ``run_claude`` kills the CLI's descendants by pid on timeout.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "ClaudeBinaryNotFoundError",
    "ClaudeRun",
    "ClaudeRunTimeoutError",
    "RecordedRequest",
    "ScriptedModelServer",
    "Step",
    "ToolResult",
    "ToolUse",
    "find_claude_bin",
    "hermetic_env",
    "run_claude",
]

CLAUDE_BIN_ENV: Final = "RAMPARTS_CLAUDE_BIN"
CLAUDE_BIN_RELPATH: Final = Path(".tools/node_modules/@anthropic-ai/claude-code/bin/claude.exe")
DUMMY_API_KEY: Final = "sk-ant-api03-ramparts-test-dummy-key"
DEFAULT_MODEL: Final = "claude-sonnet-4-5"
SIDE_REPLY: Final = "ok"


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class ToolUse:
    """A scenario step: on this turn the model emits one ``tool_use`` block."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)


Step = ToolUse | str | Callable[["RecordedRequest"], ToolUse | str]
"""A scenario step: a ``ToolUse``, a ``str`` the model answers before ending the turn, or a callable that
builds either from the request it answers (e.g. to copy what the model was sent into a tool call)."""


@dataclass(frozen=True)
class ToolResult:
    """What the model was told about one tool call."""

    tool_use_id: str
    content: str
    is_error: bool


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request received by ``ScriptedModelServer``."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: str

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    @property
    def is_main(self) -> bool:
        """A Messages request that carries a ``tools`` array (an agent turn, not a side request)."""
        return (
            self.method == "POST"
            and self.route == "/v1/messages"
            and isinstance(self.body, dict)
            and isinstance(self.body.get("tools"), list)
            and bool(self.body["tools"])
        )


def _block_text(content: Any) -> str:
    """Flatten a ``tool_result`` content (string or list of blocks) to text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


def _tool_results_from_messages(messages: Iterator[Mapping[str, Any]]) -> dict[str, ToolResult]:
    found: dict[str, ToolResult] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                tool_use_id = str(block.get("tool_use_id", ""))
                found.pop(tool_use_id, None)  # last seen wins, and moves to the end
                found[tool_use_id] = ToolResult(
                    tool_use_id=tool_use_id,
                    content=_block_text(block.get("content")),
                    is_error=bool(block.get("is_error", False)),
                )
    return found


# --------------------------------------------------------------------------- fake Messages API


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ramparts-scripted-model/1"
    timeout = 30  # idle keep-alive connections close themselves
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access log
        return

    # -- plumbing

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(chunks)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return raw

    def _record(self, raw: bytes) -> RecordedRequest:
        text = raw.decode("utf-8", errors="replace")
        body: Any = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={key: value for key, value in self.headers.items()},
            body=body,
            raw=text,
        )
        self.server.owner._append(request)
        return request

    def _send_json(self, status: int, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_ramparts_{len(self.server.owner.requests):04d}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, status: HTTPStatus, error_type: str, message: str) -> None:
        self._send_json(status, {"type": "error", "error": {"type": error_type, "message": message}})

    def _send_sse(self, events: Sequence[bytes]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- verbs

    def do_HEAD(self) -> None:
        self._record(b"")
        route = urlsplit(self.path).path
        if route in ("/", "/api/hello"):
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not_found_error", f"Not found: {route}")

    def do_GET(self) -> None:
        self._record(b"")
        route = urlsplit(self.path).path
        if route in ("/", "/api/hello"):
            self._send_json(HTTPStatus.OK, {"ok": True})
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not_found_error", f"Not found: {route}")

    def do_POST(self) -> None:
        request = self._record(self._read_body())
        route = request.route
        body = request.body
        if route == "/v1/messages/count_tokens":
            self._send_json(HTTPStatus.OK, {"input_tokens": max(1, len(request.raw) // 4)})
            return
        if route != "/v1/messages":
            self._send_error(HTTPStatus.NOT_FOUND, "not_found_error", f"Not found: {route}")
            return
        if not isinstance(body, dict):
            self._send_error(HTTPStatus.BAD_REQUEST, "invalid_request_error", "body must be a JSON object")
            return
        block, stop_reason = self.server.owner._reply_for(request)
        model = str(body.get("model") or DEFAULT_MODEL)
        input_tokens = max(1, len(request.raw) // 4)
        message_id = f"msg_ramparts_{len(self.server.owner.requests):04d}"
        if body.get("stream"):
            owner = self.server.owner
            self._send_sse(
                _stream_events(message_id, model, block, stop_reason, input_tokens, owner.delta_chars)
            )
        else:
            self._send_json(
                HTTPStatus.OK,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [block],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 10},
                },
            )

    def do_PUT(self) -> None:
        self._record(self._read_body())
        self._send_error(HTTPStatus.NOT_FOUND, "not_found_error", f"Not found: {self.path}")

    do_DELETE = do_PUT
    do_PATCH = do_PUT


def _pieces(text: str, size: int | None) -> list[str]:
    if not size or len(text) <= size:
        return [text]
    return [text[i : i + size] for i in range(0, len(text), size)]


def _stream_events(
    message_id: str,
    model: str,
    block: Mapping[str, Any],
    stop_reason: str,
    input_tokens: int,
    delta_chars: int | None = None,
) -> list[bytes]:
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    start = {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        },
    }
    events = [_sse("message_start", start), _sse("ping", {"type": "ping"})]
    if block["type"] == "tool_use":
        opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": piece}
            for piece in _pieces(json.dumps(block["input"]), delta_chars)
        ]
    else:
        opening = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"], delta_chars)]
    events.append(
        _sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": opening})
    )
    events += [
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        for delta in deltas
    ]
    events += [
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": 10},
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    return events


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        super().__init__(address, owner.handler_class)


class ScriptedModelServer:
    """A fake Anthropic Messages API on loopback that replays a fixed scenario.

    On each ``POST /v1/messages`` carrying ``tools``, the turn index is the number of assistant messages
    already in ``messages`` (so retries get the same answer); step *i* of ``scenario`` is answered, and once
    the scenario is exhausted the model says ``final_text`` and ends the turn. Requests without ``tools``
    (side requests such as title generation) get a short text reply.

    ``delta_chars`` splits each streamed text or tool input into ``text_delta``/``input_json_delta``
    events of that many characters (``None``: one delta per block, as before).
    """

    handler_class: type[BaseHTTPRequestHandler] = _Handler
    """The request handler (a subclass speaks another API: ``ramparts.testing.bedrock``)."""

    def __init__(
        self,
        scenario: Sequence[Step] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        final_text: str = "done",
        delta_chars: int | None = None,
    ) -> None:
        for step in scenario:
            if not isinstance(step, ToolUse | str) and not callable(step):
                raise TypeError(f"scenario step must be ToolUse, str or callable, not {type(step).__name__}")
        if delta_chars is not None and delta_chars < 1:
            raise ValueError("delta_chars must be at least 1")
        self.delta_chars = delta_chars
        self.scenario: tuple[Step, ...] = tuple(scenario)
        self.final_text = final_text
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> ScriptedModelServer:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ScriptedModelServer",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for ``ANTHROPIC_BASE_URL``, e.g. ``http://127.0.0.1:41234``."""
        if self._server is None:
            raise RuntimeError("ScriptedModelServer is not running; use start() or a with-block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- scenario

    @staticmethod
    def tool_use_id(step_index: int) -> str:
        """The ``tool_use`` id emitted for scenario step ``step_index``."""
        return f"toolu_ramparts_{step_index:03d}"

    def _reply_for(self, request: RecordedRequest) -> tuple[dict[str, Any], str]:
        if not request.is_main:
            return {"type": "text", "text": SIDE_REPLY}, "end_turn"
        messages = request.body.get("messages")
        turn = 0
        if isinstance(messages, list):
            turn = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")
        if turn < len(self.scenario):
            step = self.scenario[turn]
            if not isinstance(step, ToolUse | str):
                step = step(request)
            if isinstance(step, ToolUse):
                block = {"type": "tool_use", "id": self.tool_use_id(turn), "name": step.name}
                return {**block, "input": step.input}, "tool_use"
            return {"type": "text", "text": step}, "end_turn"
        return {"type": "text", "text": self.final_text}, "end_turn"

    # -- recording

    def _append(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def main_requests(self) -> list[RecordedRequest]:
        """The agent-turn Messages requests (those carrying ``tools``)."""
        return [r for r in self.requests if r.is_main]

    def all_text(self) -> str:
        """Every raw request body concatenated: assert a secret is ``not in`` it."""
        return "\n".join(r.raw for r in self.requests)

    def tool_results(self) -> list[ToolResult]:
        """``tool_result`` blocks sent to the model, deduplicated by ``tool_use_id`` (last seen wins)."""

        def messages() -> Iterator[Mapping[str, Any]]:
            for request in self.requests:
                if request.route == "/v1/messages" and isinstance(request.body, dict):
                    for message in request.body.get("messages") or ():
                        if isinstance(message, dict):
                            yield message

        return list(_tool_results_from_messages(messages()).values())

    def tool_result(self, step_index: int) -> ToolResult | None:
        """The result the model got for scenario step ``step_index``, if any."""
        wanted = self.tool_use_id(step_index)
        return next((r for r in self.tool_results() if r.tool_use_id == wanted), None)


# --------------------------------------------------------------------------- running the CLI


class ClaudeBinaryNotFoundError(FileNotFoundError):
    """The Claude Code CLI binary could not be located."""


class ClaudeRunTimeoutError(TimeoutError):
    """``claude`` did not finish in time; carries whatever it printed."""

    def __init__(self, timeout: float, stdout: str, stderr: str) -> None:
        super().__init__(f"claude did not finish within {timeout:g}s; stderr tail: {stderr[-2000:]!r}")
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class ClaudeRun:
    """Outcome of one ``claude -p --output-format stream-json`` run."""

    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str
    duration: float = 0.0

    def result(self) -> dict[str, Any] | None:
        """The final ``{"type": "result", ...}`` event, if the CLI got that far."""
        return next((e for e in reversed(self.events) if e.get("type") == "result"), None)

    def permission_denials(self) -> list[dict[str, Any]]:
        """``permission_denials`` of the result event (tool calls blocked by rules, modes or hooks)."""
        result = self.result()
        denials = result.get("permission_denials") if result else None
        return [d for d in denials if isinstance(d, dict)] if isinstance(denials, list) else []

    def tool_uses(self) -> list[dict[str, Any]]:
        """``tool_use`` blocks the (scripted) model emitted, as the CLI reported them."""
        uses: list[dict[str, Any]] = []
        for event in self.events:
            message = event.get("message")
            if event.get("type") == "assistant" and isinstance(message, dict):
                content = message.get("content")
                if isinstance(content, list):
                    uses += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        return uses

    def tool_results(self) -> list[ToolResult]:
        """``tool_result`` blocks from the stream's user events, deduplicated by id (last wins)."""

        def messages() -> Iterator[Mapping[str, Any]]:
            for event in self.events:
                message = event.get("message")
                if event.get("type") == "user" and isinstance(message, dict):
                    yield message

        return list(_tool_results_from_messages(messages()).values())

    def system_init(self) -> dict[str, Any] | None:
        """The ``{"type": "system", "subtype": "init"}`` event (tools, model, permission mode...)."""
        inits = (e for e in self.events if e.get("type") == "system" and e.get("subtype") == "init")
        return next(inits, None)


def _search_roots() -> Iterator[Path]:
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        yield start
        yield from start.parents


def find_claude_bin() -> Path:
    """Locate the pinned Claude Code binary: ``$RAMPARTS_CLAUDE_BIN``, else ``.tools/...`` up the tree."""
    configured = os.environ.get(CLAUDE_BIN_ENV)
    if configured:
        path = Path(configured).expanduser()
        if path.is_file():
            return path
        raise ClaudeBinaryNotFoundError(f"${CLAUDE_BIN_ENV} points to {configured!r}, which is not a file")
    for root in _search_roots():
        candidate = root / CLAUDE_BIN_RELPATH
        if candidate.is_file():
            return candidate
    raise ClaudeBinaryNotFoundError(
        f"Claude Code CLI not found: set ${CLAUDE_BIN_ENV} or install it with "
        f"`npm install --prefix .tools @anthropic-ai/claude-code@VERSION` (looked for {CLAUDE_BIN_RELPATH} "
        "above the current directory and above the ramparts package)"
    )


def scratch_git_env(base: Mapping[str, str], who: str) -> dict[str, str]:
    """``base`` with what git needs to make a scratch repository the same way on any machine: no global
    or system configuration, and ``who`` as author and committer (``who@example.invalid``)."""
    return {
        **base,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": who,
        "GIT_AUTHOR_EMAIL": f"{who}@example.invalid",
        "GIT_COMMITTER_NAME": who,
        "GIT_COMMITTER_EMAIL": f"{who}@example.invalid",
    }


def hermetic_env(*, home: Path, base_url: str, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment ``run_claude`` uses: nothing from the caller's env except ``PATH``."""
    env = {
        "PATH": os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": "ramparts-test",
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "SHELL": "/bin/bash" if Path("/bin/bash").exists() else "/bin/sh",
        "TMPDIR": str(home / "tmp"),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": DUMMY_API_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_ENABLE_TELEMETRY": "0",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    if os.environ.get("RAMPARTS_CACHE_DIR"):  # a shared, already compiled detector cache (test suites)
        env["RAMPARTS_CACHE_DIR"] = os.environ["RAMPARTS_CACHE_DIR"]
    if extra_env:
        env.update(extra_env)
    return env


def _parse_events(stdout: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def run_claude(
    prompt: str,
    *,
    claude_bin: str | Path,
    cwd: Path,
    home: Path,
    base_url: str,
    settings: Path | None = None,
    extra_env: dict[str, str] | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 120,
) -> ClaudeRun:
    """Run ``claude -p PROMPT --output-format stream-json --verbose`` hermetically and parse its output.

    ``home`` becomes ``HOME`` and ``home/.claude`` the ``CLAUDE_CONFIG_DIR``; the caller's environment is not
    inherited (only ``PATH``). ``extra_args`` go after the fixed flags (e.g. ``--include-hook-events``).
    On timeout the whole process group is killed and ``ClaudeRunTimeoutError`` is raised.
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / ".claude").mkdir(exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    argv = [str(claude_bin), "-p", prompt, "--output-format", "stream-json", "--verbose"]
    if settings is not None:
        argv += ["--settings", str(settings)]
    argv += list(extra_args)
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=hermetic_env(home=home, base_url=base_url, extra_env=extra_env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # own process group: a timeout kills hooks and shells too
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        try:
            stdout, stderr = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            stdout, stderr = "", ""
        raise ClaudeRunTimeoutError(timeout, stdout, stderr) from None
    finally:
        if process.poll() is None:
            _kill_group(process)
            process.wait(timeout=5)
    return ClaudeRun(
        returncode=process.returncode,
        events=_parse_events(stdout),
        stdout=stdout,
        stderr=stderr,
        duration=time.monotonic() - started,
    )


def _descendants(root: int) -> list[int]:
    """Pids below ``root`` (Linux ``/proc``; empty elsewhere). Hooks run in their own sessions, so the
    process group alone does not reach them."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    found: list[int] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the CLI's process group and every process it started, by pid."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGSTOP)  # freeze the tree while it is walked
    pids = _descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def audit_records(location: str | os.PathLike[str]) -> list[Any]:
    """Every record of an audit store (a state directory or its ``audit.db``), read as the typed
    :class:`~ramparts.audit.record.AuditRecord` and checked against its JSON Schema on the way: a
    producer that writes anything else fails the test that reads it."""
    import jsonschema

    from ..audit.record import from_json, schema
    from ..audit.store import AuditStore

    path = os.fspath(location)
    if os.path.isdir(path):
        path = os.path.join(path, "audit.db")
    validator = jsonschema.Draft202012Validator(schema())
    out = []
    with AuditStore(path) as store:
        for stored in store.records():
            data = stored.data()
            validator.validate(data)
            out.append(from_json(data))
    return out
