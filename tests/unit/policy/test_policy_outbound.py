"""The policy's ``dlp.outbound`` section: merged across profiles, checked with line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.errors import PolicyError
from ramparts.policy.load import compile_policy, load_policy
from ramparts.policy.types import (
    DlpSettings,
    OutboundException,
    OutboundSettings,
    Policy,
    policy_from_json,
    policy_to_json,
)


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        compile_policy(text.encode(), "p.yaml")
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "version: 1\ndlp:\n  outbound:\n    pii: {pii-emial: ask}\n",
            4,
            "'pii-emial' is not a personal-data",
        ),
        ("version: 1\ndlp:\n  outbound:\n    pii: {pii-email: maybe}\n", 4, "dlp.outbound.pii"),
        ("version: 1\ndlp:\n  outbound:\n    pii: {aws-access-key-id: allow}\n", 4, "dlp.outbound.pii"),
        ("version: 1\ndlp:\n  outbound:\n    secrets: allow\n", 4, "unknown key 'dlp.outbound.secrets'"),
        ("version: 1\ndlp:\n  outbound:\n    possible_secrets: ask\n", 4, "dlp.outbound.possible_secrets"),
        ("version: 1\ndlp:\n  outbound:\n    local_mcp: ['a b']\n", 4, "dlp.outbound.local_mcp"),
        ("version: 1\ndlp:\n  outbound:\n    sync_paths:\n      - ok/**\n      - ''\n", 6, "sync_paths"),
        (
            "version: 1\ndlp:\n  outbound:\n    exceptions:\n      - {fingerprint: 'AKIA1234', reason: x}\n",
            5,
            "fingerprint",
        ),
        (
            "version: 1\ndlp:\n  outbound:\n    exceptions:\n      - {fingerprint: 'b2mac:0123456789abcdef'}\n",
            5,
            "reason",
        ),
    ],
)
def test_outbound_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    error = error_of(text)
    assert error.line == line, str(error)
    assert fragment in str(error)


def test_a_custom_entity_may_be_listed_once_it_is_defined() -> None:
    text = """version: 1
detect:
  pii:
    custom:
      - {name: employee-id, pattern: 'EMP-[0-9]{6}'}
dlp:
  outbound:
    pii: {pii-custom-employee-id: deny}
"""
    policy = compile_policy(text.encode(), "p.yaml")
    assert policy.dlp.outbound.pii_action("pii-custom-employee-id") == "deny"
    assert policy.dlp.outbound.pii_action("pii-email") == "allow"
    undefined = error_of("version: 1\ndlp:\n  outbound:\n    pii: {pii-custom-employee-id: deny}\n")
    assert undefined.line == 4 and "'pii-custom-employee-id' is not a personal-data detector" in str(
        undefined
    )


def test_layers_merge_and_the_profiles_keep_secrets_and_government_ids_in(tmp_path: Path) -> None:
    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(
        """version: 1
extends: strict
dlp:
  outbound:
    pii: {pii-email: ask, pii-iban: allow}
    local_mcp: [notes]
    sync_paths: ['~/Dropbox/**']
    exceptions:
      - {fingerprint: 'b2mac:0123456789abcdef', reason: the published example key}
"""
    )
    policy = load_policy(str(policy_file))
    outbound = policy.dlp.outbound
    assert dict(outbound.pii) == {
        "pii-us-ssn": "deny",
        "pii-payment-card": "deny",
        "pii-iban": "allow",  # the file's own word wins over the profile's
        "pii-email": "ask",
    }
    assert outbound.possible_secrets == "deny"  # strict
    assert outbound.local_mcp == ("notes",) and outbound.sync_paths == ("~/Dropbox/**",)
    assert outbound.exceptions == (OutboundException("b2mac:0123456789abcdef", "the published example key"),)
    assert load_policy("profile:baseline").dlp.outbound.possible_secrets == "warn"
    # the hook's compiled cache carries the section
    assert policy_from_json(policy_to_json(policy)) == policy
    cache = tmp_path / "cache"
    load_policy(str(policy_file), cache_dir=cache)
    assert load_policy(str(policy_file), cache_dir=cache).dlp.outbound == outbound


def test_a_cache_written_before_the_section_existed_is_refused_not_misread() -> None:
    # the cache is positional arrays read by the declared types: a form with a field fewer (written
    # by an older layout) is refused, so load_policy compiles the policy afresh instead of misreading
    data = policy_to_json(compile_policy(b"version: 1\n", "p.yaml"))
    dlp = data[Policy._fields.index("dlp")]
    del dlp[DlpSettings._fields.index("outbound")]
    with pytest.raises(ValueError, match="DlpSettings"):
        policy_from_json(data)
    assert compile_policy(b"version: 1\n", "p.yaml").dlp.outbound == OutboundSettings()
