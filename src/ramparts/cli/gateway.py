"""``ramparts gateway --listen HOST:PORT --upstream URL`` and ``ramparts gateway token create --user NAME``.

Imports nothing heavy at parse time: aiohttp and the detectors load only when the gateway starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import rule_ids as rids
from .._locations import state_dir
from ._args import int_range, listen_address

if TYPE_CHECKING:
    from ..policy.types import GatewaySettings, Policy

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    p = sub.add_parser(
        "gateway",
        help="run the LLM gateway (Anthropic Messages API proxy with DLP masking)",
        description="Point Claude Code at it with ANTHROPIC_BASE_URL=http://HOST:PORT and "
        "ANTHROPIC_AUTH_TOKEN=<a token from `ramparts gateway token create`>. The upstream key comes "
        "from the gateway's own ANTHROPIC_API_KEY; models routed to Amazon Bedrock (--bedrock-model or "
        "the policy's gateway.bedrock) are signed with AWS credentials from botocore's default chain.",
    )
    common(p)
    p.add_argument(
        "--listen",
        type=listen_address,
        default="127.0.0.1:8788",
        help="HOST:PORT (port 0: a free port; default %(default)s)",
    )
    p.add_argument(
        "--upstream",
        help="Messages API base URL (default: the policy's gateway.upstream, https://api.anthropic.com)",
    )
    p.add_argument("--model", action="append", default=[], help="allowed model (fnmatch pattern; repeatable)")
    p.add_argument("--max-tokens", type=int_range(1), help="max_tokens cap")
    p.add_argument("--max-tokens-mode", choices=["clamp", "reject"], help="over the cap (default: clamp)")
    p.add_argument("--max-request-bytes", type=int_range(1), help="request size cap (default 32 MiB)")
    p.add_argument("--rate-per-minute", type=int_range(1), help="requests per user per minute (per replica)")
    p.add_argument(
        "--daily-tokens", type=int_range(1), help="tokens per user per UTC day (shared by replicas)"
    )
    p.add_argument(
        "--scan-workers",
        type=int_range(0, 64),
        help="detector processes (default: one per CPU, at most 4; 0: scan in the gateway process)",
    )
    p.add_argument(
        "--bedrock-model",
        action="append",
        default=[],
        metavar="GLOB=ID",
        help="send models matching GLOB to Amazon Bedrock as model/inference profile ID (repeatable; "
        "replaces the policy's gateway.bedrock.models); AWS credentials from botocore's default chain",
    )
    p.add_argument("--bedrock-region", help="Amazon Bedrock's region (default: the policy's)")
    p.add_argument("--bedrock-endpoint-url", help="Bedrock runtime endpoint (default: the region's)")
    p.add_argument(
        "--store-url",
        metavar="URL",
        help="a postgresql:// store for the vault, tokens and budget, shared by replicas (else "
        "RAMPARTS_GATEWAY_STORE_URL, else the policy's gateway.store, else <state dir>/gateway.db)",
    )
    p.add_argument(
        "--vault-key",
        metavar="FILE",
        help="the vault key file, the same on every replica (else RAMPARTS_GATEWAY_VAULT_KEY, else "
        "<state dir>/vault.key)",
    )
    p.add_argument(
        "--audit-url",
        metavar="URL",
        help="a postgresql:// audit store (else RAMPARTS_AUDIT_URL, else <state dir>/audit.db)",
    )
    p.add_argument("--max-lifetime", type=float, help=argparse.SUPPRESS)  # tests and benchmarks
    p.set_defaults(func=cmd_gateway)
    actions = p.add_subparsers(metavar="ACTION")
    tok = actions.add_parser("token", help="client tokens").add_subparsers(metavar="ACTION")

    def where(t: argparse.ArgumentParser) -> None:
        t.add_argument("--state-dir", dest="token_state_dir", help="state directory (as for the gateway)")
        t.add_argument(
            "--store-url",
            dest="token_store_url",
            metavar="URL",
            help="the gateway's postgresql:// store (as for the gateway)",
        )

    t = tok.add_parser("create", help="print a new client token for a user (only its hash is stored)")
    t.add_argument("--user", required=True, type=user_name, help="the user the token identifies")
    where(t)
    t.set_defaults(func=cmd_token_create)
    t = tok.add_parser("list", help="every token's id, user, creation time and state (never the token)")
    t.add_argument("--json", action="store_true", help="print JSON")
    where(t)
    t.set_defaults(func=cmd_token_list)
    t = tok.add_parser(
        "revoke",
        help="revoke a token by id, or all of a user's (running replicas stop accepting it within seconds)",
    )
    which = t.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--id", metavar="TOKEN_ID", help="the token's id from `token list` (6 to 12 hex digits)"
    )
    which.add_argument("--user", help="every live token of this user")
    where(t)
    t.set_defaults(func=cmd_token_revoke)
    t = tok.add_parser("rotate", help="print a new token for a user and revoke their old ones")
    t.add_argument("--user", required=True, type=user_name, help="the user whose tokens to rotate")
    where(t)
    t.set_defaults(func=cmd_token_rotate)


def user_name(text: str) -> str:
    """A user name a token may carry (letters, digits and ._@+-, at most 128)."""
    from ..gateway.tokens import valid_user

    if not valid_user(text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits and ._@+- only, at most 128")
    return text


def _state(args: argparse.Namespace) -> str:
    return os.path.abspath(state_dir(getattr(args, "token_state_dir", None) or args.state_dir))


def _policy_settings(args: argparse.Namespace) -> Policy | None:
    """The policy named by ``--policy`` or ``RAMPARTS_POLICY``; ``None`` when neither is set."""
    if not (args.policy or os.environ.get("RAMPARTS_POLICY")):
        return None
    from .._locations import policy_ref
    from ..policy.load import load_policy

    return load_policy(policy_ref(args.policy))


def _store_url(flag: str | None, policy: Policy | None) -> str | None:
    """``--store-url``, else ``RAMPARTS_GATEWAY_STORE_URL``, else the policy's ``gateway.store``."""
    from ..gateway.store import STORE_URL_ENV

    return flag or os.environ.get(STORE_URL_ENV) or (policy.gateway.store if policy else None)


