"""The policy's ``gateway`` section: defaults, the baseline's values, layering, errors with positions,
the hook cache's JSON round trip, and ``ramparts gateway --policy`` building its config from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ramparts.cli.gateway import gateway_options
from ramparts.errors import PolicyError
from ramparts.gateway.config import GatewayConfig
from ramparts.policy.load import compile_policy, load_policy
from ramparts.policy.types import GATEWAY_BASELINE_DLP, GatewaySettings, policy_from_json, policy_to_json


def compiled(text: str) -> GatewaySettings:
    return compile_policy(text.encode(), "p.yaml").gateway


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        compile_policy(text.encode(), "p.yaml")
    return info.value


def test_without_a_section_the_defaults_mask_the_baseline_entities_and_set_no_limit() -> None:
    gateway = compiled("version: 1\n")
    assert gateway == GatewaySettings()
    assert gateway.upstream == "https://api.anthropic.com"
    assert dict(gateway.dlp) == {
        "secret": "mask",
        "pii-email": "mask",
        "pii-phone": "mask",
        "pii-us-ssn": "mask",
        "pii-payment-card": "mask",
    }
    assert (gateway.models, gateway.max_tokens, gateway.rate_per_minute, gateway.daily_tokens) == (
        (),
        None,
        None,
        None,
    )


def test_baseline_profile_values() -> None:
    gateway = load_policy("profile:baseline").gateway
    assert gateway.upstream == "https://api.anthropic.com"
    assert gateway.models == ("claude-*",)
    assert (gateway.max_tokens, gateway.max_tokens_mode) == (64000, "clamp")
    assert gateway.max_request_bytes == 32 * 1024 * 1024
    assert gateway.rate_per_minute == 120 and gateway.daily_tokens == 100_000_000
    assert gateway.dlp == GATEWAY_BASELINE_DLP
    # strict and readonly extend the baseline and keep its gateway section
    assert load_policy("profile:strict").gateway == gateway
    assert load_policy("profile:readonly").gateway == gateway


def test_a_file_layers_over_the_profile_and_null_lifts_a_limit() -> None:
    gateway = compiled(
        "version: 1\nextends: baseline\ngateway:\n"
        "  upstream: http://127.0.0.1:9999/\n"
        "  models: [claude-sonnet-*, claude-haiku-*]\n"
        "  max_tokens: null\n"
        "  max_tokens_mode: reject\n"
        "  rate_per_minute: 30\n"
        "  daily_tokens: null\n"
        "  dlp: {pii-phone: redact, pii-iban: block, aws-*: block, pii: redact}\n"
    )
    assert gateway.upstream == "http://127.0.0.1:9999"  # trailing slash dropped: paths are appended
    assert gateway.models == ("claude-sonnet-*", "claude-haiku-*")
    assert gateway.max_tokens is None and gateway.max_tokens_mode == "reject"
    assert gateway.rate_per_minute == 30 and gateway.daily_tokens is None
    assert gateway.max_request_bytes == 32 * 1024 * 1024  # kept from the profile
    rules = dict(gateway.dlp)
    assert rules["secret"] == "mask" and rules["pii-email"] == "mask"  # kept from the profile
    assert rules["pii-phone"] == "redact" and rules["pii-iban"] == "block"
    assert rules["aws-*"] == "block" and rules["pii"] == "redact"


def test_secrets_is_the_category_key_and_custom_entities_can_be_named() -> None:
    gateway = compiled(
        "version: 1\n"
        "detect:\n  pii:\n    custom: [{name: employee-id, pattern: 'EMP-[0-9]{6}'}]\n"
        "gateway:\n  dlp: {secrets: block, pii-custom-employee-id: mask, github-*: redact}\n"
    )
    rules = dict(gateway.dlp)
    assert rules["secret"] == "block" and "secrets" not in rules
    assert rules["pii-custom-employee-id"] == "mask" and rules["github-*"] == "redact"


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("version: 1\ngateway:\n  upstrem: https://x\n", 3, 3, "unknown key 'gateway.upstrem'"),
        ("version: 1\ngateway:\n  upstream: ftp://x\n", 3, 13, "is not an http(s) URL"),
        ("version: 1\ngateway:\n  max_tokens: 0\n", 3, 15, "gateway.max_tokens"),
        ("version: 1\ngateway:\n  max_tokens_mode: trim\n", 3, 20, "gateway.max_tokens_mode"),
        ("version: 1\ngateway:\n  max_request_bytes: 10\n", 3, 22, "gateway.max_request_bytes"),
        ("version: 1\ngateway:\n  rate_per_minute: fast\n", 3, 20, "gateway.rate_per_minute"),
        ("version: 1\ngateway:\n  models: claude-*\n", 3, 11, "gateway.models"),
        ("version: 1\ngateway:\n  dlp:\n    pii-email: hide\n", 4, 16, "'hide' is not one of"),
        ("version: 1\ngateway:\n  dlp:\n    pii-email: mask\n    Bad_Key: mask\n", 5, 5, "not a detector id"),
        ("version: 1\ngateway:\n  dlp:\n    pii-emial: mask\n", 4, 5, "'pii-emial' is not 'secrets'"),
        ("version: 1\ngateway:\n  dlp:\n    secret: mask\n", 4, 5, "the category is 'secrets'"),
        ("version: 1\ngateway:\n  dlp:\n    nosuch-*: mask\n", 4, 5, "'nosuch-*'"),
        ("version: 1\ngateway:\n  dlp:\n    pii-custom-badge: mask\n", 4, 5, "'pii-custom-badge'"),
    ],
)
def test_a_broken_gateway_section_names_file_line_and_column(
    text: str, line: int, column: int, fragment: str
) -> None:
    err = error_of(text)
    assert (err.file, err.line, err.column) == ("p.yaml", line, column), str(err)
    assert str(err).startswith(f"p.yaml:{line}:{column}: ")
    assert fragment in str(err)


def test_errors_of_a_file_that_extends_the_baseline_name_that_file(tmp_path: Path) -> None:
    path = tmp_path / "ramparts.yaml"
    path.write_text("version: 1\nextends: baseline\ngateway:\n  max_tokens: 64000\n  dlp: {pii-mail: mask}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(str(path))
    assert str(info.value).startswith(f"{path}:5:9: gateway.dlp: 'pii-mail'")


@pytest.mark.parametrize("ref", ["profile:baseline", "inline"])
def test_json_round_trip_for_the_hook_cache(ref: str, tmp_path: Path) -> None:
    if ref == "inline":
        path = tmp_path / "p.yaml"
        path.write_text("version: 1\ngateway: {models: [a-*], max_tokens: 5, dlp: {pii-iban: block}}\n")
        ref = str(path)
    policy = load_policy(ref)
    assert policy_from_json(json.loads(json.dumps(policy_to_json(policy)))) == policy
    cache = tmp_path / "cache"
    assert load_policy(ref, cache_dir=cache) == policy
    assert load_policy(ref, cache_dir=cache) == policy  # the second one read the JSON


def test_gateway_options_build_a_config() -> None:
    settings = compiled(
        "version: 1\ngateway:\n  upstream: http://127.0.0.1:1\n  models: [claude-*]\n"
        "  max_tokens: 1000\n  rate_per_minute: 5\n  daily_tokens: 99\n  dlp: {pii-phone: block}\n"
    )
    options = gateway_options(settings)
    upstream = options.pop("upstream")
    config = GatewayConfig(upstream=upstream, state_dir="/nonexistent", **options)
    assert config.upstream == "http://127.0.0.1:1" and config.models == ("claude-*",)
    assert (config.max_tokens, config.rate_per_minute, config.daily_tokens) == (1000, 5, 99)
    assert config.mask.rules["pii-phone"] == "block" and config.mask.rules["secret"] == "mask"
    assert config.model_allowed("claude-sonnet-4-5") and not config.model_allowed("gpt-4o")


def _captured_config(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[int, GatewayConfig | None]:
    from ramparts.cli import main
    from ramparts.gateway import server

    seen: dict[str, Any] = {}

    def fake_run(config: GatewayConfig, listen: str, **_kw: Any) -> int:
        seen["config"] = config
        return 0

    monkeypatch.setattr(server, "run", fake_run)
    monkeypatch.delenv("RAMPARTS_POLICY", raising=False)
    code = main(argv)
    return code, seen.get("config")


def test_cli_takes_the_policy_and_flags_override_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\ndetect:\n  injection: {block: 0.9, warn: 0.4}\n"
        "gateway:\n  upstream: http://127.0.0.1:7/\n  dlp: {pii-email: redact}\n"
    )
    state = str(tmp_path / "state")
    code, config = _captured_config(monkeypatch, ["gateway", "--policy", str(policy), "--state-dir", state])
    assert code == 0 and config is not None
    assert config.upstream == "http://127.0.0.1:7"
    assert config.models == ("claude-*",) and config.max_tokens == 64000 and config.rate_per_minute == 120
    assert config.mask.rules["pii-email"] == "redact"
    assert (config.injection_block, config.injection_warn) == (0.9, 0.4)
    assert config.detect is not None and config.detect.injection_block == 0.9

    code, config = _captured_config(
        monkeypatch,
        [
            "gateway",
            "--policy",
            str(policy),
            "--state-dir",
            state,
            "--upstream",
            "http://127.0.0.1:8",
            "--model",
            "claude-haiku-*",
            "--max-tokens",
            "100",
            "--max-tokens-mode",
            "reject",
            "--rate-per-minute",
            "3",
            "--daily-tokens",
            "50",
            "--max-request-bytes",
            "2048",
        ],
    )
    assert code == 0 and config is not None
    assert config.upstream == "http://127.0.0.1:8" and config.models == ("claude-haiku-*",)
    assert (config.max_tokens, config.max_tokens_mode) == (100, "reject")
    assert (config.rate_per_minute, config.daily_tokens, config.max_request_bytes) == (3, 50, 2048)
    assert config.mask.rules["pii-email"] == "redact"  # no flag for DLP rules: the policy's


def test_cli_reports_a_broken_policy_with_its_position(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\ngateway:\n  rate_per_minut: 5\n")
    code, config = _captured_config(monkeypatch, ["gateway", "--policy", str(policy)])
    assert code == 2 and config is None
    assert f"{policy}:3:3: unknown key 'gateway.rate_per_minut'" in capsys.readouterr().err


def test_cli_without_policy_or_upstream_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, config = _captured_config(monkeypatch, ["gateway", "--state-dir", str(tmp_path)])
    assert code == 2 and config is None


def test_request_shapes_documents_and_images_layer_and_reach_the_config() -> None:
    base = compiled("version: 1\n")
    assert (base.images, base.documents_findings, base.documents_unreadable) == ("allow", "drop", "block")
    assert base.unknown_blocks == () and base.unknown_fields == ()
    settings = compiled(
        "version: 1\nextends: baseline\ngateway:\n  images: refuse\n"
        "  documents: {findings: block, max_pages: 20}\n"
        "  unknown_blocks: {hologram: screen, opaque: pass}\n  unknown_fields: {sidecar: pass}\n"
    )
    assert settings.images == "refuse" and settings.documents_findings == "block"
    assert settings.documents_unreadable == "block" and settings.documents_max_pages == 20
    assert dict(settings.unknown_blocks) == {"hologram": "screen", "opaque": "pass"}
    options = gateway_options(settings)
    assert options["shapes"].blocks == {"hologram": "screen", "opaque": "pass"}
    assert options["shapes"].fields == {"sidecar": "pass"} and options["shapes"].images == "refuse"
    assert (options["documents"].findings, options["documents"].max_pages) == ("block", 20)
    policy = compile_policy(
        b"version: 1\ngateway: {unknown_fields: {sidecar: screen}, documents: {unreadable: pass}}\n", "p.yaml"
    )
    assert policy_from_json(json.loads(json.dumps(policy_to_json(policy)))) == policy


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\ngateway:\n  images: ignore\n", "gateway.images"),
        ("version: 1\ngateway:\n  documents: {findings: mask}\n", "'mask' is not one of"),
        ("version: 1\ngateway:\n  documents: {unreadable: allow}\n", "'allow' is not one of"),
        ("version: 1\ngateway:\n  documents: {max_page: 3}\n", "gateway.documents.max_page"),
        ("version: 1\ngateway:\n  unknown_blocks: {hologram: allow}\n", "'allow' is not one of"),
        ("version: 1\ngateway:\n  unknown_fields: {Bad-Name: pass}\n", "gateway.unknown_fields"),
    ],
)
def test_broken_shape_settings_are_refused(text: str, fragment: str) -> None:
    assert fragment in str(error_of(text))
