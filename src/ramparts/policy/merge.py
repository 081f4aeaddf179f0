"""Merge a policy's layers (the profiles it extends, then the file) and build the frozen config.

Driven by the declaration in :mod:`.types`: each field's ``Key`` says where it sits in the file and
how a later layer changes it. The few values that need more than the declaration (rules, MCP servers,
gateway DLP categories, Bedrock routes, whole sections checked by their owners' parsers) are built by
the named functions in :data:`SPECIALS`. Every error names the file, line and column it comes from.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple, get_args, get_origin

from ..errors import PolicyError
from .rules import Rule, RuleList, parse_rule
from .schema import MISSING, Field, declared, fields, is_record
from .types import GATEWAY_BASELINE_DLP, BedrockSettings, CustomEntity, McpServer, Policy

Marks = dict[tuple[Any, ...], tuple[int, int]]
Layer = tuple[dict[str, Any], Marks, str]
"""(parsed data, key positions, display name): a profile or the file itself."""
_HERE = os.path.dirname(os.path.abspath(__file__))


class Context(NamedTuple):
    layers: list[Layer]
    display: str
    base_dir: str
    merged: dict[tuple[str, ...], Any]
    """Merged file value per field (typed path), for fields some layer sets."""
    origin: dict[tuple[str, ...], tuple[tuple[int, int], str]]
    """Position and file of the last layer that set each field."""
    rules: dict[RuleList, tuple[Rule, ...]]


def _at(marks: Marks, path: tuple[Any, ...]) -> tuple[int, int]:
    return marks.get(path, (0, 0))


def _error(problem: str, where: str, at: tuple[int, int]) -> PolicyError:
    return PolicyError(problem, file=where, line=at[0] or None, column=at[1] or None)


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def _mapping(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    found = _get(data, path)
    return found if isinstance(found, dict) else {}


def merge_layers(layers: list[Layer]) -> tuple[dict[tuple[str, ...], Any], dict[tuple[str, ...], Any]]:
    """Each field's value after every layer, and where it was last set."""
    merged: dict[tuple[str, ...], Any] = {}
    origin: dict[tuple[str, ...], Any] = {}
    leaves = [f for f in fields() if f.path is not None and not f.group]
    for data, marks, where in layers:
        for field in leaves:
            assert field.path is not None
            value = _get(data, field.path)
            if value is MISSING:
                continue
            origin[field.attrs] = (_at(marks, field.path), where)
            merged[field.attrs] = _merge(field, merged.get(field.attrs, MISSING), value, marks, where)
    return merged, origin


def _merge(field: Field, old: Any, value: Any, marks: Marks, where: str) -> Any:
    assert field.path is not None
    item = ITEMS.get(field.key.item)
    merge = field.key.merge
    if merge in ("union", "append"):
        out = [] if old is MISSING else list(old)
        for i, raw in enumerate(value):
            new = raw if item is None else item(raw, marks, (*field.path, i), where)
            if merge == "append":
                out.append(new)
                continue
            same = [j for j, kept in enumerate(out) if _identity(field, kept) == _identity(field, new)]
            if same:
                out[same[0]] = new  # a later layer's entry replaces the earlier one in its place
            else:
                out.append(new)
        return out
    if merge == "map":
        return {**({} if old is MISSING else old), **value}
    if merge == "map_deep":
        out_map = {k: dict(v) for k, v in ({} if old is MISSING else old).items()}
        for k, v in value.items():
            out_map.setdefault(k, {}).update(v)
        return out_map
    if item is None:
        return value
    if isinstance(value, list):
        return [item(raw, marks, (*field.path, i), where) for i, raw in enumerate(value)]
    return item(value, marks, field.path, where)


def _identity(field: Field, value: Any) -> Any:
    """What makes two list entries the same: for records, their first field (an exception's fingerprint)."""
    if isinstance(value, dict):
        return value.get(get_args(field.tp)[0]._fields[0])
    return value


def build_policy(layers: list[Layer], revision: str, display: str, base_dir: str) -> Policy:
    merged, origin = merge_layers(layers)
    ctx = Context(layers, display, base_dir, merged, origin, {})
    ctx.rules.update(_rules(layers, base_dir, display))
    computed = {
        "revision": revision[:16],
        "source": display,
        "base_dir": base_dir,
        "extends": tuple(where for _d, _m, where in layers[:-1]),
    }
    policy: Policy = _build(Policy, (), ctx, computed)
    _check(policy, ctx)
    return policy


