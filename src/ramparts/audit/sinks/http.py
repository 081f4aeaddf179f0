"""An HTTP collector (the control plane's ingest): ``POST`` a JSON batch with a bearer token.

Body: ``{"log_id": "...", "items": [<envelope>, ...]}`` (see :mod:`ramparts.audit.sinks`).
2xx means delivered. 408, 425, 429, 5xx, timeouts and connection errors are retried; redirects and
other 4xx are permanent errors, reported and not retried (a redirect is never followed: it could
turn the POST into a GET that "succeeds" without delivering anything).
"""

from __future__ import annotations

import http.client
import os
import ssl
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..ship import PermanentSinkError, ShipItem, TransientSinkError
from . import envelope

RETRY_STATUS = {408, 425, 429}


def read_token(name: str, o: Mapping[str, Any]) -> str:
    if o.get("token_env"):
        token = os.environ.get(o["token_env"], "")
        where = f"environment variable {o['token_env']}"
    else:
        where = f"token file {o['token_file']}"
        try:
            with open(os.path.expanduser(o["token_file"]), encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise PermanentSinkError(f"sink {name}: cannot read the {where}: {exc.strerror}") from exc
    if not token or any(ch in token for ch in "\r\n\x00"):
        raise PermanentSinkError(f"sink {name}: the {where} is empty or not a single line")
    return token


class HttpSink:
    retry_status: frozenset[int] = frozenset(RETRY_STATUS)

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.token = token
        self.timeout = timeout
        self.context = context if context is not None else ssl.create_default_context()

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> HttpSink:
        context = ssl.create_default_context(cafile=o.get("ca_file") or None)
        return cls(
            name,
            o["url"],
            read_token(name, o),
            timeout=float(o.get("timeout_seconds", 10)),
            context=context,
        )

    def _connection(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.context
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        by_log: dict[str, list[ShipItem]] = {}
        for item in items:
            by_log.setdefault(item.log_id, []).append(item)
        for log_id, group in by_log.items():
            self._post(log_id, group)
        return []

    def _body(self, log_id: str, items: list[ShipItem]) -> bytes:
        import json

        return (
            b'{"log_id":'
            + json.dumps(log_id).encode()
            + b',"items":['
            + b",".join(envelope(i) for i in items)
            + b"]}"
        )

    def _post(self, log_id: str, items: list[ShipItem]) -> None:
        body = self._body(log_id, items)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            "User-Agent": "ramparts-shipper",
        }
        conn = self._connection()
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read(65536)  # drain a little; never logged (it may echo what we sent)
            status, reason = response.status, response.reason
        except (OSError, http.client.HTTPException) as exc:
            raise TransientSinkError(f"sink {self.name}: POST failed: {type(exc).__name__}") from exc
        finally:
            conn.close()
        if 200 <= status < 300:
            return
        what = f"sink {self.name}: collector answered {status} {reason[:80]}"
        if status >= 500 or status in self.retry_status:
            raise TransientSinkError(what)
        raise PermanentSinkError(what)

    def close(self) -> None:
        pass
