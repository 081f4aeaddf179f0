"""Load a policy file: parse YAML with positions, validate against the schema, merge profiles, freeze.

Every problem is reported as ``FILE:LINE:COLUMN: problem``; unknown keys and duplicate keys are
errors. Loading is slow (YAML, JSON Schema), so :func:`load_policy` can keep the compiled form
in a cache directory keyed by the content hash of the policy and its profiles (and the compiler's
version and files): the hook then only reads it back with ``marshal``.
"""

from __future__ import annotations

import marshal
import os
import sys

from .. import __version__
from .._hashing import blake2b, sha256
from ..errors import PolicyError
from .rules import Rule, parse_rule
from .types import Policy, policy_from_cache, policy_to_cache

TYPE_CHECKING = False
if TYPE_CHECKING:  # the merge (and the schema it reads) load only when a policy is compiled
    from collections.abc import Callable
    from typing import Any

    from .merge import Layer, Marks

PROFILE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles")
PROFILES = ("baseline", "strict", "readonly")
CACHE_FORMAT = "ramparts-policy-cache-v5"
"""Part of the cache's key (v5: marshal, records tagged by class; a v4 JSON cache is never read)."""
_MARSHAL = f"{sys.implementation.cache_tag}-{sys.hexversion:x}-{marshal.version}"
"""The interpreter and its marshal format, in the key too: another Python never reads the file."""
_HERE = os.path.dirname(os.path.abspath(__file__))
_COMPILER_FILES = tuple(
    os.path.join(_HERE, name)
    for name in ("load.py", "types.py", "rules.py", "decl.py", "schema.py", "merge.py")
)

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
        # BLAKE2b, not SHA-256: every event hashes the policy and the profiles (~9 KB) here
        digest = blake2b(f"{CACHE_FORMAT}:{_MARSHAL}:{','.join(Policy._fields)}".encode(), digest_size=16)
        # The compiler's own code is part of the key: an upgrade never reuses a stale compiled form. Each
        # file by its size and modification time, as the import system checks the bytecode compiled from
        # it (hashing its ~100 KB cost every event ~1.4 M instructions), and the version for an install
        # whose files keep their archive's times.
        digest.update(_compiler_stamp())
        digest.update(os.path.realpath(path).encode() + b"\0" + raw)
        for name in PROFILES:
            digest.update(b"\0" + _bytes(profile_path(name)))
        key = digest.hexdigest()
        cached = os.path.join(cache_dir, f"policy-{key}.marshal")
        try:
            # as trusted as the state dir it lives in (the audit store, the keys); read back shallowly
            return policy_from_cache(marshal.loads(_bytes(cached)))  # noqa: S302
        except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            pass  # absent, unreadable, damaged or of another layout: compile from source below
    policy = compile_policy(raw, display, base_dir=os.path.dirname(os.path.realpath(path)))
    if cache_dir is not None:
        _write_cache(os.path.join(cache_dir, f"policy-{key}.marshal"), policy)
    return policy


def _compiler_stamp() -> bytes:
    """The compiler's part of a cache key: the version, and each file's size and modification time."""
    parts = [__version__]
    for module in _COMPILER_FILES:
        stat = os.stat(module)
        parts.append(f"{module}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\0".join(parts).encode()


def _write_cache(target: str, policy: Policy) -> None:
    _write_data(target, lambda: policy_to_cache(policy))


def _write_data(target: str, value: Callable[[], Any]) -> None:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{os.getpid()}.tmp"
        data = marshal.dumps(value())
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except (OSError, TypeError, ValueError):
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
            message = (
                "a rule is a string like 'Bash(git push *)' or a mapping with 'rule' (and 'id', 'reason', "
                "'ask': local or remote)"
            )
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


def _load_layer(raw: bytes, display: str, seen: tuple[str, ...]) -> tuple[list[Layer], str]:
    """Parse and validate one file and the profiles it extends, base first."""
    data, marks = parse_document(raw, display)
    validate(data, marks, display)
    layers: list[Layer] = []
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
    """Compile policy text (already read) into a frozen :class:`Policy` (merged by :mod:`.merge`)."""
    seen: tuple[str, ...] = (display[len("profile:") :],) if display.startswith("profile:") else ()
    from .merge import build_policy

    layers, revision = _load_layer(raw, display, seen)
    return build_policy(layers, revision, display, base_dir)


def protect_own_files(
    policy: Policy, *, policy_file: str, state_dir: str, cache_dir: str | None = None
) -> Policy:
    """Add deny rules that keep the agent away from Ramparts and from what could switch it off.

    Built in, whatever the policy says (ids ``self:…``): a prompt-injected agent runs as the same user
    as the hook, so it must not rewrite the policy, the state (audit store, sessions, keys), the
    installed code, Claude Code's settings of any scope (they can add or drop hooks), ``.mcp.json``,
    git's hooks and config, or shell start-up files; nor stop Ramparts' processes or change the
    environment its hooks read. Every tool and every shell route the shell analysis sees is covered.

    With ``cache_dir`` (the hook's), the parsed rules are kept there, keyed by their texts and the
    compiler, and read back with ``marshal`` next time: parsing the fifty of them cost every event
    ~1.2 M instructions. The rules are the same either way.
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
    cached = ""
    if cache_dir is not None:
        digest = blake2b(f"{CACHE_FORMAT}:{_MARSHAL}:self-rules".encode(), digest_size=16)
        digest.update(_compiler_stamp())
        for text, what in protected:
            digest.update(f"\0{text}\0{what}".encode())
        cached = os.path.join(cache_dir, f"self-{digest.hexdigest()}.marshal")
        try:
            # as trusted as the state dir it lives in, like the compiled policy beside it
            return policy._replace(deny=(*policy.deny, *_rules_from_cache(marshal.loads(_bytes(cached)))))  # noqa: S302
        except (OSError, EOFError, ValueError, TypeError):
            pass  # absent, unreadable or damaged: parsed below
    extra = []
    for text, what in protected:
        rule = parse_rule(text, list_="deny", rule_id=f"self:{text}", reason=f"protects {what}", base_dir="")
        extra.append(rule)
    if cached:
        _write_data(cached, lambda: [tuple(rule) for rule in extra])
    return policy._replace(deny=(*policy.deny, *extra))


_RULE_FIELD_TYPES = tuple(type(value) for value in Rule("", "deny", "", "", "tool"))


def _rules_from_cache(data: Any) -> tuple[Rule, ...]:
    """The rules of a self-rule cache file (a list of field tuples), checked shallowly: each a tuple of
    ``Rule``'s field count with each field of its type; a ``TypeError`` or ``ValueError`` otherwise."""
    if type(data) is not list:
        raise TypeError("not a list of rules")
    out = []
    for fields in data:
        if type(fields) is not tuple or tuple(map(type, fields)) != _RULE_FIELD_TYPES:
            raise ValueError("not a cached rule")
        out.append(tuple.__new__(Rule, fields))
    return tuple(out)


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
    ("*run_hook*", "the audit trail (only Claude Code runs the hook)"),
)
