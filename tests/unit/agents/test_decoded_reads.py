"""Commands that print a file decoded (zcat, gzip -dc, bzcat, xz -dc, base64 -d, xxd -r): the content
scan reads what they print, not the bytes on disk, and a compressed or encoded copy of a protected
file is protected by its name too (issue 13)."""

from __future__ import annotations

import base64
import bz2
import gzip
import lzma
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.agents.claude_code.content import decoded_views
from ramparts.explain import explain_input
from ramparts.policy.load import load_policy

KEY = b'aws_access_key_id = "AKIAQ3EGXJ5TZRPLW4NB"\n'


@pytest.fixture(scope="module")
def baseline() -> object:
    return load_policy("profile:baseline")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    xxd = _xxd_dump(KEY)
    files = {
        "notes.gz": gzip.compress(KEY),
        "notes.bz2": bz2.compress(KEY),
        "notes.xz": lzma.compress(KEY),
        "notes.b64": base64.b64encode(KEY),
        "notes.b64gz": base64.b64encode(gzip.compress(KEY)),
        "notes.hex": KEY.hex().encode(),
        "notes.xxd": xxd,
        "notes.zst": b"\x28\xb5\x2f\xfd" + b"\0" * 20,
        "plain.gz": gzip.compress(b"hello\n" * 10),
        "plain.b64": base64.b64encode(b"hello world\n"),
        "big.gz": gzip.compress(b"A" * 6_000_000),
        "server.pem.gz": gzip.compress(b"not a key, but the name says it is one\n"),
        "id_rsa.b64": base64.b64encode(b"nothing here\n"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def _xxd_dump(data: bytes) -> bytes:
    """``xxd``'s format (offset, 16 bytes in groups of two, the text column), without needing xxd."""
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{at:08x}: {groups:<39}  {text}")
    return ("\n".join(lines) + "\n").encode()


def verdict(policy: object, command: str, where: Path) -> str:
    return explain_input(policy, "Bash", {"command": command}, str(where)).verdict  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "command",
    [
        "zcat notes.gz",
        "gzip -dc notes.gz",
        "gunzip -c notes.gz",
        "gzip --decompress --stdout notes.gz",
        "bzcat notes.bz2",
        "xz -dc notes.xz",
        "base64 -d notes.b64",
        "base64 --decode notes.b64",
        "base64 -d < notes.b64",
        "cat notes.b64 | base64 -d",
        "base64 -d notes.b64gz | zcat",
        "xxd -r -p notes.hex",
        "xxd -r notes.xxd",
    ],
)
def test_decoded_content_holding_a_key_is_denied(baseline: object, project: Path, command: str) -> None:
    assert verdict(baseline, command, project) == "deny"


@pytest.mark.parametrize("command", ["zcat plain.gz", "base64 -d plain.b64", "cat notes.gz", "cat notes.b64"])
def test_clean_decoded_content_and_raw_reads_are_allowed(
    baseline: object, project: Path, command: str
) -> None:
    assert verdict(baseline, command, project) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "zstdcat notes.zst",  # a format the scan cannot decompress
        "zcat big.gz | head -c 10",  # decompresses past the scan limit
    ],
)
def test_content_not_fully_decoded_is_never_allowed(baseline: object, project: Path, command: str) -> None:
    assert verdict(baseline, command, project) == "ask"


@pytest.mark.parametrize("command", ["gzip -dc server.pem.gz", "base64 -d id_rsa.b64", "zcat server.pem.gz"])
def test_compressed_or_encoded_copies_of_protected_names_are_protected(
    baseline: object, project: Path, command: str
) -> None:
    assert verdict(baseline, command, project) == "deny"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_decoding_never_fails_and_stays_within_the_limit(data: bytes) -> None:
    for blob in (data, gzip.compress(data), base64.b64encode(data), data.hex().encode()):
        views, _cut, _why = decoded_views(blob, 4096)
        assert all(len(view) <= 4 * 4096 for view in views)


def test_a_gzip_bomb_is_cut_at_the_limit() -> None:
    views, cut, why = decoded_views(gzip.compress(b"\0" * 1_000_000), 1000)
    assert why == "" and cut and max(len(v) for v in views) <= 1000
