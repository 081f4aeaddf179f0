"""The dashboard's first pages (issue 19): sign-in, live sessions with a kill button for admins, alerts.

Server-rendered HTML (Jinja2, autoescaped, templates in this module: no CDN, no network); the sessions
table updates live through server-sent events (``/ui/events``, rows rendered server-side, one small
script served from here). People are
added with ``ramparts server user add NAME --role admin|viewer --password-stdin`` (argon2id hashes).
Sessions are a signed cookie (HttpOnly, SameSite=Strict, Secure unless the server listens on loopback);
every form carries a per-session CSRF token; failed sign-ins are limited per user name and per client
address (5 in 5 minutes, in this process). Viewers see the same pages without any button and get 403
from every action. Every sign-in, failed sign-in and action is appended to the control plane's own audit
log (``<state dir>/server-audit.db``) as a ``surface: server`` record.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from .store import ServerStore

MAX_FAILURES = 5
FAILURE_WINDOW = 300.0

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{% block title %}Ramparts{% endblock %} · Ramparts control plane</title>
<style>
:root { color-scheme: light dark; --fg:#1b1f24; --bg:#fff; --muted:#57606a; --line:#d0d7de; --bad:#cf222e; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6edf3; --bg:#0d1117; --muted:#8b949e; --line:#30363d; --bad:#f85149; } }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0 auto; max-width: 72rem; padding: 1rem; }
nav a, nav form { margin-right: 1rem; display: inline; } table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.muted { color: var(--muted); } .killed, .high { color: var(--bad); font-weight: 600; }
button { font: inherit; padding: .25rem .8rem; cursor: pointer; } label { display: block; margin: .5rem 0 .2rem; }
:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
</style></head><body>
{% if user %}<nav aria-label="Main"><a href="/ui/">Sessions</a><a href="/ui/alerts">Alerts</a>
<a href="/ui/approvals">Approvals</a><a href="/ui/fleet">Fleet</a><a href="/ui/policy">Policy</a>
<span class="muted">{{ user.name }} ({{ user.role }})</span>
<form method="post" action="/ui/logout"><input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit">Sign out</button></form></nav>{% endif %}
<main>{% block main %}{% endblock %}</main></body></html>"""

_LOGIN = """{% extends "base" %}{% block title %}Sign in{% endblock %}{% block main %}
<h1>Sign in</h1>{% if error %}<p role="alert" class="killed">{{ error }}</p>{% endif %}
<form method="post" action="/ui/login"><input type="hidden" name="csrf" value="{{ csrf }}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">Sign in</button></p></form>{% endblock %}"""

_ROWS = """{% for s in sessions %}<tr>
<td><a href="/ui/sessions/{{ s.session|urlencode }}"><code>{{ s.session }}</code></a></td><td>{{ s.user }}</td>
<td>{{ s.host }}</td><td>{{ s.records }}</td>
<td>{{ s.last }}</td><td>{{ s.last_decision }}</td><td class="{{ s.state }}">{{ s.state }}</td>
{% if user.role == "admin" %}<td>{% if s.state != "killed" %}<form method="get" action="/ui/sessions/{{ s.session|urlencode }}/kill">
<button type="submit" aria-label="Kill session {{ s.session }}">Kill</button></form>{% endif %}</td>{% endif %}
</tr>{% else %}<tr><td colspan="8" class="muted">No session has reported yet.</td></tr>{% endfor %}"""

_SESSIONS = """{% extends "base" %}{% block title %}Sessions{% endblock %}{% block main %}
<h1>Sessions</h1>{% if notice %}<p role="status">{{ notice }}</p>{% endif %}
<p class="muted" id="live-state">Updates live.</p>
<table aria-label="Sessions"><thead><tr><th>Session</th><th>User</th><th>Host</th><th>Records</th>
<th>Last activity</th><th>Last decision</th><th>State</th>{% if user.role == "admin" %}<th>Action</th>{% endif %}</tr></thead>
<tbody id="sessions-body">{% include "rows" %}</tbody></table>
<script src="/ui/live.js"></script>{% endblock %}"""

_LIVE_JS = """// Replaces the sessions table's rows with what the server streams (rendered and escaped server-side).
(function () {
  var body = document.getElementById("sessions-body");
  if (!body || !window.EventSource) { return; }
  var source = new EventSource("/ui/events");
  source.onmessage = function (event) { body.innerHTML = JSON.parse(event.data).rows; };
  source.onerror = function () { document.getElementById("live-state").textContent = "Live updates paused; reload."; };
})();
"""

