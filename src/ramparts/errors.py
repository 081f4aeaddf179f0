"""The exception tree.

    RampartsError
     ├── PolicyError        a policy file or rule is invalid (carries file, line, column)
     ├── ScanError          a detector failed
     │    └── RuleError     a detector rule pack is invalid (detect.secrets)
     ├── GatewayError       the model-API proxy failed
     ├── EgressError        the egress proxy failed
     ├── HookInputError     the agent sent input the hook cannot trust
     └── AuditError         the audit log cannot be written or read
          ├── TamperError   the audit log does not verify
          ├── StoreError    the backing store failed
          ├── RecordError   a record does not fit the record schema (audit.record)
          ├── NoteError     a checkpoint note does not parse or verify (audit.checkpoint)
          ├── ProofError    a Merkle proof does not verify (audit.merkle)
          └── SinkError     a shipping sink failed (audit.ship; transient or permanent)

Every public error Ramparts raises is in this tree (the ones defined next to their code subclass these,
and ValueError where callers relied on that); the gateway's own errors root in GatewayError.

Library exceptions are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class RampartsError(Exception):
    """Base of every error Ramparts raises on purpose."""


class PolicyError(RampartsError):
    """A policy file or rule is invalid.

    ``str(err)`` reads ``FILE:LINE:COLUMN: problem`` when the position is known.
    """

    def __init__(
        self, problem: str, *, file: str | None = None, line: int | None = None, column: int | None = None
    ) -> None:
        self.problem = problem
        self.file = file
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.problem}"


class ScanError(RampartsError):
    """A detector failed."""


class GatewayError(RampartsError):
    """The model-API gateway failed."""


class EgressError(RampartsError):
    """The egress proxy failed."""


class HookInputError(RampartsError):
    """The agent sent hook input that is malformed, oversized or incomplete."""


class AuditError(RampartsError):
    """The audit log cannot be written or read."""


class TamperError(AuditError):
    """The audit log does not verify."""


class StoreError(AuditError):
    """The backing store failed."""
