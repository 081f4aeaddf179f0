"""The checkpoint signing key on disk: ``<state_dir>/keys/audit-ed25519.key``, mode 0600, outside the log.

Created once, atomically (written to a temporary file, fsynced, then hard-linked into place so that two
processes creating it at once agree on one key), and never rewritten. The log keeps only the verifier.
"""

from __future__ import annotations

import os

from .._util import fsync_dir
from ..errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the signing code loads only when a key is read or made
    from .checkpoint import Signer

KEY_FILE = "audit-ed25519.key"


def default_key_path(state_dir: str) -> str:
    return os.path.join(state_dir, "keys", KEY_FILE)


def load_signer(path: str) -> Signer:
    from .checkpoint import NoteError, Signer

    try:
        with open(path, encoding="ascii") as f:
            text = f.read(4096)
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read the audit signing key {path}: {exc}") from exc
    try:
        return Signer.parse(text)
    except NoteError as exc:
        raise StoreError(f"audit signing key {path} is malformed: {exc}") from exc


def load_or_create_signer(path: str, name: str) -> Signer:
    """The key at ``path``; when there is none, a new one named ``name``."""
    from .checkpoint import Signer

    if os.path.exists(path):
        return load_signer(path)
    signer = Signer.generate(name)
    folder = os.path.dirname(path) or "."
    tmp = f"{path}.{os.getpid()}.{os.urandom(6).hex()}.tmp"  # unique per thread too: replicas share a process in tests
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (signer.key_string() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return load_signer(path)  # another process won the race: use its key
        finally:
            os.unlink(tmp)
        fsync_dir(folder)
    except OSError as exc:
        raise StoreError(f"cannot create the audit signing key {path}: {exc}") from exc
    return signer
