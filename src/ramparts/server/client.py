"""A small client of the control plane's API (standard library only: the hook may import it)."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlsplit


class ServerError(Exception):
    """The control plane could not be reached or refused the request; the message says which."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def tls_context(
    ca_file: str | None, cert_file: str | None = None, key_file: str | None = None
) -> ssl.SSLContext:
    """A verifying client context (``ca_file`` or the system's CAs), presenting ``cert_file`` for mTLS."""
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        try:
            context.load_cert_chain(cert_file, key_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise ServerError(f"cannot load the client certificate {cert_file}: {exc}") from exc
    return context


class Client:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 5.0,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(
                f"the control plane URL must be http(s)://HOST[:PORT] (got {url.split(':', 1)[0]!r})"
            )
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ca_file = ca_file
        self.cert_file, self.key_file = cert_file, key_file

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            context = tls_context(self.ca_file, self.cert_file, self.key_file)
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": "ramparts"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = self._connection()
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read(16 * 1024 * 1024)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(f"control plane unreachable: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError as exc:
            raise ServerError(
                f"control plane answered {status} with a body that is not JSON", status
            ) from exc
        if not 200 <= status < 300:
            message = payload.get("error", "") if isinstance(payload, dict) else ""
            raise ServerError(f"control plane answered {status}: {message}"[:300], status)
        return payload

    def kills(self) -> list[dict[str, Any]]:
        orders = self.request("GET", "/v1/kills").get("orders")
        if not isinstance(orders, list):
            raise ServerError("control plane answered without an orders list")
        return [o for o in orders if isinstance(o, dict)]

    def kill(self, scope: str, target: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/v1/kills", {"scope": scope, "target": target, "reason": reason}
        )
        return result

    def lift(self, scope: str, target: str) -> None:
        self.request("POST", "/v1/kills/lift", {"scope": scope, "target": target})

    def alerts(self) -> list[dict[str, Any]]:
        alerts = self.request("GET", "/v1/alerts").get("alerts")
        return [a for a in alerts if isinstance(a, dict)] if isinstance(alerts, list) else []

    def ask(self, fields: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", "/v1/approvals", fields)
        return result

    def approval(self, approval_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/approvals/{approval_id}")
        return result

    def approvals(self) -> list[dict[str, Any]]:
        items = self.request("GET", "/v1/approvals").get("approvals")
        return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []

    def decide(self, approval_id: str, decision: str, reason: str = "") -> dict[str, Any]:
        body = {"decision": decision, "reason": reason}
        result: dict[str, Any] = self.request("POST", f"/v1/approvals/{approval_id}/decide", body)
        return result

    def sessions(self) -> list[dict[str, Any]]:
        items = self.request("GET", "/v1/sessions").get("sessions")
        return [a for a in items if isinstance(a, dict)] if isinstance(items, list) else []

    def session_orders(self) -> list[dict[str, Any]]:
        """The pending session orders (end, grant re-auth) for the hosts to apply."""
        orders = self.request("GET", "/v1/orders").get("orders")
        if not isinstance(orders, list):
            raise ServerError("control plane answered without an orders list")
        return [o for o in orders if isinstance(o, dict)]

    def order_session(self, kind: str, session: str, reason: str = "", minutes: float = 15) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "session": session, "reason": reason}
        if kind == "reauth":
            body["minutes"] = minutes
        order: dict[str, Any] = self.request("POST", "/v1/orders", body)
        return order

    def order_applied(self, order_id: str, outcome: str) -> dict[str, Any]:
        from urllib.parse import quote

        order: dict[str, Any] = self.request(
            "POST", f"/v1/orders/{quote(order_id, safe='')}/ack", {"outcome": outcome}
        )
        return order
