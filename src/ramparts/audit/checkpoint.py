"""C2SP tlog-checkpoints inside C2SP signed notes, signed with Ed25519. Pure apart from ``cryptography``.

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension lines. A signed note is
that text, a blank line, and one or more lines ``— <key name> <base64(key hash || signature)>`` (U+2014).
The key hash is the first 4 bytes of ``SHA-256(name || 0x0A || 0x01 || public key)``. Verifier keys are
written ``<name>+<hex key hash>+<base64(0x01 || public key)>``; signer keys (kept in a 0600 file, never in
the log) ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>``, the format of Go's
``golang.org/x/mod/sumdb/note``.

Parsing is strict: the note must be UTF-8 without control characters other than newline; every line must
be well formed (errors name the line); unknown keys are ignored, a known key whose signature fails rejects
the note, and at least one known key must verify it.
"""

from __future__ import annotations

import binascii  # not base64 (it imports re and struct): the hook imports this module to sign a checkpoint

from .._hashing import sha256
from .._tuples import NamedTuple
from ..errors import AuditError
from .merkle import HASH_SIZE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

ALG_ED25519 = 0x01
DASH = "\u2014"
MAX_SIGNATURES = 100
_NOT_IN_NAME = frozenset("+" + DASH)


class NoteError(AuditError, ValueError):
    """A signed note or checkpoint is malformed or does not verify; the message names the line."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)  # base64.b64decode(validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise NoteError(f"{what} is not base64") from exc


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def valid_name(name: str) -> bool:
    """A key name: not empty, no white space (as ``re``'s ``\\s`` and ``str.isspace`` know it), no plus sign,
    no dash (U+2014)."""
    return bool(name) and not any(ch.isspace() or ch in _NOT_IN_NAME for ch in name)


def valid_size(text: str) -> bool:
    """A tree size as a checkpoint writes it: decimal ASCII digits, at most 20, no leading zero."""
    return text == "0" or (0 < len(text) <= 20 and text.isascii() and text.isdigit() and text[0] != "0")


def _check_name(name: str) -> None:
    if not valid_name(name):
        raise NoteError(f"key name {name!r} is empty or holds a space, a plus sign or a dash")


def key_hash(name: str, public_key: bytes) -> bytes:
    digest: bytes = sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return digest[:4]


class Checkpoint(NamedTuple):
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise NoteError("checkpoint: the body does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint: {len(lines)} line(s), need origin, size and root")
        origin, size, root = lines[:3]
        if not origin:
            raise NoteError("checkpoint line 1: empty origin")
        if not valid_size(size):
            raise NoteError(f"checkpoint line 2: tree size {size!r} is not a decimal without leading zeros")
        digest = _b64decode(root, "checkpoint line 3: root hash")
        if len(digest) != HASH_SIZE:
            raise NoteError(f"checkpoint line 3: root hash has {len(digest)} bytes, not 32")
        for n, ext in enumerate(lines[3:], start=4):
            if not ext:
                raise NoteError(f"checkpoint line {n}: empty extension line")
        return cls(origin, int(size), digest, tuple(lines[3:]))


class Verifier(NamedTuple):
    name: str
    hash: bytes
    public_key: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key: expected <name>+<hex key hash>+<base64 key>")
        name, hex_hash, b64 = parts
        _check_name(name)
        try:
            h = bytes.fromhex(hex_hash)
        except ValueError as exc:
            raise NoteError("verifier key: the key hash is not hex") from exc
        raw = _b64decode(b64, "verifier key")
        if len(h) != 4 or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("verifier key: not an Ed25519 key (0x01 + 32 bytes) with a 4-byte hash")
        if key_hash(name, raw[1:]) != h:
            raise NoteError("verifier key: the key hash does not match the name and key")
        return cls(name, h, raw[1:])

    def __str__(self) -> str:
        raw = bytes([ALG_ED25519]) + self.public_key
        return f"{self.name}+{self.hash.hex()}+{_b64encode(raw)}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 signing key with a note key name."""

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != 32:
            raise NoteError("signer key: an Ed25519 seed is 32 bytes")
        self.name = name
        self._key: Any = _private_key(seed)
        self._seed = seed
        public = self._key.public_key().public_bytes_raw()
        self.verifier = Verifier(name, key_hash(name, public), public)

    @classmethod
    def generate(cls, name: str) -> Signer:
        import os

        return cls(name, os.urandom(32))

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("signer key: expected PRIVATE+KEY+<name>+<hex key hash>+<base64 key>")
        raw = _b64decode(parts[4], "signer key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise NoteError("signer key: not an Ed25519 seed")
        signer = cls(parts[2], raw[1:])
        if signer.verifier.hash.hex() != parts[3]:
            raise NoteError("signer key: the key hash does not match")
        return signer

    def key_string(self) -> str:
        raw = _b64encode(bytes([ALG_ED25519]) + self._seed)
        return f"PRIVATE+KEY+{self.name}+{self.verifier.hash.hex()}+{raw}"

    def sign(self, message: bytes) -> bytes:
        signature: bytes = self._key.sign(message)
        return signature


_RUST = "cryptography.hazmat.bindings._rust"


def _private_key(seed: bytes) -> Any:
    """cryptography's Ed25519 private key of ``seed``.

    ``Ed25519PrivateKey.from_private_bytes`` is ``rust_openssl.ed25519.from_private_bytes`` (cryptography
    51: the same call), but importing it loads the ``cryptography`` package: typing, enum, re and the
    rest, some 67 M instructions for a cold hook that signs a checkpoint (every ``checkpoint_seconds``),
    against some 20 M for the Rust extension alone. So when the package is not loaded yet, its compiled
    module is loaded by itself, as the interpreter would load it (registered under its own name: a later
    ``import cryptography`` reuses it) and the key made by that same function. Anything unexpected takes
    the package's own import. Not cryptography's serialization module either: it loads every key type's
    module (SSH keys)."""
    openssl = _rust_openssl()
    if openssl is not None:
        try:
            return openssl.ed25519.from_private_bytes(seed)
        except Exception:  # noqa: BLE001, S110 - the package's class below says what is wrong, the same way
            pass
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def _rust_openssl() -> Any:
    """cryptography's compiled ``openssl`` bindings, loaded without the package when it is not loaded (see
    ``_private_key``); None to take the package's import."""
    import sys

    module = sys.modules.get(_RUST)
    if module is None:
        if "cryptography" in sys.modules:
            return None
        try:
            import _imp
            from importlib.machinery import ExtensionFileLoader, PathFinder

            package = PathFinder.find_spec("cryptography")
            folders = package.submodule_search_locations if package is not None else None
            if not folders:
                return None
            spec = PathFinder.find_spec("_rust", [folders[0] + "/hazmat/bindings"])
            if spec is None or not isinstance(spec.loader, ExtensionFileLoader):
                return None
            spec.name = _RUST
            module = _imp.create_dynamic(spec)
            sys.modules[_RUST] = module
            _imp.exec_dynamic(module)
        except Exception:  # noqa: BLE001 - anything unexpected: the package's own import
            if module is not None and sys.modules.get(_RUST) is module:
                del sys.modules[_RUST]
            return None
    return getattr(module, "openssl", None)


def sign_note(body: str, signer: Signer) -> str:
    """The signed note: the body, a blank line and one signature line."""
    _check_text(body, "note")
    if not body.endswith("\n"):
        raise NoteError("note: the text does not end with a newline")
    sig = _b64encode(signer.verifier.hash + signer.sign(body.encode()))
    return f"{body}\n{DASH} {signer.name} {sig}\n"


def _check_text(text: str, what: str) -> None:
    for n, line in enumerate(text.split("\n"), start=1):
        for ch in line:
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                raise NoteError(f"{what} line {n}: control character U+{ord(ch):04X}")


class OpenedNote(NamedTuple):
    body: str
    verified_by: tuple[Verifier, ...]
    unknown: int  # signatures by keys we do not know (ignored)


def open_note(note: str | bytes, verifiers: Iterable[Verifier]) -> OpenedNote:
    """Parse and verify a signed note; raise NoteError naming the line unless a known key verifies it."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note: not UTF-8 at byte {exc.start}") from exc
    _check_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note: no blank line before the signatures")
    body, sig_text = note[: split + 1], note[split + 2 :]
    if not sig_text.endswith("\n"):
        raise NoteError("note: the last signature line does not end with a newline")
    first_sig_line = body.count("\n") + 2
    sig_lines = sig_text[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise NoteError(f"note: {len(sig_lines)} signatures, more than {MAX_SIGNATURES}")
    known = {(v.name, v.hash): v for v in verifiers}
    verified: list[Verifier] = []
    unknown = 0
    for n, line in enumerate(sig_lines, start=first_sig_line):
        prefix = DASH + " "
        if not line.startswith(prefix):
            raise NoteError(f"note line {n}: a signature line starts with '— '")
        name, sep, b64 = line[len(prefix) :].partition(" ")
        if not sep or not name or " " in b64:
            raise NoteError(f"note line {n}: expected '— <name> <base64 signature>'")
        _check_name(name)
        raw = _b64decode(b64, f"note line {n}: signature")
        if len(raw) < 5:
            raise NoteError(f"note line {n}: signature too short")
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            unknown += 1
            continue
        if not verifier.verify(body.encode(), raw[4:]):
            raise NoteError(f"note line {n}: signature by {name} does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        raise NoteError("note: no signature by a known key")
    return OpenedNote(body, tuple(verified), unknown)


def open_checkpoint(note: str | bytes, verifiers: Iterable[Verifier]) -> tuple[Checkpoint, OpenedNote]:
    opened = open_note(note, verifiers)
    return Checkpoint.parse(opened.body), opened


def peek_checkpoint(note: str) -> Checkpoint:
    """The checkpoint in a note without checking signatures (to report what a bad note claims)."""
    split = note.rfind("\n\n")
    return Checkpoint.parse(note[: split + 1] if split >= 0 else note)
