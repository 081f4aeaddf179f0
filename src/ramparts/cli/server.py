"""``ramparts server`` (the control plane), ``ramparts server token …``, ``ramparts agent`` (a host's
shipper and kill-order refresher) and ``ramparts alerts``.

Starlette and uvicorn load only when the server starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .._locations import state_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "server",
        help="run the control plane (ingest, behaviour rules, central kill switch); manage its tokens",
        description="Hosts ship their audit logs here (`ramparts agent` or `audit ship` with a ramparts "
        "sink) and read kill orders from it. Store: <state dir>/server.db, or --db postgresql://…",
    )
    common(p)
    p.add_argument("--listen", default="127.0.0.1:8790", help="HOST:PORT (default %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    p.add_argument(
        "--telemetry-grace",
        type=float,
        default=60.0,
        help="seconds Claude Code's telemetry waits for the hook's records before a missing one alerts",
    )
    p.add_argument(
        "--oidc",
        metavar="FILE",
        help="dashboard sign-in through an OpenID Connect provider (YAML: issuer, client_id, roles_claim, "
        "admin_values, viewer_values; docs/server.md)",
    )
    p.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate chain (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM)")
    p.add_argument(
        "--client-ca",
        metavar="FILE",
        help="mTLS: ingest needs a client certificate from this CA naming the host token's host",
    )
    _db(p)
    p.set_defaults(func=cmd_server)
    srv = p.add_subparsers(metavar="ACTION")
    tok = srv.add_parser("token", help="create, list or revoke API tokens").add_subparsers(metavar="ACTION")
    t = tok.add_parser("create", help="a token for a host (--host NAME) or a person (--admin NAME)")
    common(t, policy=False)
    _db(t)
    who = t.add_mutually_exclusive_group(required=True)
    who.add_argument("--host", metavar="NAME", help="a host token: ingests records, reads kill orders")
    who.add_argument("--admin", metavar="NAME", help="an admin token: also kills, lifts, reads alerts")
    t.set_defaults(func=cmd_token_create)
    t = tok.add_parser("list", help="tokens (ids, kinds, names; never the secrets)")
    common(t, policy=False)
    _db(t)
    t.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    t.set_defaults(func=cmd_token_list)
    t = tok.add_parser("revoke", help="revoke a token by id (its requests get 401 from then on)")
    common(t, policy=False)
    _db(t)
    t.add_argument("id", help="the token id `server token list` shows")
    t.set_defaults(func=cmd_token_revoke)

    key = srv.add_parser(
        "key", help="log signing keys bound to host tokens (the first is bound when the host first ships)"
    ).add_subparsers(metavar="ACTION")
    k = key.add_parser("list", help="bound keys, and unknown ones whose batches are quarantined")
    common(k, policy=False)
    _db(k)
    k.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    k.set_defaults(func=cmd_key_list)
    k = key.add_parser("pin", help="bind a log's signing key (verifier) to a host token")
    common(k, policy=False)
    _db(k)
    k.add_argument("token_id", help="the host token's id (`server token list`)")
    k.add_argument("verifier", help="the key as `server key list` or `audit verify` shows it: NAME+HASH+KEY")
    k.add_argument("--by", default=os.environ.get("USER", "admin"), help="who pins it (kept with the key)")
    k.set_defaults(func=cmd_key_pin)
    k = key.add_parser("unpin", help="unbind a key: that log's batches are quarantined from then on")
    common(k, policy=False)
    _db(k)
    k.add_argument("token_id", help="the host token's id")
    k.add_argument("verifier", help="the key to unbind, as `server key list` shows it")
    k.set_defaults(func=cmd_key_unpin)

    o = srv.add_parser(
        "otel-headers", help="print the OTLP Authorization header (Claude Code's otelHeadersHelper runs this)"
    )
    common(o)
    o.set_defaults(func=cmd_otel_headers)

    usr = srv.add_parser("user", help="people who sign in to the dashboard").add_subparsers(metavar="ACTION")
    u = usr.add_parser(
        "add", help="add (or reset) a person: admin or viewer; the password is read from stdin"
    )
    common(u, policy=False)
    _db(u)
    u.add_argument("name", help="the sign-in name")
    u.add_argument(
        "--role", choices=["admin", "viewer"], required=True, help="admin: may act; viewer: sees, redacted"
    )
    u.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from stdin"
    )
    u.set_defaults(func=cmd_user_add)

    p = sub.add_parser(
        "agent",
        help="ship this host's audit log to the control plane, keep the hook's copy of its kill orders fresh "
        "and apply its end and re-auth orders",
        description="Needs RAMPARTS_SERVER and RAMPARTS_SERVER_TOKEN (a host token), or the policy's server: "
        "section. The audit log is the outbox: records the server has not acknowledged stay there and are "
        "sent when it is back.",
    )
    common(p)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between passes (default 1)")
    p.add_argument("--once", action="store_true", help="one pass, then exit (0: everything delivered)")
    p.add_argument("--exit-after", type=float, default=0.0, help="stop after this many seconds (0: never)")
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser("approvals", help="requests waiting for a person's answer (server.approvals: remote)")
    common(p)
    p.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    p.set_defaults(func=cmd_approvals)
    p = sub.add_parser("approve", help="allow (or --deny) a pending approval request (needs an admin token)")
    common(p)
    p.add_argument("id", help="the approval request id `ramparts approvals` shows")
    p.add_argument("--deny", action="store_true", help="refuse instead")
    p.add_argument("--reason", default="", help="said to the agent and kept in the audit trail")
    p.set_defaults(func=cmd_approve)

    p = sub.add_parser("alerts", help="the control plane's alerts (needs an admin token)")
    common(p)
    _db(p)
    p.add_argument("--json", action="store_true", help="one JSON object a line, for scripts")
    p.set_defaults(func=cmd_alerts)


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="postgresql://… (default: <state dir>/server.db)")


def _store(args: argparse.Namespace, **kwargs: Any) -> Any:
    from ..server.store import ServerStore

    return ServerStore.open(state_dir(args.state_dir), url=args.db, **kwargs)


def _policy(args: argparse.Namespace) -> Any:
    from .._locations import policy_ref
    from ..policy.load import load_policy

    return load_policy(policy_ref(getattr(args, "policy", None)))


def _settings(args: argparse.Namespace) -> Any:
    """The server settings from $RAMPARTS_SERVER and the policy's server: section (None: none set)."""
    from ..server.config import resolve

    try:  # the environment names the server; the policy's section still gives the CA and the certificate
        section = _policy(args).server
    except Exception:  # noqa: BLE001 - no policy: only the environment can name a server
        section = ""
    return resolve(section)


