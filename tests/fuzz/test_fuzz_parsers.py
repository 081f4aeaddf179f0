"""Hypothesis fuzz targets for the parsers of untrusted input.

* ``ramparts.shell.analyze``: any text -> an :class:`Analysis`, never an exception.
* ``ramparts.agents.claude_code.normalize.to_event``: any JSON-like dict -> an :class:`Event` or
  :class:`HookInputError`, never another exception.
* ``ramparts.policy.load.compile_policy``: any bytes -> a :class:`Policy` or :class:`PolicyError`
  whose text starts with the display name, never another exception.
* ``ramparts.agents.claude_code.repo_config.program_keys``: a repository's git configuration (any
  text) -> the settings that run programs, never an exception.

Inputs that once crashed (NUL and lone surrogates in hook input, hostile YAML: deep nesting,
recursive aliases, tagged scalars and keys) are kept as explicit cases.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import event as _hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from ramparts.agents.claude_code.normalize import EVENT_KINDS, to_event
from ramparts.errors import HookInputError, PolicyError
from ramparts.model import Event, Subject
from ramparts.policy.load import compile_policy
from ramparts.policy.rules import path_matches
from ramparts.policy.types import Policy
from ramparts.shell import Analysis, analyze
from ramparts.shell.analyze import GIT_ELSEWHERE, GIT_HERE, GIT_TRACKED, PROJECT_CONFIG, PROJECT_CONFIG_FILES

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOME = "/home/fuzz"
SUBJECT = Subject(user="fuzz", host="fuzzhost")

# Text without NUL and lone surrogates (those have their own explicit cases below).
_CLEAN_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_CLEAN_TEXT = st.text(alphabet=_CLEAN_CHARS, max_size=40)


# -- shell.analyze -------------------------------------------------------------------------------

_SHELL_PIECES = [
    *" \t\n\r;&|<>()'\"\\$`#=*?[]{}~/!-",
    *["&&", "||", "|&", ";;", ">>", "2>", "&>", "&>>", ">|", "<>", "2>&1", ">&", "<&", "<<", "<<<"],
    *["$(", "${", "\\\n", "\\\\\n", "''", '""', "-c", "-e", "-n", "--", "A=1", "if=", "of="],
    *["cat", "curl", "env", "timeout", "5", "nice", "nohup", "time", "exec", "command", "bash", "sh"],
    *["python3", "node", "perl", "eval", "xargs", "grep", "sed", "cp", "mv", "tee", "dd", "rm", "git"],
    *[".env", "~/.ssh/id_rsa", "/etc/passwd", "\x00", "é", "🙂", "\u2028"],
]
_SHELLISH = st.lists(st.one_of(st.sampled_from(_SHELL_PIECES), st.text(max_size=4)), max_size=60).map("".join)


def _check_analysis(result: Analysis) -> None:
    assert isinstance(result, Analysis)
    for command in result.commands:
        assert command.argv
        assert all(isinstance(word, str) for word in command.argv)
        assert command.text == " ".join(command.argv)
    for file in result.files:
        assert isinstance(file.word, str)
        assert file.mode in ("read", "write")
        assert file.via in ("argument", "redirect", GIT_TRACKED, GIT_HERE, GIT_ELSEWHERE) or (
            file.via.startswith(PROJECT_CONFIG)
            and file.via[len(PROJECT_CONFIG) :] in (*PROJECT_CONFIG_FILES, "git")
        )
    assert all(isinstance(reason, str) and reason for reason in result.opaque)


@FUZZ
@given(st.text())
def test_fuzz_analyze_text(text: str) -> None:
    _check_analysis(analyze(text))


@FUZZ
@given(_SHELLISH)
def test_fuzz_analyze_shellish(text: str) -> None:
    _check_analysis(analyze(text))


@settings(max_examples=10, deadline=None)
@given(_SHELLISH.filter(bool), st.integers(min_value=10_000, max_value=100_000))
def test_fuzz_analyze_huge(chunk: str, size: int) -> None:
    _check_analysis(analyze((chunk * (size // len(chunk) + 1))[:size]))


# -- normalize.to_event --------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _CLEAN_TEXT
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_CLEAN_TEXT, inner, max_size=4),
    max_leaves=12,
)
_CWDS = st.one_of(
    st.sampled_from(
        ["/tmp", "/tmp/", "//tmp", "/tmp/../tmp/./x", "/", "/nonexistent/dir", "relative/dir", ".", "", "~"]
    ),
    _CLEAN_TEXT.map(lambda s: "/tmp/" + s.replace("/", "_")[:20]),
    _CLEAN_TEXT,
    _JSON,
)
_TOOL_NAMES = [
    *["Bash", "PowerShell", "Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead"],
    *["Glob", "Grep", "LS", "WebFetch", "Agent", "mcp__srv__tool", ""],
]
_TOOLS = st.one_of(st.sampled_from(_TOOL_NAMES), _JSON)
# Shell text for hook input: everything _SHELLISH has except NUL (NUL crashes globbing, see below).
_HOOK_SHELL = st.lists(
    st.one_of(st.sampled_from([p for p in _SHELL_PIECES if p != "\x00"]), _CLEAN_TEXT.map(lambda s: s[:4])),
    max_size=30,
).map("".join)
_PATHISH = st.one_of(
    st.sampled_from(["/etc/passwd", ".env", "~/.ssh/id_rsa", "~", "a/../../b", "*.py", "", "/tmp"]),
    _CLEAN_TEXT,
    _JSON,
)
_TOOL_INPUT_DICT = st.fixed_dictionaries(
    {},
    optional={
        "command": st.one_of(_HOOK_SHELL, _JSON),
        "file_path": _PATHISH,
        "notebook_path": _PATHISH,
        "path": _PATHISH,
        "pattern": _PATHISH,
        "content": _JSON,
        "description": _JSON,
        "run_in_background": _JSON,
    },
)
_TOOL_INPUT = st.one_of(_TOOL_INPUT_DICT, _JSON)
_PAYLOAD = st.fixed_dictionaries(
    {},
    optional={
        "hook_event_name": st.one_of(st.sampled_from([*EVENT_KINDS, "Stop", "pretooluse", ""]), _JSON),
        "session_id": st.one_of(st.just("s-1"), _JSON),
        "cwd": _CWDS,
        "permission_mode": st.one_of(st.sampled_from(["default", "plan", "bypassPermissions"]), _JSON),
        "tool_name": _TOOLS,
        "tool_input": _TOOL_INPUT,
        "tool_response": _JSON,
        "prompt": _JSON,
        "transcript_path": _JSON,
    },
)


def event(label: str) -> None:
    """Record a hypothesis event when running under @given; plain parametrized cases skip it."""
    if currently_in_test_context():
        _hypothesis_event(label)


def _check_event(payload: dict[str, Any], home: str = HOME) -> Event | None:
    try:
        result = to_event(payload, home=home, subject=SUBJECT)
    except HookInputError as exc:
        assert str(exc)
        event("HookInputError")
        return None
    event(f"Event {result.kind}")
    assert isinstance(result, Event)
    assert result.kind in EVENT_KINDS.values()
    assert os.path.isabs(result.cwd)
    assert result.home == home
    assert result.subject == SUBJECT
    if result.kind in ("pre_tool_use", "post_tool_use"):
        assert result.tool is not None
        for command in result.tool.commands:
            assert command.argv
        for access in result.tool.accesses:
            assert os.path.isabs(access.path), access
            assert access.mode in ("read", "write")
    else:
        assert result.tool is None
    return result


@FUZZ
@given(_PAYLOAD)
def test_fuzz_to_event_payload(payload: dict[str, Any]) -> None:
    _check_event(payload)


@FUZZ
@given(
    st.sampled_from(["PreToolUse", "PostToolUse"]),
    st.sampled_from(["/tmp", "/tmp/", "//tmp", "/nonexistent", "/"]),
    st.sampled_from(_TOOL_NAMES),
    _TOOL_INPUT_DICT,
)
def test_fuzz_to_event_tool_calls(event_name: str, cwd: str, tool: str, tool_input: dict[str, Any]) -> None:
    """Well-formed envelopes, so the fuzzing reaches tool_call and path resolution."""
    payload = {
        "hook_event_name": event_name,
        "session_id": "s-1",
        "cwd": cwd,
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_response": {"ok": True},
    }
    _check_event(payload)


@FUZZ
@given(st.sampled_from(["/tmp", "/nonexistent"]), _HOOK_SHELL)
def test_fuzz_to_event_bash_command(cwd: str, command: str) -> None:
    payload = {
        "hook_event_name": "PreToolUse",
        "session_id": "s-1",
        "cwd": cwd,
        "tool_name": "Bash",
        "tool_input": {"command": command},
    }
    event = _check_event(payload)
    assert event is not None
    assert event.tool is not None
    assert event.tool.commands == analyze(command).commands


@FUZZ
@given(st.text(max_size=200))
def test_fuzz_to_event_from_json_text(text: str) -> None:
    """What the hook does: parse JSON, then normalise; only mapping payloads reach to_event."""
    try:
        payload = json.loads(text)
    except ValueError:
        return
    if isinstance(payload, dict):
        _check_event(payload)


def _bash_payload(cwd: str, command: str) -> dict[str, Any]:
    return {
        "hook_event_name": "PreToolUse",
        "session_id": "s-1",
        "cwd": cwd,
        "tool_name": "Bash",
        "tool_input": {"command": command},
    }


@pytest.mark.parametrize(
    ("cwd", "command"),
    [
        ("/tmp\x00x", "cat *"),
        ("/tmp/\ud800", "cat *"),
        ("/tmp", "cat a\x00/*"),
        ("/tmp", "cat /\ud800/*"),
    ],
)
def test_to_event_nul_or_surrogate_in_glob(cwd: str, command: str) -> None:
    _check_event(_bash_payload(cwd, command))


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=10), st.text(max_size=10))
@example("/tmp\x00x", "cat *")
def test_fuzz_to_event_unrestricted_text(cwd_tail: str, command: str) -> None:
    _check_event(_bash_payload("/tmp" + cwd_tail, command))


# -- policy.load.compile_policy ------------------------------------------------------------------

DISPLAYS = ["policy.yaml", "/etc/ramparts/policy.yaml", "my policies/team policy.yaml", "<stdin>"]


def _check_compile(raw: bytes, display: str, base_dir: str = "/opt/pol") -> Policy | None:
    try:
        policy = compile_policy(raw, display, base_dir=base_dir)
    except PolicyError as exc:
        assert str(exc).startswith(display), str(exc)
        event("PolicyError")
        return None
    event("Policy")
    assert isinstance(policy, Policy)
    assert policy.source == display
    return policy


# Any bytes, tags ('!') and anchors ('&') included.
_NO_TAGS = st.binary(max_size=300)


@FUZZ
@given(_NO_TAGS, st.sampled_from(DISPLAYS))
def test_fuzz_compile_policy_bytes(raw: bytes, display: str) -> None:
    _check_compile(raw, display)


_YAML_PIECES = [
    *["version: 1\n", "version: 2\n", "version:\n", "extends: baseline\n", "extends: strict\n"],
    *["extends: none\n", "extends: nope\n", "mode: enforce\n", "mode: report\n", "mode: [x]\n"],
    *["permissions:\n", "  default: ask\n", "  default: maybe\n", "  deny:\n", "  ask:\n", "  allow:\n"],
    *["    - Bash(curl *)\n", "    - Read(.env)\n", "    - Read(~/.ssh/**)\n", "    - 'Bash(ls'\n"],
    *["    - {rule: Bash(x), id: a.b, reason: r}\n", "    - {rule: Bash(x), id: 'bad id'}\n", "    - 5\n"],
    *["    - {id: a}\n", "    - ''\n", "    - WebFetch(domain:*.example.com)\n", "    - mcp__*(x)\n"],
    *["sensitive_paths:\n", "  - .env\n", "  - ''\n", "  - 7\n", "shell:\n", "  opaque: deny\n"],
    *["hook:\n", "  timeout: 10\n", "  timeout: 1\n", "  deadline_ms: 50\n", "  deadline_ms: 4000\n"],
    *["  max_input_bytes: 1\n", "settings:\n", "  env:\n", "    A: b\n", "    1A: b\n", "    A: 1\n"],
    *["  default_mode: plan\n", "  disable_bypass_permissions: yes\n", "unknown: 1\n", "version: 1\n"],
    *["- a\n", "a: [\n", "a: {\n", "'\n", '"\n', "\t", "  ", ": ", "- ", "? ", "#c\n", "---\n", "...\n"],
    *["%YAML 1.1\n", "%FOO x\n", "*a ", "\xff", "é", "\x00", "\ufeff", "\r\n", "{", "}", "[", "]", ","],
]
_YAMLISH = st.builds(
    lambda head, parts: (head + "".join(parts)).encode("utf-8"),
    st.sampled_from(["", "version: 1\n"]),
    st.lists(
        st.one_of(st.sampled_from(_YAML_PIECES), st.text(alphabet=_CLEAN_CHARS, max_size=6)), max_size=25
    ),
)


@FUZZ
@given(_YAMLISH, st.sampled_from(DISPLAYS))
def test_fuzz_compile_policy_yamlish(raw: bytes, display: str) -> None:
    assume(b"!" not in raw and b"&" not in raw)
    _check_compile(raw, display)


_RULE_TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.builds(
        "{}({})".format,
        st.sampled_from(["Bash", "Read", "Edit", "WebFetch", "Agent", "mcp__s", "*", "X"]),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="["), max_size=20),
    ),
)
_RULE_ITEM = st.one_of(
    _RULE_TEXT,
    st.fixed_dictionaries(
        {"rule": _RULE_TEXT},
        optional={
            "id": st.from_regex(r"[A-Za-z0-9_.:\-]{0,8}", fullmatch=True),
            "reason": st.text(max_size=10),
        },
    ),
    _JSON,
)
_POLICY_DOC = st.fixed_dictionaries(
    {"version": st.one_of(st.just(1), _JSON)},
    optional={
        "extends": st.sampled_from(["baseline", "strict", "none", "other"]),
        "mode": st.sampled_from(["enforce", "report", "off"]),
        "permissions": st.fixed_dictionaries(
            {},
            optional={
                "default": st.sampled_from(["deny", "ask", "allow", "maybe"]),
                "deny": st.lists(_RULE_ITEM, max_size=4),
                "ask": st.lists(_RULE_ITEM, max_size=4),
                "allow": st.lists(_RULE_ITEM, max_size=4),
            },
        ),
        "sensitive_paths": st.lists(
            st.one_of(
                st.text(
                    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="["),
                    max_size=15,
                ),
                _JSON,
            ),
            max_size=4,
        ),
        "shell": st.fixed_dictionaries({}, optional={"opaque": st.sampled_from(["deny", "ask", "allow"])}),
        "hook": st.fixed_dictionaries(
            {},
            optional={
                "timeout": st.integers(-5, 700),
                "deadline_ms": st.integers(0, 700_000),
                "max_input_bytes": st.integers(0, 1 << 29),
            },
        ),
        "settings": st.fixed_dictionaries(
            {},
            optional={
                "disable_bypass_permissions": _JSON,
                "default_mode": st.sampled_from(["default", "plan", "bypassPermissions"]),
                "env": st.dictionaries(st.sampled_from(["A", "B_1", "1X", ""]), _JSON, max_size=3),
            },
        ),
    },
)


@FUZZ
@given(_POLICY_DOC, st.sampled_from(DISPLAYS), st.sampled_from(["", "/opt/pol", "/"]))
def test_fuzz_compile_policy_structured(doc: dict[str, Any], display: str, base_dir: str) -> None:
    raw = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass")
    policy = _check_compile(raw, display, base_dir)
    if policy is not None:
        for rule in (*policy.deny, *policy.ask, *policy.allow):
            assert rule.raw and rule.tool


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000,  # RecursionError in the YAML composer
        b"version: 1\nx: &a [*a]\n",  # recursive alias: RecursionError in build()
        b"version: !!int abc\n",  # ValueError
        b"version: !!float abc\n",  # ValueError
        b"version: !!bool abc\n",  # KeyError
        b"version: !!timestamp abc\n",  # AttributeError
        b"!!int abc: 1\n",  # tagged key: ValueError (keys skip the tag check)
        b"? !!binary xx\n: 1\n",  # tagged key: yaml ConstructorError escapes
    ],
)
def test_compile_policy_escaping_exceptions(raw: bytes) -> None:
    _check_compile(raw, "policy.yaml")


def test_compile_policy_takes_an_invalid_glob_class_literally() -> None:
    """Read(x[z-a]): the reversed range is not a class, so the pattern means the literal name."""
    raw = b"version: 1\npermissions:\n  deny:\n    - Read(x[z-a])\n"
    rule = compile_policy(raw, "policy.yaml").deny[0]
    assert path_matches(rule, "/proj/x[z-a]", "/proj", "/home/u")
    assert not path_matches(rule, "/proj/xb", "/proj", "/home/u")


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["!!int", "!!float", "!!bool", "!!timestamp"]),
    st.from_regex(r"[a-z]{1,5}", fullmatch=True),
)
@example("!!bool", "abc")
def test_fuzz_compile_policy_tagged_scalars(tag: str, value: str) -> None:
    _check_compile(f"version: {tag} {value}\n".encode(), "policy.yaml")


# -- the hook's stdin ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("hookfuzz")
    policy = root / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    return str(policy), str(root / "state")


_HOOKISH = st.one_of(
    st.binary(max_size=400),
    st.builds(
        lambda event, tool, extra: json.dumps(
            {"session_id": "s", "cwd": "/tmp", "hook_event_name": event, "tool_name": tool, **extra}
        ).encode(),
        st.sampled_from(["PreToolUse", "PostToolUse", "UserPromptSubmit", "SessionStart", "Stop", ""]),
        st.sampled_from(["Bash", "Read", "Write", "mcp__x__y", ""]),
        st.dictionaries(
            st.sampled_from(["tool_input", "prompt", "tool_response", "cwd", "session_id"]),
            st.one_of(
                st.none(), st.integers(), _CLEAN_TEXT, st.dictionaries(_CLEAN_TEXT, _CLEAN_TEXT, max_size=3)
            ),
            max_size=3,
        ),
    ),
)


@FUZZ
@given(_HOOKISH)
def test_fuzz_hook_stdin_answers_with_a_decision_or_a_deny(hook_env: tuple[str, str], data: bytes) -> None:
    """Whatever arrives on stdin, the hook exits 0 with JSON or 2 with a deny/block: never 1, never silent."""
    import io

    from ramparts.agents.claude_code.hook import Hook

    policy, state = hook_env
    out, err = io.StringIO(), io.StringIO()
    code = Hook(policy=policy, state=state, stdin=io.BytesIO(data), stdout=out, stderr=err).run()
    assert code in (0, 2)
    answer = json.loads(out.getvalue())
    if code == 2:
        blocked = answer.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"
        assert blocked or answer.get("decision") == "block" or answer.get("continue") is False
        assert "Ramparts blocked this" in err.getvalue()


_GIT_CONFIG_LINES = st.lists(
    st.one_of(
        st.sampled_from(["[core]", '[diff "x"]', "[filter.lfs]", "[include]", "[", '[a "b\\"c"]', "# c", ""]),
        st.builds(
            lambda k, v: f"{k} = {v}",
            st.sampled_from(["fsmonitor", "textconv", "clean", "path", "url", "x-y", "1bad"]),
            _CLEAN_TEXT,
        ),
        _CLEAN_TEXT,
    ),
    max_size=20,
)


@FUZZ
@given(_GIT_CONFIG_LINES, st.binary(max_size=200))
def test_fuzz_git_config_parser(lines: list[str], raw: bytes) -> None:
    """A repository's git configuration is the repository's (untrusted): any text is read into a list
    of settings, never an exception; a line it cannot read is itself reported."""
    from ramparts.agents.claude_code.repo_config import program_keys

    for text in ("\n".join(lines), raw.decode("utf-8", "replace")):
        found = program_keys(text)
        assert all(isinstance(key, str) and isinstance(value, str) for key, value in found)
