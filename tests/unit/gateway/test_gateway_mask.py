"""Outbound masking of Messages request bodies: every text-bearing block, nothing signed, cache-stable."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.gateway.mask import (
    BASELINE_RULES,
    MaskBlocked,
    Masker,
    MaskPolicy,
    ShapeRefused,
    detector_scanner,
    walk_request,
)
from ramparts.gateway.vault import PLACEHOLDER, MemoryVault
from ramparts.model import Finding
from ramparts.testing.pdf import make_pdf

KEY = b"m" * 32
EMAIL = "jane.roe@acme-corp.io"
AWS = "AKIAIOSFODNN7EXAMPLX"
SSN = "536-22-8842"
_RULES = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "pii-email", "pii"),
    (re.compile(r"AKIA[0-9A-Z]{16}"), "aws-access-key-id", "secret"),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "pii-us-ssn", "pii"),
)


def fake_scan(text: str) -> Sequence[Finding]:
    out = []
    for pattern, detector, category in _RULES:
        for m in pattern.finditer(text):
            out.append(Finding(detector, category, "high", 0.9, m.start(), m.end(), 1, "b2mac:0", "…"))
    return out


def masker(rules: dict[str, str] | None = None, vault: MemoryVault | None = None) -> Masker:
    policy = MaskPolicy.from_mapping(rules) if rules is not None else MaskPolicy()
    return Masker(policy, fake_scan, vault or MemoryVault(KEY))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def no_values(body: Any) -> None:
    text = dumps(body)
    for value in (EMAIL, AWS, SSN):
        assert value not in text


def test_system_string_and_blocks() -> None:
    m = masker()
    out = m.mask_request({"system": f"mail {EMAIL}", "messages": []}, "s").body
    assert PLACEHOLDER.search(out["system"]) and EMAIL not in out["system"]
    body = {
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2"},
            {"type": "text", "text": f"key {AWS}", "cache_control": {"type": "ephemeral"}},
        ],
        "messages": [],
    }
    out = m.mask_request(body, "s").body
    assert out["system"][0] is body["system"][0]
    assert out["system"][1]["cache_control"] == {"type": "ephemeral"}
    assert list(out["system"][1]) == ["type", "text", "cache_control"]  # key order kept
    no_values(out)


def test_message_strings_text_blocks_and_tool_use_input() -> None:
    body = {
        "model": "claude-x",
        "messages": [
            {"role": "user", "content": f"my email is {EMAIL}"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": f"writing {EMAIL}"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Write",
                        "input": {
                            "file_path": "/tmp/a",
                            "content": f"AWS_KEY={AWS}\nSSN={SSN}",
                            "nested": [{"k": EMAIL}, 3, True, None, 1.5],
                            EMAIL: "keys are not masked",
                        },
                    },
                ],
            },
        ],
    }
    original = copy.deepcopy(body)
    result = masker().mask_request(body, "s")
    assert body == original  # the input is never modified in place
    out = result.body
    tool = out["messages"][1]["content"][1]
    assert tool["input"]["nested"][1:] == [3, True, None, 1.5]
    assert EMAIL in tool["input"]  # a dict key stays
    assert tool["input"]["file_path"] is body["messages"][1]["content"][1]["input"]["file_path"]
    assert {f.detector for f in result.findings} == {"pii-email", "aws-access-key-id", "pii-us-ssn"}
    assert result.changed
    del tool["input"][EMAIL]
    no_values(out)


def test_tool_result_string_and_nested_blocks() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": f"cat: {AWS}"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t2",
                        "is_error": False,
                        "content": [{"type": "text", "text": f"ssn {SSN}"}, image],
                    },
                    {
                        "type": "mcp_tool_result",
                        "tool_use_id": "t3",
                        "content": [{"type": "text", "text": EMAIL}],
                    },
                ],
            }
        ]
    }
    out = masker().mask_request(body, "s").body
    no_values(out)
    assert out["messages"][0]["content"][1]["content"][1] is image


def test_documents_and_search_results() -> None:
    clean = base64.b64encode(make_pdf(["nothing to see"])).decode()
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": clean}}
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": f"contact {EMAIL}"},
                        "title": f"notes of {EMAIL}",
                        "context": f"ssn {SSN}",
                        "citations": {"enabled": True},
                    },
                    {
                        "type": "document",
                        "source": {"type": "content", "content": [{"type": "text", "text": AWS}]},
                    },
                    pdf,
                    {
                        "type": "search_result",
                        "source": f"https://x.example/?u={EMAIL}",
                        "title": "t",
                        "content": [{"type": "text", "text": f"{SSN}"}],
                    },
                    {
                        "type": "text",
                        "text": "see",
                        "citations": [{"type": "char_location", "cited_text": EMAIL, "document_index": 0}],
                    },
                ],
            }
        ]
    }
    out = masker().mask_request(body, "s").body
    no_values(out)
    assert out["messages"][0]["content"][2] is pdf


def test_thinking_and_encrypted_values_untouched_signed_text_masked_unknown_refused() -> None:
    thinking = {"type": "thinking", "thinking": f"the user {EMAIL} has key {AWS}", "signature": "Ep0B…"}
    redacted = {"type": "redacted_thinking", "data": f"opaque {EMAIL}"}
    signed = {"type": "text", "text": f"signed {EMAIL}", "signature": "sig"}
    server = {
        "type": "web_search_tool_result",
        "tool_use_id": "s",
        "content": [{"type": "web_search_result", "encrypted_content": EMAIL, "title": "t", "url": "u"}],
    }
    blocks = [thinking, redacted, server, signed, {"type": "text", "text": f"hi {EMAIL}"}]
    body = {"messages": [{"role": "assistant", "content": blocks}]}
    before = dumps(body)
    out = masker().mask_request(body, "s").body
    assert dumps(body) == before
    for i, block in enumerate(blocks[:3]):
        assert out["messages"][0]["content"][i] is block
    # a "signature" key does not exempt a text block (it would be a way around the masking)
    assert EMAIL not in out["messages"][0]["content"][3]["text"]
    assert EMAIL not in out["messages"][0]["content"][4]["text"]
    unknown = {"type": "future_block", "text": f"{EMAIL}"}
    with pytest.raises(ShapeRefused, match="future_block"):
        masker().mask_request({"messages": [{"role": "user", "content": [unknown]}]}, "s")


def test_unchanged_body_is_the_same_object() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}], "stream": True}
    result = masker().mask_request(body, "s")
    assert result.body is body and not result.changed and result.findings == ()
    assert masker().mask_request([1, 2], "s").body == [1, 2]


def test_redact_and_block_and_rule_specificity() -> None:
    m = masker({"pii": "redact", "pii-email": "mask", "aws-*": "block", "secret": "mask"})
    out = m.mask_request({"messages": [{"role": "user", "content": f"{SSN} {EMAIL}"}]}, "s").body
    text = out["messages"][0]["content"]
    assert text.startswith("[REDACTED:US_SSN] [[RAMPARTS:EMAIL:")
    with pytest.raises(MaskBlocked) as err:
        m.mask_request({"messages": [{"role": "user", "content": [{"type": "text", "text": AWS}]}]}, "s")
    assert (err.value.rule, err.value.detector, err.value.where) == (
        "aws-*",
        "aws-access-key-id",
        "messages[0].content[0].text",
    )
    body = err.value.error_body()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "aws-*" in body["error"]["message"] and AWS not in body["error"]["message"]
    unmasked = masker({"pii-email": "mask"}).mask_request(
        {"messages": [{"role": "user", "content": SSN}]}, "s"
    )
    assert unmasked.body["messages"][0]["content"] == SSN  # no rule for it


def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        MaskPolicy.from_mapping({"pii": "encrypt"})
    with pytest.raises(ValueError):
        MaskPolicy.from_mapping({"*": "mask"})
    assert MaskPolicy().rules == BASELINE_RULES


def test_min_confidence_skips_weak_findings() -> None:
    m = Masker(MaskPolicy(BASELINE_RULES, min_confidence=0.95), fake_scan, MemoryVault(KEY))
    assert m.mask_request({"messages": [{"role": "user", "content": EMAIL}]}, "s").changed is False


def test_known_value_masked_where_the_detector_misses_it() -> None:
    vault = MemoryVault(KEY)
    placeholder = vault.placeholder_for("s", "pii-phone", "+1 415 555 2671")
    body = {"messages": [{"role": "assistant", "content": "I will call +1 415 555 2671 later"}]}
    out = masker(vault=vault).mask_request(body, "s").body
    assert out["messages"][0]["content"] == f"I will call {placeholder} later"
    other = masker(vault=vault).mask_request(body, "other-session").body
    assert other is body  # another session's values are not this one's


def test_value_found_later_in_the_body_is_masked_earlier_too() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "token is XYZ-secret-123"},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "k XYZ-secret-123"}],
            },
        ]
    }

    def scan(text: str) -> Sequence[Finding]:
        i = text.find("XYZ-secret-123")
        if text.startswith("k ") and i >= 0:  # only in the tool result's context
            return [Finding("generic-token", "secret", "high", 0.9, i, i + 14, 1, "b2mac:0", "…")]
        return []

    out = Masker(MaskPolicy(), scan, MemoryVault(KEY)).mask_request(body, "s").body
    assert "XYZ-secret-123" not in dumps(out)


def test_text_inside_an_existing_placeholder_is_never_masked() -> None:
    placeholder = "[[RAMPARTS:EMAIL:12345678]]"

    def digits(text: str) -> Sequence[Finding]:
        return [
            Finding("pii-phone", "pii", "high", 0.9, m.start(), m.end(), 1, "b2mac:0", "…")
            for m in re.finditer(r"\d{8}", text)
        ]

    body = {"messages": [{"role": "user", "content": f"{placeholder} and 87654321"}]}
    out = Masker(MaskPolicy(), digits, MemoryVault(KEY)).mask_request(body, "s").body
    text = out["messages"][0]["content"]
    assert text.startswith(placeholder + " and [[RAMPARTS:PHONE:")


def test_prompt_cache_prefix_is_byte_identical_over_five_turns() -> None:
    """Each turn resends the whole conversation with real values (the gateway restored them on the way
    back); masking it again must give the same bytes for every earlier turn."""
    vault = MemoryVault(KEY)
    m = masker(vault=vault)
    secrets = [EMAIL, AWS, SSN, "bob@example.org", "AKIAZZZZZZZZZZZZZZZZ"]
    system = [{"type": "text", "text": "You are Claude Code."}, {"type": "text", "text": f"user: {EMAIL}"}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "read the config"}]
    previous: list[str] = []
    for turn, secret in enumerate(secrets):
        body = {
            "model": "claude-x",
            "system": system,
            "messages": messages,
            "max_tokens": 1000,
            "stream": True,
        }
        masked = m.mask_request(copy.deepcopy(body), "sess").body
        no_values(masked)
        assert "bob@example.org" not in dumps(masked) and "AKIAZZZZ" not in dumps(masked)
        serialised = [dumps(masked["system"])] + [dumps(msg) for msg in masked["messages"]]
        assert serialised[: len(previous)] == previous, f"turn {turn} changed an earlier turn"
        whole = dumps(masked)
        if previous:
            prefix = dumps({"model": "claude-x", "system": masked["system"], "messages": []})[:-2]
            assert whole.startswith(prefix)
        previous = serialised
        # the model answers with a tool call that repeats a placeholder; the client keeps the restored form
        messages = [
            *messages,
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "…", "signature": f"sig{turn}"},
                    {"type": "text", "text": f"Found {secret}."},
                    {
                        "type": "tool_use",
                        "id": f"t{turn}",
                        "name": "Bash",
                        "input": {"command": f"echo {secret}"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"t{turn}", "content": f"{secret}\n"}],
            },
        ]


def test_real_detectors_mask_email_phone_and_aws_key(shared_detector_cache: Any) -> None:
    from ramparts.detect.scanner import Detectors

    detectors = Detectors(("secret", "pii"), cache_dir=str(shared_detector_cache))
    vault = MemoryVault(KEY)
    m = Masker(MaskPolicy(), detector_scanner(detectors, KEY), vault)
    content = f"name: Jane\nemail: {EMAIL}\nphone: +1 415 555 2671\naws_access_key_id = {AWS}\n"
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": content}]}
        ]
    }
    result = m.mask_request(body, "s")
    text = result.body["messages"][0]["content"][0]["content"]
    for value in (EMAIL, "+1 415 555 2671", AWS):
        assert value not in text
    restored = PLACEHOLDER.sub(lambda p: vault.value_for("s", p.group(0)) or "?", text)
    assert restored == content
    assert all(f.fingerprint.startswith("b2mac:") for f in result.findings)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    _json, st.lists(st.dictionaries(st.sampled_from(["type", "text", "content", "input", "source"]), _json))
)
def test_identity_walk_returns_the_same_objects(system: Any, blocks: list[Any]) -> None:
    body = {"system": system, "messages": [{"role": "user", "content": blocks}, "junk", {"role": "x"}]}
    try:
        assert walk_request(body, lambda text, where: text) is body
    except ShapeRefused as refused:  # an unknown block type: named, never passed on
        assert refused.where.startswith(("system", "messages["))
        return
    seen: list[str] = []
    walk_request(body, lambda text, where: seen.append(where) or text)
    assert all(w.startswith(("system", "messages[")) for w in seen)
