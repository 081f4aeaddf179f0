"""A local JSON Lines file: one envelope a line, appended and fsynced before the cursor moves.

Lines are split on ``\\n`` only (record bodies are JSON, whose strings escape CR and LF but may
hold U+2028 verbatim). A crash mid-write can leave a torn last line: readers skip a final line
without a newline; the shipper sends that item again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..._util import fsync_dir
from ..ship import ShipItem, TransientSinkError
from . import envelope


class JsonlSink:
    def __init__(self, name: str, path: str, *, fsync: bool = True) -> None:
        self.name = name
        self.path = os.path.expanduser(path)
        self.fsync = fsync

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        data = b"".join(envelope(item) + b"\n" for item in items)
        try:
            parent = os.path.dirname(self.path) or "."
            os.makedirs(parent, mode=0o700, exist_ok=True)
            created = not os.path.exists(self.path)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                self._heal(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if created and self.fsync:
                fsync_dir(parent)
        except OSError as exc:
            raise TransientSinkError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc
        return []

    @staticmethod
    def _heal(fd: int) -> None:
        """After a torn write the file does not end in a newline: end that line so ours stay whole."""
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")

    def close(self) -> None:
        pass
