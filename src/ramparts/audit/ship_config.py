"""The ``ship:`` configuration: parsed once from a plain dict, validated, frozen.

Unknown keys are errors naming their path; keys that weaken a guarantee are named ``unsafe_*``
and warn. See docs/shipping.md for the shape.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import PolicyError
from .ship import Sink

_COMMON = {"name", "type", "records"}
_SINK_KEYS: dict[str, set[str]] = {
    "jsonl": {"path", "fsync"},
    "syslog": {
        "host",
        "port",
        "transport",
        "ca_file",
        "cert_file",
        "key_file",
        "server_name",
        "facility",
        "app_name",
        "hostname",
        "sd_id",
        "timeout_seconds",
        "max_udp_bytes",
        "unsafe_tls_no_verify",
    },
    "otlp": {"endpoint", "headers", "timeout_seconds", "ca_file", "service_name", "unsafe_plain_http"},
    "http": {
        "url",
        "token_env",
        "token_file",
        "timeout_seconds",
        "ca_file",
        "unsafe_plain_http",
    },
    "ramparts": {
        "url",
        "token_env",
        "token_file",
        "timeout_seconds",
        "ca_file",
        "cert_file",
        "key_file",
        "unsafe_plain_http",
    },
    "s3": {
        "bucket",
        "prefix",
        "retention_days",
        "region",
        "endpoint_url",
        "profile",
        "unsafe_governance_mode",
    },
    "firehose": {"stream", "region", "endpoint_url", "profile"},
}
_TOP = {
    "sinks",
    "checkpoint_sinks",
    "batch_size",
    "interval_seconds",
    "retry",
    "log_id",
    "unsafe_single_checkpoint_sink",
}
_RETRY = {"attempts", "base_seconds", "max_seconds"}


@dataclass(frozen=True)
class SinkSpec:
    name: str
    type: str
    records: bool
    options: Mapping[str, Any]


@dataclass(frozen=True)
class ShipConfig:
    sinks: tuple[SinkSpec, ...]
    checkpoint_sinks: tuple[str, ...]
    batch_size: int = 100
    interval: float = 5.0
    retry_attempts: int = 6
    retry_base: float = 0.5
    retry_cap: float = 60.0
    log_id: str = ""
    warnings: tuple[str, ...] = field(default=())


def _err(path: str, problem: str) -> PolicyError:
    return PolicyError(f"{path}: {problem}")


def _unknown(data: Mapping[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise _err(f"{path}.{extra[0]}", "unknown key")


def _num(data: Mapping[str, Any], key: str, path: str, default: float, lo: float, hi: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _err(f"{path}.{key}", f"must be a number from {lo:g} to {hi:g}")
    return float(value)


def _int(data: Mapping[str, Any], key: str, path: str, default: int | None, lo: int, hi: int) -> int:
    value = data.get(key, default)
    if value is None:
        raise _err(f"{path}.{key}", "is required")
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _err(f"{path}.{key}", f"must be an integer from {lo} to {hi}")
    return value


def _str(data: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise _err(f"{path}.{key}", "must be a non-empty string" if required else "must be a string")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(
    options: Mapping[str, Any], key: str, path: str, notes: list[str], *, required: bool = True
) -> None:
    url = _str(options, key, path, required=required)
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _err(f"{path}.{key}", "must be an http(s) URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        if options.get("unsafe_plain_http") is not True:
            raise _err(
                f"{path}.{key}", "plain http to a remote host; use https (or set unsafe_plain_http: true)"
            )
        notes.append(f"{path}.unsafe_plain_http: audit data leaves this machine unencrypted")


def _sink(raw: Any, index: int, notes: list[str]) -> SinkSpec:
    path = f"ship.sinks[{index}]"
    if not isinstance(raw, Mapping):
        raise _err(path, "must be a mapping")
    kind = raw.get("type")
    if kind not in _SINK_KEYS:
        raise _err(f"{path}.type", f"must be one of {', '.join(sorted(_SINK_KEYS))}")
    _unknown(raw, _COMMON | _SINK_KEYS[kind], path)
    name = _str(raw, "name", path, required=True)
    records = raw.get("records", True)
    if not isinstance(records, bool):
        raise _err(f"{path}.records", "must be true or false")
    opts = dict(raw)
    for key, value in opts.items():
        if key.startswith("unsafe_"):
            if not isinstance(value, bool):
                raise _err(f"{path}.{key}", "must be true or false")
            if value:
                notes.append(f"{path}.{key}: enabled; this weakens a guarantee")
    if kind == "jsonl":
        _str(opts, "path", path, required=True)
    elif kind == "syslog":
        _str(opts, "host", path, required=True)
        transport = opts.setdefault("transport", "tcp")
        if transport not in ("udp", "tcp", "tls"):
            raise _err(f"{path}.transport", "must be udp, tcp or tls")
        _int(opts, "port", path, 6514 if transport == "tls" else 514, 1, 65535)
        _int(opts, "facility", path, 13, 0, 23)
        _int(opts, "max_udp_bytes", path, 8192, 480, 65000)
        _num(opts, "timeout_seconds", path, 10, 0.1, 300)
        if transport == "udp":
            notes.append(f"{path}.transport: udp may lose or truncate messages; prefer tcp or tls")
    elif kind == "otlp":
        _check_url(opts, "endpoint", path, notes)
        _num(opts, "timeout_seconds", path, 10, 0.1, 300)
        headers = opts.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise _err(f"{path}.headers", "must map header names to strings")
    elif kind in ("http", "ramparts"):
        _check_url(opts, "url", path, notes)
        _num(opts, "timeout_seconds", path, 10, 0.1, 300)
        if not (opts.get("token_env") or opts.get("token_file")):
            raise _err(path, "needs token_env or token_file (the bearer token is never written inline)")
    elif kind == "s3":
        _str(opts, "bucket", path, required=True)
        _int(opts, "retention_days", path, None, 1, 36500)
        _check_url(opts, "endpoint_url", path, notes, required=False)
    elif kind == "firehose":
        _str(opts, "stream", path, required=True)
        _check_url(opts, "endpoint_url", path, notes, required=False)
    return SinkSpec(name, kind, records, opts)


def parse_ship_config(data: Any) -> ShipConfig:
    """Validate a ``ship:`` section (or a document holding one) and return it frozen."""
    if isinstance(data, Mapping) and set(data) == {"ship"}:
        data = data["ship"]
    if not isinstance(data, Mapping):
        raise _err("ship", "must be a mapping")
    _unknown(data, _TOP, "ship")
    raw_sinks = data.get("sinks")
    if not isinstance(raw_sinks, Sequence) or isinstance(raw_sinks, str) or not raw_sinks:
        raise _err("ship.sinks", "must be a non-empty list")
    notes: list[str] = []
    sinks = tuple(_sink(raw, i, notes) for i, raw in enumerate(raw_sinks))
    names = [s.name for s in sinks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _err(f"ship.sinks[{i}].name", f"duplicate sink name {name!r}")
    cps = data.get("checkpoint_sinks", [])
    if not isinstance(cps, Sequence) or isinstance(cps, str) or not all(isinstance(c, str) for c in cps):
        raise _err("ship.checkpoint_sinks", "must be a list of sink names")
    for c in cps:
        if c not in names:
            raise _err("ship.checkpoint_sinks", f"no sink named {c!r}")
    checkpoint_sinks = tuple(dict.fromkeys(cps))
    unsafe_single = data.get("unsafe_single_checkpoint_sink", False)
    if not isinstance(unsafe_single, bool):
        raise _err("ship.unsafe_single_checkpoint_sink", "must be true or false")
    if len(checkpoint_sinks) < 2:
        if not unsafe_single:
            raise _err(
                "ship.checkpoint_sinks",
                "name at least two independent sinks for the latest checkpoint, so a truncated tail "
                "shows from either (or set unsafe_single_checkpoint_sink: true)",
            )
        notes.append("ship.unsafe_single_checkpoint_sink: fewer than two checkpoint sinks")
    elif all(s.type == "jsonl" for s in sinks if s.name in checkpoint_sinks):
        notes.append(
            "ship.checkpoint_sinks: all are local files, which an administrator of this host can edit"
        )
    retry = data.get("retry", {})
    if not isinstance(retry, Mapping):
        raise _err("ship.retry", "must be a mapping")
    _unknown(retry, _RETRY, "ship.retry")
    log_id = _str(data, "log_id", "ship")
    config = ShipConfig(
        sinks=sinks,
        checkpoint_sinks=checkpoint_sinks,
        batch_size=_int(data, "batch_size", "ship", 100, 1, 500),
        interval=_num(data, "interval_seconds", "ship", 5, 0.05, 3600),
        retry_attempts=_int(retry, "attempts", "ship.retry", 6, 1, 100),
        retry_base=_num(retry, "base_seconds", "ship.retry", 0.5, 0.001, 600),
        retry_cap=_num(retry, "max_seconds", "ship.retry", 60, 0.001, 86400),
        log_id=log_id,
        warnings=tuple(notes),
    )
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return config


def build_sinks(specs: Sequence[SinkSpec]) -> list[Sink]:
    """Instantiate sinks; each type's module (and its third-party library) is imported only if used."""
    out: list[Sink] = []
    try:
        for spec in specs:
            out.append(_build(spec))
    except BaseException:
        for sink in out:
            sink.close()
        raise
    return out


