"""Where hosts find the control plane, and the hook's short-lived cache of its kill orders.

The ``server:`` policy section (or ``$RAMPARTS_SERVER`` / ``$RAMPARTS_SERVER_TOKEN``)::

    server:
      url: https://ramparts.example.com
      token_env: RAMPARTS_SERVER_TOKEN   # or token_file: /etc/ramparts/server-token
      cache_seconds: 3                   # how long the hook trusts its copy of the kill orders
      timeout_seconds: 1                 # the hook's fetch, when its copy is older
      unreachable: fail_closed           # or last_known: keep applying the orders last fetched

The hook never waits on the network while its copy is fresh: ``<state_dir>/server-orders.json``, refreshed
by ``ramparts agent`` every second or so, or by the hook itself when the copy is older than
``cache_seconds``. When the server cannot be reached and the copy is stale, ``fail_closed`` denies every
tool call (the reason says why) and ``last_known`` applies the orders last fetched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from ..errors import PolicyError

SERVER_ENV = "RAMPARTS_SERVER"
TOKEN_ENV = "RAMPARTS_SERVER_TOKEN"  # noqa: S105 - a variable name
CACHE_FILE = "server-orders.json"


class ServerSettings(NamedTuple):
    url: str = ""
    token_env: str = TOKEN_ENV
    token_file: str = ""
    cache_seconds: float = 3.0
    timeout_seconds: float = 1.0
    unreachable: Literal["fail_closed", "last_known"] = "fail_closed"
    ca_file: str = ""
    cert_file: str = ""
    """mTLS: this host's client certificate (PEM; its CN or a DNS SAN is the host token's name)."""
    key_file: str = ""
    """mTLS: the client certificate's private key ('' when ``cert_file`` holds it)."""
    approvals: Literal["off", "remote"] = "off"
    """``remote``: a tool call the policy asks about waits for a person's answer through the server."""
    approval_timeout_seconds: float = 60.0
    """How long the hook waits for that answer (bounded by its own deadline); no answer denies."""


_KEYS = set(ServerSettings._fields)


def parse_server(data: Any, where: str = "server") -> ServerSettings:
    """The ``server:`` section; errors name the key's path."""
    if data is None:
        return ServerSettings()
    if not isinstance(data, Mapping):
        raise PolicyError(f"{where}: must be a mapping")
    extra = sorted(set(data) - _KEYS)
    if extra:
        raise PolicyError(f"{where}.{extra[0]}: unknown key")
    changes: dict[str, Any] = {}
    for key in ("url", "token_env", "token_file", "ca_file", "cert_file", "key_file"):
        if key in data:
            if not isinstance(data[key], str):
                raise PolicyError(f"{where}.{key}: must be a string")
            changes[key] = data[key]
    out = ServerSettings(**changes)
    if out.url and not out.url.startswith(("http://", "https://")):
        raise PolicyError(f"{where}.url: must start with http:// or https://")
    if out.key_file and not out.cert_file:
        raise PolicyError(f"{where}.key_file: needs cert_file")
    for key, lo, hi in (
        ("cache_seconds", 0.0, 3600.0),
        ("timeout_seconds", 0.05, 60.0),
        ("approval_timeout_seconds", 1.0, 3600.0),
    ):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
                raise PolicyError(f"{where}.{key}: must be a number from {lo:g} to {hi:g}")
            changes[key] = float(value)
    if "approvals" in data:
        if data["approvals"] not in ("off", "remote"):
            raise PolicyError(f"{where}.approvals: must be off or remote")
        changes["approvals"] = data["approvals"]
    if "unreachable" in data:
        if data["unreachable"] not in ("fail_closed", "last_known"):
            raise PolicyError(f"{where}.unreachable: must be fail_closed or last_known")
        changes["unreachable"] = data["unreachable"]
    return ServerSettings(**changes)


def resolve(section: str = "", env: Mapping[str, str] | None = None) -> ServerSettings | None:
    """The settings from the policy's ``server`` JSON and the environment; None when no server is set."""
    env = os.environ if env is None else env
    settings = parse_server(json.loads(section)) if section else ServerSettings()
    url = env.get(SERVER_ENV) or settings.url
    if not url:
        return None
    return settings._replace(url=url.rstrip("/"))


