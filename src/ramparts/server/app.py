"""The control plane's HTTP API (Starlette; served by uvicorn from ``ramparts server``).

Every route but ``/healthz`` and ``/openapi.json`` takes ``Authorization: Bearer <token>``: a host token
(``ramparts server token create --host NAME``) ingests and reads kill orders; an admin token (``--admin``)
also gives and lifts kill orders and reads alerts and the fleet. Unknown or revoked tokens get 401, a host
token on an admin route 403. Errors are JSON ``{"error": "…"}`` and never echo a record's content. The
store's blocking calls run in Starlette's thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import StoreError
from .batch import BatchError, parse_batch
from .openapi import document
from .store import ForeignLogError, ServerStore, TokenInfo
from .store.model import MAX_GRANT_MINUTES
from .telemetry import TelemetryError
from .telemetry import decode as telemetry_decode
from .telemetry import events as telemetry_events
from .tls import client_cert_names

log = logging.getLogger("ramparts.server")

MAX_BODY = 32 * 1024 * 1024
MAX_REASON = 1000

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="ramparts"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _token(request: Request, store: ServerStore) -> TokenInfo | None:
    header = request.headers.get("authorization", "")
    if header[:9].lower() == "bearer%20":  # Claude Code sends OTEL_EXPORTER_OTLP_HEADERS values undecoded
        header = "Bearer " + header[9:]
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return None
    return await run_in_threadpool(store.authenticate, secret.strip())


def _guarded(
    store: ServerStore, handler: Callable[[Request, TokenInfo], Awaitable[Response]], admin: bool
) -> Handler:
    async def endpoint(request: Request) -> Response:
        try:
            token = await _token(request, store)
            if token is None:
                return _error(401, "unknown or revoked token")
            if admin and token.kind != "admin":
                return _error(403, "this route needs an admin token")
            return await handler(request, token)
        except StoreError as exc:
            log.error("store error: %s", exc)
            return _error(503, "the control plane's store is unavailable")

    return endpoint


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise BatchError(f"body: larger than {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BatchError("body: not JSON") from exc


def _order_json(o: Any) -> dict[str, Any]:
    return {"scope": o.scope, "target": o.target, "reason": o.reason, "by": o.by, "at": o.at}


def _kill_request(data: Any, lift: bool) -> tuple[str, str, str]:
    if not isinstance(data, dict):
        raise BatchError("body: must be an object")
    allowed = {"scope", "target"} | (set() if lift else {"reason"})
    extra = sorted(set(data) - allowed)
    if extra:
        raise BatchError(f"{extra[0]}: unknown field")
    scope, target, reason = data.get("scope"), data.get("target", ""), data.get("reason", "")
    if scope not in ("session", "user", "all"):
        raise BatchError("scope: must be session, user or all")
    if not isinstance(target, str) or len(target) > 256 or (scope == "all") == bool(target):
        raise BatchError("target: a session id or user name (1 to 256 characters); empty for all")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise BatchError(f"reason: a string of at most {MAX_REASON} characters")
    return scope, target, reason or "stopped by the Ramparts control plane"


def session_order_json(o: Any) -> dict[str, Any]:
    return dict(o._asdict())


def _session_order_request(data: Any) -> tuple[str, str, str, float]:
    if not isinstance(data, dict):
        raise BatchError("body: must be an object")
    extra = sorted(set(data) - {"kind", "session", "reason", "minutes"})
    if extra:
        raise BatchError(f"{extra[0]}: unknown field")
    kind, session, reason = data.get("kind"), data.get("session"), data.get("reason", "")
    minutes = data.get("minutes", 0 if kind == "end" else 15)
    if kind not in ("end", "reauth"):
        raise BatchError("kind: must be end or reauth")
    if not isinstance(session, str) or not 1 <= len(session) <= 256:
        raise BatchError("session: a session id (1 to 256 characters)")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise BatchError(f"reason: a string of at most {MAX_REASON} characters")
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise BatchError("minutes: a number")
    if kind == "reauth" and not 1 <= minutes <= MAX_GRANT_MINUTES:
        raise BatchError(f"minutes: a re-auth grant lasts 1 to {MAX_GRANT_MINUTES:g} minutes")
    default = (
        "ended through the control plane" if kind == "end" else "step-up granted through the control plane"
    )
    return kind, session, reason or default, float(minutes)


def _ack_request(data: Any) -> str:
    if not isinstance(data, dict):
        raise BatchError("body: must be an object")
    extra = sorted(set(data) - {"outcome"})
    if extra:
        raise BatchError(f"{extra[0]}: unknown field")
    outcome = data.get("outcome", "")
    if not isinstance(outcome, str) or len(outcome) > MAX_REASON:
        raise BatchError(f"outcome: a string of at most {MAX_REASON} characters")
    return outcome


def _approval_request(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BatchError("body: must be an object")
    limits = {"session": 256, "user": 256, "tool": 256, "summary": 4000, "reasons": 2000}
    extra = sorted(set(data) - set(limits) - {"wait_seconds"})
    if extra:
        raise BatchError(f"{extra[0]}: unknown field")
    out: dict[str, Any] = {}
    for key, limit in limits.items():
        value = data.get(key, "")
        if not isinstance(value, str) or len(value) > limit or (key == "session" and not value):
            raise BatchError(
                f"{key}: a string of at most {limit} characters" + (", not empty" if key == "session" else "")
            )
        out[key] = value
    wait = data.get("wait_seconds", 60)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 1 <= wait <= 3600:
        raise BatchError("wait_seconds: a number from 1 to 3600")
    out["wait_seconds"] = wait
    return out


def create_app(
    store: ServerStore,
    *,
    telemetry_grace: float = 60.0,
    state_dir: str | None = None,
    cookie_secure: bool = True,
    policy: Any = None,
    oidc: Any = None,
    mtls: bool = False,
) -> Starlette:
    """The API over ``store``. Telemetry is checked against the hook's records every few seconds, once
    it is ``telemetry_grace`` seconds old (see :meth:`ServerStore.telemetry_check`). With ``mtls``, an
    ingest needs a verified client certificate that names the host token's host (:mod:`.tls`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(_telemetry_checks(store, telemetry_grace))]
        if store.monitor.deliver:
            tasks.append(asyncio.create_task(_deliveries(store)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi(request: Request) -> Response:
        return JSONResponse(document())

    async def ingest(request: Request, token: TokenInfo) -> Response:
        if token.kind != "host":
            return _error(403, "only host tokens ingest")
        if mtls:
            names = client_cert_names(request.scope)
            if not names:
                return _error(403, "ingest needs a client certificate from the client CA (mTLS)")
            if token.name not in names:
                return _error(403, f"the client certificate does not name host {token.name}")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"batch larger than {MAX_BODY} bytes")
        try:
            batch = await run_in_threadpool(parse_batch, body)
        except BatchError as exc:
            return _error(400, str(exc))
        try:
            result = await run_in_threadpool(store.ingest, token, batch)
        except ForeignLogError as exc:
            return _error(403, str(exc))
        if result.state == "unknown_key":  # kept apart; the host keeps the batch and retries
            return JSONResponse(
                {**result._asdict(), "error": "the log's signing key is not bound to this host's token"},
                status_code=409,
            )
        return JSONResponse(result._asdict())

    async def kills(request: Request, token: TokenInfo) -> Response:
        orders = await run_in_threadpool(store.kills)
        return JSONResponse({"orders": [_order_json(o) for o in orders]})

    async def kill(request: Request, token: TokenInfo) -> Response:
        try:
            scope, target, reason = _kill_request(await _json_body(request), lift=False)
        except BatchError as exc:
            return _error(400, str(exc))
        order = await run_in_threadpool(store.kill, scope, target, reason, f"{token.name} (token {token.id})")  # type: ignore[arg-type]
        return JSONResponse(_order_json(order), status_code=201)

    async def lift(request: Request, token: TokenInfo) -> Response:
        try:
            scope, target, _ = _kill_request(await _json_body(request), lift=True)
        except BatchError as exc:
            return _error(400, str(exc))
        lifted = await run_in_threadpool(store.lift, scope, target)  # type: ignore[arg-type]
        if not lifted:
            return _error(404, "no kill order for that target")
        return JSONResponse({"lifted": True})

    async def session_orders(request: Request, token: TokenInfo) -> Response:
        mine = token.id if token.kind == "host" else None  # a host sees only its own sessions' orders
        pending = await run_in_threadpool(lambda: store.session_orders(pending_only=True, token_id=mine))
        return JSONResponse({"orders": [session_order_json(o) for o in pending]})

    async def order_session(request: Request, token: TokenInfo) -> Response:
        try:
            kind, session, reason, minutes = _session_order_request(await _json_body(request))
        except BatchError as exc:
            return _error(400, str(exc))
        by = f"{token.name} (token {token.id})"
        order = await run_in_threadpool(
            lambda: store.order_session(kind, session, reason, by, minutes=minutes)  # type: ignore[arg-type]
        )
        return JSONResponse(session_order_json(order), status_code=201)

    async def order_applied(request: Request, token: TokenInfo) -> Response:
        if token.kind != "host":
            return _error(403, "only the host that applied an order acknowledges it")
        try:
            outcome = _ack_request(await _json_body(request))
        except BatchError as exc:
            return _error(400, str(exc))
        order_id = request.path_params["order_id"]
        by = f"{token.name} (token {token.id})"
        try:
            applied = await run_in_threadpool(
                lambda: store.order_applied(order_id, by, outcome, token_id=token.id)
            )
        except PermissionError as exc:
            return _error(403, str(exc))
        if applied is None:
            return _error(404, "no pending order with that id")
        return JSONResponse(session_order_json(applied))

    async def otlp_logs(request: Request, token: TokenInfo) -> Response:
        if token.kind != "host":
            return _error(403, "only host tokens send telemetry")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"body larger than {MAX_BODY} bytes")
        content_type = request.headers.get("content-type", "application/json")
        try:
            found = telemetry_events(telemetry_decode(body, content_type))
        except TelemetryError as exc:
            return _error(400, str(exc))
        await run_in_threadpool(store.telemetry_ingest, token, found)
        if "protobuf" in content_type:
            return Response(b"", media_type="application/x-protobuf")  # an empty ExportLogsServiceResponse
        return JSONResponse({"partialSuccess": {}})

    async def ask(request: Request, token: TokenInfo) -> Response:
        if token.kind != "host":
            return _error(403, "only host tokens ask for approvals")
        try:
            data = await _json_body(request)
            fields = _approval_request(data)
        except BatchError as exc:
            return _error(400, str(exc))
        approval = await run_in_threadpool(
            store.request_approval,
            token.name,
            fields["session"],
            fields["user"],
            fields["tool"],
            fields["summary"],
            fields["reasons"],
            float(fields["wait_seconds"]),
        )
        return JSONResponse(approval._asdict(), status_code=201)

    async def approval(request: Request, token: TokenInfo) -> Response:
        found = await run_in_threadpool(store.approval, request.path_params["approval_id"])
        if found is None or (token.kind == "host" and found.host != token.name):
            return _error(404, "no such approval request")
        return JSONResponse(found._asdict())

    async def approvals(request: Request, token: TokenInfo) -> Response:
        rows = await run_in_threadpool(store.approvals)
        return JSONResponse({"approvals": [a._asdict() for a in rows]})

    async def decide(request: Request, token: TokenInfo) -> Response:
        try:
            data = await _json_body(request)
            if not isinstance(data, dict) or set(data) - {"decision", "reason"}:
                raise BatchError("body: an object with decision and an optional reason")
            verdict, reason = data.get("decision"), data.get("reason", "")
            if verdict not in ("allow", "deny"):
                raise BatchError("decision: must be allow or deny")
            if not isinstance(reason, str) or len(reason) > MAX_REASON:
                raise BatchError(f"reason: a string of at most {MAX_REASON} characters")
        except BatchError as exc:
            return _error(400, str(exc))
        approval_id = request.path_params["approval_id"]
        by = f"{token.name} (token {token.id})"
        answered = await run_in_threadpool(store.decide_approval, approval_id, verdict, by, reason)
        if answered is None:
            known = await run_in_threadpool(store.approval, approval_id)
            if known is None:
                return _error(404, "no such approval request")
            return _error(409, f"the request is {known.state}, no longer pending")
        return JSONResponse(answered._asdict())

    async def alerts(request: Request, token: TokenInfo) -> Response:
        rows = await run_in_threadpool(store.alerts)
        return JSONResponse({"alerts": [a._asdict() for a in rows]})

    async def sessions(request: Request, token: TokenInfo) -> Response:
        rows = await run_in_threadpool(store.sessions)
        return JSONResponse({"sessions": rows})

    async def fleet(request: Request, token: TokenInfo) -> Response:
        rows = await run_in_threadpool(store.logs)
        return JSONResponse({"logs": [r._asdict() for r in rows]})

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/v1/ingest", _guarded(store, ingest, admin=False), methods=["POST"]),
        Route("/v1/kills", _guarded(store, kills, admin=False), methods=["GET"]),
        Route("/v1/kills", _guarded(store, kill, admin=True), methods=["POST"]),
        Route("/v1/kills/lift", _guarded(store, lift, admin=True), methods=["POST"]),
        Route("/v1/orders", _guarded(store, session_orders, admin=False), methods=["GET"]),
        Route("/v1/orders", _guarded(store, order_session, admin=True), methods=["POST"]),
        Route("/v1/orders/{order_id}/ack", _guarded(store, order_applied, admin=False), methods=["POST"]),
        Route("/otlp/v1/logs", _guarded(store, otlp_logs, admin=False), methods=["POST"]),
        Route("/v1/approvals", _guarded(store, ask, admin=False), methods=["POST"]),
        Route("/v1/approvals", _guarded(store, approvals, admin=True), methods=["GET"]),
        Route("/v1/approvals/{approval_id}", _guarded(store, approval, admin=False), methods=["GET"]),
        Route("/v1/approvals/{approval_id}/decide", _guarded(store, decide, admin=True), methods=["POST"]),
        Route("/v1/alerts", _guarded(store, alerts, admin=True), methods=["GET"]),
        Route("/v1/logs", _guarded(store, fleet, admin=True), methods=["GET"]),
        Route("/v1/sessions", _guarded(store, sessions, admin=True), methods=["GET"]),
    ]
    if state_dir is not None:  # the dashboard under /ui (ramparts.server.dashboard; its log in the state dir)
        from .dashboard.web import build

        routes.extend(build(store, state_dir, policy, secure_cookies=cookie_secure, oidc=oidc).routes())
    return Starlette(routes=routes, lifespan=lifespan)


