"""``ramparts watch``: the dashboard's live sessions in a terminal (rich), for people who live there.

Reads the control plane through its API with an admin token (``RAMPARTS_SERVER`` and
``RAMPARTS_SERVER_TOKEN``, or the policy's ``server:`` section), or its store directly with ``--db`` (or
``--local``: the state directory's ``server.db``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
STYLES = {"live": "green", "idle": "dim", "tainted": "yellow", "killed": "bold red"}
DECISIONS = {"allow": "green", "ask": "yellow", "deny": "red"}


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "watch", help="the control plane's live sessions in the terminal (needs an admin token)"
    )
    common(p)
    p.add_argument("--db", metavar="URL", help="read the server's store directly (postgresql://… or a path)")
    p.add_argument("--local", action="store_true", help="read <state dir>/server.db directly")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes (default 1)")
    p.add_argument("--limit", type=int, default=50, help="sessions shown (default 50)")
    p.add_argument("--once", action="store_true", help="print the table once and exit")
    p.set_defaults(func=cmd_watch)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def table(rows: list[dict[str, Any]], limit: int, source: str) -> Any:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"Ramparts live sessions ({len(rows)}) · {source}", title_justify="left", expand=True)
    for name in ("Session", "User", "Host", "Repository", "Duration", "State", "Last decision", "Records"):
        t.add_column(name, no_wrap=name in ("Session", "State", "Records"), overflow="fold")
    for r in rows[:limit]:
        state = str(r.get("state", ""))
        decision = str(r.get("last_decision", "") or "-")
        t.add_row(
            Text(str(r.get("session", ""))),
            Text(str(r.get("user", ""))),
            Text(str(r.get("host", ""))),
            Text(str(r.get("cwd", ""))),
            _duration(float(r.get("duration", 0) or 0)),
            Text(state, style=STYLES.get(state, "")),
            Text(f"{decision} {r.get('last_tool', '')}".strip(), style=DECISIONS.get(decision, "")),
            str(r.get("records", "")),
        )
    return t


def alerts_table(alerts: list[dict[str, Any]]) -> Any:
    """The latest alerts under the sessions (severity, rule, session, message; every value as text)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title="LATEST ALERTS", title_justify="left", expand=True)
    for name in ("Severity", "Rule", "Session", "Message"):
        t.add_column(name, overflow="fold")
    for a in alerts[:10]:
        t.add_row(
            Text(str(a.get("severity", "?"))),
            Text(str(a.get("rule", ""))),
            Text(str(a.get("session") or "-")),
            Text(str(a.get("message", ""))),
        )
    if not alerts:
        t.add_row("-", "(none)", "", "")
    return t


def cmd_watch(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from .._locations import state_dir
    from ..server.client import ServerError
    from .server import _settings

    fetch: Callable[[], list[dict[str, Any]]]
    store = None
    if args.db or args.local:
        from ..server.dashboard import queries
        from ..server.store import ServerStore

        store = ServerStore.open(state_dir(args.state_dir), url=args.db)
        source = store.name

        def fetch() -> list[dict[str, Any]]:
            return [r._asdict() for r in queries._live_sessions(store, time.time(), max(args.limit, 1))]

        def fetch_alerts() -> list[dict[str, Any]]:
            return [a._asdict() for a in store.alerts(limit=10)]

    else:
        from ..server.config import client

        settings = _settings(args)
        if settings is None:
            print(
                "ramparts watch: no control plane (set RAMPARTS_SERVER or use --db/--local)", file=sys.stderr
            )
            return EXIT_USAGE
        try:
            api = client(settings, timeout=10)
        except ServerError as exc:
            print(f"ramparts watch: {exc}", file=sys.stderr)
            return EXIT_USAGE
        source = settings.url

        def fetch() -> list[dict[str, Any]]:
            rows = api.request("GET", "/v1/sessions").get("sessions")
            return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

        def fetch_alerts() -> list[dict[str, Any]]:
            alerts: list[dict[str, Any]] = api.alerts()[:10]
            return alerts

    def screen() -> Any:
        from rich.console import Group

        return Group(table(fetch(), args.limit, source), alerts_table(fetch_alerts()))

    # printed once or into a pipe: wide enough that no row folds (a row is one line for scripts and grep)
    console = Console() if sys.stdout.isatty() else Console(width=240)
    try:
        if args.once:
            console.print(screen())
            return EXIT_OK
        with Live(screen(), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(max(args.interval, 0.2))
                live.update(screen())
    except ServerError as exc:
        print(f"ramparts watch: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        if store is not None:
            store.close()