def _tokens(args: argparse.Namespace) -> Any:
    from ..gateway.store import open_token_store

    return open_token_store(
        _state(args), _store_url(getattr(args, "token_store_url", None), _policy_settings(args))
    )


def _audit_token(args: argparse.Namespace, event: str, details: dict[str, Any]) -> None:
    """An administrator's token order, in the audit store (ids, never tokens)."""
    from argparse import Namespace

    from .session import _audit

    _audit(
        Namespace(state_dir=getattr(args, "token_state_dir", None) or args.state_dir),
        event,
        session=None,
        decision="deny",
        rule=rids.GATEWAY_TOKEN,
        reason=f"{event} by an administrator",
        details=details,
    )


def cmd_token_list(args: argparse.Namespace) -> int:
    import json

    from .._util import utc_stamp
    from ..audit.render import escape

    store = _tokens(args)
    try:
        tokens = store.list()
    finally:
        store.close()
    if args.json:
        print(json.dumps([t._asdict() for t in tokens], indent=2))
        return EXIT_OK
    if not tokens:
        print("no tokens (ramparts gateway token create --user NAME)")
    for t in tokens:
        print(
            escape(
                f"{t.token_id}  {t.user}  created {utc_stamp(t.created)}  {'REVOKED' if t.revoked else 'live'}"
            )
        )
    return EXIT_OK


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from ..audit.render import escape

    store = _tokens(args)
    try:
        if args.user is not None:
            count = store.revoke_user(args.user)
            ids: list[str] = []
        else:
            matches = store.revoke_id(args.id)
            if len(matches) != 1:
                what = "no live token has" if not matches else f"{len(matches)} live tokens have"
                print(
                    escape(f"ramparts: {what} the id {args.id}; see `ramparts gateway token list`"),
                    file=sys.stderr,
                )
                return EXIT_USAGE
            count, ids = 1, [matches[0].token_id]
    finally:
        store.close()
    target = f"user {args.user}" if args.user is not None else f"token {args.id}"
    if count:  # a revocation tightens: applied first, then recorded
        _audit_token(args, "TokenRevoked", {"user": args.user or "", "token_ids": ids, "count": count})
    print(escape(f"revoked {count} token(s) of {target}; running gateways refuse them within seconds"))
    return EXIT_OK