def _build(spec: SinkSpec) -> Sink:
    o = spec.options
    if spec.type == "jsonl":
        from .sinks.jsonl import JsonlSink

        return JsonlSink(spec.name, o["path"], fsync=o.get("fsync", True) is not False)
    if spec.type == "syslog":
        from .sinks.syslog import SyslogSink

        return SyslogSink.from_options(spec.name, o)
    if spec.type == "otlp":
        from .sinks.otlp import OtlpSink

        return OtlpSink.from_options(spec.name, o)
    if spec.type == "ramparts":
        from .sinks.server import ServerSink

        return ServerSink.from_options(spec.name, o)
    if spec.type == "http":
        from .sinks.http import HttpSink

        return HttpSink.from_options(spec.name, o)
    if spec.type == "s3":
        from .sinks.aws import S3Sink

        return S3Sink.from_options(spec.name, o)
    from .sinks.aws import FirehoseSink

    return FirehoseSink.from_options(spec.name, o)


def load_config_file(path: str) -> ShipConfig:
    """Read a YAML or JSON file holding a ``ship:`` section (or just the section)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise PolicyError(f"cannot read the ship configuration: {exc.strerror}", file=path) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"not valid YAML: {exc}", file=path) from exc
    try:
        return parse_ship_config(data)
    except PolicyError as exc:
        raise PolicyError(exc.problem, file=path) from exc


def default_log_id(store_path: str) -> str:
    """The chained store has no log id of its own: host name plus a digest of the store's path."""
    import hashlib
    import os
    import socket

    host = "".join(ch for ch in socket.gethostname() if ch.isalnum() or ch in "-.") or "host"
    digest = hashlib.sha256(os.path.realpath(store_path).encode()).hexdigest()[:8]
    return f"{host}-{digest}"


