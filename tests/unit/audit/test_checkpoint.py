"""C2SP signed notes and tlog-checkpoints: format, strict parsing, signature rules, key files."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ramparts.audit.checkpoint import (
    DASH,
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    _b64decode,
    _b64encode,
    key_hash,
    open_checkpoint,
    open_note,
    sign_note,
    valid_name,
    valid_size,
)
from ramparts.audit.keys import load_or_create_signer, load_signer
from ramparts.errors import StoreError

SEED = bytes(range(32))
ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def signer() -> Signer:
    return Signer("example.com/log", SEED)


def _note(signer: Signer, size: int = 5, *ext: str) -> str:
    return sign_note(Checkpoint("example.com/log", size, ROOT, ext).body(), signer)


def test_format_matches_the_spec(signer: Signer) -> None:
    note = _note(signer)
    body, sig_line = note.split("\n\n")
    assert body + "\n" == f"example.com/log\n5\n{base64.b64encode(ROOT).decode()}\n"
    assert sig_line.startswith(f"{DASH} example.com/log ") and sig_line.endswith("\n")
    raw = base64.b64decode(sig_line.split(" ")[2])
    pub = signer.verifier.public_key
    assert (
        raw[:4]
        == hashlib.sha256(b"example.com/log\n\x01" + pub).digest()[:4]
        == key_hash("example.com/log", pub)
    )
    assert len(raw) == 4 + 64
    vkey = str(signer.verifier)
    name, h, b64 = vkey.split("+", 2)
    assert (name, h) == ("example.com/log", raw[:4].hex())
    assert base64.b64decode(b64) == b"\x01" + pub
    assert Verifier.parse(vkey) == signer.verifier
    assert Signer.parse(signer.key_string()).verifier == signer.verifier


def test_open_roundtrip_and_extensions(signer: Signer) -> None:
    cp, opened = open_checkpoint(_note(signer, 7, "timestamp 123"), [signer.verifier])
    assert cp == Checkpoint("example.com/log", 7, ROOT, ("timestamp 123",))
    assert opened.verified_by == (signer.verifier,) and opened.unknown == 0


def test_unknown_keys_are_ignored_but_one_known_is_required(signer: Signer) -> None:
    other = Signer("other.example/witness", bytes(32))
    note = _note(signer)
    cosigned = note + sign_note(note.split("\n\n")[0] + "\n", other).split("\n\n")[1]
    opened = open_note(cosigned, [signer.verifier])
    assert opened.unknown == 1
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [other.verifier])  # unknown key only


def test_wrong_key_and_bad_signature(signer: Signer) -> None:
    impostor = Signer("example.com/log", bytes(32))  # same name, different key: a different key hash
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(_note(impostor), [signer.verifier])
    note = _note(signer)
    body, sig = note.split("\n\n")
    raw = bytearray(base64.b64decode(sig.split(" ")[2]))
    raw[10] ^= 1
    forged = f"{body}\n\n{DASH} example.com/log {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError, match=r"line 5: signature by example\.com/log does not verify"):
        open_note(forged, [signer.verifier])
    raw[:4] = b"\0\0\0\0"  # bad key id: unknown, so no known signature
    forged = f"{body}\n\n{DASH} example.com/log {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(forged, [signer.verifier])


def test_an_added_extension_line_breaks_the_signature(signer: Signer) -> None:
    body, sig = _note(signer).split("\n\n")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(f"{body}\nextra\n\n{sig}", [signer.verifier])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("o\n05\n{root}\n", "line 2: tree size '05'"),
        ("o\n-1\n{root}\n", "line 2"),
        ("o\n5\nnot base64!\n", "line 3: root hash is not base64"),
        ("o\n5\nAAAA\n", "line 3: root hash has 3 bytes"),
        ("\n5\n{root}\n", "line 1: empty origin"),
        ("o\n5\n", "need origin, size and root"),
        ("o\n5\n{root}\n\n", "line 4: empty extension"),
    ],
)
def test_malformed_checkpoints_name_the_line(signer: Signer, body: str, message: str) -> None:
    body = body.format(root=base64.b64encode(ROOT).decode())
    if body.endswith("\n\n"):
        with pytest.raises(NoteError, match=message):
            Checkpoint.parse(body)
        return
    with pytest.raises(NoteError, match=message):
        open_checkpoint(sign_note(body, signer), [signer.verifier])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n[:-1], "does not end with a newline"),
        (lambda n: n.replace(DASH, "-"), "line 5: a signature line starts with"),
        (
            lambda n: n.replace("example.com/log\n5", "example.com/log\x1b[2J\n5"),
            "line 1: control character U\\+001B",
        ),
        (lambda n: n.rstrip("\n") + " x\n", "line 5: expected"),
        (lambda n: n.rsplit(" ", 1)[0] + " !!!\n", "line 5: signature is not base64"),
        (lambda n: n.rsplit(" ", 1)[0] + " AAAA\n", "line 5: signature too short"),
    ],
)
def test_malformed_notes_name_the_line(signer: Signer, mutate: object, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        open_note(mutate(_note(signer)), [signer.verifier])  # type: ignore[operator]


def test_non_utf8_and_too_many_signatures(signer: Signer) -> None:
    with pytest.raises(NoteError, match="not UTF-8 at byte 3"):
        open_note(b"abc\xff\n\n", [signer.verifier])
    note = _note(signer)
    body, sig = note.split("\n\n")
    with pytest.raises(NoteError, match="more than 100"):
        open_note(body + "\n\n" + sig * 101, [signer.verifier])


@pytest.mark.parametrize(
    "text",
    [
        "a+b",
        "name+zz+AQ==",
        "name+00000000+AQ==",
        "na me+00000000+" + base64.b64encode(b"\x01" + bytes(32)).decode(),
    ],
)
def test_bad_verifier_strings(text: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(text)


def test_verifier_hash_must_match() -> None:
    good = str(Signer("k", SEED).verifier)
    name, _, key = good.split("+", 2)
    with pytest.raises(NoteError, match="does not match"):
        Verifier.parse(f"{name}+00000000+{key}")


def test_key_file_is_created_once_0600_and_reused(tmp_path: Path) -> None:
    path = str(tmp_path / "keys" / "audit-ed25519.key")
    first = load_or_create_signer(path, "ramparts/test")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "keys").st_mode) == 0o700
    again = load_or_create_signer(path, "another-name")
    assert again.verifier == first.verifier and again.name == "ramparts/test"
    assert Path(path).read_text().startswith("PRIVATE+KEY+ramparts/test+")
    Path(path).write_text("garbage")
    with pytest.raises(StoreError, match="malformed"):
        load_signer(path)
    with pytest.raises(StoreError, match="cannot read"):
        load_signer(str(tmp_path / "missing"))


# The checks were regular expressions and base64's functions; the hook signs checkpoints without loading re
# or base64 now, and these hold the replacements to the same answers.
_NAME_CHARS = st.characters(codec="utf-8") | st.sampled_from(
    " \t\n\x1c\x1f\x85\xa0\u2028\u3000+\u2014\u2013-a"
)


@given(st.text(_NAME_CHARS, max_size=8))
@example("")
@example("example.com/log")
@example("a\u2014b")
@example("a\x1fb")
def test_key_names_are_checked_as_the_regular_expression_did(name: str) -> None:
    assert valid_name(name) == bool(re.fullmatch(r"[^\s+\u2014]+", name))


@given(st.text(st.sampled_from("0123456789\u0663\uff11a+- "), max_size=22) | st.integers(0, 10**21).map(str))
@example("0")
@example("00")
@example("9" * 20)
@example("1" + "0" * 20)
@example("\u0663")
def test_tree_sizes_are_checked_as_the_regular_expression_did(text: str) -> None:
    assert valid_size(text) == bool(re.fullmatch(r"0|[1-9][0-9]{0,19}", text))


def _stdlib_b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


@given(st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()) | st.text(max_size=12))
@example("AQ=")
@example("AQ==\n")
@example("A Q==")
@example("AQ==AQ==")
def test_base64_is_read_and_written_as_the_base64_module_does(text: str) -> None:
    expected = _stdlib_b64(text)
    if expected is None:
        with pytest.raises(NoteError, match="is not base64"):
            _b64decode(text, "x")
    else:
        assert _b64decode(text, "x") == expected
        assert _b64encode(expected) == base64.b64encode(expected).decode()


SIGN_ALONE = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from ramparts.audit.checkpoint import Signer
signer = Signer("example.com/log", bytes(range(32)))
signature = signer.sign(b"body\\n")
alone = sorted(m for m in ("typing", "enum", "re", "cryptography", "cryptography.hazmat.primitives") if m in sys.modules)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # the package, after
Ed25519PublicKey.from_public_bytes(signer.verifier.public_key).verify(signature, b"body\\n")
print(repr((alone, signature.hex(), type(signer._key).__module__)))
"""


def test_a_cold_process_signs_with_the_extension_alone_and_the_same_signature() -> None:
    """A hook signing a checkpoint loads cryptography's compiled module, not its package (typing, enum, re):
    the key and signature are the package's own, and the package imported afterwards reuses the module."""
    import ast
    import subprocess
    import sys

    import cryptography

    import ramparts

    src = str(Path(ramparts.__file__).resolve().parent.parent)
    site = str(Path(cryptography.__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", SIGN_ALONE, src, site], capture_output=True, text=True, check=True
    )
    loaded, signature, module = ast.literal_eval(done.stdout)
    assert loaded == []
    assert bytes.fromhex(signature) == Signer("example.com/log", bytes(range(32))).sign(b"body\n")
    assert module == "cryptography.hazmat.bindings._rust.openssl.ed25519"