_CONFIRM = """{% extends "base" %}{% block title %}Kill {{ session }}{% endblock %}{% block main %}
<h1>Kill session <code>{{ session }}</code>?</h1>
<p>Every later tool call of this session, on whatever host it runs, is denied until the order is lifted.</p>
<form method="post" action="/ui/sessions/{{ session|urlencode }}/kill"><input type="hidden" name="csrf" value="{{ csrf }}">
<label for="reason">Reason</label><input id="reason" name="reason" value="stopped from the dashboard" maxlength="500">
<p><button type="submit">Confirm</button> <a href="/ui/">Cancel</a></p></form>{% endblock %}"""

_ALERTS = """{% extends "base" %}{% block title %}Alerts{% endblock %}{% block main %}
<h1>Alerts</h1><table aria-label="Alerts"><thead><tr><th>Time</th><th>Severity</th><th>Rule</th><th>Host</th>
<th>Session</th><th>Message</th><th>Response</th></tr></thead><tbody>
{% for a in alerts %}<tr><td>{{ a.when }}</td><td class="{{ a.severity }}">{{ a.severity }}</td><td>{{ a.rule }}</td>
<td>{{ a.host }}</td><td><code>{{ a.session }}</code></td><td>{{ a.message }}</td><td>{{ a.response }}</td></tr>
{% else %}<tr><td colspan="7" class="muted">No alerts.</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_TIMELINE = """{% extends "base" %}{% block title %}Session {{ session }}{% endblock %}{% block main %}
<h1>Session <code>{{ session }}</code></h1>
<table aria-label="Timeline"><thead><tr><th>Time</th><th>Surface</th><th>Event</th><th>Tool</th><th>Decision</th>
<th>Rules</th><th>Reasons</th><th>Input (redacted)</th></tr></thead><tbody>
{% for r in records %}<tr><td>{{ r.time }}</td><td>{{ r.surface }}</td><td>{{ r.event }}</td><td>{{ r.tool }}</td>
<td class="{{ 'killed' if r.decision == 'deny' else '' }}">{{ r.decision }}</td><td>{{ r.rules }}</td><td>{{ r.reasons }}</td>
<td><code>{{ r.input }}</code></td></tr>
{% else %}<tr><td colspan="8" class="muted">No records.</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_APPROVALS = """{% extends "base" %}{% block title %}Approvals{% endblock %}{% block main %}
<h1>Approvals</h1><table aria-label="Approvals"><thead><tr><th>Asked</th><th>State</th><th>Host</th><th>Session</th>
<th>User</th><th>Tool</th><th>Input (redacted)</th><th>Why asked</th>{% if user.role == "admin" %}<th>Answer</th>{% endif %}</tr></thead><tbody>
{% for a in approvals %}<tr><td>{{ a.when }}</td><td>{{ a.state }}</td><td>{{ a.host }}</td><td><code>{{ a.session }}</code></td>
<td>{{ a.user }}</td><td>{{ a.tool }}</td><td><code>{{ a.summary }}</code></td><td>{{ a.reasons }}</td>
{% if user.role == "admin" %}<td>{% if a.state == "pending" %}<form method="post" action="/ui/approvals/{{ a.id }}">
<input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit" name="decision" value="allow" aria-label="Allow {{ a.tool }} in session {{ a.session }}">Allow</button>
<button type="submit" name="decision" value="deny" aria-label="Deny {{ a.tool }} in session {{ a.session }}">Deny</button>
</form>{% else %}{{ a.decided_by }}{% endif %}</td>{% endif %}</tr>
{% else %}<tr><td colspan="9" class="muted">No requests.</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_FLEET = """{% extends "base" %}{% block title %}Fleet{% endblock %}{% block main %}
<h1>Fleet integrity</h1><table aria-label="Fleet"><thead><tr><th>Host</th><th>Log</th><th>State</th><th>Records</th>
<th>Verified up to</th><th>Last report</th><th>Problem</th></tr></thead><tbody>
{% for l in logs %}<tr><td>{{ l.host }}</td><td><code>{{ l.log_id }}</code></td>
<td class="{{ 'killed' if l.state != 'ok' else '' }}">{{ l.state }}</td><td>{{ l.size }}</td><td>{{ l.verified_size }}</td>
<td>{{ l.seen }}</td><td>{{ l.problem }}</td></tr>
{% else %}<tr><td colspan="7" class="muted">No host has reported.</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_POLICY = """{% extends "base" %}{% block title %}Policy{% endblock %}{% block main %}
<h1>Policy</h1><p>{{ source }} (revision <code>{{ revision }}</code>, mode {{ mode }}, default {{ default }})</p>
<h2>Try a call</h2>
<form method="post" action="/ui/policy"><input type="hidden" name="csrf" value="{{ csrf }}">
<label for="tool">Tool</label><input id="tool" name="tool" value="{{ tool }}" required maxlength="100">
<label for="argument">Argument</label><input id="argument" name="argument" value="{{ argument }}" size="60" maxlength="4000">
<label for="cwd">Working directory</label><input id="cwd" name="cwd" value="{{ cwd }}" size="40" maxlength="1000">
<p><button type="submit">Explain</button></p></form>
{% if result %}<h2>Result</h2><pre aria-label="Explanation">{{ result }}</pre>{% endif %}
<h2>Rules</h2>{% for name, rules in lists %}<h3>{{ name }} ({{ rules|length }})</h3>
<ul>{% for r in rules %}<li><code>{{ r }}</code></li>{% endfor %}</ul>{% endfor %}{% endblock %}"""

