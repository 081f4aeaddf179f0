"""Load a policy file: parse YAML with positions, validate against the schema, merge profiles, freeze.

Every problem is reported as ``FILE:LINE:COLUMN: problem``; unknown keys and duplicate keys are
errors. Loading is slow (YAML, JSON Schema), so :func:`load_policy` can keep the compiled form
as JSON in a cache directory keyed by the content hash: the hook then only reads JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._hashing import sha256
from ..errors import PolicyError
from .rules import Rule, RuleList, parse_rule
from .types import (
    BedrockSettings,
    CompileSettings,
    CustomEntity,
    DetectSettings,
    DlpSettings,
    EgressSettings,
    GatewaySettings,
    GitPolicy,
    HookSettings,
    McpServer,
    McpSettings,
    OutboundException,
    OutboundSettings,
    Policy,
    SessionSettings,
    policy_from_json,
    policy_to_json,
)

PROFILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles")
PROFILES = ("baseline", "strict", "readonly")
CACHE_FORMAT = "ramparts-policy-cache-v3"
_HERE = os.path.dirname(os.path.abspath(__file__))
_COMPILER_FILES = tuple(os.path.join(_HERE, name) for name in ("load.py", "types.py", "rules.py"))

Marks = dict[tuple[Any, ...], tuple[int, int]]
MAX_NODES = 100_000
"""Most YAML nodes a policy may expand to (stops alias bombs)."""
_STANDARD_TAGS = {"MappingNode": "tag:yaml.org,2002:map", "SequenceNode": "tag:yaml.org,2002:seq"}


def profile_path(name: str) -> str:
    if name not in PROFILES:
        raise PolicyError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
    return os.path.join(PROFILE_DIR, f"{name}.yaml")


def resolve_ref(ref: str) -> tuple[str, str]:
    """A policy reference is a file path or ``profile:NAME``; returns (file, display name)."""
    if ref.startswith("profile:"):
        return profile_path(ref[len("profile:") :]), ref
    path = os.path.expanduser(ref)
    return path, path


def _bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read(path: str, display: str) -> bytes:
    try:
        return _bytes(path)
    except FileNotFoundError as exc:
        raise PolicyError("policy file not found", file=display) from exc
    except OSError as exc:
        raise PolicyError(f"cannot read policy file: {exc.strerror or exc}", file=display) from exc


def load_policy(ref: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Policy:
    """Load, validate and compile a policy; with ``cache_dir``, reuse the compiled form when unchanged."""
    path, display = resolve_ref(ref)
    raw = _read(path, display)
    key = ""
    if cache_dir is not None:
        digest = sha256(f"{CACHE_FORMAT}:{','.join(Policy._fields)}".encode())
        # The compiler's own code is part of the key: an upgrade never reuses a stale compiled form.
        for module in _COMPILER_FILES:
            digest.update(b"\0" + _bytes(module))
        digest.update(os.path.realpath(path).encode() + b"\0" + raw)
        for name in PROFILES:
            digest.update(b"\0" + _bytes(profile_path(name)))
        key = digest.hexdigest()[:32]
        cached = os.path.join(cache_dir, f"policy-{key}.json")
        try:
            return policy_from_json(json.loads(_bytes(cached)))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # absent or unreadable: compile from source below
    policy = compile_policy(raw, display, base_dir=os.path.dirname(os.path.realpath(path)))
    if cache_dir is not None:
        _write_cache(os.path.join(cache_dir, f"policy-{key}.json"), policy)
    return policy


def _write_cache(target: str, policy: Policy) -> None:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(policy_to_json(policy)))
        os.replace(tmp, target)
    except OSError:
        pass  # the cache only saves time; the policy was compiled correctly without it


# -- parsing with positions ---------------------------------------------------------------------


def _empty_list_hint(text: str, error_line: int) -> str:
    """The commonest edit of a fresh policy file: an example rule uncommented below ``deny: []``. Say
    how to fix it, since YAML's own message ("expected <block end>") does not."""
    lines = text.splitlines()
    for index in range(min(error_line, len(lines) - 1), -1, -1):
        line = lines[index]
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        if stripped.lstrip().startswith("- "):
            continue
        key, sep, value = stripped.partition(":")
        if sep and value.strip() == "[]":
            return (
                f"; the list item(s) below '{key.strip()}: []' (line {index + 1}) cannot belong to it: "
                f"write '{key.strip()}:' without the '[]'"
            )
        return ""
    return ""


