"""The gateway's I/O shell: an aiohttp server in front of the Anthropic Messages API.

Per ``POST /v1/messages`` (``?beta=true`` and any query kept): authenticate the gateway token, apply
the limits (rate, daily budget, size, model, ``max_tokens``), screen tool results for injections and
mask the body (worker thread: detectors and the vault), forward it with the gateway's own
upstream key, then restore placeholders in the answer — event by event for SSE (each upstream chunk's
events are written and flushed as soon as they are decoded; only a placeholder's possible beginning is
held back), whole for JSON — and write one audit record. ``count_tokens`` is screened and masked the
same way; ``/v1/models`` and health checks pass through.

The sans-IO cores (:mod:`.sse`, :mod:`.mask`, :mod:`.restore`, :mod:`.screen`) hold the logic; this
module only moves bytes, measures and records.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, NamedTuple

import aiohttp
from aiohttp import web

from .._locations import detector_cache_dir
from ..audit.keys import default_key_path
from ..audit.store import audit_location
from ..detect.injection_model import load_slot
from ..engine import decide_gateway
from ..errors import GatewayError
from ..model import Decision, Finding
from . import decide
from . import upstream as upstream_mod
from ._db import is_postgres_url
from ._records import GatewayAuditWriter, Usage, masked_record, screened_record, take_usage
from .bedrock import EventSource
from .cache import InFlight, ResultCache, one_digest_each
from .config import GatewayConfig
from .documents import PdfScan, scan_pdf
from .front import GatewayRunner
from .limits import RateLimiter, SharedRateLimiter, retry_after, utc_day
from .mask import MaskBlocked, Masker, MaskResult, detector_scanner, request_documents, request_texts
from .pool import NotFetched, Part, Pending, ScanFailed, ScanPool, cached, on_loop
from .restore import OutboundLookup, StreamGuard, restore_message
from .screen import PromptRefused, Screener, ScreenResult, ToolPoisoned, injection_scorer, screened_texts
from .shapes import ShapeRefused
from .sse import SSEDecoder, SSEError, SSEEvent, encode
from .store import GatewayStoreError, open_stores, store_location, vault_key_path
from .tokens import Identity

# Hop-by-hop headers (RFC 9110 §7.6.1) and what the gateway sets itself; never copied across.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
_NOT_UPSTREAM = _HOP | {"authorization", "x-api-key", "accept-encoding", "cookie"}
_NOT_DOWNSTREAM = _HOP | {"content-encoding", "set-cookie"}
_SESSION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAX_ERROR_BODY = 4 * 1024 * 1024
FETCHING_PER_WORKER = 32
LOOP_LOCAL_MAX = 16
"""On the event loop, a request with more new short texts than this sends them to the workers instead
of scanning them itself (each costs the loop about 0.15 ms)."""
INLINE_BELOW = 128 * 1024
"""Request bodies under this many bytes are screened and masked on the event loop, their scans
awaited there (warm, a 124 KB Claude Code-shaped body takes about 0.8 ms: ``bench/gateway.py --walk``);
longer ones on a thread, where a long conversation's walk and masking (up to tens of ms at 500 KB)
leaves the loop the GIL every switch interval."""
_MAX_RESPONSE_BODY = 64 * 1024 * 1024
HEALTH_PATHS = ("/", "/api/hello", "/healthz")


def error_body(kind: str, message: str) -> dict[str, Any]:
    """Anthropic's error format."""
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_response(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(error_body(kind, message), status=status, headers=headers)


class Prepared(NamedTuple):
    body: Any
    payload: bytes
    screened: ScreenResult
    masked: MaskResult
    known: Mapping[str, str]


class Gateway:
    """One gateway process: configuration, stores, cores and the aiohttp application."""

    def __init__(
        self,
        config: GatewayConfig,
        *,
        masker: Masker | None = None,
        screener: Screener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from ..detect.redact import load_key

        self.config = config
        state = config.state_dir
        os.makedirs(state, mode=0o700, exist_ok=True)
        # the shared state: <state>/gateway.db, or PostgreSQL when configured (replicas on many machines)
        stores = open_stores(
            store_location(state, config.store_url), key_path=vault_key_path(state, config.vault_key)
        )
        self.vault, self.tokens, self.usage = stores
        key = load_key(os.path.join(state, "keys", "fingerprint.key"))
        self.pool: ScanPool | None = None
        self._inflight = InFlight()
        self.pdf_cache: ResultCache | None = None
        scorer: Callable[[str], tuple[float, str, str]] | None = None
        # the policy's injection model slot: loaded and checked here, so a missing file, a digest
        # mismatch or a wrong signature stops the gateway at start with the reason (never a gateway
        # that forwards unscreened); the scan workers load the same checked file
        model = (
            load_slot(config.detect.injection_model)
            if config.detect is not None and config.detect.injection_model.path
            else None
        )
        if masker is None:
            scan: Callable[[str], Sequence[Finding]]
            cache = detector_cache_dir(state)
            workers = config.workers()
            if workers:
                self.pool = ScanPool(
                    workers,
                    settings=config.detect,
                    cache_dir=cache,
                    key=key,
                    block=config.injection_block,
                    warn=_lowest_warn(config),
                    timeout=config.scan_timeout,
                    documents=config.documents,
                )
                scan, scorer = self.pool.scan, self.pool.score
                pdf: Callable[[str], PdfScan] = self.pool.pdf
            else:
                from ..detect import injection
                from ..detect.scanner import Detectors

                injection.use_numpy(True)
                injection.use_hyperscan_in_background(cache)
                detectors = (
                    Detectors(("secret", "pii"), cache_dir=cache)
                    if config.detect is None
                    else Detectors.from_settings(config.detect, ("secret", "pii"), cache_dir=cache)
                )
                scan = detector_scanner(detectors, key)
                local = scan
                pdf = lambda data: scan_pdf(data, local, config.documents)  # noqa: E731
            pdf_cache = self.pdf_cache = ResultCache(1024)  # base64 -> findings: resent every turn
            masker = Masker(
                config.mask,
                cached(scan),
                self.vault,
                shapes=config.shapes,
                documents=config.documents,
                pdf_scan=lambda data: pdf_cache.get_or(data, pdf),
            )
        self.masker = masker
        self.screener = screener or Screener(
            scorer
            or injection_scorer(key, block=config.injection_block, warn=_lowest_warn(config), model=model),
            block=config.injection_block,
            warn=config.injection_warn,
            description_block=config.description_block,
            description_warn=config.description_warn,
            prompt_block=config.prompt_block,
            prompt_warn=config.prompt_warn,
            prompt_action=config.prompt_action if config.mode == "enforce" else _report(config.prompt_action),
            version=f"{_lowest_warn(config)}:{model.version if model is not None else 'builtin'}",
        )
        self.limits = config.limits()
        self.rate: RateLimiter | SharedRateLimiter | None = None
        if config.rate_per_minute and is_postgres_url(store_location(state, config.store_url)):
            self.rate = SharedRateLimiter(store_location(state, config.store_url), config.rate_per_minute)
        elif config.rate_per_minute:
            self.rate = RateLimiter(config.rate_per_minute, clock)
        # like the hook's: $RAMPARTS_AUDIT_URL (or --audit-url), else <state>/audit.db; the state dir's key
        self.audit = GatewayAuditWriter(
            audit_location(state, config.audit_url), key_path=default_key_path(state)
        )
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        self._client: aiohttp.ClientSession | None = None
        # Screening and masking run on worker threads, so the event loop stays free for streams. With a
        # scan pool the threads mostly wait for the worker processes (or scan a request's short new
        # texts: each thread has its own Hyperscan scratch); without one, a single thread scans, so
        # long scans never hold this process's GIL side by side.
        # With a pool and a local (SQLite) store, a request under INLINE_BELOW bytes awaits its scans on
        # the loop and is then masked there: its store calls are local reads, and a write for a value
        # the session has not seen. A PostgreSQL store's round trips stay off the loop, on the threads.
        threads = 1 if self.pool is None else 2 * self.pool.workers + 2
        self._turn = asyncio.Lock()
        # requests fetching at once on the loop: enough to keep every worker fed through a burst, few
        # enough that the scan timeout measures work, not a flood's queue (32 jobs of a 1 MB text are
        # about 3 s of one worker's time)
        self._fetching = asyncio.Semaphore(FETCHING_PER_WORKER * (self.pool.workers if self.pool else 1))
        self._inline = self.pool is not None and not is_postgres_url(store_location(state, config.store_url))
        self._prep = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="ramparts-mask")
        self.in_flight = 0
        self.bedrock = upstream_mod.BedrockUpstream(config.bedrock) if config.bedrock is not None else None

    # -- lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_request_bytes)
        app.middlewares.append(self._store_failures)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/models/{model_id}", self.models)
        for path in HEALTH_PATHS:
            app.router.add_get(path, self.health)  # GET routes answer HEAD too
        app.router.add_route("*", "/{tail:.*}", self.not_found)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    def runner(self, **kwargs: Any) -> web.AppRunner:
        """The application behind the hardened HTTP front (:mod:`.front`: head deadline and limits)."""
        kwargs.setdefault("handler_cancellation", True)
        kwargs.setdefault("access_log", None)
        return GatewayRunner(self.app(), self.config.front, **kwargs)

    async def _startup(self, app: web.Application) -> None:
        if self.pool is not None:
            await asyncio.to_thread(self.pool.warm)
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        timeout = aiohttp.ClientTimeout(
            total=self.config.upstream_timeout, sock_connect=self.config.connect_timeout
        )
        self._client = aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=True, trust_env=False
        )
        self._sweeper = asyncio.create_task(self._sweep_vault())

    async def _sweep_vault(self, every: float = 3600.0) -> None:
        """Delete the vault rows of sessions older than ``vault_retention_hours``: at start, then hourly.
        A failed sweep is logged and tried again next time; requests are not affected."""
        while True:
            cutoff = time.time() - self.config.vault_retention_hours * 3600
            try:
                removed = await asyncio.to_thread(self.vault.expire, cutoff)
                if removed:
                    hours = self.config.vault_retention_hours
                    print(
                        f"ramparts gateway: vault: deleted {removed} row(s) past the {hours} h retention",
                        file=sys.stderr,
                        flush=True,
                    )
            except Exception as exc:  # noqa: BLE001 - the next sweep retries
                print(f"ramparts gateway: vault retention sweep failed: {exc}", file=sys.stderr, flush=True)
            await asyncio.sleep(every)

    async def _cleanup(self, app: web.Application) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
        if self._client is not None:
            await self._client.close()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        self._prep.shutdown(wait=True)
        if self.pool is not None:
            self.pool.close()
        self.audit.close()
        self.vault.close()
        self.tokens.close()
        self.usage.close()
        if isinstance(self.rate, SharedRateLimiter):
            self.rate.close()

    @property
    def client(self) -> aiohttp.ClientSession:
        if self._client is None:
            raise GatewayError("the gateway's upstream client is not started")
        return self._client

    @web.middleware
    async def _store_failures(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """The state store failed (PostgreSQL down, a broken vault row): fail closed, in Anthropic's
        format, with nothing sent upstream; the message names no value and no store detail."""
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except GatewayStoreError as exc:
            print(f"ramparts gateway: state store failed: {exc}", file=sys.stderr, flush=True)
            decision = decide.store_failed()
            record = self._record(request, None, None)
            record.update(decision=decision, status=503, outcome="store_error")
            self.audit.add(record)
            return error_response(503, "api_error", "Ramparts gateway: " + decision.reason)

    # -- helpers

    def _identify(self, request: web.Request) -> Identity | None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if not token:
            token = request.headers.get("x-api-key", "").strip() or None
        return self.tokens.identify(token)

    def _upstream_headers(self, request: web.Request) -> dict[str, str]:
        named = {h.strip().lower() for h in request.headers.get("Connection", "").split(",")}
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in _NOT_UPSTREAM and k.lower() not in named
        }
        headers["Accept-Encoding"] = "identity"  # events must arrive as they are written
        if self.config.upstream_key:
            headers["x-api-key"] = self.config.upstream_key
        return headers

    @staticmethod
    def _downstream_headers(upstream: aiohttp.ClientResponse) -> dict[str, str]:
        named = {h.strip().lower() for h in upstream.headers.get("Connection", "").split(",")}
        return {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() not in _NOT_DOWNSTREAM and k.lower() not in named
        }

    def _record(self, request: web.Request, identity: Identity | None, session: str | None) -> dict[str, Any]:
        return {
            "user": identity.user if identity else None,
            "token_id": identity.token_id if identity else None,
            "host": socket.gethostname(),
            "session": session,
            "route": request.path,
            "method": request.method,
            "replica": self.replica,
            "decision_id": os.urandom(12).hex(),
        }

    def _refuse(
        self, record: dict[str, Any], decision: Decision, refusal: decide.Refusal, started: float
    ) -> web.Response:
        """Record a deny, then answer it in Anthropic's error format."""
        record.update(
            decision=decision, status=refusal.status, outcome="denied", latency_ms=self._ms(started)
        )
        self.audit.add(record)
        headers = (
            {"retry-after": retry_after(refusal.retry_after)} if refusal.retry_after is not None else None
        )
        return error_response(refusal.status, refusal.kind, "Ramparts gateway: " + decision.reason, headers)

    def _check(self, record: dict[str, Any], facts: decide.Facts, started: float) -> web.Response | None:
        """Ask the engine about the facts gathered so far: None to go on (a report-mode would-deny is
        kept for the record), or the refusal to send."""
        decision, refusal = decide_gateway(self.limits, facts, now=time.time())
        if refusal is not None:
            return self._refuse(record, decision, refusal, started)
        if not decision.enforced:
            record["decision"] = decision
        return None

    async def _read_json(self, request: web.Request) -> tuple[bytes, Any] | str:
        """The raw body and its JSON, or a reason to refuse it (``"too_large"``, ``"body_timeout"`` or a
        message)."""
        length = request.content_length
        if length is not None and length > self.config.max_request_bytes:
            return "too_large"
        try:
            async with asyncio.timeout(self.config.body_timeout):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return "too_large"
        except TimeoutError:
            return "body_timeout"
        try:
            return raw, json.loads(raw)
        except ValueError:
            return "the request body is not valid JSON"
        except RecursionError:
            return "the request body is nested too deeply"

    def _session(self, request: web.Request, identity: Identity) -> tuple[str | None, str]:
        """The client's session id (for the audit) and the vault's session: per user, so one user
        cannot have another user's placeholders restored by naming their session."""
        header = request.headers.get("X-Claude-Code-Session-Id")
        session = header if header and _SESSION_ID.fullmatch(header) else None
        return session, f"{identity.user}/{session or 'token-' + identity.token_id}"

    def _prepare(self, body: dict[str, Any], vault_session: str, *, fetched: bool = False) -> Prepared:
        """Screen, mask, serialise. Raises :class:`MaskBlocked`. ``fetched``: the detectors' answers
        for the request's new texts are already cached (:meth:`_fetch`)."""
        with one_digest_each():  # the caches look each text up several times: hash it once
            if self.pool is not None and not fetched:
                self._prefetch(body)
            screened = self.screener.screen_request(body)
            masked = self.masker.mask_request(screened.body, vault_session)
        out = masked.body
        payload = b"" if out is body else json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode()
        return Prepared(out, payload, screened, masked, self.vault.known(vault_session))

    def _prefetch(self, body: dict[str, Any]) -> None:
        """Send every text the screener and the masker will need, and do not have cached, to the
        detector processes at once (a request's injection scoring and scanning run side by side), and
        wait for the answers on this thread."""
        jobs = self._claim(body)
        try:
            for cache, text, pending, _mine in jobs:
                cache.put(text, pending.result())
        finally:
            self._release(jobs)

    async def _fetch(self, body: dict[str, Any]) -> None:
        """:meth:`_prefetch` for the event loop: the answers are awaited, no thread waits for them."""
        with one_digest_each():
            jobs = self._claim(body, LOOP_LOCAL_MAX)
        try:
            for cache, text, pending, _mine in jobs:
                cache.put(text, await pending.wait())
        finally:
            self._release(jobs)

    def _claim(
        self, body: dict[str, Any], local_limit: int | None = None
    ) -> list[tuple[ResultCache, str, Pending[Any] | Part[Any], bool]]:
        """The scans the request needs started (or joined, when another request started them). When
        every text new to the caches is short (``pool.scan_below``), they are scanned on this thread
        instead, and nothing is left to wait for."""
        pool = self.pool
        assert pool is not None
        # (cache, text, send it to a worker, or scan it here when short)
        wanted: list[tuple[ResultCache, str, Callable[[str], Pending[Any]], Callable[[str], Any] | None]] = []
        scan_cache = getattr(self.masker.scan, "cache", None)
        if isinstance(scan_cache, ResultCache):
            wanted += [
                (scan_cache, t, pool.submit_scan, pool.scan_here if len(t) < pool.scan_below else None)
                for t in request_texts(body, self.masker.shapes)
            ]
        if self.pdf_cache is not None:
            wanted += [
                (self.pdf_cache, d, pool.submit_pdf, None)
                for d in request_documents(body, self.masker.shapes)
            ]
        prompts = self.screener.prompt_action != "off"
        wanted += [
            (
                self.screener.cache,
                t,
                pool.submit_score,
                pool.score_here if len(t) < pool.score_below else None,
            )
            for t in screened_texts(body, prompts)
        ]
        # a text another request is already having scanned is waited for, not scanned again
        new = [(c, t, submit, local) for c, t, submit, local in wanted if t not in c]
        # only short texts new (an appended turn): scanned here, no round trip to the workers. With
        # a long one among them the round trip is paid anyway, and the short ones ride along: scanned
        # here, they would hold the GIL the executor's threads need to send the long one out
        here_only = all(local is not None for _c, _t, _s, local in new)
        if local_limit is not None and len(new) > local_limit:
            here_only = False  # many short texts: the workers' time, not the loop's
        jobs: list[tuple[ResultCache, str, Pending[Any] | Part[Any], bool]] = []
        seen: set[tuple[int, str]] = set()
        # with every worker busy, a text both scanned and scored goes out once, as one job
        joint: dict[str, tuple[Part[Any], Part[Any]]] = {}
        if not here_only and scan_cache is not None and pool.busy():
            scans = {t for c, t, _s, _l in new if c is scan_cache}
            paired = {t for c, t, _s, _l in new if c is self.screener.cache and t in scans}

            def start(
                cache: ResultCache, text: str, submit: Callable[[str], Pending[Any]]
            ) -> Pending[Any] | Part[Any]:
                if text not in paired or (cache is not scan_cache and cache is not self.screener.cache):
                    return submit(text)  # a PDF's data is its own job, whatever text equals it
                if text not in joint:
                    joint[text] = pool.submit_both(text)
                return joint[text][0 if cache is scan_cache else 1]

        else:

            def start(
                cache: ResultCache, text: str, submit: Callable[[str], Pending[Any]]
            ) -> Pending[Any] | Part[Any]:
                return submit(text)

        try:
            for cache, text, submit, local in new:
                if (id(cache), text) in seen:
                    continue
                seen.add((id(cache), text))
                if here_only and local is not None:
                    cache.put(text, local(text))
                    continue
                pending, mine = self._inflight.claim(
                    cache, text, functools.partial(start, cache, text, submit)
                )
                jobs.append((cache, text, pending, mine))
        except BaseException:
            self._release(jobs)
            raise
        return jobs

    def _release(self, jobs: list[tuple[ResultCache, str, Pending[Any] | Part[Any], bool]]) -> None:
        for cache, text, _pending, mine in jobs:
            if mine:
                self._inflight.release(cache, text)

    async def _admit(
        self, request: web.Request, record: dict[str, Any], started: float
    ) -> tuple[Identity, str, dict[str, Any], bytes] | web.Response:
        """Authentication, limits and body checks shared by messages and count_tokens."""
        identity = self._identify(request)
        facts = decide.Facts(authenticated=identity is not None)
        refused = self._check(record, facts, started)
        if refused is not None or identity is None:
            return refused or error_response(401, "authentication_error", "unauthenticated")
        session, vault_session = self._session(request, identity)
        record.update(user=identity.user, token_id=identity.token_id, session=session)
        full = not self.audit.has_room()  # a stalled store: the writer's queue is at its cap
        if full or not self.audit.healthy:  # the last write failed: this request's record is the probe
            decision = decide.audit_unhealthy(self.limits.mode, backlog=full)
            if decision.verdict == "deny":
                return self._refuse(
                    record, decision, decide.refusal(decision, self.limits, facts, now=0), started
                )
            record["decision"] = decision
        if self.rate is not None:
            wait = (
                await asyncio.to_thread(self.rate.take, identity.user)
                if isinstance(self.rate, SharedRateLimiter)
                else self.rate.take(identity.user)
            )
            facts = facts._replace(rate_wait=wait)
        if self.config.daily_tokens is not None:
            facts = facts._replace(
                tokens_used=await asyncio.to_thread(self.usage.used, identity.user, utc_day())
            )
        refused = self._check(record, facts, started)
        if refused is not None:
            return refused
        got = await self._read_json(request)
        if got in ("too_large", "body_timeout"):
            state: decide.BodyState = "too_large" if got == "too_large" else "body_timeout"
            refused = self._check(record, facts._replace(body=state), started)
            if refused is not None and got == "body_timeout":
                refused.force_close()  # the rest of the body is not waited for
            return refused or error_response(400, "invalid_request_error", "unreadable body")
        if isinstance(got, str):
            refused = self._check(record, facts._replace(body="invalid", body_problem=got), started)
            return refused or error_response(400, "invalid_request_error", got)
        raw, body = got
        record["request_bytes"] = len(raw)
        if not isinstance(body, dict):
            facts = facts._replace(body="invalid", body_problem="the body must be a JSON object")
            return self._check(record, facts, started) or error_response(400, "invalid_request_error", "")
        model = body.get("model")
        record["model"] = model if isinstance(model, str) else None
        asked = body.get("max_tokens")
        facts = facts._replace(
            body="ok",
            model=model if isinstance(model, str) else None,
            model_known=True,
            max_tokens=asked if isinstance(asked, int) and not isinstance(asked, bool) else None,
        )
        refused = self._check(record, facts, started)
        if refused is not None:
            return refused
        return identity, vault_session, body, raw

    def _cap_max_tokens(self, body: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
        cap = self.config.max_tokens
        asked = body.get("max_tokens")
        if (
            cap is None
            or not isinstance(asked, int)
            or asked <= cap
            or self.config.max_tokens_mode == "reject"
        ):
            return body  # within the cap, or over it in reject mode (admission refused it, or reports it)
        record["max_tokens"] = {"asked": asked, "sent": cap}
        out = {**body, "max_tokens": cap}
        thinking = body.get("thinking")
        budget = thinking.get("budget_tokens") if isinstance(thinking, dict) else None
        if isinstance(thinking, dict) and isinstance(budget, int) and budget >= cap:
            # the API wants budget_tokens < max_tokens
            out["thinking"] = {**thinking, "budget_tokens": max(1, cap - 1)}
        return out

    async def _screen_and_mask(
        self, body: dict[str, Any], raw: bytes, vault_session: str, record: dict[str, Any], started: float
    ) -> Prepared | web.Response:
        try:
            if self._inline and len(raw) < INLINE_BELOW:
                # a request of ordinary size: its scans awaited here, then screened and masked on the
                # loop (a thread per request cost more than the work: under a burst of 100, handing
                # the GIL between six threads took half of the gateway's context switches)
                async with self._fetching:  # a bounded backlog: the scan timeout measures work, not a queue
                    await self._fetch(body)
                prepared = None
                async with self._turn:
                    try:
                        with on_loop():
                            prepared = self._prepare(body, vault_session, fetched=True)
                    except NotFetched:  # an answer evicted before use: never wait for a worker here
                        pass
                    # the turn is held one more iteration: one request masked per turn of the loop, the
                    # streams' events in between (without it a burst's continuations run back to back)
                    await asyncio.sleep(0)
                if prepared is None:
                    loop = asyncio.get_running_loop()
                    prepared = await loop.run_in_executor(self._prep, self._prepare, body, vault_session)
            else:
                loop = asyncio.get_running_loop()
                prepared = await loop.run_in_executor(self._prep, self._prepare, body, vault_session)
        except MaskBlocked as blocked:
            record["masked"] = {
                "blocked": {"rule": blocked.rule, "detector": blocked.detector, "where": blocked.where}
            }
            decision = decide.dlp_block(blocked.rule, blocked.detector, blocked.where, str(blocked))
            return self._refuse(record, decision, decide.Refusal(400, "invalid_request_error"), started)
        except ShapeRefused as refused:  # an unknown block type or field, a refused image or document
            record["refused"] = {"kind": refused.kind, "name": refused.name[:100], "where": refused.where}
            decision = decide.shape_refused(refused.rule, str(refused))
            return self._refuse(record, decision, decide.Refusal(400, "invalid_request_error"), started)
        except ToolPoisoned as poisoned:
            item = poisoned.screened
            record["screened"] = {
                "tool_results": 0,
                "items": [],
                "tool_definitions": [
                    {
                        "where": item.where,
                        "tool": item.tool_use_id,
                        "action": item.action,
                        "score": item.score,
                        "signal": item.signal,
                        "fingerprint": item.fingerprint,
                    }
                ],
            }
            decision = decide.tool_poisoned(str(poisoned))
            return self._refuse(record, decision, decide.Refusal(400, "invalid_request_error"), started)
        except PromptRefused as refused_prompt:
            record["screened"] = screened_record((), 0, prompts=(refused_prompt.screened,))
            decision = decide.prompt_injection(str(refused_prompt))
            return self._refuse(record, decision, decide.Refusal(400, "invalid_request_error"), started)
        except ScanFailed as exc:  # the detectors failed: nothing goes out unscanned (store failures
            # are the _store_failures middleware's: 503)
            decision = decide.scan_failed(str(exc))
            return self._refuse(record, decision, decide.Refusal(500, "api_error"), started)
        record["masked"] = masked_record(prepared.masked.findings)
        record["screened"] = screened_record(
            prepared.screened.screened,
            prepared.screened.results,
            prepared.screened.tools,
            prepared.screened.prompts,
        )
        if not prepared.payload:
            prepared = prepared._replace(payload=raw)
        record["upstream_bytes"] = len(prepared.payload)
        return prepared

    # -- handlers

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "service": "ramparts-gateway"})

    async def not_found(self, request: web.Request) -> web.Response:
        return error_response(
            404, "not_found_error", f"Ramparts gateway: no route for {request.method} {request.path}"
        )

    async def models(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        record = self._record(request, None, None)
        identity = self._identify(request)
        refused = self._check(record, decide.Facts(authenticated=identity is not None), started)
        if refused is not None or identity is None:
            return refused or error_response(401, "authentication_error", "unauthenticated")
        record.update(user=identity.user, token_id=identity.token_id)
        url = self.config.upstream + request.path_qs
        try:
            async with self.client.get(url, headers=self._upstream_headers(request)) as upstream:
                data = await upstream.content.read(_MAX_ERROR_BODY)
                headers = self._downstream_headers(upstream)
                status = upstream.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._upstream_failed(record, exc, started)
        if status == 200 and self.config.models and request.match_info.get("model_id") is None:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                listing = json.loads(data)
                listing["data"] = [m for m in listing["data"] if self.config.model_allowed(m.get("id"))]
                data = json.dumps(listing).encode()
        if status == 200 and self.bedrock is not None and request.match_info.get("model_id") is None:
            data = upstream_mod.add_models(self.bedrock.config, self.config.model_allowed, data)
        record.setdefault("decision", decide.ALLOW)
        record.update(status=status, outcome="ok", latency_ms=self._ms(started))
        self.audit.add(record)
        return web.Response(status=status, body=data, headers=headers)

    async def count_tokens(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        record = self._record(request, None, None)
        admitted = await self._admit(request, record, started)
        if isinstance(admitted, web.Response):
            return admitted
        _identity, vault_session, body, raw = admitted
        prepared = await self._screen_and_mask(body, raw, vault_session, record, started)
        if isinstance(prepared, web.Response):
            return prepared
        bedrock_id = self.bedrock.route(body.get("model")) if self.bedrock is not None else None
        if bedrock_id is not None:
            return await upstream_mod.count_tokens(self, request, prepared.body, bedrock_id, record, started)
        url = self.config.upstream + request.path_qs
        try:
            async with self.client.post(
                url, data=prepared.payload, headers=self._upstream_headers(request)
            ) as upstream:
                data = await upstream.content.read(_MAX_ERROR_BODY)
                headers = self._downstream_headers(upstream)
                status = upstream.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self._upstream_failed(record, exc, started)
        record.setdefault("decision", decide.ALLOW)
        record.update(status=status, outcome="ok", latency_ms=self._ms(started))
        self.audit.add(record)
        return web.Response(status=status, body=data, headers=headers)

    @staticmethod
    def _ms(started: float) -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    def _upstream_failed(self, record: dict[str, Any], exc: BaseException, started: float) -> web.Response:
        timeout = isinstance(exc, TimeoutError)
        status, kind = (504, "timeout_error") if timeout else (502, "api_error")
        message = "Ramparts gateway: the upstream " + (
            "timed out" if timeout else f"failed ({type(exc).__name__})"
        )
        record.setdefault("decision", decide.ALLOW)
        record.update(
            status=status,
            outcome="upstream_error",
            reasons=[message],
            latency_ms=self._ms(started),
        )
        self.audit.add(record)
        return error_response(status, kind, message)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        record = self._record(request, None, None)
        admitted = await self._admit(request, record, started)
        if isinstance(admitted, web.Response):
            return admitted
        identity, vault_session, body, raw = admitted
        capped = self._cap_max_tokens(body, record)
        prepared = await self._screen_and_mask(capped, raw, vault_session, record, started)
        if isinstance(prepared, web.Response):
            return prepared
        if capped is not body and prepared.body is capped:  # clamped but nothing masked: serialise
            prepared = prepared._replace(
                payload=json.dumps(capped, ensure_ascii=False, separators=(",", ":")).encode()
            )
            record["upstream_bytes"] = len(prepared.payload)
        record["stream"] = bool(body.get("stream"))
        record["prepare_ms"] = self._ms(started)
        known = prepared.known

        def vault_lookup(placeholder: str) -> str | None:
            value = known.get(placeholder)
            return value if value is not None else self.vault.value_for(vault_session, placeholder)

        # tool inputs bound for a sink get only what may travel there (the placeholder stays otherwise)
        lookup = OutboundLookup(vault_lookup, self.config.outbound)

        usage = Usage()
        record.setdefault("decision", decide.ALLOW)
        record["outcome"] = "ok"
        url = self.config.upstream + request.path_qs
        bedrock_id = self.bedrock.route(body.get("model")) if self.bedrock is not None else None
        self.in_flight += 1
        try:
            if bedrock_id is not None:
                return await upstream_mod.messages(
                    self, request, prepared.body, bedrock_id, lookup, usage, record, started
                )
            async with self.client.post(
                url, data=prepared.payload, headers=self._upstream_headers(request)
            ) as upstream:
                record["ttfb_ms"] = self._ms(started)
                record["status"] = upstream.status
                headers = self._downstream_headers(upstream)
                if upstream.status != 200:
                    data = await upstream.content.read(_MAX_ERROR_BODY)
                    record.update(outcome="upstream_status", response_bytes=len(data))
                    return web.Response(status=upstream.status, body=data, headers=headers)
                if upstream.content_type == "text/event-stream":
                    return await self._stream(request, upstream, headers, lookup, usage, record)
                data = await upstream.content.read(_MAX_RESPONSE_BODY)
                return self._whole(data, headers, lookup, usage, record)
        except (aiohttp.ClientError, TimeoutError) as exc:
            if record.get("streamed"):
                record["outcome"] = "upstream_error"
                raise
            record.pop("status", None)
            return self._upstream_failed_late(record, exc, started)
        except asyncio.CancelledError:
            record["outcome"] = "client_aborted"
            raise
        finally:
            self.in_flight -= 1
            if lookup.withheld:
                record["withheld"] = lookup.withheld
            self._finish(record, identity, usage, started)

    def _upstream_failed_late(
        self, record: dict[str, Any], exc: BaseException, started: float
    ) -> web.Response:
        timeout = isinstance(exc, TimeoutError)
        status, kind = (504, "timeout_error") if timeout else (502, "api_error")
        message = "Ramparts gateway: the upstream " + (
            "timed out" if timeout else f"failed ({type(exc).__name__})"
        )
        record.update(status=status, outcome="upstream_error", reasons=[message])
        return error_response(status, kind, message)

    def _finish(self, record: dict[str, Any], identity: Identity, usage: Usage, started: float) -> None:
        record["latency_ms"] = self._ms(started)
        record["usage"] = usage.record()
        total = usage.total
        if total and self.config.daily_tokens is not None:
            user, day = identity.user, utc_day()
            self.audit.run(lambda: self.usage.add(user, day, total))
        self.audit.add(record)

    def _whole(
        self,
        data: bytes,
        headers: dict[str, str],
        lookup: Callable[[str], str | None],
        usage: Usage,
        record: dict[str, Any],
    ) -> web.Response:
        try:
            message = json.loads(data)
        except ValueError:
            record["response_bytes"] = len(data)
            return web.Response(status=200, body=data, headers=headers)
        if isinstance(message, dict):
            usage.take(message.get("usage"))
        restored = restore_message(message, lookup)
        if restored is not message:
            data = json.dumps(restored, ensure_ascii=False, separators=(",", ":")).encode()
            record["restored"] = 1
        record["response_bytes"] = len(data)
        return web.Response(status=200, body=data, headers=headers)

    async def _stream(
        self,
        request: web.Request,
        upstream: aiohttp.ClientResponse,
        headers: dict[str, str],
        lookup: Callable[[str], str | None],
        usage: Usage,
        record: dict[str, Any],
        decoder: EventSource | None = None,
        chunks: AsyncIterator[bytes] | None = None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers=headers)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        await response.prepare(request)
        record["streamed"] = True
        decoder, guard = decoder or SSEDecoder(), StreamGuard(lookup)
        sent = events = 0
        try:
            async for chunk in chunks or upstream.content.iter_any():
                out: list[bytes] = []
                for item in decoder.feed(chunk):
                    events += 1
                    if item.event in ("message_start", "message_delta") and item.data:
                        take_usage(item, usage)
                    out.extend(encode(e) for e in guard.feed(item))
                if out:
                    data = b"".join(out)
                    sent += len(data)
                    await response.write(data)
            tail = [encode(e) for e in guard.close()]
            rest = decoder.pending()
            if rest:  # a truncated last event: pass it on as it came
                tail.append(rest)
                record["outcome"] = "partial"
            if tail:
                data = b"".join(tail)
                sent += len(data)
                await response.write(data)
        except SSEError as exc:
            record["outcome"] = "partial"
            record["reasons"] = [str(exc)]
            await self._stream_error(response, guard, "api_error", "Ramparts gateway: " + str(exc))
        except GatewayStoreError as exc:  # a placeholder to restore, and the vault went away
            print(f"ramparts gateway: state store failed: {exc}", file=sys.stderr, flush=True)
            record["outcome"] = "partial"
            record["reasons"] = ["the state store failed mid-stream"]
            await self._stream_error(
                response, guard, "api_error", "Ramparts gateway: its state store is unavailable"
            )
        except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError) as exc:
            # upstream broke mid-stream: tell the client, close cleanly, never retry (a tool call
            # may already be half out)
            record["outcome"] = "partial"
            record["reasons"] = [f"upstream failed mid-stream ({type(exc).__name__})"]
            with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
                await self._stream_error(
                    response, guard, "api_error", "Ramparts gateway: the upstream stream broke"
                )
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            record["outcome"] = "client_aborted"  # the client went away while we wrote
        finally:
            record.update(
                response_bytes=sent,
                events=events,
                restored=guard.restored,
                unknown_placeholders=guard.unknown,
                malformed_events=guard.malformed,
            )
        if record["outcome"] != "client_aborted":
            with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
                await response.write_eof()
        return response

    @staticmethod
    async def _stream_error(
        response: web.StreamResponse, guard: StreamGuard, kind: str, message: str
    ) -> None:
        tail = b"".join(encode(e) for e in guard.close())
        event = SSEEvent(event="error", data=json.dumps(error_body(kind, message)))
        await response.write(tail + encode(event))


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise GatewayError(f"--listen must be HOST:PORT, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve(
    gateway: Gateway,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
    max_lifetime: float | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set, SIGINT/SIGTERM, or ``max_lifetime`` seconds have passed."""
    import signal

    runner = gateway.runner(shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    server = getattr(site, "_server", None)
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[:2] if sockets else (host, port)
    url = f"http://{bound[0]}:{bound[1]}"
    if ready is not None:
        ready(url)
    try:
        if max_lifetime is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max_lifetime)
        else:
            await stop.wait()
    finally:
        await runner.cleanup()


def run(config: GatewayConfig, listen: str, *, max_lifetime: float | None = None, out: Any = None) -> int:
    """``ramparts gateway``: serve on ``listen`` (port 0 picks a free one); prints the URL when ready."""
    host, port = parse_listen(listen)
    gateway = Gateway(config)
    stream = out or sys.stdout

    def ready(url: str) -> None:
        print(f"ramparts gateway listening on {url} -> {config.upstream}", file=stream, flush=True)

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(serve(gateway, host, port, ready=ready, max_lifetime=max_lifetime))
    return 0


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop when it is installed (the gateway extra, as for the egress proxy), else
    asyncio's: under a burst the gateway's process is busy mostly in the loop's socket reads and
    writes of the streams it relays, which uvloop does in C."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def _report(action: str) -> str:
    """In report mode a prompt the policy would block is only recorded (as a warn)."""
    return "off" if action == "off" else "warn"


def _lowest_warn(config: GatewayConfig) -> float:
    """The scorer computes a fingerprint for any text at or above this: the lowest of the surfaces'."""
    lowest = config.injection_warn
    if config.description_warn is not None:
        lowest = min(lowest, config.description_warn)
    elif config.description_block is not None:
        lowest = min(lowest, config.description_block)
    if config.prompt_action != "off":
        if config.prompt_warn is not None:
            lowest = min(lowest, config.prompt_warn)
        elif config.prompt_block is not None:
            lowest = min(lowest, config.prompt_block)
    return lowest