def read_token(settings: ServerSettings, env: Mapping[str, str] | None = None) -> str:
    from .client import ServerError

    env = os.environ if env is None else env
    if settings.token_file:
        try:
            with open(os.path.expanduser(settings.token_file), encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise ServerError(f"cannot read the control plane token file: {exc.strerror}") from exc
    else:
        token = env.get(settings.token_env, "")
    if not token:
        raise ServerError(f"no control plane token (set {settings.token_env} or server.token_file)")
    return token


def client(settings: ServerSettings, *, timeout: float | None = None) -> Any:
    from .client import Client

    return Client(
        settings.url,
        read_token(settings),
        timeout=settings.timeout_seconds if timeout is None else timeout,
        ca_file=settings.ca_file or None,
        cert_file=settings.cert_file or None,
        key_file=settings.key_file or None,
    )


# -- the kill-order cache ----------------------------------------------------------------------------------------


def _cache_path(state_dir: str) -> str:
    return os.path.join(state_dir, CACHE_FILE)


def read_cache(state_dir: str) -> tuple[float, list[dict[str, Any]]] | None:
    try:
        with open(_cache_path(state_dir), encoding="utf-8") as fh:
            data = json.load(fh)
        return float(data["fetched"]), [o for o in data["orders"] if isinstance(o, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(state_dir: str, orders: list[dict[str, Any]], now: float) -> None:
    path = _cache_path(state_dir)
    tmp = f"{path}.{os.getpid()}.tmp"
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"fetched": now, "orders": orders}, fh)
    os.replace(tmp, path)


def refresh(
    settings: ServerSettings, state_dir: str, *, timeout: float | None = None
) -> list[dict[str, Any]]:
    """Fetch the kill orders and update the cache; raises ServerError when that fails."""
    orders: list[dict[str, Any]] = client(settings, timeout=timeout).kills()
    write_cache(state_dir, orders, time.time())
    return orders


def _applies(order: Mapping[str, Any], session_id: str, users: tuple[str, ...]) -> bool:
    scope, target = order.get("scope"), order.get("target")
    return (
        (scope == "session" and target == session_id)
        or (scope == "user" and target in users)
        or scope == "all"
    )


def _message(order: Mapping[str, Any]) -> str:
    what = {"session": "this session", "user": f"user {order.get('target')}", "all": "all sessions"}.get(
        str(order.get("scope")), "?"
    )
    return f"{order.get('reason')} (central kill switch for {what}, by {order.get('by')})"


def central_kill(settings: ServerSettings, state_dir: str, session_id: str, *users: str, now: float) -> str:
    """The incident message of the central order that stops this session ('' for none), from the cache
    when it is fresh, else from the server. Fail closed (a message) when neither can say, unless the
    policy says ``last_known``."""
    from .client import ServerError

    cached = read_cache(state_dir)
    orders: list[dict[str, Any]] | None = None
    if cached is not None and 0 <= now - cached[0] <= settings.cache_seconds:
        orders = cached[1]
    else:
        try:
            orders = refresh(settings, state_dir)
        except (ServerError, OSError) as exc:
            if settings.unreachable == "fail_closed":
                age = "never fetched" if cached is None else f"last fetched {now - cached[0]:.0f} s ago"
                return (
                    f"the control plane's kill orders cannot be checked ({exc}; {age}) and the policy says "
                    "server.unreachable: fail_closed"
                )
            orders = cached[1] if cached is not None else []
    for scope in ("session", "user", "all"):
        for order in orders:
            if order.get("scope") == scope and _applies(order, session_id, users):
                return _message(order)
    return ""


def remote_approval(settings: ServerSettings, fields: dict[str, Any], wait: float) -> tuple[str, str]:
    """Ask the control plane for a person's answer and wait up to ``wait`` seconds for it; returns
    (``allow`` or ``deny``, the reason). Anything but an answer in time denies (fail closed)."""
    from .client import ServerError

    if wait < 1:
        return (
            "deny",
            "no time left to ask an approver (the hook's deadline is too short for server.approvals)",
        )
    deadline = time.monotonic() + wait
    try:
        api = client(settings)
        request = api.ask({**fields, "wait_seconds": round(wait, 1)})
        approval_id = str(request["id"])
        while time.monotonic() < deadline:
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))
            state = api.approval(approval_id)
            if state.get("state") in ("allow", "deny"):
                why = f" ({state.get('reason')})" if state.get("reason") else ""
                verb = "approved" if state["state"] == "allow" else "refused"
                return str(
                    state["state"]
                ), f"{verb} by {state.get('decided_by')} through the control plane{why}"
            if state.get("state") == "expired":
                break
    except (ServerError, KeyError, OSError) as exc:
        return "deny", f"the approval request failed: {exc}"
    return "deny", f"no approver answered within {wait:.0f} s (server.approvals: remote)"


def managed_telemetry(section: str, hook_command: str) -> dict[str, Any]:
    """What ``compile`` adds to managed settings when the policy names a control plane: Claude Code's
    telemetry sent to its OTLP logs receiver (``env``), and an ``otelHeadersHelper`` that prints the host
    token's header (``ramparts server otel-headers``), so no token is written into the settings file."""
    import shlex

    settings = parse_server(json.loads(section)) if section else ServerSettings()
    if not settings.url:
        return {}
    words = shlex.split(hook_command)
    helper = [words[0], "-I", "-m", "ramparts", "server", "otel-headers"] if words else []
    if "--policy" in words[:-1]:
        helper += ["--policy", words[words.index("--policy") + 1]]
    return {
        "env": {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": settings.url.rstrip("/") + "/otlp/v1/logs",
        },
        "otelHeadersHelper": " ".join(shlex.quote(w) for w in helper),
    }
