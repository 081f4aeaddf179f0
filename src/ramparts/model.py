"""Frozen types shared by every layer: who acts, what they try to do, and what was decided.

Adapters normalise their input into an :class:`Event` once; :func:`ramparts.engine.decide`
turns it into a :class:`Decision`. These are ``NamedTuple`` classes on purpose: they are
immutable, typed, and cheap to import on the hook's hot path (``dataclasses`` pulls in
``inspect``, which costs the hook more than the rest of its imports together).
"""

# Annotations are strings (typing is not imported on the hook's path; ramparts._tuples keeps them as
# written); ramparts.policy.decl.type_hints evaluates them with the TYPE_CHECKING block below.
from __future__ import annotations

from ._tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal

    Verdict = Literal["deny", "ask", "allow"]
    """What the engine decides. Order of strength: deny > ask > allow."""

    AccessMode = Literal["read", "write"]

    EventKind = Literal["pre_tool_use", "post_tool_use", "user_prompt", "session_start", "session_end"]
else:

    def __getattr__(name: str) -> object:  # the aliases above, for a run-time import of one
        from .policy.decl import lazy_alias

        return lazy_alias(__name__, name)


class Subject(NamedTuple):
    """Who is acting: the OS user and the machine."""

    user: str = ""
    host: str = ""


class Command(NamedTuple):
    """One simple command that a shell string will execute, after wrapper and assignment stripping."""

    argv: tuple[str, ...]
    text: str
    """The words joined by single spaces, with the program given by its basename when it was a path."""
    wrapper: bool = False
    """It only runs commands listed after it (``bash -c '…'``): deny and ask rules match it, and an
    allow needs only those commands to be allowed."""
    program: str = ""
    """The program as written when it was given by a path outside the system folders (``./ls``):
    allow rules must name it that way, since ``./ls`` is not the ``ls`` an allow rule trusts."""
    read_only: bool = False
    """The read-only table (``ramparts.shell.readonly``) says it cannot change anything."""
    as_written: tuple[str, ...] = ()
    """The words before options that only steer the program were dropped (git's ``-C``/``-c``), when
    they differ from ``argv``: the git rules read them."""


class InlineCode(NamedTuple):
    """Program text handed to an interpreter inline (``python3 -c``, ``perl -e``, a here-document)."""

    interpreter: str
    code: str


class FileAccess(NamedTuple):
    """A file a tool call reads or writes, as an absolute, normalised path."""

    path: str
    mode: AccessMode
    via: str
    """How we know: ``tool`` (a file tool's argument), ``argument`` (a reader/writer's argument) or ``redirect``."""
    recursive: bool = False
    """Everything below the path is read too (``grep -r``, ``cp -r``, a Grep tool over a directory)."""
    below: tuple[str, ...] | None = None
    """For a recursive read: every path below it when the adapter could list them all (a bounded
    walk); None when it could not, and then any rule that may match below counts."""


class Printed(NamedTuple):
    """A command whose output shows content no file rule sees (git history, the index, blobs), which
    the adapter may run itself, hardened and bounded, to scan what it prints."""

    args: tuple[str, ...]
    """The git subcommand and its words, as written."""
    flags: tuple[str, ...]
    """git's global options kept for the run (``--literal-pathspecs``)."""
    folder: str
    """The absolute folder it runs in."""
    reason: str
    """The opaque reason it stands for; scanned output (a ``Content`` of source ``output`` named
    :attr:`key`) replaces it."""

    @property
    def key(self) -> str:
        text = " ".join(("git", *self.args))
        return f"{text[:200]} (in {self.folder})"


class ToolCall(NamedTuple):
    """A normalised tool call."""

    name: str
    input: dict[str, object]
    commands: tuple[Command, ...] = ()
    """Bash only: every simple command found."""
    accesses: tuple[FileAccess, ...] = ()
    opaque: tuple[str, ...] = ()
    """Why parts of a shell command could not be analysed; non-empty means the engine may not allow it."""
    hosts: tuple[str, ...] = ()
    """Bash only: hosts the command will contact."""
    code: tuple[InlineCode, ...] = ()
    """Bash only: code run inline by an interpreter; the engine asks (or denies) for it."""
    prints: tuple[Printed, ...] = ()
    """Bash only: commands whose printed output the adapter may scan (their reasons are in ``opaque``
    until it does)."""