def parse_document(raw: bytes, display: str) -> tuple[dict[str, Any], Marks]:
    """Parse YAML into plain data plus a map from key paths to (line, column), both 1-based."""
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError("file is not valid UTF-8", file=display, line=line) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"YAML syntax error: {exc.problem or exc.context}"
        if mark is None:
            raise PolicyError(problem, file=display) from exc
        problem += _empty_list_hint(text, mark.line)
        raise PolicyError(problem, file=display, line=mark.line + 1, column=mark.column + 1) from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"YAML error: {exc}", file=display) from exc
    except RecursionError as exc:
        raise PolicyError("the document is nested too deeply", file=display) from exc
    if root is None:
        raise PolicyError("policy file is empty", file=display, line=1, column=1)
    marks: Marks = {}
    constructor = yaml.constructor.SafeConstructor()
    active: set[int] = set()
    budget = [MAX_NODES]

    def scalar(node: yaml.Node) -> Any:
        try:
            return constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, KeyError, AttributeError, TypeError, OverflowError) as exc:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            raise PolicyError(f"unsupported value: {exc}", file=display, line=line, column=col) from exc

    def build(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        where = (node.start_mark.line + 1, node.start_mark.column + 1)
        marks[path] = where
        budget[0] -= 1
        if budget[0] < 0:
            raise PolicyError(
                "the document is too large (after alias expansion)", file=display, line=where[0]
            )
        expected = _STANDARD_TAGS.get(type(node).__name__)
        if expected is not None and node.tag != expected:
            raise PolicyError(
                f"unsupported value: YAML tag {node.tag!r}", file=display, line=where[0], column=where[1]
            )
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in active:
                raise PolicyError("recursive alias", file=display, line=where[0], column=where[1])
            active.add(id(node))
            try:
                return _collection(node, path)
            finally:
                active.discard(id(node))
        return scalar(node)

    def _collection(node: yaml.Node, path: tuple[Any, ...]) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                key = scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                if not isinstance(key, str):
                    shown = key if key is not None else key_node.tag.rsplit(":", 1)[-1]
                    raise PolicyError(
                        f"key {shown!r} must be a string", file=display, line=where[0], column=where[1]
                    )
                if key in out:
                    raise PolicyError(f"duplicate key {key!r}", file=display, line=where[0], column=where[1])
                marks[(*path, key, "<key>")] = where
                out[key] = build(value_node, (*path, key))
            return out
        return [build(item, (*path, i)) for i, item in enumerate(node.value)]

    try:
        data = build(root, ())
    except RecursionError as exc:
        raise PolicyError("the document is nested too deeply", file=display) from exc
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a mapping of keys", file=display, line=1, column=1)
    return data, marks


def validate(data: dict[str, Any], marks: Marks, display: str) -> None:
    """Check ``data`` against the schema; raise one PolicyError listing every problem in file order."""
    import jsonschema

    from .schema import SCHEMA

    validator = jsonschema.Draft202012Validator(SCHEMA)
    problems: list[tuple[int, int, str]] = []
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        dotted = ".".join(str(p) for p in path) or "(top level)"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = set(error.schema.get("properties", {}))
            for extra in sorted(set(error.instance) - known):
                line, col = marks.get((*path, extra, "<key>"), marks.get(path, (1, 1)))
                where = f"{dotted}.{extra}" if path else extra
                hint = f" (known keys: {', '.join(sorted(known))})" if known else ""
                problems.append((line, col, f"unknown key {where!r}{hint}"))
            continue
        line, col = marks.get(path, (1, 1))
        if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
            line, col = marks.get((*path, error.instance, "<key>"), (line, col))
        if path[:2] == ("gateway", "dlp") and "propertyNames" in error.absolute_schema_path:
            message = (
                f"{error.instance!r} is not a detector id (lowercase, digits, '-'; a prefix ends in '*')"
            )
        elif path in (("gateway", "upstream"), ("gateway", "bedrock", "endpoint_url")) and (
            error.validator == "pattern"
        ):
            message = f"{error.instance!r} is not an http(s) URL"
        elif path == ("gateway", "bedrock", "region") and error.validator == "pattern":
            message = f"{error.instance!r} is not an AWS region name (us-east-1)"
        elif path[:3] == ("gateway", "bedrock", "models") and error.validator == "pattern":
            message = f"{error.instance!r} is not a Bedrock model id, inference profile id or ARN"
        elif path == ("gateway", "store") and error.validator == "pattern":
            message = (  # never echo it: it may hold a password
                "must be a postgresql:// URL without a password (every machine reads the policy: give "
                "the password in PGPASSWORD or ~/.pgpass, or the whole URL in RAMPARTS_GATEWAY_STORE_URL)"
            )
        elif error.validator == "oneOf" and path and path[0] == "permissions":
            message = "a rule is a string like 'Bash(git push *)' or a mapping with 'rule' (and 'id', 'reason', 'ask': local or remote)"
        elif error.validator == "type" and error.instance is None:
            wanted = error.validator_value
            empty = {"array": "[]", "object": "{}"}.get(wanted if isinstance(wanted, str) else "", "")
            message = f"is empty: give it a value{f' (an empty one is {empty})' if empty else ''}"
        else:
            message = error.message
        problems.append((line, col, f"{dotted}: {message}"))
    if problems:
        problems.sort()
        line, col, first = problems[0]
        rest = [f"{display}:{ln}:{c}: {msg}" for ln, c, msg in problems[1:]]
        raise PolicyError(
            first + ("\n" + "\n".join(rest) if rest else ""), file=display, line=line, column=col
        )


# -- compiling -------------------------------------------------------------------------------------


def _load_layer(
    raw: bytes, display: str, seen: tuple[str, ...]
) -> tuple[list[tuple[dict[str, Any], Marks, str]], str]:
    """Parse and validate one file and the profiles it extends, base first."""
    data, marks = parse_document(raw, display)
    validate(data, marks, display)
    layers: list[tuple[dict[str, Any], Marks, str]] = []
    digest = sha256(raw)
    parent = data.get("extends", "none")
    if parent != "none":
        if parent in seen:
            line, col = marks.get(("extends",), (1, 1))
            raise PolicyError(
                f"profile cycle: {' -> '.join((*seen, parent))}", file=display, line=line, column=col
            )
        parent_path = profile_path(parent)
        parent_layers, parent_rev = _load_layer(_bytes(parent_path), f"profile:{parent}", (*seen, parent))
        layers.extend(parent_layers)
        digest.update(parent_rev.encode())
    layers.append((data, marks, display))
    return layers, digest.hexdigest()


def compile_policy(raw: bytes, display: str, *, base_dir: str = "") -> Policy:
    """Compile policy text (already read) into a frozen :class:`Policy`."""
    seen: tuple[str, ...] = (display[len("profile:") :],) if display.startswith("profile:") else ()
    layers, revision = _load_layer(raw, display, seen)
    mode: Any = "enforce"  # the schema has checked every value below
    default: Any = "ask"
    shell: dict[str, Any] = {}
    pii: dict[str, Any] = {}
    injection: dict[str, Any] = {}
    surfaces: dict[str, dict[str, float]] = {}
    custom: list[CustomEntity] = []
    hook: dict[str, Any] = {}
    dlp: dict[str, Any] = {}
    outbound: dict[str, Any] = {}
    outbound_keys: list[tuple[str, tuple[int, int], str]] = []
    session: dict[str, Any] = {}
    mcp: dict[str, Any] = {}
    mcp_servers: dict[str, dict[str, Any]] = {}
    git: dict[str, Any] = {}
    ship: tuple[Any, Marks, str] | None = None
    sections: dict[str, tuple[Any, Marks, str]] = {}
    gateway: dict[str, Any] = {}
    gateway_dlp: dict[str, Any] = dict(GatewaySettings().dlp)
    gateway_keys: list[tuple[str, tuple[int, int], str]] = []
    gateway_unknown: dict[str, dict[str, Any]] = {}
    bedrock_at: tuple[tuple[int, int], str] = ((0, 0), display)
    egress: dict[str, Any] = {}
    egress_lists: dict[str, list[str]] = {"allow": [], "deny": [], "allow_ranges": []}
    settings: dict[str, Any] = {}
    env: dict[str, str] = {}
    sensitive: list[str] = []
    ignore_case = True
    lists: dict[RuleList, list[Rule]] = {"deny": [], "ask": [], "allow": []}
    seen_ids: set[tuple[str, str]] = set()
    for data, marks, where in layers:
        layer_dir = base_dir if where == display else ""
        mode = data.get("mode", mode)
        perms = data.get("permissions", {})
        default = perms.get("default", default)
        ignore_case = perms.get("paths_ignore_case", ignore_case)
        shell.update(data.get("shell", {}))
        detect = data.get("detect", {})
        pii.update({k: v for k, v in detect.get("pii", {}).items() if k != "custom"})
        layer_injection = detect.get("injection", {})
        injection.update({k: v for k, v in layer_injection.items() if k != "surfaces"})
        for surface, values in layer_injection.get("surfaces", {}).items():
            surfaces.setdefault(surface, {}).update(values)
        for i, item in enumerate(detect.get("pii", {}).get("custom", [])):
            custom.append(_custom_entity(item, marks, ("detect", "pii", "custom", i, "pattern"), where))
        hook.update(data.get("hook", {}))
        layer_dlp = data.get("dlp", {})
        dlp.update(
            {k: v for k, v in layer_dlp.items() if k not in ("reads", "prompts", "tool_results", "outbound")}
        )
        dlp.update({f"read_{k}": v for k, v in layer_dlp.get("reads", {}).items()})
        dlp.update({f"prompt_{k}": v for k, v in layer_dlp.get("prompts", {}).items()})
        dlp.update({f"result_{k}": v for k, v in layer_dlp.get("tool_results", {}).items()})
        _outbound_layer(outbound, layer_dlp.get("outbound", {}), marks, where, outbound_keys)
        layer_session = dict(data.get("session", {}))
        reauth = layer_session.pop("reauth", {})
        session.update(layer_session)
        if "enabled" in reauth:
            session["reauth"] = reauth["enabled"]
        if "paths" in reauth:
            session["reauth_paths"] = tuple(reauth["paths"])
        if "hosts" in reauth:
            session["reauth_hosts"] = tuple(h.lower().rstrip(".") for h in reauth["hosts"])
        layer_mcp = dict(data.get("mcp", {}))
        mcp_servers.update(layer_mcp.pop("servers", {}))
        mcp.update(layer_mcp)
        git.update(data.get("git", {}))
        if "ship" in data:  # replaced as a whole by a later layer, never merged
            ship = (data["ship"], marks, where)
        for key in ("server", "monitor"):  # replaced as a whole by a later layer, never merged
            if key in data:
                sections[key] = (data[key], marks, where)
        layer_gateway = dict(data.get("gateway", {}))
        for key, action in layer_gateway.pop("dlp", {}).items():
            # `secrets` and `pii` are the categories (MaskPolicy's `secret` and `pii`); the rest ids.
            gateway_dlp[_GATEWAY_CATEGORIES.get(key, key)] = action
            if not where.startswith("profile:"):  # the shipped profiles' keys are tested
                gateway_keys.append((key, marks.get(("gateway", "dlp", key, "<key>"), (0, 0)), where))
        for key in ("unknown_blocks", "unknown_fields"):  # merged per name across layers
            gateway_unknown.setdefault(key, {}).update(layer_gateway.pop(key, {}))
        for key, value in layer_gateway.pop("documents", {}).items():
            gateway[f"documents_{key}"] = value
        if layer_gateway.get("bedrock") is not None:  # replaced as a whole by a later layer
            bedrock_at = (marks.get(("gateway", "bedrock"), (0, 0)), where)
        gateway.update(layer_gateway)
        layer_egress = dict(data.get("egress", {}))
        egress.update(layer_egress.pop("anomalies", {}))
        for key, items in egress_lists.items():
            for i, item in enumerate(layer_egress.pop(key, [])):
                if key == "allow_ranges":
                    item = _egress_range(item, marks, ("egress", key, i), where)
                if item not in items:
                    items.append(item)
        egress.update(layer_egress)
        layer_settings = dict(data.get("settings", {}))
        env.update(layer_settings.pop("env", {}))
        settings.update(layer_settings)
        for i, pattern in enumerate(data.get("sensitive_paths", [])):
            line, _col = marks.get(("sensitive_paths", i), (0, 0))
            if pattern not in sensitive:
                sensitive.append(pattern)
            for tool in ("Read", "Edit"):
                rule = _parse_at(
                    f"{tool}({pattern})",
                    "deny",
                    f"sensitive:{tool}:{pattern}",
                    f"{pattern} is a sensitive path",
                    marks,
                    ("sensitive_paths", i),
                    where,
                    layer_dir,
                )
                if (rule.list, rule.id) not in seen_ids:
                    seen_ids.add((rule.list, rule.id))
                    lists["deny"].append(rule._replace(line=line))
        for i, text in enumerate(perms.get("drop", [])):
            _drop(lists, text, marks, ("permissions", "drop", i), where)
        lst: RuleList
        for lst in ("deny", "ask", "allow"):
            list_name = lst
            for i, item in enumerate(perms.get(list_name, [])):
                text, rid, reason = (
                    (item, "", "")
                    if isinstance(item, str)
                    else (item["rule"], item.get("id", ""), item.get("reason", ""))
                )
                rule = _parse_at(
                    text, lst, rid, reason, marks, ("permissions", list_name, i), where, layer_dir
                )
                if not isinstance(item, str) and item.get("ask", "local") == "remote":
                    if lst != "ask":
                        line, col = marks.get(("permissions", list_name, i, "ask"), (0, 0))
                        raise PolicyError(
                            f"permissions.{list_name}[{i}].ask: only a rule in the ask list can ask remotely",
                            file=where,
                            line=line or None,
                            column=col or None,
                        )
                    rule = rule._replace(remote=True)
                if (rule.list, rule.id) in seen_ids:
                    continue
                seen_ids.add((rule.list, rule.id))
                lists[lst].append(rule)
    if hook.get("deadline_ms", 4000) >= hook.get("timeout", 10) * 1000:
        raise PolicyError(
            "hook.deadline_ms must be below hook.timeout (seconds) so the hook answers in time", file=display
        )
    if gateway_keys:
        _check_gateway_dlp(gateway_keys, {e.name for e in custom})
    if outbound_keys:
        _check_outbound_pii(outbound_keys, {e.name for e in custom})
    if "upstream" in gateway:
        gateway["upstream"] = str(gateway["upstream"]).rstrip("/")
    if "models" in gateway:
        gateway["models"] = tuple(gateway["models"])
    if gateway.get("bedrock") is not None:
        gateway["bedrock"] = _bedrock(gateway["bedrock"], *bedrock_at)
    for key, names in gateway_unknown.items():
        gateway[key] = tuple(names.items())
    ship_json = _ship_section(ship)
    return Policy(
        ship=ship_json,
        server=_section("server", sections.get("server")),
        monitor=_section("monitor", sections.get("monitor")),
        revision=revision[:16],
        source=display,
        base_dir=base_dir,
        mode=mode,
        default=default,
        deny=tuple(lists["deny"]),
        ask=tuple(lists["ask"]),
        allow=tuple(lists["allow"]),
        sensitive_paths=tuple(sensitive),
        opaque_shell=shell.get("opaque", "ask"),
        inline_code=shell.get("inline_code", "ask"),
        allow_read_only=shell.get("allow_read_only", False),
        paths_ignore_case=ignore_case,
        hook=HookSettings(**hook),
        settings=CompileSettings(env=tuple(sorted(env.items())), **settings),
        extends=tuple(where for _d, _m, where in layers[:-1]),
        detect=DetectSettings(
            custom_entities=tuple(custom),
            ip_addresses=pii.get("ip_addresses", True),
            injection_block=injection.get("block", 0.8),
            injection_warn=injection.get("warn", 0.5),
            injection_surfaces=_injection_surfaces(injection, surfaces, display),
        ),
        dlp=DlpSettings(
            **{**dlp, **({"prompt_pii": tuple(dlp["prompt_pii"])} if "prompt_pii" in dlp else {})},
            outbound=OutboundSettings(
                pii=tuple(outbound.get("pii", {}).items()),
                possible_secrets=outbound.get("possible_secrets", "warn"),
                local_mcp=tuple(outbound.get("local_mcp", ())),
                sync_paths=tuple(outbound.get("sync_paths", ())),
                exceptions=tuple(outbound.get("exceptions", {}).values()),
            ),
        ),
        session=SessionSettings(**session),
        mcp=McpSettings(
            default=mcp.get("default", "deny"),
            managed_only=mcp.get("managed_only", False),
            denied=tuple(mcp.get("denied", ())),
            servers=tuple(
                McpServer(name, tuple(spec.get("tools", ("*",))), bool(spec.get("approval", False)))
                for name, spec in mcp_servers.items()
            ),
            managed_servers=tuple(
                (name, json.dumps(spec["managed"], sort_keys=True))
                for name, spec in mcp_servers.items()
                if "managed" in spec
            ),
        ),
        git=GitPolicy(
            protected_branches=tuple(git.get("protected_branches", GitPolicy().protected_branches)),
            push=git.get("push", "ask"),
        ),
        gateway=GatewaySettings(
            **gateway,
            dlp=tuple(gateway_dlp.items()),
        ),
        egress=EgressSettings(
            **egress,
            allow=tuple(egress_lists["allow"]),
            deny=tuple(egress_lists["deny"]),
            allow_ranges=tuple(egress_lists["allow_ranges"]),
        ),
    )


def _egress_range(text: str, marks: Marks, path: tuple[Any, ...], display: str) -> str:
    """An ``egress.allow_ranges`` CIDR, canonical; a typo (host bits set, not an address) is an error
    at its position, never a silently wider or empty range."""
    import ipaddress

    try:
        return str(ipaddress.ip_network(text.strip(), strict=True))
    except ValueError as exc:
        line, col = marks.get(path, (0, 0))
        raise PolicyError(
            f"egress.allow_ranges: {text!r} is not a CIDR range ({exc})",
            file=display,
            line=line or None,
            column=col or None,
        ) from exc


_GATEWAY_CATEGORIES = {"secrets": "secret", "pii": "pii"}


def _bedrock(section: dict[str, Any], at: tuple[int, int], where: str) -> BedrockSettings:
    """``gateway.bedrock``, checked as the gateway will check it (errors at the section's line)."""
    from ..gateway.bedrock import BedrockConfig

    endpoint = section.get("endpoint_url")
    settings = BedrockSettings(
        region=section["region"],
        models=tuple((str(g), str(m)) for g, m in section["models"].items()),
        endpoint_url=str(endpoint).rstrip("/") if endpoint else None,
    )
    try:
        BedrockConfig(**settings._asdict())
    except ValueError as exc:
        raise PolicyError(
            f"gateway.bedrock: {exc}", file=where, line=at[0] or None, column=at[1] or None
        ) from exc
    return settings


def _check_gateway_dlp(keys: list[tuple[str, tuple[int, int], str]], custom: set[str]) -> None:
    """Every ``gateway.dlp`` key names a category, a detector id or a prefix of one: a typo would
    otherwise leave that data unmasked without a word."""
    known = _detector_ids() | {f"pii-custom-{name}" for name in custom}
    for key, (line, col), where in keys:
        if key in _GATEWAY_CATEGORIES:
            continue
        if key.endswith("*") and any(d.startswith(key[:-1]) for d in known):
            continue
        if key in known:
            continue
        hint = " (the category is 'secrets')" if key == "secret" else ""
        raise PolicyError(
            f"gateway.dlp: {key!r} is not 'secrets', 'pii', a detector id (pii-email, aws-access-key-id, "
            f"pii-custom-NAME ...) or a prefix* of one{hint}",
            file=where,
            line=line or None,
            column=col or None,
        )


def _outbound_layer(
    merged: dict[str, Any],
    layer: dict[str, Any],
    marks: Marks,
    where: str,
    keys: list[tuple[str, tuple[int, int], str]],
) -> None:
    """Merge one layer's ``dlp.outbound``: entity actions and exceptions by key, lists added to, the rest
    replaced; sync paths are parsed here so a bad one is reported at its line."""
    for key, action in layer.get("pii", {}).items():
        merged.setdefault("pii", {})[key] = action
        keys.append((key, marks.get(("dlp", "outbound", "pii", key, "<key>"), (0, 0)), where))
    if "possible_secrets" in layer:
        merged["possible_secrets"] = layer["possible_secrets"]
    for name in ("local_mcp", "sync_paths"):
        items = merged.setdefault(name, [])
        for i, item in enumerate(layer.get(name, [])):
            if name == "sync_paths":
                _parse_at(f"Edit({item})", "ask", "", "", marks, ("dlp", "outbound", name, i), where, "")
            if item not in items:
                items.append(item)
    for item in layer.get("exceptions", []):
        merged.setdefault("exceptions", {})[item["fingerprint"]] = OutboundException(
            item["fingerprint"], item["reason"]
        )


def _check_outbound_pii(keys: list[tuple[str, tuple[int, int], str]], custom: set[str]) -> None:
    """Every ``dlp.outbound.pii`` key names a personal-data detector: a typo would let that data travel."""
    known = {d for d in _detector_ids() if d.startswith("pii-")} | {f"pii-custom-{name}" for name in custom}
    for key, (line, col), where in keys:
        if key not in known:
            raise PolicyError(
                f"dlp.outbound.pii: {key!r} is not a personal-data detector ("
                + ", ".join(sorted(d for d in known if not d.startswith("pii-custom-")))
                + ", or pii-custom-NAME of a detect.pii.custom entity)",
                file=where,
                line=line or None,
                column=col or None,
            )


def _detector_ids() -> set[str]:
    """Built-in PII ids and secret rule ids, read from the rule files without loading the detectors."""
    import re

    folder = os.path.join(os.path.dirname(_HERE), "detect", "rules", "secrets")
    ids = {"pii-email", "pii-phone", "pii-us-ssn", "pii-payment-card", "pii-iban", "pii-ip-address"}
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".yaml", ".yml")):
            continue
        path = os.path.join(folder, name)
        ids.update(re.findall(r"^\s*-\s*id:\s*['\"]?([A-Za-z0-9_.\-]+)", _bytes(path).decode(), re.MULTILINE))
    return ids


