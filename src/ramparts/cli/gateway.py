"""``ramparts gateway --listen HOST:PORT --upstream URL`` and ``ramparts gateway token create --user NAME``.

Imports nothing heavy at parse time: aiohttp and the detectors load only when the gateway starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._locations import state_dir

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
        "--listen", default="127.0.0.1:8788", help="HOST:PORT (port 0: a free port; default %(default)s)"
    )
    p.add_argument(
        "--upstream",
        help="Messages API base URL (default: the policy's gateway.upstream, https://api.anthropic.com)",
    )
    p.add_argument("--model", action="append", default=[], help="allowed model (fnmatch pattern; repeatable)")
    p.add_argument("--max-tokens", type=int, help="max_tokens cap")
    p.add_argument("--max-tokens-mode", choices=["clamp", "reject"], help="over the cap (default: clamp)")
    p.add_argument("--max-request-bytes", type=int, help="request size cap (default 32 MiB)")
    p.add_argument("--rate-per-minute", type=int, help="requests per user per minute (per replica)")
    p.add_argument("--daily-tokens", type=int, help="tokens per user per UTC day (shared by replicas)")
    p.add_argument(
        "--scan-workers",
        type=int,
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
    t = tok.add_parser("create", help="print a new client token for a user (only its hash is stored)")
    t.add_argument("--user", required=True)
    t.add_argument("--state-dir", dest="token_state_dir", help="state directory (as for the gateway)")
    t.add_argument(
        "--store-url",
        dest="token_store_url",
        metavar="URL",
        help="the gateway's postgresql:// store (as for the gateway)",
    )
    t.set_defaults(func=cmd_token_create)


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
        options["injection_block"] = policy.detect.injection_block
        options["injection_warn"] = policy.detect.injection_warn
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