class Finding(NamedTuple):
    """Something a detector found. Never holds the raw value: a keyed fingerprint and a redacted excerpt."""

    detector: str
    category: Literal["secret", "pii", "injection"]
    severity: Literal["low", "medium", "high", "critical"]
    confidence: float
    start: int
    end: int
    line: int
    fingerprint: str
    excerpt: str


class Content(NamedTuple):
    """Text an event carries or a tool call would expose, as the adapter's detectors saw it.

    The engine never sees the text itself: only where it came from and what was found in it.
    """

    source: Literal["file", "prompt", "tool_result", "tool_input", "output"]
    name: str
    """The file's path, ``prompt``, the tool whose result (or input bound for a sink) it is, or for
    ``output`` the :attr:`Printed.key` of the command whose output the adapter ran and scanned."""
    findings: tuple[Finding, ...] = ()
    truncated: bool = False
    """Only the first part was scanned (the policy's ``dlp.max_scan_bytes``)."""
    error: str = ""
    """Why it could not be scanned; the engine treats an unscannable file as unsafe to read."""


class Event(NamedTuple):
    """One normalised thing an agent is about to do or did."""

    kind: EventKind
    session_id: str
    cwd: str
    home: str
    subject: Subject = Subject()
    tool: ToolCall | None = None
    agent: str = "claude_code"
    permission_mode: str = ""
    content: tuple[Content, ...] = ()
    """What the adapter scanned: files a call would read, the prompt, the tool result."""
    mcp_server: str = ""
    git_branch: str = ""
    """The branch checked out in ``cwd`` when the call runs git ('' when unknown or detached)."""


class OtherSession(NamedTuple):
    """Another live session of the same user, as the session store saw it (for the concurrency limit)."""

    session_id: str
    started: float
    last_event: float
    cwd: str = ""
    host: str = ""


class SessionState(NamedTuple):
    """What the engine may know about the session an event belongs to.

    The adapter reads it from the session store (``ramparts.session.store``) before deciding; the
    engine has no clock and does no I/O, so every time here is the adapter's.
    """

    session_id: str = ""
    now: float = 0.0
    """The adapter's clock, seconds since the epoch."""
    registered: bool = False
    """The session store knows the session: a SessionStart was seen, or it was created on first sight."""
    started: float | None = None
    last_event: float | None = None
    """The previous event's time, before this one; None for the session's first event."""
    closed: str = ""
    """Non-empty: the session was closed (idle, max duration, SessionEnd) and why."""
    killed: str = ""
    """Non-empty: the kill switch applies (session, user or all) and the incident message."""
    tainted: str = ""
    """Non-empty: a tool result carried a prompt injection; why."""
    grant_until: float = 0.0
    """A step-up grant (``ramparts reauth``) is valid until then."""
    others: tuple[OtherSession, ...] = ()
    """Live sessions of the same user that started before this one (the engine filters them by idle time)."""


class Decision(NamedTuple):
    """The engine's answer. The default value denies: fail closed by construction."""

    verdict: Verdict = "deny"
    reasons: tuple[str, ...] = ("no decision was made",)
    rule_ids: tuple[str, ...] = ()
    policy_revision: str = ""
    trace: tuple[str, ...] = ()
    """Step-by-step reasoning, for ``ramparts explain``."""
    findings: tuple[Finding, ...] = ()
    enforced: bool = True
    """False in ``report`` mode: the verdict was computed but the adapter lets the call through."""
    would_verdict: Verdict | None = None
    """In report mode, what enforce mode would have decided."""
    decision_id: str = ""
    """Set by the adapter that records the decision (the engine itself draws no randomness)."""
    warnings: tuple[str, ...] = ()
    """Said to the agent alongside an allow (``additionalContext``): a suspected injection, a secret."""
    effects: tuple[tuple[str, str], ...] = ()
    """What the adapter must record in session state, as (action, reason): ``taint``, ``close``."""

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)
