"""Optional mutual TLS for the ingest endpoint (``ramparts server --tls-cert … --tls-key … --client-ca …``).

The listener asks every client for a certificate (``CERT_OPTIONAL``): one that does not chain to the
client CA fails the handshake; none at all is allowed at the TLS layer, so the dashboard's browsers and
people's commands still connect. ``POST /v1/ingest`` then requires a verified certificate whose subject
CN or a DNS subject-alternative name is the host token's name: a stolen token alone cannot ship, nor
can one host's certificate ship another host's log.

uvicorn does not put the peer certificate in the ASGI scope, so :class:`MtlsH11Protocol` (uvicorn's h11
protocol) adds ``scope["extensions"]["tls"] = {"client_cert_names": [...]}`` on every request of a
connection; the list is empty when the client sent no certificate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

ASGIApp = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def cert_names(peercert: Any) -> list[str]:
    """The subject CNs and DNS SANs of a verified peer certificate (``SSLSocket.getpeercert()``)."""
    if not isinstance(peercert, dict):
        return []
    names: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.append(str(value))
    for kind, value in peercert.get("subjectAltName", ()):
        if kind == "DNS":
            names.append(str(value))
    return names


def client_cert_names(scope: MutableMapping[str, Any]) -> list[str] | None:
    """The names of the request's verified client certificate; None when the listener is not mTLS."""
    tls = scope.get("extensions", {}).get("tls")
    if not isinstance(tls, dict):
        return None
    names = tls.get("client_cert_names")
    return [str(n) for n in names] if isinstance(names, list) else []


class MtlsH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with the connection's verified client certificate in each request's scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        names = cert_names(transport.get_extra_info("peercert"))
        inner: ASGIApp = self.app

        async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
            extensions = dict(scope.get("extensions") or {})
            extensions["tls"] = {"client_cert_names": list(names)}
            scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app
