"""The audit trail: every decision, allow and deny alike, recorded durably before the hook answers."""