_ENV = Environment(
    loader=DictLoader(
        {
            "base": _BASE,
            "login": _LOGIN,
            "sessions": _SESSIONS,
            "rows": _ROWS,
            "confirm": _CONFIRM,
            "alerts": _ALERTS,
            "timeline": _TIMELINE,
            "approvals": _APPROVALS,
            "fleet": _FLEET,
            "policy": _POLICY,
        }
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def _iso(when: float | None) -> str:
    return "-" if not when else time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(when))


class Limiter:
    """Failed sign-ins per key (a user name, a client address), in a sliding window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, *keys: str, now: float) -> bool:
        with self._lock:
            for key in keys:
                q = self._failures.get(key)
                while q and q[0] < now - FAILURE_WINDOW:
                    q.popleft()
                if q is not None and len(q) >= MAX_FAILURES:
                    return True
        return False

    def failed(self, *keys: str, now: float) -> None:
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)


class Dashboard:
    def __init__(self, store: ServerStore, state_dir: str, policy: Any = None) -> None:
        self.store = store
        self.policy = policy
        """The compiled policy the policy page shows and explains against (``ramparts server --policy``)."""
        self.state_dir = state_dir
        self.limiter = Limiter()
        self._audit_lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------------------------

    def secret(self) -> str:
        """The cookie-signing key, kept in the state directory (0600), shared by every worker."""
        path = os.path.join(self.state_dir, "keys", "dashboard-session.key")
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            with open(path, encoding="ascii") as fh:
                return fh.read().strip()
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            key = secrets.token_urlsafe(48)
            fh.write(key)
        return key

    def audit(
        self,
        event: str,
        user: str,
        action: str,
        *,
        verdict: str,
        reason: str,
        target: dict[str, str] | None = None,
    ) -> None:
        """An AuditRecord of a dashboard action, in the control plane's own log (durable on return)."""
        from ..audit.record import AdminDetail, build_record, to_json
        from ..audit.store import AuditStore
        from ..model import Decision

        now = time.time()
        record = build_record(
            Decision(verdict=verdict, reasons=(reason,), rule_ids=(f"dashboard.{action}",)),  # type: ignore[arg-type]
            surface="server",
            event=event,
            time=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
            user=user,
            session=(target or {}).get("target", "") if (target or {}).get("scope") == "session" else "",
            detail=AdminDetail(action=action, target=target),
            agent="ramparts",
        )
        with self._audit_lock, AuditStore(os.path.join(self.state_dir, "server-audit.db")) as log:
            log.append(to_json(record))

    @staticmethod
    def user(request: Request) -> dict[str, str] | None:
        name, role = request.session.get("user"), request.session.get("role")
        return {"name": name, "role": role} if isinstance(name, str) and role in ("admin", "viewer") else None

    @staticmethod
    def csrf(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            request.session["csrf"] = token
        return token

    @staticmethod
    def csrf_ok(request: Request, form: Any) -> bool:
        sent, kept = form.get("csrf"), request.session.get("csrf")
        return isinstance(sent, str) and isinstance(kept, str) and hmac.compare_digest(sent, kept)

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = _ENV.get_template(name).render(user=self.user(request), csrf=self.csrf(request), **values)
        headers = {
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(html, status_code=status, headers=headers)

    # -- pages -----------------------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self.page(request, "login")

    async def login(self, request: Request) -> Response:
        form = await request.form()
        if not self.csrf_ok(request, form):
            return self.page(request, "login", 403, error="The form expired; try again.")
        name, password = str(form.get("username") or ""), str(form.get("password") or "")
        client = request.client.host if request.client else "?"
        now = time.time()
        keys = (f"user:{name}", f"addr:{client}")
        if self.limiter.blocked(*keys, now=now):
            await run_in_threadpool(
                self.audit, "DashboardLogin", name, "login", verdict="deny", reason="sign-in rate limit"
            )
            return self.page(request, "login", 429, error="Too many failed sign-ins; wait a few minutes.")
        role = await run_in_threadpool(self.store.check_password, name, password)
        if role is None:
            self.limiter.failed(*keys, now=now)
            await run_in_threadpool(
                self.audit,
                "DashboardLogin",
                name,
                "login",
                verdict="deny",
                reason="wrong user name or password",
            )
            return self.page(request, "login", 401, error="Wrong user name or password.")
        request.session.clear()
        request.session.update({"user": name, "role": role, "csrf": secrets.token_urlsafe(24)})
        await run_in_threadpool(
            self.audit, "DashboardLogin", name, "login", verdict="allow", reason=f"signed in as {role}"
        )
        return RedirectResponse("/ui/", status_code=303)

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if self.csrf_ok(request, form):
            request.session.clear()
        return RedirectResponse("/ui/login", status_code=303)

    async def sessions(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        rows = await run_in_threadpool(self.store.sessions)
        for row in rows:
            row["last"] = row["last"].replace("T", " ")[:19] if row["last"] else "-"
        return self.page(
            request, "sessions", sessions=rows, notice=request.query_params.get("notice", "")[:200]
        )

    async def live_js(self, request: Request) -> Response:
        return Response(_LIVE_JS, media_type="text/javascript", headers={"X-Content-Type-Options": "nosniff"})

    async def events(self, request: Request) -> Response:
        """Server-sent events: the sessions table's rows, whenever they change (checked every second)."""
        user = self.user(request)
        if user is None:
            return Response("sign in first", status_code=401)

        async def stream() -> AsyncIterator[bytes]:
            last = ""
            quiet = 0
            while not await request.is_disconnected():
                rows = await run_in_threadpool(self.store.sessions)
                for row in rows:
                    row["last"] = row["last"].replace("T", " ")[:19] if row["last"] else "-"
                html = _ENV.get_template("rows").render(sessions=rows, user=user)
                if html != last:
                    last, quiet = html, 0
                    yield f"data: {json.dumps({'rows': html})}\n\n".encode()
                else:
                    quiet += 1
                    if quiet >= 15:
                        quiet = 0
                        yield b": keep-alive\n\n"
                await asyncio.sleep(1.0)

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def confirm_kill(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return RedirectResponse("/ui/login", status_code=303)
        if user["role"] != "admin":
            return self.page(request, "sessions", 403, sessions=[], notice="Viewers cannot kill sessions.")
        return self.page(request, "confirm", session=request.path_params["session"])

    async def kill(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return Response("sign in first", status_code=401)
        if user["role"] != "admin":
            return Response("viewers cannot kill sessions", status_code=403)
        form = await request.form()
        if not self.csrf_ok(request, form):
            return Response("the form's CSRF token does not match", status_code=403)
        session = request.path_params["session"]
        reason = str(form.get("reason") or "stopped from the dashboard")[:500]
        await run_in_threadpool(self.store.kill, "session", session, reason, f"{user['name']} (dashboard)")
        await run_in_threadpool(
            self.audit,
            "DashboardAction",
            user["name"],
            "kill",
            verdict="deny",
            reason=reason,
            target={"scope": "session", "target": session},
        )
        return RedirectResponse(f"/ui/?notice=Killed+session+{session}", status_code=303)

    async def alerts(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        rows = [dict(a._asdict(), when=_iso(a.at)) for a in await run_in_threadpool(self.store.alerts, 500)]
        return self.page(request, "alerts", alerts=rows)

    async def timeline(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        session = request.path_params["session"]
        rows = []
        for r in await run_in_threadpool(self.store.session_records, session, 2000):
            hook: dict[str, Any] = r["hook"] if isinstance(r.get("hook"), dict) else {}
            inputs = r.get("input", hook.get("input", ""))  # version 1 records keep the input at the top
            rows.append(
                {
                    "time": str(r.get("time", "")).replace("T", " ")[:23],
                    "surface": r.get("surface", "hook"),
                    "event": r.get("event", ""),
                    "tool": r.get("tool") or "",
                    "decision": r.get("decision") or "",
                    "rules": ", ".join(r.get("rule_ids") or []),
                    "reasons": "; ".join(r.get("reasons") or []),
                    "input": json.dumps(inputs)[:300] if inputs else "",
                }
            )
        return self.page(request, "timeline", session=session, records=rows)

    async def approvals(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        rows = [
            dict(a._asdict(), when=_iso(a.created)) for a in await run_in_threadpool(self.store.approvals)
        ]
        return self.page(request, "approvals", approvals=rows)

    async def answer(self, request: Request) -> Response:
        user = self.user(request)
        if user is None:
            return Response("sign in first", status_code=401)
        if user["role"] != "admin":
            return Response("viewers cannot answer approval requests", status_code=403)
        form = await request.form()
        if not self.csrf_ok(request, form):
            return Response("the form's CSRF token does not match", status_code=403)
        verdict = form.get("decision")
        if verdict not in ("allow", "deny"):
            return Response("decision must be allow or deny", status_code=400)
        approval_id = request.path_params["approval_id"]
        answered = await run_in_threadpool(
            self.store.decide_approval,
            approval_id,
            str(verdict),
            f"{user['name']} (dashboard)",
            "answered in the dashboard",
        )
        if answered is None:
            return Response("the request is no longer pending", status_code=409)
        await run_in_threadpool(
            self.audit,
            "DashboardAction",
            user["name"],
            "approval",
            verdict=str(verdict),
            reason=f"{verdict} {answered.tool} in session {answered.session}",
            target={"scope": "session", "target": answered.session, "approval": approval_id},
        )
        return RedirectResponse("/ui/approvals", status_code=303)

    async def fleet(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        rows = [
            dict(log._asdict(), seen=_iso(log.last_seen)) for log in await run_in_threadpool(self.store.logs)
        ]
        return self.page(request, "fleet", logs=rows)

    def _loaded_policy(self) -> Any:
        if self.policy is None:  # no --policy: the baseline profile
            from ..policy.load import load_policy

            self.policy = load_policy("profile:baseline")
        return self.policy

    def _policy_page(self, request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        policy = self._loaded_policy()
        lists = [(name, [r.raw for r in getattr(policy, name)]) for name in ("deny", "ask", "allow")]
        defaults = {"tool": "Bash", "argument": "", "cwd": "/srv/project", "result": ""}
        return self.page(
            request,
            "policy",
            status,
            source=policy.source,
            revision=policy.revision,
            mode=policy.mode,
            default=policy.default,
            lists=lists,
            **{**defaults, **values},
        )

    async def policy_page(self, request: Request) -> Response:
        if self.user(request) is None:
            return RedirectResponse("/ui/login", status_code=303)
        return await run_in_threadpool(self._policy_page, request)

    async def try_call(self, request: Request) -> Response:
        """``ramparts explain`` on the server: the engine's decision and its steps (nothing runs)."""
        if self.user(request) is None:
            return Response("sign in first", status_code=401)
        form = await request.form()
        if not self.csrf_ok(request, form):
            return Response("the form's CSRF token does not match", status_code=403)
        tool = str(form.get("tool") or "")[:100]
        argument = str(form.get("argument") or "")[:4000]
        cwd = str(form.get("cwd") or "/")[:1000]
        if not cwd.startswith("/"):
            cwd = "/" + cwd

        def run() -> HTMLResponse:
            from ..explain import explain_call, render_text

            policy = self._loaded_policy()
            result = render_text(policy, tool, explain_call(policy, tool, argument or None, cwd=cwd))
            return self._policy_page(request, tool=tool, argument=argument, cwd=cwd, result=result)

        return await run_in_threadpool(run)

    def routes(self) -> list[Route]:
        return [
            Route("/ui/login", self.login_form, methods=["GET"]),
            Route("/ui/login", self.login, methods=["POST"]),
            Route("/ui/logout", self.logout, methods=["POST"]),
            Route("/ui/", self.sessions, methods=["GET"]),
            Route("/ui/live.js", self.live_js, methods=["GET"]),
            Route("/ui/events", self.events, methods=["GET"]),
            Route("/ui/alerts", self.alerts, methods=["GET"]),
            Route("/ui/sessions/{session}", self.timeline, methods=["GET"]),
            Route("/ui/approvals", self.approvals, methods=["GET"]),
            Route("/ui/approvals/{approval_id}", self.answer, methods=["POST"]),
            Route("/ui/fleet", self.fleet, methods=["GET"]),
            Route("/ui/policy", self.policy_page, methods=["GET"]),
            Route("/ui/policy", self.try_call, methods=["POST"]),
            Route("/ui/sessions/{session}/kill", self.confirm_kill, methods=["GET"]),
            Route("/ui/sessions/{session}/kill", self.kill, methods=["POST"]),
        ]