async def _deliveries(store: ServerStore) -> None:
    from .deliver import deliver_due

    while True:
        await asyncio.sleep(1.0)
        try:
            await run_in_threadpool(deliver_due, store)
        except Exception as exc:  # noqa: BLE001 - an observer: log and carry on
            log.error("alert delivery pass failed: %s", exc)


async def _telemetry_checks(store: ServerStore, grace: float) -> None:
    interval = min(max(grace / 2, 0.2), 5.0)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(store.telemetry_check, None, grace)
        except Exception as exc:  # noqa: BLE001 - an observer: log and carry on
            log.error("telemetry check failed: %s", exc)


DB_ENV = "_RAMPARTS_CP_DB"
MONITOR_ENV = "_RAMPARTS_CP_MONITOR"
GRACE_ENV = "_RAMPARTS_CP_TELEMETRY_GRACE"
STATE_ENV = "_RAMPARTS_CP_STATE_DIR"
SECURE_ENV = "_RAMPARTS_CP_COOKIE_SECURE"
POLICY_ENV = "_RAMPARTS_CP_POLICY"
OIDC_ENV = "_RAMPARTS_CP_OIDC"
MTLS_ENV = "_RAMPARTS_CP_MTLS"


def app_from_env() -> Starlette:
    """The app for each of several uvicorn worker processes (``ramparts server --workers N``): the store's
    location and the monitor: section come from the environment ``ramparts server`` sets for them."""
    import os

    from ..monitor import parse_monitor

    section = os.environ.get(MONITOR_ENV, "")
    monitor = parse_monitor(json.loads(section)) if section else None
    grace = float(os.environ.get(GRACE_ENV) or 60.0)
    return create_app(
        ServerStore(os.environ[DB_ENV], monitor=monitor),
        telemetry_grace=grace,
        state_dir=os.environ.get(STATE_ENV) or None,
        cookie_secure=os.environ.get(SECURE_ENV) != "0",
        policy=_policy_from_env(),
        oidc=_oidc_from_env(),
        mtls=os.environ.get(MTLS_ENV) == "1",
    )


def _oidc_from_env() -> Any:
    import os

    path = os.environ.get(OIDC_ENV)
    if not path:
        return None
    from .dashboard.oidc import load_oidc

    return load_oidc(path)


def _policy_from_env() -> Any:
    import os

    ref = os.environ.get(POLICY_ENV)
    if not ref:
        return None
    from ..policy.load import load_policy

    return load_policy(ref)
