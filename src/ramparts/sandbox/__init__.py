"""Isolation: commands and stdio MCP servers under bubblewrap (MED-04, CRIT-02)."""

from __future__ import annotations

from .bwrap import SandboxError, Spec, argv, run
from .mcp import Guard, PinError, Pins, tool_hash, wrap

__all__ = ["Guard", "PinError", "Pins", "SandboxError", "Spec", "argv", "run", "tool_hash", "wrap"]
