"""The security team's dashboard, served by ``ramparts server`` under ``/ui`` (see docs/server.md)."""

from .web import Dashboard, action_record

__all__ = ["Dashboard", "action_record"]
