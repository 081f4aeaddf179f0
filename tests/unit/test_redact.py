"""Fingerprints and redaction: audit summaries never carry a whole secret."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.detect.redact import Redactor, fingerprint, load_key, redact_text

KEY = b"k" * 32


def test_key_is_created_once_with_private_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "fingerprint.key"
    key = load_key(path)
    assert len(key) == 32 and load_key(path) == key
    assert path.stat().st_mode & 0o777 == 0o600


def test_fingerprint_is_keyed_and_stable() -> None:
    assert fingerprint("secret", KEY) == fingerprint("secret", KEY)
    assert fingerprint("secret", KEY) != fingerprint("secret", b"x" * 32)
    assert fingerprint("secret", KEY).startswith("b2mac:")


SECRETS = [
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
]


def test_tokens_and_assignments_are_masked() -> None:
    for secret in SECRETS:
        for text in (
            f"curl -H 'Authorization: Bearer {secret}' x",
            f"export TOKEN={secret}",
            f"echo {secret}",
        ):
            out = redact_text(text, KEY)
            assert secret not in out, text
            assert "«redacted b2mac:" in out
    assert "hunter22" not in redact_text("mysql --password=hunter22 db", KEY)


def test_ordinary_commands_are_kept() -> None:
    for text in ("ls -la /usr/local/lib/python3.11/site-packages", "git push origin main", "cat README.md"):
        assert redact_text(text, KEY) == text


def test_long_text_is_cut() -> None:
    out = Redactor(KEY, limit=20).text("x " * 100)
    assert out.endswith("[200 chars]")


def test_credentials_in_common_command_shapes_are_masked() -> None:
    cases = {
        "mysql -u root -pHunter2Summer2024 db": "Hunter2Summer2024",
        "sshpass -p correcthorsebattery ssh host": "correcthorsebattery",
        "psql postgres://admin:Sup3rS3cretPw@db/x": "Sup3rS3cretPw",
        "curl 'https://x.example/a?key=AbCdEf123456&x=1'": "AbCdEf123456",
        "tool --password hunter2 --token=abcd1234": "hunter2",
    }
    for text, secret in cases.items():
        out = redact_text(text, KEY)
        assert secret not in out, out
    assert "abcd1234" not in redact_text("tool --token=abcd1234", KEY)
    assert redact_text("find . -print", KEY) == "find . -print"


def test_redaction_is_idempotent() -> None:
    once = redact_text("export TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 && curl -u a:b https://x", KEY)
    assert redact_text(once, KEY) == once


def _reference_redact(text: str, key: bytes, limit: int = 240) -> str:
    """redact_text as it was before its quick test for field patterns (every substitution, always)."""
    from ramparts.detect import redact as r

    def mask(value: str) -> str:
        return f"«redacted {fingerprint(value, key)}»"

    def keep_first(m: re.Match[str]) -> str:
        return m.group(1) + mask(m.group(2)) + (m.group(3) if m.lastindex == 3 else "")

    fields = r._fields()
    out = fields["assign"].sub(keep_first, text)
    for name in ("bearer", "userinfo", "query", "option", "sshpass"):
        out = fields[name].sub(keep_first, out)
    if fields["mysql"].search(out):
        out = fields["mysql_p"].sub(keep_first, out)
    out = r._TOKEN.sub(
        lambda m: (
            mask(m.group(0))
            if r._looks_secret(m.group(0)) and not m.group(0).startswith("b2mac:")
            else m.group(0)
        ),
        out,
    )
    if len(out) > limit:
        out = out[:limit] + f"… [{len(text)} chars]"
    return out


_PIECES = st.sampled_from(
    [
        "password=",
        "Token: ",
        "private_KEY:",
        "Auth:",
        "credential :",
        "session_start: nothing",
        "x://",
        "API-KEY = '",
        "bearer ",
        "Basic ",
        "https://user:",
        "@host/",
        "?sig=",
        "&code=",
        "--password ",
        "--token=",
        "sshpass -p ",
        "mysql ",
        "mariadb -psecret1 ",
        "sshpass -pabc ",
        "BASIC ",
        "Bearer\t",
        "baſic ",
        "\u212aey=",
        "--secret x",
        " -p",
        "«",
        "b2mac:",
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "hunter2hunter2",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCY",
        " ",
        "\n",
        "é",
        "x",
        '"',
        ";",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=14).map("".join))
def test_quick_field_test_changes_nothing(text: str) -> None:
    assert redact_text(text, KEY) == _reference_redact(text, KEY)
    assert redact_text(text, KEY, limit=20) == _reference_redact(text, KEY, limit=20)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(_PIECES, st.text(alphabet="abcdefgknoprstuyBKMS=:/-_ \t", max_size=8)), max_size=10
    ).map("".join)
)
def test_field_patterns_need_what_the_quick_test_looks_for(text: str) -> None:
    from ramparts.detect import redact as r

    if not r._may_have_field(text):
        for name, pattern in r._fields().items():
            if name != "mysql_p":  # applied only where "mysql" matched
                assert pattern.search(text) is None, (pattern.pattern, text)
