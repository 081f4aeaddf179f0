"""The dashboard's pages and actions (served under ``/ui`` by ``ramparts server``).

Sign-in sets an HttpOnly, SameSite=Strict session cookie (``Secure`` on HTTPS or when asked); every POST
carries the session's CSRF token and, when the browser sends one, an ``Origin`` of this server. Viewers see
tool inputs, working directories and finding excerpts hidden (fingerprints stay) and get 403 from every
admin action. Every action (sign-in, failed sign-in, sign-out, kill, lift, acknowledge, try a call) is an
audit record in the control plane's own signed log (``<state dir>/server-audit.db``).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from ...errors import StoreError
from ..store import ServerStore
from ..store.model import MAX_GRANT_MINUTES
from . import queries, svg
from .users import SignedIn, Users

log = logging.getLogger("ramparts.server.dashboard")

PREFIX = "/ui"
COOKIE = "ramparts_dash"
LOGIN_COOKIE = "ramparts_login"
OIDC_COOKIE = "ramparts_oidc"
MAX_FORM = 64 * 1024
STREAM_SECONDS = 600.0
MAX_SESSION = 256  # as the API's kill orders
HIDDEN = "hidden for viewers"
_CURRENT = ' aria-current="page"'
_STATIC = {"app.css": "text/css", "app.js": "text/javascript"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make Chromium send Origin: null
    "Cache-Control": "no-store",
}

Handler = Callable[[Request, SignedIn, dict[str, str]], Awaitable[Response]]


def action_record(
    user: str,
    role: str,
    action: str,
    client: str,
    *,
    ok: bool = True,
    target: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    when: float | None = None,
) -> dict[str, Any]:
    """The audit record of one dashboard action (the ONE place it is built): surface ``server``, event
    ``DashboardAction``, the action in ``admin.action`` (``sign-in``, ``sign-out``, ``kill``, ``lift``,
    ``end``, ``reauth``, ``acknowledge``, ``approval``, ``try-call``), verdict allow when it was done and deny when refused."""
    from ...audit.record import AdminDetail, build_record, to_json
    from ...model import Decision

    when = time.time() if when is None else when
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"
    decision = Decision(
        verdict="allow" if ok else "deny",
        reasons=(f"dashboard {action} by {user or '(not signed in)'} ({role or '-'}) from {client}",),
        rule_ids=(f"dashboard.{action}",),
    )
    record = build_record(
        decision,
        surface="server",
        event="DashboardAction",
        time=stamp,
        user=user,
        session=(target or {}).get("session", ""),
        detail=AdminDetail(
            action=action, target=target, details=dict(details or {}, role=role, client=client)
        ),
        agent="ramparts",
    )
    return to_json(record)  # type: ignore[no-any-return]


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def _ago(when: float, now: float) -> str:
    return _duration(max(0.0, now - when)) + " ago"


def _iso(when: float | None) -> str:
    return "-" if when is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))


def _sid_url(session: str) -> str:
    return f"{PREFIX}/sessions/{quote(session, safe='')}"


def session_rows(rows: list[queries.SessionRow], role: str) -> str:
    """The live sessions table's rows (every value escaped); admins get a Kill button per live row, which
    leads to the confirmation page."""
    if not rows:
        return '<tr><td colspan="9">No sessions have reported yet.</td></tr>'
    out = []
    for r in rows:
        cwd = r.cwd if role == "admin" else (os.path.basename(r.cwd.rstrip("/")) if r.cwd else "")
        last = f"{r.last_decision or '-'} {r.last_tool}".strip()
        action = ""
        if role == "admin":
            action = "<td></td>"
            if r.state != "killed":
                action = (
                    f'<td><form method="get" action="{_sid_url(r.session)}/confirm"><input type="hidden" name="action" '
                    f'value="kill"><button type="submit" class="danger" aria-label="Kill session {escape(r.session)}">'
                    "Kill</button></form></td>"
                )
        out.append(
            f'<tr data-session="{escape(r.session)}"><td><a href="{_sid_url(r.session)}">{escape(r.session)}</a></td>'
            f"<td>{escape(r.user)}</td><td>{escape(r.host)}</td><td>{escape(cwd)}</td>"
            f'<td>{_duration(r.duration)}</td><td><span class="state st-{escape(r.state)}">{escape(r.state)}</span></td>'
            f'<td><span class="d-{escape(r.last_decision or "none")}">{escape(last)}</span></td><td>{r.records}</td>{action}</tr>'
        )
    return "".join(out)


class Dashboard:
    """``Dashboard(store, policy=…, audit_dir=…)``; :meth:`routes` go into the control plane's app."""

    def __init__(
        self,
        store: ServerStore,
        *,
        audit_path: str,
        policy: Any = None,
        policy_error: str = "",
        secure_cookies: bool = False,
        oidc: Any = None,
    ) -> None:
        self.store = store
        self.oidc: Any = None
        if oidc is not None:  # an OidcConfig (ramparts server --oidc FILE)
            from .oidc import Oidc

            self.oidc = Oidc(oidc, store)
        self.users = Users(store)
        queries.ensure_indexes(store)
        self.audit_path = audit_path
        self.policy = policy
        self.policy_error = policy_error
        self.secure_cookies = secure_cookies
        self._audit: Any = None
        self._audit_lock = threading.Lock()
        # the audit store's SQLite connection belongs to one thread: every append runs on this one
        self._audit_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dashboard-audit")

    # -- plumbing ----------------------------------------------------------------------------------------------

    def record(self, record: dict[str, Any]) -> None:
        from ...audit.store import AuditStore

        with self._audit_lock:
            if self._audit is None:
                os.makedirs(os.path.dirname(os.path.abspath(self.audit_path)), mode=0o700, exist_ok=True)
                self._audit = AuditStore(self.audit_path)
            self._audit.append(record)

    async def _act(self, request: Request, user: SignedIn | None, action: str, **kwargs: Any) -> None:
        client = request.client.host if request.client else "?"
        rec = action_record(user.name if user else "", user.role if user else "", action, client, **kwargs)
        await asyncio.get_running_loop().run_in_executor(self._audit_thread, self.record, rec)

    def _page(self, status: int, title: str, body: str, user: SignedIn | None, active: str = "") -> Response:
        nav = ""
        if user is not None:
            links = "".join(
                f'<a href="{PREFIX}{href}"{_CURRENT if name == active else ""}>{name}</a>'
                for name, href in (
                    ("Sessions", "/"),
                    ("Alerts", "/alerts"),
                    ("Approvals", "/approvals"),
                    ("Fleet", "/fleet"),
                    ("Policy", "/policy"),
                    ("Plots", "/plots"),
                )
            )
            nav = (
                f'<nav aria-label="Main">{links}</nav><div class="who"><span>{escape(user.name)} ({user.role})</span>'
                f'<form method="post" action="{PREFIX}/logout"><input type="hidden" name="csrf" value="{user.csrf}">'
                '<button type="submit">Sign out</button></form></div>'
            )
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · Ramparts</title>"
            f'<link rel="stylesheet" href="{PREFIX}/static/app.css"><script src="{PREFIX}/static/app.js" defer></script>'
            '</head><body><a class="skip" href="#main">Skip to content</a>'
            f'<header><span class="brand">Ramparts</span>{nav}'
            '<button type="button" id="theme" aria-pressed="false">Dark theme</button></header>'
            f'<main id="main" tabindex="-1"><h1>{escape(title)}</h1>{body}</main></body></html>'
        )
        return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)

    def _problem(self, status: int, message: str, user: SignedIn | None) -> Response:
        return self._page(
            status,
            {
                401: "Sign in first",
                403: "Not allowed",
                404: "Not found",
                409: "Already answered",
                429: "Too many attempts",
            }.get(status, "Error"),
            f'<p role="alert">{escape(message)}</p>',
            user,
        )

    async def _form(self, request: Request) -> dict[str, str]:
        body = await request.body()
        if len(body) > MAX_FORM:
            raise ValueError("form too large")
        parsed = parse_qs(body.decode("utf-8", "strict"), keep_blank_values=True, max_num_fields=50)
        return {k: v[0] for k, v in parsed.items()}

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if not origin or origin == "null":
            return origin is None
        return urlsplit(origin).netloc == request.headers.get("host", "")

    def _guard(self, handler: Handler, *, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                user = await run_in_threadpool(self.users.session, request.cookies.get(COOKIE, ""))
                if user is None:
                    if request.method == "GET":
                        return RedirectResponse(f"{PREFIX}/login", status_code=303)
                    return self._problem(401, "Your session has ended; sign in again.", None)
                if admin and user.role != "admin":
                    return self._problem(403, "Viewers can look but not change anything.", user)
                form: dict[str, str] = {}
                if request.method == "POST":
                    try:
                        form = await self._form(request)
                    except (ValueError, UnicodeDecodeError):
                        return self._problem(400, "The form could not be read.", user)
                    if not self._same_origin(request) or not hmac.compare_digest(
                        form.get("csrf", "").encode(), user.csrf.encode()
                    ):
                        return self._problem(
                            403, "The form's CSRF token is missing or wrong; reload the page.", user
                        )
                return await handler(request, user, form)
            except StoreError as exc:
                log.error("dashboard: store error: %s", exc)
                return self._problem(503, "The control plane's store is unavailable.", None)

        return endpoint

    async def api_sessions(self, request: Request, token: Any) -> Response:
        """``GET /v1/sessions`` (admin token): the live sessions, as ``ramparts watch`` reads them."""
        rows = await run_in_threadpool(queries.live_sessions, self.store)
        return Response(json.dumps({"sessions": [r._asdict() for r in rows]}), media_type="application/json")

    def routes(self) -> list[Route]:
        from ..app import _guarded

        g = self._guard
        return [
            Route("/v1/sessions", _guarded(self.store, self.api_sessions, admin=True), methods=["GET"]),
            Route("/", lambda r: RedirectResponse(f"{PREFIX}/", status_code=303), methods=["GET"]),
            Route(f"{PREFIX}/static/{{name}}", self.static, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login_form, methods=["GET"]),
            Route(f"{PREFIX}/login", self.login, methods=["POST"]),
            Route(f"{PREFIX}/logout", g(self.logout), methods=["POST"]),
            Route(f"{PREFIX}/oidc/start", self.oidc_start, methods=["GET"]),
            Route(f"{PREFIX}/oidc/callback", self.oidc_callback, methods=["GET"], name="oidc_callback"),
            Route(f"{PREFIX}/", g(self.sessions_page), methods=["GET"]),
            Route(f"{PREFIX}/events", g(self.events), methods=["GET"]),
            Route(f"{PREFIX}/sessions/{{sid}}", g(self.timeline), methods=["GET"]),
            Route(f"{PREFIX}/sessions/{{sid}}/confirm", g(self.confirm, admin=True), methods=["GET"]),
            Route(f"{PREFIX}/sessions/{{sid}}/kill", g(self.kill, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/sessions/{{sid}}/lift", g(self.lift, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/sessions/{{sid}}/end", g(self.end, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/sessions/{{sid}}/reauth", g(self.reauth, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/alerts", g(self.alerts_page), methods=["GET"]),
            Route(f"{PREFIX}/alerts/{{aid:int}}/ack", g(self.acknowledge, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/approvals", g(self.approvals_page), methods=["GET"]),
            Route(f"{PREFIX}/approvals/{{approval_id}}", g(self.answer, admin=True), methods=["POST"]),
            Route(f"{PREFIX}/fleet", g(self.fleet_page), methods=["GET"]),
            Route(f"{PREFIX}/policy", g(self.policy_page), methods=["GET"]),
            Route(f"{PREFIX}/policy/try", g(self.try_call), methods=["POST"]),
            Route(f"{PREFIX}/plots", g(self.plots_page), methods=["GET"]),
        ]

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response("not found", status_code=404)
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        return Response(
            data,
            media_type=_STATIC[name],
            headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    # -- sign-in -----------------------------------------------------------------------------------------------

    def _login_page(self, status: int, message: str = "") -> Response:
        token = secrets.token_urlsafe(24)
        alert = f'<p role="alert" class="error">{escape(message)}</p>' if message else ""
        body = (
            f'{alert}<form method="post" action="{PREFIX}/login" class="login">'
            f'<input type="hidden" name="csrf" value="{token}">'
            '<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>'
            '<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>'
            '<button type="submit">Sign in</button></form>'
        )
        if self.oidc is not None:
            body += f'<p class="sso"><a class="button" href="{PREFIX}/oidc/start">Sign in with SSO</a></p>'
        resp = self._page(status, "Sign in", body, None)
        resp.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path=f"{PREFIX}/login",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies,
        )
        return resp

    async def login_form(self, request: Request) -> Response:
        return self._login_page(200)

    async def login(self, request: Request) -> Response:
        try:
            form = await self._form(request)
        except (ValueError, UnicodeDecodeError):
            return self._login_page(400, "The form could not be read.")
        token = request.cookies.get(LOGIN_COOKIE, "")
        if (
            not token
            or not self._same_origin(request)
            or not hmac.compare_digest(form.get("csrf", "").encode(), token.encode())
        ):
            return self._login_page(403, "The sign-in form expired; try again.")
        name, password = form.get("username", "")[:64], form.get("password", "")[:1024]
        client = request.client.host if request.client else "?"
        try:
            result = await run_in_threadpool(self.users.login, name, password, client)
        except StoreError:
            return self._problem(503, "The control plane's store is unavailable.", None)
        if result.limited:
            await self._act(request, None, "sign-in", ok=False, details={"name": name, "why": "rate limited"})
            return self._login_page(429, "Too many failed sign-ins: wait a minute and try again.")
        if not result.ok or result.user is None:
            await self._act(
                request, None, "sign-in", ok=False, details={"name": name, "why": "wrong name or password"}
            )
            return self._login_page(401, "Wrong username or password.")
        await self._act(request, result.user, "sign-in")
        resp = RedirectResponse(f"{PREFIX}/", status_code=303)
        resp.set_cookie(
            COOKIE,
            result.session,
            max_age=int(result.user.expires - time.time()),
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies or request.url.scheme == "https",
        )
        resp.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
        return resp

    # -- OpenID Connect (oidc.py) ------------------------------------------------------------------------------

    def _callback_url(self, request: Request) -> str:
        return str(request.url_for("oidc_callback"))

    async def oidc_start(self, request: Request) -> Response:
        from .oidc import OidcError

        if self.oidc is None:
            return self._problem(404, "Single sign-on is not configured.", None)
        try:
            url, binding = await run_in_threadpool(self.oidc.start, self._callback_url(request))
        except (OidcError, StoreError) as exc:
            await self._act(request, None, "sign-in", ok=False, details={"method": "oidc", "why": str(exc)})
            return self._login_page(503, f"Single sign-on is unavailable: {exc}")
        resp = RedirectResponse(url, status_code=303)
        # Lax: the provider's redirect back is a cross-site navigation, which a Strict cookie would miss
        resp.set_cookie(
            OIDC_COOKIE,
            binding,
            max_age=600,
            path=f"{PREFIX}/oidc",
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies or request.url.scheme == "https",
        )
        return resp

    async def oidc_callback(self, request: Request) -> Response:
        from .oidc import OidcError

        if self.oidc is None:
            return self._problem(404, "Single sign-on is not configured.", None)
        params = {k: v for k, v in request.query_params.items() if k in ("state", "code", "error")}
        try:
            flow = await run_in_threadpool(self.oidc.finish, params, request.cookies.get(OIDC_COOKIE, ""))
            result = await run_in_threadpool(self.users.sso_login, flow.name, flow.role)
        except (OidcError, StoreError) as exc:
            await self._act(request, None, "sign-in", ok=False, details={"method": "oidc", "why": str(exc)})
            resp = self._login_page(403, f"Single sign-on failed: {exc}")
            resp.delete_cookie(OIDC_COOKIE, path=f"{PREFIX}/oidc")
            return resp
        assert result.user is not None
        await self._act(
            request, result.user, "sign-in", details={"method": "oidc", "subject": flow.subject[:200]}
        )
        # a page of our own that moves on to /ui/: the session cookie is SameSite=Strict, and the browser
        # would not send it on a redirect chain that a cross-site navigation (the provider's) started
        body = (
            f'<meta http-equiv="refresh" content="0;url={PREFIX}/"><p>Signed in as {escape(result.user.name)}. '
            f'<a href="{PREFIX}/">Continue</a></p>'
        )
        resp = self._page(200, "Signed in", body, None)
        resp.set_cookie(
            COOKIE,
            result.session,
            max_age=int(result.user.expires - time.time()),
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies or request.url.scheme == "https",
        )
        resp.delete_cookie(OIDC_COOKIE, path=f"{PREFIX}/oidc")
        return resp

    async def logout(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        await run_in_threadpool(self.users.logout, request.cookies.get(COOKIE, ""))
        await self._act(request, user, "sign-out")
        resp = RedirectResponse(f"{PREFIX}/login", status_code=303)
        resp.delete_cookie(COOKIE, path=PREFIX)
        return resp

    # -- live sessions -------------------------------------------------------------------------------------------

    async def sessions_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        rows = await run_in_threadpool(queries.live_sessions, self.store)
        body = (
            '<p class="hint">Updates live. States: live, idle (no record for 5 min), tainted, ended, killed.</p>'
            f'<table class="grid" aria-describedby="sessions-caption"><caption id="sessions-caption" aria-live="polite">Sessions ({len(rows)})</caption>'
            "<thead><tr><th scope=col>Session</th><th scope=col>User</th><th scope=col>Host</th><th scope=col>Repository</th>"
            "<th scope=col>Duration</th><th scope=col>State</th><th scope=col>Last decision</th><th scope=col>Records</th>"
            f"{'<th scope=col>Action</th>' if user.role == 'admin' else ''}</tr></thead>"
            f'<tbody id="sessions-body" data-events="{PREFIX}/events">{session_rows(rows, user.role)}</tbody></table>'
        )
        return self._page(200, "Live sessions", body, user, "Sessions")

    async def events(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        secret = request.cookies.get(COOKIE, "")

        async def stream() -> AsyncIterator[bytes]:
            sent, started, checked = "", time.monotonic(), time.monotonic()
            yield b"retry: 2000\n\n"
            while time.monotonic() - started < STREAM_SECONDS:
                if await request.is_disconnected():
                    return
                try:
                    if time.monotonic() - checked > 15:  # a signed-out or removed user's stream ends
                        checked = time.monotonic()
                        if await run_in_threadpool(self.users.session, secret) is None:
                            return
                    rows = await run_in_threadpool(queries.live_sessions, self.store)
                except StoreError:
                    return
                html = session_rows(rows, user.role)
                if html != sent:
                    sent = html
                    yield f"event: sessions\ndata: {json.dumps({'html': html, 'count': len(rows)})}\n\n".encode()
                else:
                    yield b": keep-alive\n\n"
                await asyncio.sleep(1.0)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    # -- a session's timeline -----------------------------------------------------------------------------------

    async def timeline(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        sid = request.path_params["sid"]

        def load() -> tuple[Any, list[dict[str, Any]], Any, list[Any]]:
            row = queries.session_state(self.store, sid)
            recs = [queries.normal(r) for r in self.store.session_records(sid, limit=2000)]
            order = queries.kill_order(self.store, sid, row.user if row else "")
            return row, recs, order, self.store.session_orders(session=sid)

        row, recs, order, orders = await run_in_threadpool(load)
        if row is None:
            return self._problem(404, "No records for that session.", user)
        admin = user.role == "admin"
        facts = (
            f'<dl class="facts"><dt>User</dt><dd>{escape(row.user)}</dd><dt>Host</dt><dd>{escape(row.host)}</dd>'
            f"<dt>Repository</dt><dd>{escape(row.cwd if admin else HIDDEN)}</dd><dt>Duration</dt><dd>{_duration(row.duration)}</dd>"
            f'<dt>State</dt><dd><span class="state st-{row.state}" id="session-state">{row.state}</span></dd>'
        )
        if order is not None:
            facts += f"<dt>Kill order</dt><dd>{escape(order.reason)} (by {escape(order.by)}, {_iso(order.at)} UTC)</dd>"
        facts += "</dl>"
        actions = ""
        if admin:
            base = _sid_url(sid) + "/confirm"
            actions = '<div class="actions">'
            actions += f'<form method="get" action="{base}"><input type="hidden" name="action" value="kill"><button type="submit" class="danger">Kill</button></form>'
            if order is not None and order.scope == "session":
                actions += f'<form method="get" action="{base}"><input type="hidden" name="action" value="lift"><button type="submit">Lift kill</button></form>'
            if row.state != "ended":
                actions += f'<form method="get" action="{base}"><input type="hidden" name="action" value="end"><button type="submit">End session</button></form>'
                actions += f'<form method="get" action="{base}"><input type="hidden" name="action" value="reauth"><button type="submit">Grant re-auth</button></form>'
            actions += "</div>"
        if orders:
            lines = []
            for o in orders:
                what = "End" if o.kind == "end" else f"Grant re-auth ({o.minutes:g} min)"
                done = (
                    f"applied {_iso(o.applied_at)} UTC by {escape(o.applied_by)}: {escape(o.outcome)}"
                    if o.state == "applied"
                    else "waiting for the host"
                )
                lines.append(
                    f'<tr><td>{what}</td><td><span class="state order-{o.state}">{o.state}</span></td>'
                    f"<td>{escape(o.reason)}</td><td>{escape(o.by)}, {_iso(o.created)} UTC</td><td>{done}</td></tr>"
                )
            actions += (
                '<table class="grid" id="orders"><caption>Orders for this session</caption><thead><tr>'
                "<th scope=col>Order</th><th scope=col>State</th><th scope=col>Reason</th><th scope=col>Given</th>"
                f"<th scope=col>Applied</th></tr></thead><tbody>{''.join(lines)}</tbody></table>"
            )
        threshold = queries.rate_threshold(self.store)
        chart = svg.rate_chart(
            queries.rate_series(recs, threshold[1] if threshold else 60.0),
            threshold[0] if threshold else None,
            threshold[1] if threshold else 60.0,
        )
        items = []
        for rec in reversed(recs):
            found = ", ".join(
                f"{f.get('detector', '?')}:{f.get('fingerprint') or '-'}"
                + (f" ({f.get('excerpt')})" if admin and f.get("excerpt") else "")
                for f in queries.findings(rec)
            )
            hook = rec.get("hook") or {}
            detail = rec.get("hook") or rec.get("gateway") or rec.get("egress") or rec.get("admin") or {}
            shown = (hook.get("input") if hook else detail) if admin else HIDDEN
            decision = rec.get("decision") or "none"
            items.append(
                f"<tr><td>{escape(str(rec.get('time', '')))}</td><td>{escape(str(rec.get('surface', '')))} {escape(str(rec.get('event', '')))}</td>"
                f'<td>{escape(str(rec.get("tool", "")))}</td><td><span class="d-{escape(decision)}">{escape(decision)}</span></td>'
                f"<td>{escape(', '.join(rec.get('rule_ids') or ()))}</td><td>{escape('; '.join(rec.get('reasons') or ()))}</td>"
                f"<td>{escape(found)}</td><td><code>{escape(json.dumps(shown)[:300] if shown != HIDDEN else HIDDEN)}</code></td></tr>"
            )
        body = (
            facts
            + actions
            + f"<figure>{chart}<figcaption>Tool-call rate against the rule threshold</figcaption></figure>"
            f'<table class="grid"><caption>Timeline ({len(recs)} records, newest first)</caption><thead><tr>'
            "<th scope=col>Time</th><th scope=col>Event</th><th scope=col>Tool</th><th scope=col>Decision</th>"
            "<th scope=col>Rules</th><th scope=col>Reasons</th><th scope=col>Findings</th><th scope=col>Input</th></tr></thead>"
            f"<tbody>{''.join(items)}</tbody></table>"
        )
        return self._page(200, f"Session {sid}", body, user, "Sessions")

    async def confirm(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        sid = request.path_params["sid"]
        if len(sid) > MAX_SESSION:
            return self._problem(400, f"A session id has at most {MAX_SESSION} characters.", user)
        action = request.query_params.get("action", "")
        questions = {
            "kill": f"Kill session {sid}? Every further tool call of it is denied on every host within seconds.",
            "lift": f"Lift the kill order of session {sid}? Its tool calls are judged by the policy again.",
            "end": f"End session {sid}? The host that runs it closes it: its next tool call is denied, and it "
            "cannot be resumed.",
            "reauth": f"Grant session {sid} re-authentication? Its sensitive operations (network hosts, "
            "protected paths) are allowed without asking until the grant ends.",
        }
        if action not in questions:
            return self._problem(400, "Unknown action.", user)
        question = questions[action]
        defaults = {
            "kill": "stopped from the dashboard",
            "end": "ended from the dashboard",
            "reauth": "step-up confirmed",
        }
        reason = (
            f'<label for="reason">Reason</label><input id="reason" name="reason" maxlength="500" value="{defaults[action]}">'
            if action in defaults
            else ""
        )
        if action == "reauth":
            reason += (
                '<label for="minutes">Minutes</label>'
                f'<input id="minutes" name="minutes" type="number" min="1" max="{MAX_GRANT_MINUTES:g}" value="15">'
            )
        body = (
            f'<form method="post" action="{_sid_url(sid)}/{action}" class="confirm"><p>{escape(question)}</p>'
            f'<input type="hidden" name="csrf" value="{user.csrf}">{reason}'
            f'<div class="actions"><button type="submit" class="danger" autofocus>Confirm</button>'
            f'<a href="{_sid_url(sid)}">Cancel</a></div></form>'
        )
        return self._page(200, "Confirm", body, user, "Sessions")

    async def kill(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        sid = request.path_params["sid"]
        if len(sid) > MAX_SESSION:
            return self._problem(400, f"A session id has at most {MAX_SESSION} characters.", user)
        reason = (form.get("reason") or "stopped from the dashboard")[:500]
        # recorded first: a kill that cannot be recorded is not given
        await self._act(request, user, "kill", target={"session": sid}, details={"reason": reason})
        await run_in_threadpool(self.store.kill, "session", sid, reason, f"{user.name} (dashboard)")
        return RedirectResponse(_sid_url(sid), status_code=303)

    async def end(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        return await self._order(request, user, form, "end")

    async def reauth(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        return await self._order(request, user, form, "reauth")

    async def _order(self, request: Request, user: SignedIn, form: dict[str, str], kind: str) -> Response:
        """An end or re-auth order for the session's host (:mod:`ramparts.server.host_orders` applies it)."""
        sid = request.path_params["sid"]
        if len(sid) > MAX_SESSION:
            return self._problem(400, f"A session id has at most {MAX_SESSION} characters.", user)
        reason = (
            form.get("reason") or ("ended from the dashboard" if kind == "end" else "step-up confirmed")
        )[:500]
        minutes = 0.0
        if kind == "reauth":
            try:
                minutes = float(form.get("minutes") or "15")
            except ValueError:
                minutes = -1.0
            if not 1 <= minutes <= MAX_GRANT_MINUTES:
                return self._problem(400, f"A grant lasts 1 to {MAX_GRANT_MINUTES:g} minutes.", user)
        details: dict[str, Any] = {"reason": reason} | ({"minutes": minutes} if kind == "reauth" else {})
        # recorded first: an order that cannot be recorded is not given
        await self._act(request, user, kind, target={"session": sid}, details=details)
        by = f"{user.name} (dashboard)"
        await run_in_threadpool(
            lambda: self.store.order_session(kind, sid, reason, by, minutes=minutes)  # type: ignore[arg-type]
        )
        return RedirectResponse(_sid_url(sid), status_code=303)

    async def lift(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        sid = request.path_params["sid"]
        lifted = await run_in_threadpool(self.store.lift, "session", sid)
        await self._act(request, user, "lift", ok=lifted, target={"session": sid})
        return RedirectResponse(_sid_url(sid), status_code=303)

    # -- alerts, fleet -------------------------------------------------------------------------------------------

    async def alerts_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        alerts = await run_in_threadpool(self.store.alerts, 500)
        rows = []
        for a in alerts:
            if a.acknowledged is not None:
                ack = f"acknowledged {_iso(a.acknowledged)}"
            elif user.role == "admin":
                ack = (
                    f'<form method="post" action="{PREFIX}/alerts/{a.id}/ack"><input type="hidden" name="csrf" value="{user.csrf}">'
                    f'<button type="submit" aria-label="Acknowledge alert {a.id}">Acknowledge</button></form>'
                )
            else:
                ack = "open"
            session = f'<a href="{_sid_url(a.session)}">{escape(a.session)}</a>' if a.session else "-"
            rows.append(
                f'<tr><td>{_iso(a.at)}</td><td><span class="sev-{escape(a.severity)}">{escape(a.severity)}</span></td>'
                f"<td>{escape(a.rule)}</td><td>{escape(a.host)}</td><td>{escape(a.user)}</td><td>{session}</td>"
                f"<td>{escape(a.message)}</td><td>{escape(a.response or '-')}</td><td>{ack}</td></tr>"
            )
        body = (
            f'<p class="hint">Requests waiting for a person: <a href="{PREFIX}/approvals">Approvals</a>.</p>'
            f'<table class="grid"><caption>Alerts ({len(alerts)}, newest first)</caption><thead><tr><th scope=col>Time (UTC)</th>'
            "<th scope=col>Severity</th><th scope=col>Rule</th><th scope=col>Host</th><th scope=col>User</th><th scope=col>Session</th>"
            "<th scope=col>Message</th><th scope=col>Response</th><th scope=col>Acknowledged</th></tr></thead>"
            f"<tbody>{''.join(rows) or '<tr><td colspan=9>No alerts.</td></tr>'}</tbody></table>"
        )
        return self._page(200, "Alerts", body, user, "Alerts")

    async def acknowledge(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        aid = int(request.path_params["aid"])
        done = await run_in_threadpool(self.store.acknowledge, aid)
        await self._act(request, user, "acknowledge", ok=done, target={"alert": str(aid)})
        return RedirectResponse(f"{PREFIX}/alerts", status_code=303)

    async def approvals_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        items = await run_in_threadpool(self.store.approvals)
        admin = user.role == "admin"
        rows = []
        for a in items:
            if a.state == "pending" and admin:
                what = f"{escape(a.tool)} in session {escape(a.session)}"
                answer = (
                    f'<form method="post" action="{PREFIX}/approvals/{quote(a.id, safe="")}" class="actions">'
                    f'<input type="hidden" name="csrf" value="{user.csrf}">'
                    f'<button type="submit" name="decision" value="allow" aria-label="Allow {what}">Allow</button>'
                    f'<button type="submit" name="decision" value="deny" class="danger" aria-label="Deny {what}">Deny</button></form>'
                )
            else:
                answer = escape(a.decided_by or a.state)
            rows.append(
                f"<tr><td>{_iso(a.created)}</td><td>{escape(a.state)}</td><td>{escape(a.host)}</td>"
                f'<td><a href="{_sid_url(a.session)}">{escape(a.session)}</a></td><td>{escape(a.user)}</td><td>{escape(a.tool)}</td>'
                f"<td><code>{escape(a.summary if admin else HIDDEN)}</code></td><td>{escape(a.reasons)}</td><td>{answer}</td></tr>"
            )
        body = (
            '<p class="hint">Calls a rule asks about, waiting for a person (<code>server.approvals: remote</code>); '
            "no answer before the hook's deadline denies.</p>"
            f'<table class="grid"><caption>Approval requests ({len(items)})</caption><thead><tr><th scope=col>Asked (UTC)</th>'
            "<th scope=col>State</th><th scope=col>Host</th><th scope=col>Session</th><th scope=col>User</th><th scope=col>Tool</th>"
            "<th scope=col>Input (redacted)</th><th scope=col>Why asked</th><th scope=col>Answer</th></tr></thead>"
            f"<tbody>{''.join(rows) or '<tr><td colspan=9>No requests.</td></tr>'}</tbody></table>"
        )
        return self._page(200, "Approvals", body, user, "Approvals")

    async def answer(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        verdict = form.get("decision", "")
        if verdict not in ("allow", "deny"):
            return self._problem(400, "The answer is allow or deny.", user)
        approval_id = request.path_params["approval_id"]
        # recorded first: an answer that cannot be recorded is not given
        await self._act(
            request, user, "approval", target={"approval": approval_id}, details={"verdict": verdict}
        )
        answered = await run_in_threadpool(
            self.store.decide_approval,
            approval_id,
            verdict,
            f"{user.name} (dashboard)",
            "answered in the dashboard",
        )
        if answered is None:
            return self._problem(409, "That request is no longer pending (answered or expired).", user)
        return RedirectResponse(f"{PREFIX}/approvals", status_code=303)

    async def fleet_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        logs = await run_in_threadpool(self.store.logs)
        now = time.time()
        rows = []
        for lg in logs:
            marks = []
            if lg.state == "rewritten":
                marks.append('<span class="state st-killed">rewrote history</span>')
            if now - lg.last_seen > queries.STALE_AFTER:
                marks.append('<span class="state st-idle">stopped reporting</span>')
            state = " ".join(marks) or '<span class="state st-live">ok</span>'
            rows.append(
                f"<tr><td>{escape(lg.host)}</td><td><code>{escape(lg.log_id[:16])}</code></td><td>{state}</td>"
                f"<td>{lg.size}</td><td>{lg.verified_size}</td><td>{_ago(lg.last_seen, now)}</td><td>{escape(lg.problem or '-')}</td></tr>"
            )
        body = (
            f'<table class="grid"><caption>Host audit logs ({len(logs)})</caption><thead><tr><th scope=col>Host</th><th scope=col>Log</th>'
            "<th scope=col>State</th><th scope=col>Log size</th><th scope=col>Last verified checkpoint</th><th scope=col>Last report</th>"
            f"<th scope=col>Problem</th></tr></thead><tbody>{''.join(rows) or '<tr><td colspan=7>No host has reported.</td></tr>'}</tbody></table>"
        )
        return self._page(200, "Fleet integrity", body, user, "Fleet")

    # -- policy ------------------------------------------------------------------------------------------------

    def _policy_body(self, user: SignedIn, tried: str = "", values: dict[str, str] | None = None) -> str:
        values = values or {}
        p = self.policy
        if p is None:
            summary = f'<p role="alert">No policy loaded: {escape(self.policy_error or "start the server with --policy")}</p>'
        else:
            lists = "".join(
                f'<h3>{name} ({len(rules)})</h3><ul class="rules">'
                + "".join(f"<li><code>{escape(r.id)}</code></li>" for r in rules[:200])
                + "</ul>"
                for name, rules in (("deny", p.deny), ("ask", p.ask), ("allow", p.allow))
            )
            monitor = "".join(
                f"<tr><td><code>{escape(r.id)}</code></td><td>{escape(r.kind)}</td><td>{escape(r.severity)}</td><td>{r.threshold:g}</td></tr>"
                for r in self.store.monitor.rules
            )
            summary = (
                f'<dl class="facts"><dt>Source</dt><dd>{escape(p.source)}</dd><dt>Revision</dt><dd><code>{escape(p.revision[:16])}</code></dd>'
                f"<dt>Mode</dt><dd>{escape(p.mode)}</dd><dt>Default</dt><dd>{escape(p.default)}</dd></dl>{lists}"
                f'<table class="grid"><caption>Behaviour rules</caption><thead><tr><th scope=col>Rule</th><th scope=col>Kind</th>'
                f"<th scope=col>Severity</th><th scope=col>Threshold</th></tr></thead><tbody>{monitor}</tbody></table>"
            )
        box = (
            f'<form method="post" action="{PREFIX}/policy/try" class="try"><h2>Try a call</h2>'
            f'<input type="hidden" name="csrf" value="{user.csrf}">'
            f'<label for="tool">Tool</label><input id="tool" name="tool" value="{escape(values.get("tool", "Bash"))}" maxlength="100">'
            f'<label for="argument">Command or path</label><input id="argument" name="argument" value="{escape(values.get("argument", ""))}" maxlength="4000">'
            f'<label for="cwd">Working directory</label><input id="cwd" name="cwd" value="{escape(values.get("cwd", "/work/project"))}" maxlength="1000">'
            f'<button type="submit">Explain</button></form>{tried}'
        )
        return box + summary

    async def policy_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        return self._page(200, "Policy", self._policy_body(user), user, "Policy")

    async def try_call(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        from ...explain import explain_input, tool_input_for

        tool, argument, cwd = (
            form.get("tool", "").strip(),
            form.get("argument", ""),
            form.get("cwd", "") or "/",
        )
        if self.policy is None:
            out = '<p role="alert">No policy loaded: nothing to explain.</p>'
        elif not tool or not os.path.isabs(cwd):
            out = '<p role="alert">Name a tool and an absolute working directory.</p>'
        else:
            decision = await run_in_threadpool(
                explain_input, self.policy, tool, tool_input_for(tool, argument, cwd), cwd
            )
            await self._act(
                request, user, "try-call", details={"tool": tool[:100], "verdict": decision.verdict}
            )
            out = (
                f'<section aria-labelledby="result" class="result"><h2 id="result">Decision: <span class="d-{decision.verdict}">{decision.verdict.upper()}</span></h2>'
                f"<p>Rules: {escape(', '.join(decision.rule_ids) or 'none')}</p><ul>"
                + "".join(f"<li>{escape(r)}</li>" for r in decision.reasons)
                + '</ul><ol class="trace">'
                + "".join(f"<li>{escape(t)}</li>" for t in decision.trace)
                + "</ol></section>"
            )
        return self._page(200, "Policy", self._policy_body(user, out, form), user, "Policy")

    # -- plots -------------------------------------------------------------------------------------------------

    async def plots_page(self, request: Request, user: SignedIn, form: dict[str, str]) -> Response:
        def load() -> str:
            hours, rules = queries.plot_data(self.store)
            threshold = queries.rate_threshold(self.store)
            calls, window = threshold if threshold else (None, 60.0)
            charts = []
            for row in queries.live_sessions(self.store)[:3]:
                series = queries.rate_series(self.store.session_records(row.session, limit=2000), window)
                charts.append(
                    f"<figure>{svg.rate_chart(series, calls, window)}<figcaption>Session {escape(row.session)}</figcaption></figure>"
                )
            return (
                f"<figure>{svg.hourly_chart(hours)}<figcaption>Decisions per hour (UTC), last 24 hours</figcaption></figure>"
                f"<figure>{svg.bars_chart(rules, 'Top rules')}<figcaption>Rules named most by the latest deny and ask decisions</figcaption></figure>"
                "<h2>Tool-call rate of the latest sessions</h2>" + "".join(charts)
            )

        return self._page(200, "Plots", await run_in_threadpool(load), user, "Plots")


DASHBOARD_ENV = "_RAMPARTS_CP_DASHBOARD"


def build(
    store: ServerStore, state_dir: str, policy: Any = None, *, secure_cookies: bool = False, oidc: Any = None
) -> Dashboard:
    """The dashboard of ``ramparts server``: its action log ``<state_dir>/server-audit.db`` and the policy
    the server runs with (a loaded ``Policy``; the baseline profile when None) for the policy page and
    "try a call"."""
    from ...policy.load import load_policy

    error = ""
    if policy is None:
        try:
            policy = load_policy("profile:baseline")
        except Exception as exc:  # noqa: BLE001 - shown on the policy page; try-a-call then explains nothing
            error = f"profile:baseline: {exc}"
    return Dashboard(
        store,
        audit_path=os.path.join(state_dir, "server-audit.db"),
        policy=policy,
        policy_error=error,
        secure_cookies=secure_cookies,
        oidc=oidc,
    )