def cmd_server(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..monitor import parse_monitor
    from ..server.app import create_app

    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        print("ramparts server: --listen must be HOST:PORT", file=sys.stderr)
        return EXIT_USAGE
    section = ""
    policy = None
    if args.policy or os.environ.get("RAMPARTS_POLICY"):
        policy = _policy(args)
        section = policy.monitor
    monitor = parse_monitor(json.loads(section)) if section else None
    oidc = None
    if args.oidc:
        from ..server.dashboard.oidc import load_oidc

        try:
            oidc = load_oidc(args.oidc)
        except ValueError as exc:
            print(f"ramparts server: --oidc {exc}", file=sys.stderr)
            return EXIT_USAGE
    logging.basicConfig(level=logging.INFO, format="ramparts server: %(message)s")
    store = _store(args, monitor=monitor)  # creates the tables once, before any worker starts
    if bool(args.tls_cert) != bool(args.tls_key) or (args.client_ca and not args.tls_cert):
        print(
            "ramparts server: --tls-cert and --tls-key go together; --client-ca needs them", file=sys.stderr
        )
        return EXIT_USAGE
    bind: dict[str, Any] = {"host": host.strip("[]"), "port": int(port), "log_level": "warning"}
    if args.tls_cert:
        bind.update(ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    if args.client_ca:
        import ssl

        from ..server.tls import MtlsH11Protocol

        bind.update(ssl_ca_certs=args.client_ca, ssl_cert_reqs=ssl.CERT_OPTIONAL, http=MtlsH11Protocol)
    scheme = "https" if args.tls_cert else "http"
    # the dashboard's cookie is Secure (HTTPS only) unless the server is on loopback (tests, make up)
    secure = host.strip("[]") not in ("127.0.0.1", "localhost", "::1")
    try:
        print(f"ramparts server: listening on {scheme}://{host}:{port} (store {store.name})", flush=True)
        if args.client_ca:
            print("ramparts server: ingest needs a client certificate (mTLS)", flush=True)
        print(f"ramparts server: dashboard at {scheme}://{host}:{port}/ui/", flush=True)
        if args.workers > 1:
            from ..server.app import (
                DB_ENV,
                GRACE_ENV,
                MONITOR_ENV,
                MTLS_ENV,
                OIDC_ENV,
                POLICY_ENV,
                SECURE_ENV,
                STATE_ENV,
            )

            store.close()
            os.environ[DB_ENV] = store.location
            os.environ[MONITOR_ENV] = section
            os.environ[GRACE_ENV] = str(args.telemetry_grace)
            os.environ[STATE_ENV] = state_dir(args.state_dir)
            os.environ[SECURE_ENV] = "1" if secure else "0"
            if args.oidc:
                os.environ[OIDC_ENV] = os.path.abspath(args.oidc)
            os.environ[MTLS_ENV] = "1" if args.client_ca else "0"
            if policy is not None:
                from .._locations import policy_ref

                os.environ[POLICY_ENV] = policy_ref(args.policy)
            uvicorn.run("ramparts.server.app:app_from_env", factory=True, workers=args.workers, **bind)
        else:
            app = create_app(
                store,
                telemetry_grace=args.telemetry_grace,
                state_dir=state_dir(args.state_dir),
                cookie_secure=secure,
                oidc=oidc,
                mtls=bool(args.client_ca),
            )
            uvicorn.run(app, **bind)
    finally:
        store.close()
    return EXIT_OK


def cmd_otel_headers(args: argparse.Namespace) -> int:
    from ..server.client import ServerError
    from ..server.config import read_token

    settings = _settings(args)
    if settings is None:
        print("ramparts server otel-headers: no control plane configured", file=sys.stderr)
        return EXIT_USAGE
    try:
        token = read_token(settings)
    except ServerError as exc:
        print(f"ramparts server otel-headers: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(json.dumps({"Authorization": f"Bearer {token}"}))
    return EXIT_OK


def cmd_user_add(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with _store(args) as store:
            store.add_user(args.name, args.role, password)
    except ValueError as exc:
        print(f"ramparts server user add: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.role} {args.name} can sign in to the dashboard")
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    kind, name = ("host", args.host) if args.host else ("admin", args.admin)
    with _store(args) as store:
        info, secret = store.create_token(kind, name)
    print(f"{kind} token {info.id} for {name} (shown once; only its hash is kept):", file=sys.stderr)
    print(secret)
    return EXIT_OK


def cmd_token_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        tokens = store.tokens()
    if args.json:
        print(json.dumps([t._asdict() for t in tokens], indent=2))
        return EXIT_OK
    for t in tokens:
        state = "revoked" if t.revoked is not None else "active"
        print(f"{t.id}  {t.kind:5}  {state:7}  {_iso(t.created)}  {t.name}")
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    with _store(args) as store:
        if not store.revoke_token(args.id):
            print(f"ramparts: no active token {args.id}", file=sys.stderr)
            return EXIT_PROBLEMS
    print(f"revoked token {args.id}")
    return EXIT_OK


def cmd_key_list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        keys = store.host_keys()
    for k in keys:
        if args.json:
            print(json.dumps(k._asdict()))
        else:
            print(f"{k.token_id}  {k.source:8}  {_iso(k.at)}  {k.host}  {k.verifier}")
    return EXIT_OK


def cmd_key_pin(args: argparse.Namespace) -> int:
    with _store(args) as store:
        try:
            key = store.pin_key(args.token_id, args.verifier, args.by)
        except ValueError as exc:
            print(f"ramparts server key pin: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(f"pinned {key.verifier.split('+')[0]} to host {key.host} (token {key.token_id})")
    return EXIT_OK


def cmd_key_unpin(args: argparse.Namespace) -> int:
    with _store(args) as store:
        if not store.unpin_key(args.token_id, args.verifier):
            print(f"ramparts: no such key bound to token {args.token_id}", file=sys.stderr)
            return EXIT_PROBLEMS
    print(f"unpinned the key from token {args.token_id}")
    return EXIT_OK


def _iso(when: float | None) -> str:
    return "-" if when is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def cmd_alerts(args: argparse.Namespace) -> int:
    from ..server.client import ServerError
    from ..server.config import client

    settings = None if args.db else _settings(args)
    try:
        if settings is not None:
            alerts = client(settings, timeout=10).alerts()
        else:
            with _store(args) as store:
                alerts = [a._asdict() for a in store.alerts()]
    except ServerError as exc:
        print(f"ramparts alerts: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.json:
        print(json.dumps(alerts, indent=2))
        return EXIT_OK
    from ..audit.render import escape

    for a in alerts:
        ack = " (acknowledged)" if a.get("acknowledged") else ""
        response = f" -> {a['response']}" if a.get("response") else ""
        print(
            escape(
                f"{_iso(a.get('at'))} {a.get('severity', '?'):6} {a.get('rule')} host={a.get('host')} "
                f"session={a.get('session') or '-'}: {a.get('message')}{response}{ack}"
            )
        )
    return EXIT_OK


def cmd_agent(args: argparse.Namespace) -> int:
    """Ship the audit log to the server and refresh the kill-order cache, every ``--interval`` seconds."""
    import logging
    import signal

    from ..audit.ship import Backoff, Cursor, Shipper
    from ..audit.ship_sources import StoreSource
    from ..audit.sinks.server import ServerSink
    from ..audit.store import AuditStore
    from ..errors import RampartsError
    from ..server.client import ServerError
    from ..server.config import client, read_token, refresh
    from ..server.host_orders import sync_orders

    logging.basicConfig(level=logging.INFO, format="ramparts agent: %(message)s")
    settings = _settings(args)
    if settings is None:
        print(
            "ramparts agent: no control plane (set RAMPARTS_SERVER or the policy's server.url)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    folder = state_dir(args.state_dir)
    try:
        token = read_token(settings)
    except ServerError as exc:
        print(f"ramparts agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from ..server.client import tls_context

    try:
        context = tls_context(settings.ca_file or None, settings.cert_file or None, settings.key_file or None)
    except ServerError as exc:
        print(f"ramparts agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sink = ServerSink(
        "control-plane", settings.url, token, timeout=max(settings.timeout_seconds, 5.0), context=context
    )
    stop = {"now": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(now=True))
    deadline = time.monotonic() + args.exit_after if args.exit_after > 0 else float("inf")
    store = None
    shipper = None
    ok = True
    try:
        while not stop["now"] and time.monotonic() < deadline:
            ok = True
            try:
                refresh(settings, folder, timeout=max(settings.timeout_seconds, 2.0))
            except (ServerError, OSError) as exc:
                ok = False
                logging.getLogger("ramparts.agent").warning("kill orders not refreshed: %s", exc)
            try:  # end and re-auth orders for this host's sessions (docs/server.md)
                applied = sync_orders(client(settings, timeout=max(settings.timeout_seconds, 2.0)), folder)
                if applied:
                    logging.getLogger("ramparts.agent").info("applied %d session order(s)", applied)
            except (ServerError, RampartsError, OSError) as exc:
                ok = False
                logging.getLogger("ramparts.agent").warning("session orders not applied: %s", exc)
            audit_here = os.path.exists(os.path.join(folder, "audit.db")) or os.environ.get(
                "RAMPARTS_AUDIT_URL"
            )
            if shipper is None and audit_here:
                store = AuditStore.open(folder, must_exist=True)
                source = StoreSource(store)
                if source.log_id:
                    sink.bind_source(source)
                    shipper = Shipper(
                        source,
                        Cursor(os.path.join(folder, "ship.db")),
                        [sink],
                        checkpoint_sinks=[sink.name],
                        batch_size=500,
                        backoff=Backoff(base=0.2, cap=10.0, attempts=3),
                    )
                else:
                    store.close()
                    store = None
            if shipper is not None:
                report = shipper.run_once()
                ok = ok and report.ok
                for state in shipper.states.values():
                    state.gave_up = False  # keep trying while running; the log is the outbox
            if args.once:
                break
            time.sleep(args.interval)
    finally:
        if shipper is not None:
            shipper.close()
        if store is not None:
            store.close()
    return EXIT_OK if ok else EXIT_PROBLEMS


def _admin_client(args: argparse.Namespace, command: str) -> Any:
    from ..server.config import client

    settings = _settings(args)
    if settings is None:
        print(
            f"ramparts {command}: no control plane (set RAMPARTS_SERVER or the policy's server.url)",
            file=sys.stderr,
        )
        return None
    return client(settings, timeout=10)


def cmd_approvals(args: argparse.Namespace) -> int:
    from ..audit.render import escape
    from ..server.client import ServerError

    try:
        api = _admin_client(args, "approvals")
        if api is None:
            return EXIT_USAGE
        items = api.approvals()
    except ServerError as exc:
        print(f"ramparts approvals: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    if args.json:
        print(json.dumps(items, indent=2))
        return EXIT_OK
    for a in items:
        print(
            escape(
                f"{a.get('id')} {a.get('state'):8} {_iso(a.get('created'))} host={a.get('host')} "
                f"session={a.get('session')} {a.get('tool')} {a.get('summary', '')[:120]}"
            )
        )
    return EXIT_OK


def cmd_approve(args: argparse.Namespace) -> int:
    from ..audit.render import escape
    from ..server.client import ServerError

    verdict = "deny" if args.deny else "allow"
    try:
        api = _admin_client(args, "approve")
        if api is None:
            return EXIT_USAGE
        answered = api.decide(args.id, verdict, args.reason)
    except ServerError as exc:
        print(f"ramparts approve: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(
        escape(
            f"{answered.get('id')}: {answered.get('state')} ({answered.get('tool')} in session {answered.get('session')})"
        )
    )
    return EXIT_OK