def cmd_token_rotate(args: argparse.Namespace) -> int:
    store = _tokens(args)
    try:
        token, revoked = store.rotate(args.user)
    finally:
        store.close()
    _audit_token(args, "TokenRotated", {"user": args.user, "revoked": revoked})
    print(token)
    print(
        f"new token for {args.user} (set ANTHROPIC_AUTH_TOKEN to it); {revoked} old token(s) revoked",
        file=sys.stderr,
    )
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    from ..errors import PolicyError
    from ..gateway.store import open_token_store

    try:
        policy = _policy_settings(args)
    except PolicyError as exc:
        print(f"ramparts gateway token create: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = open_token_store(_state(args), _store_url(getattr(args, "token_store_url", None), policy))
    try:
        token = store.create(args.user)
    finally:
        store.close()
    print(token)
    print(f"token for {args.user}: set ANTHROPIC_AUTH_TOKEN to it on the client", file=sys.stderr)
    return EXIT_OK


def gateway_options(settings: GatewaySettings) -> dict[str, Any]:
    """``GatewayConfig`` keyword arguments from the policy's ``gateway`` section."""
    from ..gateway.bedrock import BedrockConfig
    from ..gateway.documents import DocumentPolicy
    from ..gateway.mask import MaskPolicy
    from ..gateway.shapes import Shapes

    return {
        "upstream": settings.upstream,
        "models": settings.models,
        "max_tokens": settings.max_tokens,
        "max_tokens_mode": settings.max_tokens_mode,
        "max_request_bytes": settings.max_request_bytes,
        "rate_per_minute": settings.rate_per_minute,
        "daily_tokens": settings.daily_tokens,
        "vault_retention_hours": settings.vault_retention_hours,
        "mask": MaskPolicy.from_mapping(dict(settings.dlp)),
        "bedrock": None if settings.bedrock is None else BedrockConfig(**settings.bedrock._asdict()),
        "shapes": Shapes(dict(settings.unknown_blocks), dict(settings.unknown_fields), settings.images),
        "documents": DocumentPolicy(
            findings=settings.documents_findings,
            unreadable=settings.documents_unreadable,
            max_pages=settings.documents_max_pages,
        ),
    }


def _bedrock(args: argparse.Namespace, policy: Any) -> Any:
    """The ``BedrockConfig`` from the policy's section and the flags (flags win), or ``None``."""
    from ..gateway.bedrock import BedrockConfig

    models: tuple[tuple[str, str], ...] = policy.models if policy is not None else ()
    if args.bedrock_model:
        pairs = [item.partition("=") for item in args.bedrock_model]
        if any(not sep or not glob or not model for glob, sep, model in pairs):
            raise ValueError("--bedrock-model takes GLOB=ID (claude-sonnet-4-5*=us.anthropic.claude-…)")
        models = tuple((glob, model) for glob, _sep, model in pairs)
    region = args.bedrock_region or (policy.region if policy is not None else None)
    endpoint = args.bedrock_endpoint_url or (policy.endpoint_url if policy is not None else None)
    if not models:
        if args.bedrock_region or args.bedrock_endpoint_url:
            raise ValueError("--bedrock-region/--bedrock-endpoint-url need models (--bedrock-model GLOB=ID)")
        return None
    if not region:
        raise ValueError("Amazon Bedrock models need a region (--bedrock-region)")
    return BedrockConfig(region=region, models=models, endpoint_url=endpoint)


def cmd_gateway(args: argparse.Namespace) -> int:
    from ..errors import PolicyError
    from ..gateway.config import GatewayConfig
    from ..gateway.server import run

    options: dict[str, Any] = {}
    try:
        policy = _policy_settings(args)
    except PolicyError as exc:
        print(f"ramparts gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if policy is not None:
        options = gateway_options(policy.gateway)
        options["detect"] = policy.detect
        options["outbound"] = policy.dlp.outbound
        block, warn = policy.detect.injection_thresholds("tool_result")
        options["injection_block"], options["injection_warn"] = block, warn
        block, warn = policy.detect.injection_thresholds("mcp_tool_description")
        options["description_block"], options["description_warn"] = block, warn
        block, warn = policy.detect.injection_thresholds("prompt")
        options["prompt_block"], options["prompt_warn"] = block, warn
        options["prompt_action"] = policy.detect.injection_prompt_action
        options["mode"] = policy.mode if policy.mode in ("enforce", "report") else "enforce"
    # flags override the policy
    flags = {
        "upstream": args.upstream,
        "models": tuple(args.model) or None,
        "max_tokens": args.max_tokens,
        "max_tokens_mode": args.max_tokens_mode,
        "max_request_bytes": args.max_request_bytes,
        "rate_per_minute": args.rate_per_minute,
        "daily_tokens": args.daily_tokens,
        "scan_workers": args.scan_workers,
        "store_url": _store_url(args.store_url, policy),
        "vault_key": args.vault_key,
        "audit_url": args.audit_url,
    }
    options.update({k: v for k, v in flags.items() if v is not None})
    try:
        options["bedrock"] = _bedrock(args, options.get("bedrock"))
    except ValueError as exc:
        print(f"ramparts gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    upstream = options.pop("upstream", None)
    if not upstream:
        print(
            "ramparts gateway: --upstream URL (or --policy with a gateway section) is required",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        config = GatewayConfig.from_env(upstream, _state(args), **options)
    except ValueError as exc:
        print(f"ramparts gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run(config, args.listen, max_lifetime=args.max_lifetime)
