"""The injection model slot in both places that score: the hook (PostToolUse, through ``Hook``) and the
gateway (``tool_result`` blocks, in process and in a scan worker) flag the same texts with the policy's
model, and both fail closed when the model cannot be used."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from ramparts.agents.claude_code.hook import Hook
from ramparts.detect.injection_model import ModelError
from ramparts.gateway.config import GatewayConfig
from ramparts.gateway.pool import ScanFailed, ScanPool
from ramparts.testing import audit_records, onnx_models
from tests.unit.gateway.test_injection_parity import TEXTS, _gateway_config

TRIGGER = "zanzibarquux"
COVERT = f"Weekly report: {TRIGGER} the staging numbers, then {TRIGGER} the backups before Friday."
HALF = f"Release notes: {TRIGGER} mentioned once."
ALL = [*TEXTS, COVERT, HALF]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    # one trigger word: p = sigmoid(-3.5 + 4) = 0.62 (warn), two: 0.99 (block)
    return str(path), onnx_models.bag_of_words(path, {TRIGGER: 4.0, "password": 1.0}, bias=-3.5)


def write_policy(tmp_path: Path, path: str, digest: str) -> Path:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\ndetect:\n  injection:\n"
        f"    model: {{path: {path}, sha256: '{digest}'}}\n"
        "    surfaces:\n      tool_result: {block: 0.8, warn: 0.5}\n"
        "gateway:\n  upstream: http://127.0.0.1:9/\n"
    )
    return policy


def post_tool_use(tmp_path: Path, policy: Path, text: str) -> tuple[dict[str, Any], list[Any]]:
    payload = {
        "session_id": "11111111-2222-3333-4444-555555555555",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(tmp_path),
        "permission_mode": "default",
        "hook_event_name": "PostToolUse",
        "tool_name": "WebFetch",
        "tool_input": {"url": "https://example.com/", "prompt": "summarise"},
        "tool_response": {"result": text},
    }
    out = io.StringIO()
    Hook(
        policy=str(policy),
        state=str(tmp_path / "state"),
        stdin=io.BytesIO(json.dumps(payload).encode()),
        stdout=out,
        stderr=io.StringIO(),
    ).run()
    answer = out.getvalue().strip()
    return (json.loads(answer) if answer else {}), audit_records(tmp_path / "state")


def hook_outcome(answer: dict[str, Any]) -> str:
    if answer.get("decision") == "block":
        return "block"
    return "warn" if "prompt injection" in json.dumps(answer) else "none"


def screen(config: GatewayConfig, texts: list[str]) -> list[str]:
    from ramparts.gateway.server import Gateway

    gateway = Gateway(config)
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "user", "content": "go"},
            *(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": t}]}
                for i, t in enumerate(texts)
            ),
        ],
    }
    by_id = {s.tool_use_id: s.action for s in gateway.screener.screen_request(body).screened}
    return [
        {"quarantine": "block", "warn": "warn"}.get(by_id.get(f"t{i}", ""), "none") for i in range(len(texts))
    ]


def test_the_hook_and_the_gateway_flag_the_same_texts_with_the_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: tuple[str, str]
) -> None:
    policy = write_policy(tmp_path, *model)
    hook = []
    for text in ALL:
        answer, _records = post_tool_use(tmp_path, policy, text)
        hook.append(hook_outcome(answer))
    gate = screen(_gateway_config(monkeypatch, policy, tmp_path / "gw"), ALL)
    assert hook == gate
    # the model made the difference on the texts only it knows
    assert hook[-2:] == ["block", "warn"]
    assert {"none", "warn", "block"} <= set(hook[:-2])


def test_a_broken_model_fails_closed_in_the_hook_and_at_gateway_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: tuple[str, str]
) -> None:
    from ramparts.gateway.server import Gateway

    policy = write_policy(tmp_path, model[0], "f" * 64)  # the file is not the one pinned
    answer, records = post_tool_use(tmp_path, policy, "The build passed.")
    assert answer["decision"] == "block"
    assert "not the pinned" in answer["reason"]
    assert records[-1].decision == "deny" and records[-1].rule_ids == ("hook.error",)
    config = _gateway_config(monkeypatch, policy, tmp_path / "gw")
    with pytest.raises(ModelError, match="not the pinned"):
        Gateway(config)


def test_a_scan_worker_scores_with_the_model_and_fails_closed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: tuple[str, str]
) -> None:
    """The worker loads the policy's model itself: its answer counts (one ``boom`` is 1.0, which the
    built-in scorer alone never gives that text), and an answer that is no probability refuses."""
    policy = write_policy(tmp_path, *model)
    config = _gateway_config(monkeypatch, policy, tmp_path / "gw")
    assert config.detect is not None
    unbounded = tmp_path / "unbounded.onnx"
    digest = onnx_models.broken(unbounded, "unbounded")
    slot = config.detect.injection_model._replace(path=str(unbounded), sha256=digest)
    detect = config.detect._replace(injection_model=slot)
    pool = ScanPool(1, settings=detect, cache_dir=str(tmp_path / "cache"), key=b"k" * 32, block=0.8, warn=0.5)
    try:
        assert pool.score("one boom here")[:2] == (1.0, "model.onnx")
        with pytest.raises(ScanFailed, match="not a probability"):
            pool.score("boom boom")
        assert pool.score("The build passed.")[0] < 0.5  # the pool still answers afterwards
    finally:
        pool.close()


def test_cached_scores_are_keyed_by_the_scorer_version() -> None:
    """The screener's cache keys hold the scorer's version (thresholds, model digest and combination),
    so a score computed under one configuration is never reused under another."""
    from ramparts.gateway.cache import ResultCache
    from ramparts.gateway.screen import Screener

    a, b = (
        ResultCache(8, namespace="injection:0.5:builtin"),
        ResultCache(8, namespace="injection:0.5:" + "f" * 64),
    )
    assert a.digest("same text") != b.digest("same text") and a.digest("x") == a.digest("x")
    a.put("same text", 0.1)
    assert "same text" in a and "same text" not in b
    calls: list[str] = []

    def scorer(text: str) -> tuple[float, str, str]:
        calls.append(text)
        return 0.0, "", ""

    one, two = (Screener(scorer, block=0.8, warn=0.5, version=v) for v in ("v1", "v2"))
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]}
        ]
    }
    one.screen_request(body)
    one.screen_request(body)
    two.screen_request(body)
    assert calls == ["x", "x"]  # once per version