def ship_command(
    state_dir: str, config_path: str | ShipConfig, *, once: bool, only: Sequence[str], url: str | None = None
) -> int:
    """``ramparts audit ship``: 0 when every selected sink is caught up, 1 otherwise."""
    import logging
    import signal
    import sys

    from .ship import open_shipper
    from .ship_sources import StoreSource
    from .store import AuditStore

    logging.basicConfig(level=logging.INFO, format="ramparts: %(message)s")
    config = load_config_file(config_path) if isinstance(config_path, str) else config_path
    with AuditStore.open(state_dir, url=url, must_exist=True) as store:
        source = StoreSource(store, config.log_id or None)  # default: the log's own id
        shipper = open_shipper(source, state_dir, config, only=only)
        for state in shipper.states.values():  # the control plane's sink sends the log's verifier key
            bind = getattr(state.sink, "bind_source", None)
            if bind is not None:
                bind(source)
        if not once:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: shipper.stop())
        try:
            report = shipper.run(until_idle=once)
        finally:
            shipper.close()
    for name, count in sorted(report.delivered.items()):
        print(f"{name}: delivered {count} item(s)")
    for name, error in sorted(report.errors.items()):
        print(f"{name}: FAILED: {error}", file=sys.stderr)
    return 0 if report.ok else 1
