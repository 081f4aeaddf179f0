"""What a machine's Claude Code really enforces: settings discovery (I/O), the effective configuration
and lint (pure), and reports (text, JSON, SARIF 2.1.0, HTML)."""

from __future__ import annotations

from .discovery import Discovery, Source, discover
from .effective import Effective, compute
from .findings import CHECKS, SEVERITIES, Finding, rank
from .lint import DEFAULT_EGRESS_PROXY, PINNED_VERSION, Options, lint

__all__ = [
    "CHECKS",
    "DEFAULT_EGRESS_PROXY",
    "PINNED_VERSION",
    "SEVERITIES",
    "Discovery",
    "Effective",
    "Finding",
    "Options",
    "Source",
    "compute",
    "discover",
    "lint",
    "rank",
]
