"""The Ramparts control plane as a shipping sink (``type: ramparts``): the HTTP sink's batches, posted to
``<url>/v1/ingest`` with the log's checkpoint verifier key, so the server can check every checkpoint
against the records it holds (see docs/server.md). Errors and retries are the HTTP sink's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..ship import ShipItem
from . import envelope
from .http import HttpSink, read_token


class ServerSink(HttpSink):
    # 409: the log's signing key is not bound to the host's token yet; the batch stays here until an
    # admin pins the key (``ramparts server key pin``), then goes through
    retry_status = HttpSink.retry_status | {409}

    def __init__(self, name: str, url: str, token: str, **kwargs: Any) -> None:
        super().__init__(name, url.rstrip("/") + "/v1/ingest", token, **kwargs)
        self.verifier = ""

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> ServerSink:
        import ssl

        context = ssl.create_default_context(cafile=o.get("ca_file") or None)
        if o.get("cert_file"):  # mTLS: the control plane's ingest may ask for the host's certificate
            context.load_cert_chain(o["cert_file"], o.get("key_file") or None)
        return cls(
            name, o["url"], read_token(name, o), timeout=float(o.get("timeout_seconds", 10)), context=context
        )

    def bind_source(self, source: Any) -> None:
        """Learn the log's verifier key from the source's store (sent with every batch)."""
        store = getattr(source, "store", None)
        meta = store.log.meta() if store is not None else None
        self.verifier = meta.verifier if meta is not None else ""

    def _body(self, log_id: str, items: list[ShipItem]) -> bytes:
        head = b'{"log_id":' + json.dumps(log_id).encode()
        if self.verifier:
            head += b',"verifier":' + json.dumps(self.verifier).encode()
        return head + b',"items":[' + b",".join(envelope(i) for i in items) + b"]}"