def _build(cls: Any, attrs: tuple[str, ...], ctx: Context, computed: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for name, tp, _nullable, key, default in declared(cls):
        here = (*attrs, name)
        if is_record(tp) and not key.special and key.path is not None and not _nullable:
            values[name] = _build(tp, here, ctx, computed)
        elif key.special:
            values[name] = SPECIALS[key.special](ctx, here, ctx.merged.get(here, MISSING), default)
        elif key.path is None:
            values[name] = computed[name]
        elif here in ctx.merged:
            values[name] = _convert(ctx.merged[here], tp, key.is_map)
        else:
            values[name] = default
    return cls(**values)


def _convert(value: Any, tp: Any, is_map: bool = False) -> Any:
    """A merged file value as the declared type: lists and objects become tuples, numbers floats."""
    if value is None:
        return None
    origin = get_origin(tp)
    if origin is tuple and is_map:
        pair = get_args(get_args(tp)[0])
        return tuple((k, _convert(v, pair[1])) for k, v in value.items())
    if origin is tuple:
        item = get_args(tp)[0]
        return tuple(_convert(v, item) for v in value)
    if is_record(tp) and isinstance(value, dict):
        return tp(**{n: _convert(value[n], t) for n, t, _u, _k, _d in declared(tp) if n in value})
    if tp is float:
        return float(value)
    return value


# -- checks across fields -----------------------------------------------------------------------------


def _check(policy: Policy, ctx: Context) -> None:
    if policy.hook.deadline_ms >= policy.hook.timeout * 1000:
        raise PolicyError(
            "hook.deadline_ms must be below hook.timeout (seconds) so the hook answers in time",
            file=ctx.display,
        )
    custom = {f"pii-custom-{e.name}" for e in policy.detect.custom_entities}
    known = _detector_ids() | custom
    pii = {d for d in known if d.startswith("pii-")}
    for data, marks, where in ctx.layers:
        for key in _mapping(data, ("dlp", "outbound", "pii")):
            if key not in pii:
                raise _error(
                    f"dlp.outbound.pii: {key!r} is not a personal-data detector ("
                    + ", ".join(sorted(d for d in pii if not d.startswith("pii-custom-")))
                    + ", or pii-custom-NAME of a detect.pii.custom entity)",
                    where,
                    _at(marks, ("dlp", "outbound", "pii", key, "<key>")),
                )
        if where.startswith("profile:"):
            continue  # the shipped profiles' gateway keys are tested
        for key in _mapping(data, ("gateway", "dlp")):
            if key in _GATEWAY_CATEGORIES or key in known:
                continue
            if key.endswith("*") and any(d.startswith(key[:-1]) for d in known):
                continue
            hint = " (the category is 'secrets')" if key == "secret" else ""
            raise _error(
                f"gateway.dlp: {key!r} is not 'secrets', 'pii', a detector id (pii-email, aws-access-key-id, "
                f"pii-custom-NAME ...) or a prefix* of one{hint}",
                where,
                _at(marks, ("gateway", "dlp", key, "<key>")),
            )


def _detector_ids() -> set[str]:
    """Built-in PII ids and secret rule ids, read from the rule files without loading the detectors."""
    folder = os.path.join(os.path.dirname(_HERE), "detect", "rules", "secrets")
    ids = {"pii-email", "pii-phone", "pii-us-ssn", "pii-payment-card", "pii-iban", "pii-ip-address"}
    for name in sorted(os.listdir(folder)):
        if name.endswith((".yaml", ".yml")):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                text = handle.read()
            ids.update(re.findall(r"^\s*-\s*id:\s*['\"]?([A-Za-z0-9_.\-]+)", text, re.MULTILINE))
    return ids


# -- per-item checks and canonical forms, applied as each layer merges ---------------------------------


def _cidr(text: str, marks: Marks, path: tuple[Any, ...], where: str) -> str:
    """An ``egress.allow_ranges`` CIDR, canonical; a typo (host bits set, not an address) is an error
    at its position, never a silently wider or empty range."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=True))
    except ValueError as exc:
        raise _error(
            f"egress.allow_ranges: {text!r} is not a CIDR range ({exc})", where, _at(marks, path)
        ) from exc


def _host(text: str, marks: Marks, path: tuple[Any, ...], where: str) -> str:
    return text.lower().rstrip(".")


def _url(text: str, marks: Marks, path: tuple[Any, ...], where: str) -> str:
    return text.rstrip("/")


def _sync_path(text: str, marks: Marks, path: tuple[Any, ...], where: str) -> str:
    parse_at(f"Edit({text})", "ask", "", "", marks, path, where, "")
    return text


def _custom_entity(item: dict[str, Any], marks: Marks, path: tuple[Any, ...], where: str) -> CustomEntity:
    """A custom PII entity; its pattern must compile in the subset every detector backend runs."""
    at = _at(marks, (*path, "pattern"))
    pattern = str(item["pattern"])
    problem = ""
    try:
        re.compile(pattern)
    except re.error as exc:
        problem = f"detect.pii.custom {item['name']!r}: bad pattern: {exc}"
    if not problem and re.search(r"\(\?<?[=!]|\\[1-9]|\(\?P=", pattern):
        problem = f"detect.pii.custom {item['name']!r}: lookaround and backreferences are not supported"
    if problem:
        raise _error(problem, where, at)
    return CustomEntity(
        name=str(item["name"]),
        pattern=pattern,
        context=tuple(str(c).lower() for c in item.get("context", ())),
        validator=str(item.get("validator", "")),
        confidence=float(item.get("confidence", 0.6)),
        severity=str(item.get("severity", "medium")),
    )


def _yaml_off(value: Any, marks: Marks, path: tuple[Any, ...], where: str) -> Any:
    """YAML 1.1 reads a bare ``off`` as false: an enum that has ``off`` means it."""
    return "off" if value is False else value


ITEMS: dict[str, Callable[[Any, Marks, tuple[Any, ...], str], Any]] = {
    "yaml_off": _yaml_off,
    "cidr": _cidr,
    "host": _host,
    "url": _url,
    "sync_path": _sync_path,
    "custom_entity": _custom_entity,
}


# -- values built from more than their own key ----------------------------------------------------------


def _sorted_items(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    return default if value is MISSING else tuple(sorted(value.items()))


def _rules_of(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    name: Any = attrs[-1]  # deny, ask or allow: the field's own name
    return ctx.rules[name]


def _surfaces(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    """(surface, block, warn) for each surface the policy names; a missing value comes from the
    section's own ``block``/``warn``. ``warn`` above ``block`` is refused (fail closed on a typo that
    would turn blocking off)."""
    block = ctx.merged.get(("detect", "injection_block"), 0.8)
    warn = ctx.merged.get(("detect", "injection_warn"), 0.5)
    if warn > block:
        raise PolicyError(f"detect.injection: warn ({warn}) is above block ({block})", file=ctx.display)
    surfaces = {} if value is MISSING else value
    out = []
    for surface in sorted(surfaces):
        s_block = surfaces[surface].get("block", block)
        s_warn = surfaces[surface].get("warn", min(warn, s_block))
        if s_warn > s_block:
            raise PolicyError(
                f"detect.injection.surfaces.{surface}: warn ({s_warn}) is above block ({s_block})",
                file=ctx.display,
            )
        out.append((surface, float(s_block), float(s_warn)))
    return tuple(out)


def _mcp_servers(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    servers = {} if value is MISSING else value
    return tuple(
        McpServer(name, tuple(spec.get("tools", ("*",))), bool(spec.get("approval", False)))
        for name, spec in servers.items()
    )


def _mcp_managed(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    servers = ctx.merged.get(("mcp", "servers"), {})
    return tuple(
        (name, json.dumps(spec["managed"], sort_keys=True))
        for name, spec in servers.items()
        if "managed" in spec
    )


_GATEWAY_CATEGORIES = {"secrets": "secret", "pii": "pii"}


def _gateway_dlp(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    """The baseline masking, changed per key by the layers; ``secrets``/``pii`` are the categories."""
    rules: dict[str, Any] = dict(GATEWAY_BASELINE_DLP)
    for key, action in ({} if value is MISSING else value).items():
        rules[_GATEWAY_CATEGORIES.get(key, key)] = action
    return tuple(rules.items())


def _bedrock(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    """``gateway.bedrock``, checked as the gateway will check it (errors at the section's line)."""
    if value is MISSING or value is None:
        return None
    from ..gateway.bedrock import BedrockConfig

    at, where = ctx.origin[attrs]
    endpoint = value.get("endpoint_url")
    settings = BedrockSettings(
        region=value["region"],
        models=tuple((str(g), str(m)) for g, m in value["models"].items()),
        endpoint_url=str(endpoint).rstrip("/") if endpoint else None,
    )
    try:
        BedrockConfig(**settings._asdict())
    except ValueError as exc:
        raise _error(f"gateway.bedrock: {exc}", where, at) from exc
    return settings


def _owned_section(ctx: Context, attrs: tuple[str, ...], value: Any, default: Any) -> Any:
    """``ship``, ``server``, ``monitor``: checked by their owner's own parser, so a bad one is an error
    now with the section's line; replaced as a whole by a later layer, kept as canonical JSON."""
    if value is MISSING:
        return default
    at, where = ctx.origin[attrs]
    name = attrs[-1]
    try:
        if name == "ship":
            from ..audit.ship_config import parse_ship_config

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unsafe_* settings warn when the shipper starts
                parse_ship_config({"ship": value})
        elif name == "server":
            from ..server.config import parse_server

            parse_server(value)
        else:
            from ..monitor import parse_monitor

            parse_monitor(value)
    except PolicyError as exc:
        raise _error(exc.problem, where, at) from exc
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


SPECIALS: dict[str, Callable[[Context, tuple[str, ...], Any, Any], Any]] = {
    "sorted_items": _sorted_items,
    "rules": _rules_of,
    "injection_surfaces": _surfaces,
    "mcp_servers": _mcp_servers,
    "mcp_managed": _mcp_managed,
    "gateway_dlp": _gateway_dlp,
    "bedrock": _bedrock,
    "section": _owned_section,
}


# -- permission rules: sensitive paths, drops and the three lists, in layer order ----------------------


def _rules(layers: list[Layer], base_dir: str, display: str) -> dict[RuleList, tuple[Rule, ...]]:
    lists: dict[RuleList, list[Rule]] = {"deny": [], "ask": [], "allow": []}
    seen_ids: set[tuple[str, str]] = set()
    for data, marks, where in layers:
        layer_dir = base_dir if where == display else ""
        perms = data.get("permissions", {})
        for i, pattern in enumerate(data.get("sensitive_paths", [])):
            line, _col = _at(marks, ("sensitive_paths", i))
            for tool in ("Read", "Edit"):
                rule = parse_at(
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
            for i, item in enumerate(perms.get(lst, [])):
                text, rid, reason = (
                    (item, "", "")
                    if isinstance(item, str)
                    else (item["rule"], item.get("id", ""), item.get("reason", ""))
                )
                rule = parse_at(text, lst, rid, reason, marks, ("permissions", lst, i), where, layer_dir)
                if not isinstance(item, str) and item.get("ask", "local") == "remote":
                    if lst != "ask":
                        raise _error(
                            f"permissions.{lst}[{i}].ask: only a rule in the ask list can ask remotely",
                            where,
                            _at(marks, ("permissions", lst, i, "ask")),
                        )
                    rule = rule._replace(remote=True)
                if (rule.list, rule.id) in seen_ids:
                    continue
                seen_ids.add((rule.list, rule.id))
                lists[lst].append(rule)
    return {name: tuple(rules) for name, rules in lists.items()}


def _drop(
    lists: dict[RuleList, list[Rule]], text: str, marks: Marks, path: tuple[Any, ...], where: str
) -> None:
    """``permissions.drop``: remove an ask or allow rule the extended profiles brought in.

    A deny cannot be dropped (the profiles' denies are the floor), and a rule that is not there is
    an error, so a typo never leaves a prompt in place silently.
    """
    at = _at(marks, path)
    wanted = text.strip()
    if any(rule.raw == wanted for rule in lists["deny"]):
        raise _error(f"cannot drop the deny rule {wanted!r}: denies of extended profiles stay", where, at)
    found = False
    for name in ("ask", "allow"):
        kept = [rule for rule in lists[name] if rule.raw != wanted]
        found = found or len(kept) != len(lists[name])
        lists[name] = kept
    if not found:
        raise _error(f"drop: no extended profile has the rule {wanted!r}", where, at)


def parse_at(
    text: str,
    list_: RuleList,
    rid: str,
    reason: str,
    marks: Marks,
    path: tuple[Any, ...],
    display: str,
    base_dir: str,
) -> Rule:
    """A rule parsed at its place in the file (a malformed one is an error there)."""
    line, col = _at(marks, path)
    try:
        return parse_rule(text, list_=list_, rule_id=rid, reason=reason, line=line, base_dir=base_dir)
    except PolicyError as exc:
        raise PolicyError(exc.problem, file=display, line=line or None, column=col or None) from exc