def _ship_section(ship: tuple[Any, Marks, str] | None) -> str:
    """Check the ``ship:`` section with the shipper's own parser, so a bad sink is an error now, with the
    section's line, not when ``ramparts audit ship`` first runs."""
    if ship is None:
        return ""
    import warnings

    from ..audit.ship_config import parse_ship_config

    data, marks, where = ship
    line, col = marks.get(("ship",), (0, 0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unsafe_* settings warn when the shipper starts
            parse_ship_config({"ship": data})
    except PolicyError as exc:
        raise PolicyError(exc.problem, file=where, line=line or None, column=col or None) from exc
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _section(key: str, section: tuple[Any, Marks, str] | None) -> str:
    """Check the ``server:`` or ``monitor:`` section with its own parser (errors carry the line)."""
    if section is None:
        return ""
    data, marks, where = section
    line, col = marks.get((key,), (0, 0))
    try:
        if key == "server":
            from ..server.config import parse_server

            parse_server(data)
        else:
            from ..monitor import parse_monitor

            parse_monitor(data)
    except PolicyError as exc:
        raise PolicyError(exc.problem, file=where, line=line or None, column=col or None) from exc
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _custom_entity(item: dict[str, Any], marks: Marks, path: tuple[Any, ...], display: str) -> CustomEntity:
    """A custom PII entity; its pattern must compile in the subset every detector backend runs."""
    import re

    line, col = marks.get(path, (0, 0))
    pattern = str(item["pattern"])
    problem = ""
    try:
        re.compile(pattern)
    except re.error as exc:
        problem = f"detect.pii.custom {item['name']!r}: bad pattern: {exc}"
    if not problem and re.search(r"\(\?<?[=!]|\\[1-9]|\(\?P=", pattern):
        problem = f"detect.pii.custom {item['name']!r}: lookaround and backreferences are not supported"
    if problem:
        raise PolicyError(problem, file=display, line=line or None, column=col or None)
    return CustomEntity(
        name=str(item["name"]),
        pattern=pattern,
        context=tuple(str(c).lower() for c in item.get("context", ())),
        validator=str(item.get("validator", "")),
        confidence=float(item.get("confidence", 0.6)),
        severity=str(item.get("severity", "medium")),
    )


def _drop(
    lists: dict[RuleList, list[Rule]], text: str, marks: Marks, path: tuple[Any, ...], display: str
) -> None:
    """``permissions.drop``: remove an ask or allow rule the extended profiles brought in.

    A deny cannot be dropped (the profiles' denies are the floor), and a rule that is not there is
    an error, so a typo never leaves a prompt in place silently.
    """
    line, col = marks.get(path, (0, 0))
    wanted = text.strip()
    if any(rule.raw == wanted for rule in lists["deny"]):
        raise PolicyError(
            f"cannot drop the deny rule {wanted!r}: denies of extended profiles stay",
            file=display,
            line=line or None,
            column=col or None,
        )
    found = False
    for name in ("ask", "allow"):
        kept = [rule for rule in lists[name] if rule.raw != wanted]
        found = found or len(kept) != len(lists[name])
        lists[name] = kept
    if not found:
        raise PolicyError(
            f"drop: no extended profile has the rule {wanted!r}",
            file=display,
            line=line or None,
            column=col or None,
        )


def _parse_at(
    text: str,
    list_: RuleList,
    rid: str,
    reason: str,
    marks: Marks,
    path: tuple[Any, ...],
    display: str,
    base_dir: str,
) -> Rule:
    line, col = marks.get(path, (0, 0))
    try:
        return parse_rule(text, list_=list_, rule_id=rid, reason=reason, line=line, base_dir=base_dir)
    except PolicyError as exc:
        raise PolicyError(exc.problem, file=display, line=line or None, column=col or None) from exc


def protect_own_files(policy: Policy, *, policy_file: str, state_dir: str) -> Policy:
    """Add deny rules that keep the agent away from Ramparts and from what could switch it off.

    Built in, whatever the policy says (ids ``self:…``): a prompt-injected agent runs as the same user
    as the hook, so it must not rewrite the policy, the state (audit store, sessions, keys), the
    installed code, Claude Code's settings of any scope (they can add or drop hooks), ``.mcp.json``,
    git's hooks and config, or shell start-up files; nor stop Ramparts' processes or change the
    environment its hooks read. Every tool and every shell route the shell analysis sees is covered.
    """
    import ramparts

    state = os.path.realpath(state_dir).strip("/")
    code = os.path.dirname(os.path.realpath(ramparts.__file__)).strip("/")
    protected: list[tuple[str, str]] = [
        (f"Edit(//{state}/**)", "Ramparts' state (audit store, sessions, policy cache, keys)"),
        (f"Read(//{state}/keys/**)", "Ramparts' keys"),
        (f"Edit(//{code}/**)", "Ramparts' installed code"),
        ("Edit(//etc/ramparts/**)", "the installed Ramparts policy"),
        ("Edit(//etc/claude-code/**)", "Claude Code's managed settings"),
        ("Edit(//Library/Application Support/ClaudeCode/**)", "Claude Code's managed settings"),
        ("Edit(**/.claude/settings.json)", "Claude Code's user or project settings (they can add hooks)"),
        ("Edit(**/.claude/settings.local.json)", "Claude Code's local settings (they can add hooks)"),
        ("Edit(~/.claude.json)", "Claude Code's user configuration (MCP servers, trust)"),
        ("Edit(**/.mcp.json)", "the project's MCP servers"),
        ("Edit(**/.git/hooks/**)", "git hooks (the pre-push guard)"),
        ("Edit(**/.git/config)", "git configuration (hooksPath, aliases, remotes)"),
    ]
    protected += [
        (f"Edit(~/{name})", "a shell start-up file (it runs in every new shell)") for name in _STARTUP_FILES
    ]
    if not policy_file.startswith("profile:"):
        protected.append(
            (f"Edit(//{os.path.realpath(policy_file).strip('/')})", "the Ramparts policy in force")
        )
    cache = os.environ.get("RAMPARTS_CACHE_DIR")
    if cache:
        where = os.path.realpath(os.path.expanduser(cache)).strip("/")
        protected.append((f"Edit(//{where}/**)", "the detectors' compiled pattern databases"))
    protected += [(f"Bash({pattern})", what) for pattern, what in _SELF_COMMANDS]
    extra = []
    for text, what in protected:
        rule = parse_rule(text, list_="deny", rule_id=f"self:{text}", reason=f"protects {what}", base_dir="")
        extra.append(rule)
    return policy._replace(deny=(*policy.deny, *extra))


_STARTUP_FILES = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".config/fish/**",
    ".inputrc",
)
_SELF_COMMANDS = (
    # stopping Ramparts' processes (gateway, egress proxy, shipper, control plane)
    ("kill *ramparts*", "Ramparts' processes"),
    ("pkill *ramparts*", "Ramparts' processes"),
    ("killall *ramparts*", "Ramparts' processes"),
    ("*systemctl *ramparts*", "Ramparts' services"),
    ("*launchctl *ramparts*", "Ramparts' services"),
    # the environment Ramparts' hooks and git guard read (a nested `claude` inherits it)
    ("*RAMPARTS_*=*", "the environment Ramparts reads"),
    ("*unset*RAMPARTS_*", "the environment Ramparts reads"),
    ("*env *-u*RAMPARTS_*", "the environment Ramparts reads"),
    ("*CLAUDECODE=*", "the marker that tells git hooks a push comes from an agent"),
    ("*unset*CLAUDECODE*", "the marker that tells git hooks a push comes from an agent"),
    ("*env *-u*CLAUDECODE*", "the marker that tells git hooks a push comes from an agent"),
    ("*env -i *", "the marker that tells git hooks a push comes from an agent"),
    ("*disableAllHooks*", "Claude Code's hooks"),
    # the human's controls: clearing a taint, granting step-up, the kill switch, reinstalling
    ("*ramparts*session*clear*", "the human's decision to clear a tainted session"),
    ("*ramparts*reauth*", "step-up re-authentication (a human grants it)"),
    ("*ramparts*kill*", "the kill switch"),
    ("*ramparts*install*", "Ramparts' installation"),
    # the hook itself: run by hand it would write decisions of the agent's making into the audit trail
    ("*ramparts hook*", "the audit trail (only Claude Code runs the hook)"),
    ("*ramparts.cli*", "the audit trail (only Claude Code runs the hook)"),
)


def _injection_surfaces(
    injection: dict[str, Any], surfaces: dict[str, dict[str, float]], display: str
) -> tuple[tuple[Any, float, float], ...]:
    """(surface, block, warn) for each surface the policy names; a missing value comes from the
    section's own ``block``/``warn``. ``warn`` above ``block`` is refused (fail closed on a typo that
    would turn blocking off)."""
    block = injection.get("block", 0.8)
    warn = injection.get("warn", 0.5)
    if warn > block:
        raise PolicyError(f"detect.injection: warn ({warn}) is above block ({block})", file=display)
    out = []
    for surface in sorted(surfaces):
        s_block = surfaces[surface].get("block", block)
        s_warn = surfaces[surface].get("warn", min(warn, s_block))
        if s_warn > s_block:
            raise PolicyError(
                f"detect.injection.surfaces.{surface}: warn ({s_warn}) is above block ({s_block})",
                file=display,
            )
        out.append((surface, float(s_block), float(s_warn)))
    return tuple(out)
